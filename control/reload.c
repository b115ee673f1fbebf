/* reload.c - SIGHUP: the broker's dynamic settings re-read from its
 * properties file and applied without a restart.
 *
 * Dynamic (as in Kafka's dynamic broker configs): the log settings every
 * topic inherits unless it sets its own (retention, segment size and age,
 * flush interval, index interval, message size, timestamp type,
 * compression, cleanup policy), the control thread's own defaults
 * (num.partitions, topic creation and deletion, group session bounds,
 * offsets retention for new commits). Each topic's log settings are
 * re-derived (its own values kept) and sent to its partitions' shards
 * (CTL_PARTITION_CONFIG) when they changed. Everything else (listeners,
 * directories, shards, the HTTP listener, socket limits the shards read)
 * keeps its running value and is reported as needing a restart.
 *
 * Runs on the control thread (main() calls it between control_run turns).
 * Never: touches a shard's memory; a bad file changes nothing. */
#include "control/control_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const dynamic_keys[] = {
    "num.partitions", "auto.create.topics.enable", "delete.topic.enable",
    "log.segment.bytes", "log.roll.ms", "log.roll.hours", "log.retention.ms",
    "log.retention.minutes", "log.retention.hours", "log.retention.bytes",
    "log.retention.check.interval.ms", "log.index.interval.bytes", "log.index.size.max.bytes",
    "log.preallocate", "log.flush.interval.messages", "log.flush.interval.ms",
    "log.message.timestamp.type", "compression.type", "message.max.bytes",
    "min.insync.replicas", "log.cleanup.policy", "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio", "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms", "group.max.session.timeout.ms",
    "sluice.flush.policy", "sluice.log.level", NULL,
};

bool control_config_dynamic(const char *key)
{
    for (int i = 0; dynamic_keys[i]; i++)
        if (strcmp(dynamic_keys[i], key) == 0)
            return true;
    return false;
}

/* Setting i's value as text ("" for a null), into buf. */
static const char *value_of(const struct broker_config *c, int i, char *buf, size_t len)
{
    struct config_desc d;
    if (broker_config_describe(c, i, &d, buf, len) < 0 || !d.value)
        return "";
    return d.value;
}

/* Re-derives t's config from the broker's (its own settings kept); 1 if
 * its log settings changed. */
static int topic_rederive(struct control *c, struct md_live *t)
{
    char text[8192], err[256];
    struct topic_config tc;
    struct log_config before, after;
    if (topic_config_serialize(&t->t.config, text, sizeof(text)) < 0)
        return 0;
    topic_config_from_broker(&c->cfg, &tc);
    if (topic_config_deserialize(&tc, text, strlen(text), err, sizeof(err)) < 0) {
        control_log("reload: topic %s keeps its config: %s", t->t.name, err);
        return 0;
    }
    topic_config_to_log(&t->t.config, &before);
    topic_config_to_log(&tc, &after);
    t->t.config = tc;
    return memcmp(&before, &after, sizeof(before)) != 0;
}

int control_reload(struct control *c, const struct broker_config *fresh)
{
    char a[CONFIG_VALUE_MAX], b[CONFIG_VALUE_MAX], err[512];
    struct broker_config next = *fresh;
    int applied = 0, kept = 0, topics = 0;

    for (int i = 0; i < broker_config_count(); i++) {
        struct config_desc d;
        const char *old = value_of(&c->cfg, i, a, sizeof(a));
        const char *now = value_of(fresh, i, b, sizeof(b));
        if (strcmp(old, now) == 0 || broker_config_describe(&c->cfg, i, &d, b, sizeof(b)) < 0)
            continue;
        if (control_config_dynamic(d.name)) {
            control_log("reload: %s = %s", d.name, value_of(fresh, i, b, sizeof(b)));
            applied++;
            continue;
        }
        /* Not dynamic: the running value stays. */
        if (*old && broker_config_set(&next, d.name, old, err, sizeof(err)) < 0)
            control_log("reload: %s", err);
        control_log("reload: %s changed to '%s'; it takes effect at the next restart", d.name,
                    value_of(fresh, i, b, sizeof(b)));
        kept++;
    }
    c->cfg = next;
    for (int32_t i = 0; i < c->md.ntopics; i++) {
        struct md_live *t = c->md.topics[i];
        if (t->state == MD_LIVE && topic_rederive(c, t)) {
            admin_post_config(c, t);
            topics++;
        }
    }
    if (topics > 0 && control_publish(c) < 0)
        control_log("out of memory: shards keep the previous metadata");
    control_log("reload: %d setting(s) applied, %d need a restart, %d topic(s) reconfigured",
                applied, kept, topics);
    return applied;
}
