/* replica.c - a shard's replicas of replicated partitions: their state as
 * the controller decided it, and the leader's side of replication (Kafka's
 * Partition: maybeExpandIsr, maybeShrinkIsr, the high watermark), with the
 * ISR changes it asks the controller for (AlterPartition). The follower's
 * fetching is replica_fetch.c's.
 *
 * Owns: struct replica of every replicated partition of the shard, the
 * followers' fetch offsets and catch-up times, the high watermark and its
 * checkpoint, the AlterPartition out (one per shard at a time: to the
 * control thread when the controller is this node, else to the
 * controller's shard 0 over a peer connection).
 *
 * Invariants:
 *   1. The high watermark is the smallest of the leader's durable end and
 *      the fetch offsets of every member of the maximal ISR (the committed
 *      ISR and the members an ISR change out would add): a follower's fetch
 *      offset counts only what it made durable per its flush policy
 *      (replica_fetch.c fetches again only then). It never moves back.
 *   2. While an ISR change is out, the removed members still count for the
 *      high watermark: only once the controller committed the shrink may
 *      the leader acknowledge without them (an election could still pick
 *      them until then).
 *   3. A follower joins the ISR only once it has everything below the high
 *      watermark and below this leader epoch's start (so it truncated what
 *      an older leader gave it and this one does not have).
 *   4. A state (leader epoch, partition epoch) older than the one applied
 *      is ignored: AlterPartition answers and the control thread's
 *      messages may cross.
 *
 * Never: blocks (checkpoints are unsynced writes of a few bytes, once per
 * interval); touches another shard's partitions. */
#include "dataplane/replica_private.h"
#include "dataplane/peer.h"
#include "dataplane/shard_private.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_cluster.h"
#include "storage/kerr.h"

#include "slog/slog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALTER_TIMEOUT_MS 10000
#define ALTER_RETRY_MS 1000
#define ALTER_MAX 512              /* partitions in one AlterPartition */

struct shard *replica_shard_of(const struct replica_shard *rs)
{
    return rs->shard;
}

int32_t replica_next_correlation(struct shard *s)
{
    if (++s->next_correlation_id <= 0)
        s->next_correlation_id = 1;
    return s->next_correlation_id;
}

int64_t replica_now_ms(const struct shard *s)
{
    return s->mono_ms;
}

int replica_shard_init(struct shard *s)
{
    struct replica_shard *rs = calloc(1, sizeof *rs);

    if (!rs)
        return -ENOMEM;
    rs->shard = s;
    rs->arena_buf = malloc(REPLICA_ARENA);
    rs->frame = malloc(REPLICA_FRAME_MAX);
    if (!rs->arena_buf || !rs->frame) {
        free(rs->arena_buf);
        free(rs->frame);
        free(rs);
        return -ENOMEM;
    }
    rs->ctrl_broker = -1;
    s->replicas = rs;
    return 0;
}

void replica_shard_close(struct shard *s)
{
    struct replica_shard *rs = s->replicas;

    if (!rs)
        return;
    fetch_close_all(rs);
    peer_close(rs->ctrl);
    while (rs->all) {
        struct replica *r = rs->all;
        rs->all = r->next;
        r->p->repl = NULL;
        free(r);
    }
    free(rs->arena_buf);
    free(rs->frame);
    free(rs);
    s->replicas = NULL;
}

/* --- state ------------------------------------------------------------------- */

static bool is_leader(const struct replica *r)
{
    return r->st.leader >= 0 && r->st.leader == r->st.broker;
}

static int replica_index(const struct replica *r, int32_t broker)
{
    for (int32_t i = 0; i < r->st.nreplicas; i++)
        if (r->st.replicas[i] == broker)
            return i;
    return -1;
}

