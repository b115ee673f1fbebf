/* test_journal.c - the shard's write-ahead journal (storage/journal.h):
 * one commit makes a turn's units of many logs durable; records replay
 * into logs that lost their unsynced segment writes; checkpoints move the
 * tail and the circle wraps; a unit too large for the journal falls back
 * to the log's own fdatasync; a recreated partition never gets an old
 * incarnation's records; a damaged record or header slot ends recovery
 * where it is, without reading past it.
 *
 * Process deaths are real (fork, SIGKILL). Lost segment writes are
 * modelled by a child whose segment writes never reach the file (the
 * storage_sys table drops them, reporting success), which a power cut may
 * do to any write not yet synced: what it reported durable must then come
 * back from the journal alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/journal_private.h"
#include "storage/sys.h"
#include "storage_fixture.h"

#define NOW 1700000000000ll
#define NLOGS 8
#define REGION (4ull << 20)        /* a small journal (1 MiB commits): checkpoints come soon */
#define BIG_REGION (16ull << 20)   /* no checkpoint during a test */

struct fx {
    char *dir;
    struct io_uring ring;
    struct journal *j;
    struct log *logs[NLOGS];
    int nlogs;
};

static void open_logs(struct fx *f, int n)
{
    struct log_config cfg;
    log_config_defaults(&cfg);
    for (int i = 0; i < n; i++) {
        assert_int_equal(log_open(&f->logs[i], f->dir, "t", i, &cfg, NOW), 0);
        log_set_journal(f->logs[i], f->j);
    }
    f->nlogs = n;
}

static void fx_init(struct fx *f, uint64_t region, int nlogs)
{
    memset(f, 0, sizeof(*f));
    assert_non_null(f->dir = fixture_tmpdir());
    assert_int_equal(io_uring_queue_init(256, &f->ring, 0), 0);
    assert_int_equal(journal_replay_dir(f->dir), 0);
    assert_int_equal(journal_open(&f->j, f->dir, 0, region), 0);
    open_logs(f, nlogs);
}

/* One turn: every log's flush, then the journal's commit, then reap. */
static void turn(struct fx *f)
{
    for (int i = 0; i < f->nlogs; i++)
        assert_true(log_flush_submit(f->logs[i], &f->ring, NOW) >= 0);
    assert_true(journal_submit(f->j, &f->ring) >= 0);
    struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 2000000 };
    struct io_uring_cqe *cqe;
    io_uring_submit_and_wait_timeout(&f->ring, &cqe, 1, &ts, NULL);
    while (io_uring_peek_cqe(&f->ring, &cqe) == 0) {
        io_op_dispatch(cqe);
        io_uring_cqe_seen(&f->ring, cqe);
    }
}

static bool all_idle(struct fx *f)
{
    for (int i = 0; i < f->nlogs; i++)
        if (log_flush_pending(f->logs[i]) || log_busy(f->logs[i]))
            return false;
    return !journal_busy(f->j) && !journal_pending(f->j);
}

static void drain(struct fx *f)
{
    for (int i = 0; i < 100000 && !all_idle(f); i++)
        turn(f);
    assert_true(all_idle(f));
}

static void fx_close(struct fx *f)
{
    drain(f);
    for (int i = 0; i < f->nlogs; i++)
        assert_int_equal(log_close(f->logs[i]), 0);
    journal_close(f->j);
    io_uring_queue_exit(&f->ring);
}

/* Appends a batch of n records (value i of it tagged with seq) to log;
 * returns its base offset. */
static int64_t append(struct fx *f, int li, uint8_t *buf, size_t cap, int n, size_t vlen,
                      int64_t seq)
{
    size_t len = fixture_batch(buf, cap, n, vlen, NOW, seq);
    struct log_append_result res;
    int rc;
    while ((rc = log_append(f->logs[li], buf, len, NOW, &res)) == -EAGAIN)
        turn(f);
    assert_int_equal(rc, 0);
    return res.base_offset;
}

/* Reads offset's batch of log and checks it is the one tagged seq. */
static void check_batch(struct log *log, int64_t offset, int n, size_t vlen, int64_t seq)
{
    static uint8_t want[1 << 17], got[1 << 17];
    size_t len = fixture_batch(want, sizeof(want), n, vlen, NOW, seq);
    batch_assign(want, offset, 0, -1);
    struct log_range r[2];
    assert_int_equal(log_read(log, offset, 1, r, 2), 1);
    assert_int_equal(r[0].len, len);
    assert_int_equal(pread(r[0].fd, got, len, (off_t)r[0].pos), (ssize_t)len);
    assert_memory_equal(got, want, len);
}

