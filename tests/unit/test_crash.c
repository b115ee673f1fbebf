/* test_crash.c - nothing reported durable is lost when the process dies.
 *
 * A child appends with flush "always", pipelining many batches, and
 * reports each batch on a pipe once log_durable_end() covers it. The
 * parent SIGKILLs the child after a random number of reports (so at a
 * random point of its write/fdatasync cycle), reopens the log and checks
 * that every reported batch is there, byte for byte, and that the whole
 * log reads back valid. 25 rounds on the same log, each continuing it;
 * then 25 more with the log's jobs (naming, sealing, pre-creating
 * segments) run late, as a shard's worker thread may. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "storage_fixture.h"

#define NOW 1700000000000ll
#define ROUNDS 25
#define INFLIGHT 32

struct report {
    int64_t base_offset;
    int64_t seq;
    int32_t records;
    int32_t value_len;
};

static size_t batch_for(int64_t seq, uint8_t *buf, size_t cap, int *records, int *vlen)
{
    *records = 1 + (int)(seq % 13);
    *vlen = 16 + (int)((seq * 37) % 700);
    return fixture_batch(buf, cap, *records, (size_t)*vlen, NOW + seq, seq);
}

/* Deferred jobs (the second test): the log's slow work is queued and run
 * a few loop turns late, one at a time, as a shard's worker thread may
 * lag, so kills land while a rolled-onto segment is still unnamed
 * (.next.log holding durable batches) or a sealed one is not sealed. */
#define DEFERRED_MAX 64
static struct log_job *deferred[DEFERRED_MAX];
static int ndeferred;

static void defer_job(void *ctx, struct log_job *job)
{
    (void)ctx;
    if (ndeferred == DEFERRED_MAX)
        _exit(6);
    deferred[ndeferred++] = job;
}

static void run_one_deferred(void)
{
    if (ndeferred == 0 || rand() % 4 != 0)
        return;
    struct log_job *job = deferred[0];
    memmove(deferred, deferred + 1, (size_t)--ndeferred * sizeof(*deferred));
    log_job_run(job);
    log_job_finish(job);
}

/* Waits up to 1 ms for completions and dispatches them (a deferred job,
 * not the ring, may be what the log waits for). */
static int reap(struct io_uring *ring)
{
    struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR)
        return rc;
    while (io_uring_peek_cqe(ring, &cqe) == 0) {
        io_op_dispatch(cqe);
        io_uring_cqe_seen(ring, cqe);
    }
    return 0;
}

/* The child: appends forever (until killed), reporting durable batches. */
static void child_run(const char *dir, int fd, int64_t first_seq, bool defer)
{
    static uint8_t bufs[INFLIGHT][16384];
    struct report pending[INFLIGHT];
    int head = 0, count = 0;
    struct io_uring ring;
    struct log_config cfg;
    struct log *log;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 256 * 1024; /* rolls happen between kills */
    cfg.index_interval_bytes = 1024;
    if (io_uring_queue_init(64, &ring, 0) < 0 || log_open(&log, dir, "crash", 0, &cfg, NOW) < 0)
        _exit(2);
    if (defer) {
        srand((unsigned)getpid());
        log_set_job_runner(log, defer_job, NULL);
    }
    for (int64_t seq = first_seq;; ) {
        /* Fill the pipeline. */
        while (count < INFLIGHT) {
            int slot = (head + count) % INFLIGHT, records, vlen;
            size_t len = batch_for(seq, bufs[slot], sizeof(bufs[slot]), &records, &vlen);
            struct log_append_result res;
            int rc = log_append(log, bufs[slot], len, NOW, &res);
            if (rc == -EAGAIN)
                break;
            if (rc != 0)
                _exit(3);
            pending[slot] = (struct report){ res.base_offset, seq, records, vlen };
            count++;
            seq++;
        }
        if (defer)
            run_one_deferred();
        if (log_flush_submit(log, &ring, NOW) < 0 || reap(&ring) < 0 || log_error(log))
            _exit(4);
        /* Report what is durable; its buffer may be reused. */
        while (count > 0 && pending[head].base_offset + pending[head].records <= log_durable_end(log)) {
            if (write(fd, &pending[head], sizeof(pending[head])) != sizeof(pending[head]))
                _exit(5);
            head = (head + 1) % INFLIGHT;
            count--;
        }
    }
}

