/* broker_dyn.c - dynamic broker configs (broker_dyn.h): changing the two
 * layers the metadata log carries, and the effective configuration built
 * from them.
 *
 * Invariants:
 *   1. An alteration is answered only after the metadata log committed
 *      the new layer (md_store_commit); a failure to commit changes
 *      nothing and is answered KAFKA_STORAGE_ERROR.
 *   2. The effective configuration is always rebuilt from the static one
 *      plus both layers (never patched), so deleting a dynamic key brings
 *      back exactly the static or built-in value.
 *   3. Only dynamic keys are ever put in a layer; a layer read from the
 *      log with anything else is reported, never silently used.
 *
 * Never: touches a file (the log is md_log.c's), a ring or a socket. */
#include "control/broker_dyn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kerr.h"

#define KERR_INVALID_CONFIG_ 40
#define KERR_INVALID_REQUEST_ 42

/* Kafka's dynamic cluster-wide configs that sluice has (DynamicLogConfig's
 * log.* keys, message.max.bytes and friends), and two more defaults the
 * issue asked for: num.partitions and sluice.flush.policy. */
static const char *const dynamic_keys[] = {
    "log.segment.bytes", "log.roll.ms", "log.roll.hours",
    "log.retention.ms", "log.retention.minutes", "log.retention.hours",
    "log.retention.bytes", "log.index.interval.bytes",
    "log.index.size.max.bytes", "log.flush.interval.messages",
    "log.flush.interval.ms", "log.message.timestamp.type",
    "compression.type", "message.max.bytes", "log.preallocate",
    "min.insync.replicas", "unclean.leader.election.enable",
    "log.cleanup.policy", "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio", "num.partitions",
    "sluice.flush.policy", NULL};

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void broker_dyn_init(struct broker_dyn *d, const struct broker_config *static_cfg)
{
    d->static_cfg = *static_cfg;
}

bool broker_dyn_is_dynamic(const char *key)
{
    for (int i = 0; key && dynamic_keys[i]; i++)
        if (strcmp(dynamic_keys[i], key) == 0)
            return true;
    return false;
}

/* --- layers ----------------------------------------------------------------- */

