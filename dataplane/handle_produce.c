/* handle_produce.c - Produce: validate and append each partition's record
 * set to its log, answer once the batches are as safe as acks asks.
 *
 * acks=0: no answer; the request lives until its batches are written.
 * acks=1: answered once written to the log file (in the page cache: a
 *         crash of the process loses nothing).
 * acks=all: answered once durable per the topic's flush policy (fdatasync
 *         before the answer with the default "always"); for a replicated
 *         partition, once the high watermark passed it: every member of the
 *         ISR has it, durable per its own flush policy (dataplane/replica.c),
 *         with at least min.insync.replicas in the ISR (NOT_ENOUGH_REPLICAS
 *         before the append, NOT_ENOUGH_REPLICAS_AFTER_APPEND after it), or
 *         REQUEST_TIMED_OUT after the request's timeout; a leader that lost
 *         its leadership meanwhile answers NOT_LEADER_OR_FOLLOWER.
 * The batches are appended straight from the receive buffer (zero copy);
 * a full log queue pauses the connection until the next flush frees it.
 * Idempotent and transactional batches are checked by the log's producer
 * state; the first transactional batch of a transaction on a partition is
 * verified with the coordinator first (dataplane/txn_shard.c), and a
 * producer's retry is answered with its original offsets once those are
 * as safe as acks asks. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/replica.h"
#include "dataplane/kafka/msg_produce.h"
#include "storage/batch.h"
#include "storage/kerr.h"

#include <errno.h>

struct produce_part {
    struct partition *p;         /* until its batches are safe (done) */
    int64_t base_offset;
    int64_t last_offset;
    int64_t log_append_time;
    int32_t leader_epoch;        /* replicated: the epoch it was appended in */
    int64_t log_start_offset;    /* as it was when done */
    int16_t error;
    bool failed_early;           /* refused before any append */
    bool done;                   /* safe per acks: p is not touched again, so
                                    a deleted partition may go (partition.c) */
};

struct produce_state {
    struct produce_part *parts;  /* flattened topics x partitions */
    int nparts;
    int next;                    /* first part not yet appended */
    struct txn_verify *txn;      /* partitions verified with the coordinator */
};

