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
#include "dataplane/listeners.h"
#include "dataplane/request.h"
#include "dataplane/shard.h"
#include "metrics/shard_metrics.h"
#include "dataplane/shard_worker.h"
#include "storage/io.h"
#include "storage/journal.h"
#include "storage/kerr.h"
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
    uint8_t *heap_more;       /* arenas reserved by a handler (request_arena_reserve), chained */
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
    int splice_fd;            /* the file being spliced in (a read error
                                 takes its partition offline) */
    int splice_pending;
    uint8_t listener;         /* index in the shard's listeners */
    struct conn_tls *tls;     /* SSL, SASL_SSL listeners (conn_tls.c) */
    struct conn_sasl *sasl;   /* SASL_* listeners (sasl.c) */
    struct conn *next;        /* shard's list */
};

enum partition_state {
    PART_OPENING,             /* log_open on the worker */
    PART_READY,               /* served */
    PART_DELETING,            /* not routed to; closed once idle */
};

/* A listening socket of a listener other than the first. */
struct shard_listen {
    struct shard *shard;
    int fd;
    int port;
    bool accepting;
    struct io_op accept_op;
};

struct partition {
    struct partition *next;   /* hash chain */
    char *topic;
    int32_t index;
    struct log *log;          /* NULL while opening and once handed off */
    enum partition_state state;
    bool dirty;               /* in the shard's flush list */
    struct partition *dirty_next;
    struct part_metrics m;    /* shard_stats.c reports them */
    struct replica *repl;     /* replication state (replica.h); NULL: one replica */
    struct ctl_msg *delete_msg;   /* CTL_PARTITION_DELETE, answered when gone */
    bool config_pending;      /* a CTL_PARTITION_CONFIG came while opening */
    struct log_config config;
    bool state_pending;       /* a CTL_PARTITION_STATE came while opening */
    struct ctl_replica_state repl_state;
    bool offline;             /* a disk fault (partition_fault.c): requests
                                 for it answer KAFKA_STORAGE_ERROR */
};

struct shard {
    struct shard_config cfg;
    int64_t pid_limit;             /* producer ids below were handed out */
    int64_t next_pid_expiry_ms;    /* txn_shard_tick */
    struct ctl_msg *markers;       /* CTL_TXN_MARKER not yet durable */
    pthread_t thread;
    struct io_uring ring;
    int listen_fd;                 /* listener 0 (listeners.h), as lis[0] */
    int port;
    struct io_op accept_op;
    struct shard_listen lis[LISTENERS_MAX]; /* 1..nlis-1: the other listeners */
    int nlis;
    struct io_op doorbell_op;
    uint64_t doorbell_val;
    bool accepting;
    bool stopping;
    struct ctl_msg *stop_msg;      /* CTL_SHUTDOWN, acknowledged at the end */
    int64_t stop_deadline_ms;
    const struct md_snapshot *md;
    struct conn *conns;
    uint32_t next_conn_id;
    int64_t refused_log_ms;        /* last "connection refused" line */
    struct chunk *free_chunks;
    struct request *free_requests;
    struct request *waiting;       /* deferred requests with a poll */
    struct partition **parts;      /* hash table */
    uint32_t nbuckets;
    uint32_t deletes_pending;     /* partitions holding a delete_msg (partition_step_dying) */
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
    struct shard_worker worker;    /* blocking work, off the loop */
    struct journal *journal;       /* NULL: sluice.journal.bytes=0, or it failed to open */
};

/* shard.c */
void shard_post_ctl(struct shard *s, struct ctl_msg *m);
/* Dispatches every completion on the ring. Returns how many. */
int shard_reap(struct shard *s);

/* Served (open, not being deleted): its log may be used. */
static inline bool partition_ready(const struct partition *p)
{
    return p->state == PART_READY;
}

/* partition.c: the table and the life cycle of partitions */
/* A served partition (not one opening or being deleted), or NULL. */
struct partition *shard_partition(struct shard *s, const char *topic,
                                  size_t len, int32_t index);
void shard_mark_dirty(struct shard *s, struct partition *p);
/* CTL_PARTITION_OPEN / _DELETE / _CONFIG; each is answered (posted back)
 * when done, the first two from the worker's completion. */
void partition_on_open(struct shard *s, struct ctl_msg *m);
void partition_on_delete(struct shard *s, struct ctl_msg *m);
void partition_on_config(struct shard *s, struct ctl_msg *m);
/* CTL_PARTITION_STATE: the replica's state (replica.h), applied once open. */
void partition_on_state(struct shard *s, struct ctl_msg *m);
/* Each turn: hands deleting partitions whose log went idle to the worker. */
int partition_step_dying(struct shard *s);
/* The end of a stop: waits for every write, sync and job, closes every
 * log cleanly on the shard. */
void partition_close_all(struct shard *s);
/* The log job runner of every open log (log_set_job_runner). */
void shard_post_log_job(void *ctx, struct log_job *job);

