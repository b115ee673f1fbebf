/* test_config.c - server.properties and topic configs (control/config.c):
 * Kafka's defaults, the .properties reader, strict values, retention
 * precedence, topic inheritance, DescribeConfigs views, persistence text
 * and the mapping onto the storage engine's log_config. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/config.h"

/* --- helpers ----------------------------------------------------------- */

struct reports {
    int n;
    char msg[8][512];
};

static void collect(void *ctx, const char *msg)
{
    struct reports *r = ctx;
    if (r->n < 8)
        snprintf(r->msg[r->n], sizeof r->msg[0], "%s", msg);
    r->n++;
}

/* Writes text to a fresh temporary file; path receives its name. */
static void write_temp(char *path, size_t len, const char *text)
{
    snprintf(path, len, "/tmp/sluice-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static struct broker_config *new_broker(void)
{
    static struct broker_config b;
    assert_int_equal(broker_config_defaults(&b), 0);
    return &b;
}

/* Describes key (broker or topic) into d; returns the value or NULL. */
static const char *bdesc(const struct broker_config *b, const char *key,
                         struct config_desc *d)
{
    static char buf[CONFIG_VALUE_MAX];
    int i = broker_config_find(key);
    assert_true(i >= 0);
    assert_int_equal(broker_config_describe(b, i, d, buf, sizeof buf), 0);
    return d->value;
}

static const char *tdesc(const struct topic_config *t, const char *key,
                         struct config_desc *d)
{
    static char buf[CONFIG_VALUE_MAX];
    int i = topic_config_find(key);
    assert_true(i >= 0);
    assert_int_equal(topic_config_describe(t, i, d, buf, sizeof buf), 0);
    return d->value;
}

static void bset(struct broker_config *b, const char *k, const char *v)
{
    char err[256] = "";
    int rc = broker_config_set(b, k, v, err, sizeof err);
    if (rc != 0)
        fail_msg("%s=%s: %d %s", k, v, rc, err);
}

static void tset(struct topic_config *t, const char *k, const char *v)
{
    char err[256] = "";
    int rc = topic_config_set(t, k, v, err, sizeof err);
    if (rc != 0)
        fail_msg("%s=%s: %d %s", k, v, rc, err);
}

/* --- broker ------------------------------------------------------------ */

static void test_defaults_match_kafka(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    assert_int_equal(b->num_partitions, 1);
    assert_int_equal(b->default_replication_factor, 1);
    assert_true(b->auto_create_topics_enable);
    assert_int_equal(b->log_segment_bytes, 1073741824);
    assert_int_equal(b->log_segment_ms, 168LL * 3600 * 1000);
    assert_int_equal(b->log_retention_ms, 168LL * 3600 * 1000);
    assert_int_equal(b->log_retention_hours, 168);
    assert_int_equal(b->log_retention_bytes, -1);
    assert_int_equal(b->log_retention_check_interval_ms, 300000);
    assert_int_equal(b->log_flush_interval_messages, INT64_MAX);
    assert_int_equal(b->log_flush_interval_ms, INT64_MAX);
    assert_int_equal(b->log_index_interval_bytes, 4096);
    assert_int_equal(b->log_index_size_max_bytes, 10485760);
    assert_int_equal(b->message_max_bytes, 1048588);
    assert_int_equal(b->socket_request_max_bytes, 104857600);
    assert_int_equal(b->socket_send_buffer_bytes, 102400);
    assert_int_equal(b->log_message_timestamp_type, TIMESTAMP_CREATE_TIME);
    assert_int_equal(b->compression_type, COMPRESSION_PRODUCER);
    assert_int_equal(b->log_cleanup_policy, CLEANUP_DELETE);
    assert_int_equal(b->log_cleaner_delete_retention_ms, 86400000);
    assert_true(b->log_cleaner_min_cleanable_ratio == 0.5);
    assert_int_equal(b->min_insync_replicas, 1);
    assert_int_equal(b->offsets_retention_minutes, 10080);
    assert_int_equal(b->group_initial_rebalance_delay_ms, 3000);
    assert_int_equal(b->group_min_session_timeout_ms, 6000);
    assert_int_equal(b->group_max_session_timeout_ms, 1800000);
    assert_int_equal(b->transaction_max_timeout_ms, 900000);
    assert_int_equal(b->connections_max_idle_ms, 600000);
    assert_string_equal(b->listeners, "PLAINTEXT://:9092");
    assert_string_equal(b->advertised_listeners, "PLAINTEXT://:9092");
    assert_int_equal(b->num_shards, 0);
    assert_int_equal(b->flush_policy, FLUSH_ALWAYS);
    assert_string_equal(b->log_dirs, b->log_dir);

    /* Nothing is explicit; every setting describes as a default. */
    for (int i = 0; i < broker_config_count(); i++) {
        struct config_desc d;
        char buf[CONFIG_VALUE_MAX];
        assert_int_equal(broker_config_describe(b, i, &d, buf, sizeof buf), 0);
        assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);
        assert_true(d.is_default);
        assert_true(d.read_only);
        assert_int_equal(d.sensitive, strstr(d.name, "password") != NULL);
        assert_non_null(d.doc);
        assert_true(d.type != CONFIG_TYPE_UNKNOWN);
    }
    struct config_desc d;
    char buf[16];
    assert_int_equal(broker_config_describe(b, broker_config_count(), &d, buf,
                                            sizeof buf), -ENOENT);
}

static const char sample[] =
    "# A Kafka-style server.properties\n"
    "! also a comment\n"
    "   \n"
    "broker.id=3\n"
    "  listeners = PLAINTEXT://0.0.0.0:19092 , \\\n"
    "              INTERNAL://[::1]:19093\n"
    "advertised.listeners:PLAINTEXT://broker.example:19092\n"
    "log.dirs /data/a,\\\n"
    "   /data/b\n"
    "num.partitions   8\n"
    "auto.create.topics.enable=FALSE\n"
    "log.segment.bytes=536870912\r\n"
    "log.retention.hours=24\n"
    "log.retention.bytes=1073741824\n"
    "log.flush.interval.messages=10000\n"
    "log.message.timestamp.type=LogAppendTime\n"
    "compression.type=lz4\n"
    "log.cleanup.policy=compact, delete\n"
    "log.cleaner.min.cleanable.ratio=0.25\n"
    "# a comment ending in a backslash does not continue \\\n"
    "sluice.shards=2\n"
    "offsets.retention.minutes=1440\n"
    "log.dir=/ignored\\\\because\\u0020log.dirs\n";

static void test_load_sample_properties(void **state)
{
    (void)state;
    char path[64];
    struct reports r = {0};
    struct broker_config *b = new_broker();
    write_temp(path, sizeof path, sample);
    assert_int_equal(broker_config_load_file(b, path, collect, &r), 0);
    unlink(path);
    assert_int_equal(r.n, 0);

    assert_int_equal(b->node_id, 3);
    assert_string_equal(b->listeners,
                        "PLAINTEXT://0.0.0.0:19092,INTERNAL://[::1]:19093");
    assert_string_equal(b->advertised_listeners,
                        "PLAINTEXT://broker.example:19092");
    assert_string_equal(b->log_dirs, "/data/a,/data/b");
    assert_string_equal(b->log_dir, "/ignored\\because log.dirs");
    assert_int_equal(b->num_partitions, 8);
    assert_false(b->auto_create_topics_enable);
    assert_int_equal(b->log_segment_bytes, 536870912);
    assert_int_equal(b->log_retention_ms, 24LL * 3600 * 1000);
    assert_int_equal(b->log_retention_bytes, 1073741824);
    assert_int_equal(b->log_flush_interval_messages, 10000);
    assert_int_equal(b->flush_policy, FLUSH_INTERVAL);  /* implied */
    assert_int_equal(b->log_message_timestamp_type, TIMESTAMP_LOG_APPEND_TIME);
    assert_int_equal(b->compression_type, COMPRESSION_LZ4);
    assert_int_equal(b->log_cleanup_policy, CLEANUP_COMPACT | CLEANUP_DELETE);
    assert_true(b->log_cleaner_min_cleanable_ratio == 0.25);
    assert_int_equal(b->num_shards, 2);
    assert_int_equal(b->offsets_retention_minutes, 1440);

    assert_true(broker_config_is_set(b, "log.dirs"));
    assert_true(broker_config_is_set(b, "log.retention.hours"));
    assert_false(broker_config_is_set(b, "log.retention.ms"));
    assert_false(broker_config_is_set(b, "no.such.key"));

    struct config_desc d;
    assert_string_equal(bdesc(b, "num.partitions", &d), "8");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);
    assert_false(d.is_default);
    assert_int_equal(d.type, CONFIG_TYPE_INT);
    assert_string_equal(bdesc(b, "log.cleanup.policy", &d), "compact,delete");
    assert_int_equal(d.type, CONFIG_TYPE_LIST);
    assert_string_equal(bdesc(b, "log.cleaner.min.cleanable.ratio", &d),
                        "0.25");
    /* Derived but not explicit: the effective value, as a default. */
    assert_string_equal(bdesc(b, "log.retention.ms", &d), "86400000");
    assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);
    assert_null(bdesc(b, "log.retention.minutes", &d));
    assert_string_equal(bdesc(b, "auto.create.topics.enable", &d), "false");
    assert_int_equal(d.type, CONFIG_TYPE_BOOLEAN);
    assert_string_equal(bdesc(b, "message.max.bytes", &d), "1048588");
    assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);

    struct config_listener l;
    assert_int_equal(config_listener_get(b->listeners, 1, &l), 0);
    assert_string_equal(l.name, "INTERNAL");
    assert_string_equal(l.host, "::1");
    assert_int_equal(l.port, 19093);
    assert_int_equal(config_listener_get(b->listeners, 2, &l), -ENOENT);
}

