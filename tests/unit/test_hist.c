/* test_hist.c - the benchmarks' latency histogram and open-loop pacing
 * (bench/hist.c, bench/loadgen.c): percentiles within the stated precision,
 * exact min/max, merging, clamping, and the pacing schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"
#include "loadgen.h"

static struct hist h1, h2;

/* |got - want| within 1/2^HIST_SUB_BITS of want, and never below it. */
static void assert_close(uint64_t got, uint64_t want)
{
    assert_true(got >= want);
    assert_true((double)(got - want) <= (double)want / HIST_SUB_COUNT + 1);
}

static void test_empty(void **state)
{
    (void)state;
    hist_init(&h1);
    assert_int_equal(hist_percentile(&h1, 50), 0);
    assert_int_equal(hist_percentile(&h1, 100), 0);
}

static void test_small_values_exact(void **state)
{
    (void)state;
    hist_init(&h1);
    for (uint64_t v = 1; v <= 100; v++)
        hist_record(&h1, v);
    assert_int_equal(hist_percentile(&h1, 50), 50);
    assert_int_equal(hist_percentile(&h1, 99), 99);
    assert_int_equal(hist_percentile(&h1, 0), 1);
    assert_int_equal(hist_percentile(&h1, 100), 100);
    assert_int_equal(h1.total, 100);
}

static void test_uniform_percentiles(void **state)
{
    (void)state;
    hist_init(&h1);
    /* 1..1,000,000 us in ns: the p-th percentile is p% of 1e9 */
    for (uint64_t v = 1; v <= 1000000; v++)
        hist_record(&h1, v * 1000);
    assert_close(hist_percentile(&h1, 50), 500000ull * 1000);
    assert_close(hist_percentile(&h1, 99), 990000ull * 1000);
    assert_close(hist_percentile(&h1, 99.9), 999000ull * 1000);
    assert_close(hist_percentile(&h1, 99.99), 999900ull * 1000);
    assert_int_equal(hist_percentile(&h1, 100), 1000000ull * 1000);
    assert_int_equal(h1.min, 1000);
}

static void test_tail_not_hidden(void **state)
{
    (void)state;
    hist_init(&h1);
    for (int i = 0; i < 9990; i++)
        hist_record(&h1, 20000);          /* 20 us */
    for (int i = 0; i < 10; i++)
        hist_record(&h1, 5000000);        /* 5 ms stalls: 0.1% */
    assert_close(hist_percentile(&h1, 99), 20000);
    assert_close(hist_percentile(&h1, 99.9), 20000);
    assert_close(hist_percentile(&h1, 99.91), 5000000);
    assert_int_equal(hist_percentile(&h1, 100), 5000000);
}

static void test_merge_and_clamp(void **state)
{
    (void)state;
    hist_init(&h1);
    hist_init(&h2);
    hist_record(&h1, 1000);
    hist_record(&h2, 3000);
    hist_record(&h2, UINT64_MAX);
    hist_merge(&h1, &h2);
    assert_int_equal(h1.total, 3);
    assert_int_equal(h1.clamped, 1);
    assert_int_equal(h1.min, 1000);
    assert_int_equal(h1.max, (1ull << HIST_MAX_MAGNITUDE) - 1);
    assert_close(hist_percentile(&h1, 50), 3000);
}

static void test_every_magnitude_round_trips(void **state)
{
    (void)state;
    for (unsigned m = 0; m < HIST_MAX_MAGNITUDE; m++) {
        uint64_t v = (1ull << m) + (1ull << m) / 3;
        hist_init(&h1);
        hist_record(&h1, v);
        hist_record(&h1, v);
        assert_close(hist_percentile(&h1, 50), v);
    }
}

static void test_pace_schedule(void **state)
{
    struct lg_pace p;

    (void)state;
    lg_pace_init(&p, 1000.0, 2.0, 1000000000ull);   /* 1k/s for 2 s */
    assert_int_equal(p.total, 2000);
    assert_int_equal(lg_pace_due(&p, 999999999ull, 100), 0);
    assert_int_equal(lg_pace_due(&p, 1000000000ull, 100), 1);
    /* 10.5 ms in: messages 0..10 are due */
    assert_int_equal(lg_pace_due(&p, 1010500000ull, 100), 11);
    assert_int_equal(lg_pace_due(&p, 1010500000ull, 4), 4);
    lg_pace_sent(&p, 11);
    assert_int_equal(lg_pace_due(&p, 1010500000ull, 100), 0);
    assert_int_equal(lg_pace_intended(&p, 11), 1011000000ull);
    /* far behind: everything left is due, and no more */
    assert_int_equal(lg_pace_due(&p, 9000000000ull, 1000000), 1989);
    lg_pace_sent(&p, 1989);
    assert_true(lg_pace_done(&p));
}

/* A message is due at exactly its intended time, whatever the rounding of
 * a fractional interval (lg_pace_wait relies on it). */
static void test_pace_due_at_intended_time(void **state)
{
    static const double rates[] = { 3.0, 7.0, 999.0, 1000.0, 30000.0, 123457.0, 2e6 };
    struct lg_pace p;

    (void)state;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        lg_pace_init(&p, rates[r], 20000.0 / rates[r], 123456789ull);
        for (uint64_t i = 0; i < p.total; i++) {
            uint64_t at = lg_pace_intended(&p, i);
            assert_int_equal(lg_pace_due(&p, at, 1), 1);
            if (at > p.start_ns)
                assert_int_equal(lg_pace_due(&p, at - 1, 1), 0);
            lg_pace_sent(&p, 1);
        }
        assert_true(lg_pace_done(&p));
    }
}

static void test_stamp_round_trip(void **state)
{
    unsigned char buf[LG_STAMP_BYTES];

    (void)state;
    lg_stamp(buf, 0x0102030405060708ull, 77);
    assert_int_equal(lg_stamp_time(buf), 0x0102030405060708ull);
    assert_int_equal(lg_stamp_seq(buf), 77);
}

static void test_warmup_not_recorded(void **state)
{
    static struct lg_lat l;

    (void)state;
    lg_lat_init(&l, 5000);
    lg_lat_record(&l, 4999, 9000);
    lg_lat_record(&l, 5000, 9000);
    lg_lat_record(&l, 6000, 5000);     /* clock skew: counted as 0 */
    assert_int_equal(l.h.total, 2);
    assert_int_equal(l.h.min, 0);
    assert_int_equal(l.h.max, 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_uniform_percentiles),
        cmocka_unit_test(test_tail_not_hidden),
        cmocka_unit_test(test_merge_and_clamp),
        cmocka_unit_test(test_every_magnitude_round_trips),
        cmocka_unit_test(test_pace_schedule),
        cmocka_unit_test(test_pace_due_at_intended_time),
        cmocka_unit_test(test_stamp_round_trip),
        cmocka_unit_test(test_warmup_not_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
