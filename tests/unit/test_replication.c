/*
 * test_replication.c - the controller's rules for replicated partitions,
 * on an in-memory metadata store of several registered nodes: placement
 * (control/md_place.c), elections and ISR changes (control/md_isr.c, and
 * ElectLeaders' preferred and unclean elections), reassignments
 * (control/md_reassign.c), and the metadata text of replicated partitions
 * (control/md_file.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/ctl.h"
#include "control/md_store.h"
#include "storage/crc32c.h"
#include "storage/kerr.h"

#define SHARDS 2
#define CLUSTER_ID "GtHwKf8zQXeo_PHohZhQSw"   /* one cluster for every store */

struct world {
    struct broker_config cfg;
    struct md_store s;
    int32_t load[SHARDS];
};

/* Registers node id with SHARDS shards in rack (NULL: none). */
static void add_node(struct world *w, int32_t id, const char *rack)
{
    struct md_node_broker b[SHARDS];
    struct md_node n = {.id = id, .nshards = SHARDS, .brokers = b};

    memset(b, 0, sizeof b);
    for (int i = 0; i < SHARDS; i++) {
        snprintf(b[i].host, sizeof b[i].host, "10.0.0.%d", id + 1);
        b[i].port = 9092 + i;
    }
    if (rack)
        snprintf(n.rack, sizeof n.rack, "%s", rack);
    assert_int_equal(md_node_put(&w->s, &n), 1);
}

/* A store of this node (node 0) with nodes 0..nnodes-1 registered. */
static struct world *world_new(int nnodes, const char *const *racks)
{
    struct world *w = calloc(1, sizeof *w);

    assert_non_null(w);
    assert_int_equal(broker_config_defaults(&w->cfg), 0);
    w->s.cfg = &w->cfg;
    w->s.nshards = SHARDS;
    w->s.load = w->load;
    snprintf(w->s.cluster_id, sizeof w->s.cluster_id, "%s", CLUSTER_ID);
    for (int i = 0; i < nnodes; i++)
        add_node(w, i, racks ? racks[i] : NULL);
    return w;
}

static void world_free(struct world *w)
{
    while (w->s.ntopics > 0)
        md_store_forget(&w->s, w->s.topics[w->s.ntopics - 1]);
    free(w->s.topics);
    free(w->s.tombs);
    free(w->s.drops);
    md_nodes_free(&w->s);
    free(w);
}

static struct md_live *add_topic(struct world *w, const char *name, int32_t n, int32_t rf)
{
    struct topic_config tc;
    struct md_live *t = NULL;

    topic_config_from_broker(&w->cfg, &tc);
    assert_int_equal(md_store_add(&w->s, name, n, rf, &tc, &t), 0);
    t->state = MD_LIVE;
    t->t.npartitions = n;
    return t;
}

/* --- placement ------------------------------------------------------------------- */

static void test_place_rf3(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 6, 3);
    int leaders[3 * 1000 + SHARDS] = {0};

    (void)state;
    for (int32_t i = 0; i < 6; i++) {
        const struct md_partition *p = &t->t.partitions[i];
        assert_int_equal(p->nreplicas, 3);
        assert_int_equal(p->nisr, 3);
        assert_memory_equal(p->isr, p->replicas, sizeof p->isr[0] * 3);
        assert_int_equal(p->leader, p->replicas[0]);
        assert_int_equal(p->leader_epoch, 0);
        assert_int_equal(p->partition_epoch, 0);
        bool node[3] = {false};
        for (int32_t k = 0; k < 3; k++) {
            int32_t nd = md_broker_node(p->replicas[k]);
            assert_true(nd >= 0 && nd < 3 && !node[nd]);  /* one replica per node */
            node[nd] = true;
        }
        leaders[p->leader]++;
    }
    /* Six partitions, six brokers: each leads one. */
    for (int nd = 0; nd < 3; nd++)
        for (int k = 0; k < SHARDS; k++)
            assert_int_equal(leaders[md_broker_id(nd, k)], 1);
    world_free(w);
}

