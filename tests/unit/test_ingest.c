/* test_ingest.c - native produce over UDP on a real log (ingest.h): zero
 * copy appends whose buffers are given back only once written, ACKs only
 * once durable, duplicates dropped and re-acknowledged, NAKs for gaps,
 * unknown and fenced producers, refused batches. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dataplane/dpdk/ingest.h"
#include "storage/kerr.h"
#include "storage_fixture.h"
#include "udp_fixture.h"

#define NOW_MS 1700000000000ll
#define MS 1000000ull
#define MAX_REPLIES 64
#define NBUFS 64

struct fx {
    char *dir;
    struct io_uring ring;
    struct log *log;
    struct ingest *in;
    struct ingest_part *part;
    int cookie;
    int dirty;
    uint8_t bufs[NBUFS][2048];
    size_t lens[NBUFS];
    bool held[NBUFS];       /* given to ingest, not yet released */
    int released;
    struct udp_reply replies[MAX_REPLIES];
    int nreplies;
    struct ingest_peer peer;
};

static void on_reply(void *ctx, const struct ingest_peer *to, const uint8_t *d, size_t len)
{
    struct fx *f = ctx;
    assert_memory_equal(to, &f->peer, sizeof(*to));
    assert_true(f->nreplies < MAX_REPLIES);
    assert_int_equal(udp_wire_parse_reply(d, len, &f->replies[f->nreplies]), UDP_WIRE_OK);
    f->nreplies++;
}

static void on_release(void *ctx, void *buf)
{
    struct fx *f = ctx;
    int i = (int)(((uint8_t(*)[2048])buf) - f->bufs);
    assert_true(i >= 0 && i < NBUFS && f->held[i]);
    f->held[i] = false;
    f->released++;
}

static void on_dirty(void *ctx, void *cookie)
{
    struct fx *f = ctx;
    assert_ptr_equal(cookie, &f->cookie);
    f->dirty++;
}

static const struct ingest_ops ops = { on_reply, on_release, on_dirty };

static int setup_with(void **state, enum flush_policy flush, uint32_t producers)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = fixture_tmpdir();
    assert_int_equal(io_uring_queue_init(64, &f->ring, 0), 0);
    struct log_config cfg;
    log_config_defaults(&cfg);
    cfg.flush = flush;
    assert_int_equal(log_open(&f->log, f->dir, "feed", 0, &cfg, NOW_MS), 0);
    struct ingest_config icfg;
    ingest_config_defaults(&icfg);
    icfg.producers_max = producers;
    assert_int_equal(ingest_create(&f->in, &icfg, &ops, f), 0);
    f->part = ingest_part_get(f->in, &f->cookie, f->log, "feed", 4, 0);
    assert_non_null(f->part);
    assert_ptr_equal(ingest_part_get(f->in, &f->cookie, f->log, "feed", 4, 0), f->part);
    f->peer = (struct ingest_peer){ .mac = { 2, 0, 0, 0, 0, 1 }, .port = 4242, .ip = 0x0a000001 };
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, FLUSH_ALWAYS, 256);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW_MS), 0);
    ingest_part_close(f->in, &f->cookie);
    for (int i = 0; i < NBUFS; i++)
        assert_false(f->held[i]);
    ingest_destroy(f->in);
    log_close(f->log);
    io_uring_queue_exit(&f->ring);
    fixture_rmdir(f->dir);
    free(f);
    return 0;
}

/* Sends datagram i: producer pid/epoch, records seq..seq+n-1. */
static enum ingest_outcome send_dgram(struct fx *f, int i, int64_t pid, int16_t epoch,
                                      int32_t seq, int n, uint64_t now_ns)
{
    f->lens[i] = udp_fixture_produce(f->bufs[i], sizeof(f->bufs[i]), "feed", 0, pid, epoch,
                                     seq, n, NOW_MS);
    assert_true(f->lens[i] > 0);
    struct udp_produce d;
    assert_int_equal(udp_wire_parse_produce(f->bufs[i], f->lens[i], &d), UDP_WIRE_OK);
    f->held[i] = true;
    return ingest_on_produce(f->in, f->part, &d, f->bufs[i], &f->peer, NOW_MS, now_ns);
}

/* Flushes the log to durable and lets ingest answer. */
static void settle(struct fx *f, uint64_t now_ns)
{
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW_MS), 0);
    ingest_do_work(f->in, now_ns);
}

static void assert_reply(const struct udp_reply *r, enum udp_wire_type type, int16_t error,
                         int32_t seq, int64_t offset)
{
    assert_int_equal(r->type, type);
    assert_int_equal(r->error, error);
    assert_int_equal(r->sequence, seq);
    assert_int_equal(r->offset, offset);
}