static void test_unknown_key_reported(void **state)
{
    (void)state;
    char path[64], want[128];
    struct reports r = {0};
    struct broker_config *b = new_broker();
    write_temp(path, sizeof path,
               "num.partitions=4\n"
               "# zookeeper is not needed\n"
               "zookeeper.connect=localhost:2181\n"
               "log.segment.bytes=\\\n"
               "  1048576\n"
               "no.such.setting = 1\n"
               "message.max.bytes=2000000\n");
    assert_int_equal(broker_config_load_file(b, path, collect, &r), 0);
    assert_int_equal(r.n, 2);
    snprintf(want, sizeof want, "%s:3: unknown config key zookeeper.connect",
             path);
    assert_string_equal(r.msg[0], want);
    snprintf(want, sizeof want, "%s:6: unknown config key no.such.setting",
             path);
    assert_string_equal(r.msg[1], want);
    unlink(path);
    /* The load went on past the unknown keys. */
    assert_int_equal(b->num_partitions, 4);
    assert_int_equal(b->log_segment_bytes, 1048576);
    assert_int_equal(b->message_max_bytes, 2000000);

    /* A report callback is optional. */
    write_temp(path, sizeof path, "bogus=1\n");
    assert_int_equal(broker_config_load_file(b, path, NULL, NULL), 0);
    unlink(path);

    /* A missing file is an error, reported. */
    r.n = 0;
    assert_int_equal(broker_config_load_file(b, "/nonexistent/x.properties",
                                             collect, &r), -ENOENT);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.msg[0], "/nonexistent/x.properties"));
}

