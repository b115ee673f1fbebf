/* test_faults.c - failing writes and syncs (a full disk, an I/O error):
 * the log fails for good, never reports the lost bytes durable, and
 * reopens to what was durable before (storage/sys.h, storage/flush.c);
 * short writes are finished and operations io-wq never ran are retried.
 * Failing reads (EIO) and failed syncs take the log offline, a full disk
 * does not (storage/log_fault.c), and a reopen serves it again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "storage/journal.h"
#include "storage/sys.h"
#include "storage_fixture.h"

#define NOW 1700000000000ll

static int fail_errno;
static int writes_left;       /* writes allowed before failing; -1: never fail */

/* A ring write that fails: a NOP whose completion reaches the log's op
 * as -fail_errno, as a write to a full disk would. */
struct failed_write {
    struct io_op op;
    struct io_op *inner;
};

static void on_failed_write(struct io_op *op, int res, uint32_t flags)
{
    struct failed_write *fw = (struct failed_write *)op;
    (void)res;
    fw->inner->complete(fw->inner, -fail_errno, flags);
}

static void failing_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov,
                                unsigned n, uint64_t off, struct io_op *op)
{
    static struct failed_write fw = { .op.complete = on_failed_write };
    if (writes_left == 0) {
        fw.inner = op;
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, &fw.op);
        return;
    }
    if (writes_left > 0)
        writes_left--;
    io_uring_prep_writev(sqe, fd, iov, n, off);
    io_uring_sqe_set_data(sqe, op);
}

/* Short writes: at most 100 bytes per write, to exercise finishing one. */
static void short_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov,
                              unsigned n, uint64_t off, struct io_op *op)
{
    (void)n;
    size_t len = iov[0].iov_len < 100 ? iov[0].iov_len : 100;
    io_uring_prep_write(sqe, fd, iov[0].iov_base, (unsigned)len, off);
    io_uring_sqe_set_data(sqe, op);
}

/* Operations io-wq never ran: the next `cancels` writes and syncs complete
 * -ECANCELED, as when io_uring cannot start a worker for punted work. The
 * stand-in is an fsync of fd -1: it fails, so whatever is linked after it
 * is cancelled too, as the kernel does after a cancelled head of a link. */
static int cancels;

static void on_cancelled(struct io_op *op, int res, uint32_t flags)
{
    struct failed_write *fw = (struct failed_write *)op;
    (void)res;
    fw->inner->complete(fw->inner, -ECANCELED, flags);
}

static bool prep_cancelled(struct io_uring_sqe *sqe, struct io_op *op)
{
    static struct failed_write fw[64];
    static unsigned next;
    if (cancels <= 0)
        return false;
    cancels--;
    struct failed_write *w = &fw[next++ % 64];
    w->op.complete = on_cancelled;
    w->inner = op;
    io_uring_prep_fsync(sqe, -1, 0);
    io_uring_sqe_set_data(sqe, &w->op);
    return true;
}

static void cancelling_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov,
                                   unsigned n, uint64_t off, struct io_op *op)
{
    if (!prep_cancelled(sqe, op)) {
        io_uring_prep_writev(sqe, fd, iov, n, off);
        io_uring_sqe_set_data(sqe, op);
    }
}

static void cancelling_prep_fdatasync(struct io_uring_sqe *sqe, int fd, struct io_op *op)
{
    if (!prep_cancelled(sqe, op)) {
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data(sqe, op);
    }
}

static void failing_prep_fdatasync(struct io_uring_sqe *sqe, int fd, struct io_op *op)
{
    (void)fd;
    io_uring_prep_fsync(sqe, -1, IORING_FSYNC_DATASYNC); /* completes -EBADF */
    io_uring_sqe_set_data(sqe, op);
}


struct fx {
    char *dir;
    struct io_uring ring;
    struct log_config cfg;
    struct storage_syscalls saved;
    uint8_t buf[8][8192];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = fixture_tmpdir();
    assert_int_equal(io_uring_queue_init(16, &f->ring, 0), 0);
    log_config_defaults(&f->cfg);
    f->saved = storage_sys;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    storage_sys = f->saved;
    io_uring_queue_exit(&f->ring);
    fixture_rmdir(f->dir);
    free(f);
    return 0;
}

static void append_one(struct fx *f, struct log *log, int i, int rc_expected)
{
    size_t len = fixture_batch(f->buf[i % 8], sizeof(f->buf[0]), 5, 50, NOW, i);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(log, &f->ring, f->buf[i % 8], len, NOW, &res),
                     rc_expected);
}

