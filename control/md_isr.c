/* md_isr.c - leaders and in-sync replicas as the controller decides them
 * (KRaft's ReplicationControlManager and PartitionChangeBuilder): leader
 * elections when nodes are fenced and come back, and the ISR changes
 * leaders ask for (AlterPartition).
 *
 * Owns: the rules below, applied to the live metadata; the caller commits
 * (md_store_commit) and, on failure, puts back what it saved.
 *
 * Rules:
 *   1. A leader comes from the ISR, in replica order (the first replica
 *      is the preferred leader), and its node is not fenced. Only with
 *      unclean.leader.election.enable may a replica outside the ISR lead;
 *      the ISR is then that replica alone.
 *   2. A fenced node's replicas leave the ISR, except that the ISR never
 *      becomes empty: the last member stays (so the partition waits for
 *      it, offline, rather than lose what only it has).
 *   3. A change of leader (to none too) bumps the leader epoch; every
 *      change bumps the partition epoch.
 *   4. An AlterPartition comes from the leader of the current leader epoch
 *      and knows the current partition epoch; it may only add replicas of
 *      unfenced nodes, and the new ISR holds the leader.
 *   5. Preferred leaders (auto.leader.rebalance.enable): a broker that does
 *      not lead more than leader.imbalance.per.broker.percentage of the
 *      partitions it is the first replica of gets back every one of them
 *      whose ISR holds it while its node is up (a clean election: the ISR
 *      has everything acknowledged).
 *   6. ElectLeaders (Kafka's electLeaders): a preferred election gives the
 *      partition to its first replica when that one is in the ISR and up
 *      (ELECTION_NOT_NEEDED when it leads, PREFERRED_LEADER_NOT_AVAILABLE
 *      otherwise); an unclean one, only for a partition whose leader is
 *      gone, takes a live ISR member, else any live replica, whatever
 *      unclean.leader.election.enable says (the operator asked for it:
 *      what only the ISR had may be lost), else
 *      ELIGIBLE_LEADERS_NOT_AVAILABLE.
 *
 * Never: touches a ring, a socket or a log. */
#include "control/md_store.h"

#include <stdlib.h>
#include <string.h>

#include "control/ctl.h"
#include "storage/kerr.h"

bool md_node_is_fenced(const struct md_store *s, int32_t node)
{
    const struct md_node *n = md_node_find(s, node);
    return n ? n->fenced : node != s->node_id && md_nodes_others(s);
}

static bool broker_alive(const struct md_store *s, int32_t broker)
{
    return broker >= 0 && !md_node_is_fenced(s, md_broker_node(broker));
}

/* Rule 1: the new leader of p, -1 when none may lead. *unclean is set
 * when it comes from outside the ISR. */
static int32_t elect(const struct md_store *s, const struct md_live *t,
                     const struct md_partition *p, bool *unclean)
{
    *unclean = false;
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (md_ids_have(p->isr, p->nisr, p->replicas[i]) && broker_alive(s, p->replicas[i]))
            return p->replicas[i];
    if (!t->t.config.unclean_leader_election_enable)
        return -1;
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (broker_alive(s, p->replicas[i])) {
            *unclean = true;
            return p->replicas[i];
        }
    return -1;
}

static void set_leader(struct md_partition *p, int32_t leader, bool unclean)
{
    if (unclean) {
        p->isr[0] = leader;
        p->nisr = 1;
    }
    if (leader != p->leader) {
        p->leader = leader;
        p->leader_epoch++;
    }
}

/* Rules 2 and 3 for one partition; true if it changed. */
static bool on_fence(const struct md_store *s, const struct md_live *t, struct md_partition *p)
{
    struct md_partition was = *p;
    int32_t keep[MD_REPLICAS_MAX], n = 0;
    bool unclean;

    for (int32_t i = 0; i < p->nisr; i++)
        if (broker_alive(s, p->isr[i]))
            keep[n++] = p->isr[i];
    if (n == 0 && p->nisr > 0) {
        /* The last member stays: the leader if it was one, else the first. */
        keep[n++] = md_ids_have(p->isr, p->nisr, p->leader) ? p->leader : p->isr[0];
    }
    memcpy(p->isr, keep, sizeof keep[0] * (size_t)n);
    p->nisr = n;
    if (!broker_alive(s, p->leader)) {
        int32_t leader = elect(s, t, p, &unclean);
        set_leader(p, leader, unclean);
    }
    if (memcmp(&was, p, sizeof was) == 0)
        return false;
    p->partition_epoch++;
    return true;
}

