/* test_shard.c - a shard driven in-process (shard_fixture.h): its turn
 * (shard_do_work) with an injected clock, its connections, requests and
 * handlers, with the real control thread behind it and a real log on disk.
 *
 * What it checks: topics created through the wire are served; produce
 * acks=all is answered once durable and pipelined requests are answered
 * in order; fetch long-polls end exactly at max_wait on the shard's clock
 * and early when data arrives; idle connections close by the clock; a bad
 * frame closes only its own connection; segment.ms rolls by the clock;
 * a deleted topic's directory is gone when the delete is answered and a
 * topic of the same name starts empty; many rolls read back in order,
 * every segment named;
 * a turn with nothing to do reports no work; the spin idle strategy never
 * blocks; stopping closes every log cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "shard_fixture.h"

#define TOPIC "t"

static int16_t create_topic(struct fx *f, int fd, const char *name, int32_t partitions,
                            const char *key, const char *value)
{
    struct kafka_config_kv kv = { kstr_c(key), kstr_c(value) };
    struct kafka_create_topics_topic t = { .name = kstr_c(name), .num_partitions = partitions,
                                           .replication_factor = 1 };
    if (key) {
        t.configs.v = &kv;
        t.configs.n = 1;
    }
    struct kafka_create_topics_req req = { .topics = { &t, 1 }, .timeout_ms = 10000 };
    int32_t corr = fx_send(f, fd, KAFKA_CREATE_TOPICS, 4, &req);
    struct kafka_create_topics_resp *resp = fx_recv(f, fd, corr, KAFKA_CREATE_TOPICS, 4);
    assert_int_equal(resp->topics.n, 1);
    return resp->topics.v[0].error_code;
}

/* Sends a Produce v7 of one batch of n records; returns its correlation id. */
static int32_t send_produce(struct fx *f, int fd, int16_t acks, int n, int64_t seq)
{
    static uint8_t batch[64 * 1024];
    size_t len = fixture_batch(batch, sizeof(batch), n, 20, f->now.wall_ms, seq);
    assert_true(len > 0);
    struct kafka_produce_req_partition p = { .index = 0, .records = { batch, (int32_t)len } };
    struct kafka_produce_req_topic t = { .name = KSTR_LIT(TOPIC), .partitions = { &p, 1 } };
    struct kafka_produce_req req = { .transactional_id = KSTR_NULL, .acks = acks,
                                     .timeout_ms = 30000, .topics = { &t, 1 } };
    return fx_send(f, fd, KAFKA_PRODUCE, 7, &req);
}

static struct kafka_produce_resp_partition *recv_produce(struct fx *f, int fd, int32_t corr)
{
    struct kafka_produce_resp *resp = fx_recv(f, fd, corr, KAFKA_PRODUCE, 7);
    assert_int_equal(resp->responses.n, 1);
    assert_int_equal(resp->responses.v[0].partitions.n, 1);
    return &resp->responses.v[0].partitions.v[0];
}

static int64_t produce(struct fx *f, int fd, int n, int64_t seq)
{
    struct kafka_produce_resp_partition *p = recv_produce(f, fd, send_produce(f, fd, -1, n, seq));
    assert_int_equal(p->error_code, 0);
    return p->base_offset;
}

static int32_t send_fetch(struct fx *f, int fd, int64_t offset, int32_t max_wait_ms)
{
    struct kafka_fetch_req_partition p = { .partition = 0, .current_leader_epoch = -1,
                                           .fetch_offset = offset, .log_start_offset = -1,
                                           .partition_max_bytes = 1 << 20 };
    struct kafka_fetch_req_topic t = { .topic = KSTR_LIT(TOPIC), .partitions = { &p, 1 } };
    struct kafka_fetch_req req = { .replica_id = -1, .max_wait_ms = max_wait_ms,
                                   .min_bytes = 1, .max_bytes = 1 << 20,
                                   .session_epoch = -1, .topics = { &t, 1 },
                                   .rack_id = KSTR_LIT("") };
    return fx_send(f, fd, KAFKA_FETCH, 11, &req);
}

