/* ingest.h - native produce over UDP on the shard that owns a partition:
 * sequence checks, zero-copy appends, acknowledgements.
 *
 * A PRODUCE datagram (udp_wire.h) arrives in a receive buffer (an mbuf)
 * on the shard owning its partition. ingest_on_produce checks its
 * producer's sequence and appends its RecordBatch to the log straight from
 * that buffer; the buffer is given back (ops->release) only once the log
 * has written it (log_written_end past the batch: the log keeps a pointer
 * until then, see storage/log.h). ingest_do_work, run after the shard's
 * group commit, releases written buffers and sends each producer one ACK
 * with the highest sequence now durable (log_durable_end: fdatasync'ed
 * with flush "always", as acks=all is).
 *
 * Per producer and partition: the next expected sequence. A datagram
 *   at it          is appended;
 *   before it      is a duplicate: dropped, and the last ACK resent;
 *   after it       leaves a gap: dropped, and a NAK names the expected
 *                  sequence so that the sender goes back to it;
 *   straddling it  is refused with a NAK (batches never split).
 * A producer unknown here must start at sequence 0 (else NAK
 * UNKNOWN_PRODUCER_ID: the sender starts a new epoch at 0); a higher epoch
 * starts over, a lower one is fenced. The state is in memory: after a
 * broker restart a sender re-sends what was not acknowledged, in a new
 * epoch (what was written but not acknowledged may then be stored twice;
 * nothing acknowledged is lost).
 *
 * Single-threaded: one shard owns a struct ingest. No allocation per
 * datagram: a partition's state is made the first time it is used.
 * Knows nothing of DPDK: buffers and peers are opaque to it. */
#ifndef SLUICE_INGEST_H
#define SLUICE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/dpdk/udp_wire.h"
#include "numa/duty_cycle.h"
#include "storage/log.h"

/* Where replies go: the sender's addresses as the datagram carried them
 * (network byte order). */
struct ingest_peer {
    uint8_t mac[6];
    uint16_t port;
    uint32_t ip;
};

struct ingest_ops {
    /* Sends an ACK or NAK datagram (len bytes) to peer. */
    void (*reply)(void *ctx, const struct ingest_peer *to, const uint8_t *dgram, size_t len);
    /* Gives back a receive buffer. */
    void (*release)(void *ctx, void *buf);
    /* The log of part (the cookie given to ingest_part_get) has appends to
     * write this turn. */
    void (*mark_dirty)(void *ctx, void *cookie);
};

/* What happened to one datagram (counted in struct ingest_stats). */
enum ingest_outcome {
    INGEST_APPENDED,         /* the buffer is kept until written */
    INGEST_DUPLICATE,
    INGEST_GAP,
    INGEST_OVERLAP,
    INGEST_UNKNOWN_PRODUCER,
    INGEST_FENCED,
    INGEST_REFUSED,          /* the log refused the batch (bad CRC...) */
    INGEST_BACKLOG,          /* no room: dropped, the sender re-sends */
};

/* Plain counters, read by whoever exports them (never reset). */
struct ingest_stats {
    uint64_t appended;       /* datagrams */
    uint64_t records;
    uint64_t bytes;          /* batch bytes */
    uint64_t duplicates;
    uint64_t gaps;
    uint64_t overlaps;
    uint64_t unknown_producer;
    uint64_t fenced;
    uint64_t refused;
    uint64_t backlog;
    uint64_t acks;
    uint64_t naks;
};

struct ingest_config {
    uint32_t pending_max;    /* datagrams in flight per partition (power of 2) */
    uint32_t producers_max;  /* per partition (power of 2) */
    uint64_t nak_interval_ns; /* the same NAK is not repeated sooner */
    /* If set: each datagram's time from arrival (ingest_on_produce's
     * now_ns) to written (ingest_do_work's) is recorded here. */
    struct duty_cycle *append_latency;
};

void ingest_config_defaults(struct ingest_config *cfg);

struct ingest;
struct ingest_part;

int ingest_create(struct ingest **out, const struct ingest_config *cfg,
                  const struct ingest_ops *ops, void *ctx);
/* Every partition must have been closed first. */
void ingest_destroy(struct ingest *in);

/* The state of a partition this shard owns, made on first use (NULL when
 * memory is short). cookie identifies it to ops->mark_dirty and to
 * ingest_part_close; topic is copied. */
struct ingest_part *ingest_part_get(struct ingest *in, void *cookie, struct log *log,
                                    const char *topic, size_t topic_len, int32_t partition);

/* Forgets a partition whose log is about to close. The log must have
 * written everything appended (the shard drains it first): every buffer
 * still held is released. */
void ingest_part_close(struct ingest *in, void *cookie);

/* One PRODUCE datagram for part, parsed into d, in buf (taken over:
 * released now, or once written when appended). now_ms stamps the
 * append; now_ns (when it arrived) paces NAKs and times the append. */
enum ingest_outcome ingest_on_produce(struct ingest *in, struct ingest_part *part,
                                      const struct udp_produce *d, void *buf,
                                      const struct ingest_peer *from, int64_t now_ms,
                                      uint64_t now_ns);

/* Answers a datagram no partition here can take (error: a Kafka code,
 * e.g. UNKNOWN_TOPIC_OR_PARTITION) with a NAK, and releases buf. */
void ingest_reject(struct ingest *in, const struct udp_produce *d, void *buf,
                   const struct ingest_peer *from, int16_t error);

/* After the shard's flush: releases written buffers, sends the ACKs that
 * became due. Returns the work done (buffers released + replies sent). */
int ingest_do_work(struct ingest *in, uint64_t now_ns);

/* True while some partition holds buffers not yet written. */
bool ingest_busy(const struct ingest *in);

const struct ingest_stats *ingest_stats(const struct ingest *in);

#endif
