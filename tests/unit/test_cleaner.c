/* test_cleaner.c - log compaction in storage/: the offset map, the codecs
 * (gzip checked against zlib), the batch filter (every codec, headers,
 * tombstones and their delete horizon, producer fields and the
 * transactional bit, control batches), whole clean jobs with grouping and
 * the swap, the recovery of interrupted swaps, DeleteRecords and its
 * checkpoint; transactions on a compacted log (the cleaner stops at the
 * last stable offset, removes aborted data without letting it supersede
 * committed values, keeps markers and .txnindex entries while their
 * transaction has data, then markers until their delete horizon). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/wait.h>
#include <zlib.h>

#include "storage/log_private.h"
#include "storage/offset_map.h"
#include "cleaner_fixture.h"
#include "storage_fixture.h"

/* ---- offset map ---- */

static void test_offset_map(void **state)
{
    (void)state;
    struct offset_map m;
    assert_int_equal(offset_map_init(&m, 1000 * OFFSET_MAP_ENTRY_SIZE), 0);
    assert_int_equal(offset_map_get(&m, "a", 1), -1);
    assert_int_equal(offset_map_put(&m, "a", 1, 5), 0);
    assert_int_equal(offset_map_put(&m, "a", 1, 3), 0); /* older: ignored */
    assert_int_equal(offset_map_get(&m, "a", 1), 5);
    assert_int_equal(offset_map_put(&m, "a", 1, 9), 0);
    assert_int_equal(offset_map_get(&m, "a", 1), 9);
    assert_int_equal(offset_map_get(&m, "b", 1), -1);
    size_t cap = offset_map_capacity(&m);
    assert_int_equal(cap, 750);
    char k[16];
    for (size_t i = 1; i < cap; i++) {
        int kl = snprintf(k, sizeof(k), "key%zu", i);
        assert_int_equal(offset_map_put(&m, k, (size_t)kl, (int64_t)i), 0);
    }
    assert_int_equal(offset_map_put(&m, "one-too-many", 12, 1), -ENOSPC);
    assert_int_equal(offset_map_put(&m, "a", 1, 10), 0); /* known keys still move */
    for (size_t i = 1; i < cap; i++) {
        int kl = snprintf(k, sizeof(k), "key%zu", i);
        assert_int_equal(offset_map_get(&m, k, (size_t)kl), (int64_t)i);
    }
    offset_map_clear(&m);
    assert_int_equal(offset_map_get(&m, "a", 1), -1);
    offset_map_close(&m);
}

/* ---- live bits ---- */

static void test_live_bits(void **state)
{
    (void)state;
    struct live_bits lb;
    int64_t live, tombs;
    live_bits_init(&lb, 100, 4 * 16); /* 4 blocks: offsets 100..355 */
    assert_false(live_bits_covers(&lb, 100, 100));
    live_bits_set(&lb, 100, false);
    live_bits_set(&lb, 101, true);
    live_bits_set(&lb, 170, false);
    live_bits_reach(&lb, 199);
    assert_true(live_bits_covers(&lb, 100, 199));
    assert_false(live_bits_covers(&lb, 99, 150));
    assert_false(live_bits_covers(&lb, 150, 200));
    assert_true(live_bits_test(&lb, 100));
    assert_false(live_bits_test(&lb, 102)); /* a gap, or a keyless record */
    live_bits_count(&lb, 100, 199, &live, &tombs);
    assert_int_equal(live, 3);
    assert_int_equal(tombs, 1);
    live_bits_count(&lb, 101, 169, &live, &tombs);
    assert_int_equal(live, 1);
    assert_int_equal(tombs, 1);
    live_bits_clear(&lb, 101); /* superseded: no longer a live tombstone */
    live_bits_count(&lb, 100, 199, &live, &tombs);
    assert_int_equal(live, 2);
    assert_int_equal(tombs, 0);
    live_bits_clear(&lb, 5000); /* not covered: nothing */
    /* The memory limit: coverage stops where it was, for good. */
    live_bits_set(&lb, 355, false);
    assert_true(live_bits_covers(&lb, 100, 355));
    live_bits_set(&lb, 356, false);
    live_bits_set(&lb, 357, false);
    assert_false(live_bits_covers(&lb, 356, 356));
    assert_true(live_bits_covers(&lb, 300, 355));
    live_bits_count(&lb, 100, 355, &live, &tombs);
    assert_int_equal(live, 3);
    /* The map pass stopped early: coverage is cut there. */
    live_bits_cut(&lb, 171);
    assert_false(live_bits_covers(&lb, 100, 171));
    assert_true(live_bits_covers(&lb, 100, 170));
    assert_false(live_bits_unreadable(&lb, 100));
    assert_int_equal(live_bits_note_unreadable(&lb, 120), 0);
    assert_int_equal(live_bits_note_unreadable(&lb, 150), 0);
    assert_true(live_bits_unreadable(&lb, 150));
    assert_false(live_bits_unreadable(&lb, 130));
    live_bits_close(&lb);
}

/* ---- the transactions' walk ---- */

static struct batch_header txn_header(int64_t pid, int64_t base, int32_t records)
{
    return (struct batch_header){ .base_offset = base, .last_offset_delta = records - 1,
                                  .records_count = records, .producer_id = pid,
                                  .attributes = BATCH_ATTR_TRANSACTIONAL };
}

/* Data of an aborted transaction is ABORTED up to its marker's offset and
 * no further: a producer's later data is its own, even when the marker is
 * not among the batches (an earlier clean removed it past its horizon). */
