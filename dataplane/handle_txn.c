/* handle_txn.c - InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit, ListTransactions and DescribeTransactions:
 * decoded requests to CTL_* messages for the transaction coordinator
 * (control/txn.c, control/offsets.c) and back.
 *
 * The coordinator answers with today's Kafka error codes; this file maps
 * them to what the request's version may carry (PRODUCER_FENCED is
 * INVALID_PRODUCER_EPOCH to a client too old to know it, as Kafka's
 * response classes do).
 *
 * With several nodes, transactions are coordinated by the node of the
 * first broker (the one FindCoordinator names, as for groups); the
 * others answer NOT_COORDINATOR, as a Kafka broker that is not the
 * transactional id's coordinator does.
 *
 * Never: decides anything about a transaction (control/txn.c does). */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KERR_INVALID_PRODUCER_EPOCH 47
#define KERR_PRODUCER_FENCED 90
#define KERR_COORDINATOR_NOT_AVAILABLE 15
#define KERR_NOT_COORDINATOR 16
#define KERR_OPERATION_NOT_ATTEMPTED 55

static void ctl_start(struct request *rq, enum ctl_op op)
{
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = op;
}

/* Posts rq->ctl with an answer arena of want bytes (or what is left). */
static int post(struct request *rq, size_t want, request_ctl_done done)
{
    size_t left = rq->arena.cap - rq->arena.len;
    if (request_ctl_arena(rq, want) < 0 && (left < 1024 || request_ctl_arena(rq, left / 2) < 0))
        return -ENOMEM;
    return request_post_ctl(rq, done);
}

static void reply(struct request *rq, const void *resp, bool ok)
{
    if (!ok || request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot build a transaction response");
}

/* True on a node that does not coordinate transactions (another node's
 * shard is the first broker). */
static bool not_coordinator(const struct request *rq)
{
    const struct md_snapshot *md = rq->shard->md;
    return md && md->nbrokers > 0 &&
           md_broker_node(md->brokers[0].node_id) != md_broker_node(rq->shard->cfg.broker_id);
}

/* PRODUCER_FENCED only from version since on; INVALID_PRODUCER_EPOCH before. */
static int16_t fenced(int16_t err, int16_t version, int16_t since)
{
    return err == KERR_PRODUCER_FENCED && version < since ? KERR_INVALID_PRODUCER_EPOCH : err;
}

/* --- InitProducerId ----------------------------------------------------------- */

static void init_pid_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_init_pid *r = &m->u.init_pid;
    struct kafka_init_producer_id_resp resp;
    kafka_defaults(&kafka_init_producer_id_resp_s, &resp);
    resp.error_code = fenced(r->error, rq->api_version, 4);
    resp.producer_id = r->error ? -1 : r->out_pid;
    resp.producer_epoch = r->error ? -1 : r->out_epoch;
    reply(rq, &resp, true);
}

int handle_init_producer_id(struct request *rq)
{
    const struct kafka_init_producer_id_req *req = rq->body;
    struct ctl_init_pid r = { .timeout_ms = req->transaction_timeout_ms,
                              .pid = req->producer_id, .epoch = req->producer_epoch };
    if (request_cstr(rq, req->transactional_id, &r.txn_id) < 0)
        return -ENOMEM;
    ctl_start(rq, CTL_INIT_PRODUCER_ID);
    rq->ctl.u.init_pid = r;
    if (r.txn_id && not_coordinator(rq)) {
        rq->ctl.u.init_pid.error = KERR_NOT_COORDINATOR;
        init_pid_done(rq, &rq->ctl);
        return 0;
    }
    return post(rq, 64, init_pid_done);
}

/* --- AddPartitionsToTxn ---------------------------------------------------------- */