static void become_leader(struct shard *s, struct replica *r)
{
    struct log *log = r->p->log;

    fetch_unfollow(s->replicas, r);
    log_set_leader_epoch(log, r->st.leader_epoch);
    r->leader_start = log_end_offset(log);
    for (int32_t i = 0; i < r->st.nreplicas; i++)
        r->f[i] = (struct follower){.broker = r->st.replicas[i], .fetch_offset = -1,
                                    .caught_up_ms = s->mono_ms, .last_fetch_ms = s->mono_ms};
    r->alter_out = r->alter_queued = false;
    slog(SLOG_INFO, "replica", "leading shard=%d partition=%s-%d epoch=%d from=%lld isr=%d",
            s->cfg.index, r->p->topic, r->p->index, r->st.leader_epoch,
            (long long)r->leader_start, r->st.nisr);
}

static void become_follower(struct shard *s, struct replica *r)
{
    fetch_unfollow(s->replicas, r);
    r->alter_out = r->alter_queued = false;
    r->fstate = FETCH_NONE;
    if (r->st.leader < 0)
        return;
    r->fstate = FETCH_TRUNCATE;
    r->retry_ms = 0;
    fetch_follow(s->replicas, r);
}

static bool state_older(const struct ctl_replica_state *a, const struct ctl_replica_state *b)
{
    return a->leader_epoch < b->leader_epoch ||
           (a->leader_epoch == b->leader_epoch && a->partition_epoch < b->partition_epoch);
}

/* The followers follow the replica list (a reassignment may change it). */
static void followers_remap(struct shard *s, struct replica *r, const struct ctl_replica_state *st)
{
    struct follower f[MD_REPLICAS_MAX];

    for (int32_t i = 0; i < st->nreplicas; i++) {
        int k = replica_index(r, st->replicas[i]);
        f[i] = k >= 0 ? r->f[k]
                      : (struct follower){.broker = st->replicas[i], .fetch_offset = -1,
                                          .caught_up_ms = s->mono_ms,
                                          .last_fetch_ms = s->mono_ms};
    }
    memcpy(r->f, f, sizeof f);
}

int replica_apply(struct shard *s, struct partition *p, const struct ctl_replica_state *st)
{
    struct replica_shard *rs = s->replicas;
    struct replica *r = p->repl;

    if (st->nreplicas <= 1) {
        if (r)
            replica_drop(s, p);
        if (st->leader >= 0 && st->leader == st->broker)
            log_set_leader_epoch(p->log, st->leader_epoch);
        return 0;
    }
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return -ENOMEM;
        r->p = p;
        r->hw = r->hw_saved = log_hw_checkpoint_read(p->log);
        r->st.leader = -2;              /* nothing applied yet */
        r->st.leader_epoch = -1;
        r->next = rs->all;
        if (rs->all)
            rs->all->prev = r;
        rs->all = r;
        p->repl = r;
    } else if (state_older(st, &r->st)) {
        return 0;                       /* invariant 4 */
    }
    bool was_leader = is_leader(r);
    bool new_epoch = st->leader_epoch != r->st.leader_epoch || st->leader != r->st.leader;
    followers_remap(s, r, st);
    r->st = *st;
    if (!new_epoch) {
        if (r->alter_out && r->alter_nisr == st->nisr &&
            memcmp(r->alter_isr, st->isr, sizeof st->isr[0] * (size_t)st->nisr) == 0)
            r->alter_out = false;       /* our change, committed */
        return 0;
    }
    r->gen++;
    if (is_leader(r))
        become_leader(s, r);
    else
        become_follower(s, r);
    (void)was_leader;
    return 0;
}

void replica_drop(struct shard *s, struct partition *p)
{
    struct replica_shard *rs = s->replicas;
    struct replica *r = p->repl;

    if (!r)
        return;
    fetch_unfollow(rs, r);
    fetch_buf_release(r);               /* the shard drained the log first */
    if (r->hw != r->hw_saved && p->log)
        log_hw_checkpoint_write(p->log, r->hw);
    if (r->prev)
        r->prev->next = r->next;
    else
        rs->all = r->next;
    if (r->next)
        r->next->prev = r->prev;
    p->repl = NULL;
    free(r);
}

void replica_stop(struct shard *s, struct partition *p)
{
    struct replica *r = p->repl;

    if (!r)
        return;
    fetch_unfollow(s->replicas, r);
    r->st.leader = -1;                  /* leads no more, follows no one */
    r->alter_queued = false;
    r->gen++;
}

/* --- what requests ask -------------------------------------------------------- */

