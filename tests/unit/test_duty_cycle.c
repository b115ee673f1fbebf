/* test_duty_cycle.c - the loop-turn histogram: bucket bounds, percentiles
 * that never understate, the exact max and over-1-ms count, clamping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "numa/duty_cycle.h"

static struct duty_cycle d;
static struct duty_cycle_view v;

static void test_empty(void **state)
{
    (void)state;
    duty_cycle_init(&d);
    duty_cycle_read(&d, &v);
    assert_int_equal(v.total, 0);
    assert_int_equal(duty_cycle_percentile(&v, 50), 0);
    assert_int_equal(duty_cycle_percentile(&v, 100), 0);
}

/* Every bucket bound is a value of its own bucket, and the next value
 * starts the next one: the buckets tile the range. */
static void test_bucket_bounds_increase(void **state)
{
    (void)state;
    for (unsigned i = 1; i < DUTY_BUCKETS; i++)
        assert_true(duty_cycle_bucket_upper_ns(i) > duty_cycle_bucket_upper_ns(i - 1));
    /* 12.5% resolution: the bucket holding 1 ms ends within 1/8 above it */
    duty_cycle_init(&d);
    duty_cycle_record(&d, 1000000);
    duty_cycle_record(&d, 2000000);
    duty_cycle_read(&d, &v);
    uint64_t p50 = duty_cycle_percentile(&v, 50);
    assert_true(p50 >= 1000000 && p50 <= 1125000);
}

static void test_percentiles(void **state)
{
    (void)state;
    duty_cycle_init(&d);
    for (int i = 0; i < 9999; i++)
        duty_cycle_record(&d, 10000); /* 10 us */
    duty_cycle_record(&d, 3000000);   /* one 3 ms turn */
    duty_cycle_read(&d, &v);
    assert_int_equal(v.total, 10000);
    assert_int_equal(v.sum_ns, 9999ull * 10000 + 3000000);
    assert_int_equal(v.max_ns, 3000000);
    assert_int_equal(v.over_1ms, 1);
    uint64_t p99 = duty_cycle_percentile(&v, 99);
    assert_true(p99 >= 10000 && p99 <= 11250);
    assert_true(duty_cycle_percentile(&v, 99.99) <= 11250); /* 9999 of 10000 */
    assert_int_equal(duty_cycle_percentile(&v, 99.995), 3000000);
    assert_int_equal(duty_cycle_percentile(&v, 100), 3000000);
}

static void test_clamped(void **state)
{
    (void)state;
    duty_cycle_init(&d);
    duty_cycle_record(&d, UINT64_MAX);
    duty_cycle_read(&d, &v);
    assert_int_equal(v.total, 1);
    assert_int_equal(v.max_ns, (1ull << DUTY_MAX_MAGNITUDE) - 1);
    assert_int_equal(v.counts[DUTY_BUCKETS - 1], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bucket_bounds_increase),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
