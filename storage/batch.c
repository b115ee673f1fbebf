/* batch.c - RecordBatch v2: decode the header, validate a batch or a
 * Produce record set, rewrite the fields the broker owns (see batch.h).
 *
 * Owns the big-endian helpers and a bounds-checked varint cursor. Whatever
 * the bytes claim, nothing here reads outside buf[0..len): every length
 * taken from the wire is checked against the bytes that remain before it
 * is used. Never allocates; writes only in batch_assign.
 *
 * Checks run in the order Kafka's broker runs them, so a client sees the
 * error Kafka would give: framing (CORRUPT_MESSAGE), magic
 * (UNSUPPORTED_FOR_MESSAGE_FORMAT, before the CRC because magic 0/1
 * messages have another layout), size (MESSAGE_TOO_LARGE, before the CRC
 * so an oversized batch is not checksummed), CRC (CORRUPT_MESSAGE), then
 * counts and record framing (INVALID_RECORD). */
#include "storage/batch.h"

#include "storage/crc32c.h"
#include "storage/kerr.h"

#define VARINT_MAX_BYTES 5
#define VARLONG_MAX_BYTES 10

uint16_t be16_load(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

uint32_t be32_load(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

uint64_t be64_load(const uint8_t *p)
{
    return (uint64_t)be32_load(p) << 32 | be32_load(p + 4);
}

void be16_store(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void be32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void be64_store(uint8_t *p, uint64_t v)
{
    be32_store(p, (uint32_t)(v >> 32));
    be32_store(p + 4, (uint32_t)v);
}

void batch_header_decode(const uint8_t *buf, struct batch_header *h)
{
    h->base_offset = (int64_t)be64_load(buf + BATCH_OFF_BASE_OFFSET);
    h->length = (int32_t)be32_load(buf + BATCH_OFF_LENGTH);
    h->leader_epoch = (int32_t)be32_load(buf + BATCH_OFF_LEADER_EPOCH);
    h->magic = (int8_t)buf[BATCH_OFF_MAGIC];
    h->crc = be32_load(buf + BATCH_OFF_CRC);
    h->attributes = (int16_t)be16_load(buf + BATCH_OFF_ATTRIBUTES);
    h->last_offset_delta =
        (int32_t)be32_load(buf + BATCH_OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)be64_load(buf + BATCH_OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)be64_load(buf + BATCH_OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)be64_load(buf + BATCH_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)be16_load(buf + BATCH_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)be32_load(buf + BATCH_OFF_BASE_SEQUENCE);
    h->records_count = (int32_t)be32_load(buf + BATCH_OFF_RECORDS_COUNT);
}

/* ---- a cursor over [p, end) that never moves past end ---- */

struct cursor {
    const uint8_t *p;
    const uint8_t *end;
};

static size_t cur_left(const struct cursor *c)
{
    return (size_t)(c->end - c->p);
}

/* Reads the raw (still zigzagged) bits of a varint of at most max bytes,
 * as Kafka's ByteUtils does: bits beyond the type's width are dropped,
 * a continuation bit on the last allowed byte is an error. */
static int cur_raw(struct cursor *c, int max, uint64_t *raw)
{
    uint64_t v = 0;

    for (int i = 0; i < max && c->p < c->end; i++) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *raw = v;
            return 0;
        }
    }
    return -1;
}

static int cur_varint(struct cursor *c, int32_t *out)
{
    uint64_t raw;

    if (cur_raw(c, VARINT_MAX_BYTES, &raw) < 0)
        return -1;
    uint32_t z = (uint32_t)raw;
    *out = (int32_t)(z >> 1) ^ -(int32_t)(z & 1);
    return 0;
}

static int cur_varlong(struct cursor *c, int64_t *out)
{
    uint64_t raw;

    if (cur_raw(c, VARLONG_MAX_BYTES, &raw) < 0)
        return -1;
    *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
    return 0;
}

/* Skips a varint-length-prefixed byte string; -1 means null when allowed. */
static int cur_skip_bytes(struct cursor *c, bool nullable)
{
    int32_t n;

    if (cur_varint(c, &n) < 0)
        return -1;
    if (n == -1 && nullable)
        return 0;
    if (n < 0 || (size_t)n > cur_left(c))
        return -1;
    c->p += n;
    return 0;
}

/* ---- records ---- */

/* Reads a varint-length-prefixed byte string into (*data, *len), len -1
 * for null when allowed. */
static int cur_bytes(struct cursor *c, bool nullable, const uint8_t **data, int32_t *len)
{
    const uint8_t *start;

    if (cur_varint(c, len) < 0)
        return -1;
    start = c->p;
    if (*len == -1 && nullable) {
        *data = NULL;
        return 0;
    }
    if (*len < 0 || (size_t)*len > cur_left(c))
        return -1;
    *data = start;
    c->p += *len;
    return 0;
}

/* Parses a record body (everything after its length varint), which must
 * fill [c->p, c->end) exactly, into r. */
static int record_view_parse(struct cursor *c, struct record_view *r)
{
    int32_t nheaders;

    if (cur_left(c) < 1)
        return -1;
    r->body = c->p;
    r->attributes = (int8_t)*c->p++; /* unused by Kafka, any value accepted */
    if (cur_varlong(c, &r->timestamp_delta) < 0 || cur_varint(c, &r->offset_delta) < 0)
        return -1;
    r->fields = c->p;
    if (cur_bytes(c, true, &r->key, &r->key_len) < 0 ||
        cur_bytes(c, true, &r->value, &r->value_len) < 0)
        return -1;
    r->headers = c->p;
    if (cur_varint(c, &nheaders) < 0 || nheaders < 0)
        return -1;
    if ((size_t)nheaders > cur_left(c) / 2) /* a header takes >= 2 bytes */
        return -1;
    for (int32_t i = 0; i < nheaders; i++) {
        if (cur_skip_bytes(c, false) < 0 || cur_skip_bytes(c, true) < 0)
            return -1;
    }
    r->headers_len = (size_t)(c->end - r->headers);
    return c->p == c->end ? 0 : -1;
}

/* Reads the record at c (length varint and body) into r, moving c past it. */
static int record_view_next(struct cursor *c, struct record_view *r)
{
    int32_t len;

    r->start = c->p;
    if (cur_varint(c, &len) < 0 || len < 0 || (size_t)len > cur_left(c))
        return -1;
    struct cursor b = { c->p, c->p + len };
    c->p += len;
    r->size = (size_t)(c->p - r->start);
    return record_view_parse(&b, r);
}

/* Reads the next record of c, which must be record number index of a
 * producer's batch (offset deltas 0, 1, 2...). */
static int record_next(struct cursor *c, int32_t index, int64_t *ts_delta)
{
    struct record_view r;

    if (record_view_next(c, &r) < 0 || r.offset_delta != index)
        return -1;
    *ts_delta = r.timestamp_delta;
    return 0;
}

int batch_record_next(const uint8_t **p, const uint8_t *end, struct record_view *r)
{
    struct cursor c = { *p, end };

    if (record_view_next(&c, r) < 0)
        return -1;
    *p = c.p;
    return 0;
}

/* The framing of every record of an uncompressed batch. */
static int records_check(const uint8_t *buf, size_t len, int32_t count)
{
    struct cursor c = { buf + BATCH_HEADER_SIZE, buf + len };
    int64_t ts_delta;

    for (int32_t i = 0; i < count; i++) {
        if (record_next(&c, i, &ts_delta) < 0)
            return KERR_INVALID_RECORD;
    }
    return c.p == c.end ? KERR_NONE : KERR_INVALID_RECORD;
}

/* ---- validation ---- */

bool batch_crc_ok(const uint8_t *buf, size_t len)
{
    if (len < BATCH_HEADER_SIZE)
        return false;
    return crc32c(buf + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES) ==
           be32_load(buf + BATCH_OFF_CRC);
}

/* Length field, magic, size limit and CRC: everything checked before the
 * header's contents are trusted. */
static int batch_check_frame(const uint8_t *buf, size_t len,
                             uint32_t max_bytes)
{
    if (len < BATCH_OFF_MAGIC + 1)
        return KERR_CORRUPT_MESSAGE;
    int32_t length = (int32_t)be32_load(buf + BATCH_OFF_LENGTH);
    if (length < 0 || (size_t)length + BATCH_LOG_OVERHEAD != len)
        return KERR_CORRUPT_MESSAGE;
    if (buf[BATCH_OFF_MAGIC] != BATCH_MAGIC)
        return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    if (len < BATCH_HEADER_SIZE)
        return KERR_CORRUPT_MESSAGE;
    if (max_bytes != 0 && len > max_bytes)
        return KERR_MESSAGE_TOO_LARGE;
    if (!batch_crc_ok(buf, len))
        return KERR_CORRUPT_MESSAGE;
    return KERR_NONE;
}

int batch_validate(const uint8_t *buf, size_t len, uint32_t max_bytes)
{
    struct batch_header h;
    int err = batch_check_frame(buf, len, max_bytes);

    if (err != KERR_NONE)
        return err;
    batch_header_decode(buf, &h);
    int codec = h.attributes & BATCH_ATTR_CODEC_MASK;
    /* Codecs 5-7 do not exist; no consumer could read such a batch. */
    if (codec > BATCH_CODEC_ZSTD)
        return KERR_CORRUPT_MESSAGE;
    if (h.records_count < 1 || h.last_offset_delta != h.records_count - 1)
        return KERR_INVALID_RECORD;
    if (codec != BATCH_CODEC_NONE)
        return KERR_NONE; /* records are not decompressed here */
    return records_check(buf, len, h.records_count);
}

int batch_validate_set(const uint8_t *buf, size_t len, uint32_t max_bytes,
                       int *nbatches, int64_t *nrecords)
{
    size_t pos = 0;
    int n = 0;
    int64_t records = 0;

    if (len == 0)
        return KERR_CORRUPT_MESSAGE;
    while (pos < len) {
        size_t left = len - pos;
        if (left < BATCH_LOG_OVERHEAD)
            return KERR_CORRUPT_MESSAGE;
        int32_t length = (int32_t)be32_load(buf + pos + BATCH_OFF_LENGTH);
        if (length < 0 || (size_t)length > left - BATCH_LOG_OVERHEAD)
            return KERR_CORRUPT_MESSAGE; /* a partial trailing batch */
        size_t size = (size_t)length + BATCH_LOG_OVERHEAD;
        int err = batch_validate(buf + pos, size, max_bytes);
        if (err != KERR_NONE)
            return err;
        records += (int32_t)be32_load(buf + pos + BATCH_OFF_RECORDS_COUNT);
        n++;
        pos += size;
    }
    if (nbatches)
        *nbatches = n;
    if (nrecords)
        *nrecords = records;
    return KERR_NONE;
}

/* ---- rewriting and lookup ---- */

void batch_assign(uint8_t *buf, int64_t base_offset, int32_t leader_epoch,
                  int64_t log_append_time_ms)
{
    be64_store(buf + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
    be32_store(buf + BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
    if (log_append_time_ms < 0)
        return;

    /* As Kafka's DefaultRecordBatch.setMaxTimestamp: baseTimestamp and the
     * record deltas stay, the type bit and maxTimestamp change, and the
     * CRC is recomputed only when something changed. */
    uint16_t attr = be16_load(buf + BATCH_OFF_ATTRIBUTES);
    int64_t max_ts = (int64_t)be64_load(buf + BATCH_OFF_MAX_TIMESTAMP);
    if ((attr & BATCH_ATTR_LOG_APPEND_TIME) && max_ts == log_append_time_ms)
        return;
    be16_store(buf + BATCH_OFF_ATTRIBUTES, attr | BATCH_ATTR_LOG_APPEND_TIME);
    be64_store(buf + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)log_append_time_ms);
    size_t size = (size_t)be32_load(buf + BATCH_OFF_LENGTH) +
                  BATCH_LOG_OVERHEAD;
    be32_store(buf + BATCH_OFF_CRC,
               crc32c(buf + BATCH_OFF_ATTRIBUTES,
                      size - BATCH_OFF_ATTRIBUTES));
}

/* Wrapping addition: garbage deltas must not be undefined behaviour. */
static int64_t add_wrap(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

int batch_find_timestamp(const uint8_t *buf, size_t len, int64_t ts,
                         int64_t *offset, int64_t *timestamp)
{
    struct batch_header h;

    if (len < BATCH_HEADER_SIZE)
        return -1;
    batch_header_decode(buf, &h);

    /* LogAppendTime: every record carries maxTimestamp. Compressed: only
     * the header is read, so the base offset stands for the batch, with
     * the one header timestamp known to be >= ts. */
    if ((h.attributes & BATCH_ATTR_LOG_APPEND_TIME) ||
        (h.attributes & BATCH_ATTR_CODEC_MASK) != BATCH_CODEC_NONE) {
        if (h.max_timestamp < ts)
            return -1;
        *offset = h.base_offset;
        *timestamp = h.max_timestamp;
        return 0;
    }

    /* CreateTime, uncompressed: the first record in offset order. */
    size_t end = len;
    if (h.length >= 0 && (size_t)h.length + BATCH_LOG_OVERHEAD < end)
        end = (size_t)h.length + BATCH_LOG_OVERHEAD;
    if (end < BATCH_HEADER_SIZE)
        return -1;
    /* Offset deltas are read, not assumed: a compacted batch has gaps. */
    struct cursor c = { buf + BATCH_HEADER_SIZE, buf + end };
    for (int32_t i = 0; i < h.records_count; i++) {
        struct record_view r;
        if (record_view_next(&c, &r) < 0)
            return -1;
        int64_t rts = add_wrap(h.base_timestamp, r.timestamp_delta);
        if (rts >= ts) {
            *offset = add_wrap(h.base_offset, r.offset_delta);
            *timestamp = rts;
            return 0;
        }
    }
    return -1;
}

/* ---- control batches ---- */

int batch_parse_marker(const uint8_t *buf, size_t len, int16_t *type,
                       int32_t *coordinator_epoch)
{
    struct batch_header h;
    int32_t rlen, offset_delta, klen, vlen;
    int64_t ts_delta;

    if (len < BATCH_HEADER_SIZE)
        return -1;
    batch_header_decode(buf, &h);
    if (!(h.attributes & BATCH_ATTR_CONTROL) || h.records_count < 1 ||
        (h.attributes & BATCH_ATTR_CODEC_MASK) != BATCH_CODEC_NONE)
        return -1;
    if (h.length >= 0 && (size_t)h.length + BATCH_LOG_OVERHEAD < len)
        len = (size_t)h.length + BATCH_LOG_OVERHEAD;
    struct cursor c = { buf + BATCH_HEADER_SIZE, buf + len };
    if (cur_varint(&c, &rlen) < 0 || rlen < 0 || (size_t)rlen > cur_left(&c))
        return -1;
    c.end = c.p + rlen;
    if (cur_left(&c) < 1)
        return -1;
    c.p++; /* record attributes */
    if (cur_varlong(&c, &ts_delta) < 0 || cur_varint(&c, &offset_delta) < 0 ||
        cur_varint(&c, &klen) < 0 || klen < 4 || (size_t)klen > cur_left(&c))
        return -1;
    if (be16_load(c.p) != 0)
        return -1; /* a key version we do not know */
    int16_t t = (int16_t)be16_load(c.p + 2);
    c.p += klen;
    if (t != BATCH_CONTROL_ABORT && t != BATCH_CONTROL_COMMIT)
        return -1;
    *coordinator_epoch = 0;
    if (cur_varint(&c, &vlen) == 0 && vlen >= 6 && (size_t)vlen <= cur_left(&c))
        *coordinator_epoch = (int32_t)be32_load(c.p + 2);
    *type = t;
    return 0;
}
