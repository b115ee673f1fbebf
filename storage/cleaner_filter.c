/* cleaner_filter.c - what survives compaction in one batch, and the keys
 * a batch contributes to the offset map (see cleaner.h).
 *
 * Kafka's rules (MemoryRecords.filterTo and Cleaner.shouldRetainRecord):
 *   - a record survives when it is the latest for its key (its offset is
 *     at least the map's offset for the key; a key absent from the map is
 *     not superseded); a record without a key never survives;
 *   - a tombstone (null value) survives until its batch's delete horizon
 *     (KIP-534): the first clean that keeps it stamps the batch with
 *     horizon = now + delete.retention.ms in baseTimestamp (attribute bit
 *     6), record timestamp deltas re-based so record timestamps stay; a
 *     later clean past the horizon drops it;
 *   - data of an aborted transaction goes whole; a transaction marker is
 *     kept while data of its transaction is left, then until its delete
 *     horizon (stamped as for tombstones), then it goes (cleaner_txn.h);
 *   - a batch left without records (or that had none) disappears, unless
 *     it is its producer's last batch: then an empty batch (header only,
 *     codec none) keeps the producer's id, epoch and last sequence;
 *   - a rebuilt batch keeps its base offset and last offset delta (the
 *     survivors keep their offset deltas), producer id, epoch, base
 *     sequence, partition leader epoch, transactional bit and timestamp
 *     type; it is compressed again with its own codec (and snappy framing)
 *     and gets a new CRC.
 * A batch is copied unchanged whenever nothing in it changes.
 *
 * Doing it fast (the map is bigger than the caches, so a lookup is a
 * memory miss, and decompressing costs more than reading): the map pass
 * leaves live bits (live_bits.h) that decide most dirty batches without
 * decompressing them (all gone, or all kept); the rest are decided a run
 * of records at a time, their map slots prefetched together; survivors
 * are copied in spans of consecutive records; nothing is compressed
 * again unless a record went or a horizon was stamped. */
#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/cleaner.h"
#include "storage/crc32c.h"
#include "storage/kerr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void clean_scratch_free(struct clean_scratch *s)
{
    codec_buf_free(&s->raw);
    codec_buf_free(&s->kept);
    codec_buf_free(&s->keep);
}

static int append(struct codec_buf *out, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = codec_buf_reserve(out, n);
    if (rc < 0)
        return rc;
    memcpy(out->data + out->len, p, n);
    out->len += n;
    return 0;
}

/* The records section of batch b, decompressed if needed. */
static int batch_records(const uint8_t *b, size_t len, struct clean_scratch *s,
                         const uint8_t **recs, size_t *rlen, enum codec_framing *framing)
{
    int codec = be16_load(b + BATCH_OFF_ATTRIBUTES) & BATCH_ATTR_CODEC_MASK;
    *framing = CODEC_FRAMING_DEFAULT;
    if (codec == BATCH_CODEC_NONE) {
        *recs = b + BATCH_HEADER_SIZE;
        *rlen = len - BATCH_HEADER_SIZE;
        return 0;
    }
    s->raw.len = 0;
    int rc = batch_codec_decompress(codec, b + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE,
                                    &s->raw, CLEAN_MAX_BATCH, framing);
    if (rc < 0)
        return rc == -ENOMEM ? rc : -EBADMSG;
    static const uint8_t none[1];
    *recs = s->raw.data ? s->raw.data : none;
    *rlen = s->raw.len;
    return 0;
}

/* A record's offset; wrapping, so garbage deltas are not undefined. */
static int64_t record_offset(const struct batch_header *h, const struct record_view *r)
{
    return (int64_t)((uint64_t)h->base_offset + (uint64_t)(int64_t)r->offset_delta);
}

int clean_check_keys(const uint8_t *rs, size_t len, struct codec_buf *scratch)
{
    struct clean_scratch s = { .raw = *scratch };
    int err = KERR_NONE;
    for (size_t off = 0; off < len && err == KERR_NONE;) {
        struct batch_header h;
        const uint8_t *p;
        size_t rlen;
        enum codec_framing framing;
        batch_header_decode(rs + off, &h);
        if (!(h.attributes & BATCH_ATTR_CONTROL)) {
            if (batch_records(rs + off, batch_size(&h), &s, &p, &rlen, &framing) < 0) {
                err = KERR_INVALID_RECORD; /* cannot be read: cannot be compacted */
                break;
            }
            const uint8_t *end = p + rlen;
            for (int32_t i = 0; i < h.records_count; i++) {
                struct record_view r;
                if (batch_record_next(&p, end, &r) < 0 || !r.key) {
                    err = KERR_INVALID_RECORD;
                    break;
                }
            }
        }
        off += batch_size(&h);
    }
    *scratch = s.raw;
    return err;
}

