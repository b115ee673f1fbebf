/* admin_config.c - DescribeConfigs, AlterConfigs and
 * IncrementalAlterConfigs, on topics and on the broker.
 *
 * Owns: answering config requests from the live metadata, and carrying a
 * change out: new topic_config -> persist -> CTL_PARTITION_CONFIG to every
 * shard owning one of the topic's partitions -> publish -> answer. A
 * change that cannot be persisted is undone and answered
 * KAFKA_STORAGE_ERROR.
 *
 * Broker configs: Kafka's dynamic ones (broker_dyn.h) are altered at run
 * time, on the cluster-wide default resource ("") or on a node id (every
 * shard is a broker, all with the one configuration of this process); a
 * change rebases every topic's inherited values and reconfigures their
 * partitions. Describing a node id lists every setting with its source
 * (DYNAMIC_BROKER_CONFIG > DYNAMIC_DEFAULT_BROKER_CONFIG >
 * STATIC_BROKER_CONFIG > DEFAULT_CONFIG) and, when asked, its synonyms;
 * describing "" lists the dynamic defaults only, as Kafka does.
 *
 * Answers (descriptions, values, messages) are written into the request's
 * arena; names and docs point at config.c's static tables. */
#include "control/control_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kerr.h"

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* --- describing ------------------------------------------------------------ */

typedef int (*describe_fn)(const void *cfg, int i, struct config_desc *d,
                           char *buf, size_t len);

static int topic_fn(const void *cfg, int i, struct config_desc *d, char *buf,
                    size_t len)
{
    return topic_config_describe(cfg, i, d, buf, len);
}

static int broker_fn(const void *cfg, int i, struct config_desc *d, char *buf,
                     size_t len)
{
    return broker_config_describe(cfg, i, d, buf, len);
}

static bool wanted(const char *name, int nkeys, const char *const *keys)
{
    if (nkeys <= 0)
        return true;                /* null (or empty): every setting */
    for (int k = 0; k < nkeys; k++)
        if (keys[k] && strcmp(keys[k], name) == 0)
            return true;
    return false;
}

static int describe(struct ctl_arena *a, describe_fn fn, const void *cfg,
                    int count, int nkeys, const char *const *keys,
                    struct config_desc **out, int *nout)
{
    char buf[CONFIG_VALUE_MAX];
    struct config_desc d, *v = NULL;
    int n = 0, k = 0;

    for (int i = 0; i < count; i++)
        if (fn(cfg, i, &d, buf, sizeof buf) == 0 && wanted(d.name, nkeys, keys))
            n++;
    if (n > 0 && !(v = ctl_arena_alloc(a, sizeof(*v) * (size_t)n)))
        return -ENOSPC;
    for (int i = 0; i < count && k < n; i++) {
        if (fn(cfg, i, &d, buf, sizeof buf) < 0 || !wanted(d.name, nkeys, keys))
            continue;
        if (d.value && !(d.value = ctl_arena_strdup(a, d.value, strlen(d.value))))
            return -ENOSPC;
        v[k++] = d;
    }
    *out = v;
    *nout = k;
    return 0;
}

int admin_describe_topic(struct ctl_arena *a, const struct topic_config *tc,
                         int nkeys, const char *const *keys,
                         struct config_desc **out, int *nout)
{
    return describe(a, topic_fn, tc, topic_config_count(), nkeys, keys, out,
                    nout);
}

/* "" or the id of one of our brokers (shards), or broker.id. */
static bool broker_name_ok(const struct control *c, const char *name)
{
    char *end;
    long id;

    if (!name || !name[0])
        return true;
    id = strtol(name, &end, 10);
    return *end == '\0' && end != name && name[0] != '-' && name[0] != '+' &&
           ((id >= md_broker_id(c->md.node_id, 0) &&
             id < md_broker_id(c->md.node_id, c->nshards)) ||
            id == c->cfg.node_id);
}

static void resource_fail(struct ctl_msg *m, struct ctl_config_resource *r,
                          int16_t code, const char *why)
{
    r->error = code;
    r->error_message = admin_msg(m, "%s", why);
}

/* A named resource of an unsupported type, or a broker that is not ours:
 * refuses it and returns true. */
static bool resource_refused(struct control *c, struct ctl_msg *m,
                             struct ctl_config_resource *r)
{
    char why[300];