static int16_t produce_route(struct request *rq, const struct kafka_produce_req_topic *t,
                             int32_t index, struct partition **out)
{
    int16_t denied = authz_partition(rq, t->name); /* first: Kafka hides what it refuses */
    *out = NULL;
    if (denied)
        return denied;
    *out = shard_partition(rq->shard, t->name.p, (size_t)t->name.len, index);
    if (*out && (*out)->offline)
        return KERR_KAFKA_STORAGE_ERROR; /* a disk fault (partition_fault.c) */
    if (*out)
        return replica_is_leader(*out) ? KERR_NONE : KERR_NOT_LEADER_OR_FOLLOWER;
    const struct md_topic *mt = rq->shard->md
        ? md_find_topic(rq->shard->md, t->name.p, (size_t)t->name.len) : NULL;
    if (mt && index >= 0 && index < mt->npartitions)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* Kafka's rules for what a client may send, beyond the batch format the
 * log checks: since Produce v3 exactly one batch per partition, and never
 * a control batch (those are the broker's own). */
static int16_t produce_check(const struct request *rq, struct kbytes records)
{
    if (records.len < BATCH_HEADER_SIZE)
        return KERR_CORRUPT_MESSAGE;
    uint32_t first = be32_load(records.p + BATCH_OFF_LENGTH) + BATCH_LOG_OVERHEAD;
    if (rq->api_version >= 3 && records.p[BATCH_OFF_MAGIC] == BATCH_MAGIC &&
        first < (uint32_t)records.len)
        return KERR_INVALID_RECORD;
    if (records.p[BATCH_OFF_MAGIC] == BATCH_MAGIC &&
        (be16_load(records.p + BATCH_OFF_ATTRIBUTES) & BATCH_ATTR_CONTROL))
        return KERR_INVALID_RECORD;
    return KERR_NONE;
}

/* Appends from st->next on; returns -EAGAIN when a log queue is full. */
static int produce_append(struct request *rq, struct produce_state *st)
{
    const struct kafka_produce_req *req = rq->body;
    int k = 0;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_produce_req_topic *t = &req->topics.v[ti];
        for (int32_t pi = 0; pi < t->partitions.n; pi++, k++) {
            if (k < st->next)
                continue;
            const struct kafka_produce_req_partition *rp = &t->partitions.v[pi];
            struct produce_part *pp = &st->parts[k];
            if (pp->failed_early) {
                st->next = k + 1;
                continue;
            }
            pp->error = produce_route(rq, t, rp->index, &pp->p);
            if (pp->error == KERR_NONE)
                pp->error = produce_check(rq, rp->records);
            if (pp->error == KERR_NONE && req->acks == -1)
                pp->error = replica_check_isr(pp->p);
            if (pp->error == KERR_NONE)
                pp->error = txn_produce_verified(st->txn, k, pp->p);
            if (pp->error != KERR_NONE) {
                st->next = k + 1;
                continue;
            }
            struct log_append_result res;
            int rc = log_append(pp->p->log, (uint8_t *)rp->records.p, (size_t)rp->records.len,
                                rq->shard->now_ms, &res);
            if (rc == -EAGAIN) {
                shard_mark_dirty(rq->shard, pp->p);
                return -EAGAIN;
            }
            if (rc > 0) {
                pp->error = (int16_t)rc;
            } else if (rc < 0) {
                pp->error = KERR_KAFKA_STORAGE_ERROR;
            } else {
                pp->base_offset = res.base_offset;
                pp->last_offset = res.last_offset;
                pp->log_append_time = res.log_append_time;
                pp->p->m.produce_requests++;
                pp->p->m.bytes_in += (uint64_t)rp->records.len;
                pp->p->m.records_in += (uint64_t)(res.last_offset - res.base_offset + 1);
                pp->leader_epoch = replica_leader_epoch(pp->p);
                shard_mark_dirty(rq->shard, pp->p);
            }
            st->next = k + 1;
        }
    }
    return 0;
}

static int produce_respond(struct request *rq, struct produce_state *st)
{
    const struct kafka_produce_req *req = rq->body;
    struct kafka_produce_resp *resp = kafka_arena_alloc(&rq->arena, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    resp->responses.n = req->topics.n;
    resp->responses.v = kafka_arena_alloc(&rq->arena,
                                          sizeof(*resp->responses.v) * (size_t)req->topics.n + 1);
    if (!resp->responses.v)
        return -ENOMEM;
    int k = 0;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_produce_req_topic *t = &req->topics.v[ti];
        struct kafka_produce_resp_topic *rt = &resp->responses.v[ti];
        rt->name = t->name;
        rt->partitions.n = t->partitions.n;
        rt->partitions.v = kafka_arena_alloc(&rq->arena,
                                             sizeof(*rt->partitions.v) * (size_t)t->partitions.n + 1);
        if (!rt->partitions.v)
            return -ENOMEM;
        for (int32_t pi = 0; pi < t->partitions.n; pi++, k++) {
            const struct produce_part *pp = &st->parts[k];
            struct kafka_produce_resp_partition *r = &rt->partitions.v[pi];
            r->index = t->partitions.v[pi].index;
            r->error_code = pp->error;
            r->base_offset = pp->error ? -1 : pp->base_offset;
            r->log_append_time_ms = pp->error ? -1 : pp->log_append_time;
            r->log_start_offset = pp->done ? pp->log_start_offset : -1;
            r->error_message = KSTR_NULL;
            r->current_leader.leader_id = -1;
            r->current_leader.leader_epoch = -1;
        }
    }
    return request_respond(rq, resp);
}

/* A replicated partition's acks=all: done (1), waiting (0), or failed
 * (its error set). A partition being deleted fails what waits on it: it
 * goes once nothing is in flight, and its high watermark may never come. */
static int produce_replicated(struct produce_part *pp)
{
    if (pp->p->state != PART_READY || !replica_is_leader(pp->p) ||
        replica_leader_epoch(pp->p) != pp->leader_epoch) {
        pp->error = KERR_NOT_LEADER_OR_FOLLOWER;
        return 1;
    }
    if (replica_high_watermark(pp->p) <= pp->last_offset)
        return 0;
    pp->error = replica_check_isr(pp->p) ? KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND : KERR_NONE;
    return 1;
}

/* 1 once every appended batch is as safe as acks asks (or failed). Each
 * part found safe is done: its partition is not looked at again. Past the
 * deadline a replicated part still waiting fails with REQUEST_TIMED_OUT
 * (local writes always finish on their own). */
static int produce_ready(struct request *rq, struct produce_state *st, bool late)
{
    const struct kafka_produce_req *req = rq->body;
    int ready = 1;
    for (int k = 0; k < st->nparts; k++) {
        struct produce_part *pp = &st->parts[k];
        if (pp->error || pp->done || !pp->p)
            continue;
        if (log_error(pp->p->log)) {
            pp->error = KERR_KAFKA_STORAGE_ERROR;
        } else if (req->acks == -1 && pp->p->repl) {
            if (!produce_replicated(pp)) {
                if (!late) {
                    ready = 0;
                    continue;
                }
                pp->error = KERR_REQUEST_TIMED_OUT;
            }
        } else {
            int64_t end = req->acks == -1 ? log_durable_end(pp->p->log)
                                          : log_written_end(pp->p->log);
            if (end <= pp->last_offset) {
                ready = 0;
                continue;
            }
        }
        pp->log_start_offset = log_start_offset(pp->p->log);
        pp->done = true;
    }
    return ready;
}

static int produce_poll(struct request *rq)
{
    struct produce_state *st = ((struct request_priv *)rq->priv)->state;
    const struct kafka_produce_req *req = rq->body;
    if (st->next < st->nparts) {
        if (produce_append(rq, st) == -EAGAIN)
            return 0;
        if (rq->conn)
            conn_resume(rq->conn); /* the requests behind it may go on */
    }
    bool late = rq->shard->mono_ms >= ((struct request_priv *)rq->priv)->deadline_ms;
    if (!produce_ready(rq, st, late))
        return 0;
    struct conn *c = rq->conn;
    if (!c) {
        request_release(rq); /* its connection is gone; the bytes are written */
        return 1;
    }
    if (req->acks == 0)
        request_respond_none(rq);
    else if (produce_respond(rq, st) < 0)
        conn_close(c, "cannot encode a produce response");
    return 1;
}

static void produce_start(struct request *rq, struct produce_state *st)
{
    const struct kafka_produce_req *req = rq->body;
    if (produce_append(rq, st) == -EAGAIN && rq->conn)
        rq->conn->paused = true; /* no more requests until this one is in */
    /* Only replication can keep acks=all waiting past the request's
     * timeout: local writes finish or fail on their own. */
    int64_t deadline = INT64_MAX;
    for (int k = 0; k < st->nparts && req->acks == -1; k++)
        if (st->parts[k].p && st->parts[k].p->repl && req->timeout_ms >= 0)
            deadline = rq->shard->mono_ms + req->timeout_ms;
    request_wait(rq, produce_poll, deadline);
}

static void produce_verified(struct request *rq, struct ctl_msg *m)
{
    struct produce_state *st = ((struct request_priv *)rq->priv)->state;
    txn_produce_answer(st->txn, m, rq->api_version);
    produce_start(rq, st);
}

/* Producer ids and transactions before any append: refuses what cannot
 * be appended and gathers what the coordinator must verify. Returns 1
 * when it asked the coordinator (produce_verified goes on), 0 to append
 * now, or -ENOMEM. */
static int produce_prepare(struct request *rq, struct produce_state *st)
{
    const struct kafka_produce_req *req = rq->body;
    int k = 0;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_produce_req_topic *t = &req->topics.v[ti];
        for (int32_t pi = 0; pi < t->partitions.n; pi++, k++) {
            const struct kafka_produce_req_partition *rp = &t->partitions.v[pi];
            struct produce_part *pp = &st->parts[k];
            if (produce_route(rq, t, rp->index, &pp->p) != KERR_NONE ||
                produce_check(rq, rp->records) != KERR_NONE)
                continue; /* produce_append answers it */
            int rc = txn_produce_check(rq, &st->txn, st->nparts, k, pp->p, t->name,
                                       rp->records.p);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                pp->error = (int16_t)rc;
                pp->failed_early = true;
            }
        }
    }
    if (!txn_produce_pending(st->txn))
        return 0;
    int rc = txn_produce_verify(rq, st->txn, produce_verified);
    return rc < 0 ? rc : 1;
}

int handle_produce(struct request *rq)
{
    const struct kafka_produce_req *req = rq->body;
    struct produce_state *st = kafka_arena_alloc(&rq->arena, sizeof(*st));
    if (!st)
        return -ENOMEM;
    for (int32_t ti = 0; ti < req->topics.n; ti++)
        st->nparts += req->topics.v[ti].partitions.n;
    st->parts = kafka_arena_alloc(&rq->arena, sizeof(*st->parts) * (size_t)st->nparts + 1);
    if (!st->parts)
        return -ENOMEM;
    ((struct request_priv *)rq->priv)->state = st;
    int rc = produce_prepare(rq, st);
    if (rc < 0)
        return rc;
    if (rc == 0)
        produce_start(rq, st);
    return 0;
}