static void test_bad_values_rejected(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    char err[256];

    assert_int_equal(broker_config_set(b, "log.segment.bytes", "abc", err,
                                       sizeof err), -EINVAL);
    assert_string_equal(err,
                        "log.segment.bytes: expected an integer >= 14, "
                        "got 'abc'");
    static const char *const bad[] = {"", " ", "12x", "0x10", "1e3", "13",
                                      "3000000000", "-1", "1 2", "1_000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(broker_config_set(b, "log.segment.bytes", bad[i],
                                           err, sizeof err), -EINVAL);
    assert_int_equal(b->log_segment_bytes, 1073741824);      /* unchanged */
    assert_false(broker_config_is_set(b, "log.segment.bytes"));
    bset(b, "log.segment.bytes", " 2147483647 ");
    assert_int_equal(b->log_segment_bytes, INT32_MAX);

    assert_int_equal(broker_config_set(b, "log.retention.ms",
                                       "99999999999999999999", err,
                                       sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(b, "default.replication.factor", "9",
                                       err, sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(b, "default.replication.factor", "3",
                                       err, sizeof err), 0);
    assert_int_equal(broker_config_set(b, "auto.create.topics.enable", "yes",
                                       err, sizeof err), -EINVAL);
    assert_string_equal(err, "auto.create.topics.enable: expected true or "
                             "false, got 'yes'");
    assert_int_equal(broker_config_set(b, "compression.type", "LZ4", err,
                                       sizeof err), -EINVAL);
    assert_string_equal(err, "compression.type: expected one of uncompressed, "
                             "gzip, snappy, lz4, zstd, producer, got 'LZ4'");
    assert_int_equal(broker_config_set(b, "sluice.shards", "2000", err,
                                       sizeof err), -EINVAL);
    assert_string_equal(err, "sluice.shards: expected an integer in "
                             "[0, 1024], got '2000'");
    assert_int_equal(broker_config_set(b, "log.cleaner.min.cleanable.ratio",
                                       "1.5", err, sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(b, "listeners", "localhost:9092", err,
                                       sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(b, "listeners", "PLAINTEXT://:99999",
                                       err, sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(b, "log.dirs", "/a,,/b", err,
                                       sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(b, "no.such.key", "1", err,
                                       sizeof err), -ENOENT);
    assert_string_equal(err, "unknown config key no.such.key");

    /* broker.id and node.id are one setting. */
    bset(b, "node.id", "5");
    bset(b, "broker.id", "5");
    assert_int_equal(broker_config_set(b, "broker.id", "6", err, sizeof err),
                     -EINVAL);
    assert_int_equal(b->node_id, 5);

    /* A strings longer than its field is rejected, not truncated. */
    char big[CONFIG_DIRS_MAX + 8];
    memset(big, 'x', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    assert_int_equal(broker_config_set(b, "log.dirs", big, err, sizeof err),
                     -EINVAL);

    /* In a file, a bad value stops the load and says where. */
    char path[64], want[160];
    struct reports r = {0};
    write_temp(path, sizeof path, "num.partitions=2\n\nnum.partitions=two\n"
                                  "num.partitions=3\n");
    b = new_broker();
    assert_int_equal(broker_config_load_file(b, path, collect, &r), -EINVAL);
    assert_int_equal(r.n, 1);
    snprintf(want, sizeof want, "%s:3: num.partitions: expected an integer "
                                ">= 1, got 'two'", path);
    assert_string_equal(r.msg[0], want);
    assert_int_equal(b->num_partitions, 2);
    unlink(path);
}

/* The cluster's settings, with Kafka's names and formats. */
static void test_cluster_settings(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    struct config_voter v;
    char err[256];

    assert_int_equal(b->process_roles, ROLE_BROKER | ROLE_CONTROLLER);
    assert_false(broker_config_is_set(b, "controller.quorum.voters"));
    assert_int_equal(config_voter_get(b->controller_quorum_voters, 0, &v),
                     -ENOENT);
    bset(b, "controller.quorum.voters",
         "0@10.1.0.1:9093, 1@[fd00::2]:9093,2@host-c:19093");
    assert_int_equal(config_voter_get(b->controller_quorum_voters, 1, &v), 0);
    assert_int_equal(v.id, 1);
    assert_string_equal(v.host, "fd00::2");
    assert_int_equal(v.port, 9093);
    assert_int_equal(config_voter_get(b->controller_quorum_voters, 2, &v), 0);
    assert_string_equal(v.host, "host-c");
    assert_int_equal(config_voter_get(b->controller_quorum_voters, 3, &v),
                     -ENOENT);
    static const char *const bad[] = {"1@", "@h:1", "x@h:1", "1@h", "1@h:0",
                                      "-1@h:1", "1@:9093", "1@h:1,,2@h:2",
                                      "1h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(broker_config_set(b, "controller.quorum.voters",
                                           bad[i], err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "id@host:port"));
    bset(b, "process.roles", "broker");
    assert_int_equal(b->process_roles, ROLE_BROKER);
    assert_int_equal(broker_config_set(b, "process.roles", "voter", err,
                                       sizeof err), -EINVAL);
    bset(b, "broker.rack", "rack-a");
    assert_string_equal(b->broker_rack, "rack-a");
    /* node.id * 1000 + shard must stay an int32. */
    bset(b, "node.id", "2147482");
    assert_int_equal(broker_config_set(b, "node.id", "2147483", err,
                                       sizeof err), -EINVAL);
}

static void test_retention_precedence(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    bset(b, "log.retention.hours", "2");
    assert_int_equal(b->log_retention_ms, 2 * 3600000LL);
    bset(b, "log.retention.minutes", "30");
    assert_int_equal(b->log_retention_ms, 30 * 60000LL);
    bset(b, "log.retention.ms", "1234");
    assert_int_equal(b->log_retention_ms, 1234);
    bset(b, "log.retention.hours", "5");        /* still ms wins */
    assert_int_equal(b->log_retention_ms, 1234);

    b = new_broker();                           /* order does not matter */
    bset(b, "log.retention.ms", "1000");
    bset(b, "log.retention.minutes", "1");
    bset(b, "log.retention.hours", "1");
    assert_int_equal(b->log_retention_ms, 1000);

    b = new_broker();
    bset(b, "log.retention.minutes", "-1");     /* unlimited */
    assert_int_equal(b->log_retention_ms, -1);
    bset(b, "log.retention.hours", "1");
    assert_int_equal(b->log_retention_ms, -1);
    struct config_desc d;
    assert_string_equal(bdesc(b, "log.retention.minutes", &d), "-1");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);

    b = new_broker();                           /* segment rolling too */
    bset(b, "log.roll.hours", "1");
    assert_int_equal(b->log_segment_ms, 3600000);
    bset(b, "log.roll.ms", "5000");
    assert_int_equal(b->log_segment_ms, 5000);

    b = new_broker();                           /* log.dirs > log.dir */
    bset(b, "log.dir", "/x");
    assert_string_equal(b->log_dirs, "/x");
    bset(b, "log.dirs", "/y , /z");
    assert_string_equal(b->log_dirs, "/y,/z");
    bset(b, "log.dir", "/w");
    assert_string_equal(b->log_dirs, "/y,/z");
}

static void test_broker_flush_policy_rule(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    assert_int_equal(b->flush_policy, FLUSH_ALWAYS);
    bset(b, "log.flush.interval.ms", "1000");
    assert_int_equal(b->flush_policy, FLUSH_INTERVAL);
    bset(b, "sluice.flush.policy", "always");   /* explicit wins */
    assert_int_equal(b->flush_policy, FLUSH_ALWAYS);

    b = new_broker();
    bset(b, "sluice.flush.policy", "os");
    bset(b, "log.flush.interval.messages", "1");
    assert_int_equal(b->flush_policy, FLUSH_OS);
}

/* --- topics ------------------------------------------------------------ */

static void test_topic_inherits_broker(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    struct topic_config t;
    bset(b, "log.retention.hours", "1");
    bset(b, "log.segment.bytes", "1048576");
    bset(b, "compression.type", "zstd");
    bset(b, "message.max.bytes", "5000");
    bset(b, "log.cleanup.policy", "compact");
    topic_config_from_broker(b, &t);

    assert_int_equal(t.retention_ms, 3600000);
    assert_int_equal(t.segment_bytes, 1048576);
    assert_int_equal(t.compression_type, COMPRESSION_ZSTD);
    assert_int_equal(t.max_message_bytes, 5000);
    assert_int_equal(t.cleanup_policy, CLEANUP_COMPACT);
    assert_int_equal(t.segment_ms, 168LL * 3600000);
    assert_int_equal(t.retention_bytes, -1);
    assert_int_equal(t.index_interval_bytes, 4096);
    assert_int_equal(t.timestamp_type, TIMESTAMP_CREATE_TIME);
    assert_int_equal(t.flush_policy, FLUSH_ALWAYS);
    assert_int_equal(t.min_insync_replicas, 1);
    assert_true(t.min_cleanable_dirty_ratio == 0.5);

    struct config_desc d;
    assert_string_equal(tdesc(&t, "retention.ms", &d), "3600000");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);
    assert_false(d.is_default);
    assert_false(d.read_only);
    assert_string_equal(d.synonym, "log.retention.ms");
    assert_int_equal(d.type, CONFIG_TYPE_LONG);
    assert_string_equal(tdesc(&t, "compression.type", &d), "zstd");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);
    assert_string_equal(tdesc(&t, "cleanup.policy", &d), "compact");
    assert_string_equal(tdesc(&t, "retention.bytes", &d), "-1");
    assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);
    assert_true(d.is_default);
    assert_string_equal(tdesc(&t, "message.timestamp.type", &d), "CreateTime");
    assert_string_equal(tdesc(&t, "sluice.flush.policy", &d), "always");

    /* Every topic setting describes; all but the capture settings (a
     * topic's own, with no broker default) inherit a broker setting. */
    for (int i = 0; i < topic_config_count(); i++) {
        char buf[CONFIG_VALUE_MAX];
        assert_int_equal(topic_config_describe(&t, i, &d, buf, sizeof buf), 0);
        assert_non_null(d.value);
        if (strncmp(d.name, "sluice.capture.", 15) == 0) {
            assert_null(d.synonym);
            assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);
            continue;
        }
        assert_non_null(d.synonym);
        assert_true(broker_config_find(d.synonym) >= 0);
    }
}

