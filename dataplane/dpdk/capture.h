/* capture.h - raw feed capture: every datagram sent to a capture topic's
 * UDP port (or multicast group) becomes one record of the topic's
 * partition 0, on the shard that owns it.
 *
 *   key        "A.B.C.D:PORT", the datagram's source
 *   value      the UDP payload, byte for byte
 *   timestamp  receive time in ms (Kafka's unit), and in record headers:
 *     sluice.ts.ns    int64: receive time, ns since the epoch (the port's
 *                     timestamp where it has one, else the TSC)
 *   with a sequence rule (sluice.capture.sequence), also:
 *     sluice.seq      int64: sequence number of the datagram's first message
 *     sluice.session  MoldUDP64: the 10-byte session
 *     sluice.count    MoldUDP64: int16, messages in the datagram
 *     sluice.gap      two int64: first missing sequence, messages missing
 *                     (on the first datagram after a gap)
 *     sluice.dup      int64: messages it repeats
 *     sluice.fill     int64: messages of an open gap it filled
 *     sluice.malformed  MoldUDP64 blocks that do not add up (still stored)
 *   integers big-endian, as everywhere in Kafka.
 *
 * The payload is copied once, into a RecordBatch built in a buffer of the
 * partition's; each loop turn's batch is appended before the shard's
 * group commit, so receive buffers go back to the pool at once and the
 * disk sees few large batches (compression.type=lz4 then stores them LZ4
 * framed). A batch buffer is reused once the log has written it.
 *
 * Gap fill: with sluice.capture.retransmit (MoldUDP64), a gap sends a
 * request to the re-request server; with sluice.capture.hold.ms > 0 the
 * datagrams after the gap wait (in a batch of their own) until the gap is
 * filled or the time is up, so that the fill is stored in sequence order.
 *
 * Single-threaded: one shard owns a struct capture. No allocation per
 * datagram: a partition's buffers are made the first time it is used.
 * Knows nothing of DPDK. */
#ifndef SLUICE_CAPTURE_H
#define SLUICE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config.h"
#include "dataplane/dpdk/seqtrack.h"
#include "storage/log.h"

#define CAPTURE_SESSIONS_MAX 8

/* Plain counters (never reset), summed over a shard's capture topics. */
struct capture_stats {
    uint64_t datagrams, bytes;          /* received (stored unless dropped) */
    uint64_t batches;                   /* appended */
    uint64_t messages;                  /* sequenced messages */
    uint64_t unsequenced;               /* no sequence could be read */
    uint64_t malformed;
    uint64_t gaps, gap_messages;
    uint64_t duplicates, dup_messages;
    uint64_t fills, fill_messages;
    uint64_t retransmit_requests;
    uint64_t holds, hold_timeouts;
    uint64_t dropped;                   /* not stored: no batch buffer free,
                                           or the batch was refused */
};

struct capture_ops {
    /* The log of cookie has appends to write this turn. */
    void (*mark_dirty)(void *ctx, void *cookie);
    /* Sends payload to ip:port from src_port (host order): a re-request. */
    void (*send)(void *ctx, uint32_t ip, uint16_t port, uint16_t src_port,
                 const uint8_t *payload, size_t len);
};

struct capture;
struct capture_part;

int capture_create(struct capture **out, const struct capture_ops *ops, void *ctx);
/* Every partition must have been closed first. */
void capture_destroy(struct capture *c);

/* The capture state of a partition this shard owns, made on first use
 * (NULL when memory is short). cfg is copied (and updated on each call);
 * batches stay under max_batch bytes (the topic's max.message.bytes). */
struct capture_part *capture_part_get(struct capture *c, void *cookie, struct log *log,
                                      const struct capture_config *cfg, uint32_t max_batch);

/* Forgets a partition whose log is about to close; everything appended
 * must have been written (the shard drains its logs first). */
void capture_part_close(struct capture *c, void *cookie);

/* One datagram (its payload is copied). rx_ns: when it arrived; now_ns:
 * the queue's clock, for the hold. */
void capture_on_datagram(struct capture *c, struct capture_part *p, const uint8_t *payload,
                         size_t len, uint32_t src_ip, uint16_t src_port, int64_t rx_ns,
                         int64_t now_ns);

/* Before the shard's group commit: appends this turn's batches (and a
 * held one whose gap was filled or whose time is up). Returns the work. */
int capture_flush(struct capture *c, int64_t now_ms, int64_t now_ns);

/* After it: batch buffers the logs wrote are free again. */
int capture_after_flush(struct capture *c);

/* True while a batch waits to be appended or written. */
bool capture_busy(const struct capture *c);

const struct capture_stats *capture_stats(const struct capture *c);

#endif
