/* cluster.c - the control thread's part in a cluster of nodes: keeping
 * its node registered, carrying out what other nodes committed, and
 * answering other nodes' registrations when it leads the quorum.
 *
 * Owns: this node's registration (written directly by the controller
 * leader, else sent to the leader through shard 0: CTL_REGISTER_SEND, a
 * Kafka BrokerRegistration, dataplane/handle_cluster.c), the reconcile
 * step after applied entries (open the partitions placed on this node's
 * shards, reconfigure them, remove those of removed topics, publish), and
 * CTL_REGISTER_NODE on the leader.
 *
 * Order, so that no client hears of a change before it is committed: an
 * entry is applied (md_log.c), then shards open what it placed here, then
 * the new snapshot is published (a ring is FIFO: opens before snapshot).
 *
 * Never: touches a socket or wire bytes. */
#include "control/control_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/quorum.h"
#include "storage/kerr.h"

#define REGISTER_RETRY_MS 500

static int64_t mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* --- carrying out what others committed --------------------------------- */

static void post_partition(struct control *c, enum ctl_op op,
                           const struct md_live *t, int32_t p)
{
    struct ctl_cmd *cmd = control_cmd(c, op, NULL, 0, t->t.name, p);

    if (!cmd) {
        control_log("out of memory: %s-%d not %s here until a restart",
                    t->t.name, p, op == CTL_PARTITION_OPEN ? "opened"
                                                           : "reconfigured");
        return;
    }
    topic_config_to_log(&t->t.config, &cmd->msg.u.partition.config);
    replication_fill_state(&c->md, t, p, &cmd->msg.u.partition.state);
    control_post(c, replication_local_shard(c, t, p), &cmd->msg);
}

static void reconcile(struct control *c)
{
    struct md_store *s = &c->md;

    for (int32_t i = 0; i < s->ndrops; i++) {
        struct ctl_cmd *cmd = control_cmd(c, CTL_PARTITION_DELETE, NULL, 0,
                                          s->drops[i].topic,
                                          s->drops[i].partition);
        if (cmd)
            control_post(c, s->drops[i].shard, &cmd->msg);
    }
    s->ndrops = 0;
    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *t = s->topics[i];
        if (!t->touched)
            continue;
        t->touched = false;
        if (t->state != MD_LIVE)
            continue;
        for (int32_t p = 0; p < t->t.npartitions; p++) {
            if (replication_local_shard(c, t, p) < 0)
                continue;
            /* Opening an open partition does nothing: configs and the
             * replica's state follow. */
            post_partition(c, CTL_PARTITION_OPEN, t, p);
            post_partition(c, CTL_PARTITION_CONFIG, t, p);
            replication_post_state(c, t, p);
        }
    }
}

/* --- this node's registration --------------------------------------------- */

static void register_self(struct control *c, int64_t now)
{
    struct md_store *s = &c->md;
    struct md_node self;
    char why[512];

    if (c->reg_msg || now < c->reg_next_ms || !quorum_ready(s->quorum))
        return;
    if (md_node_self(s, &self) < 0)
        return;
    const struct md_node *old = md_node_find(s, s->node_id);
    if (old && old->committed && md_node_equal(old, &self)) {
        free(self.brokers);
        return;
    }
    if (md_store_is_controller(s)) {
        int rc = md_node_put(s, &self);
        free(self.brokers);
        if (rc >= 0)
            replication_elect(c, "this node registered");
        if (rc >= 0 && md_store_commit(s, why, sizeof why) == 0) {
            control_log("node %d registered (%d brokers)", s->node_id,
                        s->nshards);
            replication_committed(c);
            if (c->serving)
                control_publish(c);
        } else {
            c->reg_next_ms = now + REGISTER_RETRY_MS;
        }
        return;
    }
    int32_t leader = md_store_controller(s);
    const struct md_node *ln = leader >= 0 ? md_node_find(s, leader) : NULL;
    if (!ln || ln->fenced) {
        free(self.brokers);
        c->reg_next_ms = now + REGISTER_RETRY_MS;
        return;
    }
    struct cluster_reg *reg = calloc(1, sizeof *reg + sizeof(struct ctl_endpoint) *
                                                        (size_t)self.nshards);
    if (!reg) {
        free(self.brokers);
        return;
    }
    reg->self = self;
    for (int32_t i = 0; i < self.nshards; i++)
        reg->eps[i] = (struct ctl_endpoint){.host = self.brokers[i].host,
                                            .port = self.brokers[i].port};
    snprintf(reg->to_host, sizeof reg->to_host, "%s", ln->brokers[0].host);
    reg->msg.op = CTL_REGISTER_SEND;
    reg->msg.cookie = reg;
    reg->msg.u.reg = (struct ctl_register){
        .node_id = s->node_id, .nshards = self.nshards,
        .cluster_id = s->cluster_id,
        .rack = reg->self.rack[0] ? reg->self.rack : NULL, /* not the stack's copy */
        .brokers = reg->eps, .to_host = reg->to_host,
        .to_port = ln->brokers[0].port};
    c->reg_msg = reg;
    control_post(c, 0, &reg->msg);
}

