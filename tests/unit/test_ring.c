/* test_ring.c - the SPSC ring: init checks, full/empty edges, FIFO order,
 * wrap of the free-running indexes at UINT_MAX, partial bursts, and two
 * threads moving 10 million sequenced pointers through 1024 slots. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "numa/ring.h"

#define CAP 8

static void *item(uintptr_t v)
{
    return (void *)v;
}

/* Start both free-running indexes at `at` (test only; rings start at 0). */
static void ring_start_at(struct spsc_ring *r, unsigned at)
{
    atomic_store(&r->tail, at);
    atomic_store(&r->head, at);
    r->head_cache = at;
    r->tail_cache = at;
}

static void test_init_rejects_bad_capacity(void **state)
{
    struct spsc_ring r;
    void *slots[CAP];
    (void)state;

    assert_int_equal(spsc_ring_init(&r, slots, 0), -EINVAL);
    assert_int_equal(spsc_ring_init(&r, slots, 3), -EINVAL);
    assert_int_equal(spsc_ring_init(&r, slots, 6), -EINVAL);
    assert_int_equal(spsc_ring_init(&r, NULL, 4), -EINVAL);
    assert_int_equal(spsc_ring_init(&r, slots, 1), 0);
    assert_int_equal(spsc_ring_init(&r, slots, CAP), 0);
    assert_int_equal(spsc_ring_capacity(&r), CAP);
    assert_true(spsc_ring_empty(&r));
    assert_int_equal(alignof(struct spsc_ring), SPSC_CACHE_LINE);
    assert_int_not_equal(offsetof(struct spsc_ring, tail) / SPSC_CACHE_LINE,
                         offsetof(struct spsc_ring, head) / SPSC_CACHE_LINE);
}

static void test_fill_then_full(void **state)
{
    struct spsc_ring r;
    void *slots[CAP], *out;
    (void)state;

    assert_int_equal(spsc_ring_init(&r, slots, CAP), 0);
    for (uintptr_t i = 0; i < CAP; i++)
        assert_int_equal(spsc_ring_enqueue(&r, item(i + 1)), 0);
    assert_int_equal(spsc_ring_count(&r), CAP);
    assert_int_equal(spsc_ring_enqueue(&r, item(99)), -ENOBUFS);
    assert_int_equal(spsc_ring_dequeue(&r, &out), 0);
    assert_ptr_equal(out, item(1));
    assert_int_equal(spsc_ring_enqueue(&r, item(99)), 0);   /* one slot freed */
    assert_int_equal(spsc_ring_enqueue(&r, item(100)), -ENOBUFS);
}

static void test_fifo_and_empty(void **state)
{
    struct spsc_ring r;
    void *slots[CAP], *out = NULL;
    (void)state;

    assert_int_equal(spsc_ring_init(&r, slots, CAP), 0);
    assert_int_equal(spsc_ring_dequeue(&r, &out), -EAGAIN);
    for (int round = 0; round < 5; round++) {
        for (uintptr_t i = 0; i < 5; i++)
            assert_int_equal(spsc_ring_enqueue(&r, item(round * 10 + i)), 0);
        for (uintptr_t i = 0; i < 5; i++) {
            assert_int_equal(spsc_ring_dequeue(&r, &out), 0);
            assert_ptr_equal(out, item(round * 10 + i));
        }
        assert_true(spsc_ring_empty(&r));
        assert_int_equal(spsc_ring_dequeue(&r, &out), -EAGAIN);
    }
}

/* Indexes cross UINT_MAX -> 0 while the ring is full and while bursts span
 * the end of the slot array. */