static struct kafka_fetch_resp_partition *recv_fetch(struct fx *f, int fd, int32_t corr)
{
    struct kafka_fetch_resp *resp = fx_recv(f, fd, corr, KAFKA_FETCH, 11);
    assert_int_equal(resp->responses.n, 1);
    assert_int_equal(resp->responses.v[0].partitions.n, 1);
    return &resp->responses.v[0].partitions.v[0];
}

static int16_t delete_topic(struct fx *f, int fd, const char *name)
{
    struct kstr n = kstr_c(name);
    struct kafka_delete_topics_req req = { .topic_names = { &n, 1 }, .timeout_ms = 10000 };
    int32_t corr = fx_send(f, fd, KAFKA_DELETE_TOPICS, 3, &req);
    struct kafka_delete_topics_resp *resp = fx_recv(f, fd, corr, KAFKA_DELETE_TOPICS, 3);
    assert_int_equal(resp->responses.n, 1);
    return resp->responses.v[0].error_code;
}

/* True when fd has bytes to read (or is closed). */
static bool readable(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK);
    return n >= 0 || errno != EAGAIN;
}

/* Turns until the shard holds a deferred request (a long poll). */
static void turn_until_waiting(struct fx *f)
{
    for (int i = 0; i < FX_MAX_TURNS && !f->s->waiting; i++)
        fx_turn(f);
    assert_non_null(f->s->waiting);
}

static int setup(void **state)
{
    *state = fx_new(NULL);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (shard_running(f->s))
        fx_stop(f);
    fx_free(f);
    return 0;
}

static void test_produce_then_fetch(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    assert_int_equal(produce(f, fd, 10, 1), 0);
    assert_int_equal(produce(f, fd, 5, 2), 10);
    struct kafka_fetch_resp_partition *p = recv_fetch(f, fd, send_fetch(f, fd, 0, 0));
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->high_watermark, 15);
    /* Both batches, as stored: offsets assigned by the broker, CRC intact. */
    struct batch_header h1, h2;
    assert_true(p->records.len >= BATCH_HEADER_SIZE);
    batch_header_decode(p->records.p, &h1);
    assert_int_equal(h1.base_offset, 0);
    assert_int_equal(batch_last_offset(&h1), 9);
    assert_true(batch_crc_ok(p->records.p, batch_size(&h1)));
    batch_header_decode(p->records.p + batch_size(&h1), &h2);
    assert_int_equal(h2.base_offset, 10);
    assert_int_equal(batch_last_offset(&h2), 14);
    assert_true(batch_crc_ok(p->records.p + batch_size(&h1), batch_size(&h2)));
    assert_int_equal(p->records.len, (int32_t)(batch_size(&h1) + batch_size(&h2)));
}

/* Twenty requests in one write: parsed in one turn, appended, covered by
 * the group commit, and answered in request order. */
static void test_pipelined_produce_answers_in_order(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    int32_t corr[20];
    for (int i = 0; i < 20; i++)
        corr[i] = send_produce(f, fd, -1, 3, i);
    for (int i = 0; i < 20; i++) {
        struct kafka_produce_resp_partition *p = recv_produce(f, fd, corr[i]);
        assert_int_equal(p->error_code, 0);
        assert_int_equal(p->base_offset, 3 * i);
    }
}

/* A long poll ends at max_wait by the shard's clock, not a moment before,
 * however many turns run in between. */
static void test_fetch_long_poll_ends_at_deadline(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    int32_t corr = send_fetch(f, fd, 0, 500);
    turn_until_waiting(f);
    for (int i = 0; i < 50; i++)
        fx_turn(f);
    assert_false(readable(fd));
    fx_advance_ms(f, 499);
    for (int i = 0; i < 50; i++)
        fx_turn(f);
    assert_false(readable(fd));
    fx_advance_ms(f, 1);
    struct kafka_fetch_resp_partition *p = recv_fetch(f, fd, corr);
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->high_watermark, 0);
    assert_true(p->records.len <= 0);
}

