/* partition.c - a shard's partitions: the table requests route through,
 * and their life cycle, with every blocking step on the shard's worker
 * thread (shard_worker.h) so that no loop turn waits for a file system:
 *
 *   CTL_PARTITION_OPEN    OPENING: log_open (recovery) on the worker; in
 *                         the table once done, then answered
 *   (serving)             READY: routed to; the log's own jobs (segment
 *                         pre-creation, naming, sealing, retirement) run
 *                         on the worker too (shard_post_log_job)
 *   CTL_PARTITION_DELETE  DELETING: no longer routed to; once its log is
 *                         idle (written, synced, nothing in flight) it is
 *                         closed and its directory removed on the worker,
 *                         then it leaves the table and the delete is
 *                         answered
 *   the end of a stop     every log closed cleanly, on the shard (nothing
 *                         is served any more)
 *
 * Never: frees a partition a waiting request can still reach (produce
 * requests let go of a partition once its part is durable, see
 * handle_produce.c), or acknowledges a delete before the directory is
 * gone. */
#include "dataplane/replica.h"
#include "dataplane/shard_cleaner.h"
#include "dataplane/shard_private.h"
#include "slog/slog.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t name_hash(const char *topic, size_t len, int32_t index)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)topic[i]) * 16777619u;
    return (h ^ (uint32_t)index) * 16777619u;
}

static struct partition **bucket_of(struct shard *s, const char *topic, size_t len,
                                    int32_t index)
{
    return &s->parts[name_hash(topic, len, index) & (s->nbuckets - 1)];
}

/* Any partition of the table, whatever its state. */
static struct partition *partition_find(struct shard *s, const char *topic, size_t len,
                                        int32_t index)
{
    for (struct partition *p = *bucket_of(s, topic, len, index); p; p = p->next)
        if (p->index == index && strlen(p->topic) == len && memcmp(p->topic, topic, len) == 0)
            return p;
    return NULL;
}

struct partition *shard_partition(struct shard *s, const char *topic, size_t len,
                                  int32_t index)
{
    struct partition *p = partition_find(s, topic, len, index);
    return p && p->state == PART_READY ? p : NULL;
}

void shard_mark_dirty(struct shard *s, struct partition *p)
{
    if (p->dirty)
        return;
    p->dirty = true;
    p->dirty_next = s->dirty;
    s->dirty = p;
}

static void partition_undirty(struct shard *s, struct partition *p)
{
    for (struct partition **dp = &s->dirty; p->dirty && *dp; dp = &(*dp)->dirty_next) {
        if (*dp == p) {
            *dp = p->dirty_next;
            p->dirty = false;
            break;
        }
    }
}

/* Takes p out of the table and the flush list and frees it. */
static void partition_free(struct shard *s, struct partition *p)
{
    struct partition **pp = bucket_of(s, p->topic, strlen(p->topic), p->index);
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    partition_undirty(s, p);
    replica_drop(s, p); /* already gone, unless it never had a log */
    free(p->topic);
    free(p);
}

/* --- the log's own jobs ---------------------------------------------- */

struct log_ticket {
    struct shard_job job;
    struct log_job *lj;
};

static void log_ticket_run(struct shard_job *job)
{
    log_job_run(((struct log_ticket *)job)->lj);
}

static void log_ticket_done(struct shard_job *job)
{
    struct log_ticket *t = (struct log_ticket *)job;
    log_job_finish(t->lj);
    free(t);
}

void shard_post_log_job(void *ctx, struct log_job *lj)
{
    struct shard *s = ctx;
    struct log_ticket *t = malloc(sizeof(*t));
    if (!t) {
        log_job_run(lj); /* no memory: do it here rather than never */
        log_job_finish(lj);
        return;
    }
    t->job = (struct shard_job){ .run = log_ticket_run, .done = log_ticket_done };
    t->lj = lj;
    shard_worker_post(&s->worker, &t->job);
}

/* --- open -------------------------------------------------------------- */

struct open_job {
    struct shard_job job;
    struct shard *s;
    struct partition *p;        /* the shard's: the worker never touches it */
    struct ctl_msg *m;
    int64_t now_ms;
    struct log *log;            /* the worker's, until done */
    int result;
};

static void open_run(struct shard_job *job)
{
    struct open_job *o = (struct open_job *)job;
    struct ctl_partition_cmd *cmd = &o->m->u.partition;
    o->result = log_open(&o->log, o->s->cfg.data_dir, cmd->topic, cmd->partition,
                         &cmd->config, o->now_ms);
}

static void delete_post(struct shard *s, struct partition *p, struct ctl_msg *m);
static int partition_state_apply(struct shard *s, struct partition *p,
                                 const struct ctl_replica_state *st);

