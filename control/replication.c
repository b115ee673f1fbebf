/* replication.c - the control thread's part in replication: telling this
 * node's shards what their replicas are (leader, epochs, ISR), and, on
 * the controller, carrying out the ISR changes leaders ask for
 * (AlterPartition), the elections fencing calls for and those operators
 * ask for (ElectLeaders), by md_isr.c's rules.
 *
 * Owns: CTL_ALTER_PARTITION, CTL_ELECT_LEADERS and CTL_REASSIGN (Alter-
 * PartitionReassignments, md_reassign.c's rules) on the control thread,
 * the state a replica is opened with or told of (CTL_PARTITION_OPEN /
 * CTL_PARTITION_STATE), and the commits of partition changes.
 *
 * Order, as for every metadata change: the change is committed to the
 * metadata log before anyone hears of it; then this node's shards get the
 * new state (cluster.c's reconcile posts it for every topic an entry
 * touched), then the new snapshot is published; the leader asking hears
 * last. Other nodes apply the entry and do the same.
 *
 * Never: touches a socket or wire bytes. */
#include "control/control_private.h"

#include <stdlib.h>
#include <string.h>

#include "control/quorum.h"
#include "storage/kerr.h"

void replication_fill_state(const struct md_store *s, const struct md_live *t, int32_t p,
                            struct ctl_replica_state *out)
{
    const struct md_partition *mp = &t->t.partitions[p];

    memset(out, 0, sizeof *out);
    out->broker = md_partition_on_node(mp, s->node_id);
    out->leader = mp->leader;
    out->leader_epoch = mp->leader_epoch;
    out->partition_epoch = mp->partition_epoch;
    out->nreplicas = mp->nreplicas;
    out->nisr = mp->nisr;
    memcpy(out->replicas, mp->replicas, sizeof out->replicas);
    memcpy(out->isr, mp->isr, sizeof out->isr);
    out->min_insync = t->t.config.min_insync_replicas;
}

int replication_local_shard(const struct control *c, const struct md_live *t, int32_t p)
{
    int32_t b = md_partition_on_node(&t->t.partitions[p], c->md.node_id);

    if (b < 0 || md_broker_shard(b) >= c->nshards)
        return -1;
    return md_broker_shard(b);
}

void replication_post_state(struct control *c, const struct md_live *t, int32_t p)
{
    int shard = replication_local_shard(c, t, p);
    struct ctl_cmd *cmd;

    if (shard < 0)
        return;
    if (!(cmd = control_cmd(c, CTL_PARTITION_STATE, NULL, 0, t->t.name, p))) {
        control_log("out of memory: %s-%d keeps its old leader and ISR", t->t.name, p);
        return;
    }
    replication_fill_state(&c->md, t, p, &cmd->msg.u.partition.state);
    control_post(c, shard, &cmd->msg);
}

/* After a commit of the controller's own: this node's shards learn the
 * changes as other nodes do when they apply the entry (reconcile). */
static void committed(struct control *c)
{
    c->md.applied = true;
}

/* --- AlterPartition on the controller ---------------------------------------- */

void replication_alter_request(struct control *c, struct ctl_msg *m)
{
    struct ctl_alter_partition *a = &m->u.alter;
    struct md_store *s = &c->md;
    struct md_partition *saved = NULL;
    char why[512];
    int changed = 0;

    a->error = KERR_NONE;
    if (!md_store_is_controller(s) || !quorum_ready(s->quorum)) {
        a->error = KERR_NOT_CONTROLLER;
        control_post(c, m->shard, m);
        return;
    }
    if (a->nitems > 0 && !(saved = calloc((size_t)a->nitems, sizeof *saved))) {
        a->error = KERR_UNKNOWN_SERVER_ERROR;
        control_post(c, m->shard, m);
        return;
    }
    for (int i = 0; i < a->nitems; i++) {
        struct ctl_isr_change *ch = &a->items[i];
        struct md_live *t = ch->topic ? md_store_find(s, ch->topic) : NULL;
        if (t && t->state == MD_LIVE && ch->partition >= 0 && ch->partition < t->t.npartitions)
            saved[i] = t->t.partitions[ch->partition];
        int32_t before = saved[i].partition_epoch;
        ch->error = ch->topic ? md_isr_alter(s, a->broker_id, ch) : KERR_INVALID_REQUEST;
        if (ch->error == KERR_NONE && ch->out_partition_epoch != before)
            changed++;
    }
    if (changed && md_store_commit(s, why, sizeof why) < 0) {
        control_log("AlterPartition from broker %d: %s", a->broker_id, why);
        for (int i = 0; i < a->nitems; i++) {
            struct ctl_isr_change *ch = &a->items[i];
            struct md_live *t = md_store_find(s, ch->topic);
            if (ch->error == KERR_NONE && t && saved[i].nreplicas > 0)
                t->t.partitions[ch->partition] = saved[i];
            if (ch->error == KERR_NONE)
                ch->error = KERR_KAFKA_STORAGE_ERROR;
        }
        changed = 0;
    }
    for (int i = 0; changed && i < a->nitems; i++) {
        /* A reassignment the ISR change completed may remove this node's
         * replica (other nodes see it when they apply the entry). */
        struct md_live *t = a->items[i].error == KERR_NONE ? md_store_find(s, a->items[i].topic)
                                                             : NULL;
        if (t)
            md_store_drop_moved(s, t->t.name, &saved[i], &t->t.partitions[a->items[i].partition]);
    }
    free(saved);
    if (changed) {
        control_log("ISR of %d partition(s) changed at broker %d's request", changed,
                    a->broker_id);
        committed(c);
        cluster_apply(c);      /* shards and snapshot first, the answer last */
    }
    control_post(c, m->shard, m);
}

