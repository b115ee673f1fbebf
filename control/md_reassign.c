/* md_reassign.c - partition reassignment as the controller carries it out
 * (Kafka's AlterPartitionReassignments, KIP-455, as KRaft's
 * ReplicationControlManager does it): a partition gets a target replica
 * list; the new replicas catch up as followers, join the ISR, and then the
 * replica set becomes the target and the replicas left out are dropped.
 *
 * Owns: the rules below, applied to the live metadata; the caller commits
 * (md_store_commit) and, on failure, puts back what it saved. The nodes
 * that lose a replica remove their copy once they apply the change
 * (md_store_drop_changed).
 *
 * Rules:
 *   7. A target is 1 to MD_REPLICAS_MAX distinct brokers of registered
 *      nodes, one per node, and with the replicas it replaces at most
 *      MD_REPLICAS_MAX (INVALID_REPLICA_ASSIGNMENT otherwise; a move
 *      between shards of one node is refused the same way: a node holds
 *      one replica of a partition).
 *   8. Starting: the original is the replica list before any reassignment
 *      in progress (a new target replaces an old one); adding = target -
 *      original, removing = original - target, replicas = target followed
 *      by removing; the ISR and the leader stay. Once every target replica
 *      is in the ISR (at once when nothing is added, else when the leader's
 *      AlterPartition adds the last), it completes: replicas = target, ISR
 *      = ISR and target, adding and removing empty, and a leader outside
 *      the target gives way to the first target replica in the ISR on an
 *      unfenced node (a new leader epoch).
 *   9. Cancelling (null replicas) goes back to the original: ISR and
 *      original (never empty: a leader's own place stays), a leader from
 *      it when the current one is not. NO_REASSIGNMENT_IN_PROGRESS when
 *      there is none.
 *
 * Never: touches a ring, a socket or a log. */
#include "control/md_store.h"

#include <string.h>

#include "control/ctl.h"
#include "storage/kerr.h"

bool md_reassigning(const struct md_partition *p)
{
    return p->nadding > 0 || p->nremoving > 0;
}

/* The replicas before the reassignment in progress (all, when none). */
static int32_t original(const struct md_partition *p, int32_t *out)
{
    int32_t n = 0;

    for (int32_t i = 0; i < p->nreplicas; i++)
        if (!md_ids_have(p->adding, p->nadding, p->replicas[i]))
            out[n++] = p->replicas[i];
    return n;
}

/* ids minus those of others, in order. */
static int32_t minus(const int32_t *ids, int32_t n, const int32_t *others, int32_t m,
                     int32_t *out)
{
    int32_t k = 0;

    for (int32_t i = 0; i < n; i++)
        if (!md_ids_have(others, m, ids[i]))
            out[k++] = ids[i];
    return k;
}

static bool in_sync_any(const struct md_partition *p, const int32_t *ids, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        if (md_ids_have(p->isr, p->nisr, ids[i]))
            return true;
    return false;
}

/* Rule 7. */
static bool target_ok(const struct md_store *s, const int32_t *target, int32_t n,
                      const int32_t *orig, int32_t norig)
{
    int32_t extra[MD_REPLICAS_MAX];

    if (n < 1 || n > MD_REPLICAS_MAX)
        return false;
    for (int32_t i = 0; i < n; i++) {
        const struct md_node *node = target[i] >= 0 ? md_node_find(s, md_broker_node(target[i]))
                                                    : NULL;
        if (!node || md_broker_shard(target[i]) >= node->nshards)
            return false;               /* not a registered broker */
        for (int32_t j = 0; j < i; j++)
            if (md_broker_node(target[j]) == md_broker_node(target[i]))
                return false;           /* twice, or two shards of one node */
        for (int32_t j = 0; j < norig; j++)
            if (orig[j] != target[i] && md_broker_node(orig[j]) == md_broker_node(target[i]))
                return false;           /* another shard of a node that has one */
    }
    return n + minus(orig, norig, target, n, extra) <= MD_REPLICAS_MAX;
}

/* The leader of p now, given who may lead: the current one if it is
 * among them, else the first of them in the ISR on an unfenced node. */