static void open_done(struct shard_job *job)
{
    struct open_job *o = (struct open_job *)job;
    struct shard *s = o->s;
    struct partition *p = o->p;
    struct ctl_msg *m = o->m;
    m->u.partition.result = o->result;
    if (o->result < 0) {
        slog(SLOG_ERROR, "shard", "cannot open a log shard=%d partition=%s-%d error=\"%s\"",
             s->cfg.index, p->topic, p->index, strerror(-o->result));
        partition_open_failed(s, p, o->result);
    } else {
        p->log = o->log;
        log_set_metrics(p->log, &s->metrics.flush);
        log_set_job_runner(p->log, shard_post_log_job, s);
        log_set_journal(p->log, s->journal);
        log_set_fault_handler(p->log, partition_on_log_fault, s);
        if (p->config_pending)
            log_set_config(p->log, &p->config);
        p->state = p->delete_msg ? PART_DELETING : PART_READY;
        /* The replica's state on the shard thread, once the log is ours:
         * the open's, then a newer one that came meanwhile. */
        if (p->state == PART_READY) {
            m->u.partition.result = replica_apply(s, p, &m->u.partition.state);
            if (p->state_pending && m->u.partition.result == 0)
                m->u.partition.result = replica_apply(s, p, &p->repl_state);
        }
        p->state_pending = false;
    }
    free(o);
    shard_post_ctl(s, m);
    if (!p->log) {
        struct ctl_msg *del = p->delete_msg;
        p->delete_msg = NULL;
        if (del)
            s->deletes_pending--;
        if (del)
            delete_post(s, p, del); /* nothing open: only the directory */
        else
            partition_free(s, p);
    }
}

void partition_on_open(struct shard *s, struct ctl_msg *m)
{
    struct ctl_partition_cmd *cmd = &m->u.partition;
    struct partition *open = partition_find(s, cmd->topic, strlen(cmd->topic), cmd->partition);
    if (open) {
        /* Open already (its replica state applied), or on its way. */
        cmd->result = partition_state_apply(s, open, &cmd->state);
        shard_post_ctl(s, m);
        return;
    }
    struct partition *p = calloc(1, sizeof(*p));
    struct open_job *o = calloc(1, sizeof(*o));
    if (!p || !o || !(p->topic = strdup(cmd->topic))) {
        free(p);
        free(o);
        cmd->result = -ENOMEM;
        shard_post_ctl(s, m);
        return;
    }
    p->index = cmd->partition;
    p->state = PART_OPENING;
    struct partition **b = bucket_of(s, p->topic, strlen(p->topic), p->index);
    p->next = *b;
    *b = p;
    *o = (struct open_job){ .job = { .run = open_run, .done = open_done },
                            .s = s, .p = p, .m = m, .now_ms = s->now_ms };
    shard_worker_post(&s->worker, &o->job);
}

/* A replica state for p: applied when it is served, kept for open_done
 * while it opens, dropped when it is being deleted. */
static int partition_state_apply(struct shard *s, struct partition *p,
                                 const struct ctl_replica_state *st)
{
    if (p->state == PART_READY)
        return replica_apply(s, p, st);
    if (p->state == PART_OPENING) {
        p->repl_state = *st; /* the control thread sends them in order */
        p->state_pending = true;
    }
    return 0;
}

void partition_on_state(struct shard *s, struct ctl_msg *m)
{
    struct ctl_partition_cmd *cmd = &m->u.partition;
    struct partition *p = partition_find(s, cmd->topic, strlen(cmd->topic), cmd->partition);
    cmd->result = p ? partition_state_apply(s, p, &cmd->state) : -ENOENT;
    shard_post_ctl(s, m);
}

void partition_on_config(struct shard *s, struct ctl_msg *m)
{
    struct ctl_partition_cmd *cmd = &m->u.partition;
    struct partition *p = partition_find(s, cmd->topic, strlen(cmd->topic), cmd->partition);
    if (p && p->state == PART_READY) {
        log_set_config(p->log, &cmd->config);
    } else if (p && p->state == PART_OPENING) {
        p->config = cmd->config; /* applied once open */
        p->config_pending = true;
    }
    cmd->result = 0;
    shard_post_ctl(s, m);
}

/* --- delete ------------------------------------------------------------ */

struct delete_job {
    struct shard_job job;
    struct shard *s;
    struct partition *p;        /* NULL: it was not open here */
    struct log *log;
    struct ctl_msg *m;
    int result;
};

static void delete_run(struct shard_job *job)
{
    struct delete_job *d = (struct delete_job *)job;
    struct ctl_partition_cmd *cmd = &d->m->u.partition;
    if (d->log) {
        int rc = log_close(d->log);
        if (rc < 0 && rc != -EIO && rc != -ENOSPC)
            slog(SLOG_ERROR, "shard",
                 "closing a log to delete it failed shard=%d partition=%s-%d error=\"%s\"",
                 d->s->cfg.index, cmd->topic, cmd->partition, strerror(-rc));
    }
    d->result = log_remove(d->s->cfg.data_dir, cmd->topic, cmd->partition);
}

static void delete_done(struct shard_job *job)
{
    struct delete_job *d = (struct delete_job *)job;
    d->m->u.partition.result = d->result;
    if (d->p)
        partition_free(d->s, d->p);
    shard_post_ctl(d->s, d->m);
    free(d);
}

