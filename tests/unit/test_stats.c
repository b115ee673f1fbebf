/* test_stats.c - metrics aggregation on the control thread (control/
 * stats.c): the ops peer asks with CTL_STATS on its own ring pair, every
 * (fake) shard answers CTL_SHARD_STATS into its piece of the request's
 * arena, and the answer merges them sorted, with consumer lag from the
 * committed offsets, ring occupancy, ports and topics; too small an arena
 * is answered with the size to ask again with. Also SIGHUP's reload
 * (control/reload.c): inherited settings re-derived and sent to the
 * shards, a topic's own kept, the rest kept and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "control_fixture.h"

struct ops_peer {
    struct spsc_ring *to_ops, *to_ctl;
    struct ctl_msg m;
    uint8_t *arena;
    size_t cap;
};

static void ops_connect(struct fake *f, struct ops_peer *o, size_t cap)
{
    memset(o, 0, sizeof *o);
    control_shard_endpoints(f->c, NSHARDS, &o->to_ops, &o->to_ctl, NULL, NULL);
    o->arena = malloc(cap);
    o->cap = cap;
    assert_non_null(o->arena);
}

/* Posts CTL_STATS and turns everything until the answer is back. */
static struct ctl_stats *ops_stats(struct fake *f, struct ops_peer *o)
{
    void *back = NULL;
    memset(&o->m, 0, sizeof o->m);
    o->m.op = CTL_STATS;
    o->m.arena = (struct ctl_arena){ .buf = o->arena, .cap = o->cap };
    assert_int_equal(spsc_ring_enqueue(o->to_ctl, &o->m), 0);
    assert_int_equal(eventfd_write(f->ctl_bell, 1), 0);
    for (int k = 0; k < 100 && !back; k++) {
        run(f);
        if (spsc_ring_dequeue(o->to_ops, &back) < 0)
            back = NULL;
    }
    assert_ptr_equal(back, &o->m);
    return &o->m.u.stats;
}

static void commit(struct fake *f, const char *group, const char *topic, int32_t part,
                   int64_t offset)
{
    struct req *r = req_new(CTL_OFFSET_COMMIT);
    struct ctl_offset_partition p = { .partition = part, .offset = offset, .leader_epoch = -1,
                                      .metadata_len = -1 };
    struct ctl_offset_topic t = { .name = topic, .npartitions = 1, .partitions = &p };
    r->m.u.offsets = (struct ctl_offsets){ .group_id = group, .member_id = "", .generation = -1,
                                           .retention_ms = -1, .ntopics = 1, .topics = &t };
    call(f, 0, r);
    assert_int_equal(p.error, 0);
    free(r);
}

static void test_stats_merge_and_lag(void **state)
{
    struct fake *f = started(state);
    struct ops_peer o;
    assert_int_equal(create(f, "b-topic", 3, NULL), 0);
    assert_int_equal(create(f, "a-topic", 2, NULL), 0);
    commit(f, "g1", "a-topic", 1, 40);
    commit(f, "g1", "b-topic", 2, 102);
    commit(f, "g2", "b-topic", 0, 500);     /* ahead of the log: lag 0 */
    ops_connect(f, &o, 1 << 20);
    struct ctl_stats *st = ops_stats(f, &o);
    assert_int_equal(st->need, 0);
    assert_int_equal(st->nshards, NSHARDS);
    for (int i = 0; i < NSHARDS; i++) {
        assert_int_equal(st->shards[i].api[0].requests, i + 1);
        assert_int_equal(hist_total(&st->shards[i].flush.fsync_ns), 1);
        assert_int_equal(st->rings[i].capacity, CONTROL_RING_SLOTS);
        assert_int_equal(st->rings[i].to_shard, 0);
    }
    assert_int_equal(st->nparts, 5);
    const char *want_topic[] = { "a-topic", "a-topic", "b-topic", "b-topic", "b-topic" };
    const int32_t want_part[] = { 0, 1, 0, 1, 2 };
    for (int i = 0; i < 5; i++) {
        assert_string_equal(st->parts[i].topic, want_topic[i]);
        assert_int_equal(st->parts[i].partition, want_part[i]);
        assert_int_equal(st->parts[i].log_end, 100 + want_part[i]);
        assert_int_equal(st->parts[i].m.records_in, 100 + want_part[i]);
    }
    assert_int_equal(st->ntopics, 2);
    assert_int_equal(st->nlags, 3);
    int seen = 0;
    for (int i = 0; i < st->nlags; i++) {
        const struct lag_report *l = &st->lags[i];
        if (!strcmp(l->group, "g1") && !strcmp(l->topic, "a-topic")) {
            assert_int_equal(l->partition, 1);
            assert_int_equal(l->committed, 40);
            assert_int_equal(l->log_end, 101);
            assert_int_equal(l->lag, 61);
            seen |= 1;
        } else if (!strcmp(l->group, "g1")) {
            assert_int_equal(l->lag, 0);        /* 102 == HW of b-topic-2 */
            seen |= 2;
        } else {
            assert_string_equal(l->group, "g2");
            assert_int_equal(l->committed, 500);
            assert_int_equal(l->lag, 0);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    /* Twice in a row: the collection is not stuck. */
    st = ops_stats(f, &o);
    assert_int_equal(st->need, 0);
    assert_int_equal(st->nparts, 5);
    free(o.arena);
    stop(f);
}

static void test_stats_small_arena(void **state)
{
    struct fake *f = started(state);
    struct ops_peer o;
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "topic-%02d", i);
        assert_int_equal(create(f, name, 50, NULL), 0);
    }
    ops_connect(f, &o, 16 << 10);
    struct ctl_stats *st = ops_stats(f, &o);
    assert_true(st->need > o.cap);
    size_t need = st->need;
    for (int tries = 0; tries < 8 && need; tries++) {
        free(o.arena);
        ops_connect(f, &o, need);
        st = ops_stats(f, &o);
        need = st->need;
    }
    assert_int_equal(need, 0);
    assert_int_equal(st->nparts, 1000);
    free(o.arena);
    stop(f);
}

static void test_reload_rederives(void **state)
{
    struct fake *f = started(state);
    const char *own[] = { "retention.ms", "120000", NULL };
    assert_int_equal(create(f, "inherits", 2, NULL), 0);
    assert_int_equal(create(f, "own", 1, own), 0);
    int configs = f->configs;
    struct broker_config fresh = f->cfg;
    assert_int_equal(broker_config_set(&fresh, "log.retention.ms", "7200000", NULL, 0), 0);
    assert_int_equal(broker_config_set(&fresh, "log.dirs", "/elsewhere", NULL, 0), 0);
    assert_int_equal(control_reload(f->c, &fresh), 1);
    run(f);
    assert_int_equal(f->configs - configs, 2);     /* both partitions of "inherits" */
    assert_string_equal(topic_value(f, "inherits", "retention.ms", NULL), "7200000");
    assert_string_equal(topic_value(f, "own", "retention.ms", NULL), "120000");
    for (int k = 0; k < f->nparts; k++)
        if (!strcmp(f->parts[k].topic, "inherits"))
            assert_int_equal(f->parts[k].cfg.retention_ms, 7200000);
    assert_true(control_config_dynamic("log.segment.bytes"));
    assert_false(control_config_dynamic("log.dirs"));
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_merge_and_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_small_arena, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_rederives, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
