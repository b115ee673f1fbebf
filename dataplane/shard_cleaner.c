/* shard_cleaner.c - a shard's compaction and background storage chores
 * (see shard_cleaner.h).
 *
 * The thread and the shard talk through a pair of SPSC rings of struct
 * cleaner_task pointers: the shard allocates a task, posts it and rings
 * the thread's eventfd; the thread does it (a clean job, a durable
 * checkpoint, closing descriptors), posts it back and rings the shard's
 * doorbell; the shard finishes it in shard_cleaner_do_work and frees it.
 * Tasks are rare (a clean, a DeleteRecords), never per message. */
#include "dataplane/shard_cleaner.h"
#include "dataplane/shard_private.h"
#include "numa/ring.h"
#include "storage/cleaner.h"
#include "storage/sys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CLEANER_RING 64
#define SHARD_CLEAN_SLICE_US 200
#define RETIRED_BATCH 64

enum task_kind {
    TASK_CLEAN,
    TASK_PERSIST_START,
    TASK_CLOSE,
    TASK_STOP,
};

struct cleaner_task {
    enum task_kind kind;
    struct partition *part;        /* TASK_CLEAN, TASK_PERSIST_START */
    struct clean_job *job;
    char dir[PATH_MAX - 64];       /* TASK_PERSIST_START */
    int64_t offset;
    volatile int *done;
    int result;
    int nfds;                      /* TASK_CLOSE */
    int fds[RETIRED_BATCH];
};

/* A descriptor waiting until no answer can still refer to it. */
struct retired_fd {
    int fd;
    uint64_t seq;                  /* the shard's request sequence then */
};

struct shard_cleaner {
    struct shard *shard;
    size_t map_bytes;
    int64_t next_check_ms;
    /* the thread */
    bool started;
    pthread_t thread;
    int wake_fd;
    struct spsc_ring to_thread, from_thread;
    void *to_slots[CLEANER_RING], *from_slots[CLEANER_RING];
    int posted;                    /* tasks out on the thread */
    /* the clean in progress (one per shard at a time) */
    struct cleaner_task *clean;
    bool on_thread;
    int sync_inflight;             /* slices: fsyncs on the shard's ring */
    int sync_res;                  /* their first error */
    struct io_op sync_op;
    bool holding;                  /* no new clean: a log is being closed */
    /* retired descriptors */
    struct retired_fd *retired;
    int nretired, capretired;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the thread ---- */

static void thread_do(struct cleaner_task *t)
{
    switch (t->kind) {
    case TASK_CLEAN:
        clean_job_run(t->job);
        break;
    case TASK_PERSIST_START:
        t->result = log_start_checkpoint_write(t->dir, t->offset);
        break;
    case TASK_CLOSE:
        /* The last close of an unlinked segment frees its blocks: here,
         * not on the shard. */
        for (int i = 0; i < t->nfds; i++)
            storage_sys.close(t->fds[i]);
        break;
    default:
        break;
    }
}

static void *cleaner_main(void *arg)
{
    struct shard_cleaner *c = arg;
    char name[16];
    snprintf(name, sizeof(name), "sluice-clean%d", c->shard->cfg.index);
    pthread_setname_np(pthread_self(), name);
    /* Lowest priority: a shard that wakes preempts it at once. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    for (;;) {
        void *m;
        if (spsc_ring_dequeue_burst(&c->to_thread, &m, 1) == 0) {
            uint64_t v;
            if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EINTR)
                return NULL;
            continue;
        }
        struct cleaner_task *t = m;
        bool stop = t->kind == TASK_STOP;
        if (!stop)
            thread_do(t);
        while (spsc_ring_enqueue(&c->from_thread, t) != 0)
            sched_yield(); /* the shard drains it every turn */
        uint64_t one = 1;
        if (write(c->shard->cfg.doorbell_fd, &one, sizeof(one)) < 0)
            perror("cleaner: shard doorbell");
        if (stop)
            return NULL;
    }
}

