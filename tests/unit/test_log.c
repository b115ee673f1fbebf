/* test_log.c - the partition log: offsets, reads, indexes, rolling,
 * retention, timestamps, flush policies (storage/log.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <lz4frame.h>
#include <sys/stat.h>

#include "storage/crc32c.h"
#include "storage/kerr.h"
#include "storage_fixture.h"

#define NOW 1700000000000ll

struct fx {
    char *dir;
    struct io_uring ring;
    struct log_config cfg;
    struct log *log;
    uint8_t bufs[64][16384];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(fixture_log_init(&f->dir, &f->ring, &f->cfg), 0);
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

static void open_log(struct fx *f)
{
    assert_int_equal(log_open(&f->log, f->dir, "feed", 0, &f->cfg, NOW), 0);
}

static void reopen_log(struct fx *f)
{
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
    open_log(f);
}

/* Appends batch i (n records) durably; returns its base offset. */
static int64_t append(struct fx *f, int i, int n, size_t vlen, int64_t ts)
{
    size_t len = fixture_batch(f->bufs[i % 64], sizeof(f->bufs[0]), n, vlen, ts, i);
    assert_true(len > 0);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->bufs[i % 64], len, NOW, &res), 0);
    assert_int_equal(res.last_offset - res.base_offset + 1, n);
    return res.base_offset;
}

/* Reads the batch header at the start of the first range for offset. */
static void read_header_at(struct fx *f, int64_t offset, struct batch_header *h,
                           struct log_range *r)
{
    struct log_range ranges[4];
    int n = log_read(f->log, offset, 1 << 20, ranges, 4);
    assert_true(n >= 1);
    uint8_t hdr[BATCH_HEADER_SIZE];
    assert_int_equal(pread(ranges[0].fd, hdr, sizeof(hdr), (off_t)ranges[0].pos),
                     (ssize_t)sizeof(hdr));
    batch_header_decode(hdr, h);
    if (r)
        *r = ranges[0];
}

static void test_offsets_assigned(void **state)
{
    struct fx *f = *state;
    open_log(f);
    assert_int_equal(log_start_offset(f->log), 0);
    assert_int_equal(log_end_offset(f->log), 0);
    assert_int_equal(append(f, 0, 5, 10, NOW), 0);
    assert_int_equal(append(f, 1, 5, 10, NOW), 5);
    assert_int_equal(append(f, 2, 1, 10, NOW), 10);
    assert_int_equal(log_end_offset(f->log), 11);
    assert_int_equal(log_durable_end(f->log), 11);
    assert_int_equal(log_written_end(f->log), 11);

    /* The stored batch carries the assigned base offset, CRC intact. */
    struct batch_header h;
    struct log_range r;
    read_header_at(f, 7, &h, &r);
    assert_int_equal(h.base_offset, 5);
    assert_int_equal(h.records_count, 5);
    uint8_t *buf = malloc(r.len);
    assert_int_equal(pread(r.fd, buf, r.len, (off_t)r.pos), (ssize_t)r.len);
    assert_int_equal(batch_validate_set(buf, r.len, 0, &(int){ 0 }, &(int64_t){ 0 }), 0);
    free(buf);

    /* A multi-batch record set gets consecutive offsets. */
    size_t l1 = fixture_batch(f->bufs[10], 8192, 3, 20, NOW, 10);
    size_t l2 = fixture_batch(f->bufs[10] + l1, 8192, 4, 20, NOW, 11);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->bufs[10], l1 + l2, NOW, &res), 0);
    assert_int_equal(res.base_offset, 11);
    assert_int_equal(res.last_offset, 17);
    read_header_at(f, 16, &h, NULL);
    assert_int_equal(h.base_offset, 14);
}

