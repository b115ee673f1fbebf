/* test_producer_state.c - idempotence and transactions in the storage
 * engine: the producer state's checks (storage/producer_state.h), Kafka's
 * snapshot format (producer_snapshot.h), the .txnindex (txn_index.h), and
 * the log with them: duplicates answered with their offsets, state kept
 * across a clean close and rebuilt after a crash (a child killed with
 * SIGKILL), snapshots at roll and with retention, markers, the last
 * stable offset and read_committed reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/kerr.h"
#include "storage/producer_snapshot.h"
#include "storage/producer_state.h"
#include "storage/txn_index.h"
#include "storage_fixture.h"

#define NOW 1700000000000ll
#define PID 4000

/* ---- producer_state alone ---- */

static struct batch_header hdr(int64_t pid, int16_t epoch, int32_t seq, int n, int64_t base,
                               int txn)
{
    struct batch_header h = {
        .base_offset = base, .last_offset_delta = n - 1, .producer_id = pid,
        .producer_epoch = epoch, .base_sequence = seq, .records_count = n,
        .max_timestamp = NOW, .attributes = txn ? BATCH_ATTR_TRANSACTIONAL : 0 };
    return h;
}

static enum producer_verdict check(struct producer_state *ps, struct batch_header h,
                                   int16_t *err)
{
    struct producer_check c;
    producer_state_check(ps, &h, &c);
    *err = c.error;
    return c.verdict;
}

/* Checks and applies, as the log does. */
static void put(struct producer_state *ps, struct batch_header h)
{
    int16_t err;
    assert_int_equal(check(ps, h, &err), PRODUCER_APPEND);
    assert_int_equal(producer_state_apply(ps, &h), 0);
}