static void test_place_racks(void **state)
{
    static const char *const racks[] = {"a", "a", "b", "b"};
    struct world *w = world_new(4, racks);
    struct md_live *t = add_topic(w, "t", 8, 2);

    (void)state;
    for (int32_t i = 0; i < 8; i++) {
        const struct md_partition *p = &t->t.partitions[i];
        int32_t a = md_broker_node(p->replicas[0]), b = md_broker_node(p->replicas[1]);
        assert_true((a < 2) != (b < 2));             /* one in each rack */
    }
    world_free(w);
}

static void test_place_too_few_nodes(void **state)
{
    struct world *w = world_new(3, NULL);
    struct topic_config tc;
    struct md_live *t = NULL;

    (void)state;
    topic_config_from_broker(&w->cfg, &tc);
    assert_int_equal(md_place_nodes(&w->s), 3);
    assert_int_equal(md_store_add(&w->s, "t", 1, 4, &tc, &t), -EINVAL);
    assert_null(md_store_find(&w->s, "t"));
    /* A fenced node holds no new replica. */
    assert_int_equal(md_node_fence(&w->s, 2, true), 1);
    assert_int_equal(md_place_nodes(&w->s), 2);
    assert_int_equal(md_store_add(&w->s, "u", 1, 3, &tc, &t), -EINVAL);
    t = add_topic(w, "v", 2, 2);
    for (int32_t i = 0; i < 2; i++)
        for (int32_t k = 0; k < 2; k++)
            assert_int_not_equal(md_broker_node(t->t.partitions[i].replicas[k]), 2);
    world_free(w);
}

static void test_place_single_node(void **state)
{
    struct world *w = world_new(0, NULL);
    struct topic_config tc;
    struct md_live *t = NULL;

    (void)state;
    assert_int_equal(md_place_nodes(&w->s), 1);
    t = add_topic(w, "t", 6, 1);
    for (int32_t i = 0; i < 6; i++) {
        assert_int_equal(t->t.partitions[i].nreplicas, 1);
        assert_int_equal(t->t.partitions[i].leader, i % 2);
    }
    topic_config_from_broker(&w->cfg, &tc);
    assert_int_equal(md_store_add(&w->s, "u", 1, 2, &tc, &t), -EINVAL);
    world_free(w);
}

/* --- elections and the ISR ------------------------------------------------------------ */

static void test_fence_elects_from_isr(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 1, 3);
    struct md_partition *p = &t->t.partitions[0];
    struct md_partition was = *p;
    int32_t dead = md_broker_node(p->leader);

    (void)state;
    t->touched = false;
    assert_int_equal(md_node_fence(&w->s, dead, true), 1);
    assert_int_equal(md_isr_on_fence(&w->s), 1);
    assert_true(t->touched);
    assert_int_equal(p->leader, was.replicas[1]);    /* the next in replica order */
    assert_int_equal(p->leader_epoch, 1);
    assert_int_equal(p->partition_epoch, 1);
    assert_int_equal(p->nisr, 2);
    assert_false(md_ids_have(p->isr, p->nisr, was.replicas[0]));
    /* Nothing more to do for it. */
    assert_int_equal(md_isr_on_fence(&w->s), 0);
    assert_int_equal(md_isr_on_unfence(&w->s), 0);
    world_free(w);
}

