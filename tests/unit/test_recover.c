/* test_recover.c - recovery at open: torn and garbled tails, missing and
 * damaged indexes, holes in sealed segments (storage/recover.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "storage_fixture.h"

#define NOW 1700000000000ll

struct fx {
    char *dir;
    char pdir[512];
    struct io_uring ring;
    struct log_config cfg;
    struct log *log;
    uint8_t buf[16384];
    size_t sizes[512];     /* size of batch i */
    int count;             /* records per batch */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(fixture_log_init(&f->dir, &f->ring, &f->cfg), 0);
    snprintf(f->pdir, sizeof(f->pdir), "%s/feed-0", f->dir);
    f->cfg.index_interval_bytes = 512;
    f->count = 4;
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

/* Writes n batches of f->count records, closes cleanly. */
static void fill(struct fx *f, int n)
{
    open_log(f);
    for (int i = 0; i < n; i++) {
        struct log_append_result res;
        f->sizes[i] = fixture_batch(f->buf, sizeof(f->buf), f->count, 100, NOW + i, i);
        assert_int_equal(fixture_append_sync(f->log, &f->ring, f->buf, f->sizes[i], NOW, &res), 0);
        assert_int_equal(res.base_offset, (int64_t)i * f->count);
    }
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
}

static void path_of(struct fx *f, int64_t base, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/%020lld%s", f->pdir, (long long)base, ext);
}

static void crash_marker_off(struct fx *f)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/clean-shutdown", f->pdir);
    assert_int_equal(unlink(p), 0);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Every offset below the end reads back from a batch that holds it and
 * passes its CRC. */
static void check_readable(struct fx *f)
{
    for (int64_t off = 0; off < log_end_offset(f->log); off++) {
        struct log_range r[2];
        assert_true(log_read(f->log, off, 1, r, 2) == 1);
        uint8_t *b = malloc(r[0].len);
        assert_int_equal(pread(r[0].fd, b, r[0].len, (off_t)r[0].pos), (ssize_t)r[0].len);
        struct batch_header h;
        batch_header_decode(b, &h);
        assert_true(h.base_offset <= off && off <= batch_last_offset(&h));
        assert_int_equal(batch_size(&h), r[0].len);
        assert_true(batch_crc_ok(b, r[0].len));
        free(b);
    }
}

static void test_torn_tail_cut(void **state)
{
    struct fx *f = *state;
    fill(f, 30);
    crash_marker_off(f);
    char p[600];
    path_of(f, 0, ".log", p, sizeof(p));
    off_t size = file_size(p);
    assert_int_equal(truncate(p, size - 37), 0); /* half of the last batch */
    open_log(f);
    assert_int_equal(log_end_offset(f->log), 29 * f->count);
    assert_int_equal(file_size(p), size - (off_t)f->sizes[29]);
    check_readable(f);
    /* Appends continue right after the last good batch. */
    struct log_append_result res;
    size_t len = fixture_batch(f->buf, sizeof(f->buf), 2, 10, NOW, 99);
    assert_int_equal(fixture_append_sync(f->log, &f->ring, f->buf, len, NOW, &res), 0);
    assert_int_equal(res.base_offset, 29 * f->count);
}

static void test_garbled_tail_cut(void **state)
{
    struct fx *f = *state;
    fill(f, 30);
    crash_marker_off(f);
    char p[600];
    path_of(f, 0, ".log", p, sizeof(p));
    off_t size = file_size(p);
    /* Garble the last 20 bytes of the last batch, then add a zeroed block
     * as a crash in the middle of an extending write leaves. */
    int fd = open(p, O_RDWR);
    uint8_t junk[20];
    memset(junk, 0xA5, sizeof(junk));
    assert_int_equal(pwrite(fd, junk, sizeof(junk), size - 20), 20);
    uint8_t zeros[4096] = { 0 };
    assert_int_equal(pwrite(fd, zeros, sizeof(zeros), size), 4096);
    close(fd);
    open_log(f);
    assert_int_equal(log_end_offset(f->log), 29 * f->count);
    assert_int_equal(file_size(p), size - (off_t)f->sizes[29]);
    check_readable(f);
}