/* The partitions of topics as ctl partitions; NULL on -ENOMEM. */
static struct ctl_txn_partition *txn_parts(struct request *rq, const struct kafka_txn_topic *t,
                                           int nt, int *n)
{
    *n = 0;
    for (int i = 0; i < nt; i++)
        *n += request_count(t[i].partitions.n);
    struct ctl_txn_partition *v = request_alloc(rq, sizeof(*v) * (size_t)*n);
    int k = 0;
    for (int i = 0; v && i < nt; i++) {
        const char *name;
        if (request_cstr(rq, t[i].name, &name) < 0)
            return NULL;
        for (int j = 0; j < request_count(t[i].partitions.n); j++)
            v[k++] = (struct ctl_txn_partition){ name ? name : "", t[i].partitions.v[j], 0 };
    }
    return v;
}

/* The answer by topic, in the order asked; the partitions of m in order. */
static bool txn_results(struct request *rq, const struct kafka_txn_topic *t, int nt,
                        const struct ctl_add_partitions *r, struct kafka_txn_topic_result **out)
{
    struct kafka_txn_topic_result *v = request_alloc(rq, sizeof(*v) * (size_t)nt);
    int k = 0;
    *out = v;
    for (int i = 0; v && i < nt; i++) {
        int np = request_count(t[i].partitions.n);
        v[i].name = t[i].name;
        v[i].results_by_partition.n = np;
        v[i].results_by_partition.v = request_alloc(rq, sizeof(*v[i].results_by_partition.v) *
                                                        (size_t)np);
        if (!v[i].results_by_partition.v)
            return false;
        for (int j = 0; j < np; j++, k++)
            v[i].results_by_partition.v[j] = (struct kafka_txn_partition_result){
                t[i].partitions.v[j], fenced(r->partitions[k].error, rq->api_version, 2) };
    }
    return v != NULL;
}

/* v4+ carries several transactions: they go one after the other. */
struct apt_state {
    int next;                      /* transaction being asked */
    struct kafka_add_partitions_txn_result *results;
};

static int apt_post(struct request *rq);

static void apt_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_add_partitions_to_txn_req *req = rq->body;
    struct request_priv *p = rq->priv;
    struct kafka_add_partitions_to_txn_resp resp;
    kafka_defaults(&kafka_add_partitions_to_txn_resp_s, &resp);
    if (rq->api_version <= 3) {
        bool ok = txn_results(rq, req->v3_topics.v, request_count(req->v3_topics.n),
                              &m->u.add_partitions, &resp.results_by_topic_v3.v);
        resp.results_by_topic_v3.n = request_count(req->v3_topics.n);
        reply(rq, &resp, ok);
        return;
    }
    struct apt_state *st = p->state;
    const struct kafka_add_partitions_txn *tx = &req->transactions.v[st->next];
    struct kafka_add_partitions_txn_result *res = &st->results[st->next];
    res->transactional_id = tx->transactional_id;
    res->topic_results.n = request_count(tx->topics.n);
    if (!txn_results(rq, tx->topics.v, res->topic_results.n, &m->u.add_partitions,
                     &res->topic_results.v)) {
        reply(rq, NULL, false);
        return;
    }
    if (++st->next < req->transactions.n) {
        if (apt_post(rq) < 0)
            conn_close(rq->conn, "no memory for an AddPartitionsToTxn");
        return;
    }
    resp.results_by_transaction.v = st->results;
    resp.results_by_transaction.n = req->transactions.n;
    reply(rq, &resp, true);
}

static bool apt_fail(struct ctl_add_partitions *r, int16_t error)
{
    r->error = error;
    for (int i = 0; i < r->npartitions; i++)
        r->partitions[i].error = error;
    return true;
}

/* Kafka: WRITE on the transactional id, then on every topic; when any is
 * refused nothing is added (the others: OPERATION_NOT_ATTEMPTED). */