/* ---- producer ids ---- */

static size_t pid_slot(const struct pid_table *t, int64_t pid)
{
    uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (t->cap - 1);
}

static int pid_table_grow(struct pid_table *t)
{
    struct pid_table n = { .cap = t->cap ? t->cap * 2 : 64 };
    n.pids = malloc(n.cap * sizeof(*n.pids));
    n.last = malloc(n.cap * sizeof(*n.last));
    if (!n.pids || !n.last) {
        free(n.pids);
        free(n.last);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n.cap; i++)
        n.pids[i] = -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->pids[i] >= 0)
            pid_table_note(&n, t->pids[i], t->last[i]);
    pid_table_free(t);
    *t = n;
    return 0;
}

int pid_table_note(struct pid_table *t, int64_t pid, int64_t last_offset)
{
    if (pid < 0)
        return 0;
    if (t->n * 2 >= t->cap) {
        int rc = pid_table_grow(t);
        if (rc < 0)
            return rc;
    }
    size_t i = pid_slot(t, pid);
    while (t->pids[i] >= 0 && t->pids[i] != pid)
        i = (i + 1) & (t->cap - 1);
    if (t->pids[i] < 0) {
        t->pids[i] = pid;
        t->last[i] = last_offset;
        t->n++;
    } else if (last_offset > t->last[i]) {
        t->last[i] = last_offset;
    }
    return 0;
}

int64_t pid_table_last(const struct pid_table *t, int64_t pid)
{
    if (pid < 0 || t->cap == 0)
        return -1;
    for (size_t i = pid_slot(t, pid); t->pids[i] >= 0; i = (i + 1) & (t->cap - 1))
        if (t->pids[i] == pid)
            return t->last[i];
    return -1;
}

void pid_table_free(struct pid_table *t)
{
    free(t->pids);
    free(t->last);
    memset(t, 0, sizeof(*t));
}

/* ---- the records of a batch, a run at a time ---- */

/* Records are taken RECORD_RUN at a time: parsed, their keys hashed and
 * their map slots prefetched, then looked up, so that the map's memory
 * misses overlap (see offset_map_prefetch). 16 measured a little faster
 * than 8, 32 or 64 on this machine. */
#define RECORD_RUN 16

/* Walks a batch's records, checking what both passes rely on: each
 * frames, and offsets rise strictly within [base, last]. */
struct record_walk {
    const struct batch_header *h;
    const uint8_t *p, *end;
    int32_t left;
    int64_t prev;
};

#define RECORD_MIN_SIZE 7  /* length, attributes, 2 deltas, key, value, header count */

/* -EBADMSG when the record count cannot be right: more records than
 * offsets in the batch or than its bytes can hold (so a count is safe to
 * size a buffer by). */
static int walk_init(struct record_walk *w, const struct batch_header *h, const uint8_t *recs,
                     size_t rlen)
{
    *w = (struct record_walk){ .h = h, .p = recs, .end = recs + rlen, .left = h->records_count,
                               .prev = h->base_offset - 1 }; /* offsets_sane: no overflow */
    if (h->records_count > (int64_t)h->last_offset_delta + 1 ||
        (size_t)h->records_count > rlen / RECORD_MIN_SIZE)
        return -EBADMSG;
    return 0;
}

/* 1 with the next record in r, 0 at the end, -EBADMSG for a batch that
 * does not read. */
static int walk_next(struct record_walk *w, struct record_view *r, int64_t *offset)
{
    if (w->left <= 0)
        return w->p == w->end && w->left == 0 ? 0 : -EBADMSG;
    if (batch_record_next(&w->p, w->end, r) < 0)
        return -EBADMSG;
    int64_t off = record_offset(w->h, r);
    if (off <= w->prev || off > batch_last_offset(w->h))
        return -EBADMSG;
    w->prev = *offset = off;
    w->left--;
    return 1;
}