static void test_bad_batch_leaves_log_untouched(void **state)
{
    struct fx *f = *state;
    open_log(f);
    append(f, 0, 3, 10, NOW);
    size_t len = fixture_batch(f->bufs[1], 8192, 3, 10, NOW, 1);
    f->bufs[1][len - 1] ^= 0xff;
    struct log_append_result res;
    assert_int_equal(log_append(f->log, f->bufs[1], len, NOW, &res), KERR_CORRUPT_MESSAGE);
    f->bufs[1][len - 1] ^= 0xff;
    f->bufs[1][BATCH_OFF_MAGIC] = 1;
    assert_int_equal(log_append(f->log, f->bufs[1], len, NOW, &res),
                     KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    /* Two good batches then a bad one: the whole set is refused. */
    size_t l1 = fixture_batch(f->bufs[2], 8192, 2, 10, NOW, 2);
    size_t l2 = fixture_batch(f->bufs[2] + l1, 8192, 2, 10, NOW, 3);
    f->bufs[2][l1 + l2 - 3] ^= 1;
    assert_int_equal(log_append(f->log, f->bufs[2], l1 + l2, NOW, &res), KERR_CORRUPT_MESSAGE);
    assert_int_equal(log_end_offset(f->log), 3);
    assert_int_equal(log_size_bytes(f->log), len);
    f->cfg.max_message_bytes = 100;
    reopen_log(f);
    len = fixture_batch(f->bufs[3], 8192, 3, 100, NOW, 4);
    assert_int_equal(log_append(f->log, f->bufs[3], len, NOW, &res), KERR_MESSAGE_TOO_LARGE);
    assert_int_equal(log_end_offset(f->log), 3);
}

static void test_index_lookup(void **state)
{
    struct fx *f = *state;
    f->cfg.index_interval_bytes = 256;
    open_log(f);
    int64_t next = 0;
    for (int i = 0; i < 200; i++) {
        int n = 1 + i % 7;
        assert_int_equal(append(f, i, n, 30 + i % 50, NOW + i), next);
        next += n;
    }
    for (int64_t off = 0; off < next; off++) {
        struct batch_header h;
        read_header_at(f, off, &h, NULL);
        assert_true(h.base_offset <= off);
        assert_true(batch_last_offset(&h) >= off);
    }
    /* The index files hold Kafka's 8-byte and 12-byte entries (written
     * when a segment is sealed and when the log closes). */
    reopen_log(f);
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/feed-0/%020d.index", f->dir, 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0);
    assert_int_equal(st.st_size % 8, 0);
    snprintf(path, sizeof(path), "%s/feed-0/%020d.timeindex", f->dir, 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0);
    assert_int_equal(st.st_size % 12, 0);
    /* Reopened (clean), the same lookups still work. */
    reopen_log(f);
    assert_int_equal(log_end_offset(f->log), next);
    for (int64_t off = 0; off < next; off += 3) {
        struct batch_header h;
        read_header_at(f, off, &h, NULL);
        assert_true(h.base_offset <= off && batch_last_offset(&h) >= off);
    }
    assert_int_equal(log_read(f->log, next, 100, (struct log_range[1]){ 0 }, 1), 0);
    assert_int_equal(log_read(f->log, next + 1, 100, (struct log_range[1]){ 0 }, 1), -ERANGE);
    assert_int_equal(log_read(f->log, -1, 100, (struct log_range[1]){ 0 }, 1), -ERANGE);
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l == 20 + s && strcmp(de->d_name + 20, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_segment_roll(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 4096;
    open_log(f);
    int64_t next = 0;
    for (int i = 0; i < 60; i++) {
        assert_int_equal(append(f, i, 4, 100, NOW + i), next);
        next += 4;
    }
    int segs = log_segment_count(f->log);
    assert_true(segs > 5);
    char pdir[512];
    snprintf(pdir, sizeof(pdir), "%s/feed-0", f->dir);
    assert_int_equal(count_files(pdir, ".log"), segs);
    assert_int_equal(count_files(pdir, ".index"), segs);
    assert_int_equal(count_files(pdir, ".timeindex"), segs);
    /* Every segment's name is its first offset. */
    for (int64_t off = 0; off < next; off += 4) {
        struct batch_header h;
        read_header_at(f, off, &h, NULL);
        assert_int_equal(h.base_offset, off);
    }
    /* A read with a large budget spans segments. */
    struct log_range r[16];
    int n = log_read(f->log, 0, 1 << 20, r, 16);
    assert_true(n > 1);
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += r[i].len;
    assert_true(total <= log_size_bytes(f->log));
    reopen_log(f);
    assert_int_equal(log_segment_count(f->log), segs);
    assert_int_equal(log_end_offset(f->log), next);

    /* segment.ms rolls an old segment at the next append. */
    int before = log_segment_count(f->log);
    size_t len = fixture_batch(f->bufs[0], 8192, 1, 10, NOW, 99);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->bufs[0], len,
                                         NOW + f->cfg.segment_ms + 1000000000000ll, &res), 0);
    assert_int_equal(log_segment_count(f->log), before + 1);
}

static void test_read_budget(void **state)
{
    struct fx *f = *state;
    open_log(f);
    for (int i = 0; i < 10; i++)
        append(f, i, 10, 100, NOW);
    struct log_range r[4];
    /* Budget smaller than a batch: still one whole batch (KIP-74). */
    int n = log_read(f->log, 0, 10, r, 4);
    assert_int_equal(n, 1);
    struct batch_header h;
    read_header_at(f, 0, &h, NULL);
    assert_int_equal(r[0].len, batch_size(&h));
    /* Budget of 2.5 batches: exactly that many bytes. */
    n = log_read(f->log, 0, batch_size(&h) * 5 / 2, r, 4);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].len, batch_size(&h) * 5 / 2);
    /* From the middle of batch 3: starts at batch 3. */
    n = log_read(f->log, 35, 1 << 20, r, 4);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].pos, 3 * batch_size(&h));
    assert_int_equal(r[0].len, 7 * batch_size(&h));
}

