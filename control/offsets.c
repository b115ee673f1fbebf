/* offsets.c - committed offsets: the in-memory map and the requests
 * (OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups' part), retention.
 * The log under it is offsets_file.c; the life of a commit is in offsets.h.
 *
 * The map: groups in a hash table by id, each with a list of its entries;
 * entries in a second hash table by (group, topic, partition). The map is
 * changed only by applying log records (offsets_apply), whether they come
 * from the replay at start or from a turn's buffer after its fdatasync, so
 * what a fetch sees is exactly what a restart would see.
 *
 * Retention (offsets.retention.minutes, Kafka 2.1+/KIP-211, simplified):
 *   - entries of a group that has members never expire;
 *   - otherwise an entry expires at its explicit expire time (OffsetCommit
 *     v2-4 retention_time_ms) if it has one, else retention after the later
 *     of its commit time and the moment the group was last seen with
 *     members (in memory only: after a restart, the restart time, so a
 *     restart only ever lengthens a group's retention).
 *   The offsets of a deleted topic go at the same check, whatever the
 *   group's state (Kafka drops them when the topic is deleted); the check
 *   runs every check_interval_ms (60 s from control.c).
 *   Expired entries are removed and a tombstone is written at the next
 *   flush (offsets_expire runs right after a flush, with an empty buffer,
 *   so tombstones never overtake a commit of the same turn). */
#include "control/offsets_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/groups.h"
#include "control/md_store.h"
#include "control/txn.h"

#define KERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define KERR_OFFSET_METADATA_TOO_LARGE 12
#define KERR_COORDINATOR_NOT_AVAILABLE 15
#define KERR_INVALID_GROUP_ID 24
#define KERR_GROUP_ID_NOT_FOUND 69
#define KERR_GROUP_SUBSCRIBED_TO_TOPIC 86
#define KERR_UNSTABLE_OFFSET_COMMIT 88

/* --- the map ----------------------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;     /* FNV-1a */
    return h;
}

static uint64_t group_hash(const char *id)
{
    return hash_bytes(0xcbf29ce484222325ull, id, strlen(id));
}

static uint64_t entry_hash(const struct ogroup *g, const char *topic, int32_t partition)
{
    uint64_t h = hash_bytes(0xcbf29ce484222325ull, &g, sizeof g);

    h = hash_bytes(h, topic, strlen(topic));
    return hash_bytes(h, &partition, sizeof partition);
}

static struct ogroup *group_find(const struct offsets *o, const char *id)
{
    if (!o->gcap)
        return NULL;
    for (struct ogroup *g = o->gtab[group_hash(id) & (o->gcap - 1)]; g; g = g->hnext)
        if (strcmp(g->id, id) == 0)
            return g;
    return NULL;
}

/* Grows a chained table to twice its buckets when n reaches them. */
static int grow(void ***tab, size_t *cap, size_t n, size_t next_off,
                uint64_t (*hash)(const void *))
{
    size_t ncap = *cap ? *cap * 2 : 64;
    void **nt;

    if (n < *cap)
        return 0;
    if (!(nt = calloc(ncap, sizeof *nt)))
        return *cap ? 0 : -ENOMEM;     /* a full table still works */
    for (size_t i = 0; i < *cap; i++)
        for (void *e = (*tab)[i], *next; e; e = next) {
            void **link = (void **)((char *)e + next_off);
            size_t b = hash(e) & (ncap - 1);
            next = *link;
            *link = nt[b];
            nt[b] = e;
        }
    free(*tab);
    *tab = nt;
    *cap = ncap;
    return 0;
}

static uint64_t group_hash_of(const void *p)
{
    return group_hash(((const struct ogroup *)p)->id);
}

static uint64_t entry_hash_of(const void *p)
{
    const struct oentry *e = p;
    return entry_hash(e->g, e->topic, e->partition);
}

static struct ogroup *group_get(struct offsets *o, const char *id, size_t len)
{
    struct ogroup *g;
    char *copy = malloc(len + 1);
    size_t b;

    if (!copy)
        return NULL;
    memcpy(copy, id, len);
    copy[len] = '\0';
    if ((g = group_find(o, copy))) {
        free(copy);
        return g;
    }
    if (grow((void ***)&o->gtab, &o->gcap, o->ngroups, offsetof(struct ogroup, hnext),
             group_hash_of) < 0 || !(g = calloc(1, sizeof *g))) {
        free(copy);
        return NULL;
    }
    g->id = copy;
    g->empty_since = o->started_ms;
    b = group_hash(copy) & (o->gcap - 1);
    g->hnext = o->gtab[b];
    o->gtab[b] = g;
    o->ngroups++;
    return g;
}