static void test_txns_walk(void **state)
{
    (void)state;
    struct aborted_txn ab[2] = { { .pid = 7, .first_offset = 10, .last_offset = 20 },
                                 { .pid = 8, .first_offset = 12, .last_offset = 40 } };
    struct clean_txns t;
    enum clean_txn_fate fate;
    const struct aborted_txn *e;
    clean_txns_init(&t, ab, 2);
    struct batch_header h = txn_header(9, 5, 3);   /* another producer's, committed */
    assert_int_equal(clean_txns_on_batch(&t, NULL, 0, &h, &fate, &e), 0);
    assert_int_equal(fate, CLEAN_TXN_NONE);
    h = txn_header(7, 10, 4);
    assert_int_equal(clean_txns_on_batch(&t, NULL, 0, &h, &fate, &e), 0);
    assert_int_equal(fate, CLEAN_TXN_ABORTED);
    h = txn_header(8, 14, 2);
    assert_int_equal(clean_txns_on_batch(&t, NULL, 0, &h, &fate, &e), 0);
    assert_int_equal(fate, CLEAN_TXN_ABORTED);
    /* pid 7's marker at 20 is gone; its data at 30 is a later transaction */
    h = txn_header(7, 30, 2);
    assert_int_equal(clean_txns_on_batch(&t, NULL, 0, &h, &fate, &e), 0);
    assert_int_equal(fate, CLEAN_TXN_NONE);
    h = txn_header(8, 35, 2);                       /* still before pid 8's marker */
    assert_int_equal(clean_txns_on_batch(&t, NULL, 0, &h, &fate, &e), 0);
    assert_int_equal(fate, CLEAN_TXN_ABORTED);
    h = txn_header(8, 41, 1);
    assert_int_equal(clean_txns_on_batch(&t, NULL, 0, &h, &fate, &e), 0);
    assert_int_equal(fate, CLEAN_TXN_NONE);
    clean_txns_free(&t);
}

/* ---- codecs ---- */

static void test_codecs_roundtrip(void **state)
{
    (void)state;
    uint8_t in[200000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)((i * 7) % 251 < 128 ? 'a' + i % 13 : i % 256);
    for (int codec = 1; codec <= 4; codec++) {
        for (int fr = 0; fr < 2; fr++) {
            struct codec_buf c = { 0 }, d = { 0 };
            enum codec_framing got;
            assert_int_equal(batch_codec_compress(codec, in, sizeof(in), &c, fr), 0);
            assert_int_equal(batch_codec_decompress(codec, c.data, c.len, &d, sizeof(in), &got),
                             0);
            assert_int_equal(d.len, sizeof(in));
            assert_memory_equal(d.data, in, sizeof(in));
            if (codec == BATCH_CODEC_SNAPPY)
                assert_int_equal(got, fr);
            /* Bounded: one byte short is refused, and garbage is an error. */
            d.len = 0;
            assert_int_equal(batch_codec_decompress(codec, c.data, c.len, &d, sizeof(in) - 1,
                                                    NULL), -E2BIG);
            c.data[c.len / 2] ^= 0x5a;
            c.len = c.len * 3 / 4;
            d.len = 0;
            assert_true(batch_codec_decompress(codec, c.data, c.len, &d, sizeof(in), NULL) < 0);
            codec_buf_free(&c);
            codec_buf_free(&d);
        }
    }
}

/* gzip interoperates with zlib both ways (what Java and librdkafka use). */
static void test_gzip_zlib(void **state)
{
    (void)state;
    const char *text = "the quick brown fox jumps over the lazy dog; again and again";
    uint8_t z[512];
    z_stream s = { 0 };
    assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (Bytef *)text;
    s.avail_in = (uInt)strlen(text);
    s.next_out = z;
    s.avail_out = sizeof(z);
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t zlen = sizeof(z) - s.avail_out;
    deflateEnd(&s);
    struct codec_buf d = { 0 }, c = { 0 };
    assert_int_equal(batch_codec_decompress(BATCH_CODEC_GZIP, z, zlen, &d, 1 << 20, NULL), 0);
    assert_int_equal(d.len, strlen(text));
    assert_memory_equal(d.data, text, d.len);
    assert_int_equal(batch_codec_compress(BATCH_CODEC_GZIP, (const uint8_t *)text, strlen(text),
                                          &c, 0), 0);
    char back[512];
    z_stream i = { 0 };
    assert_int_equal(inflateInit2(&i, 15 + 16), Z_OK);
    i.next_in = c.data;
    i.avail_in = (uInt)c.len;
    i.next_out = (Bytef *)back;
    i.avail_out = sizeof(back);
    assert_int_equal(inflate(&i, Z_FINISH), Z_STREAM_END);
    assert_int_equal(sizeof(back) - i.avail_out, strlen(text));
    assert_memory_equal(back, text, strlen(text));
    inflateEnd(&i);
    codec_buf_free(&c);
    codec_buf_free(&d);
}

/* ---- the filter ---- */