    if (r->type == CTL_RESOURCE_BROKER && !broker_name_ok(c, r->name)) {
        snprintf(why, sizeof why, "Unexpected broker id, expected one of "
                 "%d..%d or empty string, but received %.64s",
                 md_broker_id(c->md.node_id, 0),
                 md_broker_id(c->md.node_id, c->nshards - 1), r->name);
    } else if (r->type != CTL_RESOURCE_TOPIC &&
               r->type != CTL_RESOURCE_BROKER) {
        snprintf(why, sizeof why, "Resource type %d is not supported",
                 r->type);
    } else {
        return false;
    }
    resource_fail(m, r, KERR_INVALID_REQUEST, why);
    return true;
}

/* The topic a resource names, or NULL with the resource refused. */
static struct md_live *resource_topic(struct control *c, struct ctl_msg *m,
                                      struct ctl_config_resource *r)
{
    struct md_live *t = r->name ? md_store_find(&c->md, r->name) : NULL;
    char why[300];

    if (t && t->state == MD_LIVE)
        return t;
    snprintf(why, sizeof why, "Topic '%.249s' does not exist.",
             r->name ? r->name : "");
    resource_fail(m, r, KERR_UNKNOWN_TOPIC_OR_PARTITION, why);
    return NULL;
}

/* The read-only "sluice.cleaner.stats" entry: asked by name, or with every
 * config of a topic that has figures (librdkafka 2.0.2 never names keys). */
static int describe_cleaner_stats(struct control *c, struct ctl_msg *m,
                                  struct ctl_config_resource *r)
{
    if (!wanted(CLEANER_STATS_KEY, r->nkeys, r->keys))
        return 0;
    size_t n = cleaner_stats_format(&c->cleaner_stats, r->name, NULL, 0);
    if (n == 0 && r->nkeys <= 0)
        return 0;
    char *text = ctl_arena_alloc(&m->arena, n + 1);
    if (!text)
        return 0;   /* read-only figures too long for this answer: left out */
    struct config_desc *v = ctl_arena_alloc(&m->arena, sizeof(*v) * (size_t)(r->nresults + 1));
    if (!v)
        return -ENOSPC;
    cleaner_stats_format(&c->cleaner_stats, r->name, text, n + 1);
    if (r->nresults)
        memcpy(v, r->results, sizeof(*v) * (size_t)r->nresults);
    v[r->nresults] = (struct config_desc){
        .name = CLEANER_STATS_KEY, .value = text,
        .doc = "Compaction figures per partition (read-only).",
        .source = CONFIG_SOURCE_DEFAULT, .type = CONFIG_TYPE_STRING, .read_only = true};
    r->results = v;
    r->nresults++;
    return 0;
}

/* The read-only "sluice.partition.offline" entry: the topic's partitions
 * offline for a disk fault and why, asked by name or with every config
 * of a topic that has one. */
static int describe_part_faults(struct control *c, struct ctl_msg *m,
                                struct ctl_config_resource *r)
{
    if (!wanted(PART_FAULTS_KEY, r->nkeys, r->keys))
        return 0;
    size_t n = part_faults_format(&c->part_faults, r->name, NULL, 0);
    if (n == 0 && r->nkeys <= 0)
        return 0;
    char *text = ctl_arena_alloc(&m->arena, n + 1);
    struct config_desc *v = ctl_arena_alloc(&m->arena, sizeof(*v) * (size_t)(r->nresults + 1));
    if (!text || !v)
        return -ENOSPC;
    part_faults_format(&c->part_faults, r->name, text, n + 1);
    if (r->nresults)
        memcpy(v, r->results, sizeof(*v) * (size_t)r->nresults);
    v[r->nresults] = (struct config_desc){
        .name = PART_FAULTS_KEY, .value = text,
        .doc = "Partitions offline for a disk fault, and why (read-only; a restart that "
               "reads the log brings one back).",
        .source = CONFIG_SOURCE_DEFAULT, .type = CONFIG_TYPE_STRING, .read_only = true};
    r->results = v;
    r->nresults++;
    return 0;
}

/* The synonyms of broker key (by precedence: per broker, cluster-wide,
 * static, built-in default), as name. 0 or -ENOSPC. */
static int broker_synonyms(struct control *c, struct ctl_arena *a,
                           const char *key, const char *name,
                           struct config_synonym *v, int *n)
{
    static struct broker_config defaults;
    static bool have_defaults;
    char buf[CONFIG_VALUE_MAX];
    struct config_desc d;
    int i = broker_config_find(key);