static void test_garbage_in_middle_cuts_there(void **state)
{
    struct fx *f = *state;
    fill(f, 30);
    crash_marker_off(f);
    char p[600];
    path_of(f, 0, ".log", p, sizeof(p));
    off_t pos = 0;
    for (int i = 0; i < 10; i++)
        pos += (off_t)f->sizes[i];
    int fd = open(p, O_RDWR);
    assert_int_equal(pwrite(fd, "garbage!", 8, pos + 70), 8);
    close(fd);
    open_log(f);
    assert_int_equal(log_end_offset(f->log), 10 * f->count);
    assert_int_equal(file_size(p), pos);
    check_readable(f);
}

static void test_missing_index_rebuilt(void **state)
{
    struct fx *f = *state;
    fill(f, 60);
    char p[600];
    path_of(f, 0, ".index", p, sizeof(p));
    off_t isize = file_size(p);
    assert_true(isize > 0);
    assert_int_equal(unlink(p), 0);
    path_of(f, 0, ".timeindex", p, sizeof(p));
    off_t tsize = file_size(p);
    assert_int_equal(unlink(p), 0);
    open_log(f); /* a clean stop, but the indexes are gone */
    assert_int_equal(log_end_offset(f->log), 60 * f->count);
    check_readable(f);
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
    path_of(f, 0, ".index", p, sizeof(p));
    assert_int_equal(file_size(p), isize);
    path_of(f, 0, ".timeindex", p, sizeof(p));
    assert_int_equal(file_size(p), tsize);
    int64_t off, ts;
    open_log(f);
    assert_int_equal(log_offset_for_timestamp(f->log, NOW + 33, &off, &ts), 0);
    assert_int_equal(off, 30 * f->count + 3); /* batch 30 stamps NOW+30..33 */
}

static void test_damaged_index_rebuilt(void **state)
{
    struct fx *f = *state;
    fill(f, 60);
    char p[600];
    path_of(f, 0, ".index", p, sizeof(p));
    off_t isize = file_size(p);
    int fd = open(p, O_RDWR);
    uint8_t junk[16];
    memset(junk, 0, sizeof(junk));
    assert_int_equal(pwrite(fd, junk, sizeof(junk), isize / 2 & ~7), 16);
    /* and a torn last entry */
    assert_int_equal(ftruncate(fd, isize - 3), 0);
    close(fd);
    crash_marker_off(f);
    open_log(f);
    assert_int_equal(log_end_offset(f->log), 60 * f->count);
    check_readable(f);
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
    assert_int_equal(file_size(p), isize);
}

static void test_hole_in_sealed_segment(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 4096;
    fill(f, 60);
    open_log(f);
    int segs = log_segment_count(f->log);
    assert_true(segs >= 4);
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
    crash_marker_off(f);
    char p[600];
    snprintf(p, sizeof(p), "%s/recovery-point", f->pdir);
    unlink(p); /* as if no segment was known synced: all are read */
    /* Find the second segment and damage its first batch's CRC. */
    int64_t second = 0;
    size_t used = 0;
    for (int i = 0; i < 60; i++) {
        if (used > 0 && used + f->sizes[i] > f->cfg.segment_bytes) {
            second = (int64_t)i * f->count;
            break;
        }
        used += f->sizes[i];
    }
    path_of(f, second, ".log", p, sizeof(p));
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff", 1, 100), 1);
    close(fd);
    open_log(f);
    assert_int_equal(log_end_offset(f->log), second);
    assert_int_equal(log_segment_count(f->log), 2);
    check_readable(f);
}

static void test_recovery_point_written_on_roll(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 4096;
    open_log(f);
    for (int i = 0; i < 40; i++) {
        struct log_append_result res;
        size_t len = fixture_batch(f->buf, sizeof(f->buf), 4, 100, NOW, i);
        assert_int_equal(fixture_append_sync(f->log, &f->ring, f->buf, len, NOW, &res), 0);
    }
    char p[600];
    snprintf(p, sizeof(p), "%s/recovery-point", f->pdir);
    FILE *rp = fopen(p, "r");
    assert_non_null(rp);
    long long v = -1;
    assert_int_equal(fscanf(rp, "%lld", &v), 1);
    fclose(rp);
    assert_true(v > 0);
    assert_true(v <= log_end_offset(f->log));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_torn_tail_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbled_tail_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_in_middle_cuts_there, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_index_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_index_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hole_in_sealed_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_point_written_on_roll, setup, teardown),
    };
    return cmocka_run_group_tests_name("recover", tests, NULL, NULL);
}
