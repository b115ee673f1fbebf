/* record_reader.h - decodes the records of uncompressed RecordBatch v2
 * bytes (as a log file holds them) for unit tests that check what was
 * stored: offsets, timestamps, keys, values, headers. Test code only: it
 * trusts the bytes the broker itself wrote. */
#ifndef SLUICE_RECORD_READER_H
#define SLUICE_RECORD_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/batch.h"

#define RR_HEADERS_MAX 16

struct rr_header {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    long value_len;             /* -1: null */
};

struct rr_record {
    int64_t offset, timestamp;
    int16_t attributes;         /* the batch's */
    const uint8_t *key, *value;
    long key_len, value_len;    /* -1: null */
    int nh;
    struct rr_header h[RR_HEADERS_MAX];
};

/* A cursor over buf[0..len): whole batches, one record at a time. */
struct rr_cursor {
    const uint8_t *p, *end;     /* the next batch */
    const uint8_t *rec;         /* the next record in the current batch */
    int left;                   /* records left in it */
    struct batch_header h;
};

static inline int64_t rr_varint(const uint8_t **p)
{
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline void rr_init(struct rr_cursor *c, const uint8_t *buf, size_t len)
{
    c->p = buf;
    c->end = buf + len;
    c->left = 0;
}

/* The next record: 1, or 0 at the end. */
static inline int rr_next(struct rr_cursor *c, struct rr_record *r)
{
    while (c->left == 0) {
        if (c->p + BATCH_HEADER_SIZE > c->end)
            return 0;
        batch_header_decode(c->p, &c->h);
        c->rec = c->p + BATCH_HEADER_SIZE;
        c->left = c->h.records_count;
        c->p += batch_size(&c->h);
    }
    const uint8_t *q = c->rec;
    int64_t len = rr_varint(&q);
    const uint8_t *end = q + len;
    q++; /* record attributes */
    r->attributes = c->h.attributes;
    r->timestamp = c->h.base_timestamp + rr_varint(&q);
    r->offset = c->h.base_offset + rr_varint(&q);
    r->key_len = (long)rr_varint(&q);
    r->key = q;
    q += r->key_len > 0 ? r->key_len : 0;
    r->value_len = (long)rr_varint(&q);
    r->value = q;
    q += r->value_len > 0 ? r->value_len : 0;
    r->nh = (int)rr_varint(&q);
    for (int i = 0; i < r->nh && i < RR_HEADERS_MAX; i++) {
        r->h[i].key_len = (size_t)rr_varint(&q);
        r->h[i].key = q;
        q += r->h[i].key_len;
        r->h[i].value_len = (long)rr_varint(&q);
        r->h[i].value = q;
        q += r->h[i].value_len > 0 ? r->h[i].value_len : 0;
    }
    c->rec = end;
    c->left--;
    return 1;
}

/* The value of header name, or NULL (*len set). */
static inline const uint8_t *rr_find(const struct rr_record *r, const char *name, long *len)
{
    for (int i = 0; i < r->nh && i < RR_HEADERS_MAX; i++) {
        if (r->h[i].key_len == strlen(name) && memcmp(r->h[i].key, name, r->h[i].key_len) == 0) {
            *len = r->h[i].value_len;
            return r->h[i].value;
        }
    }
    return NULL;
}

#endif