static bool apt_refused(struct request *rq, struct ctl_add_partitions *r)
{
    bool refused = false;
    if (rq->api_version >= 4)  /* between brokers (KIP-890) */
        return !authz_cluster(rq, ACL_OP_CLUSTER_ACTION) &&
               apt_fail(r, KERR_CLUSTER_AUTHORIZATION_FAILED);
    if (!authz_txn_id(rq, ACL_OP_WRITE, kstr_c(r->txn_id ? r->txn_id : "")))
        return apt_fail(r, KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    for (int i = 0; i < r->npartitions; i++)
        if (!authz_topic(rq, ACL_OP_WRITE, kstr_c(r->partitions[i].topic))) {
            r->partitions[i].error = KERR_TOPIC_AUTHORIZATION_FAILED;
            refused = true;
        }
    for (int i = 0; refused && i < r->npartitions; i++)
        if (!r->partitions[i].error)
            r->partitions[i].error = KERR_OPERATION_NOT_ATTEMPTED;
    return refused;
}

static int apt_post(struct request *rq)
{
    const struct kafka_add_partitions_to_txn_req *req = rq->body;
    struct ctl_add_partitions r = { .client_version = rq->api_version };
    int n;
    if (rq->api_version <= 3) {
        r.pid = req->v3_producer_id;
        r.epoch = req->v3_producer_epoch;
        if (request_cstr(rq, req->v3_transactional_id, &r.txn_id) < 0 ||
            !(r.partitions = txn_parts(rq, req->v3_topics.v, request_count(req->v3_topics.n), &n)))
            return -ENOMEM;
    } else {
        struct apt_state *st = ((struct request_priv *)rq->priv)->state;
        const struct kafka_add_partitions_txn *tx = &req->transactions.v[st->next];
        r.pid = tx->producer_id;
        r.epoch = tx->producer_epoch;
        r.verify_only = tx->verify_only;
        /* Between brokers (v4+) an add that is not a verification is a
         * produce's implicit one (transactions v2). */
        r.add_implicitly = !tx->verify_only;
        if (request_cstr(rq, tx->transactional_id, &r.txn_id) < 0 ||
            !(r.partitions = txn_parts(rq, tx->topics.v, request_count(tx->topics.n), &n)))
            return -ENOMEM;
    }
    r.npartitions = n;
    ctl_start(rq, CTL_ADD_PARTITIONS_TO_TXN);
    if (apt_refused(rq, &r)) {
        rq->ctl.u.add_partitions = r;
        apt_done(rq, &rq->ctl);
        return 0;
    }
    if (not_coordinator(rq)) {
        r.error = KERR_NOT_COORDINATOR;
        for (int i = 0; i < n; i++)
            r.partitions[i].error = KERR_NOT_COORDINATOR;
        rq->ctl.u.add_partitions = r;
        apt_done(rq, &rq->ctl);
        return 0;
    }
    rq->ctl.u.add_partitions = r;
    return post(rq, 64, apt_done);
}

int handle_add_partitions_to_txn(struct request *rq)
{
    const struct kafka_add_partitions_to_txn_req *req = rq->body;
    struct request_priv *p = rq->priv;
    if (rq->api_version >= 4) {
        struct apt_state *st = request_alloc(rq, sizeof(*st));
        if (!st)
            return -ENOMEM;
        p->state = st;
        if (req->transactions.n <= 0) {
            struct kafka_add_partitions_to_txn_resp resp;
            kafka_defaults(&kafka_add_partitions_to_txn_resp_s, &resp);
            return request_respond(rq, &resp);
        }
        if (!(st->results = request_alloc(rq, sizeof(*st->results) *
                                                  (size_t)req->transactions.n)))
            return -ENOMEM;
    }
    return apt_post(rq);
}

/* --- AddOffsetsToTxn, EndTxn ------------------------------------------------------- */

static void add_offsets_done(struct request *rq, struct ctl_msg *m)
{
    struct kafka_txn_error_resp resp;
    kafka_defaults(&kafka_add_offsets_to_txn_resp_s, &resp);
    resp.error_code = fenced(m->u.add_offsets.error, rq->api_version, 2);
    reply(rq, &resp, true);
}

int handle_add_offsets_to_txn(struct request *rq)
{
    const struct kafka_add_offsets_to_txn_req *req = rq->body;
    struct ctl_add_offsets r = { .pid = req->producer_id, .epoch = req->producer_epoch };
    if (request_cstr(rq, req->transactional_id, &r.txn_id) < 0 ||
        request_cstr(rq, req->group_id, &r.group_id) < 0)
        return -ENOMEM;
    ctl_start(rq, CTL_ADD_OFFSETS_TO_TXN);
    rq->ctl.u.add_offsets = r;
    if (not_coordinator(rq)) {
        rq->ctl.u.add_offsets.error = KERR_NOT_COORDINATOR;
        add_offsets_done(rq, &rq->ctl);
        return 0;
    }
    return post(rq, 64, add_offsets_done);
}

static void end_txn_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_end_txn *r = &m->u.end_txn;
    struct kafka_end_txn_resp resp;
    kafka_defaults(&kafka_end_txn_resp_s, &resp);
    resp.error_code = fenced(r->error, rq->api_version, 2);
    resp.producer_id = r->out_pid;
    resp.producer_epoch = r->out_epoch;
    reply(rq, &resp, true);
}

