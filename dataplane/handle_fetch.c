/* handle_fetch.c - Fetch and ListOffsets.
 *
 * A fetch answers with file ranges of the segments, spliced to the socket
 * (never read into user space): the response is encoded with a hole where
 * each partition's records go, and the connection sends header bytes, the
 * file ranges, and the bytes after them. Long polling: a fetch that finds
 * fewer than min_bytes waits, re-checked each loop turn, until enough data
 * is durable or max_wait_ms passes. Fetch sessions (KIP-227) are declined
 * (session id 0), which the protocol allows: clients send full fetches.
 *
 * A replicated partition is read only at its leader: consumers up to the
 * high watermark (dataplane/replica.c), followers (replica_id >= 0) up to
 * what the leader wrote, and a follower's fetch offset tells the leader
 * what it has. A stale current_leader_epoch gets FENCED_LEADER_EPOCH, a
 * newer one UNKNOWN_LEADER_EPOCH, a follower's replica
 * NOT_LEADER_OR_FOLLOWER: clients then ask Metadata again.
 *
 * read_committed (isolation level 1, the default of librdkafka and
 * kafkajs): a fetch returns data below the last stable offset only, and
 * the aborted transactions that overlap what it returns (from the
 * segments' .txnindex), so the client can drop their batches; control
 * batches are in the data and clients skip them. With no transaction the
 * LSO is the high watermark and nothing changes (for a replicated
 * partition never past the replicated high watermark). ListOffsets latest
 * (and by timestamp) stop at the LSO for read_committed too. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/replica.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_fetch.h"
#include "storage/kerr.h"
#include "storage/txn_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_MAX_RANGES 8
#define FETCH_ABORTED_MAX 256
#define KERR_FETCH_SESSION_ID_NOT_FOUND 70
#define READ_COMMITTED 1

struct fetch_part {
    int16_t error;
    struct partition *p;
    int nranges;
    struct log_range ranges[FETCH_MAX_RANGES];
    uint32_t bytes;
    int64_t limit;                /* read_committed: the LSO read up to */
    int64_t upper;                /* where the returned data ends */
    int naborted;                 /* read_committed: aborted[0..naborted) */
    struct kafka_fetch_aborted_txn *aborted;
    const struct kbytes *field;   /* its records field in the response */
};

static int16_t fetch_route(struct request *rq, struct kstr topic, int32_t index,
                           int32_t current_leader_epoch, struct partition **out)
{
    /* A log that failed a write for a full disk stays readable up to its
     * durable end: only appends are refused (produce answers
     * KAFKA_STORAGE_ERROR). One offline for a disk fault is not read. */
    int16_t denied = authz_partition(rq, topic); /* first: Kafka hides what it refuses */
    *out = NULL;
    if (denied)
        return denied;
    *out = shard_partition(rq->shard, topic.p, (size_t)topic.len, index);
    if (*out && (*out)->offline)
        return KERR_KAFKA_STORAGE_ERROR;
    if (*out)
        return replica_check_leader(*out, current_leader_epoch);
    const struct md_topic *mt = rq->shard->md
        ? md_find_topic(rq->shard->md, topic.p, (size_t)topic.len) : NULL;
    if (mt && index >= 0 && index < mt->npartitions)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* The follower asking (replica_id, or ReplicaState from v15), -1: a consumer. */
static int32_t fetch_replica_id(const struct kafka_fetch_req *req)
{
    return req->replica_id >= 0 ? req->replica_id : req->replica_state.replica_id;
}

/* Looks up what each partition would return now; the total in bytes. */
static uint64_t fetch_collect(struct request *rq, struct fetch_part *parts, bool *error)
{
    const struct kafka_fetch_req *req = rq->body;
    uint64_t total = 0;
    int64_t room = req->max_bytes > 0 ? req->max_bytes : INT32_MAX;
    int k = 0;
    *error = false;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_fetch_req_topic *t = &req->topics.v[ti];
        for (int32_t pi = 0; pi < t->partitions.n; pi++, k++) {
            const struct kafka_fetch_req_partition *rp = &t->partitions.v[pi];
            struct fetch_part *fp = &parts[k];
            fp->nranges = 0;
            fp->bytes = 0;
            fp->error = fetch_route(rq, t->topic, rp->partition, rp->current_leader_epoch,
                                    &fp->p);
            if (fp->error) {
                *error = true;
                continue;
            }
            int64_t budget = rp->partition_max_bytes < room ? rp->partition_max_bytes : room;
            if (budget <= 0 && total > 0)
                continue;
            uint32_t max = budget > 0 ? (uint32_t)budget : 0;
            int n;
            if (replica_is_follower(fp->p, fetch_replica_id(req))) {
                /* A follower copies what the leader wrote, markers and
                 * all: no LSO, no aborted transactions to list. */
                fp->limit = INT64_MAX;
                fp->upper = rp->fetch_offset;
                n = log_read_bounded(fp->p->log, rp->fetch_offset, log_written_end(fp->p->log),
                                     max, fp->ranges, FETCH_MAX_RANGES);
            } else {
                fp->limit = req->isolation_level == READ_COMMITTED
                                ? replica_last_stable_offset(fp->p)
                                : replica_high_watermark(fp->p);
                n = log_read_upto(fp->p->log, rp->fetch_offset, max, fp->limit, fp->ranges,
                                  FETCH_MAX_RANGES, &fp->upper);
            }
            if (n == -ERANGE) {
                fp->error = KERR_OFFSET_OUT_OF_RANGE;
                *error = true;
                continue;
            }
            if (n < 0) {
                fp->error = KERR_KAFKA_STORAGE_ERROR;
                *error = true;
                continue;
            }
            fp->nranges = n;
            for (int i = 0; i < n; i++)
                fp->bytes += fp->ranges[i].len;
            total += fp->bytes;
            room -= fp->bytes;
        }
    }
    return total;
}