/* Offsets a batch can have: base >= 0, and base + lastOffsetDelta does
 * not overflow (a header that says otherwise is unreadable). */
static bool offsets_sane(const struct batch_header *h)
{
    return h->base_offset >= 0 && h->last_offset_delta >= 0 && h->records_count >= 0 &&
           h->base_offset <= INT64_MAX - h->last_offset_delta;
}

/* ---- the offset map ---- */

struct pending_put {
    struct offset_key key;
    int64_t offset;
    bool tombstone;
};

static int put_run(struct offset_map *map, struct live_bits *live, const struct pending_put *q,
                   int n)
{
    for (int i = 0; i < n; i++) {
        int64_t superseded;
        int rc = offset_map_put_key(map, q[i].key, q[i].offset, &superseded);
        if (rc < 0)
            return rc;
        if (live) {
            live_bits_set(live, q[i].offset, q[i].tombstone);
            if (superseded >= 0)
                live_bits_clear(live, superseded);
        }
    }
    return 0;
}

int clean_map_batch(const uint8_t *b, size_t len, struct offset_map *map, struct live_bits *live,
                    int64_t from, struct clean_scratch *s)
{
    struct batch_header h;
    const uint8_t *recs;
    size_t rlen;
    enum codec_framing framing;
    batch_header_decode(b, &h);
    if (h.attributes & BATCH_ATTR_CONTROL)
        return 0;
    if (!offsets_sane(&h))
        return -EBADMSG;
    int rc = batch_records(b, len, s, &recs, &rlen, &framing);
    if (rc < 0)
        return rc;
    struct record_walk w;
    struct pending_put q[RECORD_RUN];
    struct record_view r;
    int64_t off;
    int n = 0;
    if ((rc = walk_init(&w, &h, recs, rlen)) < 0)
        return rc;
    while ((rc = walk_next(&w, &r, &off)) > 0) {
        if (!r.key || off < from)
            continue;
        q[n] = (struct pending_put){ offset_map_hash(r.key, (size_t)r.key_len), off, !r.value };
        offset_map_prefetch(map, q[n].key);
        if (++n == RECORD_RUN) {
            if ((rc = put_run(map, live, q, n)) < 0)
                return rc;
            n = 0;
        }
    }
    if (rc == 0)
        rc = put_run(map, live, q, n);
    if (rc == 0 && live)
        live_bits_reach(live, batch_last_offset(&h));
    return rc;
}

/* ---- the filter ---- */

struct verdict {
    int32_t kept;
    int32_t removed;
    int32_t tombstones;       /* kept tombstones */
    int64_t max_ts;           /* of the kept records */
};

/* Decides a run of records into keep[]: a record survives when it has a
 * key, no later record of the key superseded it (its live bit where the
 * map pass left one, else the map), and it is no tombstone past its
 * batch's delete horizon. */
static void decide_run(const struct batch_header *h, const struct record_view *r,
                       const int64_t *offs, int n, const struct clean_policy *p, uint8_t *keep)
{
    struct offset_key k[RECORD_RUN];
    bool look[RECORD_RUN];
    bool horizon_set = h->attributes & BATCH_ATTR_DELETE_HORIZON;
    bool tombs_go = horizon_set && p->now_ms >= h->base_timestamp;
    for (int i = 0; i < n; i++) {
        look[i] = false;
        if (!r[i].key) {
            keep[i] = 0;
        } else if (p->live && live_bits_covers(p->live, offs[i], offs[i])) {
            keep[i] = live_bits_test(p->live, offs[i]);
        } else {
            look[i] = true;
            k[i] = offset_map_hash(r[i].key, (size_t)r[i].key_len);
            offset_map_prefetch(p->map, k[i]);
        }
    }
    for (int i = 0; i < n; i++) {
        if (look[i])
            keep[i] = offset_map_get_key(p->map, k[i]) <= offs[i];
        if (!r[i].value && tombs_go)
            keep[i] = 0;
    }
}

/* Appends a kept record to s->kept with its timestamp delta re-based from
 * the batch's base timestamp to new_base. */