bool replica_is_leader(const struct partition *p)
{
    return !p->repl || is_leader(p->repl);
}

bool replica_is_follower(const struct partition *p, int32_t broker)
{
    const struct replica *r = p->repl;
    return r && is_leader(r) && broker >= 0 && broker != r->st.broker &&
           replica_index(r, broker) >= 0;
}

int32_t replica_leader_epoch(const struct partition *p)
{
    return p->repl ? p->repl->st.leader_epoch : log_config_of(p->log)->leader_epoch;
}

int16_t replica_check_leader(const struct partition *p, int32_t current_leader_epoch)
{
    if (!replica_is_leader(p))
        return KERR_NOT_LEADER_OR_FOLLOWER;
    if (current_leader_epoch < 0)
        return KERR_NONE;
    int32_t mine = replica_leader_epoch(p);
    if (current_leader_epoch < mine)
        return KERR_FENCED_LEADER_EPOCH;
    if (current_leader_epoch > mine)
        return KERR_UNKNOWN_LEADER_EPOCH;
    return KERR_NONE;
}

static bool in_maximal_isr(const struct replica *r, int32_t broker)
{
    return md_ids_have(r->st.isr, r->st.nisr, broker) ||
           ((r->alter_out || r->alter_queued) && md_ids_have(r->alter_isr, r->alter_nisr, broker));
}

int64_t replica_high_watermark(struct partition *p)
{
    struct replica *r = p->repl;

    if (!r)
        return log_durable_end(p->log);
    if (!is_leader(r))
        return r->hw;
    int64_t hw = log_durable_end(p->log);
    for (int32_t i = 0; i < r->st.nreplicas; i++) {
        const struct follower *f = &r->f[i];
        if (f->broker == r->st.broker || !in_maximal_isr(r, f->broker))
            continue;
        if (f->fetch_offset < hw)
            hw = f->fetch_offset;       /* -1: not heard from yet */
    }
    if (hw > r->hw)
        r->hw = hw;                     /* invariant 1: never back */
    return r->hw;
}

int64_t replica_last_stable_offset(struct partition *p)
{
    int64_t lso = log_last_stable_offset(p->log), hw = replica_high_watermark(p);
    return lso < hw ? lso : hw;
}

int16_t replica_check_isr(const struct partition *p)
{
    const struct replica *r = p->repl;
    return r && r->st.nisr < r->st.min_insync ? KERR_NOT_ENOUGH_REPLICAS : KERR_NONE;
}

void replica_follower_hw(struct replica *r, int64_t leader_hw)
{
    int64_t end = log_end_offset(r->p->log);
    int64_t hw = leader_hw < end ? leader_hw : end;
    if (hw > r->hw)
        r->hw = hw;
}

/* --- ISR changes --------------------------------------------------------------- */

static void propose(struct shard *s, struct replica *r, const int32_t *isr, int32_t n)
{
    if (r->alter_out || r->alter_queued || s->mono_ms < r->alter_retry_ms)
        return;
    memcpy(r->alter_isr, isr, sizeof isr[0] * (size_t)n);
    r->alter_nisr = n;
    r->alter_queued = true;
}

void replica_on_fetch(struct shard *s, struct partition *p, int32_t replica_id,
                      int64_t fetch_offset)
{
    struct replica *r = p->repl;
    int i;

    if (!r || !is_leader(r) || (i = replica_index(r, replica_id)) < 0 ||
        replica_id == r->st.broker)
        return;
    struct follower *f = &r->f[i];
    int64_t leader_end = log_end_offset(p->log);
    if (fetch_offset < 0 || fetch_offset > leader_end)
        return;                         /* it must truncate first */
    f->fetch_offset = fetch_offset;
    if (fetch_offset >= leader_end)
        f->caught_up_ms = s->mono_ms;
    else if (fetch_offset >= f->last_fetch_leader_end)
        f->caught_up_ms = f->last_fetch_ms;
    f->last_fetch_leader_end = leader_end;
    f->last_fetch_ms = s->mono_ms;
    int64_t hw = replica_high_watermark(p);
    if (!md_ids_have(r->st.isr, r->st.nisr, replica_id) && fetch_offset >= hw &&
        fetch_offset >= r->leader_start) {
        int32_t isr[MD_REPLICAS_MAX], n = r->st.nisr;   /* invariant 3 */
        memcpy(isr, r->st.isr, sizeof isr[0] * (size_t)n);
        isr[n++] = replica_id;
        propose(s, r, isr, n);
    }
}