static struct kafka_fetch_resp *fetch_build(struct request *rq, struct fetch_part *parts)
{
    const struct kafka_fetch_req *req = rq->body;
    struct kafka_arena *a = &rq->arena;
    struct kafka_fetch_resp *resp = kafka_arena_alloc(a, sizeof(*resp));
    if (!resp)
        return NULL;
    resp->responses.n = req->topics.n;
    resp->responses.v = kafka_arena_alloc(a, sizeof(*resp->responses.v) * (size_t)req->topics.n + 1);
    if (!resp->responses.v)
        return NULL;
    int k = 0;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_fetch_req_topic *t = &req->topics.v[ti];
        struct kafka_fetch_resp_topic *rt = &resp->responses.v[ti];
        rt->topic = t->topic;
        rt->topic_id = t->topic_id;
        rt->partitions.n = t->partitions.n;
        rt->partitions.v = kafka_arena_alloc(a, sizeof(*rt->partitions.v) * (size_t)t->partitions.n + 1);
        if (!rt->partitions.v)
            return NULL;
        for (int32_t pi = 0; pi < t->partitions.n; pi++, k++) {
            struct fetch_part *fp = &parts[k];
            struct kafka_fetch_resp_partition *r = &rt->partitions.v[pi];
            r->partition_index = t->partitions.v[pi].partition;
            r->error_code = fp->error;
            int64_t hw = fp->p && !fp->error ? replica_high_watermark(fp->p) : -1;
            r->high_watermark = hw;
            r->last_stable_offset = fp->p && !fp->error ? replica_last_stable_offset(fp->p) : -1;
            r->log_start_offset = fp->p ? log_start_offset(fp->p->log) : -1;
            r->diverging_epoch = (struct kafka_fetch_epoch_end_offset){ -1, -1 };
            r->current_leader = (struct kafka_leader_epoch){ -1, -1 };
            r->snapshot_id = (struct kafka_fetch_snapshot_id){ -1, -1 };
            r->aborted_transactions.n = req->isolation_level == READ_COMMITTED ? fp->naborted : -1;
            r->aborted_transactions.v = fp->aborted;
            r->preferred_read_replica = -1;
            if (fp->bytes > 0) {
                fp->p->m.fetch_requests++;
                fp->p->m.bytes_out += fp->bytes;
            }
            if (fp->bytes > 0)
                r->records = (struct kbytes){ NULL, (int32_t)fp->bytes };
            else
                r->records = (struct kbytes){ (const uint8_t *)"", 0 };
            fp->field = &r->records;
        }
    }
    return resp;
}