static void lead_from(const struct md_store *s, struct md_partition *p, const int32_t *may,
                      int32_t n)
{
    int32_t leader = -1;

    if (p->leader >= 0 && md_ids_have(may, n, p->leader))
        return;
    for (int32_t i = 0; i < n && leader < 0; i++)
        if (md_ids_have(p->isr, p->nisr, may[i]) && !md_node_is_fenced(s, md_broker_node(may[i])))
            leader = may[i];
    if (leader != p->leader) {
        p->leader = leader;
        p->leader_epoch++;
    }
}

/* The replica set becomes ids (n), of which one at least is in the ISR:
 * the ISR keeps its members among them, the leader moves if it must. */
static void settle(const struct md_store *s, struct md_partition *p, const int32_t *ids,
                   int32_t n)
{
    int32_t isr[MD_REPLICAS_MAX], nisr = 0;

    for (int32_t i = 0; i < n; i++)
        if (md_ids_have(p->isr, p->nisr, ids[i]))
            isr[nisr++] = ids[i];
    lead_from(s, p, ids, n);
    memcpy(p->replicas, ids, sizeof ids[0] * (size_t)n);
    p->nreplicas = n;
    memcpy(p->isr, isr, sizeof isr[0] * (size_t)nisr);
    p->nisr = nisr;
    p->nadding = p->nremoving = 0;
    p->partition_epoch++;
}

bool md_reassign_complete(struct md_store *s, struct md_partition *p)
{
    int32_t target[MD_REPLICAS_MAX], n;

    if (!md_reassigning(p))
        return false;
    n = minus(p->replicas, p->nreplicas, p->removing, p->nremoving, target);
    for (int32_t i = 0; i < n; i++)
        if (!md_ids_have(p->isr, p->nisr, target[i]))
            return false;
    settle(s, p, target, n);
    return true;
}

int16_t md_reassign(struct md_store *s, const char *topic, int32_t k, const int32_t *target,
                    int32_t n)
{
    struct md_live *t = md_store_find(s, topic);
    int32_t orig[MD_REPLICAS_MAX], norig;

    if (!t || t->state != MD_LIVE || k < 0 || k >= t->t.npartitions)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    struct md_partition *p = &t->t.partitions[k];
    norig = original(p, orig);
    if (n < 0) {                        /* rule 9 */
        if (!md_reassigning(p))
            return KERR_NO_REASSIGNMENT_IN_PROGRESS;
        if (!in_sync_any(p, orig, norig))
            return KERR_INVALID_REPLICA_ASSIGNMENT; /* only new replicas have it all */
        settle(s, p, orig, norig);
        t->touched = true;
        return KERR_NONE;
    }
    if (!target_ok(s, target, n, orig, norig))
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    if (!md_reassigning(p) && n == norig && memcmp(target, orig, sizeof orig[0] * (size_t)n) == 0)
        return KERR_NONE;               /* already so */
    /* Rule 8. */
    int32_t reps[MD_REPLICAS_MAX] = {0}, nreps, removing[MD_REPLICAS_MAX] = {0}, nremoving;
    int32_t isr[MD_REPLICAS_MAX] = {0}, nisr = 0;
    nremoving = minus(orig, norig, target, n, removing);
    memcpy(reps, target, sizeof target[0] * (size_t)n);
    memcpy(reps + n, removing, sizeof removing[0] * (size_t)nremoving);
    nreps = n + nremoving;
    /* An ISR member the target drops stays until completion; one that is
     * no replica any more (an added one of a target replaced) leaves. */
    for (int32_t i = 0; i < p->nisr; i++)
        if (md_ids_have(reps, nreps, p->isr[i]))
            isr[nisr++] = p->isr[i];
    if (nisr == 0)
        return KERR_INVALID_REPLICA_ASSIGNMENT; /* only replicas it drops are in sync */
    p->nadding = minus(target, n, orig, norig, p->adding);
    p->nremoving = nremoving;
    memcpy(p->removing, removing, sizeof removing);
    memcpy(p->replicas, reps, sizeof reps);
    p->nreplicas = nreps;
    memcpy(p->isr, isr, sizeof isr);
    p->nisr = nisr;
    lead_from(s, p, reps, nreps);
    p->partition_epoch++;
    md_reassign_complete(s, p);         /* nothing to add: done now */
    t->touched = true;
    return KERR_NONE;
}
