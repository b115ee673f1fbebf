/* test_batch.c - the RecordBatch v2 codec: crc32c, batch_build, and
 * batch.c's validation, rewriting and timestamp lookup.
 *
 * Every batch handed to the validator is first copied into a heap block of
 * exactly its length, so the sanitize build catches any read past the end.
 * Reference bytes come from sarama's record_batch_test.go (a producer
 * written independently of Kafka's Java client). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/crc32c.h"
#include "storage/kerr.h"

#define BUF_CAP 4096
#define BASE_TS 1700000000000LL

/* ---- helpers ---- */

static void fix_crc(uint8_t *b, size_t len)
{
    be32_store(b + BATCH_OFF_CRC,
               crc32c(b + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

static uint8_t *dup_exact(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    if (len)
        memcpy(copy, buf, len);
    return copy;
}

/* batch_validate on a heap copy of exactly len bytes. */
static int validate_exact(const uint8_t *buf, size_t len, uint32_t max_bytes)
{
    uint8_t *copy = dup_exact(buf, len);
    int err = batch_validate(copy, len, max_bytes);

    free(copy);
    return err;
}

static int validate_set_exact(const uint8_t *buf, size_t len, int *nb,
                              int64_t *nr)
{
    uint8_t *copy = dup_exact(buf, len);
    int err = batch_validate_set(copy, len, 0, nb, nr);

    free(copy);
    return err;
}

/* Five records: headers, a null key, a null value, empty key and value,
 * a value long enough for a two-byte length varint. */
static size_t build_sample(uint8_t *buf, size_t cap)
{
    static uint8_t big[300];
    struct record_header h0[] = {
        { "h1", 2, "v1", 2 },
        { "h2", 2, NULL, 0 },
    };
    struct record_header h3[] = { { "", 0, "x", 1 } };
    struct batch_builder b;

    memset(big, 'B', sizeof(big));
    batch_builder_init(&b, buf, cap, BASE_TS);
    assert_int_equal(batch_builder_add(&b, BASE_TS, "key-0", 5, "value-0",
                                       7, h0, 2), 0);
    assert_int_equal(batch_builder_add(&b, BASE_TS + 1, NULL, 0, "no key",
                                       6, NULL, 0), 0);
    assert_int_equal(batch_builder_add(&b, BASE_TS + 5, "k2", 2, NULL, 0,
                                       NULL, 0), 0);
    assert_int_equal(batch_builder_add(&b, BASE_TS + 3, "", 0, "", 0,
                                       h3, 1), 0);
    assert_int_equal(batch_builder_add(&b, BASE_TS + 10, "k4", 2, big,
                                       sizeof(big), NULL, 0), 0);
    return batch_builder_finish(&b, 0);
}

/* n records of key "k", value "v", no headers, all at BASE_TS: record i
 * is the 9 bytes at simple_rec(i): len 0x10, attr, tsDelta, offsetDelta,
 * keyLen 0x02, 'k', valueLen 0x02, 'v', headerCount. */
static size_t simple_rec(int i)
{
    return BATCH_HEADER_SIZE + 9 * (size_t)i;
}

static size_t build_simple(uint8_t *buf, size_t cap, int n)
{
    struct batch_builder b;

    batch_builder_init(&b, buf, cap, BASE_TS);
    for (int i = 0; i < n; i++)
        assert_int_equal(batch_builder_add(&b, BASE_TS, "k", 1, "v", 1,
                                           NULL, 0), 0);
    size_t len = batch_builder_finish(&b, 0);
    assert_int_equal(len, simple_rec(n));
    assert_int_equal(buf[simple_rec(n - 1)], 0x10);
    assert_int_equal(buf[simple_rec(n - 1) + 3], 2 * (n - 1));
    return len;
}

/* A batch whose records are arbitrary bytes, as a compressed batch is. */
static size_t build_opaque(uint8_t *buf, int16_t attributes, int32_t count,
                           size_t payload)
{
    size_t len = BATCH_HEADER_SIZE + payload;

    memset(buf, 0, BATCH_HEADER_SIZE);
    be64_store(buf + BATCH_OFF_BASE_OFFSET, 77);
    be32_store(buf + BATCH_OFF_LENGTH, (uint32_t)(len - BATCH_LOG_OVERHEAD));
    buf[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    be16_store(buf + BATCH_OFF_ATTRIBUTES, (uint16_t)attributes);
    be32_store(buf + BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
    be64_store(buf + BATCH_OFF_BASE_TIMESTAMP, 800);
    be64_store(buf + BATCH_OFF_MAX_TIMESTAMP, 900);
    be64_store(buf + BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    be32_store(buf + BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
    for (size_t i = 0; i < payload; i++)
        buf[BATCH_HEADER_SIZE + i] = 0xff;
    fix_crc(buf, len);
    return len;
}

/* ---- reference data ---- */

/* sarama "uncompressed record": one record, key {1,2,3,4}, value {5,6,7},
 * header {8,9,10}={11,12}, timestampDelta 5 ms. */
static const uint8_t sarama_plain[] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 0, 2, 84, 121, 97, 253,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 88, 141, 205, 89, 56, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12,
};

/* sarama "lz4 compressed record": the same record, lz4-framed. */
static const uint8_t sarama_lz4[] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 89, 0, 0, 0, 0, 2, 169, 74, 119, 197,
    0, 3, 0, 0, 0, 0, 0, 0, 1, 88, 141, 205, 89, 56, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    4, 34, 77, 24, 100, 112, 185, 21, 0, 0, 128, 40, 0, 10, 0, 8, 1, 2, 3,
    4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12, 0, 0, 0, 0, 12, 59, 239, 146,
};

/* sarama "empty record": a well-formed header with no records. */
static const uint8_t sarama_empty[] = {
    0, 0, 0, 0, 0, 0, 0, 0,     /* baseOffset */
    0, 0, 0, 49,                /* batchLength */
    0, 0, 0, 0,                 /* partitionLeaderEpoch */
    2, 89, 95, 183, 221,        /* magic, crc */
    0, 0, 0, 0, 0, 0,           /* attributes, lastOffsetDelta */
    0, 0, 0, 0, 0, 0, 0, 0,     /* baseTimestamp */
    0, 0, 0, 0, 0, 0, 0, 0,     /* maxTimestamp */
    0, 0, 0, 0, 0, 0, 0, 0,     /* producerId */
    0, 0, 0, 0, 0, 0,           /* producerEpoch, baseSequence */
    0, 0, 0, 0,                 /* recordsCount */
};
_Static_assert(sizeof(sarama_empty) == 61, "sarama_empty");
_Static_assert(sizeof(sarama_plain) == 82, "sarama_plain");
_Static_assert(sizeof(sarama_lz4) == 101, "sarama_lz4");

/* ---- tests ---- */

static void test_crc32c_vector(void **state)
{
    (void)state;
    assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c("", 0), 0);
}

static void test_sarama_vectors(void **state)
{
    (void)state;
    assert_int_equal(validate_exact(sarama_plain, sizeof(sarama_plain), 0),
                     KERR_NONE);
    assert_int_equal(validate_exact(sarama_lz4, sizeof(sarama_lz4), 0),
                     KERR_NONE);
    assert_true(batch_crc_ok(sarama_empty, sizeof(sarama_empty)));
    assert_int_equal(validate_exact(sarama_empty, sizeof(sarama_empty), 0),
                     KERR_INVALID_RECORD);
}

/* The builder encodes byte for byte what sarama encodes. */
static void test_build_matches_sarama(void **state)
{
    const int64_t base = 1479847795000LL;
    const uint8_t key[] = { 1, 2, 3, 4 }, value[] = { 5, 6, 7 };
    const char hkey[] = { 8, 9, 10 };
    const uint8_t hval[] = { 11, 12 };
    struct record_header h = { hkey, 3, hval, 2 };
    struct batch_builder b;
    uint8_t buf[BUF_CAP];

    (void)state;
    batch_builder_init(&b, buf, sizeof(buf), base);
    assert_int_equal(batch_builder_add(&b, base + 5, key, 4, value, 3, &h, 1),
                     0);
    assert_int_equal(batch_builder_finish(&b, 0), sizeof(sarama_plain));
    assert_int_equal(validate_exact(buf, sizeof(sarama_plain), 0), KERR_NONE);
    /* sarama leaves these at 0 where a Java producer writes -1. */
    memset(buf + BATCH_OFF_LEADER_EPOCH, 0, 4);
    memset(buf + BATCH_OFF_MAX_TIMESTAMP, 0, 8);
    memset(buf + BATCH_OFF_PRODUCER_ID, 0, 14); /* id, epoch, seq */
    fix_crc(buf, sizeof(sarama_plain));
    assert_memory_equal(buf, sarama_plain, sizeof(sarama_plain));
}

static void test_build_header_fields(void **state)
{
    uint8_t buf[BUF_CAP];
    struct batch_header h;

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    assert_true(len > BATCH_HEADER_SIZE + 300);
    batch_header_decode(buf, &h);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(batch_size(&h), len);
    assert_int_equal(h.leader_epoch, -1);
    assert_int_equal(h.magic, 2);
    assert_int_equal(h.attributes, 0);
    assert_int_equal(h.last_offset_delta, 4);
    assert_int_equal(h.base_timestamp, BASE_TS);
    assert_int_equal(h.max_timestamp, BASE_TS + 10);
    assert_int_equal(h.producer_id, -1);
    assert_int_equal(h.producer_epoch, -1);
    assert_int_equal(h.base_sequence, -1);
    assert_int_equal(h.records_count, 5);
    assert_int_equal(batch_last_offset(&h), 4);
    assert_true(batch_crc_ok(buf, len));
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
}

static void test_build_simple_layout(void **state)
{
    uint8_t buf[BUF_CAP];
    const uint8_t rec1[] = { 0x10, 0, 0, 2, 2, 'k', 2, 'v', 0 };

    (void)state;
    size_t len = build_simple(buf, sizeof(buf), 3);
    assert_memory_equal(buf + simple_rec(1), rec1, sizeof(rec1));
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
}

static void test_build_enospc(void **state)
{
    uint8_t buf[BATCH_HEADER_SIZE + 20];
    struct batch_builder b;

    (void)state;
    batch_builder_init(&b, buf, sizeof(buf), BASE_TS);
    assert_int_equal(batch_builder_finish(&b, 0), 0); /* empty */
    assert_int_equal(batch_builder_add(&b, BASE_TS, "k", 1, "v", 1, NULL, 0),
                     0);
    assert_int_equal(batch_builder_add(&b, BASE_TS, "k", 1, "v", 1, NULL, 0),
                     0);
    size_t used = b.len;
    assert_int_equal(batch_builder_add(&b, BASE_TS, "k", 1, "v", 1, NULL, 0),
                     -ENOSPC);
    assert_int_equal(b.overflow, 1);
    assert_int_equal(b.len, used);
    assert_int_equal(b.count, 2);
    assert_int_equal(batch_builder_add(&b, BASE_TS, NULL, 0, NULL, 0, NULL,
                                       -1), -EINVAL);
    size_t len = batch_builder_finish(&b, 0);
    assert_int_equal(len, used);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
}

static void test_validate_set_three(void **state)
{
    uint8_t buf[3 * BUF_CAP];
    int nb = 0;
    int64_t nr = 0;

    (void)state;
    size_t a = build_sample(buf, BUF_CAP);
    size_t b = build_simple(buf + a, BUF_CAP, 3);
    size_t c = build_opaque(buf + a + b, BATCH_CODEC_LZ4, 7, 40);
    size_t len = a + b + c;
    assert_int_equal(validate_set_exact(buf, len, &nb, &nr), KERR_NONE);
    assert_int_equal(nb, 3);
    assert_int_equal(nr, 5 + 3 + 7);

    assert_int_equal(validate_set_exact(buf, 0, &nb, &nr),
                     KERR_CORRUPT_MESSAGE);
    /* A partial trailing batch, at every cut of the last batch. */
    for (size_t cut = a + b + 1; cut < len; cut++)
        assert_int_equal(validate_set_exact(buf, cut, &nb, &nr),
                         KERR_CORRUPT_MESSAGE);
    /* A bad batch in the middle fails the whole set. */
    buf[a + 20] ^= 1;
    assert_int_equal(validate_set_exact(buf, len, &nb, &nr),
                     KERR_CORRUPT_MESSAGE);
}

/* Sets the 32-bit field at off of a copy of buf, optionally fixes the
 * CRC, and validates it. */
static int mut32(const uint8_t *buf, size_t len, size_t off, uint32_t v,
                 int fix)
{
    uint8_t copy[BUF_CAP];

    memcpy(copy, buf, len);
    be32_store(copy + off, v);
    if (fix)
        fix_crc(copy, len);
    return validate_exact(copy, len, 0);
}

static int mut8(const uint8_t *buf, size_t len, size_t off, uint8_t v,
                int fix)
{
    uint8_t copy[BUF_CAP];

    memcpy(copy, buf, len);
    copy[off] = v;
    if (fix)
        fix_crc(copy, len);
    return validate_exact(copy, len, 0);
}

static void test_length_field(void **state)
{
    uint8_t buf[BUF_CAP];
    const size_t off = BATCH_OFF_LENGTH;

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    uint32_t ok = (uint32_t)(len - BATCH_LOG_OVERHEAD);
    assert_int_equal(mut32(buf, len, off, ok, 0), KERR_NONE);
    assert_int_equal(mut32(buf, len, off, ok + 1, 0), KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut32(buf, len, off, ok - 1, 0), KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut32(buf, len, off, 0, 0), KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut32(buf, len, off, 0x7fffffff, 0),
                     KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut32(buf, len, off, 0x80000000u, 0),
                     KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut32(buf, len, off, 0xffffffffu, 0),
                     KERR_CORRUPT_MESSAGE);

    /* Consistent with len but shorter than a v2 header. */
    uint8_t small[BATCH_HEADER_SIZE];
    memcpy(small, buf, sizeof(small));
    for (size_t n = BATCH_OFF_MAGIC + 1; n < BATCH_HEADER_SIZE; n++) {
        be32_store(small + off, (uint32_t)(n - BATCH_LOG_OVERHEAD));
        assert_int_equal(validate_exact(small, n, 0), KERR_CORRUPT_MESSAGE);
    }
}

static void test_absurd_lengths_in_set(void **state)
{
    uint8_t buf[BUF_CAP];
    int nb;
    int64_t nr;
    const uint32_t bad[] = { 0x7fffffff, 0x80000000u, 0xffffffffu,
                             0xfffffff4u, 4096 };

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        be32_store(buf + BATCH_OFF_LENGTH, bad[i]);
        assert_int_equal(validate_set_exact(buf, len, &nb, &nr),
                         KERR_CORRUPT_MESSAGE);
        assert_int_equal(validate_set_exact(buf, 12, &nb, &nr),
                         KERR_CORRUPT_MESSAGE);
    }
    for (size_t n = 1; n < BATCH_LOG_OVERHEAD; n++)
        assert_int_equal(validate_set_exact(buf, n, &nb, &nr),
                         KERR_CORRUPT_MESSAGE);
}

static void test_magic(void **state)
{
    uint8_t buf[BUF_CAP];
    int nb;
    int64_t nr;

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    const uint8_t magics[] = { 0, 1, 3, 0xff };
    for (size_t i = 0; i < sizeof(magics); i++) {
        assert_int_equal(mut8(buf, len, BATCH_OFF_MAGIC, magics[i], 0),
                         KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
        assert_int_equal(mut8(buf, len, BATCH_OFF_MAGIC, magics[i], 1),
                         KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    }

    /* A real magic 1 message: offset, size 27, crc, magic, attributes,
     * timestamp, null key, value "hello" (39 bytes, under 61). */
    uint8_t v1[39] = { 0 };
    be32_store(v1 + 8, 27);
    v1[16] = 1;
    be32_store(v1 + 26, 0xffffffffu);
    be32_store(v1 + 30, 5);
    memcpy(v1 + 34, "hello", 5);
    assert_int_equal(validate_exact(v1, sizeof(v1), 0),
                     KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    assert_int_equal(validate_set_exact(v1, sizeof(v1), &nb, &nr),
                     KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
}

static void test_crc_and_attributes(void **state)
{
    uint8_t buf[BUF_CAP];

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    uint8_t c0 = buf[BATCH_OFF_CRC];
    assert_int_equal(mut8(buf, len, BATCH_OFF_CRC, c0 ^ 0x01, 0),
                     KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut8(buf, len, BATCH_OFF_CRC + 3, 0, 0),
                     KERR_CORRUPT_MESSAGE);
    /* Attributes, lastOffsetDelta, a timestamp, a record byte: covered. */
    assert_int_equal(mut8(buf, len, BATCH_OFF_ATTRIBUTES + 1,
                          BATCH_ATTR_TRANSACTIONAL, 0), KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut8(buf, len, BATCH_OFF_LAST_OFFSET_DELTA + 3, 9, 0),
                     KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut8(buf, len, BATCH_OFF_MAX_TIMESTAMP + 7, 9, 0),
                     KERR_CORRUPT_MESSAGE);
    assert_int_equal(mut8(buf, len, len - 1, 'C', 0), KERR_CORRUPT_MESSAGE);
    /* Attributes with a fixed CRC: transactional is fine, codec 5-7 not. */
    assert_int_equal(mut8(buf, len, BATCH_OFF_ATTRIBUTES + 1,
                          BATCH_ATTR_TRANSACTIONAL, 1), KERR_NONE);
    for (uint8_t codec = 5; codec <= 7; codec++)
        assert_int_equal(mut8(buf, len, BATCH_OFF_ATTRIBUTES + 1, codec, 1),
                         KERR_CORRUPT_MESSAGE);
    /* Fields outside the CRC: baseOffset (even negative) and the epoch. */
    assert_int_equal(mut32(buf, len, BATCH_OFF_BASE_OFFSET, 0xffffffffu, 0),
                     KERR_NONE);
    assert_int_equal(mut32(buf, len, BATCH_OFF_LEADER_EPOCH, 12345, 0),
                     KERR_NONE);
    assert_false(batch_crc_ok(buf, BATCH_HEADER_SIZE - 1));
}

static void test_counts(void **state)
{
    uint8_t buf[BUF_CAP];
    const size_t lod = BATCH_OFF_LAST_OFFSET_DELTA;
    const size_t cnt = BATCH_OFF_RECORDS_COUNT;

    (void)state;
    size_t len = build_simple(buf, sizeof(buf), 3);
    assert_int_equal(mut32(buf, len, lod, 3, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut32(buf, len, lod, 1, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut32(buf, len, lod, 0xffffffffu, 1),
                     KERR_INVALID_RECORD);
    assert_int_equal(mut32(buf, len, cnt, 0, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut32(buf, len, cnt, 4, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut32(buf, len, cnt, 0x80000000u, 1),
                     KERR_INVALID_RECORD);

    /* Both consistent, but not with the records. */
    uint8_t copy[BUF_CAP];
    memcpy(copy, buf, len);
    be32_store(copy + lod, 0xffffffffu);
    be32_store(copy + cnt, 0);
    fix_crc(copy, len);
    assert_int_equal(validate_exact(copy, len, 0), KERR_INVALID_RECORD);
    be32_store(copy + lod, 3);
    be32_store(copy + cnt, 4); /* more records claimed than present */
    fix_crc(copy, len);
    assert_int_equal(validate_exact(copy, len, 0), KERR_INVALID_RECORD);
    be32_store(copy + lod, 1);
    be32_store(copy + cnt, 2); /* fewer: bytes left after the last */
    fix_crc(copy, len);
    assert_int_equal(validate_exact(copy, len, 0), KERR_INVALID_RECORD);
    be32_store(copy + lod, 0x7ffffffe);
    be32_store(copy + cnt, 0x7fffffff);
    fix_crc(copy, len);
    assert_int_equal(validate_exact(copy, len, 0), KERR_INVALID_RECORD);
}

static void test_record_framing(void **state)
{
    uint8_t buf[BUF_CAP];
    const size_t r0 = simple_rec(0), r1 = simple_rec(1), r2 = simple_rec(2);

    (void)state;
    size_t len = build_simple(buf, sizeof(buf), 3);
    /* The length varint: longer, shorter, negative, zero. */
    assert_int_equal(mut8(buf, len, r0, 0x12, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r1, 0x0e, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r2, 0x12, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r2, 0x01, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r2, 0x7f, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r0, 0x00, 1), KERR_INVALID_RECORD);
    /* offsetDelta out of order. */
    assert_int_equal(mut8(buf, len, r0 + 3, 2, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r1 + 3, 0, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r2 + 3, 6, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r1 + 3, 1, 1), KERR_INVALID_RECORD);
    /* keyLength: past the record, past the batch, below -1, null. */
    assert_int_equal(mut8(buf, len, r0 + 4, 0x06, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r2 + 4, 0x7e, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r1 + 4, 0x03, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r1 + 4, 0x01, 1), KERR_INVALID_RECORD);
    /* valueLength past the end. */
    assert_int_equal(mut8(buf, len, r2 + 6, 0x04, 1), KERR_INVALID_RECORD);
    /* Header count: too large, negative. */
    assert_int_equal(mut8(buf, len, r0 + 8, 0x02, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r2 + 8, 0x7e, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, r1 + 8, 0x01, 1), KERR_INVALID_RECORD);
    /* A varint with five continuation bytes. */
    uint8_t copy[BUF_CAP];
    memcpy(copy, buf, len);
    memset(copy + r0, 0x80, 5);
    fix_crc(copy, len);
    assert_int_equal(validate_exact(copy, len, 0), KERR_INVALID_RECORD);
    /* A varlong timestampDelta with ten continuation bytes. */
    memcpy(copy, buf, len);
    memset(copy + r0 + 2, 0xff, 10);
    fix_crc(copy, len);
    assert_int_equal(validate_exact(copy, len, 0), KERR_INVALID_RECORD);
}

static void test_header_framing(void **state)
{
    uint8_t buf[BUF_CAP];
    struct record_header h = { "h", 1, "x", 1 };
    struct batch_builder b;
    /* len, attr, tsDelta, offsetDelta, 02 'k', 02 'v', 02 (1 header),
     * 02 'h', 02 'x' */
    const size_t hk = BATCH_HEADER_SIZE + 9, hv = BATCH_HEADER_SIZE + 11;

    (void)state;
    batch_builder_init(&b, buf, sizeof(buf), BASE_TS);
    assert_int_equal(batch_builder_add(&b, BASE_TS, "k", 1, "v", 1, &h, 1),
                     0);
    size_t len = batch_builder_finish(&b, 0);
    assert_int_equal(len, BATCH_HEADER_SIZE + 13);
    assert_int_equal(buf[hk], 0x02);
    assert_int_equal(buf[hv], 0x02);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
    assert_int_equal(mut8(buf, len, hk, 0x01, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, hk, 0x03, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, hk, 0x08, 1), KERR_INVALID_RECORD);
    /* A null header value leaves 'x' unread inside the record. */
    assert_int_equal(mut8(buf, len, hv, 0x01, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, hv, 0x04, 1), KERR_INVALID_RECORD);
    assert_int_equal(mut8(buf, len, hv, 0x00, 1), KERR_INVALID_RECORD);
}

static size_t build_timed(uint8_t *buf, const int64_t *ts, int n)
{
    struct batch_builder b;

    batch_builder_init(&b, buf, BUF_CAP, ts[0]);
    for (int i = 0; i < n; i++)
        assert_int_equal(batch_builder_add(&b, ts[i], "k", 1, "v", 1,
                                           NULL, 0), 0);
    size_t len = batch_builder_finish(&b, 0);
    batch_assign(buf, 50, 0, -1);
    return len;
}

static void expect_ts(const uint8_t *buf, size_t len, int64_t query,
                      int64_t want_off, int64_t want_ts)
{
    int64_t off = -7, ts = -7;
    uint8_t *copy = dup_exact(buf, len);
    int rc = batch_find_timestamp(copy, len, query, &off, &ts);

    free(copy);
    if (want_off < 0) {
        assert_int_equal(rc, -1);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(off, want_off);
    assert_int_equal(ts, want_ts);
}

/* Ten-byte timestamp deltas: the extremes decode, an eleventh byte is
 * refused. Record 0: len, attr, tsDelta (10 bytes), offsetDelta, ... */
static void test_varlong_extremes(void **state)
{
    uint8_t buf[BUF_CAP];
    struct batch_builder b;
    const size_t tsd = BATCH_HEADER_SIZE + 2;

    (void)state;
    batch_builder_init(&b, buf, sizeof(buf), 0);
    assert_int_equal(batch_builder_add(&b, INT64_MIN, "k", 1, "v", 1, NULL,
                                       0), 0);
    assert_int_equal(batch_builder_add(&b, INT64_MAX, "k", 1, "v", 1, NULL,
                                       0), 0);
    size_t len = batch_builder_finish(&b, 0);
    assert_int_equal(buf[tsd + 8], 0xff);
    assert_int_equal(buf[tsd + 9], 0x01);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
    expect_ts(buf, len, INT64_MIN, 0, INT64_MIN);
    expect_ts(buf, len, INT64_MIN + 1, 1, INT64_MAX);
    expect_ts(buf, len, INT64_MAX, 1, INT64_MAX);
    assert_int_equal(mut8(buf, len, tsd + 9, 0x81, 1), KERR_INVALID_RECORD);
}

static void test_truncated(void **state)
{
    uint8_t buf[BUF_CAP];
    int nb;
    int64_t nr, off, ts;

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    for (size_t n = 0; n < len; n++) {
        assert_int_not_equal(validate_exact(buf, n, 0), KERR_NONE);
        assert_int_equal(validate_set_exact(buf, n, &nb, &nr),
                         KERR_CORRUPT_MESSAGE);
        uint8_t *copy = dup_exact(buf, n);
        batch_find_timestamp(copy, n, 0, &off, &ts);
        batch_crc_ok(copy, n);
        free(copy);
    }
    /* Truncated with batchLength (and CRC) patched to agree: only the
     * record walk can tell. */
    for (size_t n = BATCH_OFF_MAGIC + 1; n < len; n++) {
        uint8_t copy[BUF_CAP];
        memcpy(copy, buf, n);
        be32_store(copy + BATCH_OFF_LENGTH, (uint32_t)(n - 12));
        if (n >= BATCH_HEADER_SIZE)
            fix_crc(copy, n);
        int want = n < BATCH_HEADER_SIZE ? KERR_CORRUPT_MESSAGE
                                         : KERR_INVALID_RECORD;
        assert_int_equal(validate_exact(copy, n, 0), want);
        uint8_t *exact = dup_exact(copy, n);
        batch_find_timestamp(exact, n, BASE_TS + 100, &off, &ts);
        free(exact);
    }
}

static void test_too_large(void **state)
{
    uint8_t buf[2 * BUF_CAP];
    size_t a, b;

    (void)state;
    a = build_sample(buf, BUF_CAP);
    b = build_simple(buf + a, BUF_CAP, 2);
    assert_int_equal(validate_exact(buf, a, (uint32_t)a), KERR_NONE);
    assert_int_equal(validate_exact(buf, a, 0), KERR_NONE);
    assert_int_equal(validate_exact(buf, a, (uint32_t)a - 1),
                     KERR_MESSAGE_TOO_LARGE);
    assert_int_equal(validate_exact(buf, a, 1), KERR_MESSAGE_TOO_LARGE);
    /* The limit is per batch, not per set. */
    assert_int_equal(batch_validate_set(buf, a + b, (uint32_t)a, NULL, NULL),
                     KERR_NONE);
    assert_int_equal(batch_validate_set(buf, a + b, (uint32_t)b, NULL, NULL),
                     KERR_MESSAGE_TOO_LARGE);
}

static void test_compressed(void **state)
{
    uint8_t buf[BUF_CAP];
    int nb;
    int64_t nr;

    (void)state;
    for (int16_t codec = 1; codec <= 4; codec++) {
        size_t len = build_opaque(buf, codec, 5, 37);
        assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
        assert_int_equal(validate_set_exact(buf, len, &nb, &nr), KERR_NONE);
        assert_int_equal(nb, 1);
        assert_int_equal(nr, 5);
    }
    size_t len = build_opaque(buf, BATCH_CODEC_LZ4, 1, 0);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
    /* Counts are still checked; the same bytes uncompressed are walked. */
    len = build_opaque(buf, BATCH_CODEC_LZ4, 0, 37);
    assert_int_equal(validate_exact(buf, len, 0), KERR_INVALID_RECORD);
    len = build_opaque(buf, BATCH_CODEC_NONE, 5, 37);
    assert_int_equal(validate_exact(buf, len, 0), KERR_INVALID_RECORD);
    len = build_opaque(buf, 7, 5, 37);
    assert_int_equal(validate_exact(buf, len, 0), KERR_CORRUPT_MESSAGE);
}

static void test_control_batch(void **state)
{
    uint8_t buf[BUF_CAP];
    const uint8_t key[] = { 0, 0, 0, 1 };          /* version 0, COMMIT */
    const uint8_t value[] = { 0, 0, 0, 0, 0, 0 }; /* version, epoch */
    struct batch_builder b;

    (void)state;
    batch_builder_init(&b, buf, sizeof(buf), BASE_TS);
    assert_int_equal(batch_builder_add(&b, BASE_TS, key, 4, value, 6, NULL, 0),
                     0);
    size_t len = batch_builder_finish(&b, BATCH_ATTR_TRANSACTIONAL |
                                              BATCH_ATTR_CONTROL);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
}

static void test_assign(void **state)
{
    uint8_t buf[BUF_CAP], orig[BUF_CAP];
    struct batch_header h;

    (void)state;
    size_t len = build_sample(buf, sizeof(buf));
    be64_store(buf, (uint64_t)-42); /* producer-supplied, ignored */
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
    memcpy(orig, buf, len);

    batch_assign(buf, 1000, 7, -1);
    batch_header_decode(buf, &h);
    assert_int_equal(h.base_offset, 1000);
    assert_int_equal(h.leader_epoch, 7);
    assert_int_equal(batch_last_offset(&h), 1004);
    assert_memory_equal(buf + BATCH_OFF_MAGIC, orig + BATCH_OFF_MAGIC,
                        len - BATCH_OFF_MAGIC);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);

    const int64_t now = BASE_TS + 60000;
    batch_assign(buf, 2000, 8, now);
    batch_header_decode(buf, &h);
    assert_int_equal(h.base_offset, 2000);
    assert_int_equal(h.leader_epoch, 8);
    assert_int_equal(h.attributes, BATCH_ATTR_LOG_APPEND_TIME);
    assert_int_equal(h.max_timestamp, now);
    assert_int_equal(h.base_timestamp, BASE_TS);
    assert_int_not_equal(h.crc, be32_load(orig + BATCH_OFF_CRC));
    assert_true(batch_crc_ok(buf, len));
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
    assert_memory_equal(buf + BATCH_HEADER_SIZE, orig + BATCH_HEADER_SIZE,
                        len - BATCH_HEADER_SIZE);

    /* Stamping again with the same time changes nothing but offsets. */
    memcpy(orig, buf, len);
    batch_assign(buf, 3000, 8, now);
    assert_memory_equal(buf + BATCH_OFF_LEADER_EPOCH,
                        orig + BATCH_OFF_LEADER_EPOCH,
                        len - BATCH_OFF_LEADER_EPOCH);
    /* A compressed batch keeps its attributes' codec bits. */
    len = build_opaque(buf, BATCH_CODEC_ZSTD, 3, 20);
    batch_assign(buf, 5, 1, now);
    batch_header_decode(buf, &h);
    assert_int_equal(h.attributes,
                     BATCH_CODEC_ZSTD | BATCH_ATTR_LOG_APPEND_TIME);
    assert_int_equal(validate_exact(buf, len, 0), KERR_NONE);
}

static void test_find_timestamp(void **state)
{
    uint8_t buf[BUF_CAP];
    const int64_t up[] = { 100, 200, 300, 400 };
    const int64_t mixed[] = { 100, 300, 200 };

    (void)state;
    size_t len = build_timed(buf, up, 4);
    expect_ts(buf, len, 0, 50, 100);
    expect_ts(buf, len, 100, 50, 100);
    expect_ts(buf, len, 101, 51, 200);
    expect_ts(buf, len, 250, 52, 300);
    expect_ts(buf, len, 400, 53, 400);
    expect_ts(buf, len, 401, -1, 0);

    /* The first record in offset order, not the nearest timestamp. */
    len = build_timed(buf, mixed, 3);
    expect_ts(buf, len, 150, 51, 300);
    expect_ts(buf, len, 250, 51, 300);
    expect_ts(buf, len, 301, -1, 0);

    /* LogAppendTime: every record is at maxTimestamp. */
    batch_assign(buf, 50, 0, 5000);
    expect_ts(buf, len, 0, 50, 5000);
    expect_ts(buf, len, 5000, 50, 5000);
    expect_ts(buf, len, 5001, -1, 0);

    /* Compressed: the base offset, by maxTimestamp. */
    len = build_opaque(buf, BATCH_CODEC_LZ4, 4, 30);
    expect_ts(buf, len, 10, 77, 900);
    expect_ts(buf, len, 900, 77, 900);
    expect_ts(buf, len, 901, -1, 0);
    expect_ts(buf, BATCH_HEADER_SIZE - 1, 0, -1, 0);
}

/* Recomputes the CRC of every batch whose frame can be walked, so that
 * mutations reach the record walker instead of failing the CRC. */
static void fix_all_crcs(uint8_t *buf, size_t len)
{
    size_t pos = 0;

    while (len - pos >= BATCH_HEADER_SIZE) {
        uint32_t l = be32_load(buf + pos + BATCH_OFF_LENGTH);
        if (l > len - pos - BATCH_LOG_OVERHEAD || l + 12 < BATCH_HEADER_SIZE)
            return;
        fix_crc(buf + pos, l + 12);
        pos += l + 12;
    }
}

static void mutate(uint8_t *buf, size_t len)
{
    static const uint8_t special[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe };
    int n = 1 + rand() % 4;

    for (int i = 0; i < n; i++) {
        size_t at = (size_t)rand() % len;
        switch (rand() % 3) {
        case 0: buf[at] = (uint8_t)rand(); break;
        case 1: buf[at] = special[rand() % (int)sizeof(special)]; break;
        default: buf[at] ^= (uint8_t)(1u << (rand() % 8)); break;
        }
    }
}

static void test_random_mutations(void **state)
{
    uint8_t set[3 * BUF_CAP];
    int valid = 0, invalid = 0;

    (void)state;
    size_t a = build_sample(set, BUF_CAP);
    size_t b = build_simple(set + a, BUF_CAP, 4);
    size_t c = build_opaque(set + a + b, BATCH_CODEC_LZ4, 3, 25);
    size_t full = a + b + c;

    srand(20240611);
    for (int iter = 0; iter < 5000; iter++) {
        size_t len = full;
        if (rand() % 10 == 0)
            len = (size_t)rand() % full + 1;
        uint8_t *m = dup_exact(set, len);
        mutate(m, len);
        if (rand() % 2)
            fix_all_crcs(m, len);

        int nb;
        int64_t nr, off, ts;
        int err = batch_validate_set(m, len, 0, &nb, &nr);
        batch_validate(m, len, 0);
        batch_find_timestamp(m, len, BASE_TS + rand() % 20, &off, &ts);
        if (err == KERR_NONE) {
            valid++;
            /* Whatever was accepted stays valid once assigned. */
            for (size_t pos = 0; pos < len;) {
                size_t sz = be32_load(m + pos + BATCH_OFF_LENGTH) + 12u;
                batch_assign(m + pos, iter, 1, iter % 2 ? BASE_TS : -1);
                assert_int_equal(batch_validate(m + pos, sz, 0), KERR_NONE);
                pos += sz;
            }
        } else {
            invalid++;
        }
        free(m);
    }
    assert_true(valid > 0);
    assert_true(invalid > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vector),
        cmocka_unit_test(test_sarama_vectors),
        cmocka_unit_test(test_build_matches_sarama),
        cmocka_unit_test(test_build_header_fields),
        cmocka_unit_test(test_build_simple_layout),
        cmocka_unit_test(test_build_enospc),
        cmocka_unit_test(test_validate_set_three),
        cmocka_unit_test(test_length_field),
        cmocka_unit_test(test_absurd_lengths_in_set),
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_crc_and_attributes),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_record_framing),
        cmocka_unit_test(test_header_framing),
        cmocka_unit_test(test_varlong_extremes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_control_batch),
        cmocka_unit_test(test_assign),
        cmocka_unit_test(test_find_timestamp),
        cmocka_unit_test(test_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
