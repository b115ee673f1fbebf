/* txn_file.c - the transaction log, DATA/__sluice/transactions/txn.log:
 * Kafka's __transaction_state, as records of our own in a recfile
 * (control/recfile.h: framing, replay, torn tails, rewrites).
 *
 * Records (payload, little-endian):
 *   1 pids    u8 type  i64 end            ids below end were handed out
 *                                          (or may be): never reused
 *   2 state   u8 type  u16 idlen id  i64 pid  i64 prev_pid  i64 next_pid
 *             i16 epoch  i16 last_epoch  i32 timeout_ms  u8 state
 *             u8 flags (1: transactions v2)  i64 start_ms  i64 update_ms
 *             u32 nparts { u8 tlen topic  i32 partition }
 *             u32 ngroups { u16 glen group }
 *             the whole state of one transactional id: the last wins
 *   3 forget  u8 type  u16 idlen id        the id expired
 *
 * Invariants:
 *   1. A producer id is handed out only below the end of a durable pids
 *      record (txn.c keeps one block ahead), so a crash never hands out an
 *      id twice.
 *   2. Every transition of a transactional id is a state record, durable
 *      before the request that caused it is answered; replaying the log
 *      gives the same states (markers in flight excepted: PrepareCommit /
 *      PrepareAbort are resumed at start).
 *   3. A rewrite keeps the pids record and one state record per live id. */
#include "control/txn_private.h"

#include <errno.h>
#include <string.h>

#define TXN_MAGIC "SLUICETX"
#define TXN_COMPACT_MIN (1 << 20)
#define TXN_COMPACT_RATIO 4

size_t txn_state_record_size(const struct txn *t)
{
    size_t n = 1 + 2 + strlen(t->id) + 8 * 3 + 2 * 2 + 4 + 1 + 1 + 8 * 2 + 4 + 4;
    for (int i = 0; i < t->nparts; i++)
        n += 1 + strlen(t->parts[i].topic) + 4;
    for (int i = 0; i < t->ngroups; i++)
        n += 2 + strlen(t->groups[i]);
    return n;
}

static uint8_t *put_str(uint8_t *p, const char *s, int lenbytes)
{
    size_t n = strlen(s);
    p = recfile_put(p, n, lenbytes);
    memcpy(p, s, n);
    return p + n;
}

static int put_state(struct recfile *f, const struct txn *t)
{
    if (strlen(t->id) > 0xffff)
        return -EINVAL;
    uint8_t *p = recfile_begin(f, txn_state_record_size(t));
    if (!p)
        return -ENOMEM;
    p = recfile_put(p, TXN_REC_STATE, 1);
    p = put_str(p, t->id, 2);
    p = recfile_put(p, (uint64_t)t->pid, 8);
    p = recfile_put(p, (uint64_t)t->prev_pid, 8);
    p = recfile_put(p, (uint64_t)t->next_pid, 8);
    p = recfile_put(p, (uint16_t)t->epoch, 2);
    p = recfile_put(p, (uint16_t)t->last_epoch, 2);
    p = recfile_put(p, (uint32_t)t->timeout_ms, 4);
    p = recfile_put(p, t->state, 1);
    p = recfile_put(p, t->tv2 ? 1 : 0, 1);
    p = recfile_put(p, (uint64_t)t->start_ms, 8);
    p = recfile_put(p, (uint64_t)t->update_ms, 8);
    p = recfile_put(p, (uint32_t)t->nparts, 4);
    for (int i = 0; i < t->nparts; i++) {
        p = put_str(p, t->parts[i].topic, 1);
        p = recfile_put(p, (uint32_t)t->parts[i].partition, 4);
    }
    p = recfile_put(p, (uint32_t)t->ngroups, 4);
    for (int i = 0; i < t->ngroups; i++)
        p = put_str(p, t->groups[i], 2);
    recfile_end(f);
    return 0;
}

int txn_file_put_state(struct txn_coord *c, const struct txn *t)
{
    return put_state(&c->file, t);
}

static int put_pids(struct recfile *f, int64_t end)
{
    uint8_t *p = recfile_begin(f, 9);
    if (!p)
        return -ENOMEM;
    recfile_put(recfile_put(p, TXN_REC_PIDS, 1), (uint64_t)end, 8);
    recfile_end(f);
    return 0;
}

int txn_file_put_pids(struct txn_coord *c, int64_t end)
{
    return put_pids(&c->file, end);
}

int txn_file_put_forget(struct txn_coord *c, const char *id)
{
    size_t n = strlen(id);
    if (n > 0xffff)
        return -EINVAL;
    uint8_t *p = recfile_begin(&c->file, 3 + n);
    if (!p)
        return -ENOMEM;
    put_str(recfile_put(p, TXN_REC_FORGET, 1), id, 2);
    recfile_end(&c->file);
    return 0;
}