static int thread_start(struct shard_cleaner *c)
{
    if (c->started)
        return 0;
    c->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (c->wake_fd < 0)
        return -errno;
    if (pthread_create(&c->thread, NULL, cleaner_main, c) != 0) {
        close(c->wake_fd);
        return -EAGAIN;
    }
    c->started = true;
    return 0;
}

static int thread_post(struct shard_cleaner *c, struct cleaner_task *t)
{
    int rc = thread_start(c);
    if (rc < 0)
        return rc;
    if (spsc_ring_enqueue(&c->to_thread, t) != 0)
        return -EAGAIN;
    c->posted++;
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof(one)) < 0)
        perror("cleaner: wake");
    return 0;
}

/* ---- the shard's side ---- */

int shard_cleaner_init(struct shard *s)
{
    struct shard_cleaner *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->shard = s;
    c->wake_fd = -1;
    int n = s->cfg.broker->num_shards > 0 ? s->cfg.broker->num_shards : 1;
    c->map_bytes = (size_t)s->cfg.broker->log_cleaner_dedupe_buffer_size / (size_t)n;
    spsc_ring_init(&c->to_thread, c->to_slots, CLEANER_RING);
    spsc_ring_init(&c->from_thread, c->from_slots, CLEANER_RING);
    s->cleaner = c;
    return 0;
}

/* Tells the control thread a compacted log's figures (DescribeConfigs
 * shows them); a report lost to memory pressure is only a stale figure. */
static void report_stats(struct shard *s, struct partition *p)
{
    size_t tl = strlen(p->topic) + 1;
    struct ctl_msg *m = calloc(1, sizeof(*m) + tl);
    if (!m)
        return;
    m->op = CTL_CLEANER_STATS;
    m->shard = s->cfg.index;
    memcpy(m + 1, p->topic, tl);
    m->u.cleaner_stats.topic = (const char *)(m + 1);
    m->u.cleaner_stats.partition = p->index;
    log_clean_info(p->log, &m->u.cleaner_stats.info);
    shard_post_ctl(s, m);
}

static void start_clean(struct shard *s);

static void clean_done(struct shard_cleaner *c, struct cleaner_task *t)
{
    struct shard *s = c->shard;
    log_clean_finish(t->part->log, t->job, s->now_ms);
    report_stats(s, t->part);
    c->clean = NULL;
    free(t);
    /* As Kafka's cleaner thread: after a clean, look again at once (a log
     * that stayed dirty meanwhile is due now), not at the next tick. */
    c->next_check_ms = 0;
    if (!s->stopping)
        start_clean(s);
}

static void task_done(struct shard_cleaner *c, struct cleaner_task *t)
{
    switch (t->kind) {
    case TASK_CLEAN:
        clean_done(c, t);
        return;
    case TASK_PERSIST_START:
        *t->done = t->result < 0 ? t->result : 1;
        break;
    case TASK_STOP:
        return; /* the caller's */
    default:
        break;
    }
    free(t);
}

static void drain_thread(struct shard_cleaner *c)
{
    void *m[16];
    unsigned n;
    while ((n = spsc_ring_dequeue_burst(&c->from_thread, m, 16)) > 0)
        for (unsigned i = 0; i < n; i++) {
            c->posted--;
            task_done(c, m[i]);
        }
}

static void on_slice_sync(struct io_op *op, int res, uint32_t flags)
{
    struct shard_cleaner *c = (struct shard_cleaner *)((char *)op -
                                                       offsetof(struct shard_cleaner, sync_op));
    (void)flags;
    if (res < 0 && c->sync_res == 0)
        c->sync_res = res;
    if (--c->sync_inflight > 0)
        return;
    if (c->clean)
        clean_job_synced(c->clean->job, c->sync_res);
}

/* Slices: one bounded step of the job on the shard; its fsyncs go on the
 * shard's ring, all of a step's at once (one completion each). */
