/* test_admin_dyn.c - the control thread's dynamic broker configs and
 * manual replica assignments, driven through the fake shards of
 * control_fixture.h: cluster-wide and per-broker values with their
 * sources and synonyms, topics inheriting (and rebasing onto) them,
 * deletion back to the static value, persistence in the metadata log
 * (entries and snapshots) across restarts, keys and values refused; CreateTopics and CreatePartitions
 * placing partitions on the shards an assignment names, and every way an
 * assignment is refused; the cleaner figures of a topic of many partitions
 * in DescribeConfigs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control_fixture.h"
#include "storage/kerr.h"

/* --- helpers -------------------------------------------------------------- */

/* One (Incremental)AlterConfigs on a BROKER resource; its error. */
static int16_t alter_broker(struct fake *f, const char *name,
                            const struct ctl_config_entry *cfg, bool incremental,
                            bool validate_only)
{
    struct req *r = configs(f, CTL_ALTER_CONFIGS, CTL_RESOURCE_BROKER, name,
                            NULL, cfg, incremental, validate_only);
    int16_t e = r->m.u.configs.resources[0].error;
    if (e)
        assert_non_null(r->m.u.configs.resources[0].error_message);
    free(r);
    return e;
}

/* DescribeConfigs of one broker key with synonyms; copies what it needs. */
struct described {
    char value[64];
    int source;
    bool read_only;
    int nsyn;
    int syn_source[8];
    char syn_value[8][64];
};

static struct described describe_broker(struct fake *f, const char *name,
                                        const char *key)
{
    const char *keys[] = {key, NULL};
    struct req *r = req_new(CTL_DESCRIBE_CONFIGS);
    struct ctl_config_resource *res = ctl_arena_alloc(&r->m.arena, sizeof *res);
    struct described d = {0};

    *res = (struct ctl_config_resource){.type = CTL_RESOURCE_BROKER, .name = name,
                                        .nkeys = 1, .keys = keys};
    r->m.u.configs = (struct ctl_configs){.nresources = 1, .resources = res,
                                          .synonyms = true};
    call(f, 0, r);
    assert_int_equal(res->error, 0);
    assert_int_equal(res->nresults, 1);
    const struct config_desc *c = &res->results[0];
    snprintf(d.value, sizeof d.value, "%s", c->value ? c->value : "(null)");
    d.source = c->source;
    d.read_only = c->read_only;
    d.nsyn = c->nsynonyms;
    for (int i = 0; i < c->nsynonyms && i < 8; i++) {
        d.syn_source[i] = c->synonyms[i].source;
        snprintf(d.syn_value[i], sizeof d.syn_value[i], "%s", c->synonyms[i].value);
    }
    free(r);
    return d;
}

static const struct md_topic *topic(struct fake *f, const char *name)
{
    const struct md_topic *t = md_find_topic(f->md[0], name, strlen(name));
    assert_non_null(t);
    return t;
}

/* --- dynamic broker configs ------------------------------------------------ */