static void test_topic_set_unset(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    struct topic_config t;
    struct config_desc d;
    bset(b, "log.retention.bytes", "1000000");
    topic_config_from_broker(b, &t);

    tset(&t, "retention.bytes", "5000");
    tset(&t, "cleanup.policy", "delete, compact");
    tset(&t, "message.timestamp.type", "LogAppendTime");
    assert_int_equal(t.retention_bytes, 5000);
    assert_int_equal(t.cleanup_policy, CLEANUP_COMPACT | CLEANUP_DELETE);
    assert_true(topic_config_is_set(&t, "retention.bytes"));
    assert_string_equal(tdesc(&t, "retention.bytes", &d), "5000");
    assert_int_equal(d.source, CONFIG_SOURCE_DYNAMIC_TOPIC);
    assert_string_equal(tdesc(&t, "cleanup.policy", &d), "compact,delete");
    assert_int_equal(d.source, CONFIG_SOURCE_DYNAMIC_TOPIC);

    assert_int_equal(topic_config_unset(&t, "retention.bytes", b), 0);
    assert_int_equal(t.retention_bytes, 1000000);
    assert_false(topic_config_is_set(&t, "retention.bytes"));
    assert_string_equal(tdesc(&t, "retention.bytes", &d), "1000000");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);

    assert_int_equal(topic_config_unset(&t, "cleanup.policy", b), 0);
    assert_int_equal(t.cleanup_policy, CLEANUP_DELETE);
    assert_string_equal(tdesc(&t, "cleanup.policy", &d), "delete");
    assert_int_equal(d.source, CONFIG_SOURCE_DEFAULT);
    assert_int_equal(topic_config_unset(&t, "cleanup.policy", b), 0);
    assert_int_equal(topic_config_unset(&t, "log.retention.ms", b), -ENOENT);
}

