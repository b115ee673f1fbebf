/* prom.c - the Prometheus text exposition (format 0.0.4) of one CTL_STATS
 * answer: per shard, per API, per partition, per consumer group.
 *
 * Names follow Prometheus's conventions: sluice_ prefix, base units
 * (seconds, bytes), _total for counters; histograms as cumulative
 * _bucket{le=...} lines with _sum and _count. */
#include "ops/ops_private.h"
#include "dataplane/kafka/api.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's lines; labels is "shard=\"0\"" or similar (no braces). */
static void hist_lines(struct sbuf *b, const char *name, const char *labels,
                       const struct hist *h)
{
    const struct hist_bounds *hb = h->b;
    uint64_t cum = 0;
    if (!hb)
        return;
    for (int i = 0; i < hb->n; i++) {
        cum += h->count[i];
        sbuf_printf(b, "%s_bucket{%s,le=\"%.9g\"} %" PRIu64 "\n", name, labels,
                    (double)hb->le[i] * hb->scale, cum);
    }
    cum += h->count[hb->n];
    sbuf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", name, labels, cum);
    sbuf_printf(b, "%s_sum{%s} %.9g\n", name, labels, (double)h->sum * hb->scale);
    sbuf_printf(b, "%s_count{%s} %" PRIu64 "\n", name, labels, cum);
}

static void shard_hist(struct sbuf *b, const struct ctl_stats *st, const char *name,
                       const char *help, size_t off)
{
    char labels[32];
    family(b, name, "histogram", help);
    for (int i = 0; i < st->nshards; i++) {
        snprintf(labels, sizeof(labels), "shard=\"%d\"", i);
        hist_lines(b, name, labels, (const struct hist *)((const char *)&st->shards[i] + off));
    }
}

#define SHARD_U64(b, st, name, type, help, field)                              \
    do {                                                                       \
        family(b, name, type, help);                                           \
        for (int i_ = 0; i_ < (st)->nshards; i_++)                             \
            sbuf_printf(b, name "{shard=\"%d\"} %" PRIu64 "\n", i_,            \
                        (uint64_t)(st)->shards[i_].field);                     \
    } while (0)

static void api_counters(struct sbuf *b, const struct ctl_stats *st)
{
    static const struct { const char *name, *help; size_t off; } fams[] = {
        { "sluice_requests_total", "Kafka requests received, by API.",
          offsetof(struct api_metrics, requests) },
        { "sluice_request_bytes_total", "Request bytes received, by API.",
          offsetof(struct api_metrics, bytes_in) },
        { "sluice_response_bytes_total", "Response bytes sent, by API.",
          offsetof(struct api_metrics, bytes_out) },
    };
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        family(b, fams[f].name, "counter", fams[f].help);
        for (int i = 0; i < st->nshards; i++)
            for (int k = 0; k < METRICS_API_KEYS; k++) {
                const struct api_metrics *am = &st->shards[i].api[k];
                const struct kafka_api *a = kafka_api_find((int16_t)k);
                if (!a || am->requests == 0)
                    continue;
                sbuf_printf(b, "%s{shard=\"%d\",api=\"%s\"} %" PRIu64 "\n", fams[f].name, i,
                            a->name, *(const uint64_t *)((const char *)am + fams[f].off));
            }
    }
    family(b, "sluice_request_duration_seconds", "histogram",
           "Time from a request's arrival to its response, by API (fetch long polls "
           "included).");
    for (int i = 0; i < st->nshards; i++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "shard=\"%d\",api=\"Produce\"", i);
        hist_lines(b, "sluice_request_duration_seconds", labels, &st->shards[i].produce_ns);
        snprintf(labels, sizeof(labels), "shard=\"%d\",api=\"Fetch\"", i);
        hist_lines(b, "sluice_request_duration_seconds", labels, &st->shards[i].fetch_ns);
    }
}

static void part_label(struct sbuf *b, const char *name, const struct part_report *p)
{
    sbuf_printf(b, "%s{topic=\"", name);
    sbuf_label(b, p->topic);
    sbuf_printf(b, "\",partition=\"%d\",shard=\"%d\"} ", p->partition, p->shard);
}