static void test_filter_every_codec(void **state)
{
    (void)state;
    /* keys 0..4, key 1 twice, key 3 a tombstone, one keyless record */
    int keys[] = { 0, 1, 2, 1, 3, -1, 4 };
    int vals[] = { 10, 11, 12, 13, -1, 15, 16 };
    for (int codec = 0; codec <= 4; codec++) {
        uint8_t b[65536];
        size_t len = make_batch(b, sizeof(b), 7, keys, vals, codec, BATCH_ATTR_TRANSACTIONAL,
                                42);
        be64_store(b + BATCH_OFF_BASE_OFFSET, 1000);
        be32_store(b + BATCH_OFF_LEADER_EPOCH, 3);
        struct offset_map m;
        assert_int_equal(offset_map_init(&m, 1 << 16), 0);
        assert_int_equal(offset_map_put(&m, "k0", 2, 1000), 0);
        assert_int_equal(offset_map_put(&m, "k1", 2, 1003), 0);
        assert_int_equal(offset_map_put(&m, "k2", 2, 5000), 0); /* superseded later */
        assert_int_equal(offset_map_put(&m, "k3", 2, 1004), 0);
        struct clean_policy p = { .map = &m, .map_end = INT64_MAX, .now_ms = NOW,
                                  .delete_retention_ms = 1000 };
        struct clean_scratch s = { 0 };
        struct codec_buf out = { 0 };
        struct clean_stats st = { .next_horizon_ms = INT64_MAX };
        assert_int_equal(clean_filter_batch(b, len, &p, &s, &out, &st), 0);
        struct batch_header h, o;
        batch_header_decode(b, &h);
        batch_header_decode(out.data, &o);
        assert_int_equal(out.len, batch_size(&o));
        assert_true(batch_crc_ok(out.data, out.len));
        assert_int_equal(o.base_offset, 1000);
        assert_int_equal(o.last_offset_delta, 6);
        assert_int_equal(o.records_count, 4);
        assert_int_equal(o.producer_id, 42);
        assert_int_equal(o.producer_epoch, 7);
        assert_int_equal(o.base_sequence, 100);
        assert_int_equal(o.leader_epoch, 3);
        assert_int_equal(o.attributes & BATCH_ATTR_CODEC_MASK, codec);
        assert_true(o.attributes & BATCH_ATTR_TRANSACTIONAL);
        assert_true(o.attributes & BATCH_ATTR_DELETE_HORIZON); /* a tombstone kept */
        assert_int_equal(o.base_timestamp, NOW + 1000);
        assert_int_equal(st.records_removed, 3);
        assert_int_equal(st.next_horizon_ms, NOW + 1000);
        struct seen r[8];
        assert_int_equal(read_batch(out.data, out.len, r, 8), 4);
        int64_t want_off[] = { 1000, 1003, 1004, 1006 };
        int want_key[] = { 0, 1, 3, 4 }, want_val[] = { 10, 13, -1, 16 };
        for (int i = 0; i < 4; i++) {
            assert_int_equal(r[i].offset, want_off[i]);
            assert_int_equal(r[i].key, want_key[i]);
            assert_int_equal(r[i].val, want_val[i]);
        }
        /* Timestamps survive the re-based deltas: record 1003 was NOW+3. */
        const uint8_t *rp = out.data + BATCH_HEADER_SIZE, *re = out.data + out.len;
        struct codec_buf raw = { 0 };
        if (codec) {
            batch_codec_decompress(codec, rp, out.len - BATCH_HEADER_SIZE, &raw, 1 << 20, NULL);
            rp = raw.data;
            re = raw.data + raw.len;
        }
        struct record_view rv;
        batch_record_next(&rp, re, &rv);
        batch_record_next(&rp, re, &rv);
        assert_int_equal(o.base_timestamp + rv.timestamp_delta, NOW + 3);
        assert_int_equal(rv.headers_len, 7); /* count 1, "hk", "hv" */
        codec_buf_free(&raw);

        /* Cleaned again after the horizon: the tombstone goes. */
        struct codec_buf out2 = { 0 };
        p.now_ms = NOW + 1000;
        assert_int_equal(clean_filter_batch(out.data, out.len, &p, &s, &out2, &st), 0);
        assert_int_equal(read_batch(out2.data, out2.len, r, 8), 3);
        assert_int_equal(r[2].key, 4);
        codec_buf_free(&out2);
        codec_buf_free(&out);
        clean_scratch_free(&s);
        offset_map_close(&m);
    }
}

static void test_filter_unchanged_empty_control(void **state)
{
    (void)state;
    int keys[] = { 1, 2 }, vals[] = { 1, 2 };
    uint8_t b[4096];
    size_t len = make_batch(b, sizeof(b), 2, keys, vals, BATCH_CODEC_LZ4, 0, 9);
    struct offset_map m;
    struct pid_table pids = { 0 };
    assert_int_equal(offset_map_init(&m, 1 << 12), 0);
    struct clean_policy p = { .map = &m, .pids = &pids, .map_end = INT64_MAX, .now_ms = NOW };
    struct clean_scratch s = { 0 };
    struct codec_buf out = { 0 };
    struct clean_stats st = { .next_horizon_ms = INT64_MAX };
    /* Nothing superseded: the very same bytes. */
    assert_int_equal(clean_filter_batch(b, len, &p, &s, &out, &st), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, b, len);
    /* Everything superseded, not the producer's last batch: gone. */
    offset_map_put(&m, "k1", 2, 50);
    offset_map_put(&m, "k2", 2, 50);
    out.len = 0;
    pid_table_note(&pids, 9, 50);
    assert_int_equal(clean_filter_batch(b, len, &p, &s, &out, &st), 0);
    assert_int_equal(out.len, 0);
    /* ... its last batch: an empty batch keeps the producer's fields. */
    pid_table_free(&pids);
    pid_table_note(&pids, 9, 1);
    assert_int_equal(clean_filter_batch(b, len, &p, &s, &out, &st), 0);
    struct batch_header o;
    batch_header_decode(out.data, &o);
    assert_int_equal(out.len, BATCH_HEADER_SIZE);
    assert_true(batch_crc_ok(out.data, out.len));
    assert_int_equal(o.records_count, 0);
    assert_int_equal(o.last_offset_delta, 1);
    assert_int_equal(o.producer_id, 9);
    assert_int_equal(o.attributes & BATCH_ATTR_CODEC_MASK, 0);
    /* That empty batch cleaned again: it stays while it is the last... */
    uint8_t empty[BATCH_HEADER_SIZE];
    memcpy(empty, out.data, sizeof(empty));
    out.len = 0;
    int64_t changed = st.batches_changed;
    assert_int_equal(clean_filter_batch(empty, sizeof(empty), &p, &s, &out, &st), 0);
    assert_int_equal(out.len, sizeof(empty));
    assert_memory_equal(out.data, empty, sizeof(empty));
    assert_int_equal(st.batches_changed, changed);
    /* ... and goes once the producer wrote a later one (Kafka). */
    pid_table_note(&pids, 9, 70);
    out.len = 0;
    assert_int_equal(clean_filter_batch(empty, sizeof(empty), &p, &s, &out, &st), 0);
    assert_int_equal(out.len, 0);
    /* A control batch stays as it is. */
    len = make_batch(b, sizeof(b), 2, keys, vals, 0, BATCH_ATTR_CONTROL | BATCH_ATTR_TRANSACTIONAL,
                     9);
    out.len = 0;
    assert_int_equal(clean_filter_batch(b, len, &p, &s, &out, &st), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, b, len);
    /* Garbage in a compressed batch: kept verbatim, counted. */
    len = make_batch(b, sizeof(b), 2, keys, vals, BATCH_CODEC_ZSTD, 0, -1);
    memset(b + BATCH_HEADER_SIZE, 0xee, 8);
    out.len = 0;
    assert_int_equal(clean_filter_batch(b, len, &p, &s, &out, &st), 0);
    assert_int_equal(out.len, len);
    assert_int_equal(st.batches_unreadable, 1);
    codec_buf_free(&out);
    clean_scratch_free(&s);
    pid_table_free(&pids);
    offset_map_close(&m);
}