static void test_dynamic_default_and_inheritance(void **state)
{
    struct fake *f = started(state);
    const char *own[] = {"retention.ms", "1000", NULL};
    int src;

    assert_int_equal(create(f, "before", 2, NULL), 0);
    assert_int_equal(create(f, "own", 1, own), 0);
    struct described d = describe_broker(f, "0", "log.retention.ms");
    assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);
    assert_false(d.read_only);                      /* a dynamic key */
    assert_true(describe_broker(f, "0", "log.dirs").read_only);

    f->configs = 0;
    struct ctl_config_entry set[] = {{"log.retention.ms", "86400000", 0},
                                     {"num.partitions", "5", 0}, {0}};
    assert_int_equal(alter_broker(f, "", set, true, false), 0);
    d = describe_broker(f, "1", "log.retention.ms");
    assert_string_equal(d.value, "86400000");
    assert_int_equal(d.source, CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER);
    assert_int_equal(d.nsyn, 2);                    /* dynamic default, default */
    assert_int_equal(d.syn_source[0], CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER);
    assert_int_equal(d.syn_source[1], CONFIG_SOURCE_DEFAULT);
    assert_string_equal(d.syn_value[1], "604800000");

    /* an existing topic takes it (its partitions are told), one that
     * sets it keeps its own; a new topic gets both new defaults */
    assert_string_equal(topic_value(f, "before", "retention.ms", &src), "86400000");
    assert_int_equal(src, CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER);
    assert_int_equal(part_find(f, "before", 1)->cfg.retention_ms, 86400000);
    assert_int_equal(f->configs, 2);
    assert_string_equal(topic_value(f, "own", "retention.ms", &src), "1000");
    assert_int_equal(src, CONFIG_SOURCE_DYNAMIC_TOPIC);
    assert_int_equal(create(f, "after", -1, NULL), 0);
    assert_int_equal(topic(f, "after")->npartitions, 5);

    /* describing "" lists the dynamic defaults only */
    struct req *r = configs(f, CTL_DESCRIBE_CONFIGS, CTL_RESOURCE_BROKER, "",
                            NULL, NULL, false, false);
    assert_int_equal(r->m.u.configs.resources->nresults, 2);
    free(r);
}

static void test_dynamic_precedence_and_delete(void **state)
{
    struct fake *f = *state;

    assert_int_equal(broker_config_set(&f->cfg, "log.retention.ms", "7000", NULL, 0), 0);
    assert_int_equal(start(f), 0);
    assert_int_equal(describe_broker(f, "0", "log.retention.ms").source,
                     CONFIG_SOURCE_STATIC_BROKER);
    struct ctl_config_entry def[] = {{"log.retention.ms", "8000", 0}, {0}};
    struct ctl_config_entry one[] = {{"log.retention.ms", "9000", 0}, {0}};
    assert_int_equal(alter_broker(f, "", def, true, false), 0);
    assert_int_equal(alter_broker(f, "1", one, true, false), 0);
    struct described d = describe_broker(f, "0", "log.retention.ms");
    assert_string_equal(d.value, "9000");           /* one process: every id */
    assert_int_equal(d.source, CONFIG_SOURCE_DYNAMIC_BROKER);
    assert_int_equal(d.nsyn, 4);
    assert_string_equal(d.syn_value[0], "9000");
    assert_string_equal(d.syn_value[1], "8000");
    assert_string_equal(d.syn_value[2], "7000");
    assert_int_equal(d.syn_source[2], CONFIG_SOURCE_STATIC_BROKER);

    struct ctl_config_entry del[] = {{"log.retention.ms", NULL, 1}, {0}};
    assert_int_equal(alter_broker(f, "1", del, true, false), 0);
    assert_string_equal(describe_broker(f, "0", "log.retention.ms").value, "8000");
    assert_int_equal(alter_broker(f, "", del, true, false), 0);
    d = describe_broker(f, "0", "log.retention.ms");
    assert_string_equal(d.value, "7000");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);

    /* AlterConfigs (not incremental) replaces the scope's whole set */
    struct ctl_config_entry two[] = {{"log.retention.ms", "1", 0},
                                     {"log.segment.bytes", "1048576", 0}, {0}};
    struct ctl_config_entry just[] = {{"log.segment.bytes", "2097152", 0}, {0}};
    assert_int_equal(alter_broker(f, "", two, false, false), 0);
    assert_int_equal(alter_broker(f, "", just, false, false), 0);
    assert_string_equal(describe_broker(f, "0", "log.retention.ms").value, "7000");
    assert_string_equal(describe_broker(f, "0", "log.segment.bytes").value, "2097152");
}