/* ---- replay ---- */

struct rd {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t rd_int(struct rd *r, int n)
{
    if (r->bad || r->end - r->p < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = recfile_get(r->p, n);
    r->p += n;
    return v;
}

/* A length-prefixed string: a view, *len bytes. */
static const char *rd_str(struct rd *r, int lenbytes, size_t *len)
{
    *len = (size_t)rd_int(r, lenbytes);
    if (r->bad || (size_t)(r->end - r->p) < *len) {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += *len;
    return s;
}

static int apply_state(struct txn_coord *c, struct rd *r)
{
    size_t idlen, len;
    const char *id = rd_str(r, 2, &idlen);
    if (r->bad || idlen == 0)
        return 0; /* a record that does not parse changes nothing */
    struct txn tmp = { 0 };
    tmp.pid = (int64_t)rd_int(r, 8);
    tmp.prev_pid = (int64_t)rd_int(r, 8);
    tmp.next_pid = (int64_t)rd_int(r, 8);
    tmp.epoch = (int16_t)rd_int(r, 2);
    tmp.last_epoch = (int16_t)rd_int(r, 2);
    tmp.timeout_ms = (int32_t)rd_int(r, 4);
    tmp.state = (uint8_t)rd_int(r, 1);
    tmp.tv2 = rd_int(r, 1) & 1;
    tmp.start_ms = (int64_t)rd_int(r, 8);
    tmp.update_ms = (int64_t)rd_int(r, 8);
    if (r->bad || tmp.state >= TXN_NSTATES)
        return 0;
    struct txn *t = txn_get(c, id, idlen);
    if (!t)
        return -ENOMEM;
    txn_clear_members(t);
    t->pid = tmp.pid;
    t->prev_pid = tmp.prev_pid;
    t->next_pid = tmp.next_pid;
    t->epoch = tmp.epoch;
    t->last_epoch = tmp.last_epoch;
    t->timeout_ms = tmp.timeout_ms;
    t->state = tmp.state;
    t->tv2 = tmp.tv2;
    t->start_ms = tmp.start_ms;
    t->update_ms = tmp.update_ms;
    uint32_t n = (uint32_t)rd_int(r, 4);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        const char *topic = rd_str(r, 1, &len);
        int32_t part = (int32_t)rd_int(r, 4);
        if (!r->bad && txn_add_part(t, topic, len, part) < 0)
            return -ENOMEM;
    }
    n = (uint32_t)rd_int(r, 4);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        const char *g = rd_str(r, 2, &len);
        if (!r->bad && txn_add_group(t, g, len) < 0)
            return -ENOMEM;
    }
    if (t->pid >= c->pid_end) /* a log from before its pids record: keep ids unique */
        c->pid_end = c->next_pid = t->pid + 1;
    return 0;
}

int txn_file_apply(void *ctx, const uint8_t *p, size_t len)
{
    struct txn_coord *c = ctx;
    struct rd r = { p + 1, p + len, false };
    size_t idlen;
    c->live_bytes += (int64_t)(len + RECFILE_FRAME); /* an estimate, corrected by compaction */
    switch (p[0]) {
    case TXN_REC_PIDS: {
        int64_t end = (int64_t)rd_int(&r, 8);
        if (!r.bad && end > c->pid_end)
            c->pid_end = c->next_pid = c->pid_end_pending = end;
        return 0;
    }
    case TXN_REC_STATE:
        return apply_state(c, &r);
    case TXN_REC_FORGET: {
        const char *id = rd_str(&r, 2, &idlen);
        if (!r.bad) {
            char buf[0x10000];
            memcpy(buf, id, idlen);
            buf[idlen] = '\0';
            struct txn *t = txn_find(c, buf);
            if (t)
                txn_forget(c, t);
        }
        return 0;
    }
    default:
        return 0; /* a record type from a newer sluice: ignored */
    }
}

/* ---- compaction ---- */

static int fill_live(void *ctx, struct recfile *out)
{
    struct txn_coord *c = ctx;
    int rc = put_pids(out, c->pid_end);
    for (size_t i = 0; rc == 0 && i < c->cap; i++)
        for (struct txn *t = c->tab[i]; rc == 0 && t; t = t->hnext)
            rc = put_state(out, t);
    return rc;
}

int txn_file_compact(struct txn_coord *c)
{
    int64_t live = RECFILE_HEADER + RECFILE_FRAME + 9;
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i]; t; t = t->hnext)
            live += RECFILE_FRAME + (int64_t)txn_state_record_size(t);
    if (c->file.file_bytes < TXN_COMPACT_MIN || c->file.file_bytes < TXN_COMPACT_RATIO * live)
        return 0;
    int rc = recfile_rewrite(&c->file, fill_live, c);
    if (rc == 0)
        c->live_bytes = live;
    return rc;
}
