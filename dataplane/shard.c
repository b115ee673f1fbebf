/* shard.c - the shard thread: its io_uring loop, its partitions, and its
 * side of the rings to the control thread (see shard.h).
 *
 * The shard is an agent (Aeron's model): shard_do_work() does one turn,
 * in a fixed order (Redis's ae, Aeron's do_work):
 *   1. reap completions: receives (requests parsed and handled, produce
 *      batches appended), sends, log writes and fdatasyncs, the doorbell
 *   2. carry out what the control thread posted
 *   3. answer waiting requests whose condition now holds: produce once
 *      its batches are durable per acks, fetch once data or its deadline
 *   4. group commit: one pwritev and at most one fdatasync per dirty log,
 *      then answer again what the writes made safe (acks=1, flush "os")
 *   5. timers, once a second: idle connections, flush.ms, retention
 * and shard_idle() then submits everything and, per sluice.idle, sleeps
 * until a completion or the next deadline, or returns at once (spin).
 * The turn's clocks are passed in (struct shard_now): nothing in a turn
 * reads the real clock, so a test drives a shard with a clock of its own.
 */
#include "dataplane/shard_private.h"
#include "dataplane/replica.h"
#include "dataplane/shard_cleaner.h"
#include "dataplane/listen.h"
#include "numa/ring.h"
#include "numa/topology.h"
#include "slog/slog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SHARD_RING_ENTRIES 4096
#define SHARD_TICK_MS 1000
#define NS_PER_MS 1000000
#define SHARD_JOURNAL_MIN (4u << 20) /* sluice.journal.bytes: 1 MiB commits */

_Static_assert(SHARD_IDLE_SLEEP == 0 && SHARD_IDLE_SPIN == 1,
               "sluice.idle's values (control/config.c) follow enum shard_idle");

struct shard_now shard_clock_now(void)
{
    struct timespec mono, wall;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &wall);
    return (struct shard_now){
        .mono_ns = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec,
        .wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / NS_PER_MS,
    };
}

static int shard_listen_others(struct shard *s);