int handle_end_txn(struct request *rq)
{
    const struct kafka_end_txn_req *req = rq->body;
    struct ctl_end_txn r = { .pid = req->producer_id, .epoch = req->producer_epoch,
                             .commit = req->committed, .tv2 = rq->api_version >= 5 };
    if (request_cstr(rq, req->transactional_id, &r.txn_id) < 0)
        return -ENOMEM;
    ctl_start(rq, CTL_END_TXN);
    rq->ctl.u.end_txn = r;
    if (not_coordinator(rq)) {
        rq->ctl.u.end_txn.error = KERR_NOT_COORDINATOR;
        end_txn_done(rq, &rq->ctl);
        return 0;
    }
    return post(rq, 64, end_txn_done);
}

/* --- TxnOffsetCommit ------------------------------------------------------------------ */

static void txn_commit_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_offsets *c = &m->u.offsets;
    struct kafka_txn_offset_commit_resp resp;
    kafka_defaults(&kafka_txn_offset_commit_resp_s, &resp);
    resp.topics.n = c->ntopics;
    resp.topics.v = request_alloc(rq, sizeof(*resp.topics.v) * (size_t)c->ntopics);
    bool ok = resp.topics.v != NULL;
    for (int t = 0; ok && t < c->ntopics; t++) {
        const struct ctl_offset_topic *ot = &c->topics[t];
        struct kafka_marker_topic_result *rt = &resp.topics.v[t];
        rt->name = kstr_c(ot->name ? ot->name : "");
        rt->partitions.n = ot->npartitions;
        rt->partitions.v = request_alloc(rq, sizeof(*rt->partitions.v) * (size_t)ot->npartitions);
        ok = rt->partitions.v != NULL;
        for (int k = 0; ok && k < ot->npartitions; k++) {
            int16_t e = ot->partitions[k].error ? ot->partitions[k].error : c->error;
            /* Kafka's group coordinator answers a fenced transactional
             * commit with INVALID_PRODUCER_EPOCH, at every version. */
            rt->partitions.v[k] = (struct kafka_partition_error_result){
                ot->partitions[k].partition,
                e == KERR_PRODUCER_FENCED ? KERR_INVALID_PRODUCER_EPOCH : e };
        }
    }
    reply(rq, &resp, ok);
}

