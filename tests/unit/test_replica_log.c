/* test_replica_log.c - a follower's log (log_append_replica): the leader's
 * batches fetched as file bytes and appended as they are, offsets and
 * leader epochs kept, byte for byte the leader's segment; a batch that
 * does not continue the log is refused and changes nothing; a reopened
 * follower recovers the same end. And what replication needs of a log
 * (log_replica.c): leader epochs recorded as batches of a new epoch are
 * appended, on the leader and on the follower, answered as
 * OffsetForLeaderEpoch would, kept across a restart; truncation of a tail
 * (inside a segment, across segments, durable across a reopen, epochs
 * cut with it) and of everything; reads past the high watermark up to
 * the written end. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage_fixture.h"

struct two {
    char *dir;
    struct io_uring ring;
    struct log *leader, *follower;
    struct log_config cfg;
};

static int setup(void **state)
{
    struct two *t = calloc(1, sizeof *t);
    assert_non_null(t);
    assert_non_null(t->dir = fixture_tmpdir());
    assert_int_equal(io_uring_queue_init(64, &t->ring, 0), 0);
    log_config_defaults(&t->cfg);
    t->cfg.leader_epoch = 7;
    assert_int_equal(log_open(&t->leader, t->dir, "lead", 0, &t->cfg, 1000), 0);
    struct log_config fcfg = t->cfg;
    fcfg.leader_epoch = 0;            /* a follower stamps nothing */
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &fcfg, 1000), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct two *t = *state;
    if (t->leader)
        log_close(t->leader);
    if (t->follower)
        log_close(t->follower);
    io_uring_queue_exit(&t->ring);
    fixture_rmdir(t->dir);
    free(t);
    return 0;
}

/* What a replica Fetch from offset would carry: the leader's file bytes. */
static size_t fetch(struct log *l, int64_t offset, uint8_t *buf, size_t cap)
{
    struct log_range r[8];
    int n = log_read(l, offset, (uint32_t)cap, r, 8);
    size_t got = 0;
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        assert_true(got + r[i].len <= cap);
        assert_int_equal(pread(r[i].fd, buf + got, r[i].len, (off_t)r[i].pos),
                         (ssize_t)r[i].len);
        got += r[i].len;
    }
    return got;
}

static void test_follower_copies_the_leader(void **state)
{
    struct two *t = *state;
    static uint8_t b[3][8192], got[65536];
    struct log_append_result res;

    for (int i = 0; i < 3; i++) {
        size_t n = fixture_batch(b[i], sizeof b[i], 5 + i, 40, 1000 + i, i);
        assert_int_equal(fixture_append_sync(t->leader, &t->ring, b[i], n, 1000, &res), 0);
    }
    assert_int_equal(log_end_offset(t->leader), 18);
    size_t n = fetch(t->leader, 0, got, sizeof got);
    assert_int_equal(log_append_replica(t->follower, got, n, 1000, &res), 0);
    assert_int_equal(res.base_offset, 0);
    assert_int_equal(res.last_offset, 17);
    assert_int_equal(fixture_drain(t->follower, &t->ring, 1000), 0);
    assert_int_equal(log_durable_end(t->follower), 18);
    /* Byte for byte: offsets and the leader's epoch (7) kept. */
    static uint8_t again[65536];
    assert_int_equal(fetch(t->follower, 0, again, sizeof again), n);
    assert_memory_equal(again, got, n);
    struct batch_header h;
    batch_header_decode(again, &h);
    assert_int_equal(h.leader_epoch, 7);

    /* A batch that does not continue the log: refused, nothing changes. */
    size_t k = fixture_batch(b[0], sizeof b[0], 2, 10, 2000, 9);
    batch_assign(b[0], 30, 8, -1);
    assert_int_equal(log_append_replica(t->follower, b[0], k, 1000, &res), -EINVAL);
    batch_assign(b[0], 18, 8, -1);
    assert_int_equal(log_append_replica(t->follower, b[0], k, 1000, &res), 0);
    assert_int_equal(fixture_drain(t->follower, &t->ring, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 20);

    /* Reopened, it recovers the same end. */
    assert_int_equal(log_close(t->follower), 0);
    t->follower = NULL;
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &t->cfg, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 20);
}


