/* capture.c - raw feed capture into records (see capture.h).
 *
 * A partition (struct capture_part) has a few batch buffers, each in one
 * of four states:
 *   FREE       unused
 *   BUILDING   records being added (the main batch, or the held one)
 *   READY      finished, in the FIFO of batches to append, in order
 *   APPENDED   handed to the log, which keeps a pointer until written
 * Records go into the main batch, except while a gap waits for its fill:
 * then everything but the fills goes into the held batch, appended after
 * the main one once the gap is closed or the hold has timed out. The
 * FIFO keeps the order of appends, so the log has the fill first. */
#include "dataplane/dpdk/capture.h"
#include "dataplane/dpdk/moldudp64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch.h"
#include "storage/batch_build.h"

/* A capture partition's buffers (made once, when it is first seen):
 * 32 x 256 KiB hold ~80,000 datagrams of a MoldUDP64 feed, ~40 ms of a
 * burst at 2M datagrams/s while a segment write is held up - a feed
 * cannot be asked to slow down, so what does not fit is dropped (and
 * counted). 8 buffers (~11 ms) dropped 525 of 30,000 datagrams in one
 * fresh-clone CI run of bench/run's capture row. */
#define CAPTURE_BUFS 32
#define CAPTURE_BUF_SIZE (256u << 10)
#define HEADERS_MAX 8

enum buf_state { BUF_FREE, BUF_BUILDING, BUF_READY, BUF_APPENDED };

struct cbuf {
    uint8_t *mem;
    enum buf_state state;
    struct batch_builder b;
    size_t len;
    int64_t last_offset;
};

struct csession {
    bool used;
    char id[MOLD_SESSION_LEN];
    int64_t last_ns;
    struct seq_session s;
};

struct capture_part {
    struct capture_part *next;
    void *cookie;
    struct log *log;
    struct capture_config cfg;
    uint32_t max_batch;
    struct cbuf bufs[CAPTURE_BUFS];
    int main_buf, held_buf;          /* BUILDING buffers, -1: none */
    int ready[CAPTURE_BUFS];         /* READY buffers, in append order */
    int nready;
    bool holding;
    int hold_session;
    int64_t hold_deadline_ns;
    struct csession sessions[CAPTURE_SESSIONS_MAX];
};

struct capture {
    struct capture_ops ops;
    void *ctx;
    struct capture_part *parts;
    struct capture_stats stats;
};

int capture_create(struct capture **out, const struct capture_ops *ops, void *ctx)
{
    struct capture *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ops = *ops;
    c->ctx = ctx;
    *out = c;
    return 0;
}

static void part_free(struct capture_part *p)
{
    for (int i = 0; i < CAPTURE_BUFS; i++)
        free(p->bufs[i].mem);
    free(p);
}

void capture_destroy(struct capture *c)
{
    if (!c)
        return;
    while (c->parts) {
        struct capture_part *p = c->parts;
        c->parts = p->next;
        part_free(p);
    }
    free(c);
}

struct capture_part *capture_part_get(struct capture *c, void *cookie, struct log *log,
                                      const struct capture_config *cfg, uint32_t max_batch)
{
    struct capture_part *p;
    for (p = c->parts; p; p = p->next)
        if (p->cookie == cookie)
            break;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return NULL;
        for (int i = 0; i < CAPTURE_BUFS; i++) {
            if (!(p->bufs[i].mem = malloc(CAPTURE_BUF_SIZE))) {
                part_free(p);
                return NULL;
            }
        }
        p->cookie = cookie;
        p->main_buf = p->held_buf = -1;
        p->next = c->parts;
        c->parts = p;
    }
    p->log = log;
    p->cfg = *cfg;
    p->max_batch = max_batch < CAPTURE_BUF_SIZE ? max_batch : CAPTURE_BUF_SIZE;
    return p;
}

void capture_part_close(struct capture *c, void *cookie)
{
    for (struct capture_part **pp = &c->parts; *pp; pp = &(*pp)->next) {
        if ((*pp)->cookie == cookie) {
            struct capture_part *p = *pp;
            *pp = p->next;
            part_free(p);
            return;
        }
    }
}

/* --- batches ---------------------------------------------------------------- */

static int take_buf(struct capture_part *p, int64_t ts_ms)
{
    for (int i = 0; i < CAPTURE_BUFS; i++) {
        struct cbuf *b = &p->bufs[i];
        if (b->state == BUF_FREE) {
            b->state = BUF_BUILDING;
            batch_builder_init(&b->b, b->mem, p->max_batch, ts_ms);
            return i;
        }
    }
    return -1;
}

/* Finishes the BUILDING buffer *slot and queues it for appending. */
static void finish(struct capture_part *p, int *slot)
{
    if (*slot < 0)
        return;
    struct cbuf *b = &p->bufs[*slot];
    b->len = batch_builder_finish(&b->b, 0);
    if (b->len == 0) {
        b->state = BUF_FREE;
    } else {
        b->state = BUF_READY;
        p->ready[p->nready++] = *slot;
    }
    *slot = -1;
}

/* The gap is closed, or waited long enough: the fills first, then what
 * waited behind them. */