/* One append to each of 8 logs in one turn: one journal commit covers
 * them all, and every log is durable after it. */
static void test_one_commit_covers_every_log(void **state)
{
    (void)state;
    struct fx f;
    static uint8_t bufs[NLOGS][4096];
    fx_init(&f, BIG_REGION, NLOGS);
    for (int i = 0; i < NLOGS; i++)
        assert_int_equal(append(&f, i, bufs[i], sizeof(bufs[i]), 3, 40, i), 0);
    drain(&f);
    struct journal_stats st;
    journal_get_stats(f.j, &st);
    assert_int_equal(st.records, NLOGS);
    assert_int_equal(st.commits, 1);
    for (int i = 0; i < NLOGS; i++) {
        assert_int_equal(log_durable_end(f.logs[i]), 3);
        check_batch(f.logs[i], 0, 3, 40, i);
    }
    fx_close(&f);
    fixture_rmdir(f.dir);
}

/* --- a child whose segment writes are lost ------------------------------ */

static bool is_journal_fd(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return false;
    path[n] = '\0';
    return strstr(path, "/" JOURNAL_DIR "/") != NULL;
}

/* Segment writes report success and write nothing: a power cut's worst
 * case for every unsynced write (no segment sync may be relied upon). */
struct dropped {
    struct io_op op;
    struct io_op *inner;
    int len;
};

static void on_dropped(struct io_op *op, int res, uint32_t flags)
{
    struct dropped *d = (struct dropped *)op;
    (void)res;
    d->inner->complete(d->inner, d->len, flags);
    free(d);
}

static void dropping_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov,
                                 unsigned n, uint64_t off, struct io_op *op)
{
    if (is_journal_fd(fd)) {
        io_uring_prep_writev(sqe, fd, iov, n, off);
        io_uring_sqe_set_data(sqe, op);
        return;
    }
    struct dropped *d = malloc(sizeof(*d));
    d->op.complete = on_dropped;
    d->inner = op;
    d->len = 0;
    for (unsigned i = 0; i < n; i++)
        d->len += (int)iov[i].iov_len;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, &d->op);
}

struct report {
    int32_t log;
    int64_t offset;
    int64_t seq;
};

/* Appends to every log in turn, forever, reporting each batch durable.
 * Each log has a ring of 16 buffers: a buffer is reused only after its
 * batch was reported (the log points into it until written). */
#define SLOTS 16
static void child_append(const char *dir, int pipe_fd, uint64_t region, bool drop)
{
    struct fx f;
    static uint8_t bufs[NLOGS][SLOTS][4096];
    struct report pending[NLOGS][SLOTS];
    int head[NLOGS] = { 0 }, count[NLOGS] = { 0 };
    memset(&f, 0, sizeof(f));
    f.dir = (char *)dir;
    if (drop)
        storage_sys.prep_writev = dropping_prep_writev;
    int rc = io_uring_queue_init(256, &f.ring, 0);
    if (rc == 0)
        rc = journal_open(&f.j, dir, 0, region);
    if (rc < 0) {
        fprintf(stderr, "child: cannot open the journal: %s\n", strerror(-rc));
        _exit(2);
    }
    open_logs(&f, NLOGS);
    for (int64_t seq = 0;; seq++) {
        int li = (int)(seq % NLOGS);
        if (count[li] < SLOTS) {
            int slot = (head[li] + count[li]) % SLOTS;
            size_t len = fixture_batch(bufs[li][slot], sizeof(bufs[li][slot]), 4, 60, NOW, seq);
            struct log_append_result res;
            if (log_append(f.logs[li], bufs[li][slot], len, NOW, &res) == 0) {
                pending[li][slot] = (struct report){ li, res.base_offset, seq };
                count[li]++;
            }
        }
        if (li == NLOGS - 1)
            turn(&f);
        for (int i = 0; i < NLOGS; i++) {
            while (count[i] > 0 &&
                   pending[i][head[i]].offset + 4 <= log_durable_end(f.logs[i])) {
                if (write(pipe_fd, &pending[i][head[i]], sizeof(struct report)) !=
                    sizeof(struct report))
                    _exit(3);
                head[i] = (head[i] + 1) % SLOTS;
                count[i]--;
            }
            if (log_error(f.logs[i])) {
                fprintf(stderr, "child: log %d failed: %s\n", i, strerror(-log_error(f.logs[i])));
                _exit(4);
            }
        }
    }
}