void cluster_register_sent(struct control *c, struct ctl_msg *m)
{
    struct cluster_reg *reg = m->cookie;
    const struct ctl_register *r = &m->u.reg;

    if (r->result < 0 || r->error != 0)
        control_log("node %d: registering with the controller at %s:%d: %s "
                    "(error %d); trying again", r->node_id, r->to_host,
                    r->to_port, r->result < 0 ? strerror(-r->result) : "refused",
                    r->error);
    /* Success shows as the record, once the leader's entry is applied. */
    c->reg_next_ms = mono_ms() + REGISTER_RETRY_MS;
    free(reg->self.brokers);
    free(reg);
    c->reg_msg = NULL;
}

/* --- other nodes' registrations (on the leader) ------------------------- */

/* What the metadata text holds as a word (a host) or to the end of a line
 * (a rack): printable, no line break, a word no space. Anything else would
 * make an entry no node can apply. */
static bool text_ok(const char *s, bool word)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (word && *s == ' '))
            return false;
    return true;
}

static bool registration_ok(const struct ctl_register *r)
{
    if (!text_ok(r->rack, false))
        return false;
    for (int32_t i = 0; i < r->nshards; i++)
        if (!r->brokers[i].host || !r->brokers[i].host[0] || !text_ok(r->brokers[i].host, true))
            return false;
    return true;
}

void cluster_register_request(struct control *c, struct ctl_msg *m)
{
    struct ctl_register *r = &m->u.reg;
    struct md_store *s = &c->md;
    struct md_node n = {.id = r->node_id, .nshards = r->nshards};
    char why[512];

    r->error = 0;
    if (!md_store_is_controller(s) || !quorum_ready(s->quorum)) {
        r->error = KERR_NOT_CONTROLLER;
    } else if (!r->cluster_id || strcmp(r->cluster_id, s->cluster_id) != 0) {
        r->error = KERR_INCONSISTENT_CLUSTER_ID;
    } else if (r->nshards < 1 || r->nshards > MD_NODE_SHARDS || r->node_id < 0 ||
               !registration_ok(r)) {
        r->error = KERR_INVALID_REQUEST;
    } else if (!(n.brokers = calloc((size_t)r->nshards, sizeof *n.brokers))) {
        r->error = KERR_UNKNOWN_SERVER_ERROR;
    } else {
        snprintf(n.rack, sizeof n.rack, "%s", r->rack ? r->rack : "");
        for (int32_t i = 0; i < r->nshards; i++) {
            snprintf(n.brokers[i].host, sizeof n.brokers[i].host, "%s",
                     r->brokers[i].host ? r->brokers[i].host : "");
            n.brokers[i].port = r->brokers[i].port;
        }
        int rc = md_node_put(s, &n);
        if (rc > 0)
            replication_elect(c, "a node registered");
        if (rc < 0 || (rc > 0 && md_store_commit(s, why, sizeof why) < 0)) {
            r->error = KERR_KAFKA_STORAGE_ERROR;
        } else if (rc > 0) {
            control_log("node %d registered (%d brokers)", n.id, n.nshards);
            replication_committed(c);
            cluster_apply(c);
        }
        free(n.brokers);
    }
    control_post(c, m->shard, m);
}