static void test_dynamic_persisted(void **state)
{
    struct fake *f = started(state);
    int src;

    struct ctl_config_entry set[] = {{"log.retention.ms", "86400000", 0},
                                     {"message.max.bytes", "2097152", 0}, {0}};
    struct ctl_config_entry one[] = {{"num.partitions", "3", 0}, {0}};
    assert_int_equal(alter_broker(f, "", set, true, false), 0);
    assert_int_equal(alter_broker(f, "0", one, true, false), 0);
    assert_int_equal(create(f, "t", 1, NULL), 0);
    stop(f);
    assert_int_equal(start(f), 0);
    assert_string_equal(describe_broker(f, "0", "message.max.bytes").value, "2097152");
    assert_int_equal(describe_broker(f, "0", "num.partitions").source,
                     CONFIG_SOURCE_DYNAMIC_BROKER);
    assert_string_equal(topic_value(f, "t", "retention.ms", &src), "86400000");
    assert_int_equal(src, CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER);
    assert_int_equal(part_find(f, "t", 0)->cfg.max_message_bytes, 2097152);
    assert_int_equal(create(f, "u", -1, NULL), 0);
    assert_int_equal(topic(f, "u")->npartitions, 3);
}

static void test_dynamic_refused(void **state)
{
    struct fake *f = started(state);

    struct ctl_config_entry dirs[] = {{"log.dirs", "/tmp/x", 0}, {0}};
    struct ctl_config_entry unknown[] = {{"no.such.key", "1", 0}, {0}};
    struct ctl_config_entry bad[] = {{"log.retention.ms", "soon", 0}, {0}};
    struct ctl_config_entry append[] = {{"log.cleanup.policy", "compact", 2}, {0}};
    struct ctl_config_entry null[] = {{"log.retention.ms", NULL, 0}, {0}};
    struct ctl_config_entry dup[] = {{"log.retention.ms", "1", 0},
                                     {"log.retention.ms", "2", 0}, {0}};
    struct ctl_config_entry dry[] = {{"log.retention.ms", "42", 0}, {0}};
    assert_int_equal(alter_broker(f, "", dirs, true, false), KERR_INVALID_CONFIG);
    assert_int_equal(alter_broker(f, "", unknown, true, false), KERR_INVALID_CONFIG);
    assert_int_equal(alter_broker(f, "", bad, true, false), KERR_INVALID_CONFIG);
    assert_int_equal(alter_broker(f, "", append, true, false), KERR_INVALID_REQUEST);
    assert_int_equal(alter_broker(f, "", null, true, false), KERR_INVALID_CONFIG);
    assert_int_equal(alter_broker(f, "", dup, true, false), KERR_INVALID_REQUEST);
    assert_int_equal(alter_broker(f, "5", dry, true, false), KERR_INVALID_REQUEST);
    assert_int_equal(alter_broker(f, "", dry, true, true), 0);   /* validate only */
    assert_int_equal(describe_broker(f, "0", "log.retention.ms").source,
                     CONFIG_SOURCE_DEFAULT);
}

/* The block rides the log's snapshots too: enough commits for a
 * snapshot (every 256 entries), then a restart replays from it. */
static void test_dynamic_in_snapshot(void **state)
{
    struct fake *f = started(state);
    char name[32];

    struct ctl_config_entry set[] = {{"log.retention.ms", "86400000", 0}, {0}};
    assert_int_equal(alter_broker(f, "", set, true, false), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "snap-%d", i);
        assert_int_equal(create(f, name, 1, NULL), 0);
    }
    stop(f);
    assert_int_equal(start(f), 0);
    assert_string_equal(describe_broker(f, "0", "log.retention.ms").value, "86400000");
    assert_int_equal(describe_broker(f, "0", "log.retention.ms").source,
                     CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER);
    assert_int_equal(part_find(f, "snap-299", 0)->cfg.retention_ms, 86400000);
}

/* --- manual replica assignments ------------------------------------------------ */

/* CreateTopics of one topic with an assignment: n partitions, partition
 * idx[i] on brokers[i][0..nb). */
