/* storage_fixture.h - helpers shared by the storage unit tests: temporary
 * data directories, real producer batches, driving a log's flushes on a
 * private io_uring until its appends are durable, and a child process
 * SIGKILLed after it reported enough. */
#ifndef SLUICE_STORAGE_FIXTURE_H
#define SLUICE_STORAGE_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/crc32c.h"
#include "storage/io.h"
#include "storage/log.h"

static inline char *fixture_tmpdir(void)
{
    char tmpl[] = "/tmp/sluice-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline int fixture_rm_entry(const char *path, const struct stat *sb,
                                   int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fixture_rmdir(char *dir)
{
    if (dir)
        nftw(dir, fixture_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* What a log test starts from: a fresh data directory, a ring to drive
 * the log's flushes on, and Kafka's default log config. 0 or a negative
 * errno. */
static inline int fixture_log_init(char **dir, struct io_uring *ring, struct log_config *cfg)
{
    *dir = fixture_tmpdir();
    log_config_defaults(cfg);
    return *dir ? io_uring_queue_init(64, ring, 0) : -ENOMEM;
}

/* Undoes fixture_log_init, closing log first when it is open. */
static inline void fixture_log_close(char *dir, struct io_uring *ring, struct log *log)
{
    if (log)
        log_close(log);
    io_uring_queue_exit(ring);
    fixture_rmdir(dir);
}

/* A batch of n records, value i is "v<seq>-<i>" padded to value_len with
 * 'x', key "k<i>", record timestamps ts, ts+1, ... Returns its size. */
static inline size_t fixture_batch(uint8_t *buf, size_t cap, int n,
                                   size_t value_len, int64_t ts, int64_t seq)
{
    struct batch_builder b;
    batch_builder_init(&b, buf, cap, ts);
    for (int i = 0; i < n; i++) {
        char key[32], value[4096];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        if (value_len > sizeof(value))
            value_len = sizeof(value);
        memset(value, 'x', value_len);
        int vl = snprintf(value, sizeof(value), "v%lld-%d", (long long)seq, i);
        if ((size_t)vl < value_len)
            value[vl] = 'x';
        else
            value_len = (size_t)vl;
        struct record_header h = { "h", 1, "1", 1 };
        if (batch_builder_add(&b, ts + i, key, (size_t)kl, value, value_len, &h, 1) < 0)
            return 0;
    }
    return batch_builder_finish(&b, 0);
}

/* fixture_batch's batch from a producer: pid, epoch, base sequence and
 * (when txn) the transactional bit set, CRC recomputed. */
static inline size_t fixture_producer_batch(uint8_t *buf, size_t cap, int n, size_t value_len,
                                            int64_t ts, int64_t pid, int16_t epoch,
                                            int32_t seq, int txn)
{
    size_t len = fixture_batch(buf, cap, n, value_len, ts, seq);
    if (len == 0)
        return 0;
    be64_store(buf + BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_store(buf + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    be32_store(buf + BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
    if (txn)
        be16_store(buf + BATCH_OFF_ATTRIBUTES,
                   be16_load(buf + BATCH_OFF_ATTRIBUTES) | BATCH_ATTR_TRANSACTIONAL);
    be32_store(buf + BATCH_OFF_CRC, crc32c(buf + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
    return len;
}

/* Submits and reaps until everything appended to log is durable. On an
 * error it still reaps what is in flight: a failed log closes only idle. */
static inline int fixture_drain(struct log *log, struct io_uring *ring, int64_t now_ms)
{
    int rc = 0;
    while (rc >= 0 && log_flush_pending(log) && !log_error(log)) {
        rc = log_flush_submit(log, ring, now_ms);
        if (rc >= 0 && log_flush_pending(log))
            rc = io_ring_run_once(ring);
    }
    while (log_busy(log) && io_ring_run_once(ring) >= 0)
        ;
    if (log_error(log))
        return log_error(log);
    return rc < 0 ? rc : 0;
}

/* Submits what is queued and dispatches what has completed, without
 * waiting (after a simulated power cut, syncs fail at once). */
static inline void fixture_reap_ready(struct io_uring *ring)
{
    struct io_uring_cqe *cqe;
    io_uring_submit(ring);
    while (io_uring_peek_cqe(ring, &cqe) == 0) {
        io_op_dispatch(cqe);
        io_uring_cqe_seen(ring, cqe);
    }
}

/* Appends one batch and waits until it is durable. */
static inline int fixture_append_sync(struct log *log, struct io_uring *ring,
                                      uint8_t *buf, size_t len, int64_t now_ms,
                                      struct log_append_result *res)
{
    int rc = log_append(log, buf, len, now_ms, res);
    if (rc == -EAGAIN) {
        if ((rc = fixture_drain(log, ring, now_ms)) < 0)
            return rc;
        rc = log_append(log, buf, len, now_ms, res);
    }
    if (rc != 0)
        return rc;
    return fixture_drain(log, ring, now_ms);
}

/* Forks a child running child(pipe_fd, ctx), which never returns and
 * writes fixed-size reports (size bytes, under PIPE_BUF: each arrives
 * whole) of what it made durable; reads them into reps until want have
 * come, SIGKILLs it there, keeps the reports already in the pipe (durable
 * too) and reaps it. Returns how many reports were read (at most cap), or
 * -1 if the child ended before want of them or by anything but the kill. */
static inline long fixture_run_and_kill(void (*child)(int pipe_fd, void *ctx), void *ctx,
                                        void *reps, size_t size, size_t cap, size_t want)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(p[0]);
        child(p[1], ctx);
        _exit(1);
    }
    close(p[1]);
    char *out = reps;
    size_t n = 0;
    while (n < want && n < cap && read(p[0], out + n * size, size) == (ssize_t)size)
        n++;
    bool early = n < want;
    kill(pid, SIGKILL);
    while (n < cap && read(p[0], out + n * size, size) == (ssize_t)size)
        n++;
    close(p[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || early || !WIFSIGNALED(status) ||
        WTERMSIG(status) != SIGKILL)
        return -1;
    return (long)n;
}

#endif
