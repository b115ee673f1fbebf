/* md_place.c - where new partitions' replicas go (Kafka's replica
 * placement, with sluice's brokers being shards of nodes).
 *
 * Owns: choosing the replicas of new partitions (or taking a manual
 * assignment's brokers, one replica each) and forgetting the placement of
 * partitions that go. A replica is a broker: one shard of
 * one node; a partition's replicas are on different nodes.
 *
 * The rule, for each new partition in turn (counting the partitions
 * placed before it, in this call too):
 *   leader    the broker leading the fewest partitions; ties to the node
 *             leading the fewest, then to the broker holding the fewest
 *             replicas, then to the lowest id. So leaders spread over the
 *             nodes and over the shards of each node.
 *   others    rf - 1 more nodes, each time a node whose rack (broker.rack)
 *             no replica of the partition has yet when there is one, then
 *             the node holding the fewest replicas, then the lowest id; on
 *             that node the shard holding the fewest replicas.
 * A single node (no other node registered) places on its own shards only:
 * six partitions on two idle shards land 0,1,0,1,0,1. Placement is in
 * the metadata, so it is the same after a restart.
 *
 * Never: touches a ring, a socket or a log. */
#include "control/md_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct place_broker {
    int32_t id;
    int32_t node;              /* index in place.nodes */
    int64_t leaders, replicas;
};

struct place_node {
    int32_t id;
    const char *rack;
    int64_t leaders, replicas;
    int32_t first, nbrokers;   /* its brokers in place.brokers */
};

struct place {
    struct place_broker *brokers;
    struct place_node *nodes;
    int32_t nbrokers, nnodes;
};

static void place_free(struct place *pl)
{
    free(pl->brokers);
    free(pl->nodes);
}

/* The brokers replicas may go to: every unfenced node's shards, or this
 * node's alone. */
static int place_init(struct place *pl, const struct md_store *s)
{
    bool cluster = md_nodes_others(s);
    int32_t nn = cluster ? s->nnodes : 1, nb = cluster ? 0 : s->nshards;

    for (int32_t i = 0; cluster && i < s->nnodes; i++)
        if (!s->nodes[i].fenced)
            nb += s->nodes[i].nshards;
    memset(pl, 0, sizeof *pl);
    pl->brokers = calloc((size_t)(nb > 0 ? nb : 1), sizeof *pl->brokers);
    pl->nodes = calloc((size_t)(nn > 0 ? nn : 1), sizeof *pl->nodes);
    if (!pl->brokers || !pl->nodes) {
        place_free(pl);
        return -ENOMEM;
    }
    if (!cluster) {
        pl->nodes[0] = (struct place_node){.id = s->node_id, .rack = "",
                                           .nbrokers = s->nshards};
        pl->nnodes = 1;
        for (int32_t k = 0; k < s->nshards; k++)
            pl->brokers[pl->nbrokers++] = (struct place_broker){
                .id = md_broker_id(s->node_id, k), .node = 0};
        return 0;
    }
    for (int32_t i = 0; i < s->nnodes; i++) {
        const struct md_node *n = &s->nodes[i];
        if (n->fenced)
            continue;
        struct place_node *pn = &pl->nodes[pl->nnodes];
        *pn = (struct place_node){.id = n->id, .rack = n->rack, .first = pl->nbrokers,
                                  .nbrokers = n->nshards};
        for (int32_t k = 0; k < n->nshards; k++)
            pl->brokers[pl->nbrokers++] = (struct place_broker){
                .id = md_broker_id(n->id, k), .node = pl->nnodes};
        pl->nnodes++;
    }
    return 0;
}

static struct place_broker *place_find(struct place *pl, int32_t id)
{
    for (int32_t i = 0; i < pl->nbrokers; i++)
        if (pl->brokers[i].id == id)
            return &pl->brokers[i];
    return NULL;
}

static void place_count(struct place *pl, const struct md_partition *p)
{
    for (int32_t r = 0; r < p->nreplicas; r++) {
        struct place_broker *b = place_find(pl, p->replicas[r]);
        if (!b)
            continue;
        b->replicas++;
        pl->nodes[b->node].replicas++;
        if (r == 0) {                   /* the preferred leader */
            b->leaders++;
            pl->nodes[b->node].leaders++;
        }
    }
}

static bool leader_better(const struct place *pl, const struct place_broker *a,
                          const struct place_broker *b)
{
    if (a->leaders != b->leaders)
        return a->leaders < b->leaders;
    if (pl->nodes[a->node].leaders != pl->nodes[b->node].leaders)
        return pl->nodes[a->node].leaders < pl->nodes[b->node].leaders;
    if (a->replicas != b->replicas)
        return a->replicas < b->replicas;
    return a->id < b->id;
}

static bool rack_taken(const struct place *pl, const struct md_partition *p, const char *rack)
{
    if (!rack[0])
        return false;
    for (int32_t r = 0; r < p->nreplicas; r++) {
        struct place_broker *b = place_find((struct place *)pl, p->replicas[r]);
        if (b && strcmp(pl->nodes[b->node].rack, rack) == 0)
            return true;
    }
    return false;
}

