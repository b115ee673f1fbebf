/* test_crashsim.c - the power-loss simulation itself (tests/lib/crashsim.h):
 * synced bytes and names always survive a cut, unsynced ones are kept,
 * torn or lost (each fate seen over many cuts), a ring sync counts only
 * once it completed, a rename is old or new, never a mix, and what
 * bypasses the table (writes, creates, leaked descriptors) is caught. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "storage/io.h"
#include "storage/sys.h"
#include "storage_fixture.h"
#include "tests/lib/crashsim.h"

#define CUTS 200

struct fx {
    char *dir;
    char path[256], tmp[256], sub[256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = fixture_tmpdir();
    snprintf(f->path, sizeof(f->path), "%s/f", f->dir);
    snprintf(f->tmp, sizeof(f->tmp), "%s/f.tmp", f->dir);
    snprintf(f->sub, sizeof(f->sub), "%s/sub", f->dir);
    assert_int_equal(crashsim_install(f->dir, 7), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    crashsim_uninstall();
    fixture_rmdir(f->dir);
    free(f);
    return 0;
}

static void cut(void)
{
    char err[512];
    if (crashsim_power_cut(err, sizeof(err)) < 0)
        fail_msg("%s", err);
}

static ssize_t read_all(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, buf, cap, 0);
    close(fd);
    return n;
}

static int write_file(const char *path, uint8_t v, size_t n, bool sync)
{
    uint8_t buf[8192];
    assert_true(n <= sizeof(buf));
    memset(buf, v, sizeof(buf));
    int fd = storage_sys.open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(storage_pwrite_all(fd, buf, n, 0), 0);
    if (sync)
        assert_int_equal(storage_sys.fdatasync(fd), 0);
    return fd;
}

/* A synced 3000-byte write survives every cut; an unsynced one after it
 * is seen kept, torn at a sector and lost across the cuts. */
static void test_synced_survives_unsynced_varies(void **state)
{
    struct fx *f = *state;
    static uint8_t b[3000], got[8192];
    int kept = 0, lost = 0, torn = 0;
    memset(b, 'b', sizeof(b));
    for (int i = 0; i < CUTS; i++) {
        storage_sys.unlink(f->path);
        int fd = write_file(f->path, 'a', 3000, true);
        assert_int_equal(storage_sync_dir(f->dir), 0);
        assert_int_equal(storage_pwrite_all(fd, b, sizeof(b), 3000), 0);
        storage_sys.close(fd);
        cut();
        ssize_t n = read_all(f->path, got, sizeof(got));
        assert_true(n >= 3000);
        for (int k = 0; k < 3000; k++)
            assert_int_equal(got[k], 'a');
        /* What survived of b is b, or zeros where a later sector reached
         * the disk without an earlier one. */
        for (ssize_t k = 3000; k < n; k++)
            assert_true(got[k] == 'b' || got[k] == 0);
        if (n == 6000 && got[3000] == 'b' && got[5999] == 'b')
            kept++;
        else if (n == 3000)
            lost++;
        else
            torn++;
    }
    assert_true(kept > 0 && lost > 0 && torn > 0);
}

/* A name needs its directory synced: a synced file whose directory was
 * not is sometimes gone; with the directory synced it is always there. */
static void test_names_need_a_directory_sync(void **state)
{
    struct fx *f = *state;
    int gone = 0;
    for (int i = 0; i < CUTS; i++) {
        storage_sys.close(write_file(f->path, 'x', 100, true));
        if (i % 2)
            assert_int_equal(storage_sync_dir(f->dir), 0);
        cut();
        struct stat st;
        bool there = stat(f->path, &st) == 0;
        if (i % 2)
            assert_true(there && st.st_size == 100);
        gone += !there;
        if (there) {
            assert_int_equal(storage_sys.unlink(f->path), 0);
            assert_int_equal(storage_sync_dir(f->dir), 0);
        }
    }
    assert_true(gone > 0);
}

/* write tmp, fsync, rename over the file, fsync the directory: after a cut
 * at any call the file is wholly old or wholly new. */
