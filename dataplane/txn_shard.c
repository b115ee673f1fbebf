/* txn_shard.c - a shard's part in idempotence and transactions: the
 * transaction markers the coordinator asks for (CTL_TXN_MARKER), the
 * verification of transactional produces (KIP-890), and the APIs a
 * partition's leader answers itself: WriteTxnMarkers (the Admin API's
 * abort of a hanging transaction) and DescribeProducers.
 *
 * Markers: the shard appends the control batch to the partition's log
 * (log_append_marker), keeps the command until the marker is durable per
 * the topic's flush policy, then posts it back with its result; a full
 * log queue is retried each turn. The coordinator answers EndTxn only once
 * every marker came back.
 *
 * Verification: before the first transactional batch of a producer's
 * transaction reaches a partition, the coordinator is asked whether the
 * partition is in that transaction (Produce v11 and below, transactions
 * v1) or adds it (Produce v12, transactions v2). A guard set in the
 * partition's producer state before asking is cleared by any marker for
 * that producer; the append happens only if it still holds, so a produce
 * that raced the end of its transaction cannot open a transaction nobody
 * will end (Kafka's VerificationGuard).
 *
 * Never: decides what a transaction contains (control/txn.c does). */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_produce.h"
#include "dataplane/kafka/msg_txn.h"
#include "storage/batch.h"
#include "storage/kerr.h"
#include "storage/producer_state.h"

#include <errno.h>
#include <string.h>

#define KERR_NOT_ENOUGH_REPLICAS 19
#define KERR_COORDINATOR_LOAD_IN_PROGRESS 14
#define KERR_COORDINATOR_NOT_AVAILABLE 15
#define KERR_NOT_COORDINATOR 16
#define KERR_INVALID_PRODUCER_EPOCH 47
#define KERR_INVALID_TXN_STATE 48
#define KERR_INVALID_PRODUCER_ID_MAPPING 49
#define KERR_CONCURRENT_TRANSACTIONS 51
#define KERR_UNKNOWN_PRODUCER_ID 59
#define KERR_PRODUCER_FENCED 90
#define KERR_TRANSACTION_ABORTABLE 120