static void test_last_isr_member_stays(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 1, 3);
    struct md_partition *p = &t->t.partitions[0];
    struct md_partition was = *p;

    (void)state;
    for (int32_t k = 0; k < 3; k++) {
        assert_int_equal(md_node_fence(&w->s, md_broker_node(was.replicas[k]), true), 1);
        md_isr_on_fence(&w->s);
    }
    assert_int_equal(p->leader, -1);                 /* offline, not unclean */
    assert_int_equal(p->nisr, 1);
    assert_int_equal(p->isr[0], was.replicas[2]);    /* the last to lead keeps it */
    /* A node outside the ISR back: still no leader (unclean election off). */
    assert_int_equal(md_node_fence(&w->s, md_broker_node(was.replicas[0]), false), 1);
    assert_int_equal(md_isr_on_unfence(&w->s), 0);
    assert_int_equal(p->leader, -1);
    /* The ISR's member back: it leads again, in a new epoch. */
    int32_t epoch = p->leader_epoch;
    assert_int_equal(md_node_fence(&w->s, md_broker_node(was.replicas[2]), false), 1);
    assert_int_equal(md_isr_on_unfence(&w->s), 1);
    assert_int_equal(p->leader, was.replicas[2]);
    assert_int_equal(p->leader_epoch, epoch + 1);
    world_free(w);
}

static void test_unclean_election(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 1, 3);
    struct md_partition *p = &t->t.partitions[0];
    struct md_partition was = *p;

    (void)state;
    t->t.config.unclean_leader_election_enable = true;
    for (int32_t k = 0; k < 3; k++) {
        md_node_fence(&w->s, md_broker_node(was.replicas[k]), true);
        md_isr_on_fence(&w->s);
    }
    md_node_fence(&w->s, md_broker_node(was.replicas[0]), false);
    assert_int_equal(md_isr_on_unfence(&w->s), 1);
    assert_int_equal(p->leader, was.replicas[0]);    /* from outside the ISR */
    assert_int_equal(p->nisr, 1);
    assert_int_equal(p->isr[0], was.replicas[0]);    /* which is now it alone */
    world_free(w);
}

static struct ctl_isr_change change(const struct md_partition *p, const int32_t *isr, int32_t n)
{
    struct ctl_isr_change ch = {.topic = "t", .partition = 0, .leader_epoch = p->leader_epoch,
                                .partition_epoch = p->partition_epoch, .nisr = n};
    memcpy(ch.isr, isr, sizeof isr[0] * (size_t)n);
    return ch;
}

static void test_alter_partition(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 1, 3);
    struct md_partition *p = &t->t.partitions[0];
    const int32_t *r = p->replicas;
    int32_t lead = p->leader;
    struct ctl_isr_change ch;

    (void)state;
    /* The leader drops the last replica: committed, in replica order. */
    int32_t shrink[] = {r[1], r[0]};
    ch = change(p, shrink, 2);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_NONE);
    assert_int_equal(p->nisr, 2);
    assert_int_equal(p->isr[0], r[0]);
    assert_int_equal(p->isr[1], r[1]);
    assert_int_equal(p->partition_epoch, 1);
    assert_int_equal(ch.out_partition_epoch, 1);
    assert_int_equal(ch.out_nisr, 2);
    /* The same again, from the old partition epoch: refused. */
    ch = change(p, shrink, 2);
    ch.partition_epoch = 0;
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_INVALID_UPDATE_VERSION);
    assert_int_equal(ch.out_partition_epoch, 1);     /* what it is now */
    /* Not the leader; an old or future leader epoch. */
    int32_t all[] = {r[0], r[1], r[2]};
    ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, r[1], &ch), KERR_NOT_LEADER_OR_FOLLOWER);
    ch.leader_epoch = -1;
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_FENCED_LEADER_EPOCH);
    ch.leader_epoch = 5;
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_UNKNOWN_LEADER_EPOCH);
    /* An ISR without the leader, a duplicate, a broker not a replica. */
    int32_t nolead[] = {r[1]}, dup[] = {r[0], r[0]}, alien[] = {r[0], 999};
    ch = change(p, nolead, 1);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_INVALID_REQUEST);
    ch = change(p, dup, 2);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_INVALID_REQUEST);
    ch = change(p, alien, 2);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_INVALID_REQUEST);
    /* A fenced node may not join. */
    md_node_fence(&w->s, md_broker_node(r[2]), true);
    ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_INELIGIBLE_REPLICA);
    md_node_fence(&w->s, md_broker_node(r[2]), false);
    /* Back: it joins; asking for the ISR it has changes nothing. */
    ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_NONE);
    assert_int_equal(p->nisr, 3);
    assert_int_equal(p->partition_epoch, 2);
    ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_NONE);
    assert_int_equal(p->partition_epoch, 2);
    ch = change(p, all, 3);
    ch.topic = "missing";
    assert_int_equal(md_isr_alter(&w->s, lead, &ch), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    world_free(w);
}