static int append_rebased(const struct batch_header *h, const struct record_view *r,
                          int64_t new_base, struct clean_scratch *s)
{
    int64_t ts = (int64_t)((uint64_t)h->base_timestamp + (uint64_t)r->timestamp_delta);
    int64_t delta = (int64_t)((uint64_t)ts - (uint64_t)new_base);
    const uint8_t *rest = r->fields; /* key length onward, as it was */
    size_t tail = (size_t)(r->start + r->size - rest);
    size_t body = 1 + batch_varint_size(delta) + batch_varint_size(r->offset_delta) + tail;
    if (codec_buf_reserve(&s->kept, body + 10) < 0)
        return -ENOMEM;
    uint8_t *o = s->kept.data + s->kept.len;
    o = batch_varint_put(o, (int64_t)body);
    *o++ = (uint8_t)r->attributes;
    o = batch_varint_put(o, delta);
    o = batch_varint_put(o, r->offset_delta);
    memcpy(o, rest, tail);
    s->kept.len = (size_t)(o + tail - s->kept.data);
    return 0;
}

/* Writes the survivors of a run to s->kept: consecutive survivors as one
 * span of their bytes (*span: where the pending one starts), or one by
 * one when their timestamps are re-based. */
static int write_run(const struct batch_header *h, const struct record_view *r, const uint8_t *keep,
                     int n, int64_t new_base, struct clean_scratch *s, const uint8_t **span,
                     struct verdict *v)
{
    bool rebase = new_base != h->base_timestamp;
    for (int i = 0; i < n; i++) {
        if (!keep[i]) {
            v->removed++;
            if (*span && append(&s->kept, *span, (size_t)(r[i].start - *span)) < 0)
                return -ENOMEM;
            *span = NULL;
            continue;
        }
        int64_t ts = (int64_t)((uint64_t)h->base_timestamp + (uint64_t)r[i].timestamp_delta);
        v->kept++;
        v->tombstones += r[i].value == NULL;
        if (ts > v->max_ts)
            v->max_ts = ts;
        if (rebase) {
            if (append_rebased(h, &r[i], new_base, s) < 0)
                return -ENOMEM;
        } else if (!*span) {
            *span = r[i].start;
        }
    }
    return 0;
}

/* Decides every record (decide: else the decisions of the previous call
 * are reused, from s->keep) and writes the survivors to s->kept, their
 * timestamp deltas re-based to new_base when it differs from the
 * batch's. When nothing is removed and nothing re-based, s->kept is left
 * empty: the batch stays as it is. */
static int filter_records(const struct batch_header *h, const uint8_t *recs, size_t rlen,
                          const struct clean_policy *pol, int64_t new_base, bool decide,
                          struct clean_scratch *s, struct verdict *v)
{
    struct record_walk w;
    struct record_view r[RECORD_RUN];
    int64_t offs[RECORD_RUN];
    const uint8_t *span = NULL;
    int rc = 0, n = 0;
    memset(v, 0, sizeof(*v));
    v->max_ts = INT64_MIN;
    s->kept.len = 0;
    if ((rc = walk_init(&w, h, recs, rlen)) < 0)
        return rc;
    if (decide && (rc = codec_buf_reserve(&s->keep, (size_t)h->records_count)) < 0)
        return rc;
    for (int32_t at = 0;; at += n) {
        for (n = 0; n < RECORD_RUN && (rc = walk_next(&w, &r[n], &offs[n])) > 0; n++)
            ;
        if (rc < 0)
            return rc;
        if (n == 0)
            break;
        if (decide)
            decide_run(h, r, offs, n, pol, s->keep.data + at);
        if ((rc = write_run(h, r, s->keep.data + at, n, new_base, s, &span, v)) < 0)
            return rc;
    }
    if (span && v->removed > 0 && append(&s->kept, span, (size_t)(w.end - span)) < 0)
        return -ENOMEM;
    return 0;
}

/* Header-only batch keeping the producer's fields (Kafka's
 * writeEmptyHeader): no records, codec none. */
