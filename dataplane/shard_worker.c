/* shard_worker.c - the shard's helper thread for blocking work (see
 * shard_worker.h). */
#include "dataplane/shard_worker.h"
#include "slog/slog.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void ring_bell(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        slog(SLOG_ERROR, "shard", "worker doorbell failed error=\"%s\"", strerror(errno));
}

static void *worker_main(void *arg)
{
    struct shard_worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    for (;;) {
        void *p;
        bool ran = false;
        while (spsc_ring_dequeue(&w->to_worker, &p) == 0) {
            struct shard_job *job = p;
            job->run(job);
            /* The shard reaps every turn: a full ring empties soon. */
            while (spsc_ring_enqueue(&w->to_shard, job) != 0)
                sched_yield();
            ran = true;
        }
        if (ran)
            ring_bell(w->shard_doorbell_fd);
        if (atomic_load_explicit(&w->stop, memory_order_acquire) &&
            spsc_ring_empty(&w->to_worker))
            return NULL;
        uint64_t n;
        if (read(w->wake_fd, &n, sizeof(n)) < 0 && errno != EINTR && errno != EAGAIN) {
            slog(SLOG_ERROR, "shard", "worker wake-up failed error=\"%s\"", strerror(errno));
            return NULL;
        }
    }
}

int shard_worker_start(struct shard_worker *w, int shard_doorbell_fd, const char *name)
{
    memset(w, 0, sizeof(*w));
    spsc_ring_init(&w->to_worker, w->to_worker_slots, SHARD_WORKER_SLOTS);
    spsc_ring_init(&w->to_shard, w->to_shard_slots, SHARD_WORKER_SLOTS);
    atomic_init(&w->stop, false);
    w->shard_doorbell_fd = shard_doorbell_fd;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w->wake_fd < 0)
        return -errno;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        close(w->wake_fd);
        return -EAGAIN;
    }
    w->started = true;
    return 0;
}

/* Moves overflowed posts into the ring while there is room. */
static bool flush_overflow(struct shard_worker *w)
{
    bool moved = false;
    while (w->overflow && spsc_ring_enqueue(&w->to_worker, w->overflow) == 0) {
        w->overflow = w->overflow->next;
        moved = true;
    }
    if (!w->overflow)
        w->overflow_tail = NULL;
    return moved;
}

void shard_worker_post(struct shard_worker *w, struct shard_job *job)
{
    w->outstanding++;
    job->next = NULL;
    if (!w->overflow && spsc_ring_enqueue(&w->to_worker, job) == 0) {
        ring_bell(w->wake_fd);
        return;
    }
    if (w->overflow_tail)
        w->overflow_tail->next = job;
    else
        w->overflow = job;
    w->overflow_tail = job;
}

int shard_worker_reap(struct shard_worker *w)
{
    void *jobs[64];
    unsigned n;
    int done = 0;
    while ((n = spsc_ring_dequeue_burst(&w->to_shard, jobs, 64)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            struct shard_job *job = jobs[i];
            w->outstanding--;
            job->done(job);
        }
        done += (int)n;
    }
    if (w->overflow && flush_overflow(w))
        ring_bell(w->wake_fd);
    return done;
}

unsigned shard_worker_outstanding(const struct shard_worker *w)
{
    return w->outstanding;
}

void shard_worker_stop(struct shard_worker *w)
{
    if (!w->started)
        return;
    /* release: pairs with the worker's acquire load of stop */
    atomic_store_explicit(&w->stop, true, memory_order_release);
    ring_bell(w->wake_fd);
    pthread_join(w->thread, NULL);
    close(w->wake_fd);
    w->started = false;
}