/* --- fencing (on the leader) --------------------------------------------- */

/* Whether node n, silent for silent_ms, is to be fenced now, saying why:
 * Kafka's broker.session.timeout.ms, or sooner, once sluice.fence.probe.ms
 * have passed, when its controller port refuses a connection (no process
 * listens there: it died; a node that is only slow still answers, and
 * waits for the session timeout like one cut off). */
static bool fence_due(struct control *c, const struct md_node *n, int64_t silent_ms)
{
    const struct broker_config *cfg = &c->cfg;
    bool fresh;

    if (silent_ms >= cfg->broker_session_timeout_ms) {
        control_log("node %d unheard of for %d ms: fenced", n->id,
                    cfg->broker_session_timeout_ms);
        return true;
    }
    if (cfg->fence_probe_ms <= 0 || silent_ms < cfg->fence_probe_ms)
        return false;
    switch (quorum_probe(c->md.quorum, n->id, cfg->fence_probe_ms, &fresh)) {
    case QUORUM_PROBE_REFUSED:
        control_log("node %d silent for %lld ms and its controller port refuses "
                    "connections (no process there): fenced", n->id, (long long)silent_ms);
        return true;
    case QUORUM_PROBE_LISTENING:
        if (fresh)
            control_log("node %d silent for %lld ms but its controller port answers: "
                        "not fenced before broker.session.timeout.ms", n->id,
                        (long long)silent_ms);
        return false;
    default:
        return false;
    }
}

static void fence_silent(struct control *c)
{
    struct md_store *s = &c->md;
    char why[512];
    int changed = 0;

    if (!md_store_is_controller(s) || !quorum_ready(s->quorum))
        return;
    for (int32_t i = 0; i < s->nnodes; i++) {
        struct md_node *n = &s->nodes[i];
        if (n->id == s->node_id || n->fenced ||
            !fence_due(c, n, quorum_silent_ms(s->quorum, n->id)))
            continue;
        /* Its brokers leave Metadata, its replicas the ISRs, its
         * partitions get new leaders. */
        changed += md_node_fence(s, n->id, true);
    }
    if (!changed)
        return;
    replication_elect(c, "fencing");
    if (md_store_commit(s, why, sizeof why) == 0) {
        replication_committed(c);
        cluster_apply(c);
    }
}

/* auto.leader.rebalance.enable, on the controller: every
 * leader.imbalance.check.interval.seconds, leaders back to their preferred
 * replicas (md_isr.c's rule 5). */
static void rebalance(struct control *c, int64_t now)
{
    struct md_store *s = &c->md;
    int64_t every = (int64_t)c->cfg.leader_imbalance_check_interval_seconds * 1000;
    char why[512];

    if (!c->cfg.auto_leader_rebalance_enable || !md_store_is_controller(s) ||
        !quorum_ready(s->quorum)) {
        c->rebalance_next_ms = 0;
        return;
    }
    if (c->rebalance_next_ms == 0)
        c->rebalance_next_ms = now + every;  /* an interval after leading */
    if (now < c->rebalance_next_ms)
        return;
    c->rebalance_next_ms = now + every;
    int n = md_isr_rebalance(s, c->cfg.leader_imbalance_per_broker_percentage);
    if (n == 0)
        return;
    if (md_store_commit(s, why, sizeof why) < 0) {
        control_log("preferred leaders: %s", why);
        return;
    }
    control_log("preferred leaders: leaders of %d topic(s) move back", n);
    replication_committed(c);
    cluster_apply(c);
}

/* --- the turn --------------------------------------------------------------- */

void cluster_apply(struct control *c)
{
    struct md_store *s = &c->md;
    int32_t leader = md_store_controller(s);
    bool publish = leader != c->known_controller;   /* Metadata names it */

    c->known_controller = leader;
    if (s->applied) {
        s->applied = false;
        reconcile(c);
        publish = true;
    }
    if (publish && c->serving)
        control_publish(c);
}

void cluster_do_work(struct control *c)
{
    quorum_tick(c->md.quorum);
    cluster_apply(c);
    register_self(c, mono_ms());
    fence_silent(c);
    rebalance(c, mono_ms());
}