static int write_empty(const uint8_t *b, const struct batch_header *h, struct codec_buf *out)
{
    uint8_t e[BATCH_HEADER_SIZE];
    memcpy(e, b, BATCH_HEADER_SIZE);
    uint16_t attr = (uint16_t)h->attributes & ~(BATCH_ATTR_CODEC_MASK | BATCH_ATTR_DELETE_HORIZON);
    be32_store(e + BATCH_OFF_LENGTH, BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD);
    be16_store(e + BATCH_OFF_ATTRIBUTES, attr);
    be64_store(e + BATCH_OFF_BASE_TIMESTAMP, (uint64_t)h->max_timestamp);
    be32_store(e + BATCH_OFF_RECORDS_COUNT, 0);
    be32_store(e + BATCH_OFF_CRC, crc32c(e + BATCH_OFF_ATTRIBUTES,
                                         BATCH_HEADER_SIZE - BATCH_OFF_ATTRIBUTES));
    return append(out, e, sizeof(e));
}

static int write_rebuilt(const uint8_t *b, const struct batch_header *h, const struct verdict *v,
                         int64_t new_base, bool set_horizon, enum codec_framing framing,
                         const struct clean_scratch *s, struct codec_buf *out)
{
    size_t at = out->len;
    int codec = h->attributes & BATCH_ATTR_CODEC_MASK;
    int rc = append(out, b, BATCH_HEADER_SIZE);
    if (rc < 0)
        return rc;
    rc = codec == BATCH_CODEC_NONE ? append(out, s->kept.data, s->kept.len)
                                   : batch_codec_compress(codec, s->kept.data, s->kept.len, out,
                                                          framing);
    if (rc < 0) {
        out->len = at;
        return rc;
    }
    uint8_t *o = out->data + at;
    size_t total = out->len - at;
    uint16_t attr = (uint16_t)h->attributes | (set_horizon ? BATCH_ATTR_DELETE_HORIZON : 0);
    be32_store(o + BATCH_OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
    be16_store(o + BATCH_OFF_ATTRIBUTES, attr);
    be64_store(o + BATCH_OFF_BASE_TIMESTAMP, (uint64_t)new_base);
    if (!(h->attributes & BATCH_ATTR_LOG_APPEND_TIME))
        be64_store(o + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)v->max_ts);
    be32_store(o + BATCH_OFF_RECORDS_COUNT, (uint32_t)v->kept);
    be32_store(o + BATCH_OFF_CRC, crc32c(o + BATCH_OFF_ATTRIBUTES, total - BATCH_OFF_ATTRIBUTES));
    return 0;
}

/* A batch left without records (every record went, or it had none, as
 * the empty batches compaction leaves): nothing, or the producer's empty
 * batch when it is its last (Kafka's RETAIN_EMPTY; an empty one stays
 * empty: no change). */
static int drop_all(const uint8_t *b, const struct batch_header *h, const struct clean_policy *p,
                    struct codec_buf *out, struct clean_stats *st)
{
    bool last = p->pids && h->producer_id >= 0 &&
                pid_table_last(p->pids, h->producer_id) == batch_last_offset(h);
    if (!last || h->records_count > 0)
        st->batches_changed++;
    return last ? write_empty(b, h, out) : 0;
}

/* What the map pass's live bits say of a batch they cover: 1 when the
 * batch is done (every record goes, or it stays as it is), 0 when its
 * records must be decided one by one. */
static int decide_by_bits(const uint8_t *b, size_t len, const struct batch_header *h,
                          const struct clean_policy *p, struct codec_buf *out,
                          struct clean_stats *st, int *rc)
{
    const struct live_bits *lb = p->live;
    int64_t live, tombs;
    if (!lb || !live_bits_covers(lb, h->base_offset, batch_last_offset(h)) ||
        live_bits_unreadable(lb, h->base_offset))
        return 0;
    live_bits_count(lb, h->base_offset, batch_last_offset(h), &live, &tombs);
    bool horizon_set = h->attributes & BATCH_ATTR_DELETE_HORIZON;
    if (live == 0) {
        st->batches_by_bits++;
        st->records_read += h->records_count;
        st->records_removed += h->records_count;
        *rc = drop_all(b, h, p, out, st);
        return 1;
    }
    if (live != h->records_count ||
        (tombs > 0 && (!horizon_set || p->now_ms >= h->base_timestamp)))
        return 0;
    st->batches_by_bits++;
    st->records_read += h->records_count;
    if (tombs > 0 && h->base_timestamp < st->next_horizon_ms)
        st->next_horizon_ms = h->base_timestamp;
    *rc = append(out, b, len);
    return 1;
}

