/* replica_fetch.c - a follower's fetchers (Kafka's ReplicaFetcherThread
 * and AbstractFetcherThread), one per leader broker a shard follows: a
 * peer connection to the leader's shard, replica Fetch requests
 * (replica_id = this shard's broker id) for every partition followed
 * there, and, first, OffsetForLeaderEpoch to truncate what the leader
 * does not have (KIP-101, KIP-279).
 *
 * Owns: struct fetcher, the fetch and truncation steps of each followed
 * partition, the fetched answers' buffers while their batches wait in the
 * logs' queues.
 *
 * Invariants:
 *   1. Zero copy: fetched batches are appended from the answer's receive
 *      buffer (peer_keep_frame), as they are: offsets, leader epochs, CRCs
 *      (log_append_replica). The buffer lives until every log it was
 *      appended to has written it.
 *   2. A fetcher asks again only once everything it appended is durable
 *      per the log's flush policy, so the fetch offset the leader hears is
 *      what this replica would keep across a crash (with "always":
 *      fdatasync'ed): that is what acks=all waits for (replica.c).
 *   3. A replica fetches only after truncating to where its latest epoch
 *      ends on the leader (the leader's end offset for it, or, when the
 *      leader knows only an older epoch, the end of that one on both
 *      sides, asked again until both agree): what it keeps is the leader's.
 *   4. One request at a time per fetcher; an answer is matched to what it
 *      asked (the replica and its state generation): an answer for a
 *      replica whose state changed since is dropped.
 *
 * Never: blocks; appends to a partition it does not follow. */
#include "dataplane/replica_private.h"
#include "dataplane/peer.h"
#include "dataplane/shard_private.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_cluster.h"
#include "dataplane/kafka/msg_fetch.h"
#include "storage/batch.h"
#include "storage/kerr.h"

#include "slog/slog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_RETRY_MS 100          /* a partition error: the leader moves */
#define FETCH_TIMEOUT_SLACK_MS 10000

/* --- buffers ---------------------------------------------------------------- */

void fetch_buf_release(struct replica *r)
{
    struct fetch_buf *b = r->buf;

    r->buf = NULL;
    if (b && --b->refs == 0) {
        struct fetcher *f = r->fetcher;
        peer_recycle(f ? f->peer : NULL, b->data, b->cap);
        free(b);
    }
}

/* Invariant 1: answers whose batches every log has written. */
static void buffers_release(struct replica_shard *rs)
{
    for (struct replica *r = rs->all; r; r = r->next)
        if (r->buf && (log_written_end(r->p->log) >= r->append_end || log_error(r->p->log)))
            fetch_buf_release(r);
}

/* --- fetchers --------------------------------------------------------------- */

static void ask(struct fetcher *f, struct replica *r)
{
    r->asked = true;
    r->asked_gen = r->gen;
    f->nsent++;
}

/* Forgets what the request out asked (its answer will not come). */
static void unask(struct fetcher *f)
{
    for (struct replica *r = f->parts; r; r = r->fnext)
        r->asked = false;
    f->nsent = 0;
}

static void fetcher_disconnect(struct fetcher *f, int32_t backoff_ms)
{
    struct shard *s = replica_shard_of(f->rs);
    int32_t max = s->cfg.broker->replica_fetch_backoff_ms;

    peer_close(f->peer);
    f->peer = NULL;
    f->corr = 0;
    unask(f);
    f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : backoff_ms;
    if (f->backoff_ms > max)
        f->backoff_ms = max > backoff_ms ? max : backoff_ms;
    f->retry_ms = s->mono_ms + f->backoff_ms;
}