static void release_hold(struct capture_part *p)
{
    finish(p, &p->main_buf);
    finish(p, &p->held_buf);
    p->holding = false;
}

struct record {
    int64_t ts_ms;
    char key[24];
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    struct record_header h[HEADERS_MAX];
    int nh;
    uint8_t vals[HEADERS_MAX][16];
};

static void header(struct record *r, const char *name, const void *v, size_t len)
{
    struct record_header *h = &r->h[r->nh];
    memcpy(r->vals[r->nh], v, len);
    *h = (struct record_header){ name, strlen(name), r->vals[r->nh], len };
    r->nh++;
}

static void header64(struct record *r, const char *name, uint64_t v)
{
    uint8_t b[8];
    be64_store(b, v);
    header(r, name, b, 8);
}

/* Adds r to the held batch or the main one; false when no buffer is free
 * or the record fits no batch. */
static bool add(struct capture_part *p, const struct record *r, bool held)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int *slot = held ? &p->held_buf : &p->main_buf;
        if (*slot < 0 && (*slot = take_buf(p, r->ts_ms)) < 0)
            return false;
        struct cbuf *b = &p->bufs[*slot];
        int rc = batch_builder_add(&b->b, r->ts_ms, r->key, r->key_len, r->value, r->value_len,
                                   r->h, r->nh);
        if (rc == 0)
            return true;
        if (rc != -ENOSPC || b->b.count == 0)
            return false;
        if (held) {
            release_hold(p); /* no room to wait any longer */
            held = false;
        } else {
            finish(p, slot);
        }
    }
    return false;
}

/* --- sequences -------------------------------------------------------------- */

static int session_find(struct capture_part *p, const char *id, int64_t now_ns)
{
    int lru = 0;
    for (int i = 0; i < CAPTURE_SESSIONS_MAX; i++) {
        struct csession *s = &p->sessions[i];
        if (s->used && memcmp(s->id, id, MOLD_SESSION_LEN) == 0)
            return i;
        if (!s->used || (p->sessions[lru].used && s->last_ns < p->sessions[lru].last_ns))
            lru = i;
    }
    struct csession *s = &p->sessions[lru];
    s->used = true;
    memcpy(s->id, id, MOLD_SESSION_LEN);
    s->last_ns = now_ns;
    seq_session_init(&s->s);
    return lru;
}

static uint64_t field_value(const struct capture_config *cfg, const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < cfg->seq_width; i++) {
        int k = cfg->seq_little_endian ? cfg->seq_width - 1 - i : i;
        v = v << 8 | p[k];
    }
    return v;
}

static void request_fill(struct capture *c, struct capture_part *p, const char *session,
                         const struct seq_range *gap)
{
    uint8_t req[MOLD_HEADER_LEN];
    uint64_t n = gap->count < 0xFFFE ? gap->count : 0xFFFE;
    mold_put_request(req, session, gap->from, (uint16_t)n);
    c->ops.send(c->ctx, p->cfg.retransmit_ip, p->cfg.retransmit_port, p->cfg.port, req,
                sizeof(req));
    c->stats.retransmit_requests++;
}

/* Reads the datagram's sequence, tracks it and adds its headers; true
 * when the record belongs behind a hold. */
static bool sequence(struct capture *c, struct capture_part *p, const uint8_t *d, size_t len,
                     int64_t now_ns, struct record *r)
{
    static const char no_session[MOLD_SESSION_LEN];
    const char *session = no_session;
    uint64_t seq, count = 1;
    struct mold_header h;
    if (p->cfg.seq == CAPTURE_SEQ_MOLDUDP64) {
        int rc = mold_parse(d, len, &h);
        if (rc == -EINVAL) {
            c->stats.unsequenced++;
            return false;
        }
        if (rc < 0) {
            c->stats.malformed++;
            header(r, "sluice.malformed", "", 0);
        }
        session = h.session;
        seq = h.seq;
        count = h.messages;
        header(r, "sluice.session", h.session, MOLD_SESSION_LEN);
    } else {
        if ((size_t)p->cfg.seq_offset + p->cfg.seq_width > len) {
            c->stats.unsequenced++;
            return false;
        }
        seq = field_value(&p->cfg, d + p->cfg.seq_offset);
    }
    header64(r, "sluice.seq", seq);
    if (p->cfg.seq == CAPTURE_SEQ_MOLDUDP64) {
        uint8_t b[2];
        be16_store(b, (uint16_t)count);
        header(r, "sluice.count", b, 2);
    }
    int si = session_find(p, session, now_ns);
    struct csession *cs = &p->sessions[si];
    cs->last_ns = now_ns;
    struct seq_result res;
    seq_track(&cs->s, seq, count, &res);
    c->stats.messages += count;
    if (res.verdict == SEQ_GAP) {
        uint8_t g[16];
        be64_store(g, res.gap.from);
        be64_store(g + 8, res.gap.count);
        header(r, "sluice.gap", g, 16);
        c->stats.gaps++;
        c->stats.gap_messages += res.gap.count;
        if (p->cfg.retransmit_ip && p->cfg.seq == CAPTURE_SEQ_MOLDUDP64) {
            request_fill(c, p, session, &res.gap);
            if (p->cfg.hold_ms > 0 && !p->holding) {
                p->holding = true;
                p->hold_session = si;
                p->hold_deadline_ns = now_ns + p->cfg.hold_ms * 1000000;
                c->stats.holds++;
            }
        }
    }
    if (res.dup) {
        header64(r, "sluice.dup", res.dup);
        c->stats.duplicates++;
        c->stats.dup_messages += res.dup;
    }
    if (res.fill) {
        header64(r, "sluice.fill", res.fill);
        c->stats.fills++;
        c->stats.fill_messages += res.fill;
    }
    return p->holding && res.verdict != SEQ_FILL;
}