/* --- ElectLeaders on the controller ------------------------------------------ */

void replication_elect_leaders(struct control *c, struct ctl_msg *m)
{
    struct ctl_elect_leaders *e = &m->u.elect;
    struct md_store *s = &c->md;
    struct md_partition *saved = NULL;
    char why[512];
    int changed = 0;

    e->error = KERR_NONE;
    if (!md_store_is_controller(s) || !quorum_ready(s->quorum)) {
        e->error = KERR_NOT_CONTROLLER;
        control_post(c, m->shard, m);
        return;
    }
    if (e->nitems > 0 && !(saved = calloc((size_t)e->nitems, sizeof *saved))) {
        e->error = KERR_UNKNOWN_SERVER_ERROR;
        control_post(c, m->shard, m);
        return;
    }
    for (int i = 0; i < e->nitems; i++) {
        struct ctl_elect_item *it = &e->items[i];
        struct md_live *t = it->topic ? md_store_find(s, it->topic) : NULL;
        if (t && t->state == MD_LIVE && it->partition >= 0 && it->partition < t->t.npartitions)
            saved[i] = t->t.partitions[it->partition];
        it->error = it->topic ? md_isr_elect(s, it->topic, it->partition, e->type)
                              : KERR_UNKNOWN_TOPIC_OR_PARTITION;
        changed += it->error == KERR_NONE;
    }
    if (changed && md_store_commit(s, why, sizeof why) < 0) {
        control_log("ElectLeaders: %s", why);
        for (int i = e->nitems - 1; i >= 0; i--) {   /* back, as it was */
            struct ctl_elect_item *it = &e->items[i];
            struct md_live *t = it->error == KERR_NONE ? md_store_find(s, it->topic) : NULL;
            if (t)
                t->t.partitions[it->partition] = saved[i];
            if (it->error == KERR_NONE)
                it->error = KERR_KAFKA_STORAGE_ERROR;
        }
        changed = 0;
    }
    free(saved);
    if (changed) {
        control_log("ElectLeaders (%s): %d partition(s) get a new leader",
                    e->type == 1 ? "unclean" : "preferred", changed);
        committed(c);
        cluster_apply(c);      /* shards and snapshot first, the answer last */
    }
    control_post(c, m->shard, m);
}

/* --- elections on the controller ---------------------------------------------------- */

int replication_elect(struct control *c, const char *why)
{
    int n = md_isr_on_fence(&c->md) + md_isr_on_unfence(&c->md);

    if (n > 0)
        control_log("%s: leaders or ISRs of %d topic(s) change", why, n);
    return n;
}

void replication_committed(struct control *c)
{
    committed(c);
}

/* --- AlterPartitionReassignments on the controller ---------------------------- */

/* Item i of r applied: its partition's state before in *was (zeroed when
 * it is unknown). */
static void reassign_one(struct md_store *s, struct ctl_reassign_item *it, struct md_partition *was)
{
    struct md_live *t = it->topic ? md_store_find(s, it->topic) : NULL;

    memset(was, 0, sizeof *was);
    if (t && t->state == MD_LIVE && it->partition >= 0 && it->partition < t->t.npartitions)
        *was = t->t.partitions[it->partition];
    it->error = it->topic ? md_reassign(s, it->topic, it->partition, it->replicas, it->n)
                          : KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

void replication_reassign(struct control *c, struct ctl_msg *m)
{
    struct ctl_reassign *r = &m->u.reassign;
    struct md_store *s = &c->md;
    struct md_partition *was = NULL;
    char why[512];
    int tried = 0;

    r->error = KERR_NONE;
    if (!md_store_is_controller(s) || !quorum_ready(s->quorum))
        r->error = KERR_NOT_CONTROLLER;
    else if (r->nitems > 0 && !(was = calloc((size_t)r->nitems, sizeof *was)))
        r->error = KERR_UNKNOWN_SERVER_ERROR;
    for (int i = 0; r->error == KERR_NONE && i < r->nitems; i++) {
        reassign_one(s, &r->items[i], &was[i]);
        tried += r->items[i].error == KERR_NONE;
    }
    if (tried && md_store_commit(s, why, sizeof why) < 0) {
        control_log("AlterPartitionReassignments: %s", why);
        for (int i = r->nitems - 1; i >= 0; i--) {    /* back, as it was */
            struct ctl_reassign_item *it = &r->items[i];
            struct md_live *t = it->error == KERR_NONE ? md_store_find(s, it->topic) : NULL;
            if (t)
                t->t.partitions[it->partition] = was[i];
            if (it->error == KERR_NONE)
                it->error = KERR_KAFKA_STORAGE_ERROR;
        }
        tried = 0;
    }
    for (int i = 0; tried && i < r->nitems; i++) {
        struct ctl_reassign_item *it = &r->items[i];
        struct md_live *t = it->error == KERR_NONE ? md_store_find(s, it->topic) : NULL;
        if (t)
            md_store_drop_moved(s, t->t.name, &was[i], &t->t.partitions[it->partition]);
    }
    free(was);
    if (tried) {
        control_log("AlterPartitionReassignments: %d partition(s) reassigned", tried);
        committed(c);
        cluster_apply(c);      /* shards and snapshot first, the answer last */
    }
    control_post(c, m->shard, m);
}