static void test_full_disk_is_sticky(void **state)
{
    struct fx *f = *state;
    struct log *log;
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    append_one(f, log, 0, 0);
    append_one(f, log, 1, 0);
    assert_int_equal(log_durable_end(log), 10);

    fail_errno = ENOSPC;
    writes_left = 0;
    storage_sys.prep_writev = failing_prep_writev;
    append_one(f, log, 2, -ENOSPC);
    assert_int_equal(log_error(log), -ENOSPC);
    assert_false(log_offline(log)); /* a full disk: read-only, not offline */
    assert_int_equal(log_durable_end(log), 10); /* the lost batch never counts */
    /* Sticky: even with space back, the log refuses and stays put. */
    storage_sys.prep_writev = f->saved.prep_writev;
    struct log_append_result res;
    size_t len = fixture_batch(f->buf[3], sizeof(f->buf[0]), 5, 50, NOW, 3);
    assert_int_equal(log_append(log, f->buf[3], len, NOW, &res), -ENOSPC);
    assert_int_equal(log_flush_submit(log, &f->ring, NOW), -ENOSPC);
    assert_int_equal(log_durable_end(log), 10);
    assert_int_equal(log_close(log), -ENOSPC);

    /* Reopened, the log holds what was durable and goes on from there. */
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    assert_int_equal(log_end_offset(log), 10);
    append_one(f, log, 4, 0);
    assert_int_equal(log_durable_end(log), 15);
    assert_int_equal(log_close(log), 0);
}

static void test_failed_sync_is_sticky(void **state)
{
    struct fx *f = *state;
    struct log *log;
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    append_one(f, log, 0, 0);
    storage_sys.prep_fdatasync = failing_prep_fdatasync;
    append_one(f, log, 1, -EBADF);
    assert_int_equal(log_error(log), -EBADF);
    assert_true(log_offline(log)); /* an unexpected errno: a disk fault */
    assert_string_equal(log_fault(log)->op, "fdatasync");
    assert_int_equal(log_fault(log)->err, -EBADF);
    /* Written to the file, but never synced: not durable, not readable. */
    assert_int_equal(log_written_end(log), 10);
    assert_int_equal(log_durable_end(log), 5);
    assert_int_equal(log_read(log, 5, 100, (struct log_range[1]){ 0 }, 1), 0);
    storage_sys.prep_fdatasync = f->saved.prep_fdatasync;
    assert_int_equal(log_flush_submit(log, &f->ring, NOW), -EBADF);
    assert_int_equal(log_durable_end(log), 5);
    log_close(log);
}

/* Reopened, the log holds end offsets in valid batches of 5 from 0. */
static void reopen_reads_back(struct fx *f, int64_t end)
{
    struct log *log;
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    assert_int_equal(log_end_offset(log), end);
    for (int64_t off = 0; off < end; off += 5) {
        struct log_range r[2];
        uint8_t b[8192];
        assert_int_equal(log_read(log, off, 1, r, 2), 1);
        assert_int_equal(pread(r[0].fd, b, r[0].len, (off_t)r[0].pos), (ssize_t)r[0].len);
        assert_int_equal(batch_validate(b, r[0].len, 0), 0);
    }
    assert_int_equal(log_close(log), 0);
}

static void test_short_writes_complete(void **state)
{
    struct fx *f = *state;
    struct log *log;
    storage_sys.prep_writev = short_prep_writev;
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    for (int i = 0; i < 8; i++)
        append_one(f, log, i, 0);
    storage_sys.prep_writev = f->saved.prep_writev;
    assert_int_equal(log_close(log), 0);
    reopen_reads_back(f, 40);
}

/* A cancelled write or sync was never run: it is issued again, the log
 * does not fail, and everything reads back after a reopen. */
static void test_cancelled_ops_are_retried(void **state)
{
    struct fx *f = *state;
    struct log *log;
    storage_sys.prep_writev = cancelling_prep_writev;
    storage_sys.prep_fdatasync = cancelling_prep_fdatasync;
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    for (int i = 0; i < 8; i++) {
        cancels = 1 + i % 3; /* the write, and maybe its sync and the next try */
        append_one(f, log, i, 0);
        assert_int_equal(log_error(log), 0);
        assert_int_equal(log_durable_end(log), 5 * (i + 1));
    }
    cancels = 0;
    storage_sys = f->saved;
    assert_int_equal(log_close(log), 0);
    reopen_reads_back(f, 40);
}

/* One turn of a shard with a journal: the log's flush, the journal's
 * commit, and what completed dispatched. */
static void journal_turn(struct fx *f, struct log *log, struct journal *j)
{
    assert_true(log_flush_submit(log, &f->ring, NOW) >= 0);
    assert_true(journal_submit(j, &f->ring) >= 0);
    if (journal_busy(j) || log_busy(log))
        assert_true(io_ring_run_once(&f->ring) >= 0); /* waits for a completion */
}

