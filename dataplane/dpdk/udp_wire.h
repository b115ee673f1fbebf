/* udp_wire.h - the native UDP produce protocol: its datagrams, parsed and
 * built (docs/udp-protocol.md is the specification; keep them in step).
 *
 * A sender that wants kernel bypass end to end sends each Kafka RecordBatch
 * v2 in a PRODUCE datagram naming its topic and partition; the broker
 * answers with ACK datagrams (the highest sequence that is durable, per
 * producer and partition) and NAK datagrams (the sequence it expects next,
 * when one was missed, or why a datagram was refused). Sequences are
 * Kafka's idempotent-producer sequences, carried in the batch itself, so
 * the log keeps them.
 *
 * This file only reads and writes bytes: no sockets, no DPDK, no state.
 * Parsing never reads outside the datagram, whatever it claims; the broker
 * and libsluice-send both use it. All integers are big-endian.
 *
 *   off size  every datagram
 *     0    2  magic 0x534C ("SL")
 *     2    1  version (1)
 *     3    1  type: 1 PRODUCE, 2 ACK, 3 NAK
 *     4    2  flags (0)
 *     6    2  topic length (1..249)
 *     8    n  topic
 *   then, at T = 8 + n:
 *   T+0    4  partition
 *   T+4    8  producer id
 *   T+12   2  producer epoch
 *   PRODUCE:
 *   T+14   4  base sequence       (= the batch's baseSequence)
 *   T+18      one RecordBatch v2, to the end of the datagram
 *   ACK / NAK:
 *   T+14   2  error code          (Kafka's; 0 on an ACK)
 *   T+16   4  sequence            ACK: highest durable (-1: none yet);
 *                                 NAK: the next one expected
 *   T+20   8  offset              ACK: log offset of that record; NAK: -1
 */
#ifndef SLUICE_UDP_WIRE_H
#define SLUICE_UDP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define UDP_WIRE_MAGIC 0x534C
#define UDP_WIRE_VERSION 1
#define UDP_WIRE_TOPIC_MAX 249
#define UDP_WIRE_FIXED 8              /* bytes before the topic */
#define UDP_WIRE_PRODUCE_BODY 18      /* after the topic, before the batch */
#define UDP_WIRE_REPLY_BODY 28        /* after the topic */
#define UDP_WIRE_REPLY_MAX (UDP_WIRE_FIXED + UDP_WIRE_TOPIC_MAX + UDP_WIRE_REPLY_BODY)

enum udp_wire_type {
    UDP_WIRE_PRODUCE = 1,
    UDP_WIRE_ACK = 2,
    UDP_WIRE_NAK = 3,
};

/* Kafka error codes a NAK carries beyond storage/kerr.h's. */
enum udp_wire_error {
    UDP_WIRE_OUT_OF_ORDER_SEQUENCE = 45,
    UDP_WIRE_INVALID_PRODUCER_EPOCH = 47,
    UDP_WIRE_UNKNOWN_PRODUCER_ID = 59,
};

/* Why a datagram could not be parsed (negative, errno-like numbers are
 * not used: these are counted per reason). */
enum udp_wire_bad {
    UDP_WIRE_OK = 0,
    UDP_WIRE_BAD_SHORT,       /* shorter than its fixed fields */
    UDP_WIRE_BAD_MAGIC,       /* not ours */
    UDP_WIRE_BAD_VERSION,
    UDP_WIRE_BAD_TYPE,
    UDP_WIRE_BAD_TOPIC,       /* length 0, > 249, or past the end */
    UDP_WIRE_BAD_BATCH,       /* batch framing: too short, not v2, its
                                 length is not the rest of the datagram,
                                 or its producer fields differ */
};

/* A PRODUCE datagram; pointers into the datagram. */
struct udp_produce {
    const char *topic;
    uint16_t topic_len;
    int32_t partition;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t last_sequence;    /* base + records - 1, wrapped as Kafka does */
    int32_t records;
    uint8_t *batch;           /* writable: the log rewrites its offsets */
    uint32_t batch_len;
};

/* An ACK or a NAK. */
struct udp_reply {
    enum udp_wire_type type;
    const char *topic;
    uint16_t topic_len;
    int32_t partition;
    int64_t producer_id;
    int16_t producer_epoch;
    int16_t error;
    int32_t sequence;
    int64_t offset;
};

/* The type of dgram[0..len), or 0 when it is not a datagram of ours. */
int udp_wire_type(const uint8_t *dgram, size_t len);

/* Parses a PRODUCE datagram. The batch is checked for framing only (size,
 * magic, producer fields against the header); its CRC and records are
 * the log's to validate. Returns UDP_WIRE_OK or a reason. */
enum udp_wire_bad udp_wire_parse_produce(uint8_t *dgram, size_t len, struct udp_produce *out);

/* Parses an ACK or NAK. Returns UDP_WIRE_OK or a reason. */
enum udp_wire_bad udp_wire_parse_reply(const uint8_t *dgram, size_t len, struct udp_reply *out);

/* Writes the PRODUCE header for a batch of batch_len bytes that will
 * follow it at out + the returned length (the batch's own producer fields
 * must already hold producer id, epoch and base sequence). Returns the
 * header length, or 0 when cap is too small or the topic is bad. */
size_t udp_wire_put_produce_header(uint8_t *out, size_t cap, const char *topic,
                                   size_t topic_len, int32_t partition,
                                   int64_t producer_id, int16_t producer_epoch,
                                   int32_t base_sequence);

/* Writes an ACK or NAK (r->type). Returns its length (at most
 * UDP_WIRE_REPLY_MAX) or 0 when cap is too small or the topic is bad. */
size_t udp_wire_put_reply(uint8_t *out, size_t cap, const struct udp_reply *r);

/* Kafka's sequence arithmetic: sequences run 0..INT32_MAX and wrap to 0. */
int32_t udp_wire_seq_add(int32_t seq, int32_t n);
/* a - b in the wrapped space, in (-2^30, 2^30]: > 0 when a is after b. */
int32_t udp_wire_seq_diff(int32_t a, int32_t b);

/* A short name for a reason, for logs and counters. */
const char *udp_wire_bad_name(enum udp_wire_bad why);

#endif