#define PART_FAM(b, st, name, type, help, expr)                                \
    do {                                                                       \
        family(b, name, type, help);                                           \
        for (int i_ = 0; i_ < (st)->nparts; i_++) {                            \
            const struct part_report *p = &(st)->parts[i_];                    \
            part_label(b, name, p);                                            \
            sbuf_printf(b, "%" PRId64 "\n", (int64_t)(expr));                  \
        }                                                                      \
    } while (0)

static void partitions(struct sbuf *b, const struct ctl_stats *st)
{
    PART_FAM(b, st, "sluice_partition_produce_requests_total", "counter",
             "Produce partition entries appended.", p->m.produce_requests);
    PART_FAM(b, st, "sluice_partition_bytes_in_total", "counter",
             "Record-set bytes appended.", p->m.bytes_in);
    PART_FAM(b, st, "sluice_partition_records_appended_total", "counter",
             "Records appended.", p->m.records_in);
    PART_FAM(b, st, "sluice_partition_fetch_requests_total", "counter",
             "Fetch partition entries answered with records.", p->m.fetch_requests);
    PART_FAM(b, st, "sluice_partition_bytes_out_total", "counter",
             "Record bytes fetched.", p->m.bytes_out);
    PART_FAM(b, st, "sluice_partition_log_start_offset", "gauge",
             "First offset in the log.", p->log_start);
    PART_FAM(b, st, "sluice_partition_log_end_offset", "gauge",
             "Next offset to be assigned.", p->log_end);
    PART_FAM(b, st, "sluice_partition_high_watermark", "gauge",
             "Offsets below it are durable and visible to consumers.", p->high_watermark);
    PART_FAM(b, st, "sluice_partition_segments", "gauge", "Segment files.", p->segments);
    PART_FAM(b, st, "sluice_partition_size_bytes", "gauge", "Bytes in segment files.",
             p->size_bytes);
    PART_FAM(b, st, "sluice_partition_offline", "gauge",
             "1 when the log failed a write or sync (sticky).", p->error != 0);
}

static void lag(struct sbuf *b, const struct ctl_stats *st)
{
    static const char *const names[] = { "sluice_consumer_group_lag",
                                         "sluice_consumer_group_committed_offset" };
    static const char *const helps[] = {
        "High watermark minus the group's committed offset, per partition.",
        "The group's committed offset, per partition." };
    for (int k = 0; k < 2; k++) {
        family(b, names[k], "gauge", helps[k]);
        for (int i = 0; i < st->nlags; i++) {
            const struct lag_report *l = &st->lags[i];
            sbuf_printf(b, "%s{group=\"", names[k]);
            sbuf_label(b, l->group);
            sbuf_put(b, "\",topic=\"", 9);
            sbuf_label(b, l->topic);
            sbuf_printf(b, "\",partition=\"%d\"} %" PRId64 "\n", l->partition,
                        k == 0 ? l->lag : l->committed);
        }
    }
}

static void rings(struct sbuf *b, const struct ctl_stats *st)
{
    family(b, "sluice_ring_occupancy", "gauge",
           "Messages queued in the rings between a shard and the control thread.");
    for (int i = 0; i < st->nshards; i++) {
        sbuf_printf(b, "sluice_ring_occupancy{shard=\"%d\",direction=\"to_shard\"} %u\n", i,
                    st->rings[i].to_shard);
        sbuf_printf(b, "sluice_ring_occupancy{shard=\"%d\",direction=\"to_control\"} %u\n", i,
                    st->rings[i].from_shard);
    }
    family(b, "sluice_ring_capacity", "gauge", "Slots of each ring.");
    for (int i = 0; i < st->nshards; i++)
        sbuf_printf(b, "sluice_ring_capacity{shard=\"%d\"} %u\n", i, st->rings[i].capacity);
    family(b, "sluice_ring_backlog", "gauge",
           "Messages for a shard waiting for room in its full ring.");
    for (int i = 0; i < st->nshards; i++)
        sbuf_printf(b, "sluice_ring_backlog{shard=\"%d\"} %u\n", i, st->rings[i].backlog);
}

/* The DPDK queues' counters (dataplane/dpdk: "name=value ..." per shard)
 * as sluice_dpdk_<name>_total{shard}: one family per name, in the order
 * the first shard lists them. */
