/* shard_worker.h - a shard's helper thread for work that blocks: opening
 * and recovering a partition, creating, naming, sealing and unlinking
 * segments, removing a deleted partition's directory. The shard's loop
 * turn never waits for any of it.
 *
 * A job is posted by the shard, run on the worker thread (run(), which
 * may block), then handed back and finished on the shard (done()), in the
 * order posted. Both directions are SPSC rings (numa/ring.h); the worker
 * sleeps on an eventfd the shard writes after posting, and writes the
 * shard's doorbell (the eventfd the control thread rings too) after
 * handing a job back. Ownership of whatever a job carries passes with it.
 *
 * Never: runs a job's done() off the shard's thread; allocates per message
 * (a job is posted per partition open or delete, per roll, per retired
 * segment). */
#ifndef SLUICE_SHARD_WORKER_H
#define SLUICE_SHARD_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "numa/ring.h"

#define SHARD_WORKER_SLOTS 1024

struct shard_job {
    void (*run)(struct shard_job *job);   /* on the worker */
    void (*done)(struct shard_job *job);  /* back on the shard */
    struct shard_job *next;               /* the shard's overflow list */
};

struct shard_worker {
    struct spsc_ring to_worker;
    struct spsc_ring to_shard;
    void *to_worker_slots[SHARD_WORKER_SLOTS];
    void *to_shard_slots[SHARD_WORKER_SLOTS];
    int wake_fd;                  /* eventfd: the shard posted */
    int shard_doorbell_fd;        /* the shard's eventfd: a job came back */
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    struct shard_job *overflow;   /* shard side: posted while to_worker was full */
    struct shard_job *overflow_tail;
    unsigned outstanding;         /* shard side: posted, not yet done */
    char name[16];
};

/* Starts the thread. The shard's doorbell is written when a job is back.
 * 0 or a negative errno. */
int shard_worker_start(struct shard_worker *w, int shard_doorbell_fd, const char *name);

/* Shard only: posts a job (never fails: a full ring overflows into a list
 * that later calls move on). */
void shard_worker_post(struct shard_worker *w, struct shard_job *job);

/* Shard only: finishes every job that came back (done()), and moves
 * overflowed posts on. Returns how many finished. */
int shard_worker_reap(struct shard_worker *w);

/* Shard only: jobs posted and not yet finished. */
unsigned shard_worker_outstanding(const struct shard_worker *w);

/* Shard only, with nothing outstanding: ends the thread. */
void shard_worker_stop(struct shard_worker *w);

#endif