static void group_free(struct offsets *o, struct ogroup *g)
{
    struct ogroup **link = &o->gtab[group_hash(g->id) & (o->gcap - 1)];

    while (*link != g)
        link = &(*link)->hnext;
    *link = g->hnext;
    o->ngroups--;
    free(g->id);
    free(g);
}

static struct oentry **entry_link(const struct offsets *o, const struct ogroup *g,
                                  const char *topic, int32_t partition)
{
    struct oentry **link;

    if (!o->ecap)
        return NULL;
    link = &o->etab[entry_hash(g, topic, partition) & (o->ecap - 1)];
    for (; *link; link = &(*link)->hnext)
        if ((*link)->g == g && (*link)->partition == partition &&
            strcmp((*link)->topic, topic) == 0)
            return link;
    return NULL;
}

static void entry_remove(struct offsets *o, struct oentry *e)
{
    struct oentry **link = entry_link(o, e->g, e->topic, e->partition);
    struct ogroup *g = e->g;

    *link = e->hnext;
    if (e->gprev)
        e->gprev->gnext = e->gnext;
    else
        g->head = e->gnext;
    if (e->gnext)
        e->gnext->gprev = e->gprev;
    g->n--;
    o->nentries--;
    o->live_bytes -= (int64_t)e->rec_bytes;
    free(e->topic);
    free(e->meta);
    free(e);
    if (g->n == 0)
        group_free(o, g);
}

static void group_clear(struct offsets *o, struct ogroup *g)
{
    while (g->n > 1)
        entry_remove(o, g->head);
    if (g->n == 1)
        entry_remove(o, g->head);  /* frees g */
    else
        group_free(o, g);
}

/* --- transactional commits (pending until their transaction ends) ------ */

