/* sluice_send.h - libsluice-send: a sender of sluice's native UDP produce
 * protocol (docs/udp-protocol.md), over kernel UDP sockets or over DPDK.
 *
 * Records are packed into Kafka RecordBatches, one per datagram, numbered
 * with Kafka's idempotent-producer sequences. The sender keeps every
 * datagram until an ACK covers it; a NAK for a gap sends everything from
 * the named sequence again (go-back-N), a silence longer than the
 * retransmission timeout (20 ms, doubling up to 1 s) does the same from
 * the oldest unacknowledged datagram, and a NAK saying the broker does
 * not know the producer sends sequence 0 again while the sender still has
 * it (its first datagrams were lost), or else (the broker restarted)
 * renumbers what is unacknowledged from 0 in a new epoch. ACKs tell which
 * of the broker's shard ports owns the partition; the sender sends there
 * from then on.
 *
 *   sluice_sender_create(&s, &cfg, err, sizeof err);
 *   while (more)
 *       while (sluice_sender_send(s, key, klen, value, vlen, ts) == -EAGAIN)
 *           sluice_sender_poll(s, 1);          window full: wait for ACKs
 *   sluice_sender_wait(s, 10000);              everything acknowledged
 *   sluice_sender_destroy(s);
 *
 * Single-threaded: one thread uses a sender. Errors are negative errno;
 * a NAK the sender cannot mend (a refused batch, an unknown topic, a
 * fenced epoch) makes it fail for good with -EPROTO, and
 * sluice_sender_error says what the broker answered. */
#ifndef SLUICE_SEND_H
#define SLUICE_SEND_H

#include <stddef.h>
#include <stdint.h>

enum sluice_send_transport {
    SLUICE_SEND_UDP,           /* a kernel UDP socket */
    SLUICE_SEND_DPDK,          /* a DPDK port of this process */
};

struct sluice_send_config {
    enum sluice_send_transport transport;
    const char *broker;        /* "A.B.C.D:PORT": the broker's DPDK address and
                                  a shard's native port */
    const char *topic;
    int32_t partition;
    int64_t producer_id;       /* < 0: a random one (2^62 and up) */
    int16_t producer_epoch;
    uint32_t window;           /* datagrams unacknowledged at most (1024) */
    uint32_t max_datagram;     /* UDP payload bytes at most (1472) */
    uint32_t records_per_datagram; /* 0: as many as fit */
    /* SLUICE_SEND_UDP */
    const char *bind;          /* local "A.B.C.D[:PORT]", NULL: any */
    /* SLUICE_SEND_DPDK */
    const char *eal_args;      /* e.g. "-l 0 --no-huge -m 256 --vdev net_memif0,role=client" */
    const char *dpdk_port;     /* id or device name ("0") */
    const char *local_ip;      /* our "A.B.C.D/N" on the port */
    /* For tests of the protocol: the first transmission of every Nth
     * datagram is not sent, or sent twice (0: never). */
    uint32_t test_drop_every;
    uint32_t test_dup_every;
};

void sluice_send_config_defaults(struct sluice_send_config *cfg);

struct sluice_send_stats {
    uint64_t records;          /* accepted by sluice_sender_send */
    uint64_t datagrams;        /* first transmissions */
    uint64_t bytes;
    uint64_t retransmits;      /* datagrams sent again */
    uint64_t acks, naks;
    uint64_t timeouts;
    uint64_t epochs;           /* renumberings after UNKNOWN_PRODUCER_ID */
    uint64_t acked_records;
    int64_t last_offset;       /* of the highest acknowledged record */
    uint64_t rtt_ns_last;      /* a datagram's send to the ACK covering it */
};

struct sluice_sender;

int sluice_sender_create(struct sluice_sender **out, const struct sluice_send_config *cfg,
                         char *err, size_t errlen);
void sluice_sender_destroy(struct sluice_sender *s);

/* Adds one record (key NULL: a null key) with timestamp ts_ms. Sends the
 * datagram when it is full. Returns 0, -EAGAIN when the window is full
 * (poll, then try again), -EMSGSIZE for a record that fits no datagram,
 * or the sender's error. */
int sluice_sender_send(struct sluice_sender *s, const void *key, size_t key_len,
                       const void *value, size_t value_len, int64_t ts_ms);

/* Sends the datagram being filled, if any. */
int sluice_sender_flush(struct sluice_sender *s);

/* Reads replies and retransmits what is due, waiting up to timeout_ms for
 * a reply (0: not at all). Returns the replies handled, or an error. */
int sluice_sender_poll(struct sluice_sender *s, int timeout_ms);

/* Flushes and polls until every record is acknowledged. Returns 0,
 * -ETIMEDOUT, or the sender's error. */
int sluice_sender_wait(struct sluice_sender *s, int timeout_ms);

/* Records sent and not yet acknowledged. */
uint64_t sluice_sender_unacked(const struct sluice_sender *s);

const struct sluice_send_stats *sluice_sender_stats(const struct sluice_sender *s);

/* What went wrong, once an error was returned ("" before). */
const char *sluice_sender_error(const struct sluice_sender *s);

#endif