    if (!have_defaults)
        have_defaults = broker_config_defaults(&defaults) == 0;
    for (int s = DYN_BROKER; s >= DYN_DEFAULT && i >= 0; s--) {
        const char *val = broker_dyn_value(&c->md, s, key);
        if (val)
            v[(*n)++] = (struct config_synonym){
                .name = name, .value = val,
                .source = s == DYN_BROKER ? CONFIG_SOURCE_DYNAMIC_BROKER
                                          : CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER};
    }
    for (int k = 0; k < 2 && i >= 0; k++) {
        const struct broker_config *from = k == 0 ? &c->dyn.static_cfg : &defaults;
        if ((k == 0 && !broker_config_is_set(from, key)) ||
            broker_config_describe(from, i, &d, buf, sizeof buf) < 0 || !d.value)
            continue;
        if (!(d.value = ctl_arena_strdup(a, d.value, strlen(d.value))))
            return -ENOSPC;
        v[(*n)++] = (struct config_synonym){
            .name = name, .value = d.value,
            .source = k == 0 ? CONFIG_SOURCE_STATIC_BROKER : CONFIG_SOURCE_DEFAULT};
    }
    return 0;
}

#define SYN_MAX 16

/* Copies v[0..n) into the arena as d's synonyms. 0 or -ENOSPC. */
static int synonyms_keep(struct ctl_arena *a, struct config_desc *d,
                         const struct config_synonym *v, int n)
{
    struct config_synonym *out = NULL;

    if (n && !(out = ctl_arena_alloc(a, sizeof(*out) * (size_t)n)))
        return -ENOSPC;
    if (n)
        memcpy(out, v, sizeof(*out) * (size_t)n);
    d->synonyms = out;
    d->nsynonyms = n;
    return 0;
}

/* A broker setting's source, flags and synonyms from the dynamic layers. */
static int broker_desc_fix(struct control *c, struct ctl_arena *a,
                           struct config_desc *d, bool synonyms)
{
    d->source = broker_dyn_source(&c->dyn, &c->md, d->name);
    d->is_default = d->source == CONFIG_SOURCE_DEFAULT;
    d->read_only = !broker_dyn_is_dynamic(d->name);
    if (!synonyms)
        return 0;
    struct config_synonym v[SYN_MAX];
    int n = 0;
    if (broker_synonyms(c, a, d->name, d->name, v, &n) < 0)
        return -ENOSPC;
    return synonyms_keep(a, d, v, n);
}

/* A topic setting inheriting a dynamic broker value has that source; its
 * synonyms are the topic's own value and the inherited key's chain. */
static int topic_desc_fix(struct control *c, struct ctl_arena *a,
                          struct config_desc *d, bool synonyms)
{
    const char *const *syn = topic_config_synonyms(topic_config_find(d->name));
    struct config_synonym v[SYN_MAX];
    int n = 0;

    if (d->source != CONFIG_SOURCE_DYNAMIC_TOPIC) {
        int best = CONFIG_SOURCE_DEFAULT;      /* lower: more specific */
        for (int k = 0; syn && k < 3 && syn[k]; k++) {
            int s = broker_dyn_source(&c->dyn, &c->md, syn[k]);
            best = s < best ? s : best;
        }
        d->source = best;
    }
    d->is_default = d->source == CONFIG_SOURCE_DEFAULT;
    if (!synonyms)
        return 0;
    if (d->source == CONFIG_SOURCE_DYNAMIC_TOPIC)
        v[n++] = (struct config_synonym){d->name, d->value, d->source};
    for (int k = 0; syn && k < 3 && syn[k] && n < SYN_MAX - 4; k++)
        if (broker_synonyms(c, a, syn[k], syn[k], v, &n) < 0)
            return -ENOSPC;
    return synonyms_keep(a, d, v, n);
}

static int describe_broker(struct control *c, struct ctl_msg *m,
                           struct ctl_config_resource *r)
{
    int rc = describe(&m->arena, broker_fn, &c->cfg, broker_config_count(),
                      r->nkeys, r->keys, &r->results, &r->nresults);
    bool defaults_only = !r->name || !r->name[0];
    int k = 0;

