/* admin_assign.c - manual replica assignments of CreateTopics and
 * CreatePartitions, checked Kafka's way and turned into a placement.
 *
 * A shard is a broker to clients (broker id = md_broker_id(node.id,
 * shard)), so an assignment naming broker ids is a placement of each
 * partition on those shards: of this node, or of another registered,
 * unfenced node of the cluster. A manual assignment places one replica
 * of each partition (replicated partitions are placed by md_place.c's
 * rule): an assignment of more than one broker per partition is refused
 * with INVALID_REPLICATION_FACTOR, an id that is no shard's with
 * INVALID_REPLICA_ASSIGNMENT (Kafka's messages, from its controller's
 * ReplicationControlManager).
 *
 * Never: places anything itself (md_store_place_on does) or blocks. */
#include "control/control_private.h"

#include <string.h>

#include "storage/kerr.h"

/* Whether b is a shard of this node or of a registered, unfenced one. */
static bool broker_known(const struct control *c, int32_t b)
{
    const struct md_node *n;

    if (b < 0)
        return false;
    if (md_broker_node(b) == c->md.node_id)
        return md_broker_shard(b) < c->nshards;
    n = md_node_find(&c->md, md_broker_node(b));
    return n && !n->fenced && md_broker_shard(b) < n->nshards;
}

/* Checks one partition's brokers; the broker it goes to in *broker. */
static int16_t check_brokers(const struct control *c, struct ctl_msg *m,
                             const struct ctl_assignment *a, int want,
                             int32_t *broker, const char **msg)
{
    if (a->nbrokers <= 0) {
        *msg = admin_msg(m, "The manual partition assignment includes an "
                         "empty replica list.");
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int k = 0; k < a->nbrokers; k++) {
        for (int j = 0; j < k; j++)
            if (a->brokers[j] == a->brokers[k]) {
                *msg = admin_msg(m, "The manual partition assignment includes "
                                 "the broker %d more than once.", a->brokers[k]);
                return KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        int32_t b = a->brokers[k];
        if (!broker_known(c, b)) {
            *msg = admin_msg(m, "The manual partition assignment includes "
                             "broker %d, but no such broker is registered "
                             "(this node's are %d..%d: one per shard).", b,
                             md_broker_id(c->md.node_id, 0),
                             md_broker_id(c->md.node_id, c->nshards - 1));
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    if (want > 0 && a->nbrokers != want) {
        *msg = admin_msg(m, "The manual partition assignment includes a "
                         "partition with %d replica(s), but this is not "
                         "consistent with previous partitions, which have %d "
                         "replica(s).", a->nbrokers, want);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (a->nbrokers != 1) {
        *msg = admin_msg(m, "Replication factor %d is invalid: a manual "
                         "assignment places one replica of each partition.", a->nbrokers);
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    *broker = a->brokers[0];
    return 0;
}

int16_t admin_assign_topic(const struct control *c, struct ctl_msg *m,
                           const struct ctl_topic_spec *sp, int32_t *brokers,
                           const char **msg)
{
    int n = sp->nassignments;
    int16_t err;

    if (sp->num_partitions != -1 || sp->replication_factor != -1) {
        *msg = admin_msg(m, "A manual partition assignment was specified, but "
                         "%s was not set to -1.", sp->num_partitions != -1
                         ? "numPartitions" : "replicationFactor");
        return KERR_INVALID_REQUEST;
    }
    for (int i = 0; i < n; i++)
        brokers[i] = -1;
    for (int i = 0; i < n; i++) {
        const struct ctl_assignment *a = &sp->assignments[i];
        int32_t broker;
        if (a->partition < 0 || a->partition >= n || brokers[a->partition] >= 0) {
            *msg = admin_msg(m, "Partitions should be a consecutive 0-based "
                             "integer sequence; found partition %d among %d.",
                             a->partition, n);
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if ((err = check_brokers(c, m, a, sp->assignments[0].nbrokers, &broker, msg)))
            return err;
        brokers[a->partition] = broker;
    }
    return 0;
}

int16_t admin_assign_partitions(const struct control *c, struct ctl_msg *m,
                                const struct ctl_assignment *as, int n,
                                int32_t added, int32_t *brokers, const char **msg)
{
    int16_t err;

    if (n != added) {
        *msg = admin_msg(m, "Attempted to add %d additional partition(s), but "
                         "only %d assignment(s) were specified.", added, n);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int i = 0; i < n; i++)
        if ((err = check_brokers(c, m, &as[i], 1, &brokers[i], msg)))
            return err;
    return 0;
}