static void test_sequences(void **state)
{
    (void)state;
    struct producer_state ps;
    int16_t err;
    producer_state_init(&ps);
    /* unknown producer: any first sequence (Kafka since KIP-360) */
    put(&ps, hdr(PID, 0, 7, 3, 0, 0));            /* 7..9 at 0..2 */
    put(&ps, hdr(PID, 0, 10, 2, 3, 0));           /* 10..11 at 3..4 */
    /* a gap, a repeat of a middle sequence */
    assert_int_equal(check(&ps, hdr(PID, 0, 13, 1, 5, 0), &err), PRODUCER_REJECT);
    assert_int_equal(err, PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE);
    assert_int_equal(check(&ps, hdr(PID, 0, 8, 2, 5, 0), &err), PRODUCER_REJECT);
    assert_int_equal(err, PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE);
    /* an exact retry is a duplicate with its original offsets */
    struct producer_check c;
    struct batch_header d = hdr(PID, 0, 7, 3, 99, 0);
    producer_state_check(&ps, &d, &c);
    assert_int_equal(c.verdict, PRODUCER_DUPLICATE);
    assert_int_equal(c.dup_first_offset, 0);
    assert_int_equal(c.dup_last_offset, 2);
    /* an older epoch is fenced; a newer one starts at 0 */
    put(&ps, hdr(PID, 2, 0, 1, 5, 0));
    assert_int_equal(check(&ps, hdr(PID, 1, 12, 1, 6, 0), &err), PRODUCER_REJECT);
    assert_int_equal(err, PRODUCER_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(check(&ps, hdr(PID, 3, 5, 1, 6, 0), &err), PRODUCER_REJECT);
    assert_int_equal(err, PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE);
    assert_int_equal(check(&ps, hdr(PID, 3, 0, 1, 6, 0), &err), PRODUCER_APPEND);
    /* the old epoch's batches are gone with it: no duplicate any more */
    assert_int_equal(check(&ps, hdr(PID, 2, 0, 1, 6, 0), &err), PRODUCER_DUPLICATE);
    producer_state_free(&ps);
}

static void test_five_kept_and_wrap(void **state)
{
    (void)state;
    struct producer_state ps;
    int16_t err;
    producer_state_init(&ps);
    for (int i = 0; i < 6; i++)
        put(&ps, hdr(PID, 0, i, 1, i, 0));
    for (int i = 1; i < 6; i++)
        assert_int_equal(check(&ps, hdr(PID, 0, i, 1, 0, 0), &err), PRODUCER_DUPLICATE);
    /* the sixth-newest fell out: no longer a duplicate, and out of order */
    assert_int_equal(check(&ps, hdr(PID, 0, 0, 1, 0, 0), &err), PRODUCER_REJECT);
    assert_int_equal(err, PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE);
    /* sequences wrap at INT32_MAX to 0 */
    put(&ps, hdr(PID + 1, 0, INT32_MAX - 1, 2, 10, 0));
    assert_int_equal(producer_last_seq(INT32_MAX - 1, 1), INT32_MAX);
    assert_int_equal(producer_last_seq(INT32_MAX - 1, 3), 1);
    assert_int_equal(check(&ps, hdr(PID + 1, 0, 0, 1, 12, 0), &err), PRODUCER_APPEND);
    producer_state_free(&ps);
}

static void test_many_producers_and_expiry(void **state)
{
    (void)state;
    struct producer_state ps;
    producer_state_init(&ps);
    for (int64_t p = 0; p < 5000; p++) {
        struct batch_header h = hdr(p * 7919, 0, 0, 1, p, p == 17);
        h.max_timestamp = NOW + p;
        assert_int_equal(producer_state_apply(&ps, &h), 0);
    }
    assert_int_equal(ps.count, 5000);
    for (int64_t p = 0; p < 5000; p += 97)
        assert_non_null(producer_state_find(&ps, p * 7919));
    /* everything last seen at NOW+2500 or before expires, except the
     * producer with an open transaction */
    int n = producer_state_expire(&ps, NOW + 2500 + 1000, 1000);
    assert_int_equal(n, 2501 - 1);
    assert_int_equal(ps.count, 2500);
    assert_non_null(producer_state_find(&ps, 17 * 7919));
    for (int64_t p = 2501; p < 5000; p++)
        assert_non_null(producer_state_find(&ps, p * 7919));
    assert_null(producer_state_find(&ps, 3 * 7919));
    producer_state_free(&ps);
}

static void test_transactions_and_lso(void **state)
{
    (void)state;
    struct producer_state ps;
    struct producer_completed_txn done;
    int16_t err;
    producer_state_init(&ps);
    assert_int_equal(producer_state_lso(&ps, 100), 100);
    put(&ps, hdr(1, 0, 0, 2, 10, 1));   /* txn of 1 opens at 10 */
    put(&ps, hdr(2, 0, 0, 2, 12, 1));   /* txn of 2 opens at 12 */
    put(&ps, hdr(1, 0, 2, 2, 14, 1));
    assert_int_equal(producer_state_lso(&ps, 100), 10);
    assert_int_equal(producer_state_lso(&ps, 5), 5); /* never past the HW */
    /* a non-transactional write while a transaction is open */
    assert_int_equal(check(&ps, hdr(1, 0, 4, 1, 16, 0), &err), PRODUCER_REJECT);
    assert_int_equal(err, PRODUCER_ERR_INVALID_TXN_STATE);
    /* 1 aborts at 16: the LSO after it is 2's first offset */
    assert_int_equal(producer_state_end_txn(&ps, 1, 0, 0, 16, NOW, false, &done), 1);
    assert_true(done.aborted);
    assert_int_equal(done.first_offset, 10);
    assert_int_equal(done.last_stable_offset, 12);
    /* until the marker is durable the LSO stays at 10 */
    assert_int_equal(producer_state_lso(&ps, 16), 10);
    assert_int_equal(producer_state_lso(&ps, 17), 12);
    assert_int_equal(producer_state_end_txn(&ps, 2, 0, 0, 17, NOW, true, &done), 1);
    assert_false(done.aborted);
    assert_int_equal(done.last_stable_offset, 18);
    assert_int_equal(producer_state_lso(&ps, 18), 18);
    /* a marker with nothing open closes nothing; a fenced one is refused */
    assert_int_equal(producer_state_end_txn(&ps, 2, 1, 0, 18, NOW, true, &done), 0);
    assert_int_equal(producer_state_check_marker(&ps, 2, 0, 0), PRODUCER_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(producer_state_check_marker(&ps, 2, 1, -5), PRODUCER_ERR_COORDINATOR_FENCED);
    /* the epoch the marker moved it to starts at sequence 0 */
    assert_int_equal(check(&ps, hdr(2, 1, 4, 1, 19, 0), &err), PRODUCER_REJECT);
    assert_int_equal(check(&ps, hdr(2, 1, 0, 1, 19, 0), &err), PRODUCER_APPEND);
    producer_state_free(&ps);
}

/* ---- the snapshot format ---- */

static int count_entry(void *ctx, const struct producer_entry *e)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void test_snapshot_format(void **state)
{
    (void)state;
    struct producer_state ps, back;
    producer_state_init(&ps);
    producer_state_init(&back);
    struct batch_header h = hdr(0x0102030405060708ll, 0x1112, 5, 3, 40, 1);
    assert_int_equal(producer_state_apply(&ps, &h), 0);
    size_t len = producer_snapshot_size(&ps);
    assert_int_equal(len, 10 + 46);
    uint8_t buf[64];
    producer_snapshot_encode(&ps, buf);
    /* Kafka's layout: version, crc, count, then the entry's fields */
    assert_int_equal(be16_load(buf), 1);
    assert_int_equal(be32_load(buf + 2), crc32c(buf + 6, len - 6));
    assert_int_equal(be32_load(buf + 6), 1);
    assert_int_equal((int64_t)be64_load(buf + 10), 0x0102030405060708ll);
    assert_int_equal(be16_load(buf + 18), 0x1112);
    assert_int_equal(be32_load(buf + 20), 7);            /* last sequence */
    assert_int_equal((int64_t)be64_load(buf + 24), 42); /* last offset */
    assert_int_equal(be32_load(buf + 32), 2);            /* offset delta */
    assert_int_equal((int64_t)be64_load(buf + 36), NOW);
    assert_int_equal((int32_t)be32_load(buf + 44), -1);  /* coordinator epoch */
    assert_int_equal((int64_t)be64_load(buf + 48), 40);  /* open txn */
    /* round trip, then one flipped bit is refused */
    char *dir = fixture_tmpdir();
    assert_int_equal(producer_snapshot_write(dir, 43, &ps, true), 0);
    assert_int_equal(producer_snapshot_load(dir, 43, &back, NULL, NULL), 0);
    const struct producer_entry *e = producer_state_find(&back, h.producer_id);
    assert_non_null(e);
    assert_int_equal(e->epoch, 0x1112);
    assert_int_equal(e->txn_first_offset, 40);
    assert_int_equal(producer_entry_last(e)->first_seq, 5);
    assert_int_equal(producer_entry_last(e)->first_offset, 40);
    assert_int_equal(producer_state_lso(&back, 100), 40);
    int n = 0;
    buf[30] ^= 4;
    assert_int_equal(producer_snapshot_decode(buf, len, count_entry, &n), -EBADMSG);
    assert_int_equal(producer_snapshot_decode(buf, 9, count_entry, &n), -EBADMSG);
    assert_int_equal(n, 0);
    int64_t *offs;
    int count;
    assert_int_equal(producer_snapshot_list(dir, &offs, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(offs[0], 43);
    free(offs);
    fixture_rmdir(dir);
    producer_state_free(&ps);
    producer_state_free(&back);
}

static void test_txn_index(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000000000.txnindex", dir);
    struct txn_index ti;
    assert_int_equal(txn_index_open(&ti, path, true), 0);
    assert_int_equal(ti.fd, -1); /* created with its first entry only */
    struct aborted_txn a[3] = { { 1, 0, 5, 6 }, { 2, 3, 9, 10 }, { 1, 20, 30, 31 } };
    for (int i = 0; i < 3; i++)
        assert_int_equal(txn_index_append(&ti, &a[i]), 0);
    struct aborted_txn bad = { 3, 0, 30, 31 };
    assert_int_equal(txn_index_append(&ti, &bad), -EINVAL); /* must increase */
    assert_int_equal(txn_index_flush(&ti, path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3 * TXN_INDEX_ENTRY);
    txn_index_close(&ti);
    /* a torn last entry is cut at open */
    FILE *f = fopen(path, "ab");
    fputs("torn", f);
    fclose(f);
    assert_int_equal(txn_index_open(&ti, path, true), 0);
    assert_int_equal(ti.count, 3);
    struct aborted_txn out[4];
    int n = 0;
    /* [6, 25): the first ends before it; the second overlaps; the third
     * starts at 20 < 25; complete once an LSO reaches 25 */
    assert_true(txn_index_collect(&ti, 6, 25, out, 4, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0].pid, 2);
    assert_int_equal(out[1].first_offset, 20);
    n = 0;
    assert_false(txn_index_collect(&ti, 0, 100, out, 4, &n));
    assert_int_equal(n, 3);
    assert_int_equal(txn_index_truncate(&ti, 9), 0);
    assert_int_equal(ti.count, 1);
    txn_index_close(&ti);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, TXN_INDEX_ENTRY);
    fixture_rmdir(dir);
}

/* ---- the log with producers ---- */

struct fx {
    char *dir;
    struct io_uring ring;
    struct log_config cfg;
    struct log *log;
    uint8_t buf[16384];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = fixture_tmpdir();
    assert_int_equal(io_uring_queue_init(64, &f->ring, 0), 0);
    log_config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->log)
        log_close(f->log);
    io_uring_queue_exit(&f->ring);
    fixture_rmdir(f->dir);
    free(f);
    return 0;
}

static void open_log(struct fx *f)
{
    assert_int_equal(log_open(&f->log, f->dir, "eos", 0, &f->cfg, NOW), 0);
}

/* Appends n records of pid at seq durably; returns the rc, res filled. */
static int produce(struct fx *f, int64_t pid, int16_t epoch, int32_t seq, int n, int txn,
                   struct log_append_result *res)
{
    size_t len = fixture_producer_batch(f->buf, sizeof(f->buf), n, 100, NOW, pid, epoch, seq, txn);
    assert_true(len > 0);
    return fixture_append_sync(f->log, &f->ring, f->buf, len, NOW, res);
}

static int64_t marker(struct fx *f, int64_t pid, int16_t epoch, bool commit)
{
    struct log_append_result res;
    assert_int_equal(log_append_marker(f->log, pid, epoch, 0, commit, NOW, &res), 0);
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW), 0);
    return res.base_offset;
}

static void test_log_duplicates(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    open_log(f);
    assert_int_equal(produce(f, PID, 0, 0, 10, 0, &res), 0);
    assert_int_equal(produce(f, PID, 0, 10, 10, 0, &res), 0);
    assert_int_equal(res.base_offset, 10);
    /* the retry of the first batch: its offsets, nothing appended */
    assert_int_equal(produce(f, PID, 0, 0, 10, 0, &res), 0);
    assert_true(res.duplicate);
    assert_int_equal(res.base_offset, 0);
    assert_int_equal(res.last_offset, 9);
    assert_int_equal(log_end_offset(f->log), 20);
    assert_int_equal(produce(f, PID, 0, 30, 1, 0, &res), PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE);
    /* a producer batch needs a sequence */
    assert_int_equal(produce(f, PID + 1, 0, -1, 1, 0, &res), KERR_INVALID_RECORD);
    /* a clean close keeps the state: the retry is still recognised */
    assert_int_equal(log_close(f->log), 0);
    open_log(f);
    assert_int_equal(produce(f, PID, 0, 10, 10, 0, &res), 0);
    assert_true(res.duplicate);
    assert_int_equal(res.base_offset, 10);
    assert_int_equal(produce(f, PID, 0, 20, 5, 0, &res), 0);
    assert_false(res.duplicate);
    assert_int_equal(res.base_offset, 20);
}

/* A child appends and is killed before it can close the log. */
static void crash_after(struct fx *f, void (*work)(struct fx *f))
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct io_uring ring;
        if (io_uring_queue_init(64, &ring, 0) < 0)
            _exit(2);
        f->ring = ring;
        open_log(f);
        work(f);
        kill(getpid(), SIGKILL);
        _exit(3);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void crash_work(struct fx *f)
{
    struct log_append_result res;
    /* two producers; pid+1 leaves an aborted and an open transaction */
    for (int i = 0; i < 20; i++)
        if (produce(f, PID, 0, i * 3, 3, 0, &res) != 0)
            _exit(4);
    if (produce(f, PID + 1, 0, 0, 2, 1, &res) != 0)
        _exit(5);
    marker(f, PID + 1, 0, false);
    if (produce(f, PID + 1, 0, 2, 2, 1, &res) != 0)
        _exit(6);
}

static void test_log_crash_rebuilds(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    f->cfg.segment_bytes = 2048; /* several rolls: snapshots at each */
    crash_after(f, crash_work);
    open_log(f);
    int64_t end = log_end_offset(f->log);
    assert_int_equal(end, 60 + 2 + 1 + 2);
    assert_true(log_segment_count(f->log) >= 4);
    /* the state was rebuilt: the last batch is a duplicate, a gap is not
     * accepted, the open transaction holds the LSO */
    assert_int_equal(produce(f, PID, 0, 57, 3, 0, &res), 0);
    assert_true(res.duplicate);
    assert_int_equal(res.base_offset, 57);
    assert_int_equal(produce(f, PID, 0, 61, 1, 0, &res), PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE);
    assert_int_equal(log_last_stable_offset(f->log), 63);
    /* the aborted transaction is in a .txnindex again */
    struct aborted_txn a[4];
    assert_int_equal(log_aborted_txns(f->log, 0, end, a, 4), 1);
    assert_int_equal(a[0].pid, PID + 1);
    assert_int_equal(a[0].first_offset, 60);
    assert_int_equal(a[0].last_offset, 62);
    int64_t m = marker(f, PID + 1, 0, true);
    assert_int_equal(m, end);
    assert_int_equal(log_last_stable_offset(f->log), end + 1);
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l > s && strcmp(de->d_name + l - s, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_log_snapshots_and_retention(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    char pdir[4096];
    f->cfg.segment_bytes = 2048;
    f->cfg.retention_bytes = 4 * 2048;
    open_log(f);
    snprintf(pdir, sizeof(pdir), "%s/eos-0", f->dir);
    for (int i = 0; i < 40; i++)
        assert_int_equal(produce(f, PID, 0, i * 3, 3, 0, &res), 0);
    int segs = log_segment_count(f->log);
    assert_true(segs > 5);
    /* one snapshot per roll */
    assert_int_equal(count_files(pdir, ".snapshot"), segs - 1);
    int deleted = log_enforce_retention(f->log, NOW);
    assert_true(deleted > 0);
    /* each deleted segment took its snapshot; the first had none */
    assert_int_equal(count_files(pdir, ".snapshot"), segs - 1 - (deleted - 1));
    /* producers are not forgotten with their segments */
    assert_int_equal(log_producer_count(f->log), 1);
    assert_int_equal(log_expire_producers(f->log, NOW + 5000, 1000), 1);
    assert_int_equal(log_producer_count(f->log), 0);
}

static void test_log_read_committed(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    struct log_range r[4];
    int64_t upper;
    open_log(f);
    assert_int_equal(produce(f, 1, 0, 0, 5, 0, &res), 0);   /* 0..4 plain */
    assert_int_equal(produce(f, 2, 0, 0, 5, 1, &res), 0);   /* 5..9 txn */
    assert_int_equal(produce(f, 3, 0, 0, 5, 0, &res), 0);   /* 10..14 plain */
    assert_int_equal(log_last_stable_offset(f->log), 5);
    int n = log_read_upto(f->log, 0, 1 << 20, log_last_stable_offset(f->log), r, 4, &upper);
    assert_int_equal(n, 1);
    uint8_t h[BATCH_HEADER_SIZE];
    struct batch_header bh;
    assert_int_equal(pread(r[0].fd, h, sizeof(h), (off_t)r[0].pos), (ssize_t)sizeof(h));
    batch_header_decode(h, &bh);
    assert_int_equal(r[0].len, batch_size(&bh)); /* exactly the first batch */
    assert_int_equal(upper, 5);
    /* at or past the LSO: nothing yet, but not out of range */
    assert_int_equal(log_read_upto(f->log, 5, 1 << 20, 5, r, 4, &upper), 0);
    assert_int_equal(log_read_upto(f->log, 12, 1 << 20, 5, r, 4, &upper), 0);
    int64_t m = marker(f, 2, 0, false);
    assert_int_equal(m, 15);
    assert_int_equal(log_last_stable_offset(f->log), 16);
    n = log_read_upto(f->log, 0, 1 << 20, 16, r, 4, &upper);
    assert_int_equal(n, 1);
    assert_int_equal(upper, 16);
    struct aborted_txn a[2];
    assert_int_equal(log_aborted_txns(f->log, 0, upper, a, 2), 1);
    assert_int_equal(a[0].first_offset, 5);
    assert_int_equal(log_aborted_txns(f->log, 16, 17, a, 2), 0);
    /* an older epoch's marker is fenced */
    assert_int_equal(log_append_marker(f->log, 2, 0, 0, true, NOW, &res), 0);
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW), 0);
    assert_int_equal(produce(f, 2, 3, 0, 1, 1, &res), 0);
    assert_int_equal(log_append_marker(f->log, 2, 2, 0, true, NOW, &res),
                     PRODUCER_ERR_INVALID_PRODUCER_EPOCH);
    /* a transactional batch without a producer is refused */
    assert_int_equal(produce(f, -1, -1, 0, 1, 1, &res), KERR_INVALID_RECORD);
}

/* A clean's rename cut part way (cleaner_recover.c) can leave a segment's
 * .txnindex.swap beside a .txnindex that is not the one of its .log (the
 * old first segment's, without the aborted transactions of the segments
 * merged into it). The open treats it as an orphan: gone, and every
 * segment re-read, so the replay puts back the aborted transactions the
 * .txnindex lacks, even after a clean shutdown. */
static void test_txnindex_swap_orphan(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    char path[4096];
    f->cfg.segment_bytes = 2048;
    open_log(f);
    assert_int_equal(produce(f, PID + 1, 0, 0, 3, 1, &res), 0); /* 0..2, aborted */
    assert_int_equal(marker(f, PID + 1, 0, false), 3);
    for (int i = 0; i < 12; i++)                              /* rolls */
        assert_int_equal(produce(f, PID, 0, i * 3, 3, 0, &res), 0);
    assert_true(log_segment_count(f->log) >= 2);
    assert_int_equal(log_close(f->log), 0);
    f->log = NULL;
    /* the first segment's .txnindex as an older version of it: empty */
    snprintf(path, sizeof(path), "%s/eos-0/%020d.txnindex", f->dir, 0);
    assert_int_equal(truncate(path, 0), 0);
    snprintf(path, sizeof(path), "%s/eos-0/%020d.txnindex.swap", f->dir, 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
    open_log(f);
    assert_int_equal(access(path, F_OK), -1);
    struct aborted_txn a[2];
    assert_int_equal(log_aborted_txns(f->log, 0, log_end_offset(f->log), a, 2), 1);
    assert_int_equal(a[0].pid, PID + 1);
    assert_int_equal(a[0].first_offset, 0);
    assert_int_equal(a[0].last_offset, 3);
}

/* The shard's verification of a transaction's first writes to a
 * partition (txn_shard.c): every produce request verified before the first
 * batch lands shares one guard (a Java producer has up to 5 in flight to a
 * partition: Kafka Streams' exactly_once_v2 sent two and had the first
 * refused INVALID_TXN_STATE); the marker ending the transaction voids it,
 * so a verification older than the marker no longer holds. */
static void test_txn_verify_guards(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    open_log(f);
    uint64_t g1 = log_txn_verify_begin(f->log, 7);
    uint64_t g2 = log_txn_verify_begin(f->log, 7); /* a second request in flight */
    assert_true(g1 != 0);
    assert_true(log_txn_verify_holds(f->log, 7, g1));
    assert_true(log_txn_verify_holds(f->log, 7, g2));
    assert_int_equal(produce(f, 7, 0, 0, 2, 1, &res), 0); /* the first lands */
    assert_true(log_txn_verify_holds(f->log, 7, g2));
    assert_int_equal(produce(f, 7, 0, 2, 2, 1, &res), 0);
    assert_true(log_producer_in_txn(f->log, 7, 0));
    /* another producer's guard is its own */
    uint64_t other = log_txn_verify_begin(f->log, 8);
    assert_true(other != g1 && log_txn_verify_holds(f->log, 8, other));
    assert_false(log_txn_verify_holds(f->log, 8, g1));
    marker(f, 7, 0, true);
    assert_false(log_txn_verify_holds(f->log, 7, g1)); /* its transaction ended */
    assert_false(log_producer_in_txn(f->log, 7, 0));
    uint64_t g3 = log_txn_verify_begin(f->log, 7); /* the next transaction */
    assert_true(g3 != 0 && g3 != g1);
    assert_true(log_txn_verify_holds(f->log, 7, g3));
    assert_true(log_txn_verify_holds(f->log, 8, other));
}

/* A follower (log_append_replica) copying the leader's bytes, markers
 * included, ends up with the same producer state: LSO, aborted
 * transactions, duplicates recognised should it become the leader. */
/* The leader's log (f->log) from offset 0, as a follower fetches it:
 * its batches' bytes into buf; returns their length. */
static size_t read_leader_log(struct fx *f, uint8_t *buf, size_t cap)
{
    struct log_range r[8];
    int n = log_read(f->log, 0, cap, r, 8);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        assert_true(len + r[i].len <= cap);
        assert_int_equal(pread(r[i].fd, buf + len, r[i].len, (off_t)r[i].pos),
                         (ssize_t)r[i].len);
        len += r[i].len;
    }
    return len;
}

static void test_follower_producer_state(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    struct log *follower;
    static uint8_t got[1 << 16];
    open_log(f);
    assert_int_equal(produce(f, 1, 0, 0, 5, 0, &res), 0);   /* 0..4 idempotent */
    assert_int_equal(produce(f, 2, 0, 0, 5, 1, &res), 0);   /* 5..9 txn, aborted */
    marker(f, 2, 0, false);                                 /* 10 */
    assert_int_equal(produce(f, 3, 0, 0, 2, 1, &res), 0);   /* 11..12 txn, open */
    assert_int_equal(produce(f, 1, 0, 5, 5, 0, &res), 0);   /* 13..17 */
    size_t len = read_leader_log(f, got, sizeof got);
    assert_int_equal(log_open(&follower, f->dir, "eos-follower", 0, &f->cfg, NOW), 0);
    assert_int_equal(log_append_replica(follower, got, len, NOW, &res), 0);
    assert_int_equal(fixture_drain(follower, &f->ring, NOW), 0);
    assert_int_equal(log_last_stable_offset(follower), 11);
    struct aborted_txn a[2];
    assert_int_equal(log_aborted_txns(follower, 0, 18, a, 2), 1);
    assert_int_equal(a[0].pid, 2);
    assert_int_equal(a[0].first_offset, 5);
    assert_int_equal(a[0].last_offset, 10);
    assert_int_equal(log_producer_count(follower), 3);
    /* leader now: the last batch's retry is a duplicate, the next goes on */
    size_t blen = fixture_producer_batch(f->buf, sizeof(f->buf), 5, 100, NOW, 1, 0, 5, 0);
    assert_int_equal(fixture_append_sync(follower, &f->ring, f->buf, blen, NOW, &res), 0);
    assert_true(res.duplicate);
    assert_int_equal(res.base_offset, 13);
    /* the open transaction closes with the marker the coordinator sends */
    assert_int_equal(log_append_marker(follower, 3, 0, 0, true, NOW, &res), 0);
    assert_int_equal(fixture_drain(follower, &f->ring, NOW), 0);
    assert_int_equal(log_last_stable_offset(follower), 19);
    assert_int_equal(log_close(follower), 0);
}

/* The truncation cases' leader: pid 1 idempotent at 0..4 and 10..14,
 * pid 2's transaction open at 5..9; its bytes into buf, their length. */
static size_t leader_with_open_txn(struct fx *f, uint8_t *buf, size_t cap)
{
    struct log_append_result res;
    open_log(f);
    assert_int_equal(produce(f, 1, 0, 0, 5, 0, &res), 0);
    assert_int_equal(produce(f, 2, 0, 0, 5, 1, &res), 0);
    assert_int_equal(produce(f, 1, 0, 5, 5, 0, &res), 0);
    return read_leader_log(f, buf, cap);
}

/* A follower's truncation (log_replica.c) reloads the producer state as of
 * its new end (Kafka's truncateAndReload): a batch that was cut is no
 * longer a duplicate (else its retry would be answered with the offsets
 * of records that are gone), an open transaction cut away no longer holds
 * the LSO, and an emptied log knows no producer. */
static void test_truncation_reloads_producer_state(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    struct log *follower;
    static uint8_t got[1 << 16];
    size_t len = leader_with_open_txn(f, got, sizeof got);
    assert_int_equal(log_open(&follower, f->dir, "eos-follower", 0, &f->cfg, NOW), 0);
    assert_int_equal(log_append_replica(follower, got, len, NOW, &res), 0);
    assert_int_equal(fixture_drain(follower, &f->ring, NOW), 0);
    assert_int_equal(log_producer_count(follower), 2);
    /* The last batch cut: its retry is appended, not answered from the
     * state of records that are gone. */
    assert_int_equal(log_truncate(follower, 12, NOW), 0);
    assert_int_equal(log_end_offset(follower), 10);
    assert_int_equal(log_last_stable_offset(follower), 5);  /* pid 2's still open */
    size_t blen = fixture_producer_batch(f->buf, sizeof(f->buf), 5, 100, NOW, 1, 0, 5, 0);
    assert_int_equal(fixture_append_sync(follower, &f->ring, f->buf, blen, NOW, &res), 0);
    assert_false(res.duplicate);
    assert_int_equal(res.base_offset, 10);
    /* The same across a restart: the retry of it now is a duplicate. */
    assert_int_equal(log_close(follower), 0);
    assert_int_equal(log_open(&follower, f->dir, "eos-follower", 0, &f->cfg, NOW), 0);
    blen = fixture_producer_batch(f->buf, sizeof(f->buf), 5, 100, NOW, 1, 0, 5, 0);
    assert_int_equal(fixture_append_sync(follower, &f->ring, f->buf, blen, NOW, &res), 0);
    assert_true(res.duplicate);
    assert_int_equal(res.base_offset, 10);
    /* Cut below the transaction: it no longer holds the LSO. */
    assert_int_equal(log_truncate(follower, 5, NOW), 0);
    assert_int_equal(log_end_offset(follower), 5);
    assert_int_equal(log_last_stable_offset(follower), 5);
    assert_int_equal(log_producer_count(follower), 1);
    /* Emptied: no producer at all. */
    assert_int_equal(log_truncate_fully(follower, 40, NOW), 0);
    assert_int_equal(log_producer_count(follower), 0);
    assert_int_equal(log_last_stable_offset(follower), 40);
    assert_int_equal(log_close(follower), 0);
}

/* A truncation that leaves no snapshot at or below the new end (here a
 * cut at a roll whose snapshot is gone, as a crash or a corrupt file may
 * leave it) replays the whole log kept, from its start: the last segment
 * alone is empty, and the transaction open before it would be forgotten
 * (the LSO moved past data that is not stable; test_powercut_eos found it). */
static void test_truncation_without_snapshots_replays_all(void **state)
{
    struct fx *f = *state;
    struct log_append_result res;
    struct log *follower;
    static uint8_t got[1 << 16];
    size_t len = leader_with_open_txn(f, got, sizeof got);
    struct batch_header h1, h2;
    batch_header_decode(got, &h1);
    batch_header_decode(got + batch_size(&h1), &h2);
    size_t first_two = batch_size(&h1) + batch_size(&h2);
    struct log_config cfg = f->cfg;
    cfg.segment_bytes = (int64_t)first_two; /* the third batch rolls */
    assert_int_equal(log_open(&follower, f->dir, "eos-follower", 0, &cfg, NOW), 0);
    int rc;
    for (size_t off = 0, size; off < len; off += size) {
        struct batch_header h;
        batch_header_decode(got + off, &h);
        size = batch_size(&h);
        while ((rc = log_append_replica(follower, got + off, size, NOW, &res)) == -EAGAIN)
            assert_int_equal(fixture_drain(follower, &f->ring, NOW), 0);
        assert_int_equal(rc, 0);
        assert_int_equal(fixture_drain(follower, &f->ring, NOW), 0);
    }
    assert_int_equal(log_active_base(follower), 10);
    assert_int_equal(log_last_stable_offset(follower), 5);
    int64_t *snaps = NULL;
    int ns = 0;
    assert_int_equal(producer_snapshot_list(log_dir(follower), &snaps, &ns), 0);
    for (int i = 0; i < ns; i++)
        assert_int_equal(producer_snapshot_remove(log_dir(follower), snaps[i]), 0);
    free(snaps);
    assert_int_equal(log_truncate(follower, 10, NOW), 0);
    assert_int_equal(log_end_offset(follower), 10);
    assert_int_equal(log_last_stable_offset(follower), 5);  /* pid 2's still open */
    assert_int_equal(log_producer_count(follower), 2);
    assert_int_equal(log_close(follower), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_five_kept_and_wrap),
        cmocka_unit_test(test_many_producers_and_expiry),
        cmocka_unit_test(test_transactions_and_lso),
        cmocka_unit_test(test_snapshot_format),
        cmocka_unit_test(test_txn_index),
        cmocka_unit_test_setup_teardown(test_log_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_crash_rebuilds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_snapshots_and_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_read_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txnindex_swap_orphan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_verify_guards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_producer_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_reloads_producer_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_without_snapshots_replays_all, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