static void test_in_order_acked_once_durable(void **state)
{
    struct fx *f = *state;
    assert_int_equal(send_dgram(f, 0, 7, 0, 0, 2, 0), INGEST_APPENDED);
    assert_int_equal(send_dgram(f, 1, 7, 0, 2, 3, 0), INGEST_APPENDED);
    assert_true(f->dirty > 0);
    /* Nothing written yet: the log holds both buffers, nothing is acked. */
    ingest_do_work(f->in, 0);
    assert_int_equal(f->released, 0);
    assert_int_equal(f->nreplies, 0);
    assert_true(ingest_busy(f->in));
    /* Written but not synced (flush "always"): buffers back, no ACK yet.
     * The write completes on the ring before the fdatasync linked after
     * it: take that one completion alone. */
    assert_true(log_flush_submit(f->log, &f->ring, NOW_MS) > 0);
    struct io_uring_cqe *cqe;
    assert_int_equal(io_uring_submit_and_wait(&f->ring, 1), 2);
    assert_int_equal(io_uring_wait_cqe(&f->ring, &cqe), 0);
    io_op_dispatch(cqe);
    io_uring_cqe_seen(&f->ring, cqe);
    ingest_do_work(f->in, 0);
    assert_int_equal(f->released, 2);
    assert_false(ingest_busy(f->in));
    assert_int_equal(f->nreplies, 0);
    /* Durable: one ACK for the producer, its highest sequence. */
    settle(f, 0);
    assert_int_equal(f->nreplies, 1);
    assert_reply(&f->replies[0], UDP_WIRE_ACK, 0, 4, 4);
    assert_int_equal(f->replies[0].producer_id, 7);
    assert_int_equal(ingest_stats(f->in)->appended, 2);
    assert_int_equal(ingest_stats(f->in)->records, 5);
    assert_int_equal(log_end_offset(f->log), 5);
    /* The bytes on disk are the sender's batches (offsets assigned). */
    struct log_range r[2];
    assert_int_equal(log_read(f->log, 0, 1 << 20, r, 2), 1);
    assert_int_equal(r[0].len, f->lens[0] - 30 + f->lens[1] - 30);
}

static void test_duplicate_dropped_and_reacked(void **state)
{
    struct fx *f = *state;
    assert_int_equal(send_dgram(f, 0, 7, 0, 0, 2, 0), INGEST_APPENDED);
    settle(f, 0);
    assert_int_equal(f->nreplies, 1);
    /* The sender missed the ACK and sends again: dropped, ACK repeated. */
    assert_int_equal(send_dgram(f, 1, 7, 0, 0, 2, 0), INGEST_DUPLICATE);
    assert_false(f->held[1]);
    settle(f, 0);
    assert_int_equal(f->nreplies, 2);
    assert_reply(&f->replies[1], UDP_WIRE_ACK, 0, 1, 1);
    assert_int_equal(log_end_offset(f->log), 2);
    assert_int_equal(ingest_stats(f->in)->duplicates, 1);
}

static void test_gap_naked_once_per_interval(void **state)
{
    struct fx *f = *state;
    assert_int_equal(send_dgram(f, 0, 7, 0, 0, 1, 0), INGEST_APPENDED);
    /* Sequence 1 is lost: 2 and 3 leave a gap, one NAK asks for 1. */
    assert_int_equal(send_dgram(f, 1, 7, 0, 2, 1, 10), INGEST_GAP);
    assert_int_equal(send_dgram(f, 2, 7, 0, 3, 1, 20), INGEST_GAP);
    assert_int_equal(f->nreplies, 1);
    assert_reply(&f->replies[0], UDP_WIRE_NAK, UDP_WIRE_OUT_OF_ORDER_SEQUENCE, 1, -1);
    /* Still missing a NAK interval later: asked again. */
    assert_int_equal(send_dgram(f, 3, 7, 0, 3, 1, 2 * MS), INGEST_GAP);
    assert_int_equal(f->nreplies, 2);
    /* The sender goes back to 1: accepted in order. */
    assert_int_equal(send_dgram(f, 4, 7, 0, 1, 1, 3 * MS), INGEST_APPENDED);
    assert_int_equal(send_dgram(f, 5, 7, 0, 2, 2, 3 * MS), INGEST_APPENDED);
    settle(f, 3 * MS);
    assert_reply(&f->replies[f->nreplies - 1], UDP_WIRE_ACK, 0, 3, 3);
    assert_int_equal(ingest_stats(f->in)->gaps, 3);
    /* A batch straddling the expected sequence is refused whole. */
    assert_int_equal(send_dgram(f, 6, 7, 0, 3, 2, 4 * MS), INGEST_OVERLAP);
    assert_reply(&f->replies[f->nreplies - 1], UDP_WIRE_NAK, UDP_WIRE_OUT_OF_ORDER_SEQUENCE,
                 4, -1);
}