/* The live bits of the map pass decide exactly what the offset map
 * decides: a random keyed log (tombstones, keyless records, every codec,
 * batches stamped with a delete horizon, a producer's last batch) is
 * mapped once and every batch filtered with and without the bits, with a
 * map too small for all keys (a pass that stops early) and a large one;
 * outputs and figures must be identical, and the bits must have decided
 * batches without reading them. */
static void test_filter_bits_match_map(void **state)
{
    (void)state;
    enum { NB = 303, PER = 8 };
    uint8_t *log = malloc(NB * 4096);
    size_t at[NB + 1], len = 0;
    uint64_t seed = 7;
    for (int i = 0; i < NB; i++) {
        int keys[PER], vals[PER];
        for (int j = 0; j < PER; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int r = (int)(seed >> 40);
            keys[j] = r % 97 == 0 ? -1 : r % (i < NB / 2 ? 40 : 400);
            vals[j] = r % 13 == 0 ? -1 : i * PER + j;
            if (i >= NB - 3) { /* keys of their own: every record live */
                keys[j] = 1000 + i * PER + j;
                vals[j] = j == 3 && i < NB - 1 ? -1 : j;
            }
        }
        int16_t attrs = i % 17 == 0 || i == NB - 3 ? BATCH_ATTR_DELETE_HORIZON : 0;
        at[i] = len;
        len += make_batch(log + len, 4096, PER, keys, vals, i % 5, attrs, i % 3 ? 5 : -1);
        be64_store(log + at[i] + BATCH_OFF_BASE_OFFSET, (uint64_t)(1000 + i * PER));
        be32_store(log + at[i] + BATCH_OFF_CRC,
                   crc32c(log + at[i] + BATCH_OFF_ATTRIBUTES, len - at[i] - BATCH_OFF_ATTRIBUTES));
    }
    at[NB] = len;
    size_t sizes[] = { 60 * OFFSET_MAP_ENTRY_SIZE, 1 << 20 };
    int64_t nows[] = { NOW - 500, NOW + 2000 }; /* before and after the stamped horizons */
    for (int si = 0; si < 2; si++) {
        for (int ni = 0; ni < 2; ni++) {
            struct offset_map m;
            struct live_bits lb;
            struct pid_table pids = { 0 };
            struct clean_scratch s = { 0 };
            int64_t first = 1000 + 20 * PER, map_end = INT64_MAX; /* 20 batches cleaned before */
            assert_int_equal(offset_map_init(&m, sizes[si]), 0);
            live_bits_init(&lb, first, 1 << 16);
            for (int i = 0; i < NB; i++) {
                struct batch_header h;
                batch_header_decode(log + at[i], &h);
                pid_table_note(&pids, h.producer_id, batch_last_offset(&h));
                if (batch_last_offset(&h) < first)
                    continue;
                int rc = clean_map_batch(log + at[i], at[i + 1] - at[i], &m, &lb, first, &s);
                if (rc == -ENOSPC) {
                    map_end = h.base_offset;
                    break;
                }
                assert_int_equal(rc, 0);
            }
            assert_true(si == 1 || map_end < INT64_MAX);
            live_bits_cut(&lb, map_end);
            struct clean_policy with = { .map = &m, .live = &lb, .pids = &pids,
                                         .map_end = map_end, .now_ms = nows[ni],
                                         .delete_retention_ms = 1000 };
            struct clean_policy without = with;
            without.live = NULL;
            struct clean_stats a = { .next_horizon_ms = INT64_MAX }, b = a;
            struct codec_buf oa = { 0 }, ob = { 0 };
            for (int i = 0; i < NB; i++) {
                assert_int_equal(clean_filter_batch(log + at[i], at[i + 1] - at[i], &with, &s,
                                                    &oa, &a), 0);
                assert_int_equal(clean_filter_batch(log + at[i], at[i + 1] - at[i], &without,
                                                    &s, &ob, &b), 0);
                assert_int_equal(oa.len, ob.len);
                assert_memory_equal(oa.data, ob.data, oa.len);
            }
            assert_true(a.batches_by_bits > 10);
            assert_int_equal(b.batches_by_bits, 0);
            assert_int_equal(a.records_read, b.records_read);
            assert_int_equal(a.records_removed, b.records_removed);
            assert_int_equal(a.batches_changed, b.batches_changed);
            assert_int_equal(a.next_horizon_ms, b.next_horizon_ms);
            assert_true(a.records_removed > 0);
            codec_buf_free(&oa);
            codec_buf_free(&ob);
            clean_scratch_free(&s);
            pid_table_free(&pids);
            live_bits_close(&lb);
            offset_map_close(&m);
        }
    }
    free(log);
}

/* A compressed batch whose records claim offsets outside it, or not
 * rising, cannot be compacted safely: both passes treat it as unreadable
 * and it is kept as it is. */