static bool node_taken(const struct place *pl, const struct md_partition *p, int32_t node)
{
    for (int32_t r = 0; r < p->nreplicas; r++)
        if (md_broker_node(p->replicas[r]) == pl->nodes[node].id)
            return true;
    return false;
}

/* The next follower of p: a node per the rule, its least-loaded shard. */
static struct place_broker *place_follower(struct place *pl, const struct md_partition *p)
{
    int32_t best = -1;
    bool best_rack = false;

    for (int32_t i = 0; i < pl->nnodes; i++) {
        if (node_taken(pl, p, i))
            continue;
        bool fresh = !rack_taken(pl, p, pl->nodes[i].rack);
        if (best < 0 || (fresh && !best_rack) ||
            (fresh == best_rack && pl->nodes[i].replicas < pl->nodes[best].replicas)) {
            best = i;
            best_rack = fresh;
        }
    }
    if (best < 0)
        return NULL;
    struct place_node *n = &pl->nodes[best];
    struct place_broker *b = &pl->brokers[n->first];
    for (int32_t k = 1; k < n->nbrokers; k++)
        if (pl->brokers[n->first + k].replicas < b->replicas)
            b = &pl->brokers[n->first + k];
    return b;
}

static int place_one(struct place *pl, struct md_partition *p, int32_t index, int32_t rf)
{
    struct place_broker *lead = &pl->brokers[0];

    for (int32_t i = 1; i < pl->nbrokers; i++)
        if (leader_better(pl, &pl->brokers[i], lead))
            lead = &pl->brokers[i];
    *p = md_partition_single(index, lead->id);
    while (p->nreplicas < rf) {
        struct place_broker *b = place_follower(pl, p);
        if (!b)
            return -EINVAL;
        p->replicas[p->nreplicas++] = b->id;
        p->isr[p->nisr++] = b->id;
    }
    place_count(pl, p);
    return 0;
}

int32_t md_place_nodes(const struct md_store *s)
{
    int32_t n = 0;

    if (!md_nodes_others(s))
        return 1;
    for (int32_t i = 0; i < s->nnodes; i++)
        n += !s->nodes[i].fenced;
    return n;
}

static void load_adjust(struct md_store *s, const struct md_partition *p, int delta)
{
    int32_t local = md_partition_on_node(p, s->node_id);

    if (local >= 0 && md_broker_shard(local) < s->nshards)
        s->load[md_broker_shard(local)] += delta;
}

/* Room in t for count partitions. */
static int partitions_grow(struct md_live *t, int32_t count)
{
    if (count > t->cap) {
        struct md_partition *p = realloc(t->t.partitions, sizeof(*p) * (size_t)count);
        if (!p)
            return -ENOMEM;
        t->t.partitions = p;
        t->cap = count;
    }
    return 0;
}

int md_store_place(struct md_store *s, struct md_live *t, int32_t count, int32_t rf)
{
    struct place pl;
    int rc;

    if (rf < 1 || rf > MD_REPLICAS_MAX || rf > md_place_nodes(s))
        return -EINVAL;
    if ((rc = partitions_grow(t, count)) < 0)
        return rc;
    if ((rc = place_init(&pl, s)) < 0)
        return rc;
    if (pl.nbrokers == 0) {
        place_free(&pl);
        return -EINVAL;
    }
    for (int32_t i = 0; i < s->ntopics; i++)
        for (int32_t p = 0; p < s->topics[i]->nplaced; p++)
            place_count(&pl, &s->topics[i]->t.partitions[p]);
    int32_t i;
    for (i = t->nplaced; i < count && rc == 0; i++)
        rc = place_one(&pl, &t->t.partitions[i], i, rf);
    place_free(&pl);
    if (rc < 0)
        return rc;
    for (i = t->nplaced; i < count; i++)
        load_adjust(s, &t->t.partitions[i], 1);
    if (count > t->nplaced)
        t->nplaced = count;
    return 0;
}

int md_store_place_on(struct md_store *s, struct md_live *t, int32_t count,
                      const int32_t *brokers)
{
    int rc = partitions_grow(t, count);
    if (rc < 0)
        return rc;
    for (int32_t i = t->nplaced; i < count; i++) {
        t->t.partitions[i] = md_partition_single(i, brokers[i - t->nplaced]);
        load_adjust(s, &t->t.partitions[i], 1);
    }
    if (count > t->nplaced)
        t->nplaced = count;
    return 0;
}

void md_store_unplace(struct md_store *s, struct md_live *t, int32_t count)
{
    for (int32_t i = count; i < t->nplaced; i++)
        load_adjust(s, &t->t.partitions[i], -1);
    if (count < t->nplaced)
        t->nplaced = count;
    if (t->t.npartitions > t->nplaced)
        t->t.npartitions = t->nplaced;
}