void fetch_follow(struct replica_shard *rs, struct replica *r)
{
    struct fetcher *f;

    for (f = rs->fetchers; f && f->leader != r->st.leader; f = f->next)
        ;
    if (!f) {
        if (!(f = calloc(1, sizeof *f))) {
            r->fstate = FETCH_NONE;     /* the next state change retries */
            return;
        }
        f->rs = rs;
        f->leader = r->st.leader;
        f->next = rs->fetchers;
        rs->fetchers = f;
    }
    r->fetcher = f;
    r->fnext = f->parts;
    f->parts = r;
}

void fetch_unfollow(struct replica_shard *rs, struct replica *r)
{
    struct fetcher *f = r->fetcher, **pp;
    struct replica **rp;

    if (!f)
        return;
    for (rp = &f->parts; *rp && *rp != r; rp = &(*rp)->fnext)
        ;
    if (*rp)
        *rp = r->fnext;
    r->fnext = NULL;
    r->fstate = FETCH_NONE;
    /* Its buffer stays referenced (r->buf) until the log wrote it. */
    r->fetcher = NULL;
    if (f->parts)
        return;
    for (pp = &rs->fetchers; *pp && *pp != f; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = f->next;
    peer_close(f->peer);
    free(f);
}

void fetch_close_all(struct replica_shard *rs)
{
    while (rs->fetchers) {
        struct fetcher *f = rs->fetchers;
        rs->fetchers = f->next;
        for (struct replica *r = f->parts; r; r = r->fnext)
            r->fetcher = NULL;
        peer_close(f->peer);
        free(f);
    }
}

/* --- answers -------------------------------------------------------------- */

/* The replica an answer's partition was asked for, NULL if it changed. */
static struct replica *sent_replica(struct fetcher *f, struct kstr topic, int32_t partition)
{
    struct shard *s = replica_shard_of(f->rs);
    struct partition *p = shard_partition(s, topic.p, (size_t)topic.len, partition);

    struct replica *r = p ? p->repl : NULL;

    if (!r || r->fetcher != f || !r->asked)
        return NULL;
    r->asked = false;
    return r->asked_gen == r->gen ? r : NULL;
}

static void partition_retry(struct shard *s, struct replica *r, int16_t error)
{
    if (error != KERR_NOT_LEADER_OR_FOLLOWER && error != KERR_UNKNOWN_TOPIC_OR_PARTITION &&
        error != KERR_FENCED_LEADER_EPOCH && error != KERR_UNKNOWN_LEADER_EPOCH &&
        error != KERR_LEADER_NOT_AVAILABLE)
        slog(SLOG_WARN, "replica", "fetch failed shard=%d partition=%s-%d leader=%d error=%d",
             s->cfg.index,
                r->p->topic, r->p->index, r->st.leader, error);
    r->retry_ms = s->mono_ms + FETCH_RETRY_MS;
}

/* KIP-279: where to cut after the leader's answer for r->ask_epoch. */
static void truncation_answer(struct shard *s, struct replica *r,
                              const struct kafka_ofle_resp_partition *a)
{
    struct log *log = r->p->log;
    int64_t leo = log_end_offset(log);
    int32_t fe;
    int64_t fend;

    if (a->error_code != KERR_NONE) {
        partition_retry(s, r, a->error_code);
        return;
    }
    r->fstate = FETCH_CUT;
    r->cut_full = false;
    r->cut_complete = true;
    if (a->end_offset < 0) {
        r->cut_at = r->hw;              /* the leader knows no such epoch */
    } else if (a->leader_epoch < 0) {
        r->cut_at = a->end_offset;
    } else {
        log_epoch_end_offset(log, a->leader_epoch, &fe, &fend);
        if (fend < 0) {
            r->cut_at = r->hw;
        } else if (fe != a->leader_epoch) {
            r->cut_at = fend;           /* ask again, for fe */
            r->cut_complete = false;
        } else {
            r->cut_at = a->end_offset < fend ? a->end_offset : fend;
        }
    }
    if (r->cut_at > leo)
        r->cut_at = leo;
}

static void on_epochs(struct fetcher *f, const struct kafka_ofle_resp *resp)
{
    struct shard *s = replica_shard_of(f->rs);

    for (int32_t t = 0; t < resp->topics.n; t++) {
        const struct kafka_ofle_resp_topic *rt = &resp->topics.v[t];
        for (int32_t k = 0; k < rt->partitions.n; k++) {
            struct replica *r = sent_replica(f, rt->topic, rt->partitions.v[k].partition);
            if (r && r->fstate == FETCH_TRUNCATE)
                truncation_answer(s, r, &rt->partitions.v[k]);
        }
    }
}

/* The whole batches of a fetched range (the last may be cut short). */
static size_t whole_batches(const uint8_t *p, size_t len)
{
    size_t off = 0;

    while (len - off >= BATCH_HEADER_SIZE) {
        uint32_t size = be32_load(p + off + BATCH_OFF_LENGTH) + BATCH_LOG_OVERHEAD;
        if (size < BATCH_HEADER_SIZE || size > len - off)
            break;
        off += size;
    }
    return off;
}

/* One partition's data; 1 if batches were appended from the answer. */
static int fetched(struct fetcher *f, struct replica *r,
                   const struct kafka_fetch_resp_partition *rp, struct fetch_buf *buf)
{
    struct shard *s = replica_shard_of(f->rs);
    struct log *log = r->p->log;
    struct log_append_result res;

    if (rp->error_code == KERR_OFFSET_OUT_OF_RANGE) {
        if (rp->log_start_offset > log_end_offset(log)) {
            r->fstate = FETCH_CUT;      /* behind the leader's start: empty */
            r->cut_full = true;
            r->cut_complete = true;
            r->cut_at = rp->log_start_offset;
        } else {
            r->fstate = FETCH_TRUNCATE; /* ahead of the leader: ask where */
        }
        return 0;
    }
    if (rp->error_code != KERR_NONE) {
        partition_retry(s, r, rp->error_code);
        return 0;
    }
    size_t len = rp->records.len > 0 ? whole_batches(rp->records.p, (size_t)rp->records.len) : 0;
    int appended = 0;
    if (len > 0) {
        int rc = log_append_replica(log, (uint8_t *)rp->records.p, len, s->now_ms, &res);
        if (rc == 0) {
            shard_mark_dirty(s, r->p);
            r->append_end = log_end_offset(log);
            r->buf = buf;
            buf->refs++;
            appended = 1;
        } else if (rc == -EINVAL) {
            r->fstate = FETCH_TRUNCATE;  /* it does not continue our log */
        } else if (rc != -EAGAIN) {
            slog(SLOG_ERROR, "replica", "cannot append fetched batches shard=%d "
                 "partition=%s-%d leader=%d error=\"%s\"",
                    s->cfg.index, r->p->topic, r->p->index, r->st.leader,
                    rc > 0 ? "a bad batch" : strerror(-rc));
            r->retry_ms = s->mono_ms + s->cfg.broker->replica_fetch_backoff_ms;
        }
    }
    replica_follower_hw(r, rp->high_watermark);
    return appended;
}

static void on_fetch(struct fetcher *f, struct peer *p, const struct kafka_fetch_resp *resp)
{
    struct fetch_buf *buf = calloc(1, sizeof *buf);

    if (!buf) {
        fetcher_disconnect(f, FETCH_RETRY_MS);
        return;
    }
    if (resp->error_code != KERR_NONE)
        slog(SLOG_WARN, "replica", "fetch failed shard=%d leader=%d error=%d",
                replica_shard_of(f->rs)->cfg.index, f->leader, resp->error_code);
    for (int32_t t = 0; t < resp->responses.n; t++) {
        const struct kafka_fetch_resp_topic *rt = &resp->responses.v[t];
        for (int32_t k = 0; k < rt->partitions.n; k++) {
            const struct kafka_fetch_resp_partition *rp = &rt->partitions.v[k];
            struct replica *r = sent_replica(f, rt->topic, rp->partition_index);
            if (r && r->fstate == FETCH_READY)
                fetched(f, r, rp, buf);
        }
    }
    if (buf->refs > 0)
        buf->data = peer_keep_frame(p, &buf->cap); /* invariant 1 */
    else
        free(buf);
}

static void on_frame(struct peer *p, const uint8_t *frame, uint32_t len)
{
    struct fetcher *f = p->ctx;
    struct replica_shard *rs = f->rs;
    struct kreader rd;
    void *body = NULL;
    int16_t api = f->api;

    kafka_arena_init(&rs->arena, rs->arena_buf, REPLICA_ARENA);
    kreader_init(&rd, frame, len);
    int32_t cid = kr_int32(&rd);        /* response header v0: both APIs */
    if (cid != f->corr ||
        kafka_response_decode(&rd, api, api == KAFKA_FETCH ? 11 : 3, &rs->arena, &body) < 0 ||
        !body) {
        slog(SLOG_WARN, "replica", "a bad answer, reconnecting shard=%d leader=%d api=%d",
                rs->shard->cfg.index, f->leader, api);
        fetcher_disconnect(f, FETCH_RETRY_MS);
        return;
    }
    f->corr = 0;
    f->backoff_ms = 0;
    if (api == KAFKA_FETCH)
        on_fetch(f, p, body);
    else
        on_epochs(f, body);
    unask(f);
}

static void on_error(struct peer *p, int err)
{
    struct fetcher *f = p->ctx;

    f->peer = NULL;                     /* gone with this call */
    if (err && err != -ECONNREFUSED && err != -ECONNRESET)
        slog(SLOG_WARN, "replica", "fetch connection failed shard=%d leader=%d error=\"%s\"",
                replica_shard_of(f->rs)->cfg.index, f->leader, strerror(-err));
    fetcher_disconnect(f, FETCH_RETRY_MS);
}

static const struct peer_ops fetch_ops = {.on_frame = on_frame, .on_error = on_error};

/* --- requests --------------------------------------------------------------- */

static int send_frame(struct fetcher *f, int16_t api, int16_t version, const void *req)
{
    struct replica_shard *rs = f->rs;
    struct shard *s = rs->shard;
    struct kwriter w;
    struct kafka_request_header h = {.api_key = api, .api_version = version,
                                     .correlation_id = replica_next_correlation(s),
                                     .client_id = kstr_c("sluice-replica"), .version = 1};

    kwriter_init(&w, rs->frame, REPLICA_FRAME_MAX);
    kw_int32(&w, 0);
    kafka_request_header_write(&w, &h);
    if (kafka_request_encode(&w, api, version, req) < 0 || w.len > REPLICA_FRAME_MAX)
        return -ENOSPC;
    kw_put_int32_at(&w, 0, (int32_t)(w.len - 4));
    if (peer_send(f->peer, rs->frame, (uint32_t)w.len) < 0) {
        fetcher_disconnect(f, FETCH_RETRY_MS);
        return -EPIPE;
    }
    f->corr = h.correlation_id;
    f->api = api;
    return 0;
}

static bool wants(const struct shard *s, const struct replica *r, enum fetch_state st)
{
    return r->fstate == st && s->mono_ms >= r->retry_ms;
}

/* OffsetForLeaderEpoch v3 for the replicas that must truncate. */
static int send_epochs(struct fetcher *f)
{
    struct replica_shard *rs = f->rs;
    struct shard *s = rs->shard;
    struct kafka_ofle_req req = {.replica_id = s->cfg.broker_id};
    struct kafka_ofle_req_topic *topics =
        kafka_arena_alloc(&rs->arena, sizeof *topics * FETCH_PARTS_MAX);
    struct kafka_ofle_req_partition *parts =
        kafka_arena_alloc(&rs->arena, sizeof *parts * FETCH_PARTS_MAX);

    if (!topics || !parts)
        return -ENOMEM;
    f->nsent = 0;
    for (struct replica *r = f->parts; r && f->nsent < FETCH_PARTS_MAX; r = r->fnext) {
        if (!wants(s, r, FETCH_TRUNCATE))
            continue;
        struct log *log = r->p->log;
        r->ask_epoch = log_latest_epoch(log);
        if (r->ask_epoch < 0) {
            /* No epochs: an empty log keeps nothing to compare, an older
             * one without them keeps what the high watermark covers. */
            r->fstate = FETCH_CUT;
            r->cut_full = false;
            r->cut_complete = true;
            r->cut_at = log_end_offset(log) > log_start_offset(log) ? r->hw : log_end_offset(log);
            continue;
        }
        int n = f->nsent;
        parts[n] = (struct kafka_ofle_req_partition){.partition = r->p->index,
                                                     .current_leader_epoch = r->st.leader_epoch,
                                                     .leader_epoch = r->ask_epoch};
        topics[n] = (struct kafka_ofle_req_topic){.topic = kstr_c(r->p->topic),
                                                  .partitions = {.v = &parts[n], .n = 1}};
        ask(f, r);
    }
    if (f->nsent == 0)
        return 0;
    req.topics.v = topics;
    req.topics.n = f->nsent;
    return send_frame(f, KAFKA_OFFSET_FOR_LEADER_EPOCH, 3, &req);
}

/* Fetch v11 for the replicas ready, each at its log end. */
static int send_fetch(struct fetcher *f)
{
    struct replica_shard *rs = f->rs;
    struct shard *s = rs->shard;
    const struct broker_config *cfg = s->cfg.broker;
    struct kafka_fetch_req req = {
        .replica_id = s->cfg.broker_id, .replica_state = {-1, -1},
        .max_wait_ms = cfg->replica_fetch_wait_max_ms, .min_bytes = 1,
        .max_bytes = cfg->replica_fetch_response_max_bytes, .session_epoch = -1,
        .rack_id = kstr_c("")};
    struct kafka_fetch_req_topic *topics =
        kafka_arena_alloc(&rs->arena, sizeof *topics * FETCH_PARTS_MAX);
    struct kafka_fetch_req_partition *parts =
        kafka_arena_alloc(&rs->arena, sizeof *parts * FETCH_PARTS_MAX);

    if (!topics || !parts)
        return -ENOMEM;
    f->nsent = 0;
    for (struct replica *r = f->parts; r && f->nsent < FETCH_PARTS_MAX; r = r->fnext) {
        if (!wants(s, r, FETCH_READY))
            continue;
        int n = f->nsent;
        parts[n] = (struct kafka_fetch_req_partition){
            .partition = r->p->index, .current_leader_epoch = r->st.leader_epoch,
            .fetch_offset = log_end_offset(r->p->log), .last_fetched_epoch = -1,
            .log_start_offset = -1, .partition_max_bytes = cfg->replica_fetch_max_bytes};
        topics[n] = (struct kafka_fetch_req_topic){.topic = kstr_c(r->p->topic),
                                                   .partitions = {.v = &parts[n], .n = 1}};
        ask(f, r);
    }
    if (f->nsent == 0)
        return 0;
    req.topics.v = topics;
    req.topics.n = f->nsent;
    return send_frame(f, KAFKA_FETCH, 11, &req);
}

/* --- the turn ------------------------------------------------------------------ */

/* Cuts the logs whose truncation point is known, once they are idle. */
static int cut_logs(struct fetcher *f)
{
    struct shard *s = replica_shard_of(f->rs);
    int work = 0;

    for (struct replica *r = f->parts; r; r = r->fnext) {
        if (r->fstate != FETCH_CUT || r->buf)
            continue;
        struct log *log = r->p->log;
        int64_t leo = log_end_offset(log);
        int rc = r->cut_full ? log_truncate_fully(log, r->cut_at, s->now_ms)
                             : log_truncate(log, r->cut_at, s->now_ms);
        if (rc == -EBUSY)
            continue;                   /* its writes first */
        if (rc < 0) {
            slog(SLOG_ERROR, "replica", "cannot truncate shard=%d partition=%s-%d to=%lld "
                 "error=\"%s\"", s->cfg.index,
                    r->p->topic, r->p->index, (long long)r->cut_at, strerror(-rc));
            r->fstate = FETCH_NONE;
            continue;
        }
        if (log_end_offset(log) != leo || r->cut_full)
            slog(SLOG_INFO, "replica", "truncated shard=%d partition=%s-%d from=%lld to=%lld "
                 "leader=%d epoch=%d",
                    s->cfg.index, r->p->topic, r->p->index, (long long)leo,
                    (long long)log_end_offset(log), r->st.leader, r->st.leader_epoch);
        if (r->hw > log_end_offset(log))
            r->hw = log_end_offset(log);
        r->cut_full = false;
        r->fstate = r->cut_complete ? FETCH_READY : FETCH_TRUNCATE;
        work++;
    }
    return work;
}

/* Invariant 2: everything appended from the last answer is durable. */
static bool settled(const struct fetcher *f)
{
    for (const struct replica *r = f->parts; r; r = r->fnext)
        if (r->buf || (r->append_end > 0 && log_durable_end(r->p->log) < r->append_end &&
                       !log_error(r->p->log)))
            return false;
    return true;
}

static int fetcher_do_work(struct fetcher *f)
{
    struct replica_shard *rs = f->rs;
    struct shard *s = rs->shard;
    int work = cut_logs(f);

    if (f->corr) {
        if (s->mono_ms >= f->deadline_ms)
            fetcher_disconnect(f, FETCH_RETRY_MS); /* no answer: the leader is gone */
        return work;
    }
    if (s->mono_ms < f->retry_ms || !settled(f))
        return work;
    if (!f->peer) {
        const struct md_broker *b = md_find_broker(s->md, f->leader);
        if (!b || !(f->peer = peer_open(s, b->host, b->port, &fetch_ops, f))) {
            f->retry_ms = s->mono_ms + FETCH_RETRY_MS;
            return work;
        }
    }
    kafka_arena_init(&rs->arena, rs->arena_buf, REPLICA_ARENA);
    int rc = send_epochs(f);
    if (rc == 0 && !f->corr)
        rc = send_fetch(f);
    if (rc < 0)
        f->retry_ms = s->mono_ms + FETCH_RETRY_MS;
    if (f->corr) {
        f->deadline_ms = s->mono_ms + s->cfg.broker->replica_fetch_wait_max_ms +
                         FETCH_TIMEOUT_SLACK_MS;
        work++;
    }
    return work;
}

int fetch_do_work(struct replica_shard *rs)
{
    int work = 0;

    buffers_release(rs);
    for (struct fetcher *f = rs->fetchers, *next; f; f = next) {
        next = f->next;
        work += fetcher_do_work(f);
    }
    return work;
}

/* The next deadline still ahead (one passed was handled this turn: what
 * waits now waits for an event, a completion or an answer). */
static void sooner(int64_t *wake, int64_t t, int64_t now)
{
    if (t > now && t < *wake)
        *wake = t;
}

int64_t fetch_next_wake(const struct replica_shard *rs)
{
    int64_t wake = INT64_MAX, now = rs->shard->mono_ms;

    for (const struct fetcher *f = rs->fetchers; f; f = f->next) {
        if (f->corr) {
            sooner(&wake, f->deadline_ms, now);
            continue;
        }
        sooner(&wake, f->retry_ms, now);
        for (const struct replica *r = f->parts; r; r = r->fnext)
            if (r->fstate != FETCH_NONE)
                sooner(&wake, r->retry_ms, now);
    }
    return wake;
}