static int16_t not_here(const struct shard *s, const char *topic, size_t len, int32_t index)
{
    const struct md_topic *mt = s->md ? md_find_topic(s->md, topic, len) : NULL;
    if (mt && index >= 0 && index < mt->npartitions)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* --- markers the coordinator asks for -------------------------------------- */

static void marker_answer(struct shard *s, struct ctl_msg *m, int result)
{
    m->u.marker.result = result;
    shard_post_ctl(s, m);
}

/* Appends m's marker; 0 when queued or answered, -EAGAIN to try again. */
static int marker_append(struct shard *s, struct ctl_msg *m)
{
    struct ctl_txn_marker *mk = &m->u.marker;
    struct partition *p = shard_partition(s, mk->topic, strlen(mk->topic), mk->partition);
    if (!p) {
        marker_answer(s, m, not_here(s, mk->topic, strlen(mk->topic), mk->partition));
        return 0;
    }
    struct log_append_result res;
    int rc = log_append_marker(p->log, mk->pid, mk->epoch, mk->coordinator_epoch, mk->commit,
                               s->now_ms, &res);
    if (rc == -EAGAIN) {
        shard_mark_dirty(s, p);
        return -EAGAIN;
    }
    if (rc != 0) {
        marker_answer(s, m, rc > 0 ? rc : KERR_KAFKA_STORAGE_ERROR);
        return 0;
    }
    mk->offset = res.base_offset;
    shard_mark_dirty(s, p);
    return 0;
}

void txn_shard_marker(struct shard *s, struct ctl_msg *m)
{
    m->u.marker.offset = -1;
    int rc = marker_append(s, m);
    if (rc == 0 && m->u.marker.offset < 0)
        return; /* answered */
    m->u.marker.next_waiting = s->markers;
    s->markers = m;
}

/* Each turn: answers the markers now durable, retries the queued ones. */
void txn_shard_poll(struct shard *s)
{
    struct ctl_msg **link = &s->markers;
    while (*link) {
        struct ctl_msg *m = *link;
        struct ctl_txn_marker *mk = &m->u.marker;
        if (mk->offset < 0) {
            int rc = marker_append(s, m);
            if (rc == -EAGAIN || (rc == 0 && mk->offset >= 0)) {
                link = &mk->next_waiting;
                continue;
            }
            *link = mk->next_waiting; /* answered by marker_append */
            continue;
        }
        struct partition *p = shard_partition(s, mk->topic, strlen(mk->topic), mk->partition);
        int result = -1;
        if (!p)
            result = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        else if (log_error(p->log))
            result = KERR_KAFKA_STORAGE_ERROR;
        else if (log_durable_end(p->log) > mk->offset)
            result = 0;
        if (result < 0) {
            link = &mk->next_waiting;
            continue;
        }
        *link = mk->next_waiting;
        marker_answer(s, m, result);
    }
}

/* Once a tick: every producer.id.expiration.check.interval.ms, the
 * partitions forget producers idle for producer.id.expiration.ms. */
void txn_shard_tick(struct shard *s)
{
    const struct broker_config *b = s->cfg.broker;
    if (s->now_ms < s->next_pid_expiry_ms)
        return;
    bool first = s->next_pid_expiry_ms == 0;
    s->next_pid_expiry_ms = s->now_ms + b->producer_id_expiration_check_interval_ms;
    if (first)
        return; /* the first interval starts now */
    for (uint32_t i = 0; i < s->nbuckets; i++)
        for (struct partition *p = s->parts[i]; p; p = p->next)
            log_expire_producers(p->log, s->now_ms, b->producer_id_expiration_ms);
}

/* --- the verification of transactional produces ------------------------------ */

struct txn_verify {
    int nparts;                    /* of the produce request */
    int n;                         /* asked */
    int *index;                    /* produce part of each asked partition */
    uint64_t *guard;
    int16_t *error;                /* per produce part: the answer's */
    bool *asked;
    int64_t pid;
    int16_t epoch;
    struct ctl_txn_partition *parts;
};

int txn_produce_check(struct request *rq, struct txn_verify **tvp, int nparts, int k,
                      struct partition *p, struct kstr topic, const uint8_t *records)
{
    struct batch_header h;
    batch_header_decode(records, &h);
    if (h.producer_id < 0)
        return 0;
    if (ctl_pid_node(h.producer_id) == md_broker_node(rq->shard->cfg.broker_id) &&
        h.producer_id >= rq->shard->pid_limit)
        return KERR_UNKNOWN_PRODUCER_ID; /* of this node's range, never handed out */
    if (!(h.attributes & BATCH_ATTR_TRANSACTIONAL) ||
        log_producer_in_txn(p->log, h.producer_id, h.producer_epoch))
        return 0;
    const struct kafka_produce_req *req = rq->body;
    if (req->transactional_id.len <= 0)
        return KERR_INVALID_TXN_STATE; /* nothing to verify it against */
    struct txn_verify *tv = *tvp;
    if (!tv) {
        tv = request_alloc(rq, sizeof(*tv));
        if (!tv || !(tv->index = request_alloc(rq, sizeof(int) * (size_t)nparts)) ||
            !(tv->guard = request_alloc(rq, sizeof(uint64_t) * (size_t)nparts)) ||
            !(tv->error = request_alloc(rq, sizeof(int16_t) * (size_t)nparts)) ||
            !(tv->asked = request_alloc(rq, sizeof(bool) * (size_t)nparts)) ||
            !(tv->parts = request_alloc(rq, sizeof(*tv->parts) * (size_t)nparts)))
            return -ENOMEM;
        tv->nparts = nparts;
        tv->pid = h.producer_id;
        tv->epoch = h.producer_epoch;
        *tvp = tv;
    }
    /* Kafka: one request's transactional records have one producer. */
    if (h.producer_id != tv->pid || h.producer_epoch != tv->epoch)
        return KERR_INVALID_PRODUCER_ID_MAPPING;
    uint64_t guard = log_txn_verify_begin(p->log, h.producer_id);
    if (!guard || request_cstr(rq, topic, &tv->parts[tv->n].topic) < 0)
        return -ENOMEM;
    tv->parts[tv->n].partition = p->index;
    tv->index[tv->n++] = k;
    tv->guard[k] = guard;
    tv->asked[k] = true;
    return 0;
}

/* The coordinator's verdict as the produce's version may carry it
 * (Kafka's ReplicaManager / AddPartitionsToTxnManager mapping). */
static int16_t produce_error(int16_t err, int16_t version)
{
    switch (err) {
    case KERR_PRODUCER_FENCED:
        return KERR_INVALID_PRODUCER_EPOCH;
    case KERR_TRANSACTION_ABORTABLE:
        return version >= 11 ? err : KERR_INVALID_TXN_STATE;
    case KERR_CONCURRENT_TRANSACTIONS:
    case KERR_COORDINATOR_LOAD_IN_PROGRESS:
    case KERR_COORDINATOR_NOT_AVAILABLE:
    case KERR_NOT_COORDINATOR:
        return KERR_NOT_ENOUGH_REPLICAS; /* retriable for every client */
    default:
        return err;
    }
}

void txn_produce_answer(struct txn_verify *tv, const struct ctl_msg *m, int16_t version)
{
    const struct ctl_add_partitions *r = &m->u.add_partitions;
    for (int i = 0; i < tv->n; i++) {
        int16_t e = r->partitions[i].error ? r->partitions[i].error : r->error;
        tv->error[tv->index[i]] = produce_error(e, version);
    }
}

int txn_produce_verify(struct request *rq, struct txn_verify *tv, request_ctl_done done)
{
    const struct kafka_produce_req *req = rq->body;
    struct ctl_add_partitions r = { .pid = tv->pid, .epoch = tv->epoch,
                                    .verify_only = rq->api_version < 12,
                                    .add_implicitly = rq->api_version >= 12,
                                    .client_version = rq->api_version,
                                    .npartitions = tv->n, .partitions = tv->parts };
    if (request_cstr(rq, req->transactional_id, &r.txn_id) < 0)
        return -ENOMEM;
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = CTL_ADD_PARTITIONS_TO_TXN;
    rq->ctl.u.add_partitions = r;
    if (request_ctl_arena(rq, 64) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, done);
}

bool txn_produce_pending(const struct txn_verify *tv)
{
    return tv && tv->n > 0;
}

int16_t txn_produce_verified(const struct txn_verify *tv, int k, struct partition *p)
{
    if (!tv || !tv->asked[k])
        return 0;
    if (tv->error[k])
        return tv->error[k];
    if (!log_txn_verify_holds(p->log, tv->pid, tv->guard[k]))
        return KERR_INVALID_TXN_STATE; /* its transaction ended meanwhile */
    return 0;
}

/* --- WriteTxnMarkers (Admin API: abort a hanging transaction) ------------------ */

struct wtm_part {
    struct partition *p;
    int64_t offset;                /* -1: not appended */
    int16_t error;
};

struct wtm_state {
    int n;
    struct wtm_part *parts;        /* markers x topics x partitions, flat */
};

static int wtm_respond(struct request *rq, struct wtm_state *st)
{
    const struct kafka_write_txn_markers_req *req = rq->body;
    struct kafka_write_txn_markers_resp resp = { 0 };
    int k = 0;
    resp.markers.n = request_count(req->markers.n);
    resp.markers.v = request_alloc(rq, sizeof(*resp.markers.v) * (size_t)resp.markers.n);
    if (!resp.markers.v)
        return -ENOMEM;
    for (int i = 0; i < resp.markers.n; i++) {
        const struct kafka_writable_marker *mk = &req->markers.v[i];
        struct kafka_marker_result *mr = &resp.markers.v[i];
        mr->producer_id = mk->producer_id;
        mr->topics.n = request_count(mk->topics.n);
        mr->topics.v = request_alloc(rq, sizeof(*mr->topics.v) * (size_t)mr->topics.n);
        if (!mr->topics.v)
            return -ENOMEM;
        for (int t = 0; t < mr->topics.n; t++) {
            const struct kafka_marker_topic *mt = &mk->topics.v[t];
            struct kafka_marker_topic_result *tr = &mr->topics.v[t];
            tr->name = mt->name;
            tr->partitions.n = request_count(mt->partition_indexes.n);
            tr->partitions.v = request_alloc(rq, sizeof(*tr->partitions.v) *
                                                 (size_t)tr->partitions.n);
            if (!tr->partitions.v)
                return -ENOMEM;
            for (int j = 0; j < tr->partitions.n; j++, k++)
                tr->partitions.v[j] = (struct kafka_partition_error_result){
                    mt->partition_indexes.v[j], st->parts[k].error };
        }
    }
    return request_respond(rq, &resp);
}

/* Appends what is not yet; 1 once every marker is durable or failed. */
static int wtm_poll(struct request *rq)
{
    const struct kafka_write_txn_markers_req *req = rq->body;
    struct wtm_state *st = ((struct request_priv *)rq->priv)->state;
    bool waiting = false;
    int k = 0;
    for (int i = 0; i < request_count(req->markers.n); i++) {
        const struct kafka_writable_marker *mk = &req->markers.v[i];
        for (int t = 0; t < request_count(mk->topics.n); t++)
            for (int j = 0; j < request_count(mk->topics.v[t].partition_indexes.n); j++, k++) {
                struct wtm_part *wp = &st->parts[k];
                if (wp->error || !wp->p)
                    continue;
                if (wp->offset < 0) {
                    struct log_append_result res;
                    int rc = log_append_marker(wp->p->log, mk->producer_id, mk->producer_epoch,
                                               mk->coordinator_epoch, mk->transaction_result,
                                               rq->shard->now_ms, &res);
                    shard_mark_dirty(rq->shard, wp->p);
                    if (rc == -EAGAIN) {
                        waiting = true;
                        continue;
                    }
                    if (rc != 0) {
                        wp->error = rc > 0 ? (int16_t)rc : KERR_KAFKA_STORAGE_ERROR;
                        continue;
                    }
                    wp->offset = res.base_offset;
                }
                if (log_error(wp->p->log))
                    wp->error = KERR_KAFKA_STORAGE_ERROR;
                else if (log_durable_end(wp->p->log) <= wp->offset)
                    waiting = true;
                else
                    wp->p = NULL; /* durable: let go, a deleted partition may go
                                     (partition.c) */
            }
    }
    if (waiting)
        return 0;
    if (!rq->conn) {
        request_release(rq);
        return 1;
    }
    if (wtm_respond(rq, st) < 0)
        conn_close(rq->conn, "cannot encode a WriteTxnMarkers response");
    return 1;
}

int handle_write_txn_markers(struct request *rq)
{
    const struct kafka_write_txn_markers_req *req = rq->body;
    struct wtm_state *st = request_alloc(rq, sizeof(*st));
    if (!st)
        return -ENOMEM;
    for (int i = 0; i < request_count(req->markers.n); i++)
        for (int t = 0; t < request_count(req->markers.v[i].topics.n); t++)
            st->n += request_count(req->markers.v[i].topics.v[t].partition_indexes.n);
    if (!(st->parts = request_alloc(rq, sizeof(*st->parts) * (size_t)st->n)))
        return -ENOMEM;
    int k = 0;
    bool allowed = authz_cluster(rq, ACL_OP_CLUSTER_ACTION);   /* brokers only */
    for (int i = 0; i < request_count(req->markers.n); i++) {
        const struct kafka_writable_marker *mk = &req->markers.v[i];
        for (int t = 0; t < request_count(mk->topics.n); t++) {
            struct kstr name = mk->topics.v[t].name;
            for (int j = 0; j < request_count(mk->topics.v[t].partition_indexes.n); j++, k++) {
                int32_t idx = mk->topics.v[t].partition_indexes.v[j];
                struct wtm_part *wp = &st->parts[k];
                wp->offset = -1;
                wp->p = name.len > 0 && allowed
                            ? shard_partition(rq->shard, name.p, (size_t)name.len, idx) : NULL;
                if (!allowed)
                    wp->error = KERR_CLUSTER_AUTHORIZATION_FAILED;
                else if (!wp->p)
                    wp->error = name.len > 0 ? not_here(rq->shard, name.p, (size_t)name.len, idx)
                                             : KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
        }
    }
    ((struct request_priv *)rq->priv)->state = st;
    if (!wtm_poll(rq))
        request_wait(rq, wtm_poll, INT64_MAX);
    return 0;
}

/* --- DescribeProducers ------------------------------------------------------------ */

struct producers_ctx {
    struct request *rq;
    struct kafka_producers_partition *out;
    int cap;
    bool nomem;
};

static void add_producer(void *ctx, const struct producer_entry *e)
{
    struct producers_ctx *c = ctx;
    if (e->epoch < 0 && e->nbatches == 0 && e->txn_first_offset < 0)
        return; /* only a verification in flight: not a producer yet */
    if (c->out->active_producers.n >= c->cap) {
        c->nomem = true;
        return;
    }
    const struct producer_batch *b = producer_entry_last(e);
    c->out->active_producers.v[c->out->active_producers.n++] = (struct kafka_producer_state){
        .producer_id = e->pid, .producer_epoch = e->epoch,
        .last_sequence = b ? b->last_seq : -1, .last_timestamp = e->last_timestamp,
        .coordinator_epoch = e->coordinator_epoch,
        .current_txn_start_offset = e->txn_first_offset };
}

static int describe_partition(struct request *rq, struct kstr topic, int32_t index,
                              struct kafka_producers_partition *out)
{
    struct partition *p = topic.len > 0 ? shard_partition(rq->shard, topic.p, (size_t)topic.len,
                                                          index)
                                        : NULL;
    out->partition_index = index;
    out->error_message = KSTR_NULL;
    if (!p) {
        out->error_code = topic.len > 0 ? not_here(rq->shard, topic.p, (size_t)topic.len, index)
                                        : KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return 0;
    }
    struct producers_ctx c = { rq, out, log_producer_count(p->log), false };
    out->active_producers.v = request_alloc(rq, sizeof(*out->active_producers.v) * (size_t)c.cap);
    if (!out->active_producers.v)
        return -ENOMEM;
    log_each_producer(p->log, add_producer, &c);
    return c.nomem ? -ENOMEM : 0;
}

int handle_describe_producers(struct request *rq)
{
    const struct kafka_describe_producers_req *req = rq->body;
    struct kafka_describe_producers_resp resp = { 0 };
    resp.topics.n = request_count(req->topics.n);
    resp.topics.v = request_alloc(rq, sizeof(*resp.topics.v) * (size_t)resp.topics.n);
    if (!resp.topics.v)
        return -ENOMEM;
    for (int t = 0; t < resp.topics.n; t++) {
        const struct kafka_marker_topic *rt = &req->topics.v[t];
        struct kafka_producers_topic *ot = &resp.topics.v[t];
        ot->name = rt->name;
        ot->partitions.n = request_count(rt->partition_indexes.n);
        ot->partitions.v = request_alloc(rq, sizeof(*ot->partitions.v) * (size_t)ot->partitions.n);
        if (!ot->partitions.v)
            return -ENOMEM;
        bool denied = !authz_topic(rq, ACL_OP_READ, rt->name);   /* Kafka: READ */
        for (int j = 0; j < ot->partitions.n; j++) {
            if (denied) {
                ot->partitions.v[j] = (struct kafka_producers_partition){
                    .partition_index = rt->partition_indexes.v[j],
                    .error_code = KERR_TOPIC_AUTHORIZATION_FAILED,
                    .error_message = KSTR_NULL };
                continue;
            }
            if (describe_partition(rq, rt->name, rt->partition_indexes.v[j], &ot->partitions.v[j]) < 0)
                return -ENOMEM;
        }
    }
    return request_respond(rq, &resp);
}