static void test_index_wrap(void **state)
{
    struct spsc_ring r;
    void *slots[CAP], *in[CAP], *out[CAP];
    uintptr_t next_in = 0, next_out = 0;
    (void)state;

    assert_int_equal(spsc_ring_init(&r, slots, CAP), 0);
    ring_start_at(&r, UINT_MAX - 2);
    for (int round = 0; round < 20; round++) {
        unsigned n = (unsigned)(round % CAP) + 1;
        for (unsigned i = 0; i < n; i++)
            in[i] = item(next_in++);
        assert_int_equal(spsc_ring_enqueue_burst(&r, in, n), n);
        assert_int_equal(spsc_ring_count(&r), n);
        assert_int_equal(spsc_ring_dequeue_burst(&r, out, CAP), n);
        for (unsigned i = 0; i < n; i++)
            assert_ptr_equal(out[i], item(next_out++));
    }
    /* full across the wrap */
    ring_start_at(&r, UINT_MAX - 3);
    for (unsigned i = 0; i < CAP; i++)
        in[i] = item(1000 + i);
    assert_int_equal(spsc_ring_enqueue_burst(&r, in, CAP), CAP);
    assert_int_equal(spsc_ring_count(&r), CAP);
    assert_int_equal(spsc_ring_enqueue(&r, item(1)), -ENOBUFS);
    assert_int_equal(spsc_ring_dequeue_burst(&r, out, CAP), CAP);
    for (unsigned i = 0; i < CAP; i++)
        assert_ptr_equal(out[i], item(1000 + i));
    assert_true(spsc_ring_empty(&r));
}

static void test_burst_partial(void **state)
{
    struct spsc_ring r;
    void *slots[CAP], *in[CAP + 4], *out[CAP + 4];
    (void)state;

    for (uintptr_t i = 0; i < CAP + 4; i++)
        in[i] = item(i);
    assert_int_equal(spsc_ring_init(&r, slots, CAP), 0);
    assert_int_equal(spsc_ring_enqueue_burst(&r, in, 0), 0);
    assert_int_equal(spsc_ring_enqueue_burst(&r, in, 5), 5);
    assert_int_equal(spsc_ring_enqueue_burst(&r, in + 5, 7), CAP - 5);  /* partial */
    assert_int_equal(spsc_ring_enqueue_burst(&r, in, 1), 0);
    assert_int_equal(spsc_ring_dequeue_burst(&r, out, 0), 0);
    assert_int_equal(spsc_ring_dequeue_burst(&r, out, 3), 3);
    assert_int_equal(spsc_ring_dequeue_burst(&r, out + 3, CAP + 4), CAP - 3);  /* partial */
    for (uintptr_t i = 0; i < CAP; i++)
        assert_ptr_equal(out[i], item(i));
    assert_int_equal(spsc_ring_dequeue_burst(&r, out, 1), 0);
}

/* Two threads; they share nothing but the ring. Burst sizes vary so that
 * bursts split at the array's end and both sides see partial bursts. */
#define MT_ITEMS 10000000u
#define MT_SLOTS 1024u
#define MT_BURST 37u

static void *producer(void *arg)
{
    struct spsc_ring *r = arg;
    void *batch[MT_BURST];
    uintptr_t next = 0;

    while (next < MT_ITEMS) {
        unsigned want = 1 + (unsigned)(next % MT_BURST), got;
        if (want > MT_ITEMS - next)
            want = (unsigned)(MT_ITEMS - next);
        for (unsigned i = 0; i < want; i++)
            batch[i] = item(next + i);
        got = spsc_ring_enqueue_burst(r, batch, want);
        if (got == 0)
            sched_yield();
        next += got;   /* items not taken are rebuilt, same values, next turn */
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    static void *slots[MT_SLOTS];
    static struct spsc_ring r;
    void *batch[MT_BURST];
    uintptr_t expect = 0, bad = 0;
    pthread_t tid;
    (void)state;

    assert_int_equal(spsc_ring_init(&r, slots, MT_SLOTS), 0);
    assert_int_equal(pthread_create(&tid, NULL, producer, &r), 0);
    while (expect < MT_ITEMS) {
        unsigned want = 1 + (unsigned)(expect % (MT_BURST - 5));
        unsigned got = spsc_ring_dequeue_burst(&r, batch, want);
        if (got == 0)
            sched_yield();
        for (unsigned i = 0; i < got; i++, expect++)
            bad += batch[i] != item(expect);   /* no cmocka call per item */
    }
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(expect, MT_ITEMS);
    assert_true(spsc_ring_empty(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_capacity),
        cmocka_unit_test(test_fill_then_full),
        cmocka_unit_test(test_fifo_and_empty),
        cmocka_unit_test(test_index_wrap),
        cmocka_unit_test(test_burst_partial),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