    for (int i = 0; rc == 0 && i < r->nresults; i++) {
        struct config_desc *d = &r->results[i];
        if (defaults_only) {
            const char *v = broker_dyn_value(&c->md, DYN_DEFAULT, d->name);
            if (!v)
                continue;
            d->value = v;
            d->source = CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER;
            d->is_default = false;
            d->read_only = false;
            r->results[k++] = *d;
            continue;
        }
        rc = broker_desc_fix(c, &m->arena, d, m->u.configs.synonyms);
        k++;
    }
    r->nresults = k;
    return rc;
}

void admin_describe_configs(struct control *c, struct ctl_msg *m)
{
    struct ctl_configs *cc = &m->u.configs;

    for (int i = 0; i < cc->nresources; i++) {
        struct ctl_config_resource *r = &cc->resources[i];
        const char *const *keys = r->keys;
        struct md_live *t;
        int rc;
        if (r->error || resource_refused(c, m, r))
            continue;
        if (r->type == CTL_RESOURCE_BROKER) {
            rc = describe_broker(c, m, r);
        } else if ((t = resource_topic(c, m, r))) {
            rc = admin_describe_topic(&m->arena, &t->t.config, r->nkeys, keys,
                                      &r->results, &r->nresults);
            for (int k = 0; rc == 0 && k < r->nresults; k++)
                rc = topic_desc_fix(c, &m->arena, &r->results[k], cc->synonyms);
            if (rc == 0)
                rc = describe_cleaner_stats(c, m, r);
            if (rc == 0)
                rc = describe_part_faults(c, m, r);
        } else {
            continue;
        }
        if (rc < 0) {
            r->error = KERR_UNKNOWN_SERVER_ERROR;
            r->error_message = "the answer does not fit: ask for fewer "
                               "resources or keys";
            r->results = NULL;
            r->nresults = 0;
        }
    }
    control_post(c, m->shard, m);
}

/* --- altering --------------------------------------------------------------- */

/* Whether item (n bytes) is one of the comma-separated entries of list. */
static bool list_has(const char *list, const char *item, size_t n)
{
    while (*list) {
        size_t len = strcspn(list, ",");
        const char *e = list;
        size_t k = len;
        while (k > 0 && *e == ' ') {
            e++;
            k--;
        }
        while (k > 0 && e[k - 1] == ' ')
            k--;
        if (k == n && memcmp(e, item, n) == 0)
            return true;
        list += len + (list[len] == ',');
    }
    return false;
}

/* Appends to out (comma-separated) each trimmed, non-empty entry of from
 * whose presence in other is in_other, unless out has it already. */
static int list_merge(char *out, size_t cap, const char *from,
                      const char *other, bool in_other)
{
    size_t o = strlen(out);

    while (*from) {
        size_t len = strcspn(from, ","), k = len;
        const char *e = from;
        while (k > 0 && *e == ' ') {
            e++;
            k--;
        }
        while (k > 0 && e[k - 1] == ' ')
            k--;
        from += len + (from[len] == ',');
        if (k == 0 || list_has(other, e, k) != in_other || list_has(out, e, k))
            continue;
        if (o + k + 2 > cap)
            return -ENOSPC;
        if (o > 0)
            out[o++] = ',';
        memcpy(out + o, e, k);
        o += k;
        out[o] = '\0';
    }
    return 0;
}

/* APPEND or SUBTRACT on a list-type setting of tc. */
static int list_op(struct topic_config *tc, const struct ctl_config_entry *e,
                   char *why, size_t len)
{
    char cur[CONFIG_VALUE_MAX], out[CONFIG_VALUE_MAX] = "";
    int i = topic_config_find(e->name);
    struct config_desc d;

    if (i < 0) {
        snprintf(why, len, "unknown config key %s", e->name);
        return -ENOENT;
    }
    if (topic_config_describe(tc, i, &d, cur, sizeof cur) < 0 ||
        d.type != CONFIG_TYPE_LIST) {
        snprintf(why, len, "Config value %s is not allowed for config key: "
                 "%s", e->op == OP_APPEND ? "append" : "subtract", e->name);
        return -EINVAL;
    }
    if (e->op == OP_APPEND) {
        if (list_merge(out, sizeof out, cur, "", false) < 0 ||
            list_merge(out, sizeof out, e->value, "", false) < 0)
            goto big;
    } else if (list_merge(out, sizeof out, cur, e->value, false) < 0) {
        goto big;
    }
    return topic_config_set(tc, e->name, out, why, len);
big:
    snprintf(why, len, "value of %s too long", e->name);
    return -EINVAL;
}