static int16_t create_assigned(struct fake *f, const char *name, int n,
                               const int32_t *idx, const int32_t (*brokers)[2],
                               int nb, int32_t np, int16_t rf)
{
    struct req *r = req_new(CTL_CREATE_TOPICS);
    struct ctl_topic_spec *sp = ctl_arena_alloc(&r->m.arena, sizeof *sp);
    struct ctl_assignment *as = ctl_arena_alloc(&r->m.arena, sizeof(*as) * (size_t)n);

    for (int i = 0; i < n; i++)
        as[i] = (struct ctl_assignment){idx[i], nb, brokers[i]};
    *sp = (struct ctl_topic_spec){.name = name, .num_partitions = np,
                                  .replication_factor = rf, .nassignments = n,
                                  .assignments = as};
    r->m.u.create_topics = (struct ctl_create_topics){.ntopics = 1, .topics = sp};
    call(f, 0, r);
    int16_t e = sp->error;
    if (e)
        assert_non_null(sp->error_message);
    free(r);
    return e;
}

static int16_t grow_assigned(struct fake *f, const char *name, int32_t count,
                             const int32_t (*brokers)[2], int n, int nb)
{
    struct req *r = req_new(CTL_CREATE_PARTITIONS);
    const char *names[1] = {name}, *msgs[1] = {NULL};
    int32_t counts[1] = {count};
    int16_t errors[1] = {0};
    int nas[1] = {n};
    struct ctl_assignment as[8];
    const struct ctl_assignment *asp[1] = {as};

    for (int i = 0; i < n; i++)
        as[i] = (struct ctl_assignment){-1, nb, brokers[i]};
    r->m.u.create_partitions = (struct ctl_create_partitions){
        .ntopics = 1, .names = names, .counts = counts, .errors = errors,
        .error_messages = msgs, .nassignments = nas, .assignments = asp};
    call(f, 0, r);
    if (errors[0])
        assert_non_null(msgs[0]);
    free(r);
    return errors[0];
}

static void test_assignment_places(void **state)
{
    struct fake *f = started(state);
    const int32_t idx[] = {2, 0, 1};
    const int32_t b[][2] = {{0, 0}, {1, 0}, {1, 0}};

    assert_int_equal(create_assigned(f, "placed", 3, idx, b, 1, -1, -1), 0);
    const struct md_topic *t = topic(f, "placed");
    assert_int_equal(t->npartitions, 3);
    assert_int_equal(t->partitions[2].leader, 0);
    assert_int_equal(t->partitions[0].leader, 1);
    assert_int_equal(t->partitions[1].leader, 1);
    assert_int_equal(part_find(f, "placed", 0)->shard, 1);  /* opened there */
    assert_int_equal(part_find(f, "placed", 2)->shard, 0);

    const int32_t more[][2] = {{1, 0}, {1, 0}};
    assert_int_equal(grow_assigned(f, "placed", 5, more, 2, 1), 0);
    t = topic(f, "placed");
    assert_int_equal(t->npartitions, 5);
    assert_int_equal(t->partitions[3].leader, 1);
    assert_int_equal(t->partitions[4].leader, 1);
    stop(f);
    assert_int_equal(start(f), 0);                  /* the placement is kept */
    t = topic(f, "placed");
    assert_int_equal(t->partitions[0].leader, 1);
    assert_int_equal(t->partitions[2].leader, 0);
    assert_int_equal(t->partitions[4].leader, 1);
}