static void run_slice(struct shard_cleaner *c)
{
    struct cleaner_task *t = c->clean;
    if (!t || c->on_thread || c->sync_inflight)
        return;
    enum clean_status st = clean_job_step(t->job, mono_ns() + SHARD_CLEAN_SLICE_US * 1000);
    if (st == CLEAN_DONE) {
        clean_done(c, t);
        return;
    }
    if (st != CLEAN_SYNC)
        return;
    if (io_uring_sq_space_left(&c->shard->ring) < (unsigned)t->job->nsync) {
        clean_job_synced(t->job, clean_job_sync_all(t->job)); /* no room: rare */
        return;
    }
    c->sync_op.complete = on_slice_sync;
    c->sync_res = 0;
    for (int i = 0; i < t->job->nsync; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
        storage_sys.prep_fdatasync(sqe, t->job->sync_fds[i], &c->sync_op);
        c->sync_inflight++;
    }
}

int shard_cleaner_do_work(struct shard *s)
{
    struct shard_cleaner *c = s->cleaner;
    int work = c->posted;
    if (c->posted > 0)
        drain_thread(c);
    work -= c->posted;
    if (c->clean && !c->on_thread && !c->sync_inflight) {
        run_slice(c);
        work++;
    }
    return work;
}

bool shard_cleaner_busy(const struct shard *s)
{
    const struct shard_cleaner *c = s->cleaner;
    return c->clean && !c->on_thread && !c->sync_inflight;
}

/* The dirtiest due compacted log of the shard, as Kafka picks. */
static struct partition *filthiest(struct shard *s)
{
    struct partition *best = NULL;
    double best_ratio = -1;
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *p = s->parts[b]; p; p = p->next) {
            if (!partition_ready(p) || log_error(p->log) || !log_clean_needed(p->log, s->now_ms))
                continue;
            struct log_clean_info info;
            log_clean_info(p->log, &info);
            if (info.dirty_ratio > best_ratio) {
                best = p;
                best_ratio = info.dirty_ratio;
            }
        }
    return best;
}

static void start_clean(struct shard *s)
{
    struct shard_cleaner *c = s->cleaner;
    const struct broker_config *bc = s->cfg.broker;
    if (c->clean || c->holding || !bc->log_cleaner_enable || s->now_ms < c->next_check_ms)
        return;
    c->next_check_ms = s->now_ms + bc->log_cleaner_backoff_ms;
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *q = s->parts[b]; q; q = q->next)
            if (partition_ready(q) && log_config_of(q->log)->cleanup_compact)
                report_stats(s, q); /* the dirty ratio moves with appends */
    struct partition *p = filthiest(s);
    if (!p)
        return;
    struct cleaner_task *t = calloc(1, sizeof(*t));
    if (!t)
        return;
    t->kind = TASK_CLEAN;
    t->part = p;
    if (log_clean_begin(p->log, s->now_ms, c->map_bytes, &t->job) < 0) {
        free(t);
        return;
    }
    c->clean = t;
    c->on_thread = bc->cleaner_mode == CLEANER_MODE_THREAD;
    if (c->on_thread && thread_post(c, t) < 0)
        c->on_thread = false; /* no thread: clean in slices instead */
}

/* The oldest request any connection still has: answers queued before it
 * was made may hold file ranges; later ones cannot hold retired ones. */
static uint64_t oldest_live_seq(const struct shard *s)
{
    uint64_t oldest = UINT64_MAX;
    for (const struct conn *cn = s->conns; cn; cn = cn->next)
        if (cn->head) {
            const struct request_priv *rp = cn->head->priv;
            if (rp->seq < oldest)
                oldest = rp->seq;
        }
    return oldest;
}