static void test_filter_bad_offsets(void **state)
{
    (void)state;
    int keys[] = { 1, 2, 3 }, vals[] = { 1, 2, 3 };
    uint8_t raw[4096];
    struct batch_builder bb;
    batch_builder_init(&bb, raw, sizeof(raw), NOW);
    for (int i = 0; i < 3; i++) {
        char k[8], v[8];
        int kl = snprintf(k, sizeof(k), "k%d", keys[i]), vl = snprintf(v, sizeof(v), "v%d", vals[i]);
        assert_int_equal(batch_builder_add(&bb, NOW, k, (size_t)kl, v, (size_t)vl, NULL, 0), 0);
    }
    size_t len = batch_builder_finish(&bb, 0);
    /* Record 2's offset delta (the byte after its timestamp delta) made 0. */
    const uint8_t *p = raw + BATCH_HEADER_SIZE, *end = raw + len;
    struct record_view r;
    batch_record_next(&p, end, &r);
    batch_record_next(&p, end, &r);
    assert_int_equal(r.offset_delta, 1);
    uint8_t *od = (uint8_t *)r.fields - 1;
    assert_int_equal(*od, 2); /* zigzag 1 */
    *od = 0;
    be32_store(raw + BATCH_OFF_CRC, crc32c(raw + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
    struct offset_map m;
    struct live_bits lb;
    struct clean_scratch s = { 0 };
    struct codec_buf out = { 0 };
    struct clean_stats st = { .next_horizon_ms = INT64_MAX };
    assert_int_equal(offset_map_init(&m, 1 << 16), 0);
    live_bits_init(&lb, 0, 1 << 12);
    assert_int_equal(clean_map_batch(raw, len, &m, &lb, 0, &s), -EBADMSG);
    offset_map_put(&m, "k1", 2, 50); /* superseded: a filter that read it would drop it */
    struct clean_policy pol = { .map = &m, .map_end = INT64_MAX, .now_ms = NOW };
    assert_int_equal(clean_filter_batch(raw, len, &pol, &s, &out, &st), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, raw, len);
    assert_int_equal(st.batches_unreadable, 1);
    codec_buf_free(&out);
    clean_scratch_free(&s);
    live_bits_close(&lb);
    offset_map_close(&m);
}

/* ---- whole jobs on a log ---- */

struct fx {
    char *dir;
    struct io_uring ring;
    struct log_config cfg;
    struct log *log;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(fixture_log_init(&f->dir, &f->ring, &f->cfg), 0);
    f->cfg.segment_bytes = 4 << 10;
    f->cfg.index_interval_bytes = 512;
    f->cfg.cleanup_compact = true;
    f->cfg.cleanup_delete = false;
    f->cfg.min_cleanable_ratio = 0.01;
    f->cfg.delete_retention_ms = 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fixture_log_close(f->dir, &f->ring, f->log);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    if (f->log)
        assert_int_equal(log_close(f->log), 0);
    assert_int_equal(log_open(&f->log, f->dir, "table", 0, &f->cfg, NOW), 0);
}

/* Closes the log without its clean-shutdown marker and opens it again:
 * recovery re-checks it as after a crash. */
static void reopen_crashed(struct fx *f)
{
    assert_int_equal(log_close(f->log), 0);
    char marker[600];
    snprintf(marker, sizeof(marker), "%s/table-0/clean-shutdown", f->dir);
    unlink(marker);
    f->log = NULL;
    reopen(f);
}

/* n batches of 4 records over nkeys keys, record i of the log has key
 * i % nkeys and value i; codecs rotate. */
static void fill(struct fx *f, int n, int nkeys, int first)
{
    for (int i = 0; i < n; i++) {
        int keys[4], vals[4];
        for (int j = 0; j < 4; j++) {
            vals[j] = first + i * 4 + j;
            keys[j] = vals[j] % nkeys;
        }
        uint8_t b[8192];
        size_t len = make_batch(b, sizeof(b), 4, keys, vals, i % 5, 0, -1);
        struct log_append_result res;
        assert_int_equal(fixture_append_sync(f->log, &f->ring, b, len, NOW, &res), 0);
    }
}

/* Runs a job the way the cleaner thread does. */
static int run_job(struct fx *f, int64_t now, size_t map_bytes)
{
    struct clean_job *job;
    int rc = log_clean_begin(f->log, now, map_bytes, &job);
    if (rc < 0)
        return rc;
    clean_job_run(job);
    return log_clean_finish(f->log, job, now);
}

/* One record per key with its latest value, survivors at their offsets. */
static void check_latest(struct fx *f, int total, int nkeys, int first)
{
    struct seen *r = calloc(4096, sizeof(*r));
    int n = read_log(f->log, r, 4096);
    int active_first = (int)log_active_base(f->log);
    int seen[256] = { 0 };
    for (int i = 0; i < n; i++) {
        assert_int_equal(r[i].val, (int)r[i].offset + first); /* value i at offset i */
        if (r[i].offset >= active_first)
            continue; /* the active segment is never cleaned */
        assert_false(seen[r[i].key]);
        seen[r[i].key] = 1;
        /* its latest value overall, or a later one in the active segment */
        int latest = ((total - 1 - r[i].key) / nkeys) * nkeys + r[i].key;
        assert_true(r[i].val == latest || latest >= active_first);
    }
    free(r);
}

static void test_clean_log(void **state)
{
    struct fx *f = *state;
    reopen(f);
    fill(f, 200, 10, 0); /* 800 records, ~100 bytes each: several segments */
    int before = log_segment_count(f->log);
    assert_true(before > 4);
    assert_true(log_clean_needed(f->log, NOW));
    assert_int_equal(run_job(f, NOW, 1 << 20), 0);
    check_latest(f, 800, 10, 0);
    struct log_clean_info info;
    log_clean_info(f->log, &info);
    assert_int_equal(info.cleans, 1);
    assert_true(info.records_removed > 600);
    assert_true(info.dirty_ratio < 0.01);
    assert_false(log_clean_needed(f->log, NOW));
    /* More appends, a second pass merges the small cleaned segments. */
    fill(f, 200, 10, 800);
    before = log_segment_count(f->log);
    assert_int_equal(run_job(f, NOW, 1 << 20), 0);
    check_latest(f, 1600, 10, 0);
    assert_true(log_segment_count(f->log) < before); /* small cleaned ones grouped */
    /* Restart (clean and crash-like): the same records. */
    reopen(f);
    check_latest(f, 1600, 10, 0);
    assert_false(log_clean_needed(f->log, NOW)); /* the checkpoint held */
    reopen_crashed(f);
    check_latest(f, 1600, 10, 0);
}

/* A map too small for the dirty keys: several passes, same result. */
static void test_clean_passes(void **state)
{
    struct fx *f = *state;
    reopen(f);
    fill(f, 200, 100, 0);
    size_t small = 100 * OFFSET_MAP_ENTRY_SIZE; /* 75 keys of 100 */
    int passes = 0;
    while (log_clean_needed(f->log, NOW) && passes < 40) {
        assert_int_equal(run_job(f, NOW, small), 0);
        passes++;
    }
    assert_true(passes > 1);
    check_latest(f, 800, 100, 0);
}

static void test_tombstones_expire(void **state)
{
    struct fx *f = *state;
    reopen(f);
    fill(f, 100, 8, 0);
    /* tombstones for keys 0..3 */
    int keys[] = { 0, 1, 2, 3 }, vals[] = { -1, -1, -1, -1 };
    uint8_t b[4096];
    size_t len = make_batch(b, sizeof(b), 4, keys, vals, BATCH_CODEC_SNAPPY, 0, -1);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(f->log, &f->ring, b, len, NOW, &res), 0);
    fill(f, 60, 1000, 10500); /* keys 500+: roll the tombstones out of the active segment */
    assert_int_equal(run_job(f, NOW, 1 << 20), 0);
    struct seen *r = calloc(4096, sizeof(*r));
    int n = read_log(f->log, r, 4096), tomb = 0;
    for (int i = 0; i < n; i++)
        tomb += r[i].val < 0;
    assert_int_equal(tomb, 4);
    /* Before the horizon nothing is due; after it, the tombstones go. */
    assert_false(log_clean_needed(f->log, NOW + 999));
    assert_true(log_clean_needed(f->log, NOW + 1000));
    assert_int_equal(run_job(f, NOW + 1000, 1 << 20), 0);
    n = read_log(f->log, r, 4096);
    tomb = 0;
    for (int i = 0; i < n; i++) {
        tomb += r[i].val < 0;
        assert_true(r[i].key < 0 || r[i].key >= 4 || r[i].val >= 10000 ||
                    r[i].offset >= log_active_base(f->log));
    }
    assert_int_equal(tomb, 0);
    free(r);
}

/* ---- interrupted swaps ---- */

static void list_dir(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    out[0] = 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".cleaned") || strstr(de->d_name, ".swap"))
            snprintf(out + strlen(out), len - strlen(out), "%s ", de->d_name);
    closedir(d);
}

