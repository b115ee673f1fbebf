/* replica_private.h - the inside of a shard's replication state, shared by
 * replica.c (the state, the leader's ISR and high watermark, ISR changes
 * to the controller) and replica_fetch.c (the follower's fetchers).
 * Nothing outside those two files includes it. */
#ifndef SLUICE_REPLICA_PRIVATE_H
#define SLUICE_REPLICA_PRIVATE_H

#include "dataplane/replica.h"
#include "dataplane/kafka/schema.h"

#define REPLICA_ARENA (1u << 20)    /* decoded answers (shard-private) */
#define REPLICA_FRAME_MAX (256u << 10)

/* On the leader: what it knows of another replica. */
struct follower {
    int32_t broker;
    int64_t fetch_offset;          /* it has everything below; -1: not
                                      heard from since this shard leads */
    int64_t caught_up_ms;          /* Kafka's lastCaughtUpTimeMs */
    int64_t last_fetch_ms;
    int64_t last_fetch_leader_end; /* the leader's log end at that fetch */
};

enum fetch_state {
    FETCH_NONE,                    /* leader, or no leader to follow */
    FETCH_TRUNCATE,                /* ask the leader where our epoch ended */
    FETCH_CUT,                     /* truncate to cut_at once the log idles */
    FETCH_READY,                   /* fetch at the log end */
};

struct replica {
    struct partition *p;
    struct replica *prev, *next;   /* the shard's replicated partitions */
    struct ctl_replica_state st;   /* as the controller decided it */
    int64_t hw;                    /* the high watermark, never back */
    int64_t hw_saved;              /* last checkpointed */
    /* leader */
    int64_t leader_start;          /* log end when this epoch began here */
    struct follower f[MD_REPLICAS_MAX]; /* parallel to st.replicas */
    bool alter_out;                /* an ISR change is with the controller */
    bool alter_queued;             /* in this turn's AlterPartition */
    int32_t alter_nisr;
    int32_t alter_isr[MD_REPLICAS_MAX];
    int64_t alter_retry_ms;
    /* follower */
    struct fetcher *fetcher;
    struct replica *fnext;         /* in its fetcher's list */
    enum fetch_state fstate;
    int32_t ask_epoch;             /* FETCH_TRUNCATE: the epoch asked for */
    int64_t cut_at;                /* FETCH_CUT: cut the log there, */
    bool cut_full;                 /* or empty it and start there */
    bool cut_complete;             /* then fetch (else ask again) */
    int64_t append_end;            /* appended from the last answer: fetch
                                      again once durable up to it */
    struct fetch_buf *buf;         /* the answer its batches are queued from */
    int64_t retry_ms;              /* no fetch before (an error's backoff) */
    uint32_t gen;                  /* bumped at every change of state */
    bool asked;                    /* in the fetcher's request out ... */
    uint32_t asked_gen;            /* ... made in this state */
};

/* A fetch answer's receive buffer, kept while batches appended from it
 * are not yet written (zero copy: the log's queue points into it). */
struct fetch_buf {
    uint8_t *data;
    uint32_t cap;
    int refs;                      /* replicas whose batches are unwritten */
};

#define FETCH_PARTS_MAX 1024       /* partitions in one request */

/* A follower shard's connection to one leader broker (Kafka's
 * ReplicaFetcherThread, one per leader shard here). */
struct fetcher {
    struct replica_shard *rs;
    struct fetcher *next;
    int32_t leader;                /* broker id */
    struct peer *peer;
    struct replica *parts;         /* partitions fetched from it */
    int32_t corr;                  /* request in flight, 0: none */
    int16_t api;                   /* its API key */
    int64_t deadline_ms;           /* answer by then, or reconnect */
    int64_t retry_ms;              /* no connection before */
    int32_t backoff_ms;
    int nsent;                     /* partitions in the request out */
};

struct replica_shard {
    struct shard *shard;
    struct replica *all;
    struct fetcher *fetchers;
    struct kafka_arena arena;      /* answers decoded, one at a time */
    uint8_t *arena_buf;
    uint8_t *frame;                /* requests encoded here, then copied */
    /* ISR changes to the controller: one AlterPartition out at a time */
    bool alter_out;
    int alter_n;                   /* partitions in it */
    struct peer *ctrl;             /* to the controller's shard 0 */
    int32_t ctrl_broker;
    int32_t ctrl_corr;
    int64_t ctrl_deadline_ms;
    int64_t next_checkpoint_ms;    /* wall clock: high watermarks saved then */
};

/* replica.c, for replica_fetch.c */
struct shard *replica_shard_of(const struct replica_shard *rs);
int32_t replica_next_correlation(struct shard *s);
int64_t replica_now_ms(const struct shard *s);
/* The follower's high watermark as its leader reports it. */
void replica_follower_hw(struct replica *r, int64_t leader_hw);

/* replica_fetch.c, for replica.c */
void fetch_buf_release(struct replica *r);
void fetch_follow(struct replica_shard *rs, struct replica *r);
void fetch_unfollow(struct replica_shard *rs, struct replica *r);
int fetch_do_work(struct replica_shard *rs);
void fetch_close_all(struct replica_shard *rs);
int64_t fetch_next_wake(const struct replica_shard *rs);

#endif