int handle_txn_offset_commit(struct request *rq)
{
    const struct kafka_txn_offset_commit_req *req = rq->body;
    int nt = request_count(req->topics.n);
    struct ctl_offset_topic *ts = request_alloc(rq, sizeof(*ts) * (size_t)nt);
    struct ctl_offsets c = { .generation = rq->api_version >= 3 ? req->generation_id : -1,
                             .retention_ms = -1, .ntopics = nt, .topics = ts,
                             .pid = req->producer_id, .epoch = req->producer_epoch,
                             .txn_implicit = rq->api_version >= 5 };
    if (!ts || request_cstr(rq, req->group_id, &c.group_id) < 0 ||
        request_cstr(rq, req->transactional_id, &c.txn_id) < 0 ||
        request_cstr(rq, req->member_id, &c.member_id) < 0 ||
        request_cstr(rq, req->group_instance_id, &c.instance_id) < 0)
        return -ENOMEM;
    for (int t = 0; t < nt; t++) {
        const struct kafka_txn_commit_topic *rt = &req->topics.v[t];
        int n = request_count(rt->partitions.n);
        if (request_cstr(rq, rt->name, &ts[t].name) < 0 ||
            !(ts[t].partitions = request_alloc(rq, sizeof(*ts[t].partitions) * (size_t)n)))
            return -ENOMEM;
        ts[t].npartitions = n;
        for (int k = 0; k < n; k++) {
            const struct kafka_txn_commit_partition *rp = &rt->partitions.v[k];
            ts[t].partitions[k] = (struct ctl_offset_partition){
                .partition = rp->partition_index, .offset = rp->committed_offset,
                .leader_epoch = rq->api_version >= 2 ? rp->committed_leader_epoch : -1,
                .metadata = rp->committed_metadata.len >= 0 ? rp->committed_metadata.p : NULL,
                .metadata_len = rp->committed_metadata.len >= 0 ? rp->committed_metadata.len : -1 };
        }
    }
    ctl_start(rq, CTL_TXN_OFFSET_COMMIT);
    /* Kafka: WRITE on the transactional id, READ on the group, then READ
     * on each topic */
    if (!authz_txn_id(rq, ACL_OP_WRITE, req->transactional_id))
        c.error = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    else if (!authz_group(rq, ACL_OP_READ, req->group_id))
        c.error = KERR_GROUP_AUTHORIZATION_FAILED;
    for (int t = 0; !c.error && t < nt; t++)
        if (!authz_topic(rq, ACL_OP_READ, req->topics.v[t].name))
            for (int k = 0; k < ts[t].npartitions; k++)
                ts[t].partitions[k].error = KERR_TOPIC_AUTHORIZATION_FAILED;
    if (c.error) {
        rq->ctl.u.offsets = c;
        txn_commit_done(rq, &rq->ctl);
        return 0;
    }
    if (not_coordinator(rq)) {
        c.error = KERR_NOT_COORDINATOR;
        rq->ctl.u.offsets = c;
        txn_commit_done(rq, &rq->ctl);
        return 0;
    }
    rq->ctl.u.offsets = c;
    return post(rq, 256, txn_commit_done);
}

/* --- ListTransactions, DescribeTransactions ---------------------------------------------- */

static void list_txns_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_list_txns *r = &m->u.list_txns;
    struct kafka_list_transactions_resp resp;
    kafka_defaults(&kafka_list_transactions_resp_s, &resp);
    resp.error_code = r->need ? KERR_COORDINATOR_NOT_AVAILABLE : r->error;
    int n = r->need ? 0 : r->ntxns;
    resp.transaction_states.n = n;
    resp.transaction_states.v = request_alloc(rq, sizeof(*resp.transaction_states.v) * (size_t)n);
    resp.unknown_state_filters.n = r->nunknown;
    resp.unknown_state_filters.v = request_alloc(rq, sizeof(struct kstr) * (size_t)r->nunknown);
    bool ok = resp.transaction_states.v && resp.unknown_state_filters.v;
    resp.transaction_states.n = 0;
    for (int i = 0; ok && i < n; i++) {
        const char *id = r->txns[i].txn_id ? r->txns[i].txn_id : "";
        if (!authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_TRANSACTIONAL_ID, id, strlen(id)))
            continue;           /* Kafka lists the ids it may DESCRIBE */
        resp.transaction_states.v[resp.transaction_states.n++] = (struct kafka_listed_txn){
            kstr_c(r->txns[i].txn_id), r->txns[i].pid, kstr_c(r->txns[i].state) };
    }
    for (int i = 0; ok && i < r->nunknown; i++)
        resp.unknown_state_filters.v[i] = kstr_c(r->unknown[i]);
    reply(rq, &resp, ok);
}

/* Room for the answer: from the request arena, else the heap (freed with
 * the request), else what the request arena has left. */
static int big_arena(struct request *rq, size_t want)
{
    struct request_priv *p = rq->priv;
    size_t left = rq->arena.cap - rq->arena.len;
    if (request_ctl_arena(rq, want) == 0)
        return 0;
    if (!p->heap) {
        if (!(p->heap = malloc(want)))
            return -ENOMEM;
        rq->ctl.arena = (struct ctl_arena){ .buf = p->heap, .len = 0, .cap = want };
        return 0;
    }
    return left < 1024 ? -ENOMEM : request_ctl_arena(rq, left / 2);
}

