/* shard_private.h - the inside of a shard, shared by the files of the
 * dataplane: shard.c (thread, loop, rings, partitions), conn.c (framing,
 * send queue), request.c (request life cycle, dispatch) and the handle_*.c
 * files. Nothing outside dataplane/ includes it. */
#ifndef SLUICE_SHARD_PRIVATE_H
#define SLUICE_SHARD_PRIVATE_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#include "control/ctl.h"
#include "dataplane/conn_limits.h"
#include "dataplane/request.h"
#include "dataplane/shard.h"
#include "metrics/shard_metrics.h"
#include "storage/io.h"
#include "storage/log.h"

#define CHUNK_SIZE (256u << 10)       /* default receive chunk */
#define REQUEST_ARENA_SIZE (64u << 10)
#define SEND_IOV_MAX 64

/* A piece of receive buffer; requests point into it until answered. */
struct chunk {
    struct chunk *next;       /* free list */
    uint32_t refs;
    uint32_t cap;
    uint32_t len;
    uint8_t data[];
};

/* What leaves a connection: bytes in memory, or a file range. */
struct out_seg {
    const uint8_t *p;         /* NULL: a file range */
    int fd;
    uint64_t pos;
    uint32_t len;
};

enum request_state {
    RQ_NEW,
    RQ_WAITING,               /* deferred by its handler */
    RQ_DONE,                  /* response queued (or none due) */
};

/* The private part of a request, kept in rq->priv. */
struct request_priv {
    struct chunk *chunk;      /* the frame's bytes */
    struct out_seg *segs;     /* the response, in order */
    int nsegs;
    int seg;                  /* next segment to send */
    uint32_t seg_off;         /* bytes of segs[seg] already sent */
    uint8_t *heap;            /* arena when a request outgrew the pooled one */
    uint8_t *resp_heap;       /* response buffer when the arena was too small */
    uint8_t *arena_buf;       /* REQUEST_ARENA_SIZE, owned */
    /* what the handler waits for */
    int (*poll)(struct request *rq);  /* 1: done, 0: still waiting */
    int64_t deadline_ms;      /* on the monotonic clock (shard->mono_ms) */
    struct request *wait_next;
    void *state;              /* handler's own */
    uint64_t seq;             /* the shard's request sequence at its start */
};

struct conn {
    struct shard *shard;
    int fd;
    uint32_t id;
    struct conn_peer peer;    /* counted in conn_limits until freed */
    int inflight;             /* io_uring ops not yet completed */
    bool closing;
    bool recv_armed;
    bool send_busy;
    bool paused;              /* a produce waits for log queue space */
    int64_t last_active_ms;   /* last receive or send, monotonic: idle close */
    struct io_op recv_op;
    struct io_op send_op;
    struct io_op splice_in_op;
    struct io_op splice_out_op;
    struct io_op close_op;
    struct chunk *chunk;      /* receiving into */
    uint32_t parse;           /* start of the next frame in chunk */
    struct request *head, *tail;  /* in order of arrival */
    int nrequests;
    struct iovec iov[SEND_IOV_MAX];
    struct msghdr msg;
    int pipe[2];              /* for splicing file ranges */
    uint8_t *tail_buf;        /* TAIL_COPY_MAX: small file ranges, read */
    uint32_t pipe_bytes;      /* spliced in, not yet out */
    uint32_t splice_len;
    int splice_pending;
    struct conn *next;        /* shard's list */
};

struct partition {
    struct partition *next;   /* hash chain */
    char *topic;
    int32_t index;
    struct log *log;
    bool dirty;               /* in the shard's flush list */
    struct partition *dirty_next;
    struct part_metrics m;    /* shard_stats.c reports them */
    struct replica *repl;     /* replication state (replica.h); NULL: one replica */
};