/* Followers that have not caught up for replica.lag.time.max.ms leave. */
static void shrink_check(struct shard *s, struct replica *r)
{
    int64_t lag = s->cfg.broker->replica_lag_time_max_ms;
    int32_t isr[MD_REPLICAS_MAX], n = 0;

    for (int32_t i = 0; i < r->st.nisr; i++) {
        int k = replica_index(r, r->st.isr[i]);
        if (r->st.isr[i] == r->st.broker || k < 0 || s->mono_ms - r->f[k].caught_up_ms <= lag)
            isr[n++] = r->st.isr[i];
        else
            slog(SLOG_WARN, "replica", "follower leaves the ISR shard=%d partition=%s-%d "
                 "follower=%d behind_ms=%lld", s->cfg.index, r->p->topic, r->p->index,
                    r->st.isr[i], (long long)(s->mono_ms - r->f[k].caught_up_ms));
    }
    if (n < r->st.nisr)
        propose(s, r, isr, n);
}

/* The answer for one partition (local or remote alike). */
static void alter_answered(struct shard *s, const char *topic, size_t tlen, int32_t partition,
                           int16_t error, const struct ctl_replica_state *now)
{
    struct partition *p = shard_partition(s, topic, tlen, partition);
    struct replica *r = p ? p->repl : NULL;

    if (!r || !r->alter_out)
        return;
    r->alter_out = false;
    if (error != KERR_NONE) {
        slog(SLOG_WARN, "replica", "ISR change refused shard=%d partition=%s-%d error=%d",
             s->cfg.index,
                r->p->topic, r->p->index, error);
        r->alter_retry_ms = s->mono_ms + ALTER_RETRY_MS;
        return;
    }
    if (now->leader_epoch == r->st.leader_epoch && now->partition_epoch > r->st.partition_epoch) {
        r->st.nisr = now->nisr;         /* the commit, before the control thread says */
        memcpy(r->st.isr, now->isr, sizeof now->isr);
        r->st.partition_epoch = now->partition_epoch;
    }
}

static void alter_reset(struct replica_shard *rs)
{
    rs->alter_out = false;
    for (struct replica *r = rs->all; r; r = r->next)
        if (r->alter_out) {
            r->alter_out = false;
            r->alter_retry_ms = rs->shard->mono_ms + ALTER_RETRY_MS;
        }
}

void replica_alter_done(struct shard *s, struct ctl_msg *m)
{
    struct ctl_alter_partition *a = &m->u.alter;

    for (int i = 0; i < a->nitems; i++) {
        const struct ctl_isr_change *ch = &a->items[i];
        struct ctl_replica_state now = {.leader = ch->out_leader,
                                        .leader_epoch = ch->out_leader_epoch,
                                        .partition_epoch = ch->out_partition_epoch,
                                        .nisr = ch->out_nisr};
        memcpy(now.isr, ch->out_isr, sizeof now.isr);
        alter_answered(s, ch->topic, strlen(ch->topic), ch->partition,
                       a->error ? a->error : ch->error, &now);
    }
    free(m);                            /* alter_send_local's */
    alter_reset(s->replicas);
}

/* --- AlterPartition to a remote controller ------------------------------------------ */