static void test_topic_invalid_values(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    struct topic_config t, before;
    char err[256];
    topic_config_from_broker(b, &t);
    before = t;

    assert_int_equal(topic_config_set(&t, "cleanup.policy", "foo", err,
                                      sizeof err), -EINVAL);
    assert_string_equal(err, "cleanup.policy: expected a comma-separated list "
                             "of compact, delete, got 'foo'");
    assert_int_equal(topic_config_set(&t, "cleanup.policy", "compact,", err,
                                      sizeof err), -EINVAL);
    assert_int_equal(topic_config_set(&t, "cleanup.policy", "", err,
                                      sizeof err), -EINVAL);
    assert_int_equal(topic_config_set(&t, "segment.bytes", "-1", err,
                                      sizeof err), -EINVAL);
    assert_string_equal(err, "segment.bytes: expected an integer >= 14, "
                             "got '-1'");
    assert_int_equal(topic_config_set(&t, "retention.ms", "-2", err,
                                      sizeof err), -EINVAL);
    assert_int_equal(topic_config_set(&t, "message.timestamp.type",
                                      "createtime", err, sizeof err), -EINVAL);
    assert_int_equal(topic_config_set(&t, "flush.messages", "0", err,
                                      sizeof err), -EINVAL);
    assert_int_equal(topic_config_set(&t, "sluice.flush.policy", "never", err,
                                      sizeof err), -EINVAL);
    assert_int_equal(topic_config_set(&t, "min.cleanable.dirty.ratio", "nan",
                                      err, sizeof err), -EINVAL);
    /* Broker-only names are not topic configs (INVALID_CONFIG). */
    assert_int_equal(topic_config_set(&t, "log.retention.ms", "1", err,
                                      sizeof err), -ENOENT);
    assert_string_equal(err, "unknown config key log.retention.ms");
    assert_int_equal(topic_config_set(&t, "retention.ms", "1", NULL, 0), 0);
    t.retention_ms = before.retention_ms;
    t.set_mask = before.set_mask;
    assert_memory_equal(&t, &before, sizeof t);
    tset(&t, "retention.ms", "-1");
    assert_int_equal(t.retention_ms, -1);
}