/* A child process opens the log, runs a job up to its nsyncs-th fsync
 * and dies there (_exit, no close): the files are what a SIGKILL at that
 * moment leaves. */
static void crash_job_at(struct fx *f, int nsyncs)
{
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct log *log;
        struct clean_job *job;
        if (log_open(&log, f->dir, "table", 0, &f->cfg, NOW) < 0 ||
            log_clean_begin(log, NOW, 1 << 20, &job) < 0)
            _exit(1);
        int syncs = 0;
        enum clean_status st;
        while ((st = clean_job_step(job, INT64_MAX)) != CLEAN_DONE) {
            if (st != CLEAN_SYNC)
                continue;
            if (syncs++ == nsyncs)
                _exit(0);
            clean_job_synced(job, clean_job_sync_all(job));
        }
        _exit(job->error ? 2 : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_swap_recovery(void **state)
{
    struct fx *f = *state;
    char files[4096];
    /* Syncs 0-2: the .cleaned files; 3: the directory after .swap (the
     * commit); 4: after the unlinks; 5: after the final rename; then the
     * next group. Every stop point must recover to a valid log with every
     * key's latest value, and clean fully afterwards. */
    for (int at = 0; at < 14; at++) {
        if (f->log) {
            log_close(f->log);
            f->log = NULL;
        }
        fixture_rmdir(f->dir);
        f->dir = fixture_tmpdir();
        reopen(f);
        fill(f, 200, 10, 0);
        crash_job_at(f, at);
        reopen(f);
        list_dir(log_dir(f->log), files, sizeof(files));
        assert_string_equal(files, "");
        struct seen *r = calloc(4096, sizeof(*r));
        int n = read_log(f->log, r, 4096);
        int found[10] = { 0 };
        for (int i = 0; i < n; i++) {
            assert_int_equal(r[i].val, (int)r[i].offset); /* nothing moved */
            assert_true(i == 0 || r[i].offset > r[i - 1].offset);
            if (r[i].val >= 790)
                found[r[i].key] = 1;
        }
        for (int k = 0; k < 10; k++)
            assert_true(found[k]);
        free(r);
        assert_int_equal(run_job(f, NOW, 1 << 20), 0);
        check_latest(f, 800, 10, 0);
    }
}

/* Kafka refuses records without a key on compacted topics. */
static void test_keys_required(void **state)
{
    struct fx *f = *state;
    reopen(f);
    int keys[] = { 1, -1 }, vals[] = { 1, 2 };
    struct log_append_result res;
    for (int codec = 0; codec <= 4; codec++) {
        uint8_t b[4096];
        size_t len = make_batch(b, sizeof(b), 2, keys, vals, codec, 0, -1);
        assert_int_equal(log_append(f->log, b, len, NOW, &res), 87); /* INVALID_RECORD */
        len = make_batch(b, sizeof(b), 1, keys, vals, codec, 0, -1);
        assert_int_equal(fixture_append_sync(f->log, &f->ring, b, len, NOW, &res), 0);
    }
}

/* ---- transactions ---- */

static int count_txnindex(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        struct stat st;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (l > 9 && strcmp(de->d_name + l - 9, ".txnindex") == 0 && stat(path, &st) == 0 &&
            st.st_size > 0)
            n++;
    }
    closedir(d);
    return n;
}

static int64_t txn_produce(struct fx *f, int64_t pid, int32_t seq, bool txn)
{
    uint8_t b[8192];
    struct log_append_result res;
    size_t len = fixture_producer_batch(b, sizeof(b), 3, 50, NOW, pid, 0, seq, txn);
    assert_int_equal(fixture_append_sync(f->log, &f->ring, b, len, NOW, &res), 0);
    return res.base_offset;
}

static void txn_marker(struct fx *f, int64_t pid, bool commit)
{
    struct log_append_result res;
    assert_int_equal(log_append_marker(f->log, pid, 0, 0, commit, NOW, &res), 0);
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW), 0);
}