/* A waiting fetch is answered as soon as a produce makes data durable,
 * with the clock standing still. */
static void test_fetch_woken_by_produce(void **state)
{
    struct fx *f = *state;
    int consumer = fx_connect(f), producer = fx_connect(f);
    assert_int_equal(create_topic(f, producer, TOPIC, 1, NULL, NULL), 0);
    int32_t corr = send_fetch(f, consumer, 0, 60000);
    turn_until_waiting(f);
    assert_int_equal(produce(f, producer, 4, 1), 0);
    struct kafka_fetch_resp_partition *p = recv_fetch(f, consumer, corr);
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->high_watermark, 4);
    struct batch_header h;
    batch_header_decode(p->records.p, &h);
    assert_int_equal(batch_last_offset(&h), 3);
}

/* acks=1 is answered once written; the answer carries the offsets. */
static void test_acks_one(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    struct kafka_produce_resp_partition *p = recv_produce(f, fd, send_produce(f, fd, 1, 7, 1));
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->base_offset, 0);
}

/* A frame with a negative length closes its own connection only. */
static void test_bad_frame_closes_only_its_connection(void **state)
{
    struct fx *f = *state;
    int bad = fx_connect(f), good = fx_connect(f);
    fx_write_all(bad, (const uint8_t *)"\xff\xff\xff\xfb", 4);
    assert_true(fx_closed(f, bad));
    assert_int_equal(create_topic(f, good, TOPIC, 1, NULL, NULL), 0);
    assert_int_equal(produce(f, good, 2, 1), 0);
}

/* An unknown topic gets its Kafka error, not a closed connection. */
static void test_produce_unknown_topic(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    struct kafka_produce_resp_partition *p = recv_produce(f, fd, send_produce(f, fd, -1, 1, 1));
    assert_int_equal(p->error_code, 3); /* UNKNOWN_TOPIC_OR_PARTITION */
}

/* segment.ms rolls by the shard's wall clock. */
static void test_segment_rolls_by_clock(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, "segment.ms", "60000"), 0);
    assert_int_equal(produce(f, fd, 3, 1), 0);
    assert_int_equal(produce(f, fd, 3, 2), 3);
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/" TOPIC "-0/%020d.log", f->dir, 6);
    assert_int_not_equal(stat(path, &st), 0);
    fx_advance_ms(f, 60000);
    assert_int_equal(produce(f, fd, 3, 3), 6);
    /* The roll took the pre-created segment; the worker names it soon. */
    for (int i = 0; i < FX_MAX_TURNS && stat(path, &st) != 0; i++)
        fx_turn(f);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0);
}

/* A deleted topic's directory is gone when the delete is answered (the
 * close and removal ran on the shard's worker), and a topic created again
 * under the same name starts empty. */
static void test_delete_then_recreate(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    assert_int_equal(produce(f, fd, 10, 1), 0);
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/" TOPIC "-0", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(delete_topic(f, fd, TOPIC), 0);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    assert_int_equal(produce(f, fd, 2, 2), 0);
}

/* Tiny segments: every roll takes the pre-created segment, the worker
 * names, seals and pre-creates behind it; everything reads back in order
 * and, after a clean stop, every segment holds its Kafka name. */