static void layer_free(struct md_dyn_entry *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

static int layer_find(const struct md_dyn_entry *v, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return i;
    return -1;
}

/* Sets (value != NULL) or removes key in *v; 0 or -ENOMEM. */
static int layer_put(struct md_dyn_entry **v, int *n, const char *key,
                     const char *value)
{
    int i = layer_find(*v, *n, key);
    char *copy = NULL;

    if (!value) {
        if (i >= 0) {
            free((*v)[i].key);
            free((*v)[i].value);
            (*v)[i] = (*v)[--*n];
        }
        return 0;
    }
    if (!(copy = strdup(value)))
        return -ENOMEM;
    if (i >= 0) {
        free((*v)[i].value);
        (*v)[i].value = copy;
        return 0;
    }
    struct md_dyn_entry *nv = realloc(*v, sizeof(**v) * (size_t)(*n + 1));
    if (!nv || !(nv[*n].key = strdup(key))) {
        if (nv)
            *v = nv;
        free(copy);
        return -ENOMEM;
    }
    *v = nv;
    nv[*n].value = copy;
    ++*n;
    return 0;
}

/* eff = static + default layer + broker layer. */
static int effective(const struct broker_config *static_cfg,
                     struct md_dyn_entry *const layer[MD_DYN_SCOPES],
                     const int n[MD_DYN_SCOPES], struct broker_config *eff,
                     char *why, size_t len)
{
    struct broker_config c = *static_cfg;
    char err[256];
    int rc = 0;

    for (int s = 0; s < MD_DYN_SCOPES; s++)
        for (int i = 0; i < n[s]; i++) {
            const struct md_dyn_entry *e = &layer[s][i];
            if (!broker_dyn_is_dynamic(e->key)) {
                seterr(why, len, "%s is not a dynamic broker config", e->key);
                rc = -EINVAL;
            } else if (broker_config_set(&c, e->key, e->value, err, sizeof err) < 0) {
                seterr(why, len, "%s", err);
                rc = -EINVAL;
            }
        }
    *eff = c;
    return rc;
}

int broker_dyn_apply(const struct broker_dyn *d, const struct md_store *s,
                     struct broker_config *eff, char *why, size_t len)
{
    return effective(&d->static_cfg, s->dyn, s->ndyn, eff, why, len);
}

/* --- altering ------------------------------------------------------------------ */

static int check_entry(const struct ctl_config_entry *e, bool incremental,
                       char *why, size_t len)
{
    if (!e->name) {
        seterr(why, len, "config name missing");
        return KERR_INVALID_REQUEST_;
    }
    if (incremental && e->op != 0 && e->op != 1) {
        seterr(why, len, "%s: APPEND and SUBTRACT are not supported on "
               "broker configs; use SET", e->name);
        return KERR_INVALID_REQUEST_;
    }
    if (broker_config_find(e->name) < 0) {
        seterr(why, len, "Unknown broker config %s", e->name);
        return KERR_INVALID_CONFIG_;
    }
    if (!broker_dyn_is_dynamic(e->name)) {
        seterr(why, len, "Cannot update these configs dynamically: %s",
               e->name);
        return KERR_INVALID_CONFIG_;
    }
    if ((!incremental || e->op == 0) && !e->value) {
        seterr(why, len, "Null value not supported for broker config '%s'.",
               e->name);
        return KERR_INVALID_CONFIG_;
    }
    return 0;
}

static int check_entries(const struct ctl_config_entry *e, int n,
                         bool incremental, char *why, size_t len)
{
    int code = 0;

    for (int k = 0; k < n && !code; k++) {
        code = check_entry(&e[k], incremental, why, len);
        for (int j = 0; j < k && !code; j++)
            if (strcmp(e[j].name, e[k].name) == 0) {
                seterr(why, len, "Duplicate config key %s in the request",
                       e[k].name);
                code = KERR_INVALID_REQUEST_;
            }
    }
    return code;
}

int broker_dyn_alter(const struct broker_dyn *d, struct md_store *s, int scope,
                     const struct ctl_config_entry *e, int n, bool incremental,
                     bool validate_only, struct broker_config *eff,
                     char *why, size_t len)
{
    struct md_dyn_entry *nl = NULL, *layers[MD_DYN_SCOPES];
    int nn = 0, counts[MD_DYN_SCOPES], code;
    struct broker_config c;

    if ((code = check_entries(e, n, incremental, why, len)))
        return code;
    /* the scope's new layer */
    for (int i = 0; incremental && i < s->ndyn[scope]; i++)
        if (layer_put(&nl, &nn, s->dyn[scope][i].key, s->dyn[scope][i].value) < 0)
            goto nomem;
    for (int k = 0; k < n; k++)
        if (layer_put(&nl, &nn, e[k].name,
                      incremental && e[k].op == 1 ? NULL : e[k].value) < 0)
            goto nomem;
    for (int k = 0; k < MD_DYN_SCOPES; k++) {
        layers[k] = k == scope ? nl : s->dyn[k];
        counts[k] = k == scope ? nn : s->ndyn[k];
    }
    if (effective(&d->static_cfg, layers, counts, &c, why, len) < 0) {
        layer_free(nl, nn);
        return KERR_INVALID_CONFIG_;
    }
    if (validate_only) {
        layer_free(nl, nn);
        return 0;
    }
    struct md_dyn_entry *old = s->dyn[scope];
    int nold = s->ndyn[scope];
    s->dyn[scope] = nl;
    s->ndyn[scope] = nn;
    s->dyn_dirty = true;
    if (md_store_commit(s, why, len) < 0) {
        s->dyn[scope] = old;
        s->ndyn[scope] = nold;
        s->dyn_dirty = false;
        layer_free(nl, nn);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    layer_free(old, nold);
    *eff = c;
    return 0;
nomem:
    layer_free(nl, nn);
    seterr(why, len, "out of memory");
    return KERR_UNKNOWN_SERVER_ERROR;
}

const char *broker_dyn_value(const struct md_store *s, int scope, const char *key)
{
    int i = layer_find(s->dyn[scope], s->ndyn[scope], key);
    return i >= 0 ? s->dyn[scope][i].value : NULL;
}

int broker_dyn_source(const struct broker_dyn *d, const struct md_store *s,
                      const char *key)
{
    if (broker_dyn_value(s, DYN_BROKER, key))
        return CONFIG_SOURCE_DYNAMIC_BROKER;
    if (broker_dyn_value(s, DYN_DEFAULT, key))
        return CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER;
    if (broker_config_is_set(&d->static_cfg, key))
        return CONFIG_SOURCE_STATIC_BROKER;
    return CONFIG_SOURCE_DEFAULT;
}