static void close_fds(struct shard_cleaner *c, const int *fds, int n)
{
    struct cleaner_task *t = n > 0 ? calloc(1, sizeof(*t)) : NULL;
    if (t) {
        t->kind = TASK_CLOSE;
        t->nfds = n;
        memcpy(t->fds, fds, (size_t)n * sizeof(*fds));
        if (thread_post(c, t) == 0)
            return;
        free(t);
    }
    for (int i = 0; i < n; i++)
        storage_sys.close(fds[i]);
}

static void collect_retired(struct shard *s)
{
    struct shard_cleaner *c = s->cleaner;
    int fds[RETIRED_BATCH];
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *p = s->parts[b]; p; p = p->next) {
            int n;
            while (p->log && (n = log_take_retired(p->log, fds, RETIRED_BATCH)) > 0) {
                if (c->nretired + n > c->capretired) {
                    int cap = (c->capretired + n) * 2;
                    struct retired_fd *r = realloc(c->retired, (size_t)cap * sizeof(*r));
                    if (!r) {
                        close_fds(c, fds, n);
                        continue;
                    }
                    c->retired = r;
                    c->capretired = cap;
                }
                for (int i = 0; i < n; i++)
                    c->retired[c->nretired++] = (struct retired_fd){ fds[i], s->rq_seq };
            }
        }
    uint64_t oldest = oldest_live_seq(s);
    int n = 0, keep = 0;
    for (int i = 0; i < c->nretired; i++) {
        if (c->retired[i].seq < oldest && n < RETIRED_BATCH)
            fds[n++] = c->retired[i].fd;
        else
            c->retired[keep++] = c->retired[i];
    }
    c->nretired = keep;
    close_fds(c, fds, n);
}

void shard_cleaner_tick(struct shard *s)
{
    start_clean(s);
    collect_retired(s);
}

/* Waits for the thread to hand back whatever it holds. */
static void wait_thread(struct shard_cleaner *c)
{
    while (c->posted > 0) {
        drain_thread(c);
        if (c->posted > 0) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
}

void shard_cleaner_forget(struct shard *s, struct partition *p)
{
    struct shard_cleaner *c = s->cleaner;
    if (!c->clean || c->clean->part != p)
        return;
    c->holding = true; /* its end must not start another one */
    atomic_store(&c->clean->job->abort, true);
    if (c->on_thread) {
        wait_thread(c);
        c->holding = false;
        return;
    }
    while (c->clean && c->clean->part == p) {
        /* Slices: finish (or abort) here; the shard is closing the log. */
        enum clean_status st = clean_job_step(c->clean->job, INT64_MAX);
        if (st == CLEAN_SYNC && !c->sync_inflight)
            clean_job_synced(c->clean->job, clean_job_sync_all(c->clean->job));
        else if (st == CLEAN_DONE)
            clean_done(c, c->clean);
        else if (c->sync_inflight && io_ring_run_once(&s->ring) < 0)
            break;
    }
    c->holding = false;
}

int shard_cleaner_persist_start(struct shard *s, struct partition *p, int64_t offset,
                                volatile int *done)
{
    struct cleaner_task *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->kind = TASK_PERSIST_START;
    t->part = p;
    t->offset = offset;
    t->done = done;
    snprintf(t->dir, sizeof(t->dir), "%s", log_dir(p->log));
    int rc = thread_post(s->cleaner, t);
    if (rc < 0)
        free(t);
    return rc;
}

void shard_cleaner_close(struct shard *s)
{
    struct shard_cleaner *c = s->cleaner;
    if (!c)
        return;
    if (c->clean)
        shard_cleaner_forget(s, c->clean->part);
    c->holding = true;
    wait_thread(c);
    for (int i = 0; i < c->nretired; i++)
        storage_sys.close(c->retired[i].fd);
    free(c->retired);
    if (c->started) {
        struct cleaner_task stop = { .kind = TASK_STOP };
        if (thread_post(c, &stop) == 0) {
            pthread_join(c->thread, NULL);
            drain_thread(c);
        }
        close(c->wake_fd);
    }
    free(c);
    s->cleaner = NULL;
}