static void test_preferred_leader(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 3, 3);
    struct md_partition *p = &t->t.partitions[0];
    int32_t pref = p->replicas[0], node = md_broker_node(pref);

    (void)state;
    assert_int_equal(md_isr_rebalance(&w->s, 10), 0);      /* balanced */
    md_node_fence(&w->s, node, true);
    md_isr_on_fence(&w->s);
    assert_int_not_equal(p->leader, pref);
    md_node_fence(&w->s, node, false);
    assert_int_equal(md_isr_on_unfence(&w->s), 0);          /* it has a leader */
    /* Back but not in sync: it stays a follower. */
    assert_int_equal(md_isr_rebalance(&w->s, 10), 0);
    int32_t all[] = {p->replicas[0], p->replicas[1], p->replicas[2]};
    struct ctl_isr_change ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, p->leader, &ch), KERR_NONE);
    /* In sync, every one of its preferred partitions led elsewhere: that is
     * not above 100%, but above 10%. */
    assert_int_equal(md_isr_rebalance(&w->s, 100), 0);
    int32_t epoch = p->leader_epoch, pepoch = p->partition_epoch;
    assert_int_equal(md_isr_rebalance(&w->s, 10), 1);
    assert_int_equal(p->leader, pref);
    assert_int_equal(p->leader_epoch, epoch + 1);
    assert_int_equal(p->partition_epoch, pepoch + 1);
    assert_int_equal(p->nisr, 3);
    assert_int_equal(md_isr_rebalance(&w->s, 10), 0);
    world_free(w);
}

static void test_elect_leaders(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 1, 3);
    struct md_partition *p = &t->t.partitions[0];
    struct md_partition was = *p;
    int32_t pref = was.replicas[0];

    (void)state;
    /* The preferred replica leads: nothing to do, either way. */
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 0), KERR_ELECTION_NOT_NEEDED);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 1), KERR_ELECTION_NOT_NEEDED);
    assert_int_equal(md_isr_elect(&w->s, "t", 1, 0), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(md_isr_elect(&w->s, "nope", 0, 0), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 7), KERR_INVALID_REQUEST);
    /* Its node down: another leads; the preferred one is not available. */
    md_node_fence(&w->s, md_broker_node(pref), true);
    md_isr_on_fence(&w->s);
    assert_int_not_equal(p->leader, pref);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 0), KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    /* Back but out of the ISR: still not available. */
    md_node_fence(&w->s, md_broker_node(pref), false);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 0), KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    /* In sync again: a preferred election moves the leadership back, in a
     * new leader epoch, and marks the topic for the commit. */
    int32_t all[] = {was.replicas[0], was.replicas[1], was.replicas[2]};
    struct ctl_isr_change ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, p->leader, &ch), KERR_NONE);
    int32_t epoch = p->leader_epoch, pepoch = p->partition_epoch;
    t->touched = false;
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 0), KERR_NONE);
    assert_int_equal(p->leader, pref);
    assert_int_equal(p->leader_epoch, epoch + 1);
    assert_int_equal(p->partition_epoch, pepoch + 1);
    assert_true(t->touched);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 0), KERR_ELECTION_NOT_NEEDED);

    /* Unclean: every node down, then one that left the ISR first comes
     * back. With unclean.leader.election.enable off the partition stays
     * offline on its own; the operator's unclean election takes it. */
    for (int32_t k = 0; k < 3; k++) {
        md_node_fence(&w->s, md_broker_node(was.replicas[k]), true);
        md_isr_on_fence(&w->s);
    }
    assert_int_equal(p->leader, -1);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 1), KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE);
    md_node_fence(&w->s, md_broker_node(was.replicas[0]), false);
    assert_int_equal(md_isr_on_unfence(&w->s), 0);
    assert_int_equal(p->leader, -1);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 0), KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    epoch = p->leader_epoch;
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 1), KERR_NONE);
    assert_int_equal(p->leader, was.replicas[0]);
    assert_int_equal(p->leader_epoch, epoch + 1);
    assert_int_equal(p->nisr, 1);                    /* it alone */
    assert_int_equal(p->isr[0], was.replicas[0]);
    assert_int_equal(md_isr_elect(&w->s, "t", 0, 1), KERR_ELECTION_NOT_NEEDED);
    world_free(w);
}

