/* md_nodes.c - the nodes of the cluster as the metadata log knows them
 * (KRaft's RegisterBrokerRecord and FenceBrokerRecord): each node's
 * brokers (one per shard: the host and port clients reach it on), its rack,
 * and whether it is fenced.
 *
 * Owns: the sorted table of nodes in the store, registering and fencing,
 * and the list of brokers clients are told about (every unfenced node's
 * shards, node 0's shard 0 first). The text of a node is md_file.c's.
 *
 * A node registers itself: the controller leader writes its own record,
 * any other node sends its record to the leader (BrokerRegistration,
 * dataplane/handle_cluster.c), which commits it. A record that equals the
 * one committed changes nothing, so a restart on the same ports costs no
 * entry.
 *
 * Never: touches a ring, a socket or a log. */
#include "control/md_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct md_node *md_node_find(const struct md_store *s, int32_t id)
{
    int32_t lo = 0, hi = s->nnodes;

    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (s->nodes[mid].id == id)
            return &s->nodes[mid];
        if (s->nodes[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool md_node_equal(const struct md_node *a, const struct md_node *b)
{
    if (a->id != b->id || a->nshards != b->nshards || a->fenced != b->fenced ||
        strcmp(a->rack, b->rack) != 0)
        return false;
    for (int32_t i = 0; i < a->nshards; i++)
        if (a->brokers[i].port != b->brokers[i].port ||
            strcmp(a->brokers[i].host, b->brokers[i].host) != 0)
            return false;
    return true;
}

int md_node_put(struct md_store *s, const struct md_node *n)
{
    struct md_node *old = md_node_find(s, n->id);
    struct md_node_broker *b;
    int32_t at;

    if (n->nshards < 1 || n->nshards > MD_NODE_SHARDS)
        return -EINVAL;
    if (old && md_node_equal(old, n))
        return 0;
    if (!(b = malloc(sizeof *b * (size_t)n->nshards)))
        return -ENOMEM;
    memcpy(b, n->brokers, sizeof *b * (size_t)n->nshards);
    if (old) {
        free(old->brokers);
        *old = *n;
        old->brokers = b;
        old->committed = false;
        return 1;
    }
    if (s->nnodes == s->nodes_cap) {
        int32_t cap = s->nodes_cap ? s->nodes_cap * 2 : 8;
        struct md_node *v = realloc(s->nodes, sizeof *v * (size_t)cap);
        if (!v) {
            free(b);
            return -ENOMEM;
        }
        s->nodes = v;
        s->nodes_cap = cap;
    }
    for (at = 0; at < s->nnodes && s->nodes[at].id < n->id; at++)
        ;
    memmove(&s->nodes[at + 1], &s->nodes[at],
            sizeof *s->nodes * (size_t)(s->nnodes - at));
    s->nodes[at] = *n;
    s->nodes[at].brokers = b;
    s->nodes[at].committed = false;
    s->nnodes++;
    return 1;
}

int md_node_fence(struct md_store *s, int32_t id, bool fenced)
{
    struct md_node *n = md_node_find(s, id);

    if (!n || n->fenced == fenced)
        return 0;
    n->fenced = fenced;
    n->committed = false;
    return 1;
}

void md_nodes_free(struct md_store *s)
{
    for (int32_t i = 0; i < s->nnodes; i++)
        free(s->nodes[i].brokers);
    free(s->nodes);
    s->nodes = NULL;
    s->nnodes = s->nodes_cap = 0;
}

int md_node_self(const struct md_store *s, struct md_node *out)
{
    const char *rack = s->cfg->broker_rack;

    memset(out, 0, sizeof *out);
    out->id = s->node_id;
    out->nshards = s->nshards;
    if (broker_config_is_set(s->cfg, "broker.rack"))
        snprintf(out->rack, sizeof out->rack, "%s", rack);
    if (!(out->brokers = calloc((size_t)s->nshards, sizeof *out->brokers)))
        return -ENOMEM;
    for (int i = 0; i < s->nshards; i++) {
        snprintf(out->brokers[i].host, sizeof out->brokers[i].host, "%s",
                 s->brokers[i].host);
        out->brokers[i].port = s->brokers[i].port;
    }
    return 0;
}

int32_t md_nodes_broker_count(const struct md_store *s)
{
    int32_t n = 0;

    if (!md_node_find(s, s->node_id))
        return s->nshards;                  /* not registered yet: ours */
    for (int32_t i = 0; i < s->nnodes; i++)
        if (!s->nodes[i].fenced || s->nodes[i].id == s->node_id)
            n += s->nodes[i].nshards;
    return n;
}

void md_nodes_brokers(const struct md_store *s, struct md_broker *out)
{
    int32_t k = 0;

    if (!md_node_find(s, s->node_id)) {
        memcpy(out, s->brokers, sizeof *out * (size_t)s->nshards);
        return;
    }
    for (int32_t i = 0; i < s->nnodes; i++) {
        const struct md_node *n = &s->nodes[i];
        if (n->fenced && n->id != s->node_id)
            continue;
        for (int32_t j = 0; j < n->nshards; j++, k++) {
            out[k] = (struct md_broker){.node_id = md_broker_id(n->id, j),
                                        .port = n->brokers[j].port};
            snprintf(out[k].host, sizeof out[k].host, "%s",
                     n->brokers[j].host);
            snprintf(out[k].rack, sizeof out[k].rack, "%s", n->rack);
        }
    }
}

bool md_nodes_others(const struct md_store *s)
{
    for (int32_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i].id != s->node_id && !s->nodes[i].fenced)
            return true;
    return false;
}