/* Appends n batches of 3 records each at epoch (the leader's stamp). */
static void lead_some(struct two *t, struct log *l, int32_t epoch, int n)
{
    static uint8_t b[4096];
    struct log_append_result res;
    log_set_leader_epoch(l, epoch);
    for (int i = 0; i < n; i++) {
        size_t k = fixture_batch(b, sizeof b, 3, 30, 1000 + i, i);
        assert_int_equal(fixture_append_sync(l, &t->ring, b, k, 1000, &res), 0);
    }
}

static void test_epochs_recorded(void **state)
{
    struct two *t = *state;
    static uint8_t got[65536];
    struct log_append_result res;
    int32_t e;
    int64_t end;

    assert_int_equal(log_latest_epoch(t->leader), -1);
    lead_some(t, t->leader, 7, 2);       /* offsets 0..5 in epoch 7 */
    lead_some(t, t->leader, 9, 3);       /* 6..14 in epoch 9 */
    assert_int_equal(log_latest_epoch(t->leader), 9);
    log_epoch_end_offset(t->leader, 7, &e, &end);
    assert_int_equal(e, 7);
    assert_int_equal(end, 6);
    log_epoch_end_offset(t->leader, 8, &e, &end); /* unknown: the one below */
    assert_int_equal(e, 7);
    assert_int_equal(end, 6);
    log_epoch_end_offset(t->leader, 9, &e, &end);
    assert_int_equal(e, 9);
    assert_int_equal(end, 15);
    log_epoch_end_offset(t->leader, 10, &e, &end);
    assert_int_equal(e, -1);
    assert_int_equal(end, -1);

    /* The follower learns them from the batches. */
    size_t n = fetch(t->leader, 0, got, sizeof got);
    assert_int_equal(log_append_replica(t->follower, got, n, 1000, &res), 0);
    assert_int_equal(fixture_drain(t->follower, &t->ring, 1000), 0);
    assert_int_equal(log_latest_epoch(t->follower), 9);
    log_epoch_end_offset(t->follower, 7, &e, &end);
    assert_int_equal(end, 6);

    /* Across a restart. */
    assert_int_equal(log_close(t->follower), 0);
    t->follower = NULL;
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &t->cfg, 1000), 0);
    assert_int_equal(log_latest_epoch(t->follower), 9);
    log_epoch_end_offset(t->follower, 7, &e, &end);
    assert_int_equal(e, 7);
    assert_int_equal(end, 6);
}

static void test_truncate_tail(void **state)
{
    struct two *t = *state;
    static uint8_t got[65536];
    struct log_append_result res;
    int32_t e;
    int64_t end;

    lead_some(t, t->follower, 3, 4);     /* 0..11 in epoch 3 */
    lead_some(t, t->follower, 4, 4);     /* 12..23 in epoch 4 */
    assert_int_equal(log_end_offset(t->follower), 24);
    /* Inside a batch: the whole batch goes (9..11 holds offset 10). */
    assert_int_equal(log_truncate(t->follower, 10, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 9);
    assert_int_equal(log_durable_end(t->follower), 9);
    assert_int_equal(log_latest_epoch(t->follower), 3);
    log_epoch_end_offset(t->follower, 4, &e, &end); /* gone with the cut */
    assert_int_equal(e, -1);
    log_epoch_end_offset(t->follower, 3, &e, &end);
    assert_int_equal(e, 3);
    assert_int_equal(end, 9);
    /* What is left reads back; nothing past the cut. */
    size_t n = fetch(t->follower, 0, got, sizeof got);
    struct batch_header h;
    size_t off = 0;
    int batches = 0;
    while (off < n) {
        batch_header_decode(got + off, &h);
        assert_true(batch_last_offset(&h) < 9);
        off += batch_size(&h);
        batches++;
    }
    assert_int_equal(batches, 3);
    /* Appends go on at the cut, and the cut holds across a reopen. */
    lead_some(t, t->follower, 5, 1);
    assert_int_equal(log_end_offset(t->follower), 12);
    assert_int_equal(log_close(t->follower), 0);
    t->follower = NULL;
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &t->cfg, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 12);
    assert_int_equal(log_latest_epoch(t->follower), 5);
    log_epoch_end_offset(t->follower, 3, &e, &end);
    assert_int_equal(end, 9);
    (void)res;
}