static void test_serialize_round_trip(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    struct topic_config t, u;
    char text[1024], err[256];
    topic_config_from_broker(b, &t);

    assert_int_equal(topic_config_serialize(&t, text, sizeof text), 0);
    assert_string_equal(text, "");

    tset(&t, "cleanup.policy", "compact");
    tset(&t, "retention.ms", "86400000");
    tset(&t, "segment.bytes", "1048576");
    tset(&t, "compression.type", "lz4");
    tset(&t, "flush.ms", "50");
    tset(&t, "min.cleanable.dirty.ratio", "0.1");
    tset(&t, "preallocate", "true");
    int n = topic_config_serialize(&t, text, sizeof text);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(text));
    assert_string_equal(text, "cleanup.policy=compact\n"
                              "compression.type=lz4\n"
                              "retention.ms=86400000\n"
                              "segment.bytes=1048576\n"
                              "flush.ms=50\n"
                              "min.cleanable.dirty.ratio=0.1\n"
                              "preallocate=true\n");

    topic_config_from_broker(b, &u);
    assert_int_equal(topic_config_deserialize(&u, text, (size_t)n, err,
                                              sizeof err), 0);
    assert_memory_equal(&t, &u, sizeof t);

    /* Too small a buffer; malformed and unknown lines leave u alone. */
    assert_int_equal(topic_config_serialize(&t, text, 30), -ENOSPC);
    struct topic_config v = u;
    const char *bad = "retention.ms=5\nnonsense\n";
    assert_int_equal(topic_config_deserialize(&u, bad, strlen(bad), err,
                                              sizeof err), -EINVAL);
    assert_string_equal(err, "topic config line 2: expected key=value");
    bad = "retention.ms=5\n\nfoo.bar=1";
    assert_int_equal(topic_config_deserialize(&u, bad, strlen(bad), err,
                                              sizeof err), -ENOENT);
    assert_memory_equal(&u, &v, sizeof u);
}

static void test_topic_to_log(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    struct topic_config t;
    struct log_config lc;
    topic_config_from_broker(b, &t);
    tset(&t, "segment.bytes", "65536");
    tset(&t, "segment.ms", "60000");
    tset(&t, "retention.ms", "120000");
    tset(&t, "retention.bytes", "1000000");
    tset(&t, "index.interval.bytes", "128");
    tset(&t, "max.message.bytes", "4096");
    tset(&t, "message.timestamp.type", "LogAppendTime");
    topic_config_to_log(&t, &lc);
    assert_int_equal(lc.segment_bytes, 65536);
    assert_int_equal(lc.segment_ms, 60000);
    assert_int_equal(lc.retention_ms, 120000);
    assert_int_equal(lc.retention_bytes, 1000000);
    assert_int_equal(lc.index_interval_bytes, 128);
    assert_int_equal(lc.max_message_bytes, 4096);
    assert_true(lc.log_append_time);
    assert_int_equal(lc.flush, FLUSH_ALWAYS);
    assert_int_equal(lc.max_pending, 1024);     /* from log_config_defaults */

    /* flush.ms set on the topic selects interval flushing... */
    tset(&t, "flush.ms", "10");
    topic_config_to_log(&t, &lc);
    assert_int_equal(lc.flush, FLUSH_INTERVAL);
    assert_int_equal(lc.flush_ms, 10);
    assert_int_equal(lc.flush_messages, INT64_MAX);
    struct config_desc d;
    assert_string_equal(tdesc(&t, "sluice.flush.policy", &d), "interval");
    /* ...unless the topic names its policy... */
    tset(&t, "sluice.flush.policy", "os");
    topic_config_to_log(&t, &lc);
    assert_int_equal(lc.flush, FLUSH_OS);
    /* ...and unsetting both goes back to the broker's. */
    assert_int_equal(topic_config_unset(&t, "sluice.flush.policy", b), 0);
    assert_int_equal(t.flush_policy, FLUSH_INTERVAL);
    assert_int_equal(topic_config_unset(&t, "flush.ms", b), 0);
    topic_config_to_log(&t, &lc);
    assert_int_equal(lc.flush, FLUSH_ALWAYS);

    /* A broker with log.flush.interval.messages hands interval down. */
    bset(b, "log.flush.interval.messages", "500");
    topic_config_from_broker(b, &t);
    topic_config_to_log(&t, &lc);
    assert_int_equal(lc.flush, FLUSH_INTERVAL);
    assert_int_equal(lc.flush_messages, 500);
    assert_string_equal(tdesc(&t, "sluice.flush.policy", &d), "interval");
    assert_int_equal(d.source, CONFIG_SOURCE_STATIC_BROKER);
    tset(&t, "sluice.flush.policy", "always");
    topic_config_to_log(&t, &lc);
    assert_int_equal(lc.flush, FLUSH_ALWAYS);
}