/* Encodes the response and lays out header bytes and file ranges. */
static int fetch_respond(struct request *rq, struct fetch_part *parts, int nparts,
                         const struct kafka_fetch_resp *resp)
{
    struct kafka_arena *a = &rq->arena;
    struct kafka_splice *splices = kafka_arena_alloc(a, sizeof(*splices) * (size_t)nparts + 1);
    struct out_seg *segs = kafka_arena_alloc(a, sizeof(*segs) *
                                                (size_t)(nparts * (FETCH_MAX_RANGES + 1) + 1));
    size_t at = (a->len + 7) & ~(size_t)7;
    if (!splices || !segs || at >= a->cap)
        return -ENOMEM;
    struct kwriter w;
    kwriter_init(&w, a->buf + at, a->cap - at);
    w.splice = splices;
    w.splice_cap = (uint32_t)nparts;
    struct kafka_frame f = kafka_response_begin(&w, rq->api_key, rq->api_version,
                                                rq->correlation_id);
    kafka_response_encode(&w, rq->api_key, rq->api_version, resp);
    if (kafka_response_end(&w, f) < 0)
        return -ENOMEM;
    a->len = at + w.len;
    const uint8_t *buf = a->buf + at;
    int n = 0;
    size_t done = 0;
    for (uint32_t i = 0; i < w.nsplice; i++) {
        const struct kafka_splice *sp = &w.splice[i];
        if (sp->off > done)
            segs[n++] = (struct out_seg){ .p = buf + done, .len = (uint32_t)(sp->off - done) };
        done = sp->off;
        for (int k = 0; k < nparts; k++) {
            if (parts[k].field != sp->field)
                continue;
            for (int r = 0; r < parts[k].nranges; r++)
                segs[n++] = (struct out_seg){ .fd = parts[k].ranges[r].fd,
                                              .pos = parts[k].ranges[r].pos,
                                              .len = parts[k].ranges[r].len };
        }
    }
    if (w.len > done)
        segs[n++] = (struct out_seg){ .p = buf + done, .len = (uint32_t)(w.len - done) };
    return request_respond_segs(rq, segs, n);
}

static int fetch_count(const struct kafka_fetch_req *req)
{
    int n = 0;
    for (int32_t ti = 0; ti < req->topics.n; ti++)
        n += req->topics.v[ti].partitions.n;
    return n;
}

static int cmp_first(const void *a, const void *b)
{
    const struct aborted_txn *x = a, *y = b;
    return (x->first_offset > y->first_offset) - (x->first_offset < y->first_offset);
}

/* read_committed: the aborted transactions overlapping what fp returns.
 * More than FETCH_ABORTED_MAX of them: the data is cut at the first
 * offset of the one after the limit, so every one it needs is listed. */
static int fetch_aborted(struct request *rq, const struct kafka_fetch_req_partition *rp,
                         struct fetch_part *fp)
{
    struct aborted_txn a[FETCH_ABORTED_MAX + 1];
    int n = log_aborted_txns(fp->p->log, rp->fetch_offset, fp->upper, a, FETCH_ABORTED_MAX + 1);
    if (n > FETCH_ABORTED_MAX) {
        qsort(a, (size_t)n, sizeof(*a), cmp_first);
        int64_t cut = a[FETCH_ABORTED_MAX].first_offset;
        if (cut > rp->fetch_offset) {
            uint32_t budget = fp->bytes;
            int k = log_read_upto(fp->p->log, rp->fetch_offset, budget, cut, fp->ranges,
                                  FETCH_MAX_RANGES, &fp->upper);
            fp->nranges = k > 0 ? k : 0;
            fp->bytes = 0;
            for (int i = 0; i < fp->nranges; i++)
                fp->bytes += fp->ranges[i].len;
            n = log_aborted_txns(fp->p->log, rp->fetch_offset, fp->upper, a, FETCH_ABORTED_MAX);
        } else {
            n = FETCH_ABORTED_MAX;
        }
    }
    /* not in fetch_arena_need: most fetches list none */
    if (request_arena_reserve(rq, sizeof(*fp->aborted) * (size_t)n) < 0 ||
        !(fp->aborted = request_alloc(rq, sizeof(*fp->aborted) * (size_t)n)))
        return -ENOMEM;
    qsort(a, (size_t)n, sizeof(*a), cmp_first); /* Kafka sorts them by offset */
    for (int i = 0; i < n; i++)
        fp->aborted[i] = (struct kafka_fetch_aborted_txn){ a[i].pid, a[i].first_offset };
    fp->naborted = n;
    return 0;
}

