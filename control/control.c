/* control.c - the control thread's loop: rings and doorbells to the
 * shards, dispatch of what they post, commands the control thread owns,
 * and the publication and reclamation of metadata snapshots.
 *
 * Owns: struct control, the ring pairs, the eventfds, the list of
 * commands out, the list of published snapshots.
 * Never: touches a socket, wire bytes or another thread's memory except
 * through a ring; takes a lock.
 *
 * One turn (control_poll_once): flush backlogs -> wait on the doorbell ->
 * drain every shard's ring, handling each message -> flush backlogs ->
 * ring the doorbells of shards posted to -> free snapshots no shard uses.
 *
 * Snapshot reclamation is quiescent-state based: every shard acknowledges
 * a CTL_METADATA_UPDATE after it switched to that snapshot, so a snapshot
 * older than the oldest epoch every shard acknowledged is unreachable. */
#include "control/control_private.h"
#include "control/quorum.h"
#include "control/groups.h"
#include "control/offsets.h"
#include "slog/slog.h"
#include "control/txn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

void control_log(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    slog(SLOG_INFO, "control", "%s", msg);
}

/* --- posting ---------------------------------------------------------- */

static int fifo_push(struct ptr_fifo *q, void *p)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        void **v = malloc(sizeof(*v) * cap);
        if (!v)
            return -ENOMEM;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    q->v[(q->head + q->len++) % q->cap] = p;
    return 0;
}

static void flush_backlog(struct control_shard *sh)
{
    struct ptr_fifo *q = &sh->backlog;

    while (q->len > 0 && spsc_ring_enqueue(&sh->to, q->v[q->head]) == 0) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
        sh->ring_bell = true;
    }
}