static void test_assignment_refused(void **state)
{
    struct fake *f = started(state);
    const int32_t idx01[] = {0, 1}, idx02[] = {0, 2}, idx00[] = {0, 0};
    const int32_t ok[][2] = {{0, 0}, {1, 0}}, unknown[][2] = {{0, 0}, {7, 0}};
    const int32_t two[][2] = {{0, 1}, {1, 0}}, dup[][2] = {{1, 1}, {0, 1}};
    const int32_t neg[][2] = {{-1, 0}, {0, 0}};

    assert_int_equal(create_assigned(f, "a", 2, idx01, unknown, 1, -1, -1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(create_assigned(f, "a", 2, idx01, neg, 1, -1, -1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(create_assigned(f, "a", 2, idx01, two, 2, -1, -1),
                     KERR_INVALID_REPLICATION_FACTOR);
    assert_int_equal(create_assigned(f, "a", 2, idx01, dup, 2, -1, -1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(create_assigned(f, "a", 2, idx02, ok, 1, -1, -1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(create_assigned(f, "a", 2, idx00, ok, 1, -1, -1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(create_assigned(f, "a", 2, idx01, ok, 0, -1, -1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);       /* empty lists */
    assert_int_equal(create_assigned(f, "a", 2, idx01, ok, 1, 2, -1),
                     KERR_INVALID_REQUEST);
    assert_int_equal(create_assigned(f, "a", 2, idx01, ok, 1, -1, 1),
                     KERR_INVALID_REQUEST);
    assert_null(md_find_topic(f->md[0], "a", 1));   /* nothing was created */

    assert_int_equal(create(f, "g", 1, NULL), 0);
    const int32_t one[][2] = {{0, 0}}, nine[][2] = {{9, 0}, {0, 0}};
    assert_int_equal(grow_assigned(f, "g", 3, one, 1, 1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);      /* 1 of 2 */
    assert_int_equal(grow_assigned(f, "g", 3, nine, 2, 1),
                     KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(grow_assigned(f, "g", 3, two, 2, 2),
                     KERR_INVALID_REPLICA_ASSIGNMENT);      /* not like the rest */
    assert_int_equal(topic(f, "g")->npartitions, 1);
}

/* A compacted topic with many partitions (Connect's offsets topic has 25)
 * whose cleaner has reported every one: DescribeConfigs answers with all
 * of their figures instead of failing because the text outgrew a buffer. */
static void test_cleaner_stats_of_many_partitions(void **state)
{
    struct fake *f = started(state);
    const char *cfg[] = {"cleanup.policy", "compact", NULL};
    enum { NP = 40 };

    assert_int_equal(create(f, "wide", NP, cfg), 0);
    for (int32_t p = 0; p < NP; p++) {
        struct req *r = req_new(CTL_CLEANER_STATS);
        r->m.u.cleaner_stats = (struct ctl_cleaner_stats){
            .topic = "wide", .partition = p,
            .info = {.dirty_ratio = 0.5, .last_clean_ms = 1700000000000 + p,
                     .cleans = 1000000 + p, .bytes_read = 1ull << 40,
                     .bytes_written = 1ull << 39, .records_removed = 123456789,
                     .clean_ns = 987654321}};
        call(f, p % NSHARDS, r);
        free(r);
    }
    struct req *r = configs(f, CTL_DESCRIBE_CONFIGS, CTL_RESOURCE_TOPIC, "wide",
                            NULL, NULL, false, false);
    struct ctl_config_resource *res = r->m.u.configs.resources;
    assert_int_equal(res->error, 0);
    const struct config_desc *d = desc_of(res, "sluice.cleaner.stats");
    assert_non_null(d);
    assert_true(strlen(d->value) > 4096);       /* more than one config value */
    int n = 0;
    for (const char *s = d->value; (s = strstr(s, "partition=")); s++)
        n++;
    assert_int_equal(n, NP);
    assert_non_null(strstr(d->value, "partition=39 dirty.ratio=0.500"));
    assert_string_equal(desc_of(res, "cleanup.policy")->value, "compact");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_dynamic_default_and_inheritance),
        T(test_dynamic_precedence_and_delete),
        T(test_dynamic_persisted),
        T(test_dynamic_refused),
        T(test_dynamic_in_snapshot),
        T(test_assignment_places),
        T(test_assignment_refused),
        T(test_cleaner_stats_of_many_partitions),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