/* The one aborted transaction of pid 1 at [first, last]. */
static void check_aborted(struct fx *f, int64_t first, int64_t last)
{
    struct aborted_txn a[4];
    assert_int_equal(log_aborted_txns(f->log, 0, log_durable_end(f->log), a, 4), 1);
    assert_int_equal(a[0].pid, 1);
    assert_int_equal(a[0].first_offset, first);
    assert_int_equal(a[0].last_offset, last);
}

static void test_clean_transactions(void **state)
{
    struct fx *f = *state;
    reopen(f);
    /* pid 1: a transaction of two batches, aborted */
    int64_t first = txn_produce(f, 1, 0, true);
    txn_produce(f, 1, 3, true);
    int64_t abort_at = log_end_offset(f->log);
    txn_marker(f, 1, false);
    fill(f, 100, 10, 0);
    /* pid 2: a transaction left open, with more segments after it */
    int64_t open_at = txn_produce(f, 2, 0, true);
    fill(f, 100, 10, 0);
    assert_true(log_segment_count(f->log) > 6);
    check_aborted(f, first, abort_at);
    int64_t end = log_end_offset(f->log);
    assert_int_equal(run_job(f, NOW, 1 << 20), 0);
    /* the aborted data is gone; its marker and entry stay (a consumer may
     * hold some of that data and not have reached the marker) */
    check_aborted(f, first, abort_at);
    /* nothing at or after the open transaction's first offset was cleaned */
    struct seen *r = calloc(8192, sizeof(*r));
    int n = read_log(f->log, r, 8192), after = 0;
    for (int i = 0; i < n; i++) {
        after += r[i].offset >= open_at;
        assert_false(r[i].offset >= first && r[i].offset < abort_at);
    }
    assert_int_equal(after, (int)(end - open_at));
    assert_int_equal(count_txnindex(log_dir(f->log)), 1);
    /* restarts, clean and not */
    reopen(f);
    check_aborted(f, first, abort_at);
    reopen_crashed(f);
    check_aborted(f, first, abort_at);
    /* the transaction ends: the cleaner goes past it now */
    txn_marker(f, 2, true);
    fill(f, 100, 10, 0);
    assert_int_equal(run_job(f, NOW, 1 << 20), 0);
    n = read_log(f->log, r, 8192);
    after = 0;
    for (int i = 0; i < n; i++)
        after += r[i].offset >= open_at && r[i].offset < end;
    assert_true(after < (int)(end - open_at) / 2);
    /* pid 1's transaction has no data left: the entry goes, the marker
     * waits for its delete horizon */
    struct aborted_txn a[4];
    assert_int_equal(log_aborted_txns(f->log, 0, log_durable_end(f->log), a, 4), 0);
    assert_int_equal(count_txnindex(log_dir(f->log)), 0);
    /* a crash after a swap's commit point: recovery completes it and
     * rebuilds the indexes, without bringing the entry back */
    fill(f, 100, 10, 0);
    crash_job_at(f, 4);
    reopen(f);
    assert_int_equal(log_aborted_txns(f->log, 0, log_durable_end(f->log), a, 4), 0);
    assert_int_equal(count_txnindex(log_dir(f->log)), 0);
    free(r);
}

/* A transactional batch of pid (epoch 0, base sequence seq) of records
 * keyed k<keys[i]> with values v<vals[i]>; returns its base offset. */
static int64_t txn_keyed(struct fx *f, int64_t pid, int32_t seq, int n, const int *keys,
                         const int *vals)
{
    uint8_t b[8192];
    struct log_append_result res;
    size_t len = make_batch(b, sizeof(b), n, keys, vals, BATCH_CODEC_NONE,
                            BATCH_ATTR_TRANSACTIONAL, pid);
    batch_set_sequence(b, len, 0, seq);
    assert_int_equal(fixture_append_sync(f->log, &f->ring, b, len, NOW, &res), 0);
    return res.base_offset;
}

/* The value the log holds for key k (-2: none), and that the batch at
 * offset off is (is not) there, a marker with its delete horizon set or
 * not. */
static int value_of(struct fx *f, int k)
{
    struct seen *r = calloc(8192, sizeof(*r));
    int n = read_log(f->log, r, 8192), v = -2;
    for (int i = 0; i < n; i++)
        if (r[i].key == k && r[i].val >= 0)
            v = r[i].val;
    free(r);
    return v;
}

static const struct seen_batch *batch_at(const struct seen_batch *b, int n, int64_t off)
{
    for (int i = 0; i < n; i++)
        if (b[i].base == off)
            return &b[i];
    return NULL;
}

/* Aborted data goes, and never supersedes a committed value of its key;
 * markers stay while their transaction has data, then until their delete
 * horizon; the .txnindex entry lives as long as the aborted data might be
 * held by a consumer. */