static void test_rename_is_old_or_new(void **state)
{
    struct fx *f = *state;
    uint8_t got[8192];
    int old = 0, new = 0;
    storage_sys.close(write_file(f->path, 'o', 5000, true));
    assert_int_equal(storage_sync_dir(f->dir), 0);
    for (int i = 0; i < CUTS; i++) {
        crashsim_arm(1 + (uint64_t)(i % 7));
        int fd = storage_sys.open(f->tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
        uint8_t buf[5000];
        memset(buf, 'n', sizeof(buf));
        if (fd >= 0) {
            if (storage_pwrite_all(fd, buf, sizeof(buf), 0) == 0 && storage_sys.fsync(fd) == 0 &&
                storage_sys.close(fd) == 0 && storage_sys.rename(f->tmp, f->path) == 0)
                storage_sync_dir(f->dir);
            else
                storage_sys.close(fd);
        }
        bool done = !crashsim_is_cut();
        crashsim_arm(0);
        cut();
        ssize_t n = read_all(f->path, got, sizeof(got));
        assert_int_equal(n, 5000);
        for (int k = 1; k < 5000; k++)
            if (got[k] != got[0])
                fail_msg("round %d: byte %d is %d, byte 0 %d; cut at %s", i, k, got[k], got[0], crashsim_cut_where());
        assert_true(got[0] == 'o' || got[0] == 'n');
        if (done)
            assert_int_equal(got[0], 'n');
        old += got[0] == 'o';
        new += got[0] == 'n';
        /* Back to the old content for the next round. */
        storage_sys.unlink(f->tmp);
        storage_sys.close(write_file(f->path, 'o', 5000, true));
        assert_int_equal(storage_sync_dir(f->dir), 0);
    }
    assert_true(old > 0 && new > 0);
}

static int ring_res;

static void on_done(struct io_op *op, int res, uint32_t flags)
{
    (void)op;
    (void)flags;
    ring_res = res;
}

/* A ring fdatasync counts once its completion is reaped, not before: one
 * reaped after the power went off reports -EIO and saved nothing. */
static void test_ring_sync_counts_at_completion(void **state)
{
    struct fx *f = *state;
    struct io_uring ring;
    struct io_op op = { on_done };
    uint8_t got[8192];
    int lost = 0;
    assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
    storage_sys.close(write_file(f->path, 'a', 0, true));
    assert_int_equal(storage_sync_dir(f->dir), 0);
    for (int i = 0; i < CUTS; i++) {
        int fd = write_file(f->path, 'r', 4096, false);
        storage_sys.prep_fdatasync(io_uring_get_sqe(&ring), fd, &op);
        bool before = i % 2;
        if (!before)
            crashsim_cut_now();
        ring_res = 1;
        assert_int_equal(io_ring_run_once(&ring), 1);
        assert_int_equal(ring_res, before ? 0 : -EIO);
        crashsim_cut_now();
        storage_sys.close(fd);
        cut();
        ssize_t n = read_all(f->path, got, sizeof(got));
        if (before)
            assert_int_equal(n, 4096);
        else
            lost += n != 4096;
    }
    assert_true(lost > 0);
    io_uring_queue_exit(&ring);
}

/* A write with plain pwrite() to a file under the root is reported. */
static void test_bypass_is_caught(void **state)
{
    struct fx *f = *state;
    char err[512];
    int fd = write_file(f->path, 'a', 10, true);
    assert_int_equal(pwrite(fd, "zz", 2, 0), 2);
    storage_sys.close(fd);
    assert_int_equal(crashsim_power_cut(err, sizeof(err)), -1);
    assert_non_null(strstr(err, "written outside storage_sys"));
}

/* A descriptor still open at the cut is a leak. */
static void test_leak_is_caught(void **state)
{
    struct fx *f = *state;
    char err[512];
    int fd = write_file(f->path, 'a', 10, true);
    assert_int_equal(crashsim_power_cut(err, sizeof(err)), -1);
    assert_non_null(strstr(err, "still open"));
    (void)fd; /* closed by the simulation */
}

/* rmdir of a synced tree, with the parent synced, is final. */
static void test_remove_dir_is_durable(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(storage_mkdir(f->sub, 0755), 0);
        assert_int_equal(storage_sync_dir(f->dir), 0);
        char p[300];
        snprintf(p, sizeof(p), "%s/x", f->sub);
        storage_sys.close(write_file(p, 'x', 700, true));
        assert_int_equal(storage_sync_dir(f->sub), 0);
        assert_int_equal(storage_remove_dir(f->sub), 0);
        cut();
        struct stat st;
        assert_int_equal(stat(f->sub, &st), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_synced_survives_unsynced_varies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_need_a_directory_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_is_old_or_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_sync_counts_at_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bypass_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leak_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_dir_is_durable, setup, teardown),
    };
    return cmocka_run_group_tests_name("crashsim", tests, NULL, NULL);
}