int shard_create(struct shard **out, const struct shard_config *cfg)
{
    struct shard *s = aligned_alloc(64, (sizeof(*s) + 63) & ~(size_t)63);
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof(*s));
    shard_metrics_init(&s->metrics);
    s->metrics.core = cfg->core;
    s->cfg = *cfg;
    s->pid_limit = INT64_MAX; /* until the coordinator tells */
    s->nbuckets = 1024;
    duty_cycle_init(&s->turns);
    s->parts = calloc(s->nbuckets, sizeof(*s->parts));
    s->listen_fd = tcp_listen(cfg->host, cfg->port, 1024, &s->port);
    if (!s->parts || s->listen_fd < 0) {
        int rc = s->parts ? s->listen_fd : -ENOMEM;
        free(s->parts);
        free(s);
        return rc;
    }
    int rc = shard_listen_others(s);
    if (rc < 0) {
        shard_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Listeners 1..n-1 (listeners.h): shard i on each one's port + i. */
static int shard_listen_others(struct shard *s)
{
    const struct listeners *ls = s->cfg.listeners;
    s->nlis = ls ? ls->n : 1;
    for (int k = 1; k < s->nlis; k++)
        s->lis[k].fd = -1;
    for (int k = 1; k < s->nlis; k++) {
        const struct listener *l = &ls->l[k];
        struct shard_listen *sl = &s->lis[k];
        sl->shard = s;
        sl->fd = tcp_listen(l->host, l->port ? l->port + s->cfg.index : 0, 1024, &sl->port);
        if (sl->fd < 0)
            return sl->fd;
    }
    return 0;
}

int shard_listener_port(const struct shard *s, int listener)
{
    return listener == 0 ? s->port : listener < s->nlis ? s->lis[listener].port : -1;
}

int shard_port(const struct shard *s)
{
    return s->port;
}

const struct duty_cycle *shard_turns(const struct shard *s)
{
    return &s->turns;
}

/* Stops taking work; the loop then lets in-flight requests finish. */
static void shard_stop(struct shard *s, struct ctl_msg *m)
{
    s->stopping = true;
    s->stop_msg = m;
    s->stop_deadline_ms = s->mono_ms + 5000;
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    for (int k = 1; k < s->nlis; k++) {
        if (s->lis[k].fd >= 0)
            close(s->lis[k].fd);
        s->lis[k].fd = -1;
    }
}

/* The end of a stop: every write synced, every job done, every log
 * closed cleanly, the worker ended. */
static void shard_finish(struct shard *s)
{
    partition_close_all(s);
    journal_close(s->journal); /* every log is closed: nothing is in flight */
    s->journal = NULL;
    replica_shard_close(s);
    /* Closed peers go once their cancelled operations are back (bounded:
     * a cancel completes at once). */
    for (int round = 0; s->npeers > 0 && round < 1000; round++)
        if (io_ring_run_once(&s->ring) < 0)
            break;
    shard_dpdk_stop(s);
    shard_cleaner_close(s);
    shard_worker_stop(&s->worker);
    if (s->stop_msg)
        shard_post_ctl(s, s->stop_msg);
}

void shard_post_ctl(struct shard *s, struct ctl_msg *m)
{
    /* The ring is sized for every request a shard can have in flight; a
     * full ring means the control thread is stuck, so wait for it. */
    while (spsc_ring_enqueue(s->cfg.to_ctl, m) != 0)
        sched_yield();
    uint64_t one = 1;
    if (write(s->cfg.ctl_doorbell_fd, &one, sizeof(one)) < 0)
        slog(SLOG_ERROR, "shard", "control doorbell shard=%d error=\"%s\"", s->cfg.index,
             strerror(errno));
}

static void shard_arm_accept(struct shard *s);

/* Carries out one message from the control thread. */
static void shard_on_ctl(struct shard *s, struct ctl_msg *m)
{
    if (m->op == CTL_CLEANER_STATS || m->op == CTL_PARTITION_FAULT) {
        free(m); /* our report, read */
        return;
    }
    if (m->op == CTL_ALTER_PARTITION && m->u.alter.local) {
        replica_alter_done(s, m); /* our replicas' ISR change, answered */
        return;
    }
    if (m->op < CTL_PARTITION_OPEN) {
        /* An answer to one of our requests. */
        struct request *rq = m->cookie;
        if (rq->conn)
            rq->ctl_done(rq, m);
        else
            request_release(rq);
        return;
    }
    switch (m->op) {
    case CTL_PARTITION_OPEN:
        partition_on_open(s, m);
        return; /* answered once open */
    case CTL_PARTITION_DELETE:
        partition_on_delete(s, m);
        return; /* answered once removed */
    case CTL_PARTITION_CONFIG:
        partition_on_config(s, m);
        return;
    case CTL_PARTITION_STATE:
        partition_on_state(s, m);
        return;
    case CTL_METADATA_UPDATE:
        s->md = m->u.metadata;
        shard_dpdk_on_metadata(s);
        if (!s->stopping)
            shard_arm_accept(s);
        break;
    case CTL_SHARD_STATS:
        shard_report_stats(s, m);
        break;
    case CTL_SHUTDOWN:
        shard_stop(s, m);
        return; /* acknowledged by shard_finish */
    case CTL_REGISTER_SEND:
        shard_send_registration(s, m);
        return; /* posted back with the answer */
    case CTL_TXN_MARKER:
        txn_shard_marker(s, m);
        return; /* acknowledged once durable (txn_shard.c) */
    case CTL_PRODUCER_ID_LIMIT:
        s->pid_limit = m->u.pid_limit;
        break;
    default:
        break;
    }
    shard_post_ctl(s, m);
}

static void on_accept(struct io_op *op, int res, uint32_t flags)
{
    struct shard *s = (struct shard *)((char *)op - offsetof(struct shard, accept_op));
    if (res >= 0) {
        if (s->stopping)
            close(res);
        else
            conn_accept(s, res);
    } else if (res != -ECANCELED && res != -EBADF && res != -EINVAL) {
        slog(SLOG_WARN, "shard", "accept failed shard=%d error=\"%s\"", s->cfg.index,
             strerror(-res));
    }
    if (!(flags & IORING_CQE_F_MORE)) {
        s->accepting = false;
        if (!s->stopping && res != -EBADF && res != -EINVAL)
            shard_arm_accept(s);
    }
}

static void on_accept_other(struct io_op *op, int res, uint32_t flags)
{
    struct shard_listen *sl = (struct shard_listen *)((char *)op -
                                                     offsetof(struct shard_listen, accept_op));
    struct shard *s = sl->shard;
    if (res >= 0) {
        if (s->stopping)
            close(res);
        else
            conn_accept_on(s, res, (int)(sl - s->lis));
    } else if (res != -ECANCELED && res != -EBADF && res != -EINVAL) {
        slog(SLOG_WARN, "shard", "accept failed shard=%d listener=%d error=\"%s\"",
             s->cfg.index, (int)(sl - s->lis), strerror(-res));
    }
    if (!(flags & IORING_CQE_F_MORE)) {
        sl->accepting = false;
        if (!s->stopping && res != -EBADF && res != -EINVAL)
            shard_arm_accept(s);
    }
}

/* Arms a multishot accept on every listening socket that has none. */
static void shard_arm_accept(struct shard *s)
{
    if (!s->accepting && s->listen_fd >= 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
        if (!sqe)
            return;
        io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        io_uring_sqe_set_data(sqe, &s->accept_op);
        s->accepting = true;
    }
    for (int k = 1; k < s->nlis; k++) {
        struct shard_listen *sl = &s->lis[k];
        if (sl->accepting || sl->fd < 0)
            continue;
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
        if (!sqe)
            return;
        sl->accept_op.complete = on_accept_other;
        io_uring_prep_multishot_accept(sqe, sl->fd, NULL, NULL, SOCK_CLOEXEC);
        io_uring_sqe_set_data(sqe, &sl->accept_op);
        sl->accepting = true;
    }
}

static void arm_doorbell(struct shard *s);

static void on_doorbell(struct io_op *op, int res, uint32_t flags)
{
    struct shard *s = (struct shard *)((char *)op - offsetof(struct shard, doorbell_op));
    (void)res;
    (void)flags;
    if (!s->stopping)
        arm_doorbell(s);
}

static void arm_doorbell(struct shard *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe)
        return;
    io_uring_prep_read(sqe, s->cfg.doorbell_fd, &s->doorbell_val, sizeof(s->doorbell_val), 0);
    io_uring_sqe_set_data(sqe, &s->doorbell_op);
}