/* Every partition with a replica on a fenced node, or no leader. */
int md_isr_on_fence(struct md_store *s)
{
    int changed = 0;

    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *t = s->topics[i];
        bool any = false;
        if (t->state != MD_LIVE)
            continue;
        for (int32_t k = 0; k < t->t.npartitions; k++)
            any |= on_fence(s, t, &t->t.partitions[k]);
        if (any) {
            t->touched = true;
            changed++;
        }
    }
    return changed;
}

int md_isr_on_unfence(struct md_store *s)
{
    int changed = 0;
    bool unclean;

    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *t = s->topics[i];
        bool any = false;
        if (t->state != MD_LIVE)
            continue;
        for (int32_t k = 0; k < t->t.npartitions; k++) {
            struct md_partition *p = &t->t.partitions[k];
            if (p->leader >= 0)
                continue;
            int32_t leader = elect(s, t, p, &unclean);
            if (leader < 0)
                continue;
            set_leader(p, leader, unclean);
            p->partition_epoch++;
            any = true;
        }
        if (any) {
            t->touched = true;
            changed++;
        }
    }
    return changed;
}

/* Rule 4. */
int16_t md_isr_alter(struct md_store *s, int32_t broker, struct ctl_isr_change *ch)
{
    struct md_live *t = md_store_find(s, ch->topic);
    struct md_partition *p;

    if (!t || t->state != MD_LIVE || ch->partition < 0 || ch->partition >= t->t.npartitions)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    p = &t->t.partitions[ch->partition];
    ch->out_leader = p->leader;
    ch->out_leader_epoch = p->leader_epoch;
    ch->out_partition_epoch = p->partition_epoch;
    ch->out_nisr = p->nisr;
    memcpy(ch->out_isr, p->isr, sizeof p->isr);
    if (ch->leader_epoch < p->leader_epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (ch->leader_epoch > p->leader_epoch)
        return KERR_UNKNOWN_LEADER_EPOCH;
    if (broker != p->leader)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    if (ch->partition_epoch != p->partition_epoch)
        return KERR_INVALID_UPDATE_VERSION;
    if (ch->nisr < 1 || ch->nisr > p->nreplicas || !md_ids_have(ch->isr, ch->nisr, broker))
        return KERR_INVALID_REQUEST;
    for (int32_t i = 0; i < ch->nisr; i++) {
        if (!md_ids_have(p->replicas, p->nreplicas, ch->isr[i]) ||
            md_ids_have(ch->isr, i, ch->isr[i]))
            return KERR_INVALID_REQUEST;
        if (!md_ids_have(p->isr, p->nisr, ch->isr[i]) && !broker_alive(s, ch->isr[i]))
            return KERR_INELIGIBLE_REPLICA;
    }
    bool same = ch->nisr == p->nisr;
    for (int32_t i = 0; same && i < ch->nisr; i++)
        same = md_ids_have(p->isr, p->nisr, ch->isr[i]);
    if (!same) {
        /* In replica order, as KRaft keeps it. */
        int32_t n = 0;
        for (int32_t i = 0; i < p->nreplicas; i++)
            if (md_ids_have(ch->isr, ch->nisr, p->replicas[i]))
                p->isr[n++] = p->replicas[i];
        p->nisr = n;
        p->partition_epoch++;
        md_reassign_complete(s, p);     /* the last target replica joined */
        t->touched = true;
    }
    ch->out_leader = p->leader;
    ch->out_leader_epoch = p->leader_epoch;
    ch->out_partition_epoch = p->partition_epoch;
    ch->out_nisr = p->nisr;
    memcpy(ch->out_isr, p->isr, sizeof p->isr);
    return KERR_NONE;
}

/* Rule 5's test for one broker: the share of the partitions it is the
 * preferred leader of that another replica leads is above pct percent. */
static bool imbalanced(const struct md_store *s, int32_t broker, int32_t pct)
{
    int64_t preferred = 0, away = 0;

    for (int32_t i = 0; i < s->ntopics; i++) {
        const struct md_live *t = s->topics[i];
        if (t->state != MD_LIVE)
            continue;
        for (int32_t k = 0; k < t->t.npartitions; k++) {
            const struct md_partition *p = &t->t.partitions[k];
            if (p->nreplicas < 2 || p->replicas[0] != broker)
                continue;
            preferred++;
            away += p->leader != broker;
        }
    }
    return preferred > 0 && away * 100 > (int64_t)pct * preferred;
}

/* Whether p may move back to its preferred leader now (rule 5). */
static bool may_prefer(const struct md_store *s, const struct md_partition *p)
{
    int32_t pref = p->replicas[0];
    return p->nreplicas > 1 && p->leader != pref && md_ids_have(p->isr, p->nisr, pref) &&
           broker_alive(s, pref);
}

/* The verdict of rule 5 for broker, judged once per call (judged/bad/n):
 * every broker is judged before any partition moves, as Kafka does, so
 * moving one partition does not stop the others of the same broker. */
static bool verdict(const struct md_store *s, int32_t broker, int32_t pct, int32_t *judged,
                    bool *bad, int32_t *n)
{
    for (int32_t i = 0; i < *n; i++)
        if (judged[i] == broker)
            return bad[i];
    judged[*n] = broker;
    bad[*n] = imbalanced(s, broker, pct);
    return bad[(*n)++];
}

int md_isr_rebalance(struct md_store *s, int32_t pct)
{
    int64_t np = 1;
    int changed = 0;
    int32_t n = 0;

    for (int32_t i = 0; i < s->ntopics; i++)
        np += s->topics[i]->t.npartitions;
    int32_t *judged = calloc((size_t)np, sizeof *judged);
    bool *bad = calloc((size_t)np, sizeof *bad);
    if (!judged || !bad) {
        free(judged);
        free(bad);
        return 0;                       /* the next check tries again */
    }
    for (int pass = 0; pass < 2; pass++)
        for (int32_t i = 0; i < s->ntopics; i++) {
            struct md_live *t = s->topics[i];
            bool any = false;
            for (int32_t k = 0; t->state == MD_LIVE && k < t->t.npartitions; k++) {
                struct md_partition *p = &t->t.partitions[k];
                if (!may_prefer(s, p) || !verdict(s, p->replicas[0], pct, judged, bad, &n) ||
                    pass == 0)
                    continue;
                set_leader(p, p->replicas[0], false);
                p->partition_epoch++;
                any = true;
            }
            if (any) {
                t->touched = true;
                changed++;
            }
        }
    free(judged);
    free(bad);
    return changed;
}

/* Rule 6. */
int16_t md_isr_elect(struct md_store *s, const char *topic, int32_t k, int8_t type)
{
    struct md_live *t = md_store_find(s, topic);

    if (!t || t->state != MD_LIVE || k < 0 || k >= t->t.npartitions)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    struct md_partition *p = &t->t.partitions[k];
    int32_t leader = -1;
    bool unclean = false;
    if (type == 0) {
        if (p->leader == p->replicas[0])
            return KERR_ELECTION_NOT_NEEDED;
        if (!may_prefer(s, p))
            return KERR_PREFERRED_LEADER_NOT_AVAILABLE;
        leader = p->replicas[0];
    } else if (type == 1) {
        if (broker_alive(s, p->leader))
            return KERR_ELECTION_NOT_NEEDED;
        for (int32_t i = 0; i < p->nreplicas && leader < 0; i++)
            if (md_ids_have(p->isr, p->nisr, p->replicas[i]) && broker_alive(s, p->replicas[i]))
                leader = p->replicas[i];
        for (int32_t i = 0; i < p->nreplicas && leader < 0; i++)
            if (broker_alive(s, p->replicas[i])) {
                leader = p->replicas[i];
                unclean = true;
            }
        if (leader < 0)
            return KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
    } else {
        return KERR_INVALID_REQUEST;
    }
    set_leader(p, leader, unclean);
    p->partition_epoch++;
    t->touched = true;
    return KERR_NONE;
}
