/* batch_build.c - encodes records into a RecordBatch v2 (see
 * batch_build.h).
 *
 * Owns Kafka's record encoding: zigzag varints, the record layout and the
 * header a producer writes (non-idempotent unless batch_builder_set_producer
 * names one). Records are written uncompressed; the attributes given to
 * batch_builder_finish are stored as they are. Writes only inside
 * buf[0..cap) and never allocates.
 *
 *   record := length varint, attributes int8, timestampDelta varlong,
 *             offsetDelta varint, keyLength varint (-1 null), key,
 *             valueLength varint (-1 null), value, headerCount varint,
 *             headers (keyLength varint, key, valueLength varint, value) */
#include "storage/batch_build.h"

#include <errno.h>
#include <string.h>

#include "storage/batch.h"
#include "storage/crc32c.h"

static uint64_t zigzag(int64_t v)
{
    return v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1;
}

/* Bytes taken by v as a zigzag varint; for int32 values it is the same
 * encoding as Kafka's 32-bit varint. */
size_t batch_varint_size(int64_t v)
{
    uint64_t z = zigzag(v);
    size_t n = 1;

    while (z >= 0x80) {
        z >>= 7;
        n++;
    }
    return n;
}

uint8_t *batch_varint_put(uint8_t *p, int64_t v)
{
    uint64_t z = zigzag(v);

    while (z >= 0x80) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    return p;
}

/* A length-prefixed byte string; data NULL is written as length -1. */
static size_t bytes_size(const void *data, size_t len)
{
    return data ? batch_varint_size((int64_t)len) + len : 1;
}

static uint8_t *bytes_put(uint8_t *p, const void *data, size_t len)
{
    if (!data)
        return batch_varint_put(p, -1);
    p = batch_varint_put(p, (int64_t)len);
    memcpy(p, data, len);
    return p + len;
}

/* Kafka header keys cannot be null: a NULL key is written empty. */
static size_t hkey_len(const struct record_header *h)
{
    return h->key ? h->key_len : 0;
}

static int64_t ts_delta(const struct batch_builder *b, int64_t timestamp)
{
    return (int64_t)((uint64_t)timestamp - (uint64_t)b->base_timestamp);
}

/* The size of a record's body (all but its length varint), or 0 when a
 * field is longer than Kafka's int32 lengths allow. */
static size_t record_body_size(const struct batch_builder *b,
                               int64_t timestamp, const void *key,
                               size_t key_len, const void *value,
                               size_t value_len,
                               const struct record_header *headers,
                               int nheaders)
{
    if ((key && key_len > INT32_MAX) || (value && value_len > INT32_MAX))
        return 0;
    size_t n = 1 + batch_varint_size(ts_delta(b, timestamp)) +
               batch_varint_size(b->count) + bytes_size(key, key_len) +
               bytes_size(value, value_len) + batch_varint_size(nheaders);
    for (int i = 0; i < nheaders && n <= INT32_MAX; i++) {
        const struct record_header *h = &headers[i];
        if (hkey_len(h) > INT32_MAX ||
            (h->value && h->value_len > INT32_MAX))
            return 0;
        n += bytes_size("", hkey_len(h)) + bytes_size(h->value, h->value_len);
    }
    return n <= INT32_MAX ? n : 0;
}

void batch_builder_init(struct batch_builder *b, uint8_t *buf, size_t cap,
                        int64_t base_timestamp)
{
    b->buf = buf;
    b->cap = cap;
    b->len = BATCH_HEADER_SIZE;
    b->count = 0;
    b->base_timestamp = base_timestamp;
    b->max_timestamp = base_timestamp;
    b->overflow = 0;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
}

void batch_builder_set_producer(struct batch_builder *b, int64_t producer_id,
                                int16_t producer_epoch, int32_t base_sequence)
{
    b->producer_id = producer_id;
    b->producer_epoch = producer_epoch;
    b->base_sequence = base_sequence;
}

int batch_builder_add(struct batch_builder *b, int64_t timestamp,
                      const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      const struct record_header *headers, int nheaders)
{
    if (nheaders < 0 || (nheaders > 0 && !headers))
        return -EINVAL;
    size_t body = record_body_size(b, timestamp, key, key_len, value,
                                   value_len, headers, nheaders);
    if (body == 0)
        return -EINVAL;

    /* batchLength (len - 12) must stay an int32. */
    size_t cap = b->cap < (size_t)INT32_MAX ? b->cap : (size_t)INT32_MAX;
    size_t total = batch_varint_size((int64_t)body) + body;
    if (b->count == INT32_MAX || cap < b->len || total > cap - b->len) {
        b->overflow = 1;
        return -ENOSPC;
    }

    uint8_t *p = batch_varint_put(b->buf + b->len, (int64_t)body);
    *p++ = 0; /* record attributes */
    p = batch_varint_put(p, ts_delta(b, timestamp));
    p = batch_varint_put(p, b->count);
    p = bytes_put(p, key, key_len);
    p = bytes_put(p, value, value_len);
    p = batch_varint_put(p, nheaders);
    for (int i = 0; i < nheaders; i++) {
        const char *hkey = headers[i].key ? headers[i].key : "";
        p = bytes_put(p, hkey, hkey_len(&headers[i]));
        p = bytes_put(p, headers[i].value, headers[i].value_len);
    }

    if (b->count == 0 || timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    b->count++;
    b->len += total;
    return 0;
}

size_t batch_builder_finish(struct batch_builder *b, int16_t attributes)
{
    uint8_t *p = b->buf;

    if (b->count == 0)
        return 0;
    be64_store(p + BATCH_OFF_BASE_OFFSET, 0);
    be32_store(p + BATCH_OFF_LENGTH, (uint32_t)(b->len - BATCH_LOG_OVERHEAD));
    be32_store(p + BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
    p[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    be16_store(p + BATCH_OFF_ATTRIBUTES, (uint16_t)attributes);
    be32_store(p + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
    be64_store(p + BATCH_OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
    be64_store(p + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
    be64_store(p + BATCH_OFF_PRODUCER_ID, (uint64_t)b->producer_id);
    be16_store(p + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
    be32_store(p + BATCH_OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
    be32_store(p + BATCH_OFF_RECORDS_COUNT, (uint32_t)b->count);
    be32_store(p + BATCH_OFF_CRC,
               crc32c(p + BATCH_OFF_ATTRIBUTES,
                      b->len - BATCH_OFF_ATTRIBUTES));
    return b->len;
}

size_t batch_build_marker(uint8_t *buf, size_t cap, int64_t pid, int16_t epoch, int commit,
                          int32_t coordinator_epoch, int64_t timestamp)
{
    struct batch_builder b;
    uint8_t key[4], value[6];

    if (cap < BATCH_HEADER_SIZE)
        return 0;
    be16_store(key, 0);
    be16_store(key + 2, commit ? BATCH_CONTROL_COMMIT : BATCH_CONTROL_ABORT);
    be16_store(value, 0);
    be32_store(value + 2, (uint32_t)coordinator_epoch);
    batch_builder_init(&b, buf, cap, timestamp);
    if (batch_builder_add(&b, timestamp, key, sizeof(key), value, sizeof(value), NULL, 0) < 0)
        return 0;
    size_t n = batch_builder_finish(&b, BATCH_ATTR_TRANSACTIONAL | BATCH_ATTR_CONTROL);
    be64_store(buf + BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_store(buf + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    be32_store(buf + BATCH_OFF_CRC, crc32c(buf + BATCH_OFF_ATTRIBUTES, n - BATCH_OFF_ATTRIBUTES));
    return n;
}
