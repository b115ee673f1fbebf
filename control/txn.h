/* txn.h - the transaction coordinator and the producer id allocator, on
 * the control thread (Kafka's TransactionCoordinator, TransactionState
 * Manager and ProducerIdManager), with their log
 * DATA/__sluice/transactions/txn.log (format in txn_file.c).
 *
 * Owns: producer id blocks (persisted before any id of them is handed
 * out: an id is never reused after a crash), every transactional id's
 * state (producer id and epoch, timeout, state, partitions and groups of
 * the ongoing transaction), the markers in flight, the held messages.
 * Never: touches wire bytes or sockets, writes a marker itself (the
 * owning shard does, CTL_TXN_MARKER), reads a clock (callers pass the
 * wall-clock now_ms: start times and timeouts outlive the process).
 *
 * States (Kafka's names, shown by DescribeTransactions):
 *   Empty --AddPartitions/AddOffsets--> Ongoing --EndTxn--> PrepareCommit
 *   or PrepareAbort --every marker durable--> CompleteCommit/CompleteAbort
 *   --AddPartitions--> Ongoing ...
 *   InitProducerId on an Ongoing transaction (a new instance of the same
 *   transactional.id: zombie fencing) and transaction.timeout.ms bump the
 *   epoch and abort it (PrepareAbort) first; the client retries.
 *
 * Life of a commit (EndTxn):
 *   1. PrepareCommit is written to the log and fdatasync'ed (txn_flush,
 *      once per control-loop turn for every request of the turn);
 *   2. a CTL_TXN_MARKER goes to the owning shard of every partition of
 *      the transaction, and the groups' pending offsets get their marker
 *      in the offsets log (offsets_txn_end); each shard answers once its
 *      marker is durable;
 *   3. CompleteCommit is written and EndTxn answered. A crash between 1
 *      and 3 leaves PrepareCommit in the log: at start the markers are
 *      written again (a marker with nothing open changes nothing).
 * Transactions v2 (KIP-890, EndTxn v5): the epoch is bumped at every
 * end, the markers carry the new epoch (a late write of the old one is
 * fenced), partitions join through the produce itself (Produce v12:
 * CTL_ADD_PARTITIONS_TO_TXN with add_implicitly) and groups through
 * TxnOffsetCommit v5. */
#ifndef SLUICE_TXN_H
#define SLUICE_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "control/ctl.h"

struct txn_coord;
struct md_store;
struct offsets;

#define TXN_PID_BLOCK 1000          /* Kafka's ProducerIdManager block */

struct txn_options {
    int32_t node_id;                /* node.id: its range of producer ids
                                       (ctl_pid_base), its partitions */
    int32_t max_timeout_ms;         /* transaction.max.timeout.ms */
    int64_t abort_interval_ms;      /* transaction.abort.timed.out.
                                       transaction.cleanup.interval.ms */
    int64_t id_expiration_ms;       /* transactional.id.expiration.ms */
    int64_t expire_interval_ms;     /* transaction.remove.expired.
                                       transaction.cleanup.interval.ms */
};

/* What the coordinator needs from the control thread (control.c). */
struct txn_env {
    void *ctx;
    /* answers a held message */
    void (*answer)(void *ctx, struct ctl_msg *m);
    /* a marker for shard (m->u.marker filled): posted as a command; comes
     * back through txn_marker_done */
    int (*post_marker)(void *ctx, int shard, const struct ctl_txn_marker *mk);
    /* tells every shard the producer ids below limit exist */
    void (*announce_pids)(void *ctx, int64_t limit);
};

int txn_create(struct txn_coord **out, const char *dir, const struct txn_options *opt,
               const struct txn_env *env, int64_t now_ms, char *err, size_t errlen);
void txn_destroy(struct txn_coord *t);
/* Placement (which shard owns a partition) and the offsets store (group
 * markers, TxnOffsetCommit checks); either may be NULL in tests. */
void txn_set_metadata(struct txn_coord *t, const struct md_store *md);
void txn_set_offsets(struct txn_coord *t, struct offsets *o);

/* Handles a CTL_INIT_PRODUCER_ID, CTL_ADD_PARTITIONS_TO_TXN,
 * CTL_ADD_OFFSETS_TO_TXN, CTL_END_TXN, CTL_LIST_TXNS or
 * CTL_DESCRIBE_TXNS: answered now, or held until txn_flush (or the
 * markers). */
void txn_request(struct txn_coord *t, struct ctl_msg *m, int64_t now_ms);

/* For the offsets store: may (txn_id, pid, epoch) commit offsets of
 * group in its transaction (added by AddOffsetsToTxn, or now when
 * implicitly)? 0 or a Kafka code. */
int txn_check_offsets(struct txn_coord *t, const char *txn_id, int64_t pid, int16_t epoch,
                      const char *group_id, bool implicitly);

/* A marker command came back from its shard. */
void txn_marker_done(struct txn_coord *t, const struct ctl_txn_marker *mk, int64_t now_ms);

/* End of a control-loop turn: writes and fdatasyncs the turn's records,
 * then answers what waited for them and starts markers. 0 or a negative
 * errno (sticky: the coordinator then answers COORDINATOR_NOT_AVAILABLE). */
int txn_flush(struct txn_coord *t, int64_t now_ms);

/* Timers: aborts transactions past their timeout, expires idle ids,
 * retries markers. */
void txn_tick(struct txn_coord *t, int64_t now_ms);
/* The wall-clock time of the next timer (INT64_MAX: none). */
int64_t txn_next_deadline(const struct txn_coord *t);

/* Starts the markers of transactions a crash left in PrepareCommit or
 * PrepareAbort (call once the shards serve their partitions). */
void txn_resume(struct txn_coord *t, int64_t now_ms);

/* For tests and the CLI. */
int64_t txn_next_pid(const struct txn_coord *t);
int txn_count(const struct txn_coord *t);
int txn_held(const struct txn_coord *t);
int txn_compact(struct txn_coord *t);

#endif
