/* shard_dpdk.c - a shard's side of the DPDK receive path (dataplane/dpdk/):
 * it makes the shard's queue on the shard's thread, answers the queue's
 * routing questions from the shard's partitions and metadata snapshot,
 * and runs the queue's two steps in the shard's loop turn.
 *
 * A shard with a queue never sleeps in io_uring: it polls the port every
 * turn (see shard.c), yielding the core when a turn found nothing. */
#include "dataplane/shard_private.h"
#include "dataplane/dpdk/dpdk.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int route(void *ctx, const char *topic, size_t len, int32_t partition,
                 struct log **log, void **cookie)
{
    struct shard *s = ctx;
    struct partition *p = shard_partition(s, topic, len, partition);
    if (p && !log_error(p->log)) {
        *log = p->log;
        *cookie = p;
        return s->cfg.index;
    }
    const struct md_topic *t = s->md ? md_find_topic(s->md, topic, len) : NULL;
    if (!t || partition < 0 || partition >= t->npartitions ||
        t->partitions[partition].index != partition)
        return DPDK_ROUTE_UNKNOWN;
    int32_t leader = t->partitions[partition].leader;
    if (md_broker_node(leader) != md_broker_node(s->cfg.broker_id))
        return DPDK_ROUTE_ELSEWHERE; /* another node's: its own port */
    int shard = md_broker_shard(leader);
    return shard == s->cfg.index ? DPDK_ROUTE_UNKNOWN : shard; /* ours, not open */
}

static void mark_dirty(void *ctx, void *cookie)
{
    shard_mark_dirty(ctx, cookie);
}

static const struct dpdk_route_ops route_ops = { route, mark_dirty };

void shard_dpdk_start(struct shard *s)
{
    if (!s->cfg.dpdk)
        return;
    int rc = dpdk_queue_create(&s->dpdk, s->cfg.dpdk, s->cfg.index, &route_ops, s);
    if (rc < 0) {
        fprintf(stderr, "shard %d: cannot set up its DPDK queue: %s\n", s->cfg.index,
                strerror(-rc));
        exit(1);
    }
}

int shard_dpdk_poll(struct shard *s)
{
    /* Nothing is received before the first metadata: every datagram would
     * find no partition (a replayed pcap would be lost). */
    if (!s->dpdk || !s->md)
        return 0;
    return dpdk_queue_poll(s->dpdk, s->now_ms);
}

int shard_dpdk_after_flush(struct shard *s)
{
    return s->dpdk ? dpdk_queue_after_flush(s->dpdk, s->now_ms) : 0;
}

void shard_dpdk_idle(struct shard *s)
{
    (void)s;
    sched_yield(); /* a spinning shard gives way to what shares its core */
}

void shard_dpdk_on_metadata(struct shard *s)
{
    if (s->dpdk)
        dpdk_queue_on_metadata(s->dpdk, s->md, md_broker_node(s->cfg.broker_id));
}

void shard_dpdk_partition_closed(struct shard *s, struct partition *p)
{
    if (s->dpdk)
        dpdk_queue_partition_closed(s->dpdk, p);
}

void shard_dpdk_stop(struct shard *s)
{
    if (!s->dpdk)
        return;
    dpdk_queue_after_flush(s->dpdk, s->now_ms); /* the last ACKs */
    char line[4096];
    struct dpdk_stats st;
    dpdk_queue_stats(s->dpdk, &st);
    dpdk_stats_format(&st, line, sizeof(line));
    fprintf(stderr, "shard %d: dpdk: %s\n", s->cfg.index, line);
    struct duty_cycle_view v;
    duty_cycle_read(dpdk_queue_append_latency(s->dpdk), &v);
    if (v.total)
        fprintf(stderr, "shard %d: dpdk: native append latency (arrival to written) n=%" PRIu64
                " p50=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus\n", s->cfg.index, v.total,
                duty_cycle_percentile(&v, 50) / 1e3, duty_cycle_percentile(&v, 99) / 1e3,
                duty_cycle_percentile(&v, 99.9) / 1e3, v.max_ns / 1e3);
    dpdk_queue_destroy(s->dpdk);
    s->dpdk = NULL;
}