static void on_ctrl_frame(struct peer *p, const uint8_t *frame, uint32_t len)
{
    struct replica_shard *rs = p->ctx;
    struct shard *s = rs->shard;
    struct kreader rd;
    void *body = NULL;

    kafka_arena_init(&rs->arena, rs->arena_buf, REPLICA_ARENA);
    kreader_init(&rd, frame, len);
    int32_t cid = kr_int32(&rd);
    kr_tags_skip(&rd);                  /* response header v1 */
    if (cid != rs->ctrl_corr ||
        kafka_response_decode(&rd, KAFKA_ALTER_PARTITION, 1, &rs->arena, &body) < 0 || !body) {
        peer_close(rs->ctrl);
        rs->ctrl = NULL;
        alter_reset(rs);
        return;
    }
    const struct kafka_alter_partition_resp *resp = body;
    for (int32_t t = 0; t < resp->topics.n; t++) {
        const struct kafka_alter_partition_resp_topic *rt = &resp->topics.v[t];
        for (int32_t k = 0; k < rt->partitions.n; k++) {
            const struct kafka_alter_partition_resp_partition *rp = &rt->partitions.v[k];
            struct ctl_replica_state now = {.leader = rp->leader_id,
                                            .leader_epoch = rp->leader_epoch,
                                            .partition_epoch = rp->partition_epoch};
            for (int32_t j = 0; j < rp->isr.n && j < MD_REPLICAS_MAX; j++)
                now.isr[now.nisr++] = rp->isr.v[j];
            alter_answered(s, rt->topic_name.p, (size_t)rt->topic_name.len,
                           rp->partition_index,
                           resp->error_code ? resp->error_code : rp->error_code, &now);
        }
    }
    alter_reset(rs);
}

static void on_ctrl_error(struct peer *p, int err)
{
    struct replica_shard *rs = p->ctx;

    (void)err;
    rs->ctrl = NULL;
    alter_reset(rs);
}

static const struct peer_ops ctrl_ops = {.on_frame = on_ctrl_frame, .on_error = on_ctrl_error};

/* Encodes the queued changes as AlterPartition v1 (one topic entry per
 * partition: Kafka accepts a topic twice) and sends it. */
static int alter_send_remote(struct replica_shard *rs, int32_t ctrl)
{
    struct shard *s = rs->shard;
    const struct md_broker *b = md_find_broker(s->md, ctrl);
    struct kafka_alter_partition_req req = {.broker_id = s->cfg.broker_id, .broker_epoch = -1};
    struct kwriter w;
    int n = 0;

    if (!b)
        return -EAGAIN;
    if (rs->ctrl && rs->ctrl_broker != ctrl) {
        peer_close(rs->ctrl);
        rs->ctrl = NULL;
    }
    if (!rs->ctrl && !(rs->ctrl = peer_open(s, b->host, b->port, &ctrl_ops, rs)))
        return -EAGAIN;
    rs->ctrl_broker = ctrl;
    kafka_arena_init(&rs->arena, rs->arena_buf, REPLICA_ARENA);
    req.topics.v = kafka_arena_alloc(&rs->arena, sizeof *req.topics.v * ALTER_MAX);
    struct kafka_alter_partition_req_partition *parts =
        kafka_arena_alloc(&rs->arena, sizeof *parts * ALTER_MAX);
    if (!req.topics.v || !parts)
        return -ENOMEM;
    for (struct replica *r = rs->all; r && n < ALTER_MAX; r = r->next) {
        if (!r->alter_queued)
            continue;
        parts[n] = (struct kafka_alter_partition_req_partition){
            .partition_index = r->p->index, .leader_epoch = r->st.leader_epoch,
            .new_isr = {.v = r->alter_isr, .n = r->alter_nisr},
            .partition_epoch = r->st.partition_epoch};
        req.topics.v[n] = (struct kafka_alter_partition_req_topic){
            .topic_name = kstr_c(r->p->topic), .partitions = {.v = &parts[n], .n = 1}};
        r->alter_queued = false;
        r->alter_out = true;
        n++;
    }
    req.topics.n = n;
    rs->ctrl_corr = replica_next_correlation(s);
    struct kafka_request_header h = {.api_key = KAFKA_ALTER_PARTITION, .api_version = 1,
                                     .correlation_id = rs->ctrl_corr,
                                     .client_id = kstr_c("sluice-replica"), .version = 2};
    kwriter_init(&w, rs->frame, REPLICA_FRAME_MAX);
    kw_int32(&w, 0);
    kafka_request_header_write(&w, &h);
    if (kafka_request_encode(&w, KAFKA_ALTER_PARTITION, 1, &req) < 0 || w.len > REPLICA_FRAME_MAX) {
        alter_reset(rs);
        return -ENOSPC;
    }
    kw_put_int32_at(&w, 0, (int32_t)(w.len - 4));
    rs->alter_out = true;
    rs->alter_n = n;
    rs->ctrl_deadline_ms = s->mono_ms + ALTER_TIMEOUT_MS;
    if (peer_send(rs->ctrl, rs->frame, (uint32_t)w.len) < 0) {
        peer_close(rs->ctrl);
        rs->ctrl = NULL;
        alter_reset(rs);
        return -EPIPE;
    }
    return 0;
}