/* A marker whose transaction has nothing left (cleaner_txn.h): past its
 * delete horizon it goes (an empty header when it is its producer's last
 * batch); the first clean that finds it done stamps the horizon in it, its
 * record's timestamp kept. */
static int filter_done_marker(const uint8_t *b, size_t len, const struct batch_header *h,
                              const struct clean_policy *p, struct clean_scratch *s,
                              struct codec_buf *out, struct clean_stats *st)
{
    const uint8_t *recs;
    size_t rlen;
    enum codec_framing framing;
    struct verdict v;
    bool horizon_set = h->attributes & BATCH_ATTR_DELETE_HORIZON;
    if (h->records_count == 0 || (horizon_set && p->now_ms >= h->base_timestamp)) {
        st->records_read += h->records_count;
        st->records_removed += h->records_count;
        return drop_all(b, h, p, out, st);
    }
    int64_t horizon = horizon_set ? h->base_timestamp : p->now_ms + p->delete_retention_ms;
    if (horizon < st->next_horizon_ms)
        st->next_horizon_ms = horizon;
    if (horizon_set || !offsets_sane(h))
        return append(out, b, len);
    int rc = batch_records(b, len, s, &recs, &rlen, &framing);
    if (rc == 0 && (size_t)h->records_count > rlen / RECORD_MIN_SIZE)
        rc = -EBADMSG; /* a count its bytes cannot hold (walk_init's check) */
    if (rc == 0)
        rc = codec_buf_reserve(&s->keep, (size_t)h->records_count);
    if (rc == 0) {
        memset(s->keep.data, 1, (size_t)h->records_count);
        rc = filter_records(h, recs, rlen, p, horizon, false, s, &v);
    }
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0) {
        st->batches_unreadable++;
        return append(out, b, len);
    }
    st->records_read += v.kept;
    st->batches_changed++;
    return write_rebuilt(b, h, &v, horizon, true, framing, s, out);
}

int clean_filter_batch(const uint8_t *b, size_t len, const struct clean_policy *p,
                       struct clean_scratch *s, struct codec_buf *out, struct clean_stats *st)
{
    struct batch_header h;
    const uint8_t *recs;
    size_t rlen;
    enum codec_framing framing;
    struct verdict v;
    batch_header_decode(b, &h);
    st->bytes_read += len;
    if (h.base_offset >= p->map_end)
        return append(out, b, len);
    if (h.attributes & BATCH_ATTR_CONTROL)
        return p->fate == CLEAN_TXN_MARKER_DONE ? filter_done_marker(b, len, &h, p, s, out, st)
                                                : append(out, b, len);
    if (p->fate == CLEAN_TXN_ABORTED) {
        st->records_read += h.records_count;
        st->records_removed += h.records_count;
        return drop_all(b, &h, p, out, st);
    }
    int rc = 0;
    if (offsets_sane(&h) && decide_by_bits(b, len, &h, p, out, st, &rc))
        return rc;
    if (!offsets_sane(&h) || (p->live && live_bits_unreadable(p->live, h.base_offset)))
        rc = -EBADMSG;
    else
        rc = batch_records(b, len, s, &recs, &rlen, &framing);
    bool horizon_set = h.attributes & BATCH_ATTR_DELETE_HORIZON, stamp = false;
    int64_t base = h.base_timestamp;
    if (rc == 0)
        rc = filter_records(&h, recs, rlen, p, base, true, s, &v);
    if (rc == 0 && v.tombstones > 0 && !horizon_set) {
        /* First clean keeping a tombstone: stamp the delete horizon. */
        stamp = true;
        base = p->now_ms + p->delete_retention_ms;
        rc = filter_records(&h, recs, rlen, p, base, false, s, &v);
    }
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0) {
        st->batches_unreadable++;
        return append(out, b, len);
    }
    st->records_read += v.kept + v.removed;
    st->records_removed += v.removed;
    int64_t horizon = base;
    if (v.tombstones > 0 && horizon < st->next_horizon_ms)
        st->next_horizon_ms = horizon;
    if (v.kept == 0)
        return drop_all(b, &h, p, out, st);
    if (v.removed == 0 && !stamp)
        return append(out, b, len);
    st->batches_changed++;
    return write_rebuilt(b, &h, &v, base, stamp, framing, s, out);
}
