/* handle_meta.c - Metadata, DescribeCluster, DescribeTopicPartitions and
 * FindCoordinator, answered from the shard's metadata snapshot.
 *
 * Each shard is a broker of its own (node id = shard index, its own port)
 * and the leader of the partitions placed on it, so clients send each
 * partition's produce and fetch traffic straight to its owning core.
 * Metadata for a missing topic creates it when auto.create.topics.enable
 * allows (the control thread does it; the answer waits for it). */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_group.h"
#include "dataplane/kafka/msg_metadata.h"
#include "storage/kerr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KERR_INVALID_TOPIC 17

static bool topic_name_valid(struct kstr n)
{
    if (n.len <= 0 || n.len > MD_TOPIC_NAME_MAX)
        return false;
    if ((n.len == 1 && n.p[0] == '.') || (n.len == 2 && n.p[0] == '.' && n.p[1] == '.'))
        return false;
    for (int32_t i = 0; i < n.len; i++) {
        char c = n.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int fill_topic(struct request *rq, struct kafka_metadata_topic *out,
                      const struct md_topic *t)
{
    out->error_code = KERR_NONE;
    out->name = kstr_c(t->name);
    memcpy(out->topic_id.b, t->id, sizeof(out->topic_id.b));
    out->is_internal = t->internal;
    out->topic_authorized_operations = INT32_MIN;
    out->partitions.n = t->npartitions;
    out->partitions.v = kafka_arena_alloc(&rq->arena,
                                          sizeof(*out->partitions.v) * (size_t)t->npartitions + 1);
    int32_t *offline = kafka_arena_alloc(&rq->arena, sizeof(int32_t) * MD_REPLICAS_MAX *
                                                         (size_t)t->npartitions + 1);
    if (!out->partitions.v || !offline)
        return -ENOMEM;
    for (int32_t i = 0; i < t->npartitions; i++) {
        struct kafka_metadata_partition *p = &out->partitions.v[i];
        const struct md_partition *mp = &t->partitions[i];
        /* No leader: the nodes of its ISR are fenced (Kafka's offline). */
        p->error_code = mp->leader < 0 ? KERR_LEADER_NOT_AVAILABLE : KERR_NONE;
        p->partition_index = mp->index;
        p->leader_id = mp->leader;
        p->leader_epoch = mp->leader_epoch;
        p->replica_nodes.v = (int32_t *)mp->replicas;
        p->replica_nodes.n = mp->nreplicas;
        p->isr_nodes.v = (int32_t *)mp->isr;
        p->isr_nodes.n = mp->nisr;
        p->offline_replicas.v = &offline[i * MD_REPLICAS_MAX];
        p->offline_replicas.n = 0;
        for (int32_t k = 0; k < mp->nreplicas; k++)
            if (!md_find_broker(rq->shard->md, mp->replicas[k]) || /* fenced */
                (mp->offline && mp->replicas[k] == mp->leader))
                p->offline_replicas.v[p->offline_replicas.n++] = mp->replicas[k];
        if (mp->offline) {
            /* Its replica here hit a disk fault (dataplane/partition_fault.c):
             * Kafka's offline replica, no leader to send anything to. */
            p->error_code = KERR_KAFKA_STORAGE_ERROR;
            p->leader_id = -1;
        }
    }
    return 0;
}

/* The arena bytes fill_topic takes for t: its partitions, their node
 * arrays, and each allocation's alignment. */
static size_t topic_arena_need(const struct md_topic *t)
{
    size_t np = t ? (size_t)t->npartitions : 0;
    return sizeof(struct kafka_metadata_partition) * np + sizeof(int32_t) * np + 32;
}

/* What metadata_respond will allocate, so that a cluster of thousands of
 * partitions is answered rather than overflowing the pooled arena. */
static size_t metadata_arena_need(const struct kafka_metadata_req *req,
                                  const struct md_snapshot *md, bool all, int32_t n)
{
    size_t need = sizeof(struct kafka_metadata_topic) * (size_t)n + 64;
    for (int32_t i = 0; i < n; i++) {
        if (all) {
            need += topic_arena_need(&md->topics[i]);
            continue;
        }
        struct kstr name = req->topics.v[i].name;
        need += topic_arena_need(name.len > 0 ? md_find_topic(md, name.p, (size_t)name.len)
                                              : NULL);
    }
    return need;
}

/* Where a client reaches broker b: on the listener it came in through. */
static void broker_endpoint(const struct request *rq, const struct md_broker *b,
                            struct kstr *host, int32_t *port)
{
    listeners_endpoint(rq->shard->cfg.listeners, rq->conn ? rq->conn->listener : 0, b, host,
                       port);
}

/* Metadata may create missing topics (auto.create.topics.enable and the
 * request's allow_auto_topic_creation). */
static bool autocreate_applies(const struct request *rq)
{
    const struct kafka_metadata_req *req = rq->body;
    return (rq->api_version < 4 || req->allow_auto_topic_creation) &&
           rq->shard->cfg.broker->auto_create_topics_enable;
}

static int metadata_respond(struct request *rq)
{
    const struct kafka_metadata_req *req = rq->body;
    const struct md_snapshot *md = rq->shard->md;
    struct kafka_arena *a = &rq->arena;
    struct kafka_metadata_resp *resp = kafka_arena_alloc(a, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    resp->brokers.n = md->nbrokers;
    resp->brokers.v = kafka_arena_alloc(a, sizeof(*resp->brokers.v) * (size_t)md->nbrokers + 1);
    if (!resp->brokers.v)
        return -ENOMEM;
    for (int32_t i = 0; i < md->nbrokers; i++) {
        resp->brokers.v[i].node_id = md->brokers[i].node_id;
        broker_endpoint(rq, &md->brokers[i], &resp->brokers.v[i].host,
                        &resp->brokers.v[i].port);
        resp->brokers.v[i].rack = md->brokers[i].rack[0] ? kstr_c(md->brokers[i].rack)
                                                          : KSTR_NULL;
    }
    resp->cluster_id = kstr_c(md->cluster_id);
    resp->controller_id = md->controller_id;
    resp->cluster_authorized_operations = INT32_MIN;
    bool all = req->topics.n < 0 || (rq->api_version == 0 && req->topics.n == 0);
    int32_t n = all ? md->ntopics : req->topics.n;
    if (request_arena_reserve(rq, metadata_arena_need(req, md, all, n)) < 0)
        return -ENOMEM;
    resp->topics.n = n;
    resp->topics.v = kafka_arena_alloc(a, sizeof(*resp->topics.v) * (size_t)n + 1);
    if (!resp->topics.v)
        return -ENOMEM;
    for (int32_t i = 0, j = 0; i < n; i++) {
        struct kafka_metadata_topic *out = &resp->topics.v[j];
        if (all) {
            /* topics it may not DESCRIBE are left out, as Kafka does */
            const struct md_topic *t = &md->topics[i];
            if (!authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_TOPIC, t->name, strlen(t->name))) {
                resp->topics.n--;
                continue;
            }
            if (fill_topic(rq, out, t) < 0)
                return -ENOMEM;
            j++;
            continue;
        }
        j++;
        struct kstr name = req->topics.v[i].name;
        const struct md_topic *t = name.len > 0 ? md_find_topic(md, name.p, (size_t)name.len)
                                                : NULL;
        if (!authz_topic(rq, ACL_OP_DESCRIBE, name) ||
            (!t && topic_name_valid(name) && autocreate_applies(rq) && !authz_may_create_topic(rq, name))) {
            out->name = name;
            out->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
            out->topic_authorized_operations = INT32_MIN;
            continue;
        }
        if (t) {
            if (fill_topic(rq, out, t) < 0)
                return -ENOMEM;
            continue;
        }
        out->name = name;
        out->error_code = topic_name_valid(name) ? KERR_UNKNOWN_TOPIC_OR_PARTITION
                                                 : KERR_INVALID_TOPIC;
        out->topic_authorized_operations = INT32_MIN;
    }
    return request_respond(rq, resp);
}

static void metadata_created(struct request *rq, struct ctl_msg *m)
{
    (void)m;
    if (metadata_respond(rq) < 0)
        conn_close(rq->conn, "cannot encode a metadata response");
}

/* Posts the missing, valid topic names for auto-creation; 1 if posted. */
static int metadata_autocreate(struct request *rq)
{
    const struct kafka_metadata_req *req = rq->body;
    const struct md_snapshot *md = rq->shard->md;
    if (!autocreate_applies(rq) || req->topics.n <= 0)
        return 0;
    struct ctl_topic_spec *specs = kafka_arena_alloc(&rq->arena,
                                                     sizeof(*specs) * (size_t)req->topics.n);
    if (!specs)
        return -ENOMEM;
    int n = 0;
    for (int32_t i = 0; i < req->topics.n; i++) {
        struct kstr name = req->topics.v[i].name;
        if (!topic_name_valid(name) || md_find_topic(md, name.p, (size_t)name.len) ||
            !authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_TOPIC, name.p, (size_t)name.len) ||
            !authz_may_create_topic(rq, name))
            continue;
        const char *copy;
        if (request_cstr(rq, name, &copy) < 0)
            return -ENOMEM;
        specs[n++] = (struct ctl_topic_spec){ .name = copy, .num_partitions = -1,
                                              .replication_factor = -1 };
    }
    if (n == 0)
        return 0;
    memset(&rq->ctl, 0, sizeof(rq->ctl));
    rq->ctl.op = CTL_CREATE_TOPICS;
    rq->ctl.u.create_topics = (struct ctl_create_topics){ .ntopics = n, .topics = specs,
                                                          .auto_create = true };
    if (request_ctl_arena(rq, 4096) < 0)
        return -ENOMEM;
    request_post_ctl(rq, metadata_created);
    return 1;
}

int handle_metadata(struct request *rq)
{
    int rc = metadata_autocreate(rq);
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : metadata_respond(rq);
}

int handle_describe_cluster(struct request *rq)
{
    const struct md_snapshot *md = rq->shard->md;
    struct kafka_arena *a = &rq->arena;
    struct kafka_describe_cluster_resp *resp = kafka_arena_alloc(a, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    resp->error_message = KSTR_NULL;
    resp->endpoint_type = 1;
    resp->cluster_id = kstr_c(md->cluster_id);
    resp->controller_id = md->controller_id;
    resp->cluster_authorized_operations = INT32_MIN;
    resp->brokers.n = md->nbrokers;
    resp->brokers.v = kafka_arena_alloc(a, sizeof(*resp->brokers.v) * (size_t)md->nbrokers + 1);
    if (!resp->brokers.v)
        return -ENOMEM;
    for (int32_t i = 0; i < md->nbrokers; i++) {
        resp->brokers.v[i].broker_id = md->brokers[i].node_id;
        broker_endpoint(rq, &md->brokers[i], &resp->brokers.v[i].host,
                        &resp->brokers.v[i].port);
        resp->brokers.v[i].rack = md->brokers[i].rack[0] ? kstr_c(md->brokers[i].rack)
                                                          : KSTR_NULL;
    }
    return request_respond(rq, resp);
}

/* --- DescribeTopicPartitions (KIP-966) ---------------------------------------- */

#define DTP_LIMIT_MAX 2000      /* Kafka's max.request.partition.size.limit */

static int kstr_cmp(const void *a, const void *b)
{
    const struct kstr *x = a, *y = b;
    int32_t n = x->len < y->len ? x->len : y->len;
    int c = n > 0 ? memcmp(x->p, y->p, (size_t)n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Partitions [from, to) of t into out, as Metadata describes them. */
static int dtp_topic(struct request *rq, struct kafka_dtp_topic *out,
                     const struct md_topic *t, int32_t from, int32_t to)
{
    int32_t n = to - from;
    int32_t *nodes = kafka_arena_alloc(&rq->arena, sizeof(int32_t) * (size_t)n + 1);

    out->name = kstr_c(t->name);
    memcpy(out->topic_id.b, t->id, sizeof out->topic_id.b);
    out->is_internal = t->internal;
    out->topic_authorized_operations = INT32_MIN;
    out->partitions.n = n;
    out->partitions.v = kafka_arena_alloc(&rq->arena, sizeof(*out->partitions.v) * (size_t)n + 1);
    if (!out->partitions.v || !nodes)
        return -ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const struct md_partition *mp = &t->partitions[from + i];
        nodes[i] = mp->leader;
        out->partitions.v[i] = (struct kafka_dtp_partition){
            .partition_index = mp->index, .leader_id = mp->leader,
            .leader_epoch = mp->leader_epoch,
            .replica_nodes = {&nodes[i], 1}, .isr_nodes = {&nodes[i], 1},
            .eligible_leader_replicas = {NULL, 0}, .last_known_elr = {NULL, 0}};
        if (mp->offline) { /* a disk fault, as in Metadata */
            out->partitions.v[i].error_code = KERR_KAFKA_STORAGE_ERROR;
            out->partitions.v[i].leader_id = -1;
            out->partitions.v[i].offline_replicas.v = &nodes[i];
            out->partitions.v[i].offline_replicas.n = 1;
        }
    }
    return 0;
}

/* The topics asked (sorted by name, as Kafka answers them) or every topic,
 * from the cursor on, at most limit partitions; the next cursor when more
 * are left. */
int handle_describe_topic_partitions(struct request *rq)
{
    const struct kafka_dtp_req *req = rq->body;
    const struct md_snapshot *md = rq->shard->md;
    struct kafka_arena *a = &rq->arena;
    struct kafka_dtp_resp *resp = kafka_arena_alloc(a, sizeof(*resp));
    bool all = req->topics.n <= 0;
    int32_t n = all ? md->ntopics : req->topics.n, k = 0;
    int32_t limit = req->response_partition_limit;
    size_t most = (size_t)(limit <= 0 || limit > DTP_LIMIT_MAX ? DTP_LIMIT_MAX : limit);
    if (request_arena_reserve(rq, (sizeof(struct kstr) + sizeof(struct kafka_dtp_topic) + 32) *
                                      (size_t)n + most * (sizeof(struct kafka_dtp_partition) +
                                                          sizeof(int32_t)) + 64) < 0)
        return -ENOMEM;
    struct kstr *names = kafka_arena_alloc(a, sizeof(*names) * (size_t)n + 1);
    const struct kafka_dtp_cursor *cur = req->cursor.n > 0 ? req->cursor.v : NULL;

    if (!resp || !names)
        return -ENOMEM;
    kafka_defaults(&kafka_dtp_resp_s, resp);
    if (limit <= 0 || limit > DTP_LIMIT_MAX)
        limit = DTP_LIMIT_MAX;
    for (int32_t i = 0; i < n; i++)
        names[i] = all ? kstr_c(md->topics[i].name) : req->topics.v[i].name;
    qsort(names, (size_t)n, sizeof(*names), kstr_cmp);
    resp->topics.v = kafka_arena_alloc(a, sizeof(*resp->topics.v) * (size_t)n + 1);
    if (!resp->topics.v)
        return -ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        int32_t from = 0;
        if (i > 0 && kstr_cmp(&names[i], &names[i - 1]) == 0)
            continue;                           /* asked twice */
        if (cur) {
            int c = kstr_cmp(&names[i], &cur->topic_name);
            if (c < 0)
                continue;                       /* before the cursor */
            if (c == 0)
                from = cur->partition_index > 0 ? cur->partition_index : 0;
        }
        const struct md_topic *t = names[i].len > 0
            ? md_find_topic(md, names[i].p, (size_t)names[i].len) : NULL;
        struct kafka_dtp_topic *out = &resp->topics.v[k];
        *out = (struct kafka_dtp_topic){.name = names[i],
                                        .topic_authorized_operations = INT32_MIN};
        if (all && !authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_TOPIC, names[i].p,
                                (size_t)names[i].len))
            continue;                           /* listed: only what it may DESCRIBE */
        if (!all && !authz_topic(rq, ACL_OP_DESCRIBE, names[i])) {
            out->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
            k++;
            continue;
        }
        if (!t) {
            out->error_code = topic_name_valid(names[i]) ? KERR_UNKNOWN_TOPIC_OR_PARTITION
                                                         : KERR_INVALID_TOPIC;
            k++;
            continue;
        }
        if (from > t->npartitions)
            from = t->npartitions;              /* a cursor past the end */
        if (limit == 0) {
            resp->next_cursor.v = kafka_arena_alloc(a, sizeof(*resp->next_cursor.v));
            if (!resp->next_cursor.v)
                return -ENOMEM;
            *resp->next_cursor.v = (struct kafka_dtp_cursor){names[i], from};
            resp->next_cursor.n = 1;
            break;
        }
        int32_t to = t->npartitions - from > limit ? from + limit : t->npartitions;
        if (dtp_topic(rq, out, t, from, to) < 0)
            return -ENOMEM;
        limit -= to - from;
        k++;
        if (to < t->npartitions) {
            resp->next_cursor.v = kafka_arena_alloc(a, sizeof(*resp->next_cursor.v));
            if (!resp->next_cursor.v)
                return -ENOMEM;
            *resp->next_cursor.v = (struct kafka_dtp_cursor){names[i], to};
            resp->next_cursor.n = 1;
            break;
        }
    }
    resp->topics.n = k;
    return request_respond(rq, resp);
}

/* Groups and transactions are coordinated by the control thread, reached
 * through any shard; shard 0 is the coordinator every client is sent to. */
/* Kafka: DESCRIBE on the group (key type 0) or transactional id (1). */
static int16_t coordinator_refused(struct request *rq, struct kstr key)
{
    const struct kafka_find_coordinator_req *req = rq->body;
    if (req->key_type == 1)
        return authz_txn_id(rq, ACL_OP_DESCRIBE, key) ? 0
                                                      : KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    return authz_group(rq, ACL_OP_DESCRIBE, key) ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
}

int handle_find_coordinator(struct request *rq)
{
    const struct kafka_find_coordinator_req *req = rq->body;
    const struct md_snapshot *md = rq->shard->md;
    struct kafka_arena *a = &rq->arena;
    struct kafka_find_coordinator_resp *resp = kafka_arena_alloc(a, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    const struct md_broker *b = &md->brokers[0];
    resp->error_message = KSTR_NULL;
    resp->node_id = b->node_id;
    broker_endpoint(rq, b, &resp->host, &resp->port);
    if (rq->api_version < 4 && (resp->error_code = coordinator_refused(rq, req->key))) {
        resp->node_id = -1;
        resp->host = KSTR_LIT("");
        resp->port = -1;
    }
    if (req->coordinator_keys.n > 0) {
        resp->coordinators.n = req->coordinator_keys.n;
        resp->coordinators.v = kafka_arena_alloc(a, sizeof(*resp->coordinators.v) *
                                                        (size_t)req->coordinator_keys.n);
        if (!resp->coordinators.v)
            return -ENOMEM;
        for (int32_t i = 0; i < req->coordinator_keys.n; i++)
            resp->coordinators.v[i] = (struct kafka_coordinator){
                .key = req->coordinator_keys.v[i], .node_id = b->node_id,
                .host = resp->host, .port = resp->port, .error_message = KSTR_NULL,
                .error_code = coordinator_refused(rq, req->coordinator_keys.v[i]) };
    }
    return request_respond(rq, resp);
}