/* A log attached to a fresh shard journal in f's directory. */
static void open_journaled(struct fx *f, struct log **log, struct journal **j)
{
    assert_int_equal(journal_replay_dir(f->dir), 0);
    assert_int_equal(journal_open(j, f->dir, 0, JOURNAL_MIN_BYTES), 0);
    assert_int_equal(log_open(log, f->dir, "t", 0, &f->cfg, NOW), 0);
    log_set_journal(*log, *j);
}

/* A journal commit whose write or fdatasync io-wq never ran is issued
 * again: the journal and the log do not fail, every append becomes
 * durable, and everything reads back after a reopen. */
static void test_cancelled_journal_commits_are_retried(void **state)
{
    struct fx *f = *state;
    struct log *log;
    struct journal *j;
    open_journaled(f, &log, &j);
    storage_sys.prep_writev = cancelling_prep_writev;
    storage_sys.prep_fdatasync = cancelling_prep_fdatasync;
    struct journal_stats st;
    for (int i = 0; i < 8; i++) {
        size_t len = fixture_batch(f->buf[i], sizeof(f->buf[0]), 5, 50, NOW, i);
        struct log_append_result res;
        assert_int_equal(log_append(log, f->buf[i], len, NOW, &res), 0);
        cancels = 1 + i % 3; /* the commit's write, and maybe its sync and the next try */
        for (int t = 0; t < 10000 && log_durable_end(log) < 5 * (i + 1); t++)
            journal_turn(f, log, j);
        assert_int_equal(log_error(log), 0);
        assert_int_equal(log_durable_end(log), 5 * (i + 1));
    }
    journal_get_stats(j, &st);
    assert_true(st.commits >= 8);
    cancels = 0;
    storage_sys = f->saved;
    while (log_flush_pending(log) || log_busy(log) || journal_busy(j) || journal_pending(j))
        journal_turn(f, log, j);
    assert_int_equal(log_close(log), 0);
    journal_close(j);
    reopen_reads_back(f, 40);
}

/* A journal commit whose fdatasync fails: the write fault takes the log
 * offline as a read fault does (named after the journal's commit), and
 * nothing the commit covered is reported durable. */
static void test_failed_journal_commit_takes_log_offline(void **state)
{
    struct fx *f = *state;
    struct log *log;
    struct journal *j;
    open_journaled(f, &log, &j);
    struct log_append_result res;
    size_t len = fixture_batch(f->buf[0], sizeof(f->buf[0]), 5, 50, NOW, 0);
    assert_int_equal(log_append(log, f->buf[0], len, NOW, &res), 0);
    for (int t = 0; t < 10000 && log_durable_end(log) < 5; t++)
        journal_turn(f, log, j); /* durable through the journal */
    assert_int_equal(log_durable_end(log), 5);
    len = fixture_batch(f->buf[1], sizeof(f->buf[0]), 5, 50, NOW, 1);
    assert_int_equal(log_append(log, f->buf[1], len, NOW, &res), 0);
    storage_sys.prep_fdatasync = failing_prep_fdatasync;
    for (int t = 0; t < 10000 && !log_error(log); t++) {
        assert_true(log_flush_submit(log, &f->ring, NOW) >= 0);
        assert_true(journal_submit(j, &f->ring) >= 0);
        if (journal_busy(j) || log_busy(log))
            assert_true(io_ring_run_once(&f->ring) >= 0);
    }
    assert_true(log_offline(log));
    assert_string_equal(log_fault(log)->op, "journal commit");
    assert_non_null(strstr(log_fault(log)->file, "/__journal/")); /* the journal's file */
    assert_int_equal(log_durable_end(log), 5);
    storage_sys = f->saved;
    for (int t = 0; t < 10000 && (log_busy(log) || journal_busy(j)); t++)
        assert_true(io_ring_run_once(&f->ring) >= 0);
    assert_int_equal(log_durable_end(log), 5);
    assert_true(log_close(log) < 0);
    journal_close(j);
}

/* --- read faults -------------------------------------------------------- */

static int read_fail_fd = -1;  /* storage_sys.pread fails with EIO on it */
static int reads_failed;

static ssize_t failing_pread(int fd, void *buf, size_t len, off_t off)
{
    if (fd == read_fail_fd) {
        reads_failed++;
        errno = EIO;
        return -1;
    }
    return pread(fd, buf, len, off);
}

struct fault_seen {
    int calls;
    struct log *log;
};

static void on_fault(void *ctx, struct log *log)
{
    struct fault_seen *seen = ctx;
    seen->calls++;
    seen->log = log;
}

/* The first segment's .log descriptor, as log_read hands it out. */
static int first_segment_fd(struct log *log)
{
    struct log_range r[1];
    assert_int_equal(log_read(log, 0, 1, r, 1), 1);
    return r[0].fd;
}

/* A batch header log_read cannot read: the fetch gets the errno, the log
 * goes offline once (the handler is told), refuses appends, and nothing
 * more becomes durable; reopened with the disk reading again, every
 * batch reads back and the log serves. */
