/* shard_metrics.h - what a shard counts, and the copy of it the control
 * thread collects (CTL_SHARD_STATS, control/ctl.h).
 *
 * Each shard owns one struct shard_metrics and one struct part_metrics per
 * partition, written by the shard thread alone with plain stores (no
 * lock, no atomic, nothing shared with another core: the shard keeps it
 * on cache lines of its own, alignas(64) in struct shard; copies need no
 * alignment beyond 8). When the control thread asks, the
 * shard copies them into the arena the request carries and posts it back;
 * the ring's release/acquire hands the copy over. So nobody ever reads a
 * counter while its owner writes it.
 *
 * Never: anything but plain data. Neither storage nor the control thread
 * knows the shard's structs; this header is what they share. */
#ifndef SLUICE_METRICS_SHARD_METRICS_H
#define SLUICE_METRICS_SHARD_METRICS_H

#include <stdint.h>

#include "metrics/histogram.h"

#define METRICS_API_KEYS 64            /* Kafka API keys 0..63 */

/* The group commit of one shard's logs (storage/flush.c records it). */
struct flush_metrics {
    struct hist fsync_ns;              /* fdatasync latency */
    struct hist commit_records;        /* records made durable per fdatasync */
    uint64_t writes;                   /* pwritev calls (one per log per turn) */
    uint64_t write_bytes;
    uint64_t fsync_errors;
};

struct api_metrics {
    uint64_t requests;
    uint64_t bytes_in;                 /* request frames, length prefix included */
    uint64_t bytes_out;                /* responses */
};

struct shard_metrics {
    struct api_metrics api[METRICS_API_KEYS];
    struct hist produce_ns;            /* request in -> response queued */
    struct hist fetch_ns;              /* includes a long poll's wait */
    struct hist turn_ns;               /* one loop turn's busy part */
    uint64_t turns;
    struct flush_metrics flush;
    uint64_t conns_accepted;
    uint64_t conns_closed;
    uint64_t conns_open;
    uint64_t conns_refused;            /* past max.connections(.per.ip) */
    uint64_t requests_rejected;        /* connection closed by a bad request */
    uint64_t authz_denied;             /* authorization checks refused (authz.c) */
    uint64_t partitions_offline;       /* now, for a disk fault (partition_fault.c) */
    uint64_t storage_faults;           /* partitions taken offline, ever (or not opened) */
    int32_t core;                      /* pinned to (topology index), -1: none */
    /* The shard's DPDK queue counters as "name=value ..." (the queue's own
     * dpdk_stats_format), in the report's arena; NULL without DPDK. */
    const char *dpdk;
};

void shard_metrics_init(struct shard_metrics *m);

/* Per partition, kept in the shard's struct partition. */
struct part_metrics {
    uint64_t produce_requests;         /* partition entries of Produce */
    uint64_t bytes_in;                 /* record-set bytes appended */
    uint64_t records_in;               /* records appended */
    uint64_t fetch_requests;           /* partition entries answered with data */
    uint64_t bytes_out;                /* record bytes fetched */
};

/* One partition as the shard reports it. */
struct part_report {
    const char *topic;                 /* in the report's arena */
    int32_t partition;
    int32_t shard;
    int64_t log_start;
    int64_t log_end;
    int64_t high_watermark;
    int32_t segments;
    int32_t error;                     /* the log's sticky errno, 0 */
    uint64_t size_bytes;
    struct part_metrics m;
};

#endif