static void test_unknown_and_fenced_producers(void **state)
{
    struct fx *f = *state;
    /* A producer this broker never saw must start at 0. */
    assert_int_equal(send_dgram(f, 0, 9, 0, 50, 1, 0), INGEST_UNKNOWN_PRODUCER);
    assert_reply(&f->replies[0], UDP_WIRE_NAK, UDP_WIRE_UNKNOWN_PRODUCER_ID, 0, -1);
    /* It starts a new epoch at 0. */
    assert_int_equal(send_dgram(f, 1, 9, 1, 0, 1, 0), INGEST_APPENDED);
    settle(f, 0);
    assert_reply(&f->replies[f->nreplies - 1], UDP_WIRE_ACK, 0, 0, 0);
    /* The old epoch is fenced. */
    assert_int_equal(send_dgram(f, 2, 9, 0, 1, 1, 0), INGEST_FENCED);
    assert_reply(&f->replies[f->nreplies - 1], UDP_WIRE_NAK, UDP_WIRE_INVALID_PRODUCER_EPOCH,
                 -1, -1);
    /* A higher epoch starts over at 0; the ACK carries the new epoch. */
    assert_int_equal(send_dgram(f, 3, 9, 2, 0, 2, 0), INGEST_APPENDED);
    settle(f, 0);
    assert_reply(&f->replies[f->nreplies - 1], UDP_WIRE_ACK, 0, 1, 2);
    assert_int_equal(f->replies[f->nreplies - 1].producer_epoch, 2);
}

static void test_corrupt_batch_refused(void **state)
{
    struct fx *f = *state;
    f->lens[0] = udp_fixture_produce(f->bufs[0], sizeof(f->bufs[0]), "feed", 0, 7, 0, 0, 2,
                                     NOW_MS);
    f->bufs[0][f->lens[0] - 1] ^= 0x55; /* a record byte: the CRC no longer matches */
    struct udp_produce d;
    assert_int_equal(udp_wire_parse_produce(f->bufs[0], f->lens[0], &d), UDP_WIRE_OK);
    f->held[0] = true;
    assert_int_equal(ingest_on_produce(f->in, f->part, &d, f->bufs[0], &f->peer, NOW_MS, 0),
                     INGEST_REFUSED);
    assert_false(f->held[0]);
    assert_reply(&f->replies[0], UDP_WIRE_NAK, KERR_CORRUPT_MESSAGE, 0, -1);
    assert_int_equal(log_end_offset(f->log), 0);
    /* The same datagram, intact, goes in. */
    assert_int_equal(send_dgram(f, 1, 7, 0, 0, 2, 0), INGEST_APPENDED);
    settle(f, 0);
    assert_reply(&f->replies[f->nreplies - 1], UDP_WIRE_ACK, 0, 1, 1);
}

static void test_many_producers_interleaved(void **state)
{
    struct fx *f = *state;
    /* Three producers, interleaved: each acked with its own sequence. */
    int k = 0;
    for (int32_t seq = 0; seq < 4; seq++)
        for (int64_t pid = 1; pid <= 3; pid++)
            assert_int_equal(send_dgram(f, k++, pid, 0, seq, 1, 0), INGEST_APPENDED);
    settle(f, 0);
    assert_int_equal(f->nreplies, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->replies[i].type, UDP_WIRE_ACK);
        assert_int_equal(f->replies[i].sequence, 3);
        assert_int_equal(f->replies[i].offset, 9 + f->replies[i].producer_id - 1);
    }
}

static int setup_few_producers(void **state)
{
    return setup_with(state, FLUSH_OS, 4);
}

static void test_idle_producer_evicted(void **state)
{
    struct fx *f = *state;
    /* Four producers fill the table; a fifth evicts the one idle longest. */
    for (int64_t pid = 1; pid <= 4; pid++)
        assert_int_equal(send_dgram(f, (int)pid, pid, 0, 0, 1, (uint64_t)pid * MS),
                         INGEST_APPENDED);
    settle(f, 5 * MS);
    assert_int_equal(send_dgram(f, 5, 5, 0, 0, 1, 6 * MS), INGEST_APPENDED);
    /* Producer 1 is forgotten: it must start over (and takes the slot of
     * 2, now the one idle longest); 3 is still known. */
    assert_int_equal(send_dgram(f, 6, 1, 0, 1, 1, 7 * MS), INGEST_UNKNOWN_PRODUCER);
    assert_int_equal(send_dgram(f, 7, 3, 0, 1, 1, 7 * MS), INGEST_APPENDED);
    assert_int_equal(send_dgram(f, 8, 2, 0, 1, 1, 7 * MS), INGEST_UNKNOWN_PRODUCER);
    settle(f, 8 * MS);
}

static void test_close_releases_held_buffers(void **state)
{
    struct fx *f = *state;
    assert_int_equal(send_dgram(f, 0, 7, 0, 0, 1, 0), INGEST_APPENDED);
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW_MS), 0);
    /* Closed before ingest_do_work saw the write: the buffer still goes back. */
    ingest_part_close(f->in, &f->cookie);
    assert_false(f->held[0]);
    f->part = ingest_part_get(f->in, &f->cookie, f->log, "feed", 4, 0);
    assert_non_null(f->part);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order_acked_once_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_dropped_and_reacked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_naked_once_per_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_fenced_producers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_batch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_producers_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_producer_evicted, setup_few_producers,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_releases_held_buffers, setup, teardown),
    };
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