struct shard {
    struct shard_config cfg;
    pthread_t thread;
    struct io_uring ring;
    int listen_fd;
    int port;
    struct io_op accept_op;
    struct io_op doorbell_op;
    uint64_t doorbell_val;
    bool accepting;
    bool stopping;
    struct ctl_msg *stop_msg;      /* CTL_SHUTDOWN, acknowledged at the end */
    int64_t stop_deadline_ms;
    const struct md_snapshot *md;
    struct conn *conns;
    uint32_t next_conn_id;
    uint64_t conns_refused;        /* past max.connections(.per.ip) */
    int64_t refused_log_ms;        /* last "connection refused" line */
    struct chunk *free_chunks;
    struct request *free_requests;
    struct request *waiting;       /* deferred requests with a poll */
    struct partition **parts;      /* hash table */
    uint32_t nbuckets;
    struct partition *dirty;       /* logs with flush work */
    /* the turn's clocks (struct shard_now), set by shard_do_work */
    int64_t now_ms;                /* wall clock: timestamps, retention */
    int64_t mono_ms;               /* CLOCK_MONOTONIC: every timeout */
    int64_t mono_ns;
    int64_t next_tick_ms;          /* monotonic */
    int64_t next_retention_ms;
    bool ring_ready;               /* shard_loop_init set up the ring */
    bool finished;                 /* stopped: the loop is over */
    uint64_t served;
    struct registration *registration; /* ours, in flight (handle_cluster.c) */
    int32_t next_correlation_id;       /* of requests this shard sends */
    struct duty_cycle turns;       /* how long turns of work take */
    struct dpdk_queue *dpdk;       /* shard_dpdk.c; NULL without DPDK */
    uint64_t rq_seq;               /* requests started (retired fds wait on it) */
    struct shard_cleaner *cleaner; /* compaction, background chores */
    alignas(64) struct shard_metrics metrics; /* this thread's counters (shard_stats.c) */
    struct replica_shard *replicas; /* replication (replica.h) */
    int npeers;                    /* peer.c's connections not yet freed */
};

/* shard.c */
struct partition *shard_partition(struct shard *s, const char *topic,
                                  size_t len, int32_t index);
void shard_mark_dirty(struct shard *s, struct partition *p);
void shard_post_ctl(struct shard *s, struct ctl_msg *m);

/* shard_dpdk.c: the DPDK queue's steps in the loop (no-ops without one) */
void shard_dpdk_start(struct shard *s);
int shard_dpdk_poll(struct shard *s);
int shard_dpdk_after_flush(struct shard *s);
void shard_dpdk_idle(struct shard *s);
void shard_dpdk_on_metadata(struct shard *s);
void shard_dpdk_partition_closed(struct shard *s, struct partition *p);
void shard_dpdk_stop(struct shard *s);
/* shard_stats.c */
void shard_report_stats(struct shard *s, struct ctl_msg *m);
int64_t shard_mono_ns(void);
void shard_count_response(struct request *rq, const struct out_seg *segs, int nsegs);

/* conn.c */
int conn_accept(struct shard *s, int fd);
void conn_close(struct conn *c, const char *why);
void conn_close_idle(struct shard *s);
void conn_kick_send(struct conn *c);
void conn_resume(struct conn *c);
struct chunk *chunk_get(struct shard *s, uint32_t min_cap);
void chunk_put(struct shard *s, struct chunk *ch);

/* request.c */
struct request *request_get(struct shard *s, struct conn *c);
void request_release(struct request *rq);
int request_dispatch(struct request *rq, const uint8_t *frame, uint32_t len);
void request_wait(struct request *rq, int (*poll)(struct request *rq),
                  int64_t deadline_ms);
int shard_poll_waiting(struct shard *s);
int64_t shard_next_deadline(const struct shard *s);
/* Queues a response built by the caller: segs in the request arena. */
int request_respond_segs(struct request *rq, struct out_seg *segs, int nsegs);
void request_respond_none(struct request *rq);

/* handlers */
int handle_api_versions(struct request *rq);
int handle_metadata(struct request *rq);
int handle_describe_cluster(struct request *rq);
int handle_find_coordinator(struct request *rq);
int handle_produce(struct request *rq);
int handle_fetch(struct request *rq);
int handle_list_offsets(struct request *rq);
int handle_delete_records(struct request *rq);
int handle_broker_registration(struct request *rq);
int handle_offset_for_leader_epoch(struct request *rq);
int handle_alter_partition(struct request *rq);

/* handle_cluster.c: this node's registration, sent by shard 0 */
void shard_send_registration(struct shard *s, struct ctl_msg *m);
void shard_registration_tick(struct shard *s);

#endif