/* Applies r's entries onto tc: over the topic's configs (incremental) or
 * over the broker's defaults (AlterConfigs replaces them all). */
static int alter_one(struct control *c, struct ctl_msg *m,
                     struct ctl_config_resource *r, const struct md_live *t,
                     bool incremental, struct topic_config *tc)
{
    char why[512];
    int16_t code = KERR_INVALID_CONFIG;

    if (incremental)
        *tc = t->t.config;
    else
        topic_config_from_broker(&c->cfg, tc);
    for (int k = 0; k < r->nconfigs; k++) {
        const struct ctl_config_entry *e = &r->configs[k];
        int op = incremental ? e->op : OP_SET, rc = 0;
        bool dup = false;
        for (int j = 0; j < k && e->name; j++)
            dup |= r->configs[j].name && strcmp(r->configs[j].name, e->name) == 0;
        if (!e->name || dup || op < OP_SET || op > OP_SUBTRACT) {
            if (!e->name)
                snprintf(why, sizeof why, "config name missing");
            else if (dup)
                snprintf(why, sizeof why, "Duplicate config key %s in the "
                         "request", e->name);
            else
                snprintf(why, sizeof why, "Unknown config operation %d", op);
            code = KERR_INVALID_REQUEST;
            rc = -EINVAL;
        } else if (op != OP_DELETE && !e->value) {
            snprintf(why, sizeof why, "Null value not supported for topic "
                     "config '%s'.", e->name);
            rc = -EINVAL;
        } else if (op == OP_SET) {
            rc = topic_config_set(tc, e->name, e->value, why, sizeof why);
        } else if (op == OP_DELETE) {
            rc = topic_config_unset(tc, e->name, &c->cfg);
            if (rc < 0)
                snprintf(why, sizeof why, "unknown config key %s", e->name);
        } else {
            rc = list_op(tc, e, why, sizeof why);
        }
        if (rc < 0) {
            resource_fail(m, r, code, why);
            return rc;
        }
    }
    return 0;
}

/* Refuses every resource named twice (same type and name). */
static void resource_dups(struct ctl_msg *m)
{
    struct ctl_configs *cc = &m->u.configs;

    for (int i = 0; i < cc->nresources; i++)
        for (int j = 0; j < i; j++) {
            struct ctl_config_resource *a = &cc->resources[i];
            struct ctl_config_resource *b = &cc->resources[j];
            if (a->type != b->type || !a->name || !b->name ||
                strcmp(a->name, b->name) != 0)
                continue;
            if (!a->error)
                resource_fail(m, a, KERR_INVALID_REQUEST,
                              "Duplicate resource in the request");
            if (!b->error)
                resource_fail(m, b, KERR_INVALID_REQUEST,
                              "Duplicate resource in the request");
        }
}

void admin_post_config(struct control *c, const struct md_live *t)
{
    for (int32_t p = 0; p < t->nplaced; p++) {
        int shard = replication_local_shard(c, t, p);
        if (shard < 0)
            continue;           /* another node's: it applies the entry */
        struct ctl_cmd *cmd = control_cmd(c, CTL_PARTITION_CONFIG, NULL, 0,
                                          t->t.name, p);
        if (!cmd) {
            control_log("out of memory: %s-%d keeps its old config until a "
                        "restart", t->t.name, p);
            continue;
        }
        topic_config_to_log(&t->t.config, &cmd->msg.u.partition.config);
        control_post(c, shard, &cmd->msg);
    }
}

/* Persists the changed topics, or puts their old configs back. */
static void alter_commit(struct control *c, struct ctl_msg *m,
                         struct md_live **changed, struct topic_config *old)
{
    struct ctl_configs *cc = &m->u.configs;
    char why[512];
    int n = 0;

    for (int i = 0; i < cc->nresources; i++)
        n += changed[i] != NULL;
    if (n == 0)
        return;
    if (md_store_commit(&c->md, why, sizeof why) < 0) {
        control_log("%s", why);
        for (int i = 0; i < cc->nresources; i++)
            if (changed[i]) {
                changed[i]->t.config = old[i];
                resource_fail(m, &cc->resources[i], KERR_KAFKA_STORAGE_ERROR,
                              why);
            }
        return;
    }
    for (int i = 0; i < cc->nresources; i++)
        if (changed[i])
            admin_post_config(c, changed[i]);
    if (control_publish(c) < 0)
        control_log("out of memory: shards keep the previous metadata");
}