void capture_on_datagram(struct capture *c, struct capture_part *p, const uint8_t *payload,
                         size_t len, uint32_t src_ip, uint16_t src_port, int64_t rx_ns,
                         int64_t now_ns)
{
    struct record r;
    r.nh = 0;
    r.ts_ms = rx_ns / 1000000;
    r.value = payload;
    r.value_len = len;
    r.key_len = (size_t)snprintf(r.key, sizeof(r.key), "%u.%u.%u.%u:%u", src_ip >> 24,
                                 (src_ip >> 16) & 255, (src_ip >> 8) & 255, src_ip & 255,
                                 src_port);
    header64(&r, "sluice.ts.ns", (uint64_t)rx_ns);
    bool held = p->cfg.seq != CAPTURE_SEQ_NONE && sequence(c, p, payload, len, now_ns, &r);
    c->stats.datagrams++;
    c->stats.bytes += len;
    if (!add(p, &r, held)) {
        c->stats.dropped++;
        return;
    }
    if (p->holding && p->sessions[p->hold_session].s.nopen == 0)
        release_hold(p); /* the fill is in: in order from here */
    c->ops.mark_dirty(c->ctx, p->cookie);
}

/* --- appending and freeing -------------------------------------------------- */

static int append_ready(struct capture *c, struct capture_part *p, int64_t now_ms)
{
    int done = 0;
    while (done < p->nready) {
        struct cbuf *b = &p->bufs[p->ready[done]];
        struct log_append_result res;
        int rc = log_append(p->log, b->mem, b->len, now_ms, &res);
        if (rc == -EAGAIN)
            break; /* the log's queue is full or it is rolling: next turn */
        if (rc == 0) {
            b->state = BUF_APPENDED;
            b->last_offset = res.last_offset;
            c->stats.batches++;
        } else {
            b->state = BUF_FREE; /* refused (or the log failed): lost */
            c->stats.dropped += (uint64_t)b->b.count;
            fprintf(stderr, "capture: a batch of %d record(s) was refused: %d\n", b->b.count, rc);
        }
        done++;
    }
    memmove(p->ready, p->ready + done, (size_t)(p->nready - done) * sizeof(p->ready[0]));
    p->nready -= done;
    if (done || p->nready)
        c->ops.mark_dirty(c->ctx, p->cookie);
    return done;
}

/* A batch of p's is appended and not yet written, or waits to be. */
static bool writing(const struct capture_part *p)
{
    for (int i = 0; i < CAPTURE_BUFS; i++)
        if (p->bufs[i].state == BUF_APPENDED || p->bufs[i].state == BUF_READY)
            return true;
    return false;
}

int capture_flush(struct capture *c, int64_t now_ms, int64_t now_ns)
{
    int work = 0;
    for (struct capture_part *p = c->parts; p; p = p->next) {
        if (p->holding && now_ns >= p->hold_deadline_ns) {
            c->stats.hold_timeouts++;
            release_hold(p);
        }
        /* While a batch is still being written (the log's write is on the
         * shard's ring, tens of microseconds and more), the next one keeps
         * filling instead of being finished every turn: a spinning shard's
         * turn is microseconds, and the buffers would run out under a
         * burst (a pcap replay dropped half of its datagrams). The log's
         * own group commit, one level up. */
        if (!writing(p))
            finish(p, &p->main_buf); /* while holding, it has the fills */
        if (p->nready)
            work += append_ready(c, p, now_ms);
    }
    return work;
}

int capture_after_flush(struct capture *c)
{
    int work = 0;
    for (struct capture_part *p = c->parts; p; p = p->next) {
        int64_t written = log_written_end(p->log);
        bool failed = log_error(p->log) != 0;
        for (int i = 0; i < CAPTURE_BUFS; i++) {
            struct cbuf *b = &p->bufs[i];
            if (b->state == BUF_APPENDED && (failed || b->last_offset < written)) {
                b->state = BUF_FREE;
                work++;
            }
        }
    }
    return work;
}

bool capture_busy(const struct capture *c)
{
    for (const struct capture_part *p = c->parts; p; p = p->next)
        for (int i = 0; i < CAPTURE_BUFS; i++)
            if (p->bufs[i].state == BUF_READY || p->bufs[i].state == BUF_APPENDED)
                return true;
    return false;
}

const struct capture_stats *capture_stats(const struct capture *c)
{
    return &c->stats;
}