int handle_list_transactions(struct request *rq)
{
    const struct kafka_list_transactions_req *req = rq->body;
    struct ctl_list_txns r = { .nstates = request_count(req->state_filters.n),
                               .npids = request_count(req->producer_id_filters.n),
                               .pids = req->producer_id_filters.v,
                               .min_duration_ms = rq->api_version >= 1 ? req->duration_filter : -1 };
    r.states = request_alloc(rq, sizeof(char *) * (size_t)r.nstates);
    if (!r.states)
        return -ENOMEM;
    for (int i = 0; i < r.nstates; i++)
        if (request_cstr(rq, req->state_filters.v[i], &r.states[i]) < 0)
            return -ENOMEM;
    ctl_start(rq, CTL_LIST_TXNS);
    rq->ctl.u.list_txns = r;
    if (big_arena(rq, 256u << 10) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, list_txns_done);
}

static void describe_txns_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_list_txns *r = &m->u.list_txns;
    struct kafka_describe_transactions_resp resp;
    kafka_defaults(&kafka_describe_transactions_resp_s, &resp);
    resp.transaction_states.n = r->nids;
    resp.transaction_states.v = request_alloc(rq, sizeof(*resp.transaction_states.v) *
                                                  (size_t)r->nids);
    bool ok = resp.transaction_states.v != NULL;
    for (int i = 0; ok && i < r->nids; i++) {
        const struct ctl_txn_state *s = &r->txns[i];
        struct kafka_described_txn *d = &resp.transaction_states.v[i];
        *d = (struct kafka_described_txn){
            .error_code = r->need ? KERR_COORDINATOR_NOT_AVAILABLE : s->error,
            .transactional_id = kstr_c(r->ids[i] ? r->ids[i] : ""),
            .transaction_state = kstr_c(s->state ? s->state : ""),
            .transaction_timeout_ms = s->timeout_ms, .transaction_start_time_ms = s->start_ms,
            .producer_id = s->pid, .producer_epoch = s->epoch };
        if (!authz_txn_id(rq, ACL_OP_DESCRIBE, d->transactional_id)) {
            *d = (struct kafka_described_txn){
                .error_code = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                .transactional_id = d->transactional_id, .transaction_state = KSTR_LIT(""),
                .producer_id = -1, .producer_epoch = -1 };
            continue;
        }
        /* Partitions grouped by topic, in the coordinator's order. */
        d->topics.v = request_alloc(rq, sizeof(*d->topics.v) * (size_t)s->npartitions);
        ok = d->topics.v != NULL;
        for (int k = 0; ok && k < s->npartitions; k++) {
            const struct ctl_txn_partition *tp = &s->partitions[k];
            struct kafka_txn_topic_data *td = NULL;
            for (int j = 0; j < d->topics.n && !td; j++)
                if (strcmp(d->topics.v[j].topic.p, tp->topic) == 0)
                    td = &d->topics.v[j];
            if (!td) {
                td = &d->topics.v[d->topics.n++];
                td->topic = kstr_c(tp->topic);
                td->partitions.v = request_alloc(rq, sizeof(int32_t) * (size_t)s->npartitions);
                ok = td->partitions.v != NULL;
            }
            if (ok)
                td->partitions.v[td->partitions.n++] = tp->partition;
        }
    }
    reply(rq, &resp, ok);
}

int handle_describe_transactions(struct request *rq)
{
    const struct kafka_describe_transactions_req *req = rq->body;
    struct ctl_list_txns r = { .nids = request_count(req->transactional_ids.n) };
    r.ids = request_alloc(rq, sizeof(char *) * (size_t)r.nids);
    if (!r.ids)
        return -ENOMEM;
    for (int i = 0; i < r.nids; i++)
        if (request_cstr(rq, req->transactional_ids.v[i], &r.ids[i]) < 0)
            return -ENOMEM;
    ctl_start(rq, CTL_DESCRIBE_TXNS);
    rq->ctl.u.list_txns = r;
    if (big_arena(rq, 256u << 10) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, describe_txns_done);
}
