/* stats.c - metrics, aggregated on the control thread (CTL_STATS).
 *
 * The ops thread (the HTTP listener, ops/) asks with one CTL_STATS
 * message whose arena is its own memory. The control thread carves a
 * piece of that arena for each shard and sends every shard a
 * CTL_SHARD_STATS command pointing into it; each shard copies its
 * counters and partition reports there (dataplane/shard_stats.c). Once
 * the last shard answered, the reports are merged and sorted, consumer
 * lag is computed from the committed offsets against each partition's
 * log end, the ring occupancy and topics are added, and the message goes
 * back to the ops thread.
 *
 * Owns: the one collection in progress (the ops thread asks one at a
 * time; another request meanwhile is answered once this one is done).
 * Never: reads a shard's memory (only the copies the shards posted), or
 * touches a socket. */
#include "control/control_private.h"
#include "control/offsets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int part_cmp(const void *a, const void *b)
{
    const struct part_report *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static const struct part_report *find_part(const struct ctl_stats *st, const char *topic,
                                           int32_t partition)
{
    struct part_report key = { .topic = topic, .partition = partition };
    return bsearch(&key, st->parts, (size_t)st->nparts, sizeof(key), part_cmp);
}

struct lag_ctx {
    struct ctl_msg *m;
    bool full;
};

static int add_lag(void *ctx, const char *group, const char *topic, int32_t partition,
                   int64_t committed)
{
    struct lag_ctx *lc = ctx;
    struct ctl_stats *st = &lc->m->u.stats;
    struct ctl_arena *a = &lc->m->arena;
    struct lag_report *l = &st->lags[st->nlags];
    const struct part_report *p = find_part(st, topic, partition);
    l->group = ctl_arena_strdup(a, group, strlen(group));
    l->topic = ctl_arena_strdup(a, topic, strlen(topic));
    if (!l->group || !l->topic) {
        lc->full = true;
        return -ENOSPC;
    }
    l->partition = partition;
    l->committed = committed;
    l->log_end = p ? p->high_watermark : -1;
    /* Lag against what a consumer can read (the high watermark, as
     * Kafka's tools compute it); never negative. */
    l->lag = p && p->high_watermark > committed ? p->high_watermark - committed : 0;
    st->nlags++;
    return 0;
}

static void stats_topics(struct control *c, struct ctl_msg *m)
{
    struct ctl_stats *st = &m->u.stats;
    st->topics = ctl_arena_alloc(&m->arena, sizeof(*st->topics) * (size_t)c->md.ntopics + 1);
    if (!st->topics) {
        st->need = m->arena.cap * 2;
        return;
    }
    for (int32_t i = 0; i < c->md.ntopics; i++) {
        const struct md_live *t = c->md.topics[i];
        if (t->state != MD_LIVE)
            continue;
        struct topic_report *r = &st->topics[st->ntopics++];
        r->name = t->t.name;
        r->partitions = t->t.npartitions;
        md_id_text(t->t.id, r->id);
    }
    snprintf(st->cluster_id, sizeof(st->cluster_id), "%s", c->md.cluster_id);
}

/* Every shard answered: merge, add lag, rings and topics, answer. */
static void stats_finish(struct control *c, struct ctl_msg *m)
{
    struct ctl_stats *st = &m->u.stats;
    c->stats_pending = NULL;
    if (st->need == 0) {
        qsort(st->parts, (size_t)st->nparts, sizeof(*st->parts), part_cmp);
        size_t nl = offsets_count(c->offsets);
        st->lags = ctl_arena_alloc(&m->arena, sizeof(*st->lags) * nl + 1);
        struct lag_ctx lc = { .m = m };
        if (!st->lags || offsets_each(c->offsets, add_lag, &lc) < 0 || lc.full)
            st->need = m->arena.cap * 2;
    }
    if (st->need == 0)
        stats_topics(c, m);
    for (int i = 0; i < c->nshards && st->need == 0; i++) {
        struct control_shard *sh = &c->shards[i];
        st->rings[i] = (struct ring_report){
            .to_shard = spsc_ring_count(&sh->to),
            .from_shard = spsc_ring_count(&sh->from),
            .capacity = spsc_ring_capacity(&sh->to),
            .backlog = (uint32_t)sh->backlog.len,
        };
        st->ports[i] = c->md.brokers[i].port;
    }
    control_post(c, m->shard, m);
    if (c->stats_queued) {
        struct ctl_msg *next = c->stats_queued;
        c->stats_queued = NULL;
        stats_request(c, next);
    }
}

void stats_request(struct control *c, struct ctl_msg *m)
{
    struct ctl_stats *st = &m->u.stats;
    if (c->stats_pending) {
        c->stats_queued = m;   /* one asker: at most one more */
        return;
    }
    memset(st, 0, sizeof(*st));
    st->nshards = c->nshards;
    st->shards = ctl_arena_alloc(&m->arena, sizeof(*st->shards) * (size_t)c->nshards);
    st->rings = ctl_arena_alloc(&m->arena, sizeof(*st->rings) * (size_t)c->nshards);
    st->ports = ctl_arena_alloc(&m->arena, sizeof(*st->ports) * (size_t)c->nshards);
    size_t left = m->arena.cap - m->arena.len;
    /* Half of what is left for the shards' reports, half for the merged
     * partitions, the lag rows and their strings. */
    size_t each = left / 2 / (size_t)c->nshards & ~(size_t)7;
    if (!st->shards || !st->rings || !st->ports || each < 4096) {
        st->need = m->arena.cap * 2 + 65536;
        control_post(c, m->shard, m);
        return;
    }
    c->stats_pending = m;
    c->stats_waiting = c->nshards;
    for (int i = 0; i < c->nshards; i++) {
        struct ctl_cmd *cmd = control_cmd(c, CTL_SHARD_STATS, NULL, i, NULL, 0);
        if (!cmd) {
            st->need = m->arena.cap * 2;
            if (--c->stats_waiting == 0)
                stats_finish(c, m);
            continue;
        }
        /* Always room: each * nshards <= left / 2. */
        cmd->msg.arena = (struct ctl_arena){ .buf = ctl_arena_alloc(&m->arena, each),
                                             .cap = each };
        control_post(c, i, &cmd->msg);
    }
}

void stats_answered(struct control *c, struct ctl_cmd *cmd)
{
    struct ctl_msg *m = c->stats_pending;
    const struct ctl_shard_stats *ss = &cmd->msg.u.shard_stats;
    if (!m)
        return;
    struct ctl_stats *st = &m->u.stats;
    if (ss->need > 0 || !ss->metrics) {
        size_t want = (ss->need + 4096) * 2 * (size_t)c->nshards * 2;
        if (want < m->arena.cap * 2)
            want = m->arena.cap * 2;
        if (want > st->need)
            st->need = want;
    } else {
        st->shards[cmd->item] = *ss->metrics;
        if (st->need == 0) {
            /* The merged array is built in place behind the shards'
             * pieces: each shard's reports are appended to it. */
            if (!st->parts)
                st->parts = (struct part_report *)(m->arena.buf + m->arena.len +
                                                   (-(uintptr_t)(m->arena.buf + m->arena.len) & 7));
            size_t bytes = sizeof(*st->parts) * (size_t)(st->nparts + ss->nparts);
            size_t start = (size_t)((uint8_t *)st->parts - m->arena.buf);
            if (start + bytes > m->arena.cap) {
                st->need = m->arena.cap * 2;
            } else {
                memcpy(st->parts + st->nparts, ss->parts, sizeof(*ss->parts) * (size_t)ss->nparts);
                st->nparts += ss->nparts;
                m->arena.len = start + bytes;
            }
        }
    }
    if (--c->stats_waiting == 0)
        stats_finish(c, m);
}