static void pending_free(struct opending *p)
{
    free(p->group);
    free(p->topic);
    free(p->meta);
    free(p);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int pending_put(struct offsets *o, const struct orec *r)
{
    for (struct opending *p = o->pending; p; p = p->next)
        if (p->pid == r->pid && p->partition == r->partition && strlen(p->group) == r->glen &&
            memcmp(p->group, r->group, r->glen) == 0 && strlen(p->topic) == r->tlen &&
            memcmp(p->topic, r->topic, r->tlen) == 0) {
            char *meta = r->mlen >= 0 ? dup_n(r->meta, (size_t)r->mlen) : NULL;
            if (r->mlen >= 0 && !meta)
                return -ENOMEM;
            free(p->meta);
            p->meta = meta;
            p->mlen = r->mlen;
            p->offset = r->offset;
            p->epoch = r->epoch;
            p->commit_ms = r->commit_ms;
            return 0;
        }
    struct opending *p = calloc(1, sizeof(*p));
    if (!p || !(p->group = dup_n(r->group, r->glen)) || !(p->topic = dup_n(r->topic, r->tlen)) ||
        (r->mlen >= 0 && !(p->meta = dup_n(r->meta, (size_t)r->mlen)))) {
        if (p)
            pending_free(p);
        return -ENOMEM;
    }
    p->pid = r->pid;
    p->partition = r->partition;
    p->offset = r->offset;
    p->epoch = r->epoch;
    p->mlen = r->mlen;
    p->commit_ms = r->commit_ms;
    p->rec_bytes = orec_size(r);
    o->live_bytes += (int64_t)p->rec_bytes;
    p->next = o->pending;
    o->pending = p;
    return 0;
}

static int pending_end(struct offsets *o, int64_t pid, bool commit)
{
    int rc = 0;
    for (struct opending **link = &o->pending; *link;) {
        struct opending *p = *link;
        if (p->pid != pid) {
            link = &p->next;
            continue;
        }
        if (commit) {
            struct orec r = {
                .type = OREC_COMMIT, .group = p->group, .glen = strlen(p->group),
                .topic = p->topic, .tlen = strlen(p->topic), .partition = p->partition,
                .offset = p->offset, .epoch = p->epoch, .commit_ms = p->commit_ms,
                .expire_ms = -1, .meta = p->meta, .mlen = p->meta ? p->mlen : -1};
            if ((rc = offsets_apply(o, &r)) < 0)
                return rc;
        }
        *link = p->next;
        o->live_bytes -= (int64_t)p->rec_bytes;
        pending_free(p);
    }
    return rc;
}

static bool pending_for(const struct offsets *o, const char *group, const char *topic,
                        int32_t partition)
{
    for (const struct opending *p = o->pending; p; p = p->next)
        if (p->partition == partition && strcmp(p->group, group) == 0 &&
            strcmp(p->topic, topic) == 0)
            return true;
    return false;
}

int offsets_pending_count(const struct offsets *o)
{
    int n = 0;
    for (const struct opending *p = o->pending; p; p = p->next)
        n++;
    return n;
}

/* Applies one record (from the log or from the turn's buffer after its
 * sync). 0 or -ENOMEM. */
int offsets_apply(struct offsets *o, const struct orec *r)
{
    if (r->type == OREC_TXN_COMMIT)
        return pending_put(o, r);
    if (r->type == OREC_TXN_END)
        return pending_end(o, r->pid, r->commit);
    struct ogroup *g = group_get(o, r->group, r->glen);
    struct oentry **link, *e;
    char topic[256];

    if (!g)
        return -ENOMEM;
    if (r->type == OREC_GROUP_DELETE) {
        group_clear(o, g);
        return 0;
    }
    memcpy(topic, r->topic, r->tlen);
    topic[r->tlen] = '\0';
    link = entry_link(o, g, topic, r->partition);
    if (r->type == OREC_DELETE) {
        if (link)
            entry_remove(o, *link);
        else if (g->n == 0)
            group_free(o, g);
        return 0;
    }
    if (link) {
        e = *link;
    } else {
        if (grow((void ***)&o->etab, &o->ecap, o->nentries, offsetof(struct oentry, hnext),
                 entry_hash_of) < 0 || !(e = calloc(1, sizeof *e)))
            goto nomem;
        if (!(e->topic = strdup(topic))) {
            free(e);
            goto nomem;
        }
        e->g = g;
        e->partition = r->partition;
        size_t b = entry_hash(g, topic, r->partition) & (o->ecap - 1);
        e->hnext = o->etab[b];
        o->etab[b] = e;
        e->gnext = g->head;
        if (g->head)
            g->head->gprev = e;
        g->head = e;
        g->n++;
        o->nentries++;
    }
    char *meta = NULL;
    if (r->mlen >= 0) {
        if (!(meta = malloc((size_t)r->mlen + 1)))
            return -ENOMEM;    /* the old value stays */
        memcpy(meta, r->meta, (size_t)r->mlen);
        meta[r->mlen] = '\0';
    }
    free(e->meta);
    e->meta = meta;
    e->mlen = r->mlen;
    e->offset = r->offset;
    e->epoch = r->epoch;
    e->commit_ms = r->commit_ms;
    e->expire_ms = r->expire_ms;
    o->live_bytes -= (int64_t)e->rec_bytes;
    e->rec_bytes = orec_size(r);
    o->live_bytes += (int64_t)e->rec_bytes;
    return 0;
nomem:
    if (g->n == 0)
        group_free(o, g);
    return -ENOMEM;
}

void offsets_map_free(struct offsets *o)
{
    while (o->pending) {
        struct opending *p = o->pending;
        o->pending = p->next;
        pending_free(p);
    }
    for (size_t i = 0; i < o->gcap; i++)
        while (o->gtab && o->gtab[i])
            group_clear(o, o->gtab[i]);
    free(o->gtab);
    free(o->etab);
    o->gtab = NULL;
    o->etab = NULL;
    o->gcap = o->ecap = 0;
}

/* Calls fn(ctx, r) with a commit record of every live entry. */
int offsets_each_live(struct offsets *o, int (*fn)(void *ctx, const struct orec *r),
                      void *ctx)
{
    for (size_t i = 0; i < o->gcap; i++)
        for (struct ogroup *g = o->gtab[i]; g; g = g->hnext)
            for (struct oentry *e = g->head; e; e = e->gnext) {
                struct orec r = {
                    .type = OREC_COMMIT, .group = g->id, .glen = strlen(g->id),
                    .topic = e->topic, .tlen = strlen(e->topic),
                    .partition = e->partition, .offset = e->offset, .epoch = e->epoch,
                    .commit_ms = e->commit_ms, .expire_ms = e->expire_ms,
                    .meta = e->meta, .mlen = e->mlen};
                int rc = fn(ctx, &r);
                if (rc < 0)
                    return rc;
            }
    for (const struct opending *p = o->pending; p; p = p->next) {
        struct orec r = {
            .type = OREC_TXN_COMMIT, .group = p->group, .glen = strlen(p->group),
            .topic = p->topic, .tlen = strlen(p->topic), .partition = p->partition,
            .offset = p->offset, .epoch = p->epoch, .commit_ms = p->commit_ms, .expire_ms = -1,
            .meta = p->meta, .mlen = p->meta ? p->mlen : -1, .pid = p->pid};
        int rc = fn(ctx, &r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* --- requests ------------------------------------------------------------ */

static void answer(struct offsets *o, struct ctl_msg *m)
{
    o->answer(o->answer_ctx, m);
}

static int hold(struct offsets *o, struct ctl_msg *m)
{
    if (o->nheld == o->heldcap) {
        int cap = o->heldcap ? o->heldcap * 2 : 64;
        struct ctl_msg **v = realloc(o->held, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        o->held = v;
        o->heldcap = cap;
    }
    o->held[o->nheld++] = m;
    return 0;
}

/* Sets error on every partition of m the shard did not fail already. */
static void fail_all(struct ctl_msg *m, int16_t error, bool only_ok)
{
    struct ctl_offsets *c = &m->u.offsets;

    for (int t = 0; t < c->ntopics; t++)
        for (int p = 0; p < c->topics[t].npartitions; p++) {
            struct ctl_offset_partition *op = &c->topics[t].partitions[p];
            if (!only_ok || op->error == 0)
                op->error = error;
        }
}

static bool partition_exists(const struct offsets *o, const char *topic, int32_t p)
{
    const struct md_live *t;

    if (!o->md)
        return true;
    t = md_store_find(o->md, topic);
    return t && t->state == MD_LIVE && p >= 0 && p < t->t.npartitions;
}

static void commit(struct offsets *o, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_offsets *c = &m->u.offsets;
    bool txn = m->op == CTL_TXN_OFFSET_COMMIT;
    int err = 0;

    if (!c->group_id || !c->group_id[0])
        err = KERR_INVALID_GROUP_ID;
    else if (o->failed)
        err = KERR_COORDINATOR_NOT_AVAILABLE;
    else if (txn && !o->txn)
        err = KERR_COORDINATOR_NOT_AVAILABLE;
    else if (txn && (err = txn_check_offsets(o->txn, c->txn_id, c->pid, c->epoch, c->group_id,
                                             c->txn_implicit)) != 0)
        ;
    /* A transactional commit of a simple consumer (generation -1, as
     * before TxnOffsetCommit v3) is not checked against the group. */
    else if (o->groups && !(txn && c->generation < 0))
        err = groups_check_commit(o->groups, c->group_id, c->member_id ? c->member_id : "",
                                  c->instance_id, c->generation);
    if (err) {
        c->error = (int16_t)err;
        fail_all(m, (int16_t)err, true);
        answer(o, m);
        return;
    }
    for (int t = 0; t < c->ntopics; t++) {
        struct ctl_offset_topic *ot = &c->topics[t];
        for (int p = 0; p < ot->npartitions; p++) {
            struct ctl_offset_partition *op = &ot->partitions[p];
            if (op->error)
                continue;
            if (!ot->name || !partition_exists(o, ot->name, op->partition)) {
                op->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (op->metadata && op->metadata_len > OFFSETS_METADATA_MAX) {
                op->error = KERR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            struct orec r = {
                .type = txn ? OREC_TXN_COMMIT : OREC_COMMIT, .group = c->group_id,
                .glen = strlen(c->group_id),
                .topic = ot->name, .tlen = strlen(ot->name), .partition = op->partition,
                .offset = op->offset, .epoch = op->leader_epoch, .commit_ms = now_ms,
                .expire_ms = c->retention_ms >= 0 && !txn ? now_ms + c->retention_ms : -1,
                .meta = op->metadata, .mlen = op->metadata ? op->metadata_len : -1,
                .pid = c->pid};
            if (r.tlen > 255 || r.glen > 65535 || offsets_buf_add(o, &r) < 0)
                op->error = KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    if (hold(o, m) < 0) {
        fail_all(m, KERR_COORDINATOR_NOT_AVAILABLE, false);
        answer(o, m);  /* its records still land: a lost ack, never a lie */
    }
}

/* The answer of a fetch with ntopics -1: every entry of the group, by
 * topic. Returns 0, or the bytes the arena would need. */
static size_t fetch_all(struct ctl_msg *m, struct ogroup *g)
{
    struct ctl_offsets *c = &m->u.offsets;
    struct ctl_arena save = m->arena;
    struct oentry **v;
    size_t need = 64, n = g ? g->n : 0, k = 0;
    int nt = 0;

    c->ntopics = 0;
    if (n == 0)
        return 0;
    if (!(v = malloc(sizeof(*v) * n)))
        return SIZE_MAX;
    for (struct oentry *e = g->head; e; e = e->gnext) {
        v[k++] = e;
        need += sizeof(struct ctl_offset_partition) + 8 + (e->mlen > 0 ? (size_t)e->mlen : 0) + 8;
    }
    /* Group by topic: a simple sort of pointers by name. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1]->topic, v[j]->topic) > 0; j--) {
            struct oentry *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(v[i - 1]->topic, v[i]->topic) != 0) {
            nt++;
            need += sizeof(struct ctl_offset_topic) + strlen(v[i]->topic) + 16;
        }
    struct ctl_offset_topic *ts = ctl_arena_alloc(&m->arena, sizeof(*ts) * (size_t)nt);
    int t = -1;
    for (size_t i = 0; ts && i < n; i++) {
        struct oentry *e = v[i];
        if (i == 0 || strcmp(v[i - 1]->topic, e->topic) != 0) {
            size_t j = i;
            while (j < n && strcmp(v[j]->topic, e->topic) == 0)
                j++;
            ts[++t].name = ctl_arena_strdup(&m->arena, e->topic, strlen(e->topic));
            ts[t].partitions = ctl_arena_alloc(&m->arena,
                                               sizeof(*ts[t].partitions) * (j - i));
            if (!ts[t].name || !ts[t].partitions)
                ts = NULL;
        }
        if (!ts)
            break;
        struct ctl_offset_partition *op = &ts[t].partitions[ts[t].npartitions++];
        *op = (struct ctl_offset_partition){
            .partition = e->partition, .offset = e->offset, .leader_epoch = e->epoch,
            .metadata_len = e->mlen < 0 ? 0 : e->mlen};
        op->metadata = ctl_arena_strdup(&m->arena, e->meta ? e->meta : "",
                                        (size_t)op->metadata_len);
        if (!op->metadata)
            ts = NULL;
    }
    free(v);
    if (!ts) {
        m->arena = save;
        return need;
    }
    c->ntopics = nt;
    c->topics = ts;
    return 0;
}

static void fetch(struct offsets *o, struct ctl_msg *m)
{
    struct ctl_offsets *c = &m->u.offsets;
    struct ogroup *g;

    if (!c->group_id || !c->group_id[0]) {
        c->error = KERR_INVALID_GROUP_ID;
        if (c->ntopics < 0)
            c->ntopics = 0;
        fail_all(m, KERR_INVALID_GROUP_ID, true);
        answer(o, m);
        return;
    }
    g = group_find(o, c->group_id);
    if (c->ntopics < 0) {
        size_t need = fetch_all(m, g);
        if (need == SIZE_MAX)
            c->error = KERR_COORDINATOR_NOT_AVAILABLE;
        else
            c->need = need;
        answer(o, m);
        return;
    }
    /* Measure the metadata first: all of it fits, or the shard asks again. */
    size_t need = 0;
    for (int t = 0; g && t < c->ntopics; t++) {
        struct ctl_offset_topic *ot = &c->topics[t];
        for (int p = 0; ot->name && p < ot->npartitions; p++) {
            struct oentry **link = entry_link(o, g, ot->name, ot->partitions[p].partition);
            if (link && (*link)->mlen > 0)
                need += (size_t)(*link)->mlen + 8;
        }
    }
    if (need + 64 > m->arena.cap - m->arena.len) {
        c->need = need + 64;   /* the metadata does not fit: ask again */
        answer(o, m);
        return;
    }
    for (int t = 0; t < c->ntopics; t++) {
        struct ctl_offset_topic *ot = &c->topics[t];
        for (int p = 0; p < ot->npartitions; p++) {
            struct ctl_offset_partition *op = &ot->partitions[p];
            struct oentry **link = g && ot->name ? entry_link(o, g, ot->name, op->partition)
                                                 : NULL;
            if (op->error)
                continue;
            op->offset = -1;
            op->leader_epoch = -1;
            op->metadata = "";
            op->metadata_len = 0;
            if (c->require_stable && ot->name &&
                pending_for(o, c->group_id, ot->name, op->partition)) {
                op->error = KERR_UNSTABLE_OFFSET_COMMIT;
                continue;
            }
            if (!link)
                continue;
            struct oentry *e = *link;
            op->offset = e->offset;
            op->leader_epoch = e->epoch;
            if (e->mlen > 0 &&
                !(op->metadata = ctl_arena_strdup(&m->arena, e->meta, (size_t)e->mlen))) {
                c->need = need + 64;   /* cannot happen: measured above */
                op->metadata = "";
                continue;
            }
            op->metadata_len = e->mlen > 0 ? e->mlen : 0;
        }
    }
    answer(o, m);
}

static void delete_offsets(struct offsets *o, struct ctl_msg *m)
{
    struct ctl_offsets *c = &m->u.offsets;
    struct ogroup *g;
    int err = 0;

    if (!c->group_id || !c->group_id[0])
        err = KERR_INVALID_GROUP_ID;
    else if (!(g = group_find(o, c->group_id)))
        err = KERR_GROUP_ID_NOT_FOUND;
    else if (o->groups && groups_has_members(o->groups, c->group_id)) {
        /* Kafka refuses per partition, for the topics the group is
         * subscribed to; we do not read subscriptions (they are the
         * protocol's bytes), so every partition of a group with members. */
        fail_all(m, KERR_GROUP_SUBSCRIBED_TO_TOPIC, true);
        answer(o, m);
        return;
    } else if (o->failed)
        err = KERR_COORDINATOR_NOT_AVAILABLE;
    if (err) {
        c->error = (int16_t)err;
        answer(o, m);
        return;
    }
    for (int t = 0; t < c->ntopics; t++) {
        struct ctl_offset_topic *ot = &c->topics[t];
        for (int p = 0; p < ot->npartitions; p++) {
            struct ctl_offset_partition *op = &ot->partitions[p];
            if (op->error)
                continue;
            if (!ot->name || !partition_exists(o, ot->name, op->partition)) {
                op->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            struct orec r = {.type = OREC_DELETE, .group = c->group_id,
                             .glen = strlen(c->group_id), .topic = ot->name,
                             .tlen = strlen(ot->name), .partition = op->partition};
            if (r.tlen > 255 || offsets_buf_add(o, &r) < 0)
                op->error = KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    if (hold(o, m) < 0) {
        c->error = KERR_COORDINATOR_NOT_AVAILABLE;
        answer(o, m);
    }
}

void offsets_request(struct offsets *o, struct ctl_msg *m, int64_t now_ms)
{
    m->u.offsets.error = 0;
    m->u.offsets.need = 0;
    switch (m->op) {
    case CTL_OFFSET_COMMIT:
    case CTL_TXN_OFFSET_COMMIT:
        commit(o, m, now_ms);
        return;
    case CTL_OFFSET_FETCH:
        fetch(o, m);
        return;
    case CTL_OFFSET_DELETE:
        delete_offsets(o, m);
        return;
    default:
        m->u.offsets.error = KERR_INVALID_REQUEST;
        answer(o, m);
        return;
    }
}

/* The turn's records are durable (ok) or not: answers what was held. */
void offsets_answer_held(struct offsets *o, bool ok)
{
    for (int i = 0; i < o->nheld; i++) {
        struct ctl_msg *m = o->held[i];
        if (!ok) {
            if (m->op == CTL_OFFSET_DELETE && m->u.offsets.error == 0)
                m->u.offsets.error = KERR_COORDINATOR_NOT_AVAILABLE;
            fail_all(m, KERR_COORDINATOR_NOT_AVAILABLE, true);
        }
        answer(o, m);
    }
    o->nheld = 0;
}

/* --- groups, retention ------------------------------------------------------ */

int offsets_delete_group(struct offsets *o, const char *group_id)
{
    bool had = group_find(o, group_id) != NULL;
    size_t len = strlen(group_id);
    struct orec r = {.type = OREC_GROUP_DELETE, .group = group_id, .glen = len};

    if (len > 65535)
        return KERR_INVALID_GROUP_ID;
    if (!had && o->buf_len == 0)
        return KERR_GROUP_ID_NOT_FOUND;
    if (o->failed || offsets_buf_add(o, &r) < 0 || offsets_flush(o) < 0)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    return had ? 0 : KERR_GROUP_ID_NOT_FOUND;
}

int offsets_list_groups(struct offsets *o, void (*fn)(void *ctx, const char *group_id),
                        void *ctx)
{
    int n = 0;

    for (size_t i = 0; i < o->gcap; i++)
        for (struct ogroup *g = o->gtab[i]; g; g = g->hnext, n++)
            fn(ctx, g->id);
    return n;
}

int offsets_each(struct offsets *o,
                 int (*fn)(void *ctx, const char *group, const char *topic,
                           int32_t partition, int64_t offset),
                 void *ctx)
{
    for (size_t i = 0; i < o->gcap; i++)
        for (struct ogroup *g = o->gtab[i]; g; g = g->hnext)
            for (struct oentry *e = g->head; e; e = e->gnext) {
                int rc = fn(ctx, g->id, e->topic, e->partition, e->offset);
                if (rc)
                    return rc;
            }
    return 0;
}

/* A topic deleted (or being deleted): its offsets go too, as in Kafka. */
static bool topic_gone(const struct offsets *o, const char *topic)
{
    const struct md_live *t;

    if (!o->md)
        return false;
    t = md_store_find(o->md, topic);
    return !t || t->state == MD_DELETING;
}

int offsets_expire(struct offsets *o, int64_t now_ms)
{
    int n = 0;

    if (o->buf_len > 0 || o->nheld > 0 || o->failed || now_ms < o->next_check_ms)
        return 0;              /* only right after a flush */
    o->next_check_ms = now_ms + o->opt.check_interval_ms;
    for (size_t i = 0; i < o->gcap; i++) {
        struct ogroup *g = o->gtab[i];
        while (g) {
            struct ogroup *gnext = g->hnext;
            bool active = o->groups && groups_has_members(o->groups, g->id);
            if (active)
                g->empty_since = now_ms;
            for (struct oentry *e = g->head, *enext; e; e = enext) {
                int64_t from = e->commit_ms > g->empty_since ? e->commit_ms : g->empty_since;
                int64_t at = e->expire_ms >= 0 ? e->expire_ms : from + o->opt.retention_ms;
                enext = e->gnext;
                if (!topic_gone(o, e->topic) &&
                    (active || (o->opt.retention_ms < 0 && e->expire_ms < 0) || now_ms < at))
                    continue;
                struct orec r = {.type = OREC_DELETE, .group = g->id,
                                 .glen = strlen(g->id), .topic = e->topic,
                                 .tlen = strlen(e->topic), .partition = e->partition};
                if (offsets_buf_add(o, &r) < 0)
                    return n;
                n++;
                bool last = g->n == 1;
                entry_remove(o, e);
                if (last)
                    break;     /* g is freed */
            }
            g = gnext;
        }
    }
    return n;
}

/* --- for tests -------------------------------------------------------------- */

int offsets_get(struct offsets *o, const char *group_id, const char *topic,
                int32_t partition, struct offsets_entry *out)
{
    struct ogroup *g = group_find(o, group_id);
    struct oentry **link = g ? entry_link(o, g, topic, partition) : NULL;

    if (!link)
        return -ENOENT;
    *out = (struct offsets_entry){
        .offset = (*link)->offset, .leader_epoch = (*link)->epoch,
        .metadata = (*link)->meta, .commit_ms = (*link)->commit_ms,
        .expire_ms = (*link)->expire_ms};
    return 0;
}

size_t offsets_count(const struct offsets *o)
{
    return o->nentries;
}

int offsets_held(const struct offsets *o)
{
    return o->nheld;
}

int offsets_txn_end(struct offsets *o, int64_t pid, bool commit)
{
    /* Written even when nothing of pid's is pending in the map: commits of
     * this very turn are applied only after the flush, before this. */
    if (o->failed)
        return -EIO;
    struct orec r = {.type = OREC_TXN_END, .group = "", .glen = 0, .pid = pid, .commit = commit};
    return offsets_buf_add(o, &r);
}

void offsets_set_txn(struct offsets *o, struct txn_coord *t)
{
    o->txn = t;
}

void offsets_set_groups(struct offsets *o, struct groups *g)
{
    o->groups = g;
}

void offsets_set_metadata(struct offsets *o, const struct md_store *md)
{
    o->md = md;
}