/* The DPDK receive path's settings: defaults off, addresses and rules
 * checked when set, parsed for the receive path. */
static void test_dpdk_and_capture(void **state)
{
    (void)state;
    struct broker_config *b = new_broker();
    char err[256];
    assert_false(b->dpdk_enable);
    assert_int_equal(b->dpdk_udp_port, 9092);
    bset(b, "sluice.dpdk.ip", "10.7.0.2/24");
    uint32_t a;
    int prefix;
    assert_int_equal(config_parse_ipv4_cidr(b->dpdk_ip, &a, &prefix), 0);
    assert_int_equal(a, 0x0a070002);
    assert_int_equal(prefix, 24);
    assert_int_equal(broker_config_set(b, "sluice.dpdk.ip", "10.7.0.300", err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "A.B.C.D/N"));
    assert_string_equal(b->dpdk_ip, "10.7.0.2/24");

    struct topic_config t;
    struct capture_config c;
    topic_config_from_broker(b, &t);
    topic_config_to_capture(&t, &c);
    assert_int_equal(c.port, 0);
    assert_int_equal(c.seq, CAPTURE_SEQ_NONE);
    tset(&t, "sluice.capture.port", "30001");
    tset(&t, "sluice.capture.group", "239.1.2.3");
    tset(&t, "sluice.capture.sequence", "moldudp64");
    tset(&t, "sluice.capture.retransmit", "10.7.0.9:30002");
    tset(&t, "sluice.capture.hold.ms", "20");
    topic_config_to_capture(&t, &c);
    assert_int_equal(c.port, 30001);
    assert_int_equal(c.group, 0xef010203);
    assert_int_equal(c.seq, CAPTURE_SEQ_MOLDUDP64);
    assert_int_equal(c.retransmit_ip, 0x0a070009);
    assert_int_equal(c.retransmit_port, 30002);
    assert_int_equal(c.hold_ms, 20);
    tset(&t, "sluice.capture.sequence", "4:8:le");
    topic_config_to_capture(&t, &c);
    assert_int_equal(c.seq, CAPTURE_SEQ_FIELD);
    assert_int_equal(c.seq_offset, 4);
    assert_int_equal(c.seq_width, 8);
    assert_true(c.seq_little_endian);
    static const char *const bad[][2] = {
        { "sluice.capture.group", "10.0.0.1" },      /* not multicast */
        { "sluice.capture.sequence", "4:3:be" },     /* width 3 */
        { "sluice.capture.sequence", "4:4" },
        { "sluice.capture.sequence", "mold" },
        { "sluice.capture.retransmit", "10.0.0.1" }, /* no port */
        { "sluice.capture.retransmit", "10.0.0.1:0" },
        { "sluice.capture.port", "70000" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(topic_config_set(&t, bad[i][0], bad[i][1], err, sizeof err), -EINVAL);
    /* Set on the topic: persisted and read back like every setting. */
    char text[4096];
    assert_true(topic_config_serialize(&t, text, sizeof text) > 0);
    struct topic_config u;
    topic_config_from_broker(b, &u);
    assert_int_equal(topic_config_deserialize(&u, text, strlen(text), err, sizeof err), 0);
    assert_string_equal(u.capture_sequence, "4:8:le");
    assert_string_equal(u.capture_group, "239.1.2.3");
}

static void test_properties_syntax(void **state)
{
    (void)state;
    char path[64];
    struct reports r = {0};
    struct broker_config *b = new_broker();
    /* Escaped separators belong to the key; a value may hold '=' and ':';
     * \r\n and a final line without newline are fine. */
    write_temp(path, sizeof path,
               "log\\.dir\\=x = 1\r\n"
               "log.dir=/a=b:c\r\n"
               "advertised.listeners=\tPLAINTEXT://h:1   \n"
               "num.partitions\\\n"
               "   =\\\n"
               "   7");
    assert_int_equal(broker_config_load_file(b, path, collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.msg[0], ":1: unknown config key log.dir=x"));
    assert_string_equal(b->log_dir, "/a=b:c");
    assert_string_equal(b->advertised_listeners, "PLAINTEXT://h:1");
    assert_int_equal(b->num_partitions, 7);
    unlink(path);

    r.n = 0;
    write_temp(path, sizeof path, "log.dir=\\u00zz\n");
    assert_int_equal(broker_config_load_file(b, path, collect, &r), -EINVAL);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.msg[0], ":1: malformed"));
    unlink(path);

    /* A line longer than the reader's buffer is an error, not truncated. */
    static char longline[10000];
    memset(longline, 'x', sizeof longline - 2);
    memcpy(longline, "log.dir=/", 9);
    longline[sizeof longline - 2] = '\n';
    r.n = 0;
    write_temp(path, sizeof path, longline);
    assert_int_equal(broker_config_load_file(b, path, collect, &r), -E2BIG);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.msg[0], ":1: line too long"));
    unlink(path);
}