/* --- the metadata text ------------------------------------------------------------------ */

static void test_text_round_trip(void **state)
{
    struct world *w = world_new(3, NULL), *v = world_new(0, NULL);
    struct md_live *t = add_topic(w, "t", 3, 3);
    char err[256];
    size_t n1 = 0, n2 = 0;

    (void)state;
    add_topic(w, "single", 2, 1);
    /* Partition 1 has lost its leader's node: a new leader, a smaller ISR. */
    md_node_fence(&w->s, md_broker_node(t->t.partitions[1].leader), true);
    md_isr_on_fence(&w->s);
    md_node_fence(&w->s, 0, false);
    md_node_fence(&w->s, 1, false);
    md_node_fence(&w->s, 2, false);
    char *text = md_text_build(&w->s, false, &n1, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, " replicas "));
    if (md_text_apply(&v->s, text, n1, err, sizeof err) != 0)
        fail_msg("%s", err);
    const struct md_live *u = md_store_find(&v->s, "t");
    assert_non_null(u);
    for (int32_t i = 0; i < 3; i++) {
        const struct md_partition *a = &u->t.partitions[i], *b = &t->t.partitions[i];
        assert_int_equal(a->leader, b->leader);
        assert_int_equal(a->leader_epoch, b->leader_epoch);
        assert_int_equal(a->partition_epoch, b->partition_epoch);
        assert_int_equal(a->nreplicas, b->nreplicas);
        assert_int_equal(a->nisr, b->nisr);
        assert_memory_equal(a->replicas, b->replicas, sizeof a->replicas[0] * (size_t)a->nreplicas);
        assert_memory_equal(a->isr, b->isr, sizeof a->isr[0] * (size_t)a->nisr);
    }
    assert_int_equal(u->t.partitions[1].nisr, 2);   /* the fenced node's replica left */
    assert_int_equal(u->t.partitions[1].leader_epoch, 1);
    char *again = md_text_build(&v->s, false, &n2, NULL);
    assert_non_null(again);
    assert_int_equal(n1, n2);
    assert_memory_equal(text, again, n1);
    free(text);
    free(again);
    world_free(v);
    world_free(w);
}