/* Group commit: every dirty log writes what this turn appended and starts
 * its fdatasync. Returns the number of syncs started. */
static int shard_flush_logs(struct shard *s)
{
    int work = 0;
    struct partition **pp = &s->dirty;
    while (*pp) {
        struct partition *p = *pp;
        int rc = log_error(p->log) ? 0 : log_flush_submit(p->log, &s->ring, s->now_ms);
        if (rc == -EBUSY) {
            io_uring_submit(&s->ring); /* SQ full: make room, retry next turn */
            pp = &p->dirty_next;
            continue;
        }
        if (rc > 0)
            work += rc;
        if (!log_flush_pending(p->log) || log_error(p->log)) {
            *pp = p->dirty_next;
            p->dirty = false;
        } else {
            pp = &p->dirty_next;
        }
    }
    /* One commit (one fdatasync) for every log's unit of this turn. */
    if (s->journal) {
        int rc = journal_submit(s->journal, &s->ring);
        if (rc > 0)
            work += rc;
    }
    return work;
}

/* Once a second: idle connections, time-based fdatasync (flush.ms) and
 * retention. */
static void shard_on_tick(struct shard *s)
{
    conn_close_idle(s);
    shard_registration_tick(s);
    replica_tick(s);
    txn_shard_tick(s); /* producer.id.expiration.ms */
    if (s->journal)
        journal_submit(s->journal, &s->ring); /* a checkpoint moves on when idle too */
    bool retention = s->now_ms >= s->next_retention_ms;
    if (retention)
        s->next_retention_ms = s->now_ms + s->cfg.broker->log_retention_check_interval_ms;
    for (uint32_t b = 0; b < s->nbuckets; b++) {
        for (struct partition *p = s->parts[b]; p; p = p->next) {
            if (!p->log)
                continue; /* opening, or handed to the worker to delete */
            if (!log_error(p->log) && log_flush_submit(p->log, &s->ring, s->now_ms) > 0)
                shard_mark_dirty(s, p);
            if (retention && p->state == PART_READY && !log_flush_pending(p->log))
                log_enforce_retention(p->log, s->now_ms);
        }
    }
    shard_cleaner_tick(s);
}

int shard_reap(struct shard *s)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&s->ring, head, cqe) {
        io_op_dispatch(cqe);
        n++;
    }
    io_uring_cq_advance(&s->ring, n);
    return (int)n;
}