/* The security settings: listeners' protocols, advertised entries per
 * listener name, TLS and SASL lists, passwords described as null. */
static void test_security_settings(void **state)
{
    (void)state;
    static struct broker_config c;
    char err[256], buf[CONFIG_VALUE_MAX];
    struct config_desc d;
    struct config_listener l;
    bool own;
    broker_config_defaults(&c);
    assert_int_equal(config_listener_protocol(c.security_protocol_map, "SASL_SSL"),
                     PROTOCOL_SASL_SSL);
    assert_int_equal(config_listener_protocol(c.security_protocol_map, "CLIENT"), -ENOENT);
    assert_int_equal(broker_config_set(&c, "listener.security.protocol.map",
                                       "CLIENT:TLS", err, sizeof err), -EINVAL);
    bset(&c, "listener.security.protocol.map", "CLIENT:SASL_SSL, INTERNAL:PLAINTEXT");
    assert_int_equal(config_listener_protocol(c.security_protocol_map, "CLIENT"),
                     PROTOCOL_SASL_SSL);
    assert_int_equal(broker_config_set(&c, "ssl.enabled.protocols", "TLSv1.1", err,
                                       sizeof err), -EINVAL);
    assert_int_equal(broker_config_set(&c, "sasl.enabled.mechanisms", "GSSAPI", err,
                                       sizeof err), -EINVAL);
    bset(&c, "ssl.client.auth", "required");
    assert_int_equal(c.ssl_client_auth, CLIENT_AUTH_REQUIRED);
    bset(&c, "ssl.key.password", "hunter2");
    int i = broker_config_find("ssl.key.password");
    assert_int_equal(broker_config_describe(&c, i, &d, buf, sizeof buf), 0);
    assert_true(d.sensitive);
    assert_null(d.value);

    /* advertised.listeners: entries by listener name, per shard or +i */
    bset(&c, "listeners", "INTERNAL://:9092,CLIENT://:9192");
    bset(&c, "advertised.listeners", "CLIENT://a.example:9300,CLIENT://b.example:9400");
    assert_int_equal(config_advertised_entry(&c, "CLIENT", 2, 1, &l, &own), 0);
    assert_true(own);
    assert_string_equal(l.host, "b.example");
    assert_int_equal(config_advertised_entry(&c, "CLIENT", 3, 2, &l, &own), 0);
    assert_false(own);
    assert_int_equal(l.port, 9300);
    /* INTERNAL is the first listener: not advertised by name, every entry is its */
    assert_int_equal(config_advertised_entry(&c, "INTERNAL", 2, 0, &l, &own), 0);
    assert_string_equal(l.host, "a.example");
    bset(&c, "advertised.listeners", "INTERNAL://i.example:9092");
    assert_int_equal(config_advertised_entry(&c, "CLIENT", 2, 0, &l, &own), 0);
    assert_int_equal(l.port, 9192); /* not advertised: its listen address */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_kafka),
        cmocka_unit_test(test_cluster_settings),
        cmocka_unit_test(test_load_sample_properties),
        cmocka_unit_test(test_unknown_key_reported),
        cmocka_unit_test(test_bad_values_rejected),
        cmocka_unit_test(test_retention_precedence),
        cmocka_unit_test(test_broker_flush_policy_rule),
        cmocka_unit_test(test_topic_inherits_broker),
        cmocka_unit_test(test_topic_set_unset),
        cmocka_unit_test(test_topic_invalid_values),
        cmocka_unit_test(test_serialize_round_trip),
        cmocka_unit_test(test_topic_to_log),
        cmocka_unit_test(test_dpdk_and_capture),
        cmocka_unit_test(test_properties_syntax),
        cmocka_unit_test(test_security_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
