/* shard_stats.c - the shard's side of metrics: counting responses, and
 * the report the control thread collects (CTL_SHARD_STATS).
 *
 * Owns: nothing but the copy. The counters themselves are plain fields of
 * struct shard and struct partition (metrics/shard_metrics.h), written by
 * this thread only; the report copies them into the arena the control
 * thread sent, so no other thread ever reads the live ones.
 * Never: allocates, blocks, or takes longer than one pass over the
 * shard's partitions (a scrape is rare: seconds apart). */
#include "dataplane/shard_private.h"
#include "dataplane/kafka/api.h"
#include "numa/duty_cycle.h"
#include "dataplane/dpdk/dpdk.h"

#include <string.h>
#include <time.h>

int64_t shard_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A response is queued: its bytes and, for produce and fetch, how long
 * the request took from framing to answer (a long poll's wait included,
 * as Kafka's FetchConsumer TotalTimeMs does). */
void shard_count_response(struct request *rq, const struct out_seg *segs, int nsegs)
{
    struct shard_metrics *m = &rq->shard->metrics;
    uint64_t bytes = 0;
    for (int i = 0; i < nsegs; i++)
        bytes += segs[i].len;
    if (rq->api_key >= 0 && rq->api_key < METRICS_API_KEYS)
        m->api[rq->api_key].bytes_out += bytes;
    uint64_t ns = (uint64_t)(shard_mono_ns() - rq->start_ns);
    if (rq->api_key == KAFKA_PRODUCE)
        hist_record(&m->produce_ns, ns);
    else if (rq->api_key == KAFKA_FETCH)
        hist_record(&m->fetch_ns, ns);
}

static void report_partition(const struct partition *p, int shard, struct part_report *r)
{
    *r = (struct part_report){
        .partition = p->index,
        .shard = shard,
        .log_start = log_start_offset(p->log),
        .log_end = log_end_offset(p->log),
        .high_watermark = log_durable_end(p->log),
        .segments = log_segment_count(p->log),
        .error = log_error(p->log),
        .size_bytes = log_size_bytes(p->log),
        .m = p->m,
    };
}

/* The loop-turn histogram is the shard's duty cycle (numa/duty_cycle.h,
 * log-linear, 12.5% buckets); each of its buckets goes to the first
 * Prometheus bucket whose bound is at or above the duty bucket's upper
 * bound, so no turn is reported shorter than it was. */
static void turns_to_hist(const struct duty_cycle *d, struct hist *h, uint64_t *turns)
{
    struct duty_cycle_view v;        /* 2.5 KiB, on the shard's stack */
    duty_cycle_read(d, &v);
    hist_init(h, &hist_latency_ns);
    for (unsigned i = 0, j = 0; i < DUTY_BUCKETS; i++) {
        uint64_t upper = duty_cycle_bucket_upper_ns(i);
        while (j < (unsigned)h->b->n && h->b->le[j] < upper)
            j++;
        h->count[j] += v.counts[i];
    }
    h->sum = v.sum_ns;
    h->max = v.max_ns;
    *turns = v.total;
}

void shard_report_stats(struct shard *s, struct ctl_msg *m)
{
    struct ctl_shard_stats *st = &m->u.shard_stats;
    struct ctl_arena *a = &m->arena;
    size_t nparts = 0, names = 0;
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *p = s->parts[b]; p; p = p->next) {
            nparts++;
            names += strlen(p->topic) + 8;
        }
    st->nparts = 0;
    st->need = 0;
    st->metrics = ctl_arena_alloc(a, sizeof(*st->metrics));
    st->parts = ctl_arena_alloc(a, sizeof(*st->parts) * nparts + 1);
    if (!st->metrics || !st->parts) {
        st->need = sizeof(*st->metrics) + sizeof(*st->parts) * nparts + names + 256;
        return;
    }
    *st->metrics = s->metrics;
    st->metrics->dpdk = NULL;
    if (s->dpdk) {
        char *line = ctl_arena_alloc(a, 4096);
        if (line) {
            struct dpdk_stats ds;
            dpdk_queue_stats(s->dpdk, &ds);
            dpdk_stats_format(&ds, line, 4096);
            st->metrics->dpdk = line;
        }
    }
    turns_to_hist(&s->turns, &st->metrics->turn_ns, &st->metrics->turns);
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *p = s->parts[b]; p; p = p->next) {
            if (!p->log)
                continue; /* opening, or handed off to be deleted */
            struct part_report *r = &st->parts[st->nparts];
            report_partition(p, s->cfg.index, r);
            r->topic = ctl_arena_strdup(a, p->topic, strlen(p->topic));
            if (!r->topic) {
                st->need = a->cap * 2 + names;
                return;
            }
            st->nparts++;
        }
}