struct child_args {
    const char *dir;
    uint64_t region;
    bool drop;
};

static void child_main(int pipe_fd, void *ctx)
{
    struct child_args *a = ctx;
    child_append(a->dir, pipe_fd, a->region, a->drop);
}

/* Runs child_append, kills it after want reports, returns them (every
 * report read, at most cap). */
static size_t run_and_kill(const char *dir, uint64_t region, bool drop, size_t want,
                           struct report *reps, size_t cap)
{
    struct child_args a = { dir, region, drop };
    long n = fixture_run_and_kill(child_main, &a, reps, sizeof(*reps), cap, want);
    assert_true(n >= (long)want);
    return (size_t)n;
}

static void verify_reports(const char *dir, const struct report *reps, size_t n)
{
    struct log_config cfg;
    log_config_defaults(&cfg);
    struct log *logs[NLOGS];
    for (int i = 0; i < NLOGS; i++)
        assert_int_equal(log_open(&logs[i], dir, "t", i, &cfg, NOW), 0);
    for (size_t k = 0; k < n; k++)
        check_batch(logs[reps[k].log], reps[k].offset, 4, 60, reps[k].seq);
    for (int i = 0; i < NLOGS; i++)
        assert_int_equal(log_close(logs[i]), 0);
}

/* Every segment write lost: all that was reported durable comes back from
 * the journal. */
static void test_replay_puts_back_lost_writes(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    static struct report reps[1 << 16];
    size_t n = run_and_kill(dir, BIG_REGION, true, 2000, reps, 1 << 16);
    /* The segments hold nothing the child wrote. */
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/t-0/%020d.log", dir, 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    int replayed = journal_replay_dir(dir);
    assert_true(replayed >= (int)n); /* at least every reported batch */
    verify_reports(dir, reps, n);
    /* Replaying again finds everything in place already. */
    assert_int_equal(journal_replay_dir(dir), 0);
    print_message("journal: %zu durable batches over %d logs came back from the journal\n", n,
                  NLOGS);
    fixture_rmdir(dir);
}

/* The smallest journal, 40x its size appended: checkpoints move the tail
 * and the circle wraps many times; SIGKILLs in between lose nothing. */
static void test_checkpoints_and_wrap(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    static struct report reps[1 << 18], all[1 << 20];
    size_t total = 0;
    for (int round = 0; round < 4; round++) {
        assert_true(journal_replay_dir(dir) >= 0);
        size_t n = run_and_kill(dir, REGION, false, 8000 + 2000 * round, reps, 1 << 18);
        memcpy(all + total, reps, n * sizeof(*reps));
        total += n;
    }
    assert_true(journal_replay_dir(dir) >= 0);
    verify_reports(dir, all, total);
    /* The journal went round: the last header's tail is past its size. */
    struct fx f;
    memset(&f, 0, sizeof(f));
    f.dir = dir;
    assert_int_equal(journal_open(&f.j, dir, 0, REGION), 0);
    uint64_t tail = f.j->tail;
    journal_close(f.j);
    assert_true(tail > REGION);
    print_message("journal: %zu durable batches over 4 kills, tail at %.1f laps of the region\n",
                  total, (double)tail / REGION);
    fixture_rmdir(dir);
}

/* A unit larger than a commit buffer syncs its own segment instead. */
static void test_large_unit_uses_the_log_sync(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, BIG_REGION, 1);
    static uint8_t big[32][65536];
    for (int i = 0; i < 32; i++) {
        size_t len = fixture_batch(big[i], sizeof(big[i]), 60, 1000, NOW, i);
        struct log_append_result res;
        assert_int_equal(log_append(f.logs[0], big[i], len, NOW, &res), 0);
    }
    drain(&f);
    struct journal_stats st;
    journal_get_stats(f.j, &st);
    assert_true(st.full >= 1);
    assert_int_equal(log_durable_end(f.logs[0]), 32 * 60);
    fx_close(&f);
    fixture_rmdir(f.dir);
}

/* Units the journal takes and units too large for it, interleaved: the
 * high watermark only grows, nothing stalls, and it reaches the end. */