static void test_read_fault_takes_log_offline(void **state)
{
    struct fx *f = *state;
    struct log *log;
    struct fault_seen seen = { 0 };
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    log_set_fault_handler(log, on_fault, &seen);
    for (int i = 0; i < 3; i++)
        append_one(f, log, i, 0);
    assert_false(log_offline(log));
    assert_null(log_fault(log));
    read_fail_fd = first_segment_fd(log);
    storage_sys.pread = failing_pread;

    struct log_range r[2];
    assert_int_equal(log_read(log, 5, 100, r, 2), -EIO);
    assert_true(reads_failed > 0);
    assert_true(log_offline(log));
    assert_int_equal(seen.calls, 1);
    assert_ptr_equal(seen.log, log);
    const struct log_fault *fault = log_fault(log);
    assert_int_equal(fault->err, -EIO);
    assert_string_equal(fault->op, "read");
    assert_non_null(strstr(fault->file, "/t-0/00000000000000000000.log"));
    /* Sticky, told once; appends refused, nothing more made durable. */
    assert_int_equal(log_read(log, 0, 100, r, 2), -EIO);
    assert_int_equal(seen.calls, 1);
    struct log_append_result res;
    size_t len = fixture_batch(f->buf[3], sizeof(f->buf[0]), 5, 50, NOW, 3);
    assert_int_equal(log_append(log, f->buf[3], len, NOW, &res), -EIO);
    assert_int_equal(log_error(log), -EIO);
    assert_int_equal(log_durable_end(log), 15);

    storage_sys.pread = f->saved.pread; /* the disk reads again */
    read_fail_fd = -1;
    assert_int_equal(log_close(log), -EIO); /* no clean-shutdown marker */
    reopen_reads_back(f, 15);
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    assert_false(log_offline(log));
    append_one(f, log, 3, 0);
    assert_int_equal(log_durable_end(log), 20);
    assert_int_equal(log_close(log), 0);
}

/* ListOffsets by timestamp reads batches too: a failed read is the
 * errno and offline, never "no such offset". */
static void test_timestamp_lookup_fault(void **state)
{
    struct fx *f = *state;
    struct log *log;
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    append_one(f, log, 0, 0);
    int64_t off, ts;
    assert_int_equal(log_offset_for_timestamp(log, NOW + 2, &off, &ts), 0);
    assert_int_equal(off, 2);
    read_fail_fd = first_segment_fd(log);
    storage_sys.pread = failing_pread;
    assert_int_equal(log_offset_for_timestamp(log, NOW + 2, &off, &ts), -EIO);
    assert_true(log_offline(log));
    assert_string_equal(log_fault(log)->op, "read");
    storage_sys.pread = f->saved.pread;
    read_fail_fd = -1;
    log_close(log);
}

/* A read that failed outside storage (a fetch's splice): blamed on the
 * log only when the descriptor is one of its segments. */
static void test_read_failed_elsewhere(void **state)
{
    struct fx *f = *state;
    struct log *log;
    struct fault_seen seen = { 0 };
    assert_int_equal(log_open(&log, f->dir, "t", 0, &f->cfg, NOW), 0);
    log_set_fault_handler(log, on_fault, &seen);
    append_one(f, log, 0, 0);
    int fd = first_segment_fd(log);
    assert_false(log_read_failed(log, fd + 1000, -EIO, "splice"));
    assert_false(log_offline(log));
    assert_true(log_read_failed(log, fd, -EBADMSG, "splice")); /* the data, not the disk */
    assert_false(log_offline(log));
    assert_true(log_read_failed(log, fd, -EIO, "splice"));
    assert_true(log_offline(log));
    assert_string_equal(log_fault(log)->op, "splice");
    assert_int_equal(seen.calls, 1);
    log_close(log);
}

static void test_fault_errnos(void **state)
{
    (void)state;
    assert_true(log_errno_is_fault(-EIO));
    assert_true(log_errno_is_fault(-ENXIO));
    assert_true(log_errno_is_fault(-EBADF));
    assert_true(log_errno_is_fault(-EROFS));
    assert_false(log_errno_is_fault(0));
    assert_false(log_errno_is_fault(-ENOSPC));
    assert_false(log_errno_is_fault(-EDQUOT));
    assert_false(log_errno_is_fault(-EBADMSG));
    assert_false(log_errno_is_fault(-ENOENT));
    assert_false(log_errno_is_fault(-ENOMEM));
    assert_false(log_errno_is_fault(-EAGAIN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_fault_takes_log_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_lookup_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_failed_elsewhere, setup, teardown),
        cmocka_unit_test(test_fault_errnos),
        cmocka_unit_test_setup_teardown(test_failed_journal_commit_takes_log_offline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_writes_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_ops_are_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_journal_commits_are_retried, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