static int shard_drain_ctl(struct shard *s)
{
    void *msgs[64];
    unsigned n, total = 0;
    while ((n = spsc_ring_dequeue_burst(s->cfg.from_ctl, msgs, 64)) > 0) {
        for (unsigned i = 0; i < n; i++)
            shard_on_ctl(s, msgs[i]);
        total += n;
    }
    return (int)total;
}

/* While stopping: closes connections once answered, or all of them at the
 * deadline. Returns true when the loop is over. */
static bool shard_stop_step(struct shard *s)
{
    bool late = s->mono_ms >= s->stop_deadline_ms;
    for (struct conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (late || c->nrequests == 0)
            conn_close(c, late && c->nrequests ? "shutting down" : NULL);
    }
    return late && !s->conns;
}

/* The shard's write-ahead journal (storage/journal.h), replayed already
 * by the process (journal_replay_dir). Without it every log syncs its own
 * files, as it would with sluice.journal.bytes=0. */
static void shard_open_journal(struct shard *s)
{
    int64_t bytes = s->cfg.broker->journal_bytes;
    if (bytes <= 0)
        return;
    uint64_t size = (uint64_t)bytes < SHARD_JOURNAL_MIN ? SHARD_JOURNAL_MIN : (uint64_t)bytes;
    size -= size % JOURNAL_BLOCK;
    int rc = journal_open(&s->journal, s->cfg.data_dir, s->cfg.index, size);
    if (rc < 0) {
        slog(SLOG_WARN, "shard", "no journal: each partition syncs its own files shard=%d "
             "error=\"%s\"", s->cfg.index, strerror(-rc));
        s->journal = NULL;
        return;
    }
    journal_set_metrics(s->journal, &s->metrics.flush);
}

int shard_loop_init(struct shard *s)
{
    s->accept_op.complete = on_accept;
    s->doorbell_op.complete = on_doorbell;
    /* Created here: the calling thread is the ring's only submitter. */
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
                                          IORING_SETUP_DEFER_TASKRUN };
    int rc = io_uring_queue_init_params(SHARD_RING_ENTRIES, &s->ring, &p);
    if (rc < 0)
        return rc;
    s->ring_ready = true;
    if ((rc = shard_cleaner_init(s)) < 0 || (rc = replica_shard_init(s)) < 0)
        return rc;
    char name[16];
    snprintf(name, sizeof(name), "sluice-work%d", s->cfg.index);
    rc = shard_worker_start(&s->worker, s->cfg.doorbell_fd, name);
    if (rc < 0)
        return rc;
    shard_open_journal(s);
    arm_doorbell(s);
    shard_dpdk_start(s);
    return 0;
}

int shard_do_work(struct shard *s, const struct shard_now *now)
{
    s->now_ms = now->wall_ms;
    s->mono_ns = now->mono_ns;
    s->mono_ms = now->mono_ns / NS_PER_MS;
    int work = shard_reap(s);
    work += shard_dpdk_poll(s);
    work += shard_drain_ctl(s);
    work += shard_cleaner_do_work(s);
    work += shard_worker_reap(&s->worker);
    work += shard_poll_waiting(s);
    if (s->stopping && shard_stop_step(s)) {
        s->finished = true;
        return work;
    }
    bool tick = s->mono_ms >= s->next_tick_ms;
    if (tick)
        s->next_tick_ms = s->mono_ms + SHARD_TICK_MS;
    work += shard_flush_logs(s);
    /* The flush wrote this turn's batches: acks=1 (and acks=all with
     * flush "os") requests can be answered before sleeping. */
    work += shard_poll_waiting(s);
    work += shard_dpdk_after_flush(s); /* mbufs written, ACKs now durable */
    /* Followers fetch once what they appended is durable; leaders ask for
     * ISR changes. After the flush: fetched batches are written by now. */
    work += replica_do_work(s);
    work += partition_step_dying(s);
    if (tick && !s->stopping)
        shard_on_tick(s);
    return work;
}

bool shard_running(const struct shard *s)
{
    return !s->finished && (!s->stopping || s->conns || s->waiting);
}

int64_t shard_next_wake(const struct shard *s)
{
    if (shard_cleaner_busy(s))
        return s->mono_ns; /* a clean in slices goes on next turn */
    int64_t wake = shard_next_deadline(s);
    if (wake > s->next_tick_ms)
        wake = s->next_tick_ms;
    int64_t repl = replica_next_wake(s);
    if (wake > repl)
        wake = repl;
    return wake * NS_PER_MS;
}