static void test_retention(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 2048;
    f->cfg.retention_bytes = 6000;
    open_log(f);
    for (int i = 0; i < 40; i++)
        append(f, i, 2, 200, NOW + i * 1000);
    int segs = log_segment_count(f->log);
    int deleted = log_enforce_retention(f->log, NOW + 40000);
    assert_true(deleted > 0);
    assert_int_equal(log_segment_count(f->log), segs - deleted);
    assert_true(log_size_bytes(f->log) <= 6000 + 2048);
    assert_true(log_size_bytes(f->log) >= 6000 - 2048);
    int64_t start = log_start_offset(f->log);
    assert_true(start > 0);
    assert_int_equal(log_read(f->log, start - 1, 100, (struct log_range[1]){ 0 }, 1), -ERANGE);
    struct batch_header h;
    read_header_at(f, start, &h, NULL);
    assert_int_equal(h.base_offset, start);

    /* By time: everything older than retention.ms goes, not the active. */
    f->cfg.retention_bytes = -1;
    f->cfg.retention_ms = 1000;
    reopen_log(f);
    assert_int_equal(log_start_offset(f->log), start);
    deleted = log_enforce_retention(f->log, NOW + 1000000);
    assert_true(deleted > 0);
    assert_int_equal(log_segment_count(f->log), 1);
    assert_int_equal(log_end_offset(f->log), 80);
    append(f, 50, 1, 10, NOW);
    assert_int_equal(log_end_offset(f->log), 81);
}