/* The same as a message to this node's control thread. */
static int alter_send_local(struct replica_shard *rs)
{
    struct shard *s = rs->shard;
    int n = 0;
    size_t names = 0;

    for (struct replica *r = rs->all; r; r = r->next)
        if (r->alter_queued && n < ALTER_MAX) {
            n++;
            names += strlen(r->p->topic) + 1;
        }
    struct ctl_msg *m = calloc(1, sizeof *m + sizeof(struct ctl_isr_change) * (size_t)n + names);
    if (!m)
        return -ENOMEM;
    struct ctl_isr_change *items = (struct ctl_isr_change *)(m + 1);
    char *name = (char *)(items + n);
    int k = 0;
    for (struct replica *r = rs->all; r && k < n; r = r->next) {
        if (!r->alter_queued)
            continue;
        size_t len = strlen(r->p->topic) + 1;
        memcpy(name, r->p->topic, len);
        items[k] = (struct ctl_isr_change){.topic = name, .partition = r->p->index,
                                           .leader_epoch = r->st.leader_epoch,
                                           .partition_epoch = r->st.partition_epoch,
                                           .nisr = r->alter_nisr};
        memcpy(items[k].isr, r->alter_isr, sizeof items[k].isr);
        name += len;
        r->alter_queued = false;
        r->alter_out = true;
        k++;
    }
    m->op = CTL_ALTER_PARTITION;
    m->shard = s->cfg.index;
    m->u.alter = (struct ctl_alter_partition){.broker_id = s->cfg.broker_id, .local = true,
                                              .nitems = n, .items = items};
    rs->alter_out = true;
    rs->alter_n = n;
    shard_post_ctl(s, m);
    return 0;
}

static void alter_flush(struct replica_shard *rs)
{
    struct shard *s = rs->shard;
    bool any = false;

    if (rs->alter_out) {
        if (rs->ctrl && s->mono_ms >= rs->ctrl_deadline_ms) {
            peer_close(rs->ctrl);       /* no answer: try again */
            rs->ctrl = NULL;
            alter_reset(rs);
        }
        return;
    }
    for (struct replica *r = rs->all; r && !any; r = r->next)
        any = r->alter_queued;
    int32_t ctrl = s->md ? s->md->controller_id : -1;
    if (!any || ctrl < 0)
        return;
    if (md_broker_node(ctrl) == md_broker_node(s->cfg.broker_id))
        alter_send_local(rs);
    else
        alter_send_remote(rs, ctrl);
}

/* --- the turn ------------------------------------------------------------------------ */

int replica_do_work(struct shard *s)
{
    struct replica_shard *rs = s->replicas;

    if (!rs || !rs->all)
        return 0;
    int work = fetch_do_work(rs);
    alter_flush(rs);
    return work;
}

void replica_tick(struct shard *s)
{
    struct replica_shard *rs = s->replicas;
    bool save = false;

    if (!rs)
        return;
    if (s->now_ms >= rs->next_checkpoint_ms) {
        save = true;
        rs->next_checkpoint_ms = s->now_ms + s->cfg.broker->replica_hw_checkpoint_interval_ms;
    }
    for (struct replica *r = rs->all; r; r = r->next) {
        if (is_leader(r)) {
            replica_high_watermark(r->p);
            shrink_check(s, r);
        }
        if (save && r->hw != r->hw_saved && log_hw_checkpoint_write(r->p->log, r->hw) == 0)
            r->hw_saved = r->hw;
    }
}

int64_t replica_next_wake(const struct shard *s)
{
    return s->replicas ? fetch_next_wake(s->replicas) : INT64_MAX;
}