void shard_idle(struct shard *s, int work, int64_t wait_ns)
{
    int rc;
    if (s->cfg.broker->idle_strategy == SHARD_IDLE_SPIN || s->dpdk) {
        /* Submit, and run the completions the kernel deferred to us
         * (DEFER_TASKRUN) so the next turn reaps them; never block. A
         * shard with a DPDK queue always spins: its port has no wake-up. */
        rc = io_uring_submit_and_get_events(&s->ring);
        if (s->dpdk && work == 0)
            shard_dpdk_idle(s);
    } else {
        /* Sleep: after every turn, until a completion or the deadline. A
         * turn that did work queued operations whose completions wake us. */
        if (wait_ns < 0)
            wait_ns = 0;
        /* Deadlines are kept in ms: round up so a wake-up is never early. */
        int64_t wait_ms = (wait_ns + NS_PER_MS - 1) / NS_PER_MS;
        struct __kernel_timespec ts = { .tv_sec = wait_ms / 1000,
                                        .tv_nsec = (wait_ms % 1000) * NS_PER_MS };
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
        slog(SLOG_ERROR, "shard", "io_uring wait failed shard=%d error=\"%s\"", s->cfg.index,
             strerror(-rc));
}

/* One line on stderr at the end: how long turns of work took. */
static void shard_report_turns(const struct shard *s)
{
    struct duty_cycle_view v, *view = &v;
    duty_cycle_read(&s->turns, view);
    if (view->total == 0)
        return; /* a loop its caller ran (tests) records no turns */
    slog(SLOG_INFO, "shard", "loop turns shard=%d turns=%" PRIu64 " p50_us=%.1f p99_us=%.1f "
         "p99.9_us=%.1f p99.99_us=%.1f max_us=%.1f over_1ms=%" PRIu64,
         s->cfg.index, view->total, duty_cycle_percentile(view, 50) / 1e3,
            duty_cycle_percentile(view, 99) / 1e3, duty_cycle_percentile(view, 99.9) / 1e3,
            duty_cycle_percentile(view, 99.99) / 1e3, view->max_ns / 1e3, view->over_1ms);
}

void shard_loop_finish(struct shard *s)
{
    shard_finish(s);
    shard_report_turns(s);
}

static void *shard_main(void *arg)
{
    struct shard *s = arg;
    char name[16];
    snprintf(name, sizeof(name), "sluice-shard%d", s->cfg.index);
    pthread_setname_np(pthread_self(), name);
    if (s->cfg.topology && s->cfg.core >= 0)
        topology_pin_thread(s->cfg.topology, s->cfg.core);
    int rc = shard_loop_init(s);
    if (rc < 0) {
        slog(SLOG_ERROR, "shard", "cannot set up io_uring shard=%d error=\"%s\"", s->cfg.index,
             strerror(-rc));
        exit(1);
    }
    while (shard_running(s)) {
        struct shard_now now = shard_clock_now();
        int work = shard_do_work(s, &now);
        struct shard_now end = shard_clock_now();
        if (work > 0)
            duty_cycle_record(&s->turns, (uint64_t)(end.mono_ns - now.mono_ns));
        shard_idle(s, work, shard_next_wake(s) - end.mono_ns);
    }
    shard_loop_finish(s);
    return NULL;
}

int shard_start(struct shard *s)
{
    return pthread_create(&s->thread, NULL, shard_main, s) == 0 ? 0 : -EAGAIN;
}

void shard_destroy(struct shard *s)
{
    pthread_join(s->thread, NULL);
    shard_free(s);
}

void shard_free(struct shard *s)
{
    if (s->ring_ready)
        io_uring_queue_exit(&s->ring);
    while (s->free_chunks) {
        struct chunk *c = s->free_chunks;
        s->free_chunks = c->next;
        free(c);
    }
    while (s->free_requests) {
        struct request *rq = s->free_requests;
        s->free_requests = rq->next;
        free(((struct request_priv *)rq->priv)->arena_buf);
        free(rq);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    for (int k = 1; k < s->nlis; k++)
        if (s->lis[k].fd >= 0)
            close(s->lis[k].fd);
    free(s->parts);
    free(s);
}