static void dpdk_counters(struct sbuf *b, const struct ctl_stats *st)
{
    const char *first = NULL;
    for (int i = 0; i < st->nshards && !first; i++)
        first = st->shards[i].dpdk;
    for (const char *p = first; p && *p;) {
        size_t klen = strcspn(p, "=");
        if (p[klen] != '=' || klen == 0 || klen > 64)
            break;
        char name[96];
        snprintf(name, sizeof(name), "sluice_dpdk_%.*s_total", (int)klen, p);
        for (char *c = name; *c; c++)
            if (*c == '.' || *c == '-')
                *c = '_';
        family(b, name, "counter", "A DPDK queue counter (dataplane/dpdk/dpdk.h).");
        for (int i = 0; i < st->nshards; i++) {
            const char *q = st->shards[i].dpdk;
            /* the same key in this shard's line */
            for (; q && *q; q += strcspn(q, " "), q += *q == ' ') {
                if (strncmp(q, p, klen + 1) == 0) {
                    sbuf_printf(b, "%s{shard=\"%d\"} %.*s\n", name, i,
                                (int)strcspn(q + klen + 1, " "), q + klen + 1);
                    break;
                }
            }
        }
        p += strcspn(p, " ");
        p += *p == ' ';
    }
}

void ops_render_metrics(struct sbuf *b, const struct ctl_stats *st)
{
    family(b, "sluice_up", "gauge", "1: the broker answered this scrape.");
    sbuf_printf(b, "sluice_up 1\n");
    SHARD_U64(b, st, "sluice_connections", "gauge", "Open client connections.", conns_open);
    SHARD_U64(b, st, "sluice_connections_accepted_total", "counter", "Connections accepted.",
              conns_accepted);
    SHARD_U64(b, st, "sluice_connections_refused_total", "counter",
              "Connections closed as accepted: past max.connections or max.connections.per.ip.",
              conns_refused);
    SHARD_U64(b, st, "sluice_requests_rejected_total", "counter",
              "Connections closed for a malformed or unsupported request.", requests_rejected);
    SHARD_U64(b, st, "sluice_authorization_denied_total", "counter",
              "Authorization checks the ACLs refused (authorizer.class.name).", authz_denied);
    SHARD_U64(b, st, "sluice_partitions_offline", "gauge",
              "Partitions offline for a disk fault (an I/O error reading or writing their "
              "log); back after a restart that reads them.", partitions_offline);
    SHARD_U64(b, st, "sluice_storage_faults_total", "counter",
              "Partitions taken offline (or left unopened at start) by a disk fault.",
              storage_faults);
    api_counters(b, st);
    shard_hist(b, st, "sluice_fsync_duration_seconds", "fdatasync latency of the group commit.",
               offsetof(struct shard_metrics, flush.fsync_ns));
    shard_hist(b, st, "sluice_group_commit_records", "Records made durable by one fdatasync.",
               offsetof(struct shard_metrics, flush.commit_records));
    SHARD_U64(b, st, "sluice_log_writes_total", "counter", "pwritev calls of the group commit.",
              flush.writes);
    SHARD_U64(b, st, "sluice_log_write_bytes_total", "counter", "Bytes written to segments.",
              flush.write_bytes);
    SHARD_U64(b, st, "sluice_fsync_errors_total", "counter", "Failed fdatasyncs.",
              flush.fsync_errors);
    shard_hist(b, st, "sluice_loop_turn_duration_seconds",
               "Busy part of one shard loop turn (a stalled turn lands in the top buckets).",
               offsetof(struct shard_metrics, turn_ns));
    family(b, "sluice_loop_turn_max_seconds", "gauge", "Longest loop turn since start.");
    for (int i = 0; i < st->nshards; i++)
        sbuf_printf(b, "sluice_loop_turn_max_seconds{shard=\"%d\"} %.9g\n", i,
                    (double)st->shards[i].turn_ns.max * 1e-9);
    SHARD_U64(b, st, "sluice_loop_turns_total", "counter", "Shard loop turns.", turns);
    rings(b, st);
    dpdk_counters(b, st);
    partitions(b, st);
    lag(b, st);
}