void control_post(struct control *c, int shard, struct ctl_msg *m)
{
    struct control_shard *sh = &c->shards[shard];

    if (sh->stopped)
        return;             /* nobody reads it; commands are freed later */
    m->shard = shard;
    if (sh->backlog.len == 0 && spsc_ring_enqueue(&sh->to, m) == 0) {
        sh->ring_bell = true;
        return;
    }
    while (fifo_push(&sh->backlog, m) < 0) {
        /* Out of memory with a full ring: wait for the shard to drain. */
        flush_backlog(sh);
        if (spsc_ring_enqueue(&sh->to, m) == 0)
            return;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

static void ring_bells(struct control *c)
{
    uint64_t one = 1;

    for (int i = 0; i < c->nrings; i++) {
        struct control_shard *sh = &c->shards[i];
        flush_backlog(sh);
        if (!sh->ring_bell)
            continue;
        sh->ring_bell = false;
        if (write(sh->doorbell, &one, sizeof one) < 0 && errno != EAGAIN)
            control_log("shard %d doorbell: %s", i, strerror(errno));
    }
}

/* --- commands the control thread owns ----------------------------------- */

struct ctl_cmd *control_cmd(struct control *c, enum ctl_op op,
                            struct admin_op *owner, int item,
                            const char *topic, int32_t partition)
{
    struct ctl_cmd *cmd = calloc(1, sizeof *cmd);

    if (!cmd)
        return NULL;
    cmd->msg.op = op;
    cmd->msg.cookie = cmd;
    cmd->op = owner;
    cmd->item = item;
    if (topic) {
        snprintf(cmd->topic, sizeof cmd->topic, "%s", topic);
        cmd->msg.u.partition.topic = cmd->topic;
        cmd->msg.u.partition.partition = partition;
    }
    cmd->next = c->cmds;
    if (c->cmds)
        c->cmds->prev = cmd;
    c->cmds = cmd;
    return cmd;
}

static void cmd_free(struct control *c, struct ctl_cmd *cmd)
{
    if (cmd->prev)
        cmd->prev->next = cmd->next;
    else
        c->cmds = cmd->next;
    if (cmd->next)
        cmd->next->prev = cmd->prev;
    free(cmd);
}

/* --- snapshots ---------------------------------------------------------- */

int control_publish(struct control *c)
{
    struct md_snapshot *md;

    if (c->nsnaps == c->snaps_cap) {
        int cap = c->snaps_cap ? c->snaps_cap * 2 : 8;
        struct md_snapshot **v = realloc(c->snaps, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        c->snaps = v;
        c->snaps_cap = cap;
    }
    if (!(md = md_store_snapshot(&c->md)))
        return -ENOMEM;
    part_faults_mark(&c->part_faults, md);
    c->serving = true;
    c->snaps[c->nsnaps++] = md;
    for (int i = 0; i < c->nshards; i++) {
        struct ctl_cmd *cmd = control_cmd(c, CTL_METADATA_UPDATE, NULL, 0,
                                          NULL, 0);
        if (!cmd)
            return -ENOMEM; /* shards keep older snapshots meanwhile */
        cmd->msg.u.metadata = md;
        control_post(c, i, &cmd->msg);
    }
    ring_bells(c);
    return 0;
}

static void reclaim_snapshots(struct control *c)
{
    uint64_t oldest = UINT64_MAX;
    int n = 0;

    for (int i = 0; i < c->nshards; i++)
        if (c->shards[i].acked_epoch < oldest)
            oldest = c->shards[i].acked_epoch;
    while (n < c->nsnaps - 1 && c->snaps[n]->epoch < oldest)
        md_snapshot_free(c->snaps[n++]);
    if (n > 0) {
        memmove(c->snaps, c->snaps + n, sizeof(*c->snaps) * (size_t)(c->nsnaps - n));
        c->nsnaps -= n;
    }
}

void control_fail_metadata_writes(struct control *c, int n)
{
    quorum_fail_appends(c->md.quorum, n);
}

int control_live_snapshots(const struct control *c)
{
    return c->nsnaps;
}

/* --- the loop ------------------------------------------------------------- */

/* A command came back from shard i. */
static void on_answer(struct control *c, int i, struct ctl_cmd *cmd)
{
    struct control_shard *sh = &c->shards[i];

    switch (cmd->msg.op) {
    case CTL_METADATA_UPDATE:
        if (cmd->msg.u.metadata->epoch > sh->acked_epoch)
            sh->acked_epoch = cmd->msg.u.metadata->epoch;
        break;
    case CTL_SHUTDOWN:
        sh->stopped = true;
        break;
    case CTL_SHARD_STATS:
        stats_answered(c, cmd);
        break;
    case CTL_TXN_MARKER:
    case CTL_PRODUCER_ID_LIMIT:
        control_txn_answered(c, cmd);
        break;
    default:
        admin_answered(c, cmd);
        break;
    }
    cmd_free(c, cmd);
}

/* --- consumer groups ------------------------------------------------------ */

static int64_t control_now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* groups.c answers, now or later, through this. */
static void groups_answer(void *ctx, struct ctl_msg *m)
{
    control_post(ctx, m->shard, m);
}

/* The poll timeout, shortened to the groups' next deadline. */
static int groups_timeout(struct control *c, int timeout_ms)
{
    int64_t next = groups_next_deadline(c->groups), now;

    if (next == INT64_MAX)
        return timeout_ms;
    now = control_now_ms();
    if (next <= now)
        return 0;
    if (timeout_ms < 0 || next - now < timeout_ms)
        return (int)(next - now);
    return timeout_ms;
}

/* --- committed offsets ------------------------------------------------------- */

/* Commit times are wall-clock: they outlive the process (retention). */
static int64_t offsets_now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void offsets_answer(void *ctx, struct ctl_msg *m)
{
    control_post(ctx, m->shard, m);
}

static int store_delete_group(void *ctx, const char *group_id)
{
    return offsets_delete_group(ctx, group_id);
}

static int store_list_groups(void *ctx, void (*fn)(void *fnctx, const char *group_id),
                             void *fnctx)
{
    return offsets_list_groups(ctx, fn, fnctx);
}

static int offsets_open(struct control *c, const char *data_dir)
{
    struct offsets_options opt = {
        .retention_ms = (int64_t)c->cfg.offsets_retention_minutes * 60000,
        .check_interval_ms = 60000};
    char dir[4096], err[512];
    int rc;

    if (snprintf(dir, sizeof dir, "%s/__sluice/offsets", data_dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    if ((rc = offsets_create(&c->offsets, dir, &opt, offsets_answer, c, offsets_now_ms(),
                             err, sizeof err)) < 0) {
        control_log("%s", err);
        return rc;
    }
    offsets_set_groups(c->offsets, c->groups);
    offsets_set_metadata(c->offsets, &c->md);
    groups_set_store(c->groups, &(struct groups_store){
        .ctx = c->offsets, .delete_group = store_delete_group,
        .list_groups = store_list_groups});
    return 0;
}

static int users_open_dir(struct control *c, const char *data_dir)
{
    char dir[4096], err[512];
    int rc;
    if (snprintf(dir, sizeof dir, "%s/__sluice", data_dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    if ((rc = users_open(&c->users, dir, err, sizeof err)) < 0)
        control_log("%s", err);
    return rc;
}

static void dispatch(struct control *c, int i, struct ctl_msg *m)
{
    switch (m->op) {
    case CTL_OFFSET_COMMIT:
    case CTL_OFFSET_FETCH:
    case CTL_OFFSET_DELETE:
    case CTL_TXN_OFFSET_COMMIT:
        m->shard = i;
        offsets_request(c->offsets, m, offsets_now_ms());
        return;
    case CTL_INIT_PRODUCER_ID:
    case CTL_ADD_PARTITIONS_TO_TXN:
    case CTL_ADD_OFFSETS_TO_TXN:
    case CTL_END_TXN:
    case CTL_LIST_TXNS:
    case CTL_DESCRIBE_TXNS:
        m->shard = i;
        control_txn_request(c, m);
        return;
    case CTL_JOIN_GROUP:
    case CTL_SYNC_GROUP:
    case CTL_HEARTBEAT:
    case CTL_LEAVE_GROUP:
    case CTL_LIST_GROUPS:
    case CTL_DESCRIBE_GROUPS:
    case CTL_DELETE_GROUPS:
        m->shard = i;
        groups_request(c->groups, m, control_now_ms());
        return;
    case CTL_CREATE_TOPICS:
    case CTL_DELETE_TOPICS:
    case CTL_CREATE_PARTITIONS:
    case CTL_DESCRIBE_CONFIGS:
    case CTL_ALTER_CONFIGS:
        m->shard = i;
        admin_request(c, m);
        return;
    case CTL_CLEANER_STATS:
        cleaner_stats_update(&c->cleaner_stats, &m->u.cleaner_stats);
        control_post(c, i, m);
        return;
    case CTL_PARTITION_FAULT:
        /* Metadata shows it offline; at start the first publish will */
        if (part_faults_update(&c->part_faults, &m->u.fault) && c->serving)
            control_publish(c);
        control_post(c, i, m);
        return;
    case CTL_REGISTER_NODE:
        m->shard = i;
        cluster_register_request(c, m);
        return;
    case CTL_REGISTER_SEND:
        cluster_register_sent(c, m);
        return;
    case CTL_ALTER_PARTITION:
        m->shard = i;
        replication_alter_request(c, m);
        return;
    case CTL_ELECT_LEADERS:
        m->shard = i;
        replication_elect_leaders(c, m);
        return;
    case CTL_REASSIGN:
        m->shard = i;
        replication_reassign(c, m);
        return;
    case CTL_STATS:
        m->shard = i;
        stats_request(c, m);
        return;
    case CTL_SASL_LOOKUP:
    case CTL_USERS_DESCRIBE:
    case CTL_USERS_ALTER:
        users_request(&c->users, m);
        control_post(c, i, m);
        return;
    case CTL_ACLS_CREATE:
    case CTL_ACLS_DELETE:
        m->shard = i;
        acls_request(c, m);
        return;
    case CTL_SHARD_STATS:
    case CTL_PARTITION_OPEN:
    case CTL_PARTITION_DELETE:
    case CTL_PARTITION_CONFIG:
    case CTL_PARTITION_STATE:
    case CTL_METADATA_UPDATE:
    case CTL_SHUTDOWN:
    case CTL_TXN_MARKER:
    case CTL_PRODUCER_ID_LIMIT:
        on_answer(c, i, (struct ctl_cmd *)(void *)m);
        return;
    }
    control_log("shard %d posted unknown op %d; returned as is", i, (int)m->op);
    control_post(c, i, m);
}

static bool rings_pending(struct control *c)
{
    for (int i = 0; i < c->nrings; i++)
        if (!spsc_ring_empty(&c->shards[i].from))
            return true;
    return false;
}

static bool backlogged(struct control *c)
{
    for (int i = 0; i < c->nrings; i++)
        if (c->shards[i].backlog.len > 0)
            return true;
    return false;
}

int control_poll_once(struct control *c, int timeout_ms)
{
    struct pollfd pfd[2] = {{.fd = c->doorbell, .events = POLLIN},
                            {.fd = quorum_fd(c->md.quorum), .events = POLLIN}};
    int raft_ms = quorum_timeout_ms(c->md.quorum);
    void *msgs[64];
    uint64_t v;
    int n = 0;

    ring_bells(c);
    timeout_ms = control_txn_timeout(c, groups_timeout(c, timeout_ms));
    if (backlogged(c) && timeout_ms > 1)
        timeout_ms = 1;     /* shards do not tell us when they drain */
    if (raft_ms >= 0 && (timeout_ms < 0 || raft_ms < timeout_ms))
        timeout_ms = raft_ms;   /* raft's timers: ticks, elections */
    if (!rings_pending(c) && poll(pfd, 2, timeout_ms) < 0)
        return errno == EINTR ? 0 : -errno;
    quorum_run(c->md.quorum);   /* raft's I/O and messages, never blocking */
    cluster_do_work(c);
    if (c->md.dyn_applied != c->dyn_seen)
        admin_dyn_applied(c, true);     /* another node changed them */
    /* Reset the doorbell before draining: a post after the drain rings
     * it again. */
    if (read(c->doorbell, &v, sizeof v) < 0 && errno != EAGAIN)
        return -errno;
    for (int i = 0; i < c->nrings; i++) {
        unsigned k;
        while ((k = spsc_ring_dequeue_burst(&c->shards[i].from, msgs, 64)) > 0) {
            for (unsigned j = 0; j < k; j++)
                dispatch(c, i, msgs[j]);
            n += (int)k;
        }
    }
    /* What is answered already (EndTxn once its markers came back) goes
     * now, not after this turn's fdatasyncs below. */
    ring_bells(c);
    groups_tick(c->groups, control_now_ms());
    /* Group commit: one write and one fdatasync for the turn's records of
     * transactions, then of offset commits, answered only now; then
     * retention, right after a flush. */
    control_txn_turn(c);
    offsets_flush(c->offsets);
    offsets_expire(c->offsets, offsets_now_ms());
    ring_bells(c);
    reclaim_snapshots(c);
    return n;
}

int control_run(struct control *c, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        int rc = control_poll_once(c, 1000);
        if (rc < 0) {
            control_log("poll: %s", strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* --- start and stop ------------------------------------------------------------ */

int control_open_partitions_start(struct control *c)
{
    c->open_err = 0;
    return admin_recover(c);
}

int control_opening(const struct control *c)
{
    if (c->recovering > 0)
        return 1;
    return c->open_err;
}

int control_open_partitions(struct control *c)
{
    int rc = control_open_partitions_start(c);

    while (rc == 0 && control_opening(c) == 1)
        if ((rc = control_poll_once(c, 1000)) > 0)
            rc = 0;
    /* Transactions a crash left being ended get their markers now that
     * every partition is open. */
    if (rc == 0 && control_opening(c) == 0)
        control_txn_resume(c);
    ring_bells(c);
    return rc < 0 ? rc : control_opening(c);
}

int control_shutdown_start(struct control *c)
{
    c->stopping = true;
    for (int i = 0; i < c->nshards; i++) {
        struct ctl_cmd *cmd = control_cmd(c, CTL_SHUTDOWN, NULL, 0, NULL, 0);
        if (!cmd)
            return -ENOMEM;
        control_post(c, i, &cmd->msg);
    }
    ring_bells(c);
    return 0;
}

bool control_shutdown_done(const struct control *c)
{
    for (int i = 0; i < c->nshards; i++)
        if (!c->shards[i].stopped)
            return false;
    return true;
}

/* A stop closes every log (a few syncs each, on its shard): 30 s, and
 * 5 ms more per partition (a broker of 10,000 needs about 15-30 s on a
 * busy 2-core machine). */
static int64_t shutdown_limit_s(const struct control *c)
{
    int64_t partitions = 0;
    for (int32_t i = 0; i < c->md.ntopics; i++)
        partitions += c->md.topics[i]->nplaced;
    return 30 + partitions * 5 / 1000;
}

int control_shutdown(struct control *c)
{
    struct timespec t0, t;
    int rc = control_shutdown_start(c);
    int64_t limit = shutdown_limit_s(c);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (rc == 0 && !control_shutdown_done(c)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= limit) {
            control_log("shards did not stop within %lld s", (long long)limit);
            return -ETIMEDOUT;
        }
        if ((rc = control_poll_once(c, 100)) > 0)
            rc = 0;
    }
    return rc;
}

static int shard_init(struct control_shard *sh)
{
    int rc;

    sh->to_slots = calloc(CONTROL_RING_SLOTS, sizeof(void *));
    sh->from_slots = calloc(CONTROL_RING_SLOTS, sizeof(void *));
    if (!sh->to_slots || !sh->from_slots)
        return -ENOMEM;
    if ((rc = spsc_ring_init(&sh->to, sh->to_slots, CONTROL_RING_SLOTS)) < 0 ||
        (rc = spsc_ring_init(&sh->from, sh->from_slots, CONTROL_RING_SLOTS)) < 0)
        return rc;
    sh->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return sh->doorbell < 0 ? -errno : 0;
}

int control_create(struct control **out, const struct broker_config *cfg,
                   const char *data_dir, int nshards)
{
    char err[512];
    struct control *c;
    size_t size;
    int rc = -ENOMEM;

    *out = NULL;
    if (nshards < 1 || nshards > CONTROL_SHARDS_MAX) {
        control_log("%d shards: need 1..%d", nshards, CONTROL_SHARDS_MAX);
        return -EINVAL;
    }
    if (!(c = calloc(1, sizeof *c)))
        return -ENOMEM;
    c->cfg = *cfg;
    c->doorbell = -1;
    c->nshards = nshards;
    c->known_controller = -2;
    c->nrings = nshards + 1;   /* the last pair is the ops thread's */
    c->md.lock_fd = -1;
    size = (sizeof(struct control_shard) * (size_t)c->nrings + 63) & ~(size_t)63;
    if (!(c->shards = aligned_alloc(64, size)))
        goto err;
    memset(c->shards, 0, size);
    for (int i = 0; i < c->nrings; i++)
        c->shards[i].doorbell = -1;
    for (int i = 0; i < c->nrings; i++)
        if ((rc = shard_init(&c->shards[i])) < 0) {
            control_log("shard %d rings: %s", i, strerror(-rc));
            goto err;
        }
    if ((c->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        rc = -errno;
        goto err;
    }
    if (!(c->groups = groups_create(&c->cfg, groups_answer, c))) {
        rc = -ENOMEM;
        goto err;
    }
    broker_dyn_init(&c->dyn, cfg);
    if ((rc = md_store_open(&c->md, &c->cfg, data_dir, nshards, err,
                            sizeof err)) < 0) {
        control_log("%s", err);
        goto err;
    }
    admin_dyn_applied(c, false);   /* the log's dynamic configs, before any open */
    if ((rc = offsets_open(c, data_dir)) < 0 || (rc = control_txn_open(c, data_dir)) < 0)
        goto err;
    if ((rc = users_open_dir(c, data_dir)) < 0)
        goto err;
    *out = c;
    return 0;
err:
    control_destroy(c);
    return rc;
}

void control_shard_endpoints(struct control *c, int shard,
                             struct spsc_ring **to_shard,
                             struct spsc_ring **to_control,
                             int *shard_doorbell, int *control_doorbell)
{
    struct control_shard *sh = &c->shards[shard];

    if (to_shard)
        *to_shard = &sh->to;
    if (to_control)
        *to_control = &sh->from;
    if (shard_doorbell)
        *shard_doorbell = sh->doorbell;
    if (control_doorbell)
        *control_doorbell = c->doorbell;
}

void control_set_shard_port(struct control *c, int shard, int port)
{
    md_store_set_port(&c->md, shard, port);
}

void control_destroy(struct control *c)
{
    if (!c)
        return;
    admin_free_all(c);
    if (c->reg_msg) {
        free(c->reg_msg->self.brokers);
        free(c->reg_msg);
    }
    groups_destroy(c->groups);
    txn_destroy(c->txn);
    offsets_destroy(c->offsets);
    users_close(&c->users);
    cleaner_stats_free(&c->cleaner_stats);
    part_faults_free(&c->part_faults);
    while (c->cmds)
        cmd_free(c, c->cmds);
    for (int i = 0; i < c->nsnaps; i++)
        md_snapshot_free(c->snaps[i]);
    free(c->snaps);
    for (int i = 0; c->shards && i < c->nrings; i++) {
        struct control_shard *sh = &c->shards[i];
        free(sh->to_slots);
        free(sh->from_slots);
        free(sh->backlog.v);
        if (sh->doorbell >= 0)
            close(sh->doorbell);
    }
    free(c->shards);
    if (c->doorbell >= 0)
        close(c->doorbell);
    md_store_close(&c->md);
    free(c);
}
