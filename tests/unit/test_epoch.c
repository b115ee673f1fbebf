/* test_epoch.c - a partition's leader epochs (storage/epoch.c): Kafka's
 * OffsetForLeaderEpoch answers, assignments that break the order refused,
 * truncation from either end, the checkpoint file in Kafka's format read
 * back after a reopen, damaged files refused, and a failed write (through
 * storage_sys) leaving both the file and the cache as they were. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/epoch.h"
#include "storage/sys.h"

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-test-epoch-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void file_text(char *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_FILE);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

static void write_text(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_FILE);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void end_of(const struct epoch_cache *c, int32_t e, int64_t leo,
                   int32_t want_epoch, int64_t want_end)
{
    int32_t got_e;
    int64_t got_end;
    epoch_cache_end_offset(c, e, leo, &got_e, &got_end);
    assert_int_equal(got_e, want_epoch);
    assert_int_equal(got_end, want_end);
}

static void test_offset_for_leader_epoch(void **state)
{
    struct epoch_cache c;
    char text[256];
    (void)state;

    assert_int_equal(epoch_cache_open(&c, dir), 0);
    assert_int_equal(epoch_cache_latest(&c), EPOCH_UNDEFINED);
    end_of(&c, 0, 10, EPOCH_UNDEFINED, -1);
    assert_int_equal(epoch_cache_assign(&c, 1, 0), 0);
    assert_int_equal(epoch_cache_assign(&c, 1, 7), 0);      /* same epoch */
    assert_int_equal(epoch_cache_assign(&c, 3, 100), 0);
    assert_int_equal(epoch_cache_assign(&c, 6, 250), 0);
    assert_int_equal(epoch_cache_assign(&c, 5, 300), -EINVAL);  /* older */
    assert_int_equal(epoch_cache_assign(&c, 7, 250), -EINVAL);  /* same start */
    assert_int_equal(epoch_cache_latest(&c), 6);
    end_of(&c, 6, 400, 6, 400);          /* the latest: the log end */
    end_of(&c, 3, 400, 3, 250);          /* ended where 6 began */
    end_of(&c, 4, 400, 3, 250);          /* unknown: the floor's end */
    end_of(&c, 0, 400, 0, 0);            /* older than all: where 1 began */
    end_of(&c, 9, 400, EPOCH_UNDEFINED, -1);
    end_of(&c, EPOCH_UNDEFINED, 400, EPOCH_UNDEFINED, -1);
    file_text(text, sizeof text);
    assert_string_equal(text, "0\n3\n1 0\n3 100\n6 250\n");
    epoch_cache_close(&c);

    assert_int_equal(epoch_cache_open(&c, dir), 0);     /* reopened */
    assert_int_equal(c.n, 3);
    end_of(&c, 3, 400, 3, 250);
    /* A follower cut its log at 120: epoch 6 is gone, 3 is the latest. */
    assert_int_equal(epoch_cache_truncate_end(&c, 120), 0);
    assert_int_equal(epoch_cache_latest(&c), 3);
    end_of(&c, 3, 120, 3, 120);
    /* Retention deleted everything before 150. */
    assert_int_equal(epoch_cache_truncate_start(&c, 150), 0);
    file_text(text, sizeof text);
    assert_string_equal(text, "0\n1\n3 150\n");
    epoch_cache_close(&c);
}

static void test_damaged_files_refused(void **state)
{
    static const char *const bad[] = {
        "", "0\n", "1\n0\n", "0\n2\n1 0\n", "0\n1\n1 0", "0\n2\n3 5\n2 9\n",
        "0\n2\n3 5\n4 5\n", "0\n1\n-1 0\n", "0\n1\n1 x\n", "0\n1\n1 0\nextra",
        "0\n99999999\n",
    };
    struct epoch_cache c;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(bad[i]);
        assert_int_equal(epoch_cache_open(&c, dir), -EINVAL);
    }
    write_text("0\n2\n0 0\n4 17\n");
    assert_int_equal(epoch_cache_open(&c, dir), 0);
    assert_int_equal(epoch_cache_latest(&c), 4);
    epoch_cache_close(&c);
}

static int fail_rename(const char *from, const char *to)
{
    (void)from;
    (void)to;
    errno = EIO;
    return -1;
}

static void test_failed_write_changes_nothing(void **state)
{
    struct epoch_cache c;
    char text[256];
    (void)state;

    assert_int_equal(epoch_cache_open(&c, dir), 0);
    assert_int_equal(epoch_cache_assign(&c, 2, 10), 0);
    int (*real)(const char *, const char *) = storage_sys.rename;
    storage_sys.rename = fail_rename;
    assert_int_equal(epoch_cache_assign(&c, 3, 20), -EIO);
    assert_int_equal(epoch_cache_truncate_end(&c, 5), -EIO);
    storage_sys.rename = real;
    assert_int_equal(epoch_cache_latest(&c), 2);
    assert_int_equal(c.n, 1);
    file_text(text, sizeof text);
    assert_string_equal(text, "0\n1\n2 10\n");
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, EPOCH_FILE);
    assert_int_equal(access(tmp, F_OK), -1);            /* cleaned up */
    assert_int_equal(epoch_cache_assign(&c, 3, 20), 0);
    epoch_cache_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offset_for_leader_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_changes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
