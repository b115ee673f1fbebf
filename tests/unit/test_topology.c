/* test_topology.c - hwloc topology: discovery on this machine, core choice
 * (distinct, then wrapping; spread over NUMA nodes on synthetic machines),
 * pinning checked through the affinity mask, NUMA-local allocation. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "numa/topology.h"

static int setup(void **state)
{
    struct topology *t;

    if (topology_open(&t) < 0)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    topology_close(*state);
    return 0;
}

static void test_open_and_count(void **state)
{
    struct topology *t = *state;
    char line[128];

    assert_true(topology_core_count(t) >= 1);
    topology_describe(t, line, sizeof(line));
    assert_non_null(strstr(line, "core"));
    assert_non_null(strstr(line, "NUMA node"));
    print_message("topology: %s\n", line);
}

static void test_choose_distinct(void **state)
{
    struct topology *t = *state;
    int n = topology_core_count(t);
    int *cores = calloc((size_t)n, sizeof(*cores));

    assert_non_null(cores);
    for (int k = 1; k <= n; k++) {
        assert_int_equal(topology_choose_cores(t, k, cores), k);
        for (int i = 0; i < k; i++) {
            assert_in_range(cores[i], 0, n - 1);
            for (int j = 0; j < i; j++)
                assert_int_not_equal(cores[i], cores[j]);
        }
    }
    assert_int_equal(topology_choose_cores(t, 0, cores), -EINVAL);
    assert_int_equal(topology_choose_cores(t, -1, cores), -EINVAL);
    free(cores);
}

static void test_choose_wraps(void **state)
{
    struct topology *t = *state;
    int n = topology_core_count(t), k = 2 * n + 1;
    int *cores = calloc((size_t)k, sizeof(*cores));

    assert_non_null(cores);
    assert_int_equal(topology_choose_cores(t, k, cores), n);   /* < k: shared */
    for (int i = 0; i < k; i++) {
        assert_in_range(cores[i], 0, n - 1);
        assert_int_equal(cores[i], cores[i % n]);
    }
    free(cores);
}

/* Pin, then read the kernel's affinity mask back: exactly the one cpu
 * topology_core_cpu() names. The original mask is restored for later tests. */
static void test_pin_thread(void **state)
{
    struct topology *t = *state;
    int n = topology_core_count(t);
    cpu_set_t saved, now;

    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved), 0);
    for (int c = 0; c < n; c++) {
        int cpu = topology_core_cpu(t, c);
        assert_true(cpu >= 0);
        assert_int_equal(topology_pin_thread(t, c), 0);
        assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(now), &now), 0);
        assert_int_equal(CPU_COUNT(&now), 1);
        assert_true(CPU_ISSET(cpu, &now));
    }
    assert_int_equal(topology_pin_thread(t, n), -EINVAL);
    assert_int_equal(topology_pin_thread(t, -1), -EINVAL);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved), 0);
}

static void test_alloc_local(void **state)
{
    struct topology *t = *state;
    size_t len = 1u << 20;

    for (int c = 0; c < topology_core_count(t); c++) {
        unsigned char *p = topology_alloc_local(t, c, len);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 4096, 0);
        memset(p, 0xa5, len);
        assert_int_equal(p[0], 0xa5);
        assert_int_equal(p[len - 1], 0xa5);
        assert_true(topology_numa_node_of(t, c) >= 0);
        topology_free(t, p, len);
    }
    assert_null(topology_alloc_local(t, -1, len));
    assert_null(topology_alloc_local(t, 0, 0));
    assert_int_equal(topology_numa_node_of(t, topology_core_count(t)), -EINVAL);
}

/* 2 packages x 1 NUMA node x 2 cores x 2 PUs: cores 0,1 on node 0, cores
 * 2,3 on node 1. Two shards must land on different nodes. */
static void test_synthetic_spread(void **state)
{
    struct topology *s;
    int cores[4];
    char line[128];
    (void)state;

    assert_int_equal(topology_open_synthetic(&s, "pack:2 numa:1 core:2 pu:2"), 0);
    assert_int_equal(topology_core_count(s), 4);
    assert_int_equal(topology_numa_node_of(s, 0), 0);
    assert_int_equal(topology_numa_node_of(s, 3), 1);
    assert_int_equal(topology_choose_cores(s, 4, cores), 4);
    assert_int_equal(cores[0], 0);
    assert_int_equal(cores[1], 2);
    assert_int_equal(cores[2], 1);
    assert_int_equal(cores[3], 3);
    /* Near a NIC on node 1: its cores first, then the others. */
    assert_int_equal(topology_choose_cores_near(s, 3, 1, cores), 3);
    assert_int_equal(cores[0], 2);
    assert_int_equal(cores[1], 3);
    assert_int_equal(cores[2], 0);
    /* An unknown node (-1: a virtual device) changes nothing. */
    assert_int_equal(topology_choose_cores_near(s, 2, -1, cores), 2);
    assert_int_equal(cores[0], 0);
    assert_int_equal(cores[1], 2);
    topology_describe(s, line, sizeof(line));
    assert_string_equal(line, "2 packages, 2 NUMA nodes, 4 cores, 8 PUs, membind no");
    void *p = topology_alloc_local(s, 3, 8192);   /* unbindable: still memory */
    assert_non_null(p);
    memset(p, 0, 8192);
    topology_free(s, p, 8192);
    topology_close(s);

    /* One node, two packages: spread over packages. No cores: PUs. */
    assert_int_equal(topology_open_synthetic(&s, "numa:1 pack:2 core:2 pu:1"), 0);
    assert_int_equal(topology_choose_cores(s, 2, cores), 2);
    assert_int_equal(cores[0], 0);
    assert_int_equal(cores[1], 2);
    topology_close(s);
    assert_int_equal(topology_open_synthetic(&s, "pack:1 pu:3"), 0);
    assert_int_equal(topology_core_count(s), 3);
    topology_close(s);
    assert_int_equal(topology_open_synthetic(&s, "not a topology"), -EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_count),
        cmocka_unit_test(test_choose_distinct),
        cmocka_unit_test(test_choose_wraps),
        cmocka_unit_test(test_pin_thread),
        cmocka_unit_test(test_alloc_local),
        cmocka_unit_test(test_synthetic_spread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