/* Everything the answer takes from the arena (fetch_part, the response
 * structs, splices, segments, the encoded header bytes: a partition's are
 * under 64, a topic's its name), so that a Fetch of hundreds of partitions
 * (a client's, for all a broker leads) is answered rather than closed. */
static size_t fetch_arena_need(const struct kafka_fetch_req *req)
{
    size_t np = (size_t)fetch_count(req), nt = (size_t)request_count(req->topics.n);
    return np * (sizeof(struct fetch_part) + sizeof(struct kafka_fetch_resp_partition) +
                 sizeof(struct kafka_splice) + sizeof(struct out_seg) * (FETCH_MAX_RANGES + 1) +
                 64) +
           nt * (sizeof(struct kafka_fetch_resp_topic) + MD_TOPIC_NAME_MAX + 64) + 1024;
}

static int fetch_answer(struct request *rq, struct fetch_part *parts)
{
    const struct kafka_fetch_req *req = rq->body;
    int k = 0;
    for (int32_t ti = 0; req->isolation_level == READ_COMMITTED && ti < req->topics.n; ti++)
        for (int32_t pi = 0; pi < req->topics.v[ti].partitions.n; pi++, k++)
            if (parts[k].p && !parts[k].error &&
                fetch_aborted(rq, &req->topics.v[ti].partitions.v[pi], &parts[k]) < 0)
                return -ENOMEM;
    int nparts = fetch_count(rq->body);
    struct kafka_fetch_resp *resp = fetch_build(rq, parts);
    if (!resp)
        return -ENOMEM;
    return fetch_respond(rq, parts, nparts, resp);
}

/* A follower's fetch: what it has (its fetch offsets) reaches the leader
 * once, when the request arrives. */
static void fetch_from_follower(struct request *rq, int32_t replica_id)
{
    const struct kafka_fetch_req *req = rq->body;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_fetch_req_topic *t = &req->topics.v[ti];
        for (int32_t pi = 0; pi < t->partitions.n; pi++) {
            const struct kafka_fetch_req_partition *rp = &t->partitions.v[pi];
            struct partition *p = shard_partition(rq->shard, t->topic.p, (size_t)t->topic.len,
                                                  rp->partition);
            if (p && p->repl)
                replica_on_fetch(rq->shard, p, replica_id, rp->fetch_offset);
        }
    }
}

static int fetch_poll(struct request *rq)
{
    struct request_priv *p = rq->priv;
    struct fetch_part *parts = p->state;
    const struct kafka_fetch_req *req = rq->body;
    if (!rq->conn) {
        request_release(rq);
        return 1;
    }
    bool error;
    uint64_t total = fetch_collect(rq, parts, &error);
    if (total < (uint64_t)(req->min_bytes > 0 ? req->min_bytes : 1) && !error &&
        rq->shard->mono_ms < p->deadline_ms && !rq->shard->stopping)
        return 0;
    if (fetch_answer(rq, parts) < 0)
        conn_close(rq->conn, "cannot encode a fetch response");
    return 1;
}

