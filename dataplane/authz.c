/* authz.c - the shard's side of the authorizer (authz.h): who is asking,
 * the check against the snapshot, the denial counter and log line, and
 * the APIs authorised as a whole (one group, one transactional id, the
 * cluster), answered here with Kafka's error when refused.
 *
 * The operations are KafkaApis': group APIs READ the group, transactions
 * WRITE their transactional id, InitProducerId without one needs
 * IDEMPOTENT_WRITE on the cluster or WRITE on some topic (Kafka 3+),
 * cluster APIs DESCRIBE, ALTER or CLUSTER_ACTION the cluster. APIs with
 * per-topic or per-group results are checked inside their handlers.
 *
 * Never: blocks, allocates (except the request's own arena for an error
 * answer), or reads anything but the shard's current snapshot. */
#include "dataplane/authz.h"
#include "dataplane/shard_private.h"
#include "dataplane/sasl.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_cluster.h"
#include "dataplane/kafka/msg_fetch.h"
#include "dataplane/kafka/msg_produce.h"
#include "dataplane/kafka/msg_group.h"
#include "dataplane/kafka/msg_metadata.h"
#include "dataplane/kafka/msg_security.h"
#include "dataplane/kafka/msg_txn.h"
#include "slog/slog.h"

#include <string.h>

static const struct acl_snapshot *snapshot(const struct request *rq)
{
    const struct md_snapshot *md = rq->shard->md;
    return md ? md->acls : NULL;
}

bool authz_enabled(const struct request *rq)
{
    const struct acl_snapshot *a = snapshot(rq);
    return a && a->enabled;
}

static const char *host_of(const struct request *rq)
{
    return rq->conn ? rq->conn->peer.text : "";
}

bool authz_quiet(const struct request *rq, int op, int type, const char *name, size_t len)
{
    const struct acl_snapshot *a = snapshot(rq);
    if (!a || !a->enabled || !rq->conn)
        return true;            /* no authorizer; the shard's own requests */
    return acl_authorize(a, conn_principal(rq->conn), host_of(rq), op, type, name, len);
}

/* One line a second per shard at most (_Thread_local: a shard is a
 * thread), saying how many were not logged since. */
static _Thread_local int64_t last_log_ms = -1000000;
static _Thread_local uint64_t unlogged;

static void denied(struct request *rq, int op, int type, const char *name, size_t len)
{
    struct shard *s = rq->shard;
    s->metrics.authz_denied++;
    if (s->mono_ms - last_log_ms < 1000) {
        unlogged++;
        return;
    }
    last_log_ms = s->mono_ms;
    slog(SLOG_WARN, "shard", "authorization denied principal=\"%s\" host=%s operation=%s "
         "resource=%s:%.*s api=%d shard=%d not_logged=%llu", conn_principal(rq->conn),
         host_of(rq), acl_operation_name(op), acl_resource_type_name(type),
         (int)(len > 256 ? 256 : len), name, rq->api_key, s->cfg.index,
         (unsigned long long)unlogged);
    unlogged = 0;
}

bool authz_allow(struct request *rq, int op, int type, const char *name, size_t len)
{
    if (authz_quiet(rq, op, type, name, len))
        return true;
    denied(rq, op, type, name, len);
    return false;
}

bool authz_group(struct request *rq, int op, struct kstr group)
{
    return authz_allow(rq, op, ACL_RES_GROUP, group.p, group.len > 0 ? (size_t)group.len : 0);
}

bool authz_txn_id(struct request *rq, int op, struct kstr id)
{
    return authz_allow(rq, op, ACL_RES_TRANSACTIONAL_ID, id.p, id.len > 0 ? (size_t)id.len : 0);
}

/* Kafka 3+: an idempotent producer needs IDEMPOTENT_WRITE on the cluster
 * or WRITE on at least one topic (some ALLOW of the principal, none of the
 * "*" DENYs refusing every topic). */