static void test_clean_aborted_data(void **state)
{
    struct fx *f = *state;
    reopen(f);
    fill(f, 10, 10, 0); /* keys 0..9, the latest values 30..39 */
    int ka[3] = { 0, 1, 2 }, va[3] = { 1000, 1001, 1002 };
    int kc[2] = { 3, 4 }, vc[2] = { 2000, 2001 };
    int kd[1] = { 5 }, vd[1] = { 3000 };
    int64_t first = txn_keyed(f, 1, 0, 3, ka, va);
    int64_t abort_at = log_end_offset(f->log);
    txn_marker(f, 1, false);
    txn_keyed(f, 2, 0, 2, kc, vc);
    int64_t commit2 = log_end_offset(f->log);
    txn_marker(f, 2, true);
    txn_keyed(f, 1, 3, 1, kd, vd); /* pid 1 goes on: its abort marker is not its last */
    int64_t commit1 = log_end_offset(f->log);
    txn_marker(f, 1, true);
    fill(f, 60, 1000, 500); /* keys 500..739: the transactions' segments seal */
    assert_true(log_active_base(f->log) > commit1);

    assert_int_equal(run_job(f, NOW, 1 << 20), 0);
    for (int k = 0; k < 3; k++)
        assert_int_equal(value_of(f, k), 30 + k); /* not the aborted 100k */
    assert_int_equal(value_of(f, 3), 2000);
    assert_int_equal(value_of(f, 4), 2001);
    assert_int_equal(value_of(f, 5), 3000);
    for (int k = 6; k < 10; k++)
        assert_int_equal(value_of(f, k), 30 + k);
    struct seen_batch b[512];
    int n = read_batches(f->log, b, 512);
    assert_null(batch_at(b, n, first));
    const struct seen_batch *m = batch_at(b, n, abort_at);
    assert_non_null(m);
    assert_int_equal(m->attributes & BATCH_ATTR_DELETE_HORIZON, 0);
    assert_non_null(batch_at(b, n, commit2));
    assert_non_null(batch_at(b, n, commit1));
    check_aborted(f, first, abort_at);

    /* The next clean finds the abort marker done: its entry goes, its
     * horizon is stamped; the commit markers still have data. */
    assert_int_equal(run_job(f, NOW + 10, 1 << 20), 0);
    struct aborted_txn a[4];
    assert_int_equal(log_aborted_txns(f->log, 0, log_durable_end(f->log), a, 4), 0);
    n = read_batches(f->log, b, 512);
    assert_non_null(m = batch_at(b, n, abort_at));
    assert_int_equal(m->count, 1);
    assert_true(m->attributes & BATCH_ATTR_DELETE_HORIZON);
    assert_int_equal(m->base_timestamp, NOW + 10 + f->cfg.delete_retention_ms);
    assert_non_null(m = batch_at(b, n, commit2));
    assert_int_equal(m->attributes & BATCH_ATTR_DELETE_HORIZON, 0);
    assert_int_equal(value_of(f, 3), 2000);

    /* Past the horizon the abort marker goes; the rest holds, across a
     * clean restart and a crash. */
    assert_int_equal(run_job(f, NOW + 10 + f->cfg.delete_retention_ms, 1 << 20), 0);
    n = read_batches(f->log, b, 512);
    assert_null(batch_at(b, n, abort_at));
    assert_non_null(batch_at(b, n, commit1));
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            reopen(f);
        else
            reopen_crashed(f);
        assert_int_equal(value_of(f, 0), 30);
        assert_int_equal(value_of(f, 4), 2001);
        assert_int_equal(value_of(f, 5), 3000);
        assert_int_equal(log_aborted_txns(f->log, 0, log_durable_end(f->log), a, 4), 0);
    }
}

/* ---- DeleteRecords ---- */

static void test_delete_records(void **state)
{
    struct fx *f = *state;
    f->cfg.cleanup_compact = false;
    f->cfg.cleanup_delete = true;
    reopen(f);
    fill(f, 200, 10, 0);
    int before = log_segment_count(f->log);
    int64_t low;
    assert_int_equal(log_delete_records(f->log, log_durable_end(f->log) + 1, &low), -ERANGE);
    assert_int_equal(log_delete_records(f->log, 500, &low), 0);
    assert_int_equal(low, 500);
    assert_int_equal(log_start_offset(f->log), 500);
    assert_true(log_segment_count(f->log) < before);
    struct log_range r[2];
    assert_int_equal(log_read(f->log, 499, 1000, r, 2), -ERANGE);
    assert_true(log_read(f->log, 500, 1000, r, 2) > 0);
    assert_int_equal(log_delete_records(f->log, 100, &low), 0); /* never down */
    assert_int_equal(low, 500);
    assert_int_equal(log_start_checkpoint_write(log_dir(f->log), 500), 0);
    /* A crash: the checkpoint holds the start. */
    reopen_crashed(f);
    assert_int_equal(log_start_offset(f->log), 500);
    struct seen *s = calloc(4096, sizeof(*s));
    int n = read_log(f->log, s, 4096);
    assert_int_equal(s[0].offset, 500);
    assert_int_equal(n, 300);
    free(s);
    /* -1: up to the high watermark. */
    assert_int_equal(log_delete_records(f->log, -1, &low), 0);
    assert_int_equal(low, 800);
    assert_int_equal(log_segment_count(f->log), 1);
}

static void test_checkpoint_parse(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(checkpoint_parse("0\n1\ntopic 3 42\n", 15, &v), 0);
    assert_int_equal(v, 42);
    const char *bad[] = { "", "0\n", "1\n1\nt 0 1\n", "0\n2\nt 0 1\n", "0\n1\nt 0 -1\n",
                          "0\n1\nt 0 1", "0\n1\n t 0 1\n", "0\n1\nt x 1\n",
                          "0\n1\nt 0 99999999999999999999\n", "0\n1\nt 0 1\nextra" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(checkpoint_parse(bad[i], strlen(bad[i]), &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_map),
        cmocka_unit_test(test_live_bits),
        cmocka_unit_test(test_txns_walk),
        cmocka_unit_test(test_filter_bits_match_map),
        cmocka_unit_test(test_filter_bad_offsets),
        cmocka_unit_test(test_codecs_roundtrip),
        cmocka_unit_test(test_gzip_zlib),
        cmocka_unit_test(test_filter_every_codec),
        cmocka_unit_test(test_filter_unchanged_empty_control),
        cmocka_unit_test(test_checkpoint_parse),
        cmocka_unit_test_setup_teardown(test_clean_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_aborted_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_required, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
