/* cleaner_fixture.h - what the compaction tests (test_cleaner.c,
 * test_powercut_clean.c) share: keyed batches in every codec with producer
 * fields, and decoding what a log serves back into (offset, key, value)
 * triples. Keys are "k<n>", values "v<n>-..."; a negative key or value is
 * null (a tombstone). Needs cmocka included first. */
#ifndef SLUICE_CLEANER_FIXTURE_H
#define SLUICE_CLEANER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/batch.h"
#include "storage/batch_codec.h"
#include "storage/cleaner.h"
#include "storage/crc32c.h"
#include "storage/log.h"
#include "storage/batch_build.h"

/* Every batch's first timestamp. */
#define NOW 1700000000000ll

/* A batch of records keyed "k<key[i]>" with value "v<val[i]>" (NULL value
 * for val[i] < 0), one header each, compressed with codec, producer
 * fields set. Returns its size. */
static inline size_t make_batch(uint8_t *buf, size_t cap, int n, const int *keys, const int *vals,
                         int codec, int16_t attrs_extra, int64_t pid)
{
    uint8_t raw[65536];
    struct batch_builder b;
    batch_builder_init(&b, raw, sizeof(raw), NOW);
    for (int i = 0; i < n; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof(k), "k%d", keys[i]);
        int vl = snprintf(v, sizeof(v), "v%d-%s", vals[i], "payload-payload-payload");
        struct record_header h = { "hk", 2, "hv", 2 };
        assert_int_equal(batch_builder_add(&b, NOW + i, keys[i] < 0 ? NULL : k,
                                           (size_t)kl, vals[i] < 0 ? NULL : v, (size_t)vl,
                                           &h, 1), 0);
    }
    size_t len = batch_builder_finish(&b, attrs_extra);
    be64_store(raw + BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_store(raw + BATCH_OFF_PRODUCER_EPOCH, 7);
    be32_store(raw + BATCH_OFF_BASE_SEQUENCE, 100);
    if (codec == BATCH_CODEC_NONE) {
        be32_store(raw + BATCH_OFF_CRC, crc32c(raw + BATCH_OFF_ATTRIBUTES,
                                               len - BATCH_OFF_ATTRIBUTES));
        assert_true(len <= cap);
        memcpy(buf, raw, len);
        return len;
    }
    struct codec_buf out = { 0 };
    assert_int_equal(batch_codec_compress(codec, raw + BATCH_HEADER_SIZE,
                                          len - BATCH_HEADER_SIZE, &out,
                                          CODEC_FRAMING_SNAPPY_XERIAL), 0);
    size_t total = BATCH_HEADER_SIZE + out.len;
    assert_true(total <= cap);
    memcpy(buf, raw, BATCH_HEADER_SIZE);
    memcpy(buf + BATCH_HEADER_SIZE, out.data, out.len);
    be32_store(buf + BATCH_OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
    be16_store(buf + BATCH_OFF_ATTRIBUTES, (uint16_t)(attrs_extra | codec));
    be32_store(buf + BATCH_OFF_CRC, crc32c(buf + BATCH_OFF_ATTRIBUTES,
                                           total - BATCH_OFF_ATTRIBUTES));
    codec_buf_free(&out);
    return total;
}

struct seen {
    int64_t offset;
    int key;                /* -1: none */
    int val;                /* -1: tombstone */
};

/* Decodes the records of one stored batch into s (returns how many). */
static inline int read_batch(const uint8_t *b, size_t len, struct seen *s, int max)
{
    struct batch_header h;
    batch_header_decode(b, &h);
    assert_true(batch_crc_ok(b, len));
    const uint8_t *p = b + BATCH_HEADER_SIZE, *end = b + len;
    struct codec_buf raw = { 0 };
    int codec = h.attributes & BATCH_ATTR_CODEC_MASK;
    if (codec) {
        assert_int_equal(batch_codec_decompress(codec, p, len - BATCH_HEADER_SIZE, &raw,
                                                CLEAN_MAX_BATCH, NULL), 0);
        p = raw.data;
        end = raw.data + raw.len;
    }
    int n = 0;
    for (int32_t i = 0; i < h.records_count && n < max; i++) {
        struct record_view r;
        assert_int_equal(batch_record_next(&p, end, &r), 0);
        s[n].offset = h.base_offset + r.offset_delta;
        char tmp[64] = { 0 }; /* a binary key (a marker's) may copy nothing */
        snprintf(tmp, sizeof(tmp), "%.*s", r.key ? (int)r.key_len : 0, r.key ? (const char *)r.key : "");
        s[n].key = r.key ? atoi(tmp + 1) : -1;
        snprintf(tmp, sizeof(tmp), "%.*s", r.value ? (int)r.value_len : 0,
                 r.value ? (const char *)r.value : "");
        s[n].val = r.value ? atoi(tmp + 1) : -1;
        assert_true(s[n].offset <= batch_last_offset(&h));
        n++;
    }
    assert_true(p == end);
    codec_buf_free(&raw);
    return n;
}

/* Every record the log serves from offset 0, through log_read. */
static inline int read_log(struct log *log, struct seen *out, int max)
{
    int n = 0;
    int64_t off = log_start_offset(log);
    while (off < log_durable_end(log) && n < max) {
        struct log_range r[8];
        int nr = log_read(log, off, 1 << 20, r, 8);
        assert_true(nr > 0);
        int64_t next = off;
        for (int i = 0; i < nr; i++) {
            uint8_t *buf = malloc(r[i].len);
            assert_int_equal(pread(r[i].fd, buf, r[i].len, (off_t)r[i].pos), (ssize_t)r[i].len);
            for (size_t pos = 0; pos + BATCH_HEADER_SIZE <= r[i].len;) {
                struct batch_header h;
                batch_header_decode(buf + pos, &h);
                if (pos + batch_size(&h) > r[i].len)
                    break;
                struct seen tmp[1024];
                int k = read_batch(buf + pos, batch_size(&h), tmp, 1024);
                for (int j = 0; j < k && n < max; j++)
                    if (tmp[j].offset >= off)
                        out[n++] = tmp[j];
                next = batch_last_offset(&h) + 1;
                pos += batch_size(&h);
            }
            free(buf);
        }
        assert_true(next > off);
        off = next;
    }
    return n;
}

#endif
