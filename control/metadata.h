/* metadata.h - the cluster as clients see it: brokers (one per shard),
 * topics, partitions and where each is placed.
 *
 * The control thread owns the live metadata and persists it. Shards read an
 * immutable snapshot (struct md_snapshot) that the control thread hands
 * them through their ring (CTL_METADATA_UPDATE); a shard drops its old
 * snapshot when it acknowledges the message, and the control thread frees
 * a snapshot once every shard has moved past it. A snapshot never changes
 * after it is published, so shards read it without any lock. */
#ifndef SLUICE_METADATA_H
#define SLUICE_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"

struct acl_snapshot;

#define MD_TOPIC_NAME_MAX 249  /* Kafka's limit */
#define MD_HOST_MAX 256

/* Broker ids: every shard of every node is a Kafka broker of its own,
 * with id node.id * MD_NODE_SHARDS + shard index, so node 0's brokers are
 * its shard indexes (the single-node broker's ids) and node 3's shard 1 is
 * broker 3001. A node has at most MD_NODE_SHARDS shards. */
#define MD_NODE_SHARDS 1000

static inline int32_t md_broker_id(int32_t node, int32_t shard)
{
    return node * MD_NODE_SHARDS + shard;
}

static inline int32_t md_broker_node(int32_t broker)
{
    return broker / MD_NODE_SHARDS;
}

static inline int32_t md_broker_shard(int32_t broker)
{
    return broker % MD_NODE_SHARDS;
}

struct md_broker {
    int32_t node_id;           /* md_broker_id(node.id, shard) */
    char host[MD_HOST_MAX];    /* advertised host */
    int32_t port;
    char rack[CONFIG_RACK_MAX]; /* broker.rack; "" none */
};

/* Replicas of a partition: at most this many, each on a node of its own. */
#define MD_REPLICAS_MAX 8

/* A partition as the controller decided it (KRaft's PartitionRecord and
 * PartitionChangeRecord): its replicas (brokers; the first is the
 * preferred leader), the in-sync ones, the leader and its epoch. A change
 * of leader bumps leader_epoch; any change bumps partition_epoch. */
struct md_partition {
    int32_t index;
    int32_t leader;            /* broker id: md_broker_id(node, shard); -1 none */
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t nreplicas;
    int32_t nisr;
    int32_t replicas[MD_REPLICAS_MAX];
    int32_t isr[MD_REPLICAS_MAX];
    /* A reassignment in progress (AlterPartitionReassignments,
     * control/md_reassign.c's rules 7-9): replicas is the target followed
     * by removing; adding are the target's new ones. Both empty: none. */
    int32_t nadding, nremoving;
    int32_t adding[MD_REPLICAS_MAX];
    int32_t removing[MD_REPLICAS_MAX];
    int32_t offline;           /* snapshots only: this node's replica is
                                  offline for a disk fault (part_faults.c);
                                  Metadata answers KAFKA_STORAGE_ERROR */
};

/* A partition of one replica on broker (what a single node places). */
static inline struct md_partition md_partition_single(int32_t index, int32_t broker)
{
    return (struct md_partition){.index = index, .leader = broker, .nreplicas = 1,
                                 .nisr = 1, .replicas = {broker}, .isr = {broker}};
}

static inline bool md_ids_have(const int32_t *ids, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* This node's replica of p (its broker id), -1 when it has none. */
static inline int32_t md_partition_on_node(const struct md_partition *p, int32_t node)
{
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (md_broker_node(p->replicas[i]) == node)
            return p->replicas[i];
    return -1;
}

struct md_topic {
    char name[MD_TOPIC_NAME_MAX + 1];
    uint8_t id[16];            /* topic UUID (Metadata v10+) */
    bool internal;
    int32_t npartitions;
    struct md_partition *partitions;
    struct topic_config config;
};

struct md_snapshot {
    uint64_t epoch;            /* grows with every change */
    char cluster_id[32];
    int32_t controller_id;
    int32_t nbrokers;
    struct md_broker *brokers;
    int32_t ntopics;
    struct md_topic *topics;   /* sorted by name */
    const struct acl_snapshot *acls; /* the authorizer's (security/acl.h) */
};

/* Binary search by name; NULL when absent. */
const struct md_topic *md_find_topic(const struct md_snapshot *md,
                                     const char *name, size_t len);

/* The broker of that id Metadata lists, NULL when none (fenced, unknown). */
static inline const struct md_broker *md_find_broker(const struct md_snapshot *md, int32_t id)
{
    for (int32_t i = 0; md && i < md->nbrokers; i++)
        if (md->brokers[i].node_id == id)
            return &md->brokers[i];
    return NULL;
}

#endif