/* partition_fault.c: partitions offline for a disk fault */
/* The fault handler of every open log (log_set_fault_handler; ctx: the
 * shard): marks its partition offline and tells the control thread. */
void partition_on_log_fault(void *ctx, struct log *log);
/* A read of file range fd failed with err outside storage (a splice, a
 * TLS read): the partition whose segment it is goes offline. Returns
 * whether one was found (a segment already gone is nobody's). */
bool partition_read_failed(struct shard *s, int fd, int err, const char *op);
/* p's log failed to open with err: reported offline when a disk fault. */
void partition_open_failed(struct shard *s, struct partition *p, int err);
/* p is deleted (its log may leave the shard's thread): no more fault
 * reports, and an offline p leaves the control thread's list. */
void partition_fault_forget(struct shard *s, struct partition *p);
/* A partition not open here is deleted: it leaves that list too. */
void partition_fault_clear(struct shard *s, const char *topic, int32_t partition);

/* The answer for a request on p that is served: KAFKA_STORAGE_ERROR once
 * it is offline, else 0. */
static inline int16_t partition_fault_error(const struct partition *p)
{
    return p->offline ? KERR_KAFKA_STORAGE_ERROR : 0;
}

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
int conn_accept_on(struct shard *s, int fd, int listener);
void conn_close(struct conn *c, const char *why);
void conn_close_idle(struct shard *s);
void conn_kick_send(struct conn *c);
void conn_resume(struct conn *c);
struct chunk *chunk_get(struct shard *s, uint32_t min_cap);
/* for conn_tls.c: hold/unhold keep c alive across work that may close it;
 * make_room readies the chunk for the rest of the frame; parse dispatches
 * every complete frame; advance drops n sent bytes of responses */
void conn_hold(struct conn *c);
void conn_unhold(struct conn *c);
int conn_make_room(struct conn *c);
void conn_parse(struct conn *c);
void conn_advance(struct conn *c, uint64_t n);
/* Reading file range fd for c's answer failed with res (negative errno):
 * the partition goes offline for a disk fault, c is closed (its answer
 * is partly sent), both logged. */
void conn_file_read_failed(struct conn *c, int fd, int res);

/* conn_tls.c: conn.c's paths on a TLS connection */
struct tls_ctx;
int conn_tls_init(struct conn *c, struct tls_ctx *ctx);
void conn_tls_destroy(struct conn *c);
int conn_tls_feed(struct conn *c, int res);
void conn_tls_arm_recv(struct conn *c);
void conn_tls_kick_send(struct conn *c);
void conn_tls_sent(struct conn *c, int res);
/* "User:<subject DN>" once the handshake is done; NULL before or without TLS */
const char *conn_tls_principal(const struct conn *c);
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

/* txn_shard.c: markers, produce verification (KIP-890) */
struct txn_verify;
void txn_shard_marker(struct shard *s, struct ctl_msg *m);
void txn_shard_poll(struct shard *s);
void txn_shard_tick(struct shard *s);
/* A produce's partition k (of nparts): 0 to append as usual (it may have
 * joined *tv, to be verified with the coordinator first), a Kafka code,
 * or -ENOMEM. */
int txn_produce_check(struct request *rq, struct txn_verify **tv, int nparts, int k,
                      struct partition *p, struct kstr topic, const uint8_t *records);
bool txn_produce_pending(const struct txn_verify *tv);
int txn_produce_verify(struct request *rq, struct txn_verify *tv, request_ctl_done done);
void txn_produce_answer(struct txn_verify *tv, const struct ctl_msg *m, int16_t version);
/* Right before partition k's append: 0, or why it must not be. */
int16_t txn_produce_verified(const struct txn_verify *tv, int k, struct partition *p);

/* handlers */
int handle_api_versions(struct request *rq);
int handle_metadata(struct request *rq);
int handle_describe_cluster(struct request *rq);
int handle_describe_topic_partitions(struct request *rq);
int handle_find_coordinator(struct request *rq);
int handle_produce(struct request *rq);
int handle_fetch(struct request *rq);
int handle_list_offsets(struct request *rq);
int handle_delete_records(struct request *rq);
int handle_broker_registration(struct request *rq);
int handle_offset_for_leader_epoch(struct request *rq);
int handle_alter_partition(struct request *rq);
int handle_elect_leaders(struct request *rq);
int handle_alter_reassignments(struct request *rq);
int handle_list_reassignments(struct request *rq);

/* handle_cluster.c: this node's registration, sent by shard 0 */
void shard_send_registration(struct shard *s, struct ctl_msg *m);
void shard_registration_tick(struct shard *s);
int handle_init_producer_id(struct request *rq);
int handle_add_partitions_to_txn(struct request *rq);
int handle_add_offsets_to_txn(struct request *rq);
int handle_end_txn(struct request *rq);
int handle_txn_offset_commit(struct request *rq);
int handle_write_txn_markers(struct request *rq);
int handle_describe_producers(struct request *rq);
int handle_list_transactions(struct request *rq);
int handle_describe_transactions(struct request *rq);

#endif