static bool idempotent_ok(struct request *rq)
{
    const struct acl_snapshot *a = snapshot(rq);
    if (authz_quiet(rq, ACL_OP_IDEMPOTENT_WRITE, ACL_RES_CLUSTER, ACL_CLUSTER_NAME,
                    sizeof ACL_CLUSTER_NAME - 1))
        return true;
    const char *principal = conn_principal(rq->conn), *host = host_of(rq);
    for (int i = 0; i < a->n; i++) {
        const struct acl_binding *b = &a->v[i];
        if (b->resource_type != ACL_RES_TOPIC || b->permission != ACL_PERM_ALLOW ||
            (b->operation != ACL_OP_WRITE && b->operation != ACL_OP_ALL))
            continue;
        if ((strcmp(b->principal, principal) == 0 || strcmp(b->principal, "User:*") == 0) &&
            (strcmp(b->host, ACL_WILDCARD) == 0 || strcmp(b->host, host) == 0) &&
            authz_quiet(rq, ACL_OP_WRITE, ACL_RES_TOPIC, b->name, strlen(b->name)))
            return true;
    }
    denied(rq, ACL_OP_IDEMPOTENT_WRITE, ACL_RES_CLUSTER, ACL_CLUSTER_NAME,
           sizeof ACL_CLUSTER_NAME - 1);
    return false;
}

bool authz_may_create_topic(struct request *rq, struct kstr name)
{
    return authz_quiet(rq, ACL_OP_CREATE, ACL_RES_CLUSTER, ACL_CLUSTER_NAME,
                       sizeof ACL_CLUSTER_NAME - 1) ||
           authz_topic(rq, ACL_OP_CREATE, name);
}

int16_t authz_config_resource(struct request *rq, int8_t type, struct kstr name, int op)
{
    if (type == ACL_RES_TOPIC)     /* ConfigResource TOPIC is 2, as ACLs' */
        return authz_topic(rq, op, name) ? 0 : KERR_TOPIC_AUTHORIZATION_FAILED;
    return authz_cluster(rq, op) ? 0 : KERR_CLUSTER_AUTHORIZATION_FAILED;
}