static void test_mixed_units_never_go_backwards(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, BIG_REGION, 1);
    static uint8_t small[64][4096], big[20][65536];
    int64_t end = 0, hw = 0;
    for (int i = 0; i < 64; i++) {
        size_t len = fixture_batch(small[i], sizeof(small[i]), 2, 100, NOW, i);
        struct log_append_result res;
        assert_int_equal(log_append(f.logs[0], small[i], len, NOW, &res), 0);
        end += 2;
        if (i % 4 == 3) {
            /* A turn's worth larger than a commit buffer: the log's own sync. */
            for (int k = 0; k < 20; k++) {
                len = fixture_batch(big[k], sizeof(big[k]), 60, 1000, NOW, 1000 + i * 20 + k);
                int rc;
                while ((rc = log_append(f.logs[0], big[k], len, NOW, &res)) == -EAGAIN)
                    turn(&f);
                assert_int_equal(rc, 0);
                end += 60;
            }
            drain(&f); /* the big buffers are reused: let them be written */
        }
        turn(&f);
        assert_true(log_durable_end(f.logs[0]) >= hw);
        hw = log_durable_end(f.logs[0]);
    }
    drain(&f);
    assert_int_equal(log_durable_end(f.logs[0]), end);
    struct journal_stats st;
    journal_get_stats(f.j, &st);
    assert_true(st.full >= 1);
    assert_true(st.records >= 16);
    fx_close(&f);
    fixture_rmdir(f.dir);
}

/* A partition deleted and created again under the same name gets a new
 * log id: the old incarnation's records are never replayed into it. */
static void test_recreated_partition_ignores_old_records(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    static struct report reps[1 << 16];
    run_and_kill(dir, BIG_REGION, true, 500, reps, 1 << 16);
    char path[4200];
    snprintf(path, sizeof(path), "%s/t-3", dir);
    assert_int_equal(storage_remove_dir(path), 0);
    struct log_config cfg;
    log_config_defaults(&cfg);
    struct log *log;
    struct io_uring ring;
    assert_int_equal(io_uring_queue_init(16, &ring, 0), 0);
    assert_int_equal(log_open(&log, dir, "t", 3, &cfg, NOW), 0);
    uint8_t buf[4096];
    size_t len = fixture_batch(buf, sizeof(buf), 2, 10, NOW, 99);
    struct log_append_result res;
    assert_int_equal(fixture_append_sync(log, &ring, buf, len, NOW, &res), 0);
    assert_int_equal(log_close(log), 0);
    io_uring_queue_exit(&ring);
    assert_true(journal_replay_dir(dir) > 0); /* the other partitions */
    assert_int_equal(log_open(&log, dir, "t", 3, &cfg, NOW), 0);
    assert_int_equal(log_end_offset(log), 2);
    assert_int_equal(log_close(log), 0);
    fixture_rmdir(dir);
}

/* journal_scan stops at a damaged record (and never reads past the
 * region); a torn header slot falls back to the other one. */
static void test_damage_ends_the_scan(void **state)
{
    (void)state;
    static uint8_t region[1 << 16];
    memset(region, 0, sizeof(region));
    uint64_t lsn = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t len = 4096;
        jrec_put_header(region + lsn, len, JREC_BATCHES, 3, 7, i, i + 1, 0);
        memcpy(region + lsn + JREC_HEADER, "t-0", 3);
        jrec_seal(region + lsn, lsn);
        lsn += len;
    }
    assert_int_equal(journal_scan(region, sizeof(region), 0, NULL, NULL), 4 * 4096);
    region[2 * 4096 + 100] ^= 1; /* a flipped bit in the third record */
    assert_int_equal(journal_scan(region, sizeof(region), 0, NULL, NULL), 2 * 4096);
    /* A record claiming more than the region holds is not read. */
    be32_store(region + JREC_OFF_LEN, 1u << 30);
    assert_int_equal(journal_scan(region, sizeof(region), 0, NULL, NULL), 0);
    /* Header slots. */
    uint8_t slot[JOURNAL_BLOCK];
    uint64_t seq, tail, size;
    jhdr_put(slot, 5, 8192, REGION);
    assert_int_equal(jhdr_get(slot, &seq, &tail, &size), 0);
    assert_int_equal(seq, 5);
    assert_int_equal(tail, 8192);
    slot[20] ^= 0x40;
    assert_int_equal(jhdr_get(slot, &seq, &tail, &size), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_commit_covers_every_log),
        cmocka_unit_test(test_replay_puts_back_lost_writes),
        cmocka_unit_test(test_checkpoints_and_wrap),
        cmocka_unit_test(test_large_unit_uses_the_log_sync),
        cmocka_unit_test(test_mixed_units_never_go_backwards),
        cmocka_unit_test(test_recreated_partition_ignores_old_records),
        cmocka_unit_test(test_damage_ends_the_scan),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
