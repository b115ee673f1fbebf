/* test_replica_log.c - a follower's log (log_append_replica): the leader's
 * batches fetched as file bytes and appended as they are, offsets and
 * leader epochs kept, byte for byte the leader's segment; a batch that
 * does not continue the log is refused and changes nothing; a reopened
 * follower recovers the same end. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follower_copies_the_leader, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