int16_t authz_partition(struct request *rq, struct kstr topic)
{
    if (!authz_enabled(rq) || !rq->conn)
        return 0;
    switch (rq->api_key) {
    case KAFKA_PRODUCE: {
        struct kstr id = ((const struct kafka_produce_req *)rq->body)->transactional_id;
        if (id.len >= 0 && !authz_txn_id(rq, ACL_OP_WRITE, id))
            return KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return authz_topic(rq, ACL_OP_WRITE, topic) ? 0 : KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    case KAFKA_FETCH: {
        const struct kafka_fetch_req *f = rq->body;
        if (f->replica_id >= 0 || f->replica_state.replica_id >= 0)
            return authz_cluster(rq, ACL_OP_CLUSTER_ACTION) ? 0 : KERR_CLUSTER_AUTHORIZATION_FAILED;
        return authz_topic(rq, ACL_OP_READ, topic) ? 0 : KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    case KAFKA_DELETE_RECORDS:
        return authz_topic(rq, ACL_OP_DELETE, topic) ? 0 : KERR_TOPIC_AUTHORIZATION_FAILED;
    default:                   /* ListOffsets, OffsetForLeaderEpoch */
        return authz_topic(rq, ACL_OP_DESCRIBE, topic) ? 0 : KERR_TOPIC_AUTHORIZATION_FAILED;
    }
}

/* --- answers for APIs refused as a whole ------------------------------------- */

/* The response types whose first fields are throttle_time_ms and
 * error_code, allocated with their own size. */
static int respond_error(struct request *rq, int16_t error)
{
    void *resp = NULL;
    int16_t *code = NULL;
#define ERROR_RESP(T) { T *r = request_alloc(rq, sizeof *r); if (r) code = &r->error_code; resp = r; }
    switch (rq->api_key) {
    case KAFKA_JOIN_GROUP: ERROR_RESP(struct kafka_join_group_resp); break;
    case KAFKA_SYNC_GROUP: ERROR_RESP(struct kafka_sync_group_resp); break;
    case KAFKA_HEARTBEAT: ERROR_RESP(struct kafka_error_resp); break;
    case KAFKA_LEAVE_GROUP: ERROR_RESP(struct kafka_leave_group_resp); break;
    case KAFKA_OFFSET_DELETE: ERROR_RESP(struct kafka_offset_delete_resp); break;
    case KAFKA_INIT_PRODUCER_ID: ERROR_RESP(struct kafka_init_producer_id_resp); break;
    case KAFKA_ADD_OFFSETS_TO_TXN: ERROR_RESP(struct kafka_txn_error_resp); break;
    case KAFKA_END_TXN: ERROR_RESP(struct kafka_end_txn_resp); break;
    case KAFKA_DESCRIBE_CLUSTER: ERROR_RESP(struct kafka_describe_cluster_resp); break;
    case KAFKA_ELECT_LEADERS: ERROR_RESP(struct kafka_elect_leaders_resp); break;
    case KAFKA_ALTER_PARTITION_REASSIGNMENTS:
        ERROR_RESP(struct kafka_alter_reassignments_resp); break;
    case KAFKA_LIST_PARTITION_REASSIGNMENTS:
        ERROR_RESP(struct kafka_list_reassignments_resp); break;
    case KAFKA_ALTER_PARTITION: ERROR_RESP(struct kafka_alter_partition_resp); break;
    case KAFKA_BROKER_REGISTRATION: ERROR_RESP(struct kafka_broker_registration_resp); break;
    case KAFKA_DESCRIBE_USER_SCRAM_CREDENTIALS: ERROR_RESP(struct kafka_describe_scram_resp); break;
    case KAFKA_DESCRIBE_ACLS: ERROR_RESP(struct kafka_describe_acls_resp); break;
    default: break;
    }
#undef ERROR_RESP
    if (!code)
        return -1;
    *code = error;
    if (rq->api_key == KAFKA_INIT_PRODUCER_ID)
        ((struct kafka_init_producer_id_resp *)resp)->producer_id = -1;
    if (rq->api_key == KAFKA_END_TXN) {
        ((struct kafka_end_txn_resp *)resp)->producer_id = -1;
        ((struct kafka_end_txn_resp *)resp)->producer_epoch = -1;
    }
    if (rq->api_key == KAFKA_JOIN_GROUP)
        ((struct kafka_join_group_resp *)resp)->generation_id = -1;
    if (rq->api_key == KAFKA_DESCRIBE_CLUSTER)
        ((struct kafka_describe_cluster_resp *)resp)->controller_id = -1;
    return request_respond(rq, resp);
}

/* OffsetCommit of a group it may not READ: every partition refused. */
static int respond_commit_refused(struct request *rq)
{
    const struct kafka_offset_commit_req *req = rq->body;
    struct kafka_offset_commit_resp *resp = request_alloc(rq, sizeof *resp);
    int nt = request_count(req->topics.n);
    if (!resp || !(resp->topics.v = request_alloc(rq, sizeof *resp->topics.v * (size_t)nt)))
        return -1;
    resp->topics.n = nt;
    for (int t = 0; t < nt; t++) {
        const struct kafka_offset_commit_req_topic *rt = &req->topics.v[t];
        int np = request_count(rt->partitions.n);
        struct kafka_topic_partition_errors *o = &resp->topics.v[t];
        o->name = rt->name;
        o->partitions.n = np;
        if (!(o->partitions.v = request_alloc(rq, sizeof *o->partitions.v * (size_t)np)))
            return -1;
        for (int p = 0; p < np; p++)
            o->partitions.v[p] = (struct kafka_partition_error){
                .partition_index = rt->partitions.v[p].partition_index,
                .error_code = KERR_GROUP_AUTHORIZATION_FAILED };
    }
    return request_respond(rq, resp);
}

/* The error an API authorised as a whole gets, 0 when allowed or when
 * its handler checks it. */
static int16_t whole_request_error(struct request *rq)
{
    const void *b = rq->body;
    switch (rq->api_key) {
    case KAFKA_JOIN_GROUP:
        return authz_group(rq, ACL_OP_READ, ((const struct kafka_join_group_req *)b)->group_id)
                   ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    case KAFKA_SYNC_GROUP:
        return authz_group(rq, ACL_OP_READ, ((const struct kafka_sync_group_req *)b)->group_id)
                   ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    case KAFKA_HEARTBEAT:
        return authz_group(rq, ACL_OP_READ, ((const struct kafka_heartbeat_req *)b)->group_id)
                   ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    case KAFKA_LEAVE_GROUP:
        return authz_group(rq, ACL_OP_READ, ((const struct kafka_leave_group_req *)b)->group_id)
                   ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    case KAFKA_OFFSET_COMMIT:
        return authz_group(rq, ACL_OP_READ,
                           ((const struct kafka_offset_commit_req *)b)->group_id)
                   ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    case KAFKA_OFFSET_DELETE:
        return authz_group(rq, ACL_OP_DELETE,
                           ((const struct kafka_offset_delete_req *)b)->group_id)
                   ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    case KAFKA_INIT_PRODUCER_ID: {
        struct kstr id = ((const struct kafka_init_producer_id_req *)b)->transactional_id;
        if (id.len >= 0)
            return authz_txn_id(rq, ACL_OP_WRITE, id) ? 0
                                                      : KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return idempotent_ok(rq) ? 0 : KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
    case KAFKA_ADD_OFFSETS_TO_TXN: {
        const struct kafka_add_offsets_to_txn_req *r = b;
        if (!authz_txn_id(rq, ACL_OP_WRITE, r->transactional_id))
            return KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return authz_group(rq, ACL_OP_READ, r->group_id) ? 0 : KERR_GROUP_AUTHORIZATION_FAILED;
    }
    case KAFKA_END_TXN:
        return authz_txn_id(rq, ACL_OP_WRITE, ((const struct kafka_end_txn_req *)b)->transactional_id)
                   ? 0 : KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    case KAFKA_DESCRIBE_CLUSTER:
    case KAFKA_DESCRIBE_USER_SCRAM_CREDENTIALS:
    case KAFKA_DESCRIBE_ACLS:
    case KAFKA_LIST_PARTITION_REASSIGNMENTS:
        return authz_cluster(rq, ACL_OP_DESCRIBE) ? 0 : KERR_CLUSTER_AUTHORIZATION_FAILED;
    case KAFKA_ELECT_LEADERS:
    case KAFKA_ALTER_PARTITION_REASSIGNMENTS:
        return authz_cluster(rq, ACL_OP_ALTER) ? 0 : KERR_CLUSTER_AUTHORIZATION_FAILED;
    case KAFKA_ALTER_PARTITION:
    case KAFKA_BROKER_REGISTRATION:
        return authz_cluster(rq, ACL_OP_CLUSTER_ACTION) ? 0 : KERR_CLUSTER_AUTHORIZATION_FAILED;
    default:
        return 0;
    }
}

bool authz_request(struct request *rq)
{
    if (!authz_enabled(rq) || !rq->conn)
        return false;
    int16_t error = whole_request_error(rq);
    if (!error)
        return false;
    int rc = rq->api_key == KAFKA_OFFSET_COMMIT ? respond_commit_refused(rq)
                                                : respond_error(rq, error);
    if (rc < 0)
        conn_close(rq->conn, "cannot build an authorization error response");
    return true;
}