static void test_truncate_across_segments(void **state)
{
    struct two *t = *state;
    struct log_config small = t->cfg;
    small.segment_bytes = 600;           /* a few batches per segment */
    assert_int_equal(log_close(t->follower), 0);
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &small, 1000), 0);
    lead_some(t, t->follower, 1, 12);    /* 36 records over several segments */
    int segs = log_segment_count(t->follower);
    assert_true(segs >= 3);
    assert_int_equal(log_truncate(t->follower, 4, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 3);
    assert_int_equal(log_segment_count(t->follower), 1);
    lead_some(t, t->follower, 2, 2);
    assert_int_equal(log_end_offset(t->follower), 9);
    /* A crash now (no clean close): recovery finds the cut log. */
    assert_int_equal(log_close(t->follower), 0);
    t->follower = NULL;
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &small, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 9);
    assert_int_equal(log_segment_count(t->follower), 1);
}

static void test_truncate_fully(void **state)
{
    struct two *t = *state;
    static uint8_t b[4096];
    struct log_append_result res;
    lead_some(t, t->follower, 2, 3);
    assert_int_equal(log_truncate_fully(t->follower, 500, 1000), 0);
    assert_int_equal(log_start_offset(t->follower), 500);
    assert_int_equal(log_end_offset(t->follower), 500);
    assert_int_equal(log_latest_epoch(t->follower), -1);
    /* A replica append must now start at 500. */
    size_t k = fixture_batch(b, sizeof b, 2, 10, 2000, 1);
    batch_assign(b, 500, 6, -1);
    assert_int_equal(log_append_replica(t->follower, b, k, 1000, &res), 0);
    assert_int_equal(fixture_drain(t->follower, &t->ring, 1000), 0);
    assert_int_equal(log_end_offset(t->follower), 502);
    assert_int_equal(log_latest_epoch(t->follower), 6);
    assert_int_equal(log_close(t->follower), 0);
    t->follower = NULL;
    assert_int_equal(log_open(&t->follower, t->dir, "follow", 0, &t->cfg, 1000), 0);
    assert_int_equal(log_start_offset(t->follower), 500);
    assert_int_equal(log_end_offset(t->follower), 502);
    /* Busy logs are not cut. */
    k = fixture_batch(b, sizeof b, 2, 10, 2000, 2);
    assert_int_equal(log_append(t->follower, b, k, 1000, &res), 0);
    assert_int_equal(log_truncate(t->follower, 500, 1000), -EBUSY);
    assert_int_equal(fixture_drain(t->follower, &t->ring, 1000), 0);
}

static void test_read_bounded(void **state)
{
    struct two *t = *state;
    struct log_range r[8];
    lead_some(t, t->leader, 1, 4);       /* 0..11 */
    /* Up to offset 6: the first two batches. */
    int n = log_read_bounded(t->leader, 0, 6, 1 << 20, r, 8);
    assert_int_equal(n, 1);
    struct batch_header h;
    uint8_t hdr[BATCH_HEADER_SIZE];
    assert_int_equal(pread(r[0].fd, hdr, sizeof hdr, (off_t)r[0].pos), (ssize_t)sizeof hdr);
    batch_header_decode(hdr, &h);
    uint32_t two = batch_size(&h) * 2;
    assert_int_equal(r[0].len, two);
    assert_int_equal(log_read_bounded(t->leader, 6, 6, 1 << 20, r, 8), 0);
    assert_int_equal(log_read_bounded(t->leader, 12, 20, 1 << 20, r, 8), 0);
    assert_int_equal(log_read_bounded(t->leader, 13, 20, 1 << 20, r, 8), -ERANGE);
    /* Written but not synced: a follower may fetch it, a consumer not. */
    static uint8_t b[4096];
    struct log_append_result res;
    size_t k = fixture_batch(b, sizeof b, 3, 30, 5000, 9);
    assert_int_equal(log_append(t->leader, b, k, 1000, &res), 0);
    assert_true(log_flush_submit(t->leader, &t->ring, 1000) >= 0); /* write, linked sync */
    /* The write's completion alone (it comes first: the sync is linked
     * after it): written, not yet synced. */
    struct io_uring_cqe *cqe;
    assert_int_equal(io_uring_submit_and_wait(&t->ring, 1), 2);
    assert_int_equal(io_uring_peek_cqe(&t->ring, &cqe), 0);
    io_op_dispatch(cqe);
    io_uring_cqe_seen(&t->ring, cqe);
    assert_int_equal(log_written_end(t->leader), 15);
    assert_true(log_durable_end(t->leader) < 15);
    n = log_read_bounded(t->leader, 12, 15, 1 << 20, r, 8);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].len, (uint32_t)k);
    assert_int_equal(fixture_drain(t->leader, &t->ring, 1000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follower_copies_the_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epochs_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_across_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_fully, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