int handle_fetch(struct request *rq)
{
    const struct kafka_fetch_req *req = rq->body;
    if (req->session_id != 0) {
        /* We never hand out sessions, so this one cannot exist. */
        struct kafka_fetch_resp *resp = kafka_arena_alloc(&rq->arena, sizeof(*resp));
        if (!resp)
            return -ENOMEM;
        resp->error_code = KERR_FETCH_SESSION_ID_NOT_FOUND;
        return request_respond(rq, resp);
    }
    if (request_arena_reserve(rq, fetch_arena_need(req)) < 0)
        return -ENOMEM;
    struct fetch_part *parts = kafka_arena_alloc(&rq->arena,
                                                 sizeof(*parts) * (size_t)fetch_count(req) + 1);
    if (!parts)
        return -ENOMEM;
    struct request_priv *p = rq->priv;
    p->state = parts;
    p->deadline_ms = rq->shard->mono_ms + (req->max_wait_ms > 0 ? req->max_wait_ms : 0);
    if (fetch_replica_id(req) >= 0)
        fetch_from_follower(rq, fetch_replica_id(req));
    if (fetch_poll(rq))
        return 0;
    request_wait(rq, fetch_poll, p->deadline_ms);
    return 0;
}

static void list_one(struct request *rq, const struct kafka_list_offsets_req_topic *t,
                     const struct kafka_list_offsets_req_partition *rp,
                     struct kafka_list_offsets_resp_partition *r)
{
    struct partition *p;
    r->partition_index = rp->partition_index;
    r->timestamp = -1;
    r->offset = -1;
    r->leader_epoch = -1;
    r->error_code = fetch_route(rq, t->name, rp->partition_index, rp->current_leader_epoch, &p);
    if (r->error_code)
        return;
    /* latest: the high watermark, or the LSO for read_committed */
    const struct kafka_list_offsets_req *req = rq->body;
    int64_t end = rq->api_version >= 2 && req->isolation_level == READ_COMMITTED
                      ? replica_last_stable_offset(p) : replica_high_watermark(p);
    if (rp->timestamp == -1) {
        r->offset = end;
    } else if (rp->timestamp == -2) {
        r->offset = log_start_offset(p->log);
    } else if (rp->timestamp >= 0) {
        int64_t off, ts;
        if (log_offset_for_timestamp(p->log, rp->timestamp, &off, &ts) == 0 && off < end) {
            r->offset = off;
            r->timestamp = ts;
        } else if (p->offline) {
            r->error_code = KERR_KAFKA_STORAGE_ERROR; /* its scan hit a disk fault */
            return;
        }
    } else if (rp->timestamp == -3 && rq->api_version >= 7) {
        int64_t off, ts;                   /* MAX_TIMESTAMP (KIP-734) */
        if (log_max_timestamp(p->log, &off, &ts) == 0 && off < log_durable_end(p->log)) {
            r->offset = off;
            r->timestamp = ts;
        } else if (p->offline) {
            r->error_code = KERR_KAFKA_STORAGE_ERROR;
            return;
        }
    } else {
        r->error_code = 42; /* INVALID_REQUEST: no such spec at this version */
        return;
    }
    r->leader_epoch = replica_leader_epoch(p);
    if (rq->api_version == 0 && r->offset >= 0) {
        r->old_style_offsets.n = 1;
        r->old_style_offsets.v = kafka_arena_alloc(&rq->arena, sizeof(int64_t));
        if (r->old_style_offsets.v)
            r->old_style_offsets.v[0] = r->offset;
        else
            r->old_style_offsets.n = 0;
    }
}

int handle_list_offsets(struct request *rq)
{
    const struct kafka_list_offsets_req *req = rq->body;
    struct kafka_arena *a = &rq->arena;
    struct kafka_list_offsets_resp *resp = kafka_arena_alloc(a, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    resp->topics.n = req->topics.n;
    resp->topics.v = kafka_arena_alloc(a, sizeof(*resp->topics.v) * (size_t)req->topics.n + 1);
    if (!resp->topics.v)
        return -ENOMEM;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_list_offsets_req_topic *t = &req->topics.v[ti];
        struct kafka_list_offsets_resp_topic *rt = &resp->topics.v[ti];
        rt->name = t->name;
        rt->partitions.n = t->partitions.n;
        rt->partitions.v = kafka_arena_alloc(a, sizeof(*rt->partitions.v) * (size_t)t->partitions.n + 1);
        if (!rt->partitions.v)
            return -ENOMEM;
        for (int32_t pi = 0; pi < t->partitions.n; pi++)
            list_one(rq, t, &t->partitions.v[pi], &rt->partitions.v[pi]);
    }
    return request_respond(rq, resp);
}
