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
 *   - control batches (transaction markers) are kept as they are;
 *   - a batch left without records disappears, unless it is its
 *     producer's last batch: then an empty batch (header only, codec none)
 *     keeps the producer's id, epoch and last sequence;
 *   - a rebuilt batch keeps its base offset and last offset delta (the
 *     survivors keep their offset deltas), producer id, epoch, base
 *     sequence, partition leader epoch, transactional bit and timestamp
 *     type; it is compressed again with its own codec (and snappy framing)
 *     and gets a new CRC.
 * A batch is copied unchanged whenever nothing in it changes. */
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

/* ---- the offset map ---- */

int clean_map_batch(const uint8_t *b, size_t len, struct offset_map *map, int64_t from,
                    struct clean_scratch *s)
{
    struct batch_header h;
    const uint8_t *p, *end;
    size_t rlen;
    enum codec_framing framing;
    batch_header_decode(b, &h);
    if (h.attributes & BATCH_ATTR_CONTROL)
        return 0;
    int rc = batch_records(b, len, s, &p, &rlen, &framing);
    if (rc < 0)
        return rc;
    end = p + rlen;
    for (int32_t i = 0; i < h.records_count; i++) {
        struct record_view r;
        if (batch_record_next(&p, end, &r) < 0)
            return -EBADMSG;
        int64_t off = record_offset(&h, &r);
        if (r.key && off >= from && (rc = offset_map_put(map, r.key, (size_t)r.key_len, off)) < 0)
            return rc;
    }
    return 0;
}

/* ---- the filter ---- */

struct verdict {
    int32_t kept;
    int32_t removed;
    int32_t tombstones;       /* kept tombstones */
    int64_t max_ts;           /* of the kept records */
};

static bool record_survives(const struct record_view *r, int64_t offset, bool horizon_set,
                            int64_t horizon, const struct clean_policy *p)
{
    if (!r->key)
        return false;
    if (offset_map_get(p->map, r->key, (size_t)r->key_len) > offset)
        return false;
    return r->value || !horizon_set || p->now_ms < horizon;
}

/* Decides every record; the survivors' bytes go to s->kept, their
 * timestamp deltas re-based from base_ts to new_base when they differ. */
static int filter_records(const struct batch_header *h, const uint8_t *p, const uint8_t *end,
                          const struct clean_policy *pol, int64_t new_base,
                          struct clean_scratch *s, struct verdict *v)
{
    bool rebase = new_base != h->base_timestamp;
    bool horizon_set = h->attributes & BATCH_ATTR_DELETE_HORIZON;
    memset(v, 0, sizeof(*v));
    v->max_ts = INT64_MIN;
    s->kept.len = 0;
    for (int32_t i = 0; i < h->records_count; i++) {
        struct record_view r;
        if (batch_record_next(&p, end, &r) < 0)
            return -EBADMSG;
        if (!record_survives(&r, record_offset(h, &r), horizon_set,
                             h->base_timestamp, pol)) {
            v->removed++;
            continue;
        }
        int64_t ts = (int64_t)((uint64_t)h->base_timestamp + (uint64_t)r.timestamp_delta);
        v->kept++;
        v->tombstones += r.value == NULL;
        if (ts > v->max_ts)
            v->max_ts = ts;
        if (!rebase) {
            if (append(&s->kept, r.start, r.size) < 0)
                return -ENOMEM;
            continue;
        }
        /* Re-encode: attributes, new delta, then the rest as it was. */
        int64_t delta = (int64_t)((uint64_t)ts - (uint64_t)new_base);
        const uint8_t *rest = r.fields; /* key length onward, as it was */
        size_t odsz = batch_varint_size(r.offset_delta);
        size_t tail = (size_t)(r.start + r.size - rest);
        size_t body = 1 + batch_varint_size(delta) + odsz + tail;
        if (codec_buf_reserve(&s->kept, body + 10) < 0)
            return -ENOMEM;
        uint8_t *o = s->kept.data + s->kept.len;
        o = batch_varint_put(o, (int64_t)body);
        *o++ = (uint8_t)r.attributes;
        o = batch_varint_put(o, delta);
        o = batch_varint_put(o, r.offset_delta);
        memcpy(o, rest, tail);
        s->kept.len = (size_t)(o + tail - s->kept.data);
    }
    return p == end ? 0 : -EBADMSG;
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
    if ((h.attributes & BATCH_ATTR_CONTROL) || h.base_offset >= p->map_end)
        return append(out, b, len);
    int rc = batch_records(b, len, s, &recs, &rlen, &framing);
    bool horizon_set = h.attributes & BATCH_ATTR_DELETE_HORIZON, stamp = false;
    int64_t base = h.base_timestamp;
    if (rc == 0)
        rc = filter_records(&h, recs, recs + rlen, p, base, s, &v);
    if (rc == 0 && v.tombstones > 0 && !horizon_set) {
        /* First clean keeping a tombstone: stamp the delete horizon. */
        stamp = true;
        base = p->now_ms + p->delete_retention_ms;
        rc = filter_records(&h, recs, recs + rlen, p, base, s, &v);
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
    if (v.removed == 0 && !stamp)
        return append(out, b, len);
    st->batches_changed++;
    if (v.kept == 0) {
        if (p->pids && h.producer_id >= 0 &&
            pid_table_last(p->pids, h.producer_id) == batch_last_offset(&h))
            return write_empty(b, &h, out);
        return 0;
    }
    return write_rebuilt(b, &h, &v, base, stamp, framing, s, out);
}