static void test_many_rolls(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, "segment.bytes", "1024"), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(produce(f, fd, 5, i), 5 * i);
    int64_t next = 0;
    while (next < 200) {
        struct kafka_fetch_resp_partition *p = recv_fetch(f, fd, send_fetch(f, fd, next, 0));
        assert_int_equal(p->error_code, 0);
        assert_true(p->records.len > 0);
        for (int32_t off = 0; off + BATCH_HEADER_SIZE <= p->records.len;) {
            struct batch_header h;
            batch_header_decode(p->records.p + off, &h);
            if (off + (int32_t)batch_size(&h) > p->records.len)
                break; /* a partial batch at the end of the answer */
            assert_int_equal(h.base_offset, next);
            next = batch_last_offset(&h) + 1;
            off += (int32_t)batch_size(&h);
        }
    }
    assert_int_equal(next, 200);
    fx_stop(f);
    char path[4200];
    struct stat st;
    int named = 0;
    for (int64_t base = 0; base < 200; base += 5) {
        snprintf(path, sizeof(path), "%s/" TOPIC "-0/%020lld.log", f->dir, (long long)base);
        named += stat(path, &st) == 0;
    }
    assert_true(named >= 8); /* 1 KiB holds four 5-record batches */
    snprintf(path, sizeof(path), "%s/" TOPIC "-0/.next.log", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0); /* pre-created for the next roll, unused */
}

/* A turn with nothing to do says so; one that answers says it worked. */
static void test_do_work_counts_work(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    int idle = 0;
    for (int i = 0; i < FX_MAX_TURNS && !idle; i++)
        idle = shard_do_work(f->s, &f->now) == 0;
    assert_true(idle);
    send_produce(f, fd, 1, 1, 1);
    int work = 0;
    for (int i = 0; i < FX_MAX_TURNS && !readable(fd); i++) {
        int w = shard_do_work(f->s, &f->now);
        work += w;
        shard_idle(f->s, w, FX_IDLE_NS);
    }
    assert_true(readable(fd));
    assert_true(work >= 2); /* the receive, the flush, the answer */
}

/* Stopping answers what is in flight, closes connections and every log
 * cleanly (the clean-shutdown marker). */
static void test_stop_closes_logs_cleanly(void **state)
{
    struct fx *f = *state;
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    assert_int_equal(produce(f, fd, 3, 1), 0);
    fx_stop(f);
    char path[4200];
    snprintf(path, sizeof(path), "%s/" TOPIC "-0/clean-shutdown", f->dir);
    assert_int_equal(access(path, F_OK), 0);
    uint8_t b;
    assert_int_equal(recv(fd, &b, 1, 0), 0); /* its connection was shut down */
}

static void test_idle_connection_closed_by_clock(void **state)
{
    (void)state;
    const char *const settings[] = { "connections.max.idle.ms", "5000", NULL };
    struct fx *f = fx_new(settings);
    int idle = fx_connect(f), busy = fx_connect(f);
    assert_int_equal(create_topic(f, busy, TOPIC, 1, NULL, NULL), 0);
    fx_advance_ms(f, 3000);
    assert_int_equal(produce(f, busy, 1, 1), 0);
    fx_advance_ms(f, 2500); /* idle: 5.5 s; busy: 2.5 s */
    assert_true(fx_closed(f, idle));
    assert_int_equal(produce(f, busy, 1, 2), 1);
    fx_stop(f);
    fx_free(f);
}

/* sluice.idle=spin: shard_idle never blocks, whatever wait it is given,
 * and the shard serves as before. */
static void test_spin_never_blocks(void **state)
{
    (void)state;
    const char *const settings[] = { "sluice.idle", "spin", NULL };
    struct fx *f = fx_new(settings);
    for (int i = 0; i < 100; i++)
        shard_idle(f->s, 0, 3600 * 1000000000LL); /* would hang the test in sleep */
    int fd = fx_connect(f);
    assert_int_equal(create_topic(f, fd, TOPIC, 1, NULL, NULL), 0);
    assert_int_equal(produce(f, fd, 5, 1), 0);
    fx_stop(f);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_produce_then_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_produce_answers_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_long_poll_ends_at_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_woken_by_produce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acks_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frame_closes_only_its_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_produce_unknown_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_rolls_by_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_then_recreate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_rolls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_do_work_counts_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_closes_logs_cleanly, setup, teardown),
        cmocka_unit_test(test_idle_connection_closed_by_clock),
        cmocka_unit_test(test_spin_never_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