static void test_text_refuses_bad_replicas(void **state)
{
    static const char *const bad[] = {
        "replicas 0,1000 isr 0,2000",          /* an ISR member not a replica */
        "replicas 0,1 isr 0",                  /* two replicas on one node */
        "replicas 0,1000,0 isr 0",             /* a replica twice */
        "replicas 1000,2000 isr 1000",         /* a leader outside the ISR */
        "replicas 0,1000 isr 0 adding 2000",   /* adding a non-replica */
        "replicas 0,1000 isr 0 adding 1000 removing 1000", /* both */
        "replicas 0,1000 isr 0 removing 1000 removing 1000",
        "replicas 0,1000 isr 0 moving 1000",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct world *w = world_new(3, NULL), *v = world_new(0, NULL);
        char err[256], line[128];
        size_t n = 0;
        add_topic(w, "t", 1, 3);
        char *text = md_text_build(&w->s, false, &n, NULL);
        assert_non_null(text);
        char *at = strstr(text, "partition 0 broker ");
        assert_non_null(at);
        char *eol = strchr(at, '\n');
        snprintf(line, sizeof line, "partition 0 broker 0 epoch 0 pepoch 0 %s", bad[i]);
        size_t head = (size_t)(at - text), tail = n - (size_t)(eol - text);
        char *edited = malloc(head + strlen(line) + tail + 1);
        assert_non_null(edited);
        memcpy(edited, text, head);
        memcpy(edited + head, line, strlen(line));
        memcpy(edited + head + strlen(line), eol, tail);
        edited[head + strlen(line) + tail] = '\0';
        /* Signed again (the text ends in the checksum of what precedes
         * it), so the parser behind the checksum judges the line. */
        char *crc = strstr(edited, "crc32c ");
        assert_non_null(crc);
        size_t body = (size_t)(crc - edited);
        char *signed_text = malloc(body + 32);
        assert_non_null(signed_text);
        memcpy(signed_text, edited, body);
        size_t len = body + (size_t)snprintf(signed_text + body, 32, "crc32c %08x\n",
                                             crc32c(edited, body));
        assert_int_equal(md_text_apply(&v->s, signed_text, len, err, sizeof err), -EINVAL);
        if (!strstr(err, "partition 0"))
            fail_msg("%s: %s", bad[i], err);
        free(signed_text);
        free(edited);
        free(text);
        world_free(v);
        world_free(w);
    }
}

static void assert_ids(const int32_t *ids, int32_t n, const int32_t *want, int32_t nwant)
{
    assert_int_equal(n, nwant);
    assert_memory_equal(ids, want, sizeof want[0] * (size_t)nwant);
}

/* The text of w read into a fresh store: t's partition 0 there. */
static void assert_text_keeps(struct world *w, const struct md_partition *p)
{
    struct world *v = world_new(0, NULL);
    char err[256];
    size_t n = 0;
    char *text = md_text_build(&w->s, false, &n, NULL);

    assert_non_null(text);
    if (md_text_apply(&v->s, text, n, err, sizeof err) != 0)
        fail_msg("%s", err);
    const struct md_partition *q = &md_store_find(&v->s, "t")->t.partitions[0];
    assert_ids(q->replicas, q->nreplicas, p->replicas, p->nreplicas);
    assert_ids(q->isr, q->nisr, p->isr, p->nisr);
    assert_ids(q->adding, q->nadding, p->adding, p->nadding);
    assert_ids(q->removing, q->nremoving, p->removing, p->nremoving);
    assert_int_equal(q->leader, p->leader);
    free(text);
    world_free(v);
}