static void test_offset_for_timestamp(void **state)
{
    struct fx *f = *state;
    f->cfg.index_interval_bytes = 128;
    f->cfg.segment_bytes = 8192;
    open_log(f);
    /* Batch i holds 5 records stamped 1000*i + 0..4. */
    for (int i = 0; i < 100; i++)
        append(f, i, 5, 50, NOW + 1000 * i);
    assert_true(log_segment_count(f->log) > 2);
    int64_t off, ts;
    for (int i = 0; i < 100; i += 7) {
        assert_int_equal(log_offset_for_timestamp(f->log, NOW + 1000 * i + 2, &off, &ts), 0);
        assert_int_equal(off, 5 * i + 2);
        assert_int_equal(ts, NOW + 1000 * i + 2);
        /* Between batches: the next batch's first record. */
        assert_int_equal(log_offset_for_timestamp(f->log, NOW + 1000 * i + 500, &off, &ts), 0);
        assert_int_equal(off, 5 * (i + 1) < 500 ? 5 * (i + 1) : -1);
    }
    assert_int_equal(log_offset_for_timestamp(f->log, 0, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(log_offset_for_timestamp(f->log, NOW + 1000000, &off, &ts), -ENOENT);
    reopen_log(f);
    assert_int_equal(log_offset_for_timestamp(f->log, NOW + 1000 * 42 + 3, &off, &ts), 0);
    assert_int_equal(off, 42 * 5 + 3);
}

static void test_log_append_time(void **state)
{
    struct fx *f = *state;
    f->cfg.log_append_time = true;
    open_log(f);
    size_t len = fixture_batch(f->bufs[0], 8192, 3, 10, 5, 0);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->bufs[0], len, NOW + 7, &res), 0);
    assert_int_equal(res.log_append_time, NOW + 7);
    struct batch_header h;
    read_header_at(f, 0, &h, NULL);
    assert_int_equal(h.max_timestamp, NOW + 7);
    assert_true(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
    assert_true(batch_crc_ok(f->bufs[0], len));
}

static void test_flush_policies(void **state)
{
    struct fx *f = *state;
    f->cfg.flush = FLUSH_OS;
    open_log(f);
    append(f, 0, 3, 10, NOW);
    assert_int_equal(log_durable_end(f->log), 3);
    assert_false(log_flush_pending(f->log));
    reopen_log(f);
    assert_int_equal(log_end_offset(f->log), 3);

    /* Interval: flush.messages=10; the high watermark follows writes. */
    f->cfg.flush = FLUSH_INTERVAL;
    f->cfg.flush_messages = 10;
    reopen_log(f);
    append(f, 1, 4, 10, NOW);
    assert_int_equal(log_durable_end(f->log), 7);
}

static void test_lz4_recompression(void **state)
{
    struct fx *f = *state;
    f->cfg.compress_lz4 = true;
    open_log(f);
    size_t len = fixture_batch(f->bufs[0], 16384, 50, 200, NOW, 0);
    uint8_t orig[16384];
    memcpy(orig, f->bufs[0], len);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->bufs[0], len, NOW, &res), 0);
    assert_int_equal(res.last_offset, 49);
    struct log_range r;
    struct batch_header h;
    read_header_at(f, 0, &h, &r);
    assert_int_equal(h.attributes & BATCH_ATTR_CODEC_MASK, BATCH_CODEC_LZ4);
    assert_int_equal(h.records_count, 50);
    assert_true(r.len < len); /* 50 similar records compress */
    uint8_t *stored = malloc(r.len);
    assert_int_equal(pread(r.fd, stored, r.len, (off_t)r.pos), (ssize_t)r.len);
    assert_int_equal(batch_validate(stored, r.len, 0), 0);
    /* The LZ4 frame holds exactly the producer's records. */
    LZ4F_dctx *dctx;
    assert_false(LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
    uint8_t plain[16384];
    size_t dst = sizeof(plain), src = r.len - BATCH_HEADER_SIZE;
    size_t rc = LZ4F_decompress(dctx, plain, &dst, stored + BATCH_HEADER_SIZE, &src, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(dst, len - BATCH_HEADER_SIZE);
    assert_memory_equal(plain, orig + BATCH_HEADER_SIZE, dst);
    LZ4F_freeDecompressionContext(dctx);
    free(stored);
    /* An already compressed batch is stored as it came. */
    size_t l2 = fixture_batch(f->bufs[1], 16384, 2, 10, NOW, 1);
    be16_store(f->bufs[1] + BATCH_OFF_ATTRIBUTES, BATCH_CODEC_ZSTD);
    be32_store(f->bufs[1] + BATCH_OFF_CRC,
               crc32c(f->bufs[1] + BATCH_OFF_ATTRIBUTES, l2 - BATCH_OFF_ATTRIBUTES));
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->bufs[1], l2, NOW, &res), 0);
    read_header_at(f, 50, &h, &r);
    assert_int_equal(r.len, l2);
}

static void test_backpressure(void **state)
{
    struct fx *f = *state;
    f->cfg.max_pending = 4;
    open_log(f);
    struct log_append_result res;
    int accepted = 0, rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        size_t len = fixture_batch(f->bufs[i], 8192, 1, 10, NOW, i);
        rc = log_append(f->log, f->bufs[i], len, NOW, &res);
        accepted += rc == 0;
    }
    assert_int_equal(rc, -EAGAIN);
    assert_int_equal(accepted, 4);
    /* Nothing is durable before a flush; everything is after. */
    assert_int_equal(log_durable_end(f->log), 0);
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW), 0);
    assert_int_equal(log_durable_end(f->log), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offsets_assigned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_batch_leaves_log_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_append_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lz4_recompression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
