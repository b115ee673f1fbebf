/* broker_dyn.h - Kafka's dynamic broker configs: the cluster-wide
 * defaults (a BROKER resource named "") and the per-broker ones (a BROKER
 * resource named by a node id) that (Incremental)AlterConfigs change at run
 * time, committed to the metadata log with the topics (md_store's dyn
 * layers, a "broker-configs" block of md_file.c's text: every node of a
 * cluster has the same), and applied over the static configuration
 * (server.properties and --set).
 *
 * Precedence, as in Kafka: per broker > cluster-wide default > static >
 * the built-in default. Every shard is a broker to clients, but the shards
 * are one process with one configuration: a per-broker config set on any
 * of their node ids applies to all of them (and describing any id shows
 * it). Only the keys Kafka changes at run time are dynamic (log segment,
 * retention, flush, index and cleaner defaults, message.max.bytes,
 * compression.type, min.insync.replicas, ...; plus num.partitions and
 * sluice.flush.policy); any other key is refused with INVALID_CONFIG.
 *
 * Owned by the control thread. Never: touches a log, a ring or a socket.
 */
#ifndef SLUICE_BROKER_DYN_H
#define SLUICE_BROKER_DYN_H

#include <stdbool.h>
#include <stddef.h>

#include "control/config.h"
#include "control/ctl.h"
#include "control/md_store.h"

enum broker_dyn_scope {
    DYN_DEFAULT = 0,           /* resource name "": every broker */
    DYN_BROKER = 1,            /* a node id */
};

struct broker_dyn {
    struct broker_config static_cfg;    /* what the process started with */
};

void broker_dyn_init(struct broker_dyn *d, const struct broker_config *static_cfg);

bool broker_dyn_is_dynamic(const char *key);

/* The effective configuration: the static one with both layers of s (as
 * the metadata log has them) applied. 0, or -EINVAL with why when a value
 * of the log does not check out (eff is then the static configuration
 * plus what did). */
int broker_dyn_apply(const struct broker_dyn *d, const struct md_store *s,
                     struct broker_config *eff, char *why, size_t len);

/* Alters one scope: entries as IncrementalAlterConfigs gives them (op
 * SET or DELETE), or, when !incremental, the scope's whole new set
 * (AlterConfigs). Validates every value against the effective
 * configuration; unless validate_only, commits the new layer to the
 * metadata log (md_store_commit) and updates eff. Returns a Kafka error
 * code (0, INVALID_CONFIG, INVALID_REQUEST, KAFKA_STORAGE_ERROR) with why
 * filled on error; nothing changes then. */
int broker_dyn_alter(const struct broker_dyn *d, struct md_store *s, int scope,
                     const struct ctl_config_entry *e, int n, bool incremental,
                     bool validate_only, struct broker_config *eff,
                     char *why, size_t len);

/* The source of a broker key's effective value (enum config_source). */
int broker_dyn_source(const struct broker_dyn *d, const struct md_store *s,
                      const char *key);
/* The value a scope sets for key, or NULL. */
const char *broker_dyn_value(const struct md_store *s, int scope,
                             const char *key);

#endif