static void verify(struct log *log, const struct report *reps, size_t n)
{
    static uint8_t want[16384], got[16384];
    for (size_t i = 0; i < n; i++) {
        int records, vlen;
        size_t len = batch_for(reps[i].seq, want, sizeof(want), &records, &vlen);
        batch_assign(want, reps[i].base_offset, 0, -1);
        struct log_range r[2];
        int nr = log_read(log, reps[i].base_offset, 1, r, 2);
        assert_int_equal(nr, 1);
        assert_int_equal(r[0].len, len);
        assert_int_equal(pread(r[0].fd, got, len, (off_t)r[0].pos), (ssize_t)len);
        assert_memory_equal(got, want, len);
    }
    /* The whole log: a chain of valid batches with contiguous offsets. */
    int64_t off = log_start_offset(log);
    while (off < log_end_offset(log)) {
        struct log_range r[2];
        assert_int_equal(log_read(log, off, 1, r, 2), 1);
        assert_true(r[0].len <= sizeof(got));
        assert_int_equal(pread(r[0].fd, got, r[0].len, (off_t)r[0].pos), (ssize_t)r[0].len);
        struct batch_header h;
        batch_header_decode(got, &h);
        assert_int_equal(h.base_offset, off);
        assert_int_equal(batch_validate(got, r[0].len, 0), 0);
        off = batch_last_offset(&h) + 1;
    }
}

struct child_args {
    const char *dir;
    int64_t first_seq;
    bool defer;
};

static void child_main(int pipe_fd, void *ctx)
{
    struct child_args *a = ctx;
    child_run(a->dir, pipe_fd, a->first_seq, a->defer);
}

static void sigkill_rounds(bool defer)
{
    char *dir = fixture_tmpdir();
    size_t cap = 1 << 20, n = 0;
    struct report *reps = malloc(cap * sizeof(*reps));
    int64_t next_seq = 0;
    srand(4242);

    for (int round = 0; round < ROUNDS; round++) {
        /* Kill after a random number of durable reports: the child is
         * then somewhere in its append/write/fdatasync cycle. Reports
         * already in the pipe were durable too. */
        struct child_args a = { dir, next_seq, defer };
        size_t want = 1 + (size_t)(rand() % 400);
        long got = fixture_run_and_kill(child_main, &a, reps + n, sizeof(*reps), cap - n, want);
        assert_true(got >= (long)want); /* the child did not die on its own */
        n += (size_t)got;
        next_seq = reps[n - 1].seq + 1;

        /* Unacknowledged batches may or may not survive; the child's next
         * round restarts its sequence after the last reported one, and
         * whatever it appended beyond that is simply more log. */
        struct log_config cfg;
        struct log *log;
        log_config_defaults(&cfg);
        cfg.segment_bytes = 256 * 1024;
        cfg.index_interval_bytes = 1024;
        assert_int_equal(log_open(&log, dir, "crash", 0, &cfg, NOW), 0);
        assert_true(log_end_offset(log) >= reps[n - 1].base_offset + reps[n - 1].records);
        verify(log, reps, n);
        if (round % 2 == 0) {
            assert_int_equal(log_close(log), 0); /* alternate clean stops */
        } else {
            /* Leave it as a crash would: no marker, nothing more written. */
            char marker[512];
            assert_int_equal(log_close(log), 0);
            snprintf(marker, sizeof(marker), "%s/crash-0/clean-shutdown", dir);
            assert_int_equal(unlink(marker), 0);
        }
    }
    print_message("crash: %d rounds, %zu durable batches verified%s\n", ROUNDS, n,
                  defer ? " (jobs deferred)" : "");
    free(reps);
    fixture_rmdir(dir);
}

static void test_sigkill_loses_nothing_durable(void **state)
{
    (void)state;
    sigkill_rounds(false);
}

/* The same with the log's jobs run late: a roll's new segment may hold
 * durable batches under its temporary name, and recovery must name it. */
static void test_sigkill_with_jobs_behind(void **state)
{
    (void)state;
    sigkill_rounds(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_loses_nothing_durable),
        cmocka_unit_test(test_sigkill_with_jobs_behind),
    };
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