static void delete_post(struct shard *s, struct partition *p, struct ctl_msg *m)
{
    struct delete_job *d = calloc(1, sizeof(*d));
    if (!d) {
        m->u.partition.result = -ENOMEM;
        shard_post_ctl(s, m);
        return;
    }
    *d = (struct delete_job){ .job = { .run = delete_run, .done = delete_done }, .s = s,
                              .p = p, .log = p ? p->log : NULL, .m = m };
    if (!p)
        partition_fault_clear(s, m->u.partition.topic, m->u.partition.partition);
    if (p) {
        partition_fault_forget(s, p); /* before its log goes to the worker */
        shard_cleaner_forget(s, p); /* its clean, if any, is taken back first */
        replica_drop(s, p);         /* idle: its fetched buffers are written */
        if (p->log)
            log_set_journal(p->log, NULL); /* idle: the journal lets go of it here */
        p->log = NULL; /* the worker owns it now */
        partition_undirty(s, p);
    }
    shard_worker_post(&s->worker, &d->job);
}

static void partition_delete_now(struct shard *s, struct partition *p)
{
    struct ctl_msg *m = p->delete_msg;
    p->delete_msg = NULL;
    s->deletes_pending--;
    delete_post(s, p, m);
}

/* Removes DATA/<topic>-<partition>, open here or not (a delete finished
 * after a restart, a create rolled back): a new topic of the same name
 * must never find old data. */
void partition_on_delete(struct shard *s, struct ctl_msg *m)
{
    struct ctl_partition_cmd *cmd = &m->u.partition;
    struct partition *p = partition_find(s, cmd->topic, strlen(cmd->topic), cmd->partition);
    if (!p) {
        delete_post(s, NULL, m);
        return;
    }
    if (p->delete_msg) {
        cmd->result = -EBUSY; /* already being deleted */
        shard_post_ctl(s, m);
        return;
    }
    p->delete_msg = m; /* an opening one goes once open (open_done) */
    s->deletes_pending++;
    if (p->state == PART_READY) {
        p->state = PART_DELETING;
        shard_dpdk_partition_closed(s, p); /* no more datagrams appended to it */
        replica_stop(s, p);                /* nor fetched batches */
    }
}

/* A deleting log is idle once everything appended is written and synced
 * (or it failed) and nothing of it is in flight; the produce requests on
 * it were answered by the turn's polls. */
int partition_step_dying(struct shard *s)
{
    int work = 0;
    if (!s->deletes_pending)
        return 0; /* the walk below is every partition, every turn */
    for (uint32_t b = 0; b < s->nbuckets; b++) {
        for (struct partition *p = s->parts[b], *next; p; p = next) {
            next = p->next;
            if (p->state != PART_DELETING || !p->delete_msg || !p->log)
                continue;
            if (log_busy(p->log) || (!log_error(p->log) && log_flush_pending(p->log)))
                continue;
            partition_delete_now(s, p);
            work++;
        }
    }
    return work;
}

/* --- the end ----------------------------------------------------------- */

/* Waits for every log's writes to finish (the ring is still ours). */
static void shard_drain_logs(struct shard *s)
{
    for (int round = 0; round < 100000; round++) {
        bool busy = false;
        for (uint32_t b = 0; b < s->nbuckets; b++)
            for (struct partition *p = s->parts[b]; p; p = p->next) {
                if (!p->log)
                    continue;
                if (log_flush_pending(p->log) && !log_error(p->log)) {
                    busy = true;
                    log_flush_submit(p->log, &s->ring, s->now_ms);
                } else if (log_busy(p->log)) {
                    busy = true; /* failed, but a completion is still due */
                }
            }
        if (s->journal) {
            journal_submit(s->journal, &s->ring);
            busy = busy || journal_busy(s->journal) || journal_pending(s->journal);
        }
        shard_worker_reap(&s->worker);
        if (!busy && shard_worker_outstanding(&s->worker) == 0)
            return;
        if (!busy) {
            sched_yield(); /* only the worker has something left */
            continue;
        }
        struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
        struct io_uring_cqe *cqe;
        int rc = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR)
            return;
        shard_reap(s);
    }
}

void partition_close_all(struct shard *s)
{
    shard_drain_logs(s);
    shard_poll_waiting(s);
    for (uint32_t b = 0; b < s->nbuckets; b++) {
        while (s->parts[b]) {
            struct partition *p = s->parts[b];
            if (p->state == PART_READY)
                shard_dpdk_partition_closed(s, p);
            if (p->log) {
                log_set_fault_handler(p->log, NULL, NULL); /* p goes now */
                shard_cleaner_forget(s, p);
                replica_drop(s, p); /* drained: its fetched buffers are written */
                int rc = log_close(p->log);
                if (rc < 0)
                    slog(SLOG_ERROR, "shard",
                         "closing a log failed shard=%d partition=%s-%d error=\"%s\"",
                         s->cfg.index, p->topic, p->index, strerror(-rc));
            }
            if (p->delete_msg) {
                p->delete_msg->u.partition.result = -ECANCELED;
                shard_post_ctl(s, p->delete_msg);
            }
            partition_free(s, p);
        }
    }
}