static void test_reassign(void **state)
{
    struct world *w = world_new(3, NULL);
    struct md_live *t = add_topic(w, "t", 1, 2);
    struct md_partition *p = &t->t.partitions[0];
    int32_t a = p->replicas[0], b = p->replicas[1], c = -1;
    struct ctl_isr_change ch;

    (void)state;
    for (int32_t n = 0; n < 3; n++)
        if (n != md_broker_node(a) && n != md_broker_node(b))
            c = md_broker_id(n, 1);
    assert_int_equal(p->leader, a);
    /* Rule 7: refused, nothing changes. */
    int32_t same_node[] = {a, md_broker_id(md_broker_node(a), 1)}, unknown[] = {a, 7000};
    int32_t next_to_b[] = {a, md_broker_id(md_broker_node(b), 1)}, many[9] = {0};
    assert_int_equal(md_reassign(&w->s, "t", 0, same_node, 2), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(md_reassign(&w->s, "t", 0, unknown, 2), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(md_reassign(&w->s, "t", 0, next_to_b, 2), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(md_reassign(&w->s, "t", 0, many, 0), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(md_reassign(&w->s, "t", 0, many, 9), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(md_reassign(&w->s, "t", 0, NULL, -1), KERR_NO_REASSIGNMENT_IN_PROGRESS);
    assert_int_equal(md_reassign(&w->s, "t", 1, same_node, 2), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(md_reassign(&w->s, "u", 0, same_node, 2), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(p->partition_epoch, 0);
    /* Rule 8: b's replica moves to c; c is added, b removed, the ISR and
     * the leader stay until c is in sync. */
    int32_t t1[] = {a, c}, r1[] = {a, c, b}, isr0[] = {a, b};
    assert_int_equal(md_reassign(&w->s, "t", 0, t1, 2), KERR_NONE);
    assert_true(md_reassigning(p));
    assert_ids(p->replicas, p->nreplicas, r1, 3);
    assert_ids(p->adding, p->nadding, &c, 1);
    assert_ids(p->removing, p->nremoving, &b, 1);
    assert_ids(p->isr, p->nisr, isr0, 2);
    assert_int_equal(p->partition_epoch, 1);
    assert_text_keeps(w, p);            /* in progress, through the log's text */
    /* The leader adds c to the ISR: complete. */
    int32_t all[] = {a, b, c};
    ch = change(p, all, 3);
    assert_int_equal(md_isr_alter(&w->s, a, &ch), KERR_NONE);
    assert_false(md_reassigning(p));
    assert_ids(p->replicas, p->nreplicas, t1, 2);
    assert_ids(p->isr, p->nisr, t1, 2);
    assert_int_equal(p->leader, a);
    assert_int_equal(ch.out_partition_epoch, p->partition_epoch);
    /* The leader's replica moves to b: once b is in sync, b leads. */
    int32_t t2[] = {b, c};
    assert_int_equal(md_reassign(&w->s, "t", 0, t2, 2), KERR_NONE);
    int32_t leader_epoch = p->leader_epoch;
    int32_t with_b[] = {a, c, b};
    ch = change(p, with_b, 3);
    assert_int_equal(md_isr_alter(&w->s, a, &ch), KERR_NONE);
    assert_ids(p->replicas, p->nreplicas, t2, 2);
    assert_int_equal(p->leader, b);
    assert_int_equal(p->leader_epoch, leader_epoch + 1);
    assert_int_equal(ch.out_leader, b);
    /* Rule 9: a move of b's replica to a, cancelled before a caught up:
     * the replicas before it, in its order, less a. */
    int32_t t3[] = {a, c}, back[] = {c, b};
    assert_int_equal(md_reassign(&w->s, "t", 0, t3, 2), KERR_NONE);
    assert_int_equal(md_reassign(&w->s, "t", 0, NULL, -1), KERR_NONE);
    assert_false(md_reassigning(p));
    assert_ids(p->replicas, p->nreplicas, back, 2);
    assert_int_equal(p->leader, b);
    /* Only removing (RF 2 -> 1): complete at once; the leader stays. */
    assert_int_equal(md_reassign(&w->s, "t", 0, &b, 1), KERR_NONE);
    assert_false(md_reassigning(p));
    assert_ids(p->replicas, p->nreplicas, &b, 1);
    assert_ids(p->isr, p->nisr, &b, 1);
    assert_text_keeps(w, p);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_rf3),
        cmocka_unit_test(test_place_racks),
        cmocka_unit_test(test_place_too_few_nodes),
        cmocka_unit_test(test_place_single_node),
        cmocka_unit_test(test_fence_elects_from_isr),
        cmocka_unit_test(test_last_isr_member_stays),
        cmocka_unit_test(test_unclean_election),
        cmocka_unit_test(test_alter_partition),
        cmocka_unit_test(test_preferred_leader),
        cmocka_unit_test(test_elect_leaders),
        cmocka_unit_test(test_text_round_trip),
        cmocka_unit_test(test_text_refuses_bad_replicas),
        cmocka_unit_test(test_reassign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