/* A dynamic broker config change; true when it took effect. */
static bool alter_broker(struct control *c, struct ctl_msg *m,
                         struct ctl_config_resource *r, bool incremental,
                         bool validate_only)
{
    char why[512];
    int scope = r->name && r->name[0] ? DYN_BROKER : DYN_DEFAULT;
    int code = broker_dyn_alter(&c->dyn, &c->md, scope, r->configs, r->nconfigs,
                                incremental, validate_only, &c->cfg, why,
                                sizeof why);

    if (code) {
        resource_fail(m, r, (int16_t)code, why);
        return false;
    }
    if (!validate_only)
        control_log("dynamic broker config%s changed (%s)",
                    r->nconfigs == 1 ? "" : "s",
                    scope == DYN_DEFAULT ? "cluster-wide" : "per broker");
    return !validate_only;
}

/* Every topic takes the broker's (new) values for what it does not set
 * itself; with post, partitions whose config changed are reconfigured and
 * a new snapshot is published. */
void admin_rebase_topics(struct control *c, bool post)
{
    static char text[CONFIG_VALUE_MAX * 4];
    char why[256];
    struct topic_config tc;
    bool any = false;

    for (int32_t i = 0; i < c->md.ntopics; i++) {
        struct md_live *t = c->md.topics[i];
        int len = topic_config_serialize(&t->t.config, text, sizeof text);
        topic_config_from_broker(&c->cfg, &tc);
        if (len < 0 || topic_config_deserialize(&tc, text, (size_t)len, why,
                                                sizeof why) < 0) {
            control_log("%s keeps its configs: %s", t->t.name,
                        len < 0 ? "too long" : why);
            continue;
        }
        struct log_config before, after;
        memset(&before, 0, sizeof before);      /* padding compares too */
        memset(&after, 0, sizeof after);
        topic_config_to_log(&t->t.config, &before);
        topic_config_to_log(&tc, &after);
        t->t.config = tc;                       /* sources may move */
        any = true;
        if (post && t->state == MD_LIVE && memcmp(&before, &after, sizeof before) != 0)
            admin_post_config(c, t);
    }
    if (post && any && control_publish(c) < 0)
        control_log("out of memory: shards keep the previous metadata");
}

/* The metadata log brought dynamic broker configs (at start, or another
 * node's change): the effective configuration follows, and the topics. */
void admin_dyn_applied(struct control *c, bool post)
{
    char why[256];

    if (broker_dyn_apply(&c->dyn, &c->md, &c->cfg, why, sizeof why) < 0)
        control_log("dynamic broker configs from the metadata log: %s "
                    "(the rest applies)", why);
    c->dyn_seen = c->md.dyn_applied;
    admin_rebase_topics(c, post);
}

void admin_alter_configs(struct control *c, struct ctl_msg *m)
{
    struct ctl_configs *cc = &m->u.configs;
    int n = cc->nresources > 0 ? cc->nresources : 0;
    struct md_live **changed = calloc((size_t)n + 1, sizeof *changed);
    struct topic_config *old = calloc((size_t)n + 1, sizeof *old), tc;
    bool rebase = false;

    resource_dups(m);
    for (int i = 0; i < n; i++) {
        struct ctl_config_resource *r = &cc->resources[i];
        struct md_live *t;
        if (r->error || resource_refused(c, m, r))
            continue;
        if (!changed || !old) {
            resource_fail(m, r, KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        } else if (r->type == CTL_RESOURCE_BROKER) {
            rebase |= alter_broker(c, m, r, cc->incremental, cc->validate_only);
        } else if ((t = resource_topic(c, m, r)) &&
                   alter_one(c, m, r, t, cc->incremental, &tc) == 0 &&
                   !cc->validate_only) {
            old[i] = t->t.config;
            t->t.config = tc;
            changed[i] = t;
        }
    }
    if (changed && old)
        alter_commit(c, m, changed, old);
    if (rebase)
        admin_rebase_topics(c, true);
    free(changed);
    free(old);
    control_post(c, m->shard, m);
}
