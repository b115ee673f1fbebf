/* txn_private.h - the inside of the transaction coordinator, shared by
 * txn.c (state machine, requests, markers, timers) and txn_file.c (the
 * log's records). Nothing else includes it but the unit test. */
#ifndef SLUICE_TXN_PRIVATE_H
#define SLUICE_TXN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/recfile.h"
#include "control/txn.h"

enum txn_state {
    TXN_EMPTY,
    TXN_ONGOING,
    TXN_PREPARE_COMMIT,
    TXN_PREPARE_ABORT,
    TXN_COMPLETE_COMMIT,
    TXN_COMPLETE_ABORT,
    TXN_NSTATES,
};

enum txn_part_state {
    TXN_PART_ADDED,            /* in the transaction */
    TXN_PART_SENDING,          /* its marker is with the shard */
    TXN_PART_RETRY,            /* the shard could not write it yet */
    TXN_PART_DONE,             /* its marker is durable (or not needed) */
};

struct txn_part {
    char *topic;
    int32_t partition;
    uint8_t state;             /* enum txn_part_state, in memory only */
};

struct txn {
    struct txn *hnext;
    char *id;
    int64_t pid;
    int64_t prev_pid;          /* before a rotation (epoch exhausted) */
    int64_t next_pid;          /* v2: the id to move to once complete */
    int16_t epoch;             /* -1: never initialised */
    int16_t last_epoch;        /* the epoch before the last bump (KIP-360) */
    int32_t timeout_ms;
    uint8_t state;             /* enum txn_state */
    bool tv2;                  /* transactions v2 (KIP-890) */
    int64_t start_ms;          /* the ongoing transaction's; -1 */
    int64_t update_ms;
    struct txn_part *parts;
    int nparts, partcap;
    char **groups;             /* whose offsets are in the transaction */
    int ngroups, groupcap;
    /* in memory only */
    bool busy;                 /* a transition in flight: others wait */
    bool groups_done;
    int inflight;              /* markers with shards */
    int64_t retry_ms;          /* when to post markers that failed */
    struct ctl_msg *end_msg;   /* answered once every marker is durable */
};

/* A held message and what to do once the turn's records are durable. */
enum txn_after_kind {
    TXN_AFTER_ANSWER,          /* answer m */
    TXN_AFTER_MARKERS,         /* start t's markers; m (EndTxn or NULL)
                                  answered when they are all durable */
    TXN_AFTER_FENCED,          /* answer m (CONCURRENT_TRANSACTIONS), start
                                  t's markers */
    TXN_AFTER_PID,             /* hand m a producer id, then answer */
};

struct txn_after {
    enum txn_after_kind kind;
    struct ctl_msg *m;
    struct txn *t;
};

struct txn_coord {
    struct txn_options opt;
    struct txn_env env;
    const struct md_store *md;
    struct offsets *offsets;
    struct recfile file;
    bool failed;
    /* producer ids */
    int64_t next_pid;          /* the next to hand out */
    int64_t pid_end;           /* durable: ids below it exist */
    int64_t pid_end_pending;   /* buffered, not yet durable */
    /* transactional ids */
    struct txn **tab;
    size_t cap, count;
    int64_t live_bytes;        /* of the records the live state needs */
    /* this turn */
    struct txn_after *after;
    int nafter, aftercap;
    int64_t next_abort_ms, next_expire_ms;
    bool retry_pending;
};

/* txn_file.c */
#define TXN_REC_PIDS 1
#define TXN_REC_STATE 2
#define TXN_REC_FORGET 3

/* Buffers a record of t's whole state / of the pid block end / of t
 * being forgotten. 0 or -ENOMEM. */
int txn_file_put_state(struct txn_coord *c, const struct txn *t);
int txn_file_put_pids(struct txn_coord *c, int64_t end);
int txn_file_put_forget(struct txn_coord *c, const char *id);
/* Replays one record (recfile_apply_fn). */
int txn_file_apply(void *ctx, const uint8_t *p, size_t len);
/* Rewrites the log with the live state only. */
int txn_file_compact(struct txn_coord *c);
size_t txn_state_record_size(const struct txn *t);

/* txn.c, for txn_file.c */
struct txn *txn_find(const struct txn_coord *c, const char *id);
struct txn *txn_get(struct txn_coord *c, const char *id, size_t len);
void txn_forget(struct txn_coord *c, struct txn *t);
int txn_add_part(struct txn *t, const char *topic, size_t tlen, int32_t partition);
int txn_add_group(struct txn *t, const char *group, size_t glen);
void txn_clear_members(struct txn *t);

#endif
