/* producer_state.h - one partition's producer state: what makes appends
 * idempotent and transactional (Kafka's ProducerStateManager).
 *
 * Owned by the partition log (storage/log.c) on the shard that owns it:
 * single-threaded, no locks. Per producer id it keeps the producer epoch,
 * the sequences and offsets of its last PRODUCER_BATCHES_KEPT batches (so
 * a retried batch is answered with its original offsets instead of being
 * appended twice), its last timestamp (for producer.id.expiration.ms),
 * the coordinator epoch of its last transaction marker and the first
 * offset of its ongoing transaction, if any. Beside the producers it keeps
 * the open transactions in the order they began, which is what the last
 * stable offset (LSO) is computed from.
 *
 * Lookup is O(1): an open-addressing hash table keyed by producer id. An
 * append checks and updates one entry in place; the table only allocates
 * when a new producer id first appears and the table must grow (amortised,
 * never per batch).
 *
 * What a batch is checked against (Kafka's ProducerAppendInfo, in Kafka's
 * order, so clients see the errors Kafka gives):
 *   1. duplicate: same epoch and exactly the (first, last) sequence of one
 *      of the kept batches -> answered with that batch's offsets, nothing
 *      appended (Kafka >= 2.x answers duplicates with success);
 *   2. epoch older than the producer's -> INVALID_PRODUCER_EPOCH (47);
 *   3. a new epoch must start at sequence 0 unless the producer has no
 *      epoch yet -> else OUT_OF_ORDER_SEQUENCE_NUMBER (45);
 *   4. same epoch: the first sequence must follow the last one (wrapping
 *      at INT32_MAX) unless nothing is known of the producer (expired or
 *      never seen: any sequence is accepted, as Kafka does since KIP-360);
 *   5. a non-transactional batch while the producer has a transaction open
 *      on this partition -> INVALID_TXN_STATE (48).
 * A transaction marker (control batch) checks the epoch (2.) and the
 * coordinator epoch (TRANSACTION_COORDINATOR_FENCED, 52), then closes the
 * producer's open transaction on the partition.
 *
 * The last stable offset: the first offset of the oldest transaction that
 * is still open, or whose marker is not yet durable; the high watermark
 * when there is none. Completed transactions leave the queue once their
 * marker is below the durable end.
 *
 * Never: touches files (snapshots are storage/producer_snapshot.c), reads
 * a clock (callers pass times), knows about the wire. */
#ifndef SLUICE_PRODUCER_STATE_H
#define SLUICE_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/batch.h"

#define PRODUCER_BATCHES_KEPT 5
#define PRODUCER_NO_EPOCH (-1)
#define PRODUCER_NO_SEQUENCE (-1)

/* Kafka error codes of the checks above (storage/kerr.h has the rest). */
enum producer_error {
    PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE = 45,
    PRODUCER_ERR_INVALID_PRODUCER_EPOCH = 47,
    PRODUCER_ERR_INVALID_TXN_STATE = 48,
    PRODUCER_ERR_COORDINATOR_FENCED = 52,
};

struct producer_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
    int64_t timestamp;          /* the batch's max timestamp */
};

struct producer_entry {
    int64_t pid;                /* -1: a free slot */
    int16_t epoch;              /* PRODUCER_NO_EPOCH: none yet */
    uint8_t nbatches;           /* kept batches, oldest at head */
    uint8_t head;
    int32_t coordinator_epoch;  /* of its last marker; -1 none */
    int64_t last_timestamp;     /* -1: none */
    int64_t txn_first_offset;   /* first offset of its open transaction; -1 */
    uint64_t verify_guard;      /* a transaction verification in flight
                                   (handle_txn.c); 0 none, cleared by a
                                   marker */
    struct producer_batch batches[PRODUCER_BATCHES_KEPT];
};

/* A transaction in the LSO queue. */
struct producer_txn {
    int64_t pid;
    int64_t first_offset;
    int64_t marker_offset;      /* -1 while open */
};

/* A transaction closed by a marker: what the caller records (an aborted
 * one goes to the segment's .txnindex). */
struct producer_completed_txn {
    int64_t pid;
    int64_t first_offset;
    int64_t marker_offset;
    int64_t last_stable_offset; /* the LSO right after it completed */
    bool aborted;
};

struct producer_state {
    struct producer_entry *tab; /* cap slots, open addressing */
    uint32_t cap;               /* power of two, or 0 */
    uint32_t count;
    struct producer_txn *txns;  /* ring of open/undurable transactions */
    uint32_t txn_cap;           /* power of two, or 0 */
    uint32_t txn_head;
    uint32_t txn_count;
};

/* What producer_state_check found. */
enum producer_verdict {
    PRODUCER_APPEND = 0,        /* append it, then producer_state_apply */
    PRODUCER_DUPLICATE,         /* answer with dup_first/dup_last */
    PRODUCER_REJECT,            /* answer with error */
};

struct producer_check {
    enum producer_verdict verdict;
    int16_t error;              /* Kafka code when rejected */
    int64_t dup_first_offset;
    int64_t dup_last_offset;
    int64_t dup_timestamp;
};

void producer_state_init(struct producer_state *ps);
void producer_state_free(struct producer_state *ps);
/* Forgets everything (recovery reloads). */
void producer_state_clear(struct producer_state *ps);

/* The entry of pid, or NULL. */
struct producer_entry *producer_state_find(const struct producer_state *ps, int64_t pid);
/* The entry of pid, created empty (no epoch, nothing kept) if absent;
 * NULL on -ENOMEM. */
struct producer_entry *producer_state_get(struct producer_state *ps, int64_t pid);
/* Removes pid (expiry). */
void producer_state_remove(struct producer_state *ps, int64_t pid);

/* The last sequence of a batch of count records starting at first_seq,
 * wrapping as Kafka's DefaultRecordBatch.incrementSequence does. */
int32_t producer_last_seq(int32_t first_seq, int32_t last_offset_delta);

/* Checks a client's data batch (h->producer_id >= 0) against the state,
 * changing nothing. */
void producer_state_check(const struct producer_state *ps, const struct batch_header *h,
                          struct producer_check *out);

/* Records a data batch appended at [h->base_offset, last]: sequences,
 * epoch, timestamp, and the transaction it opens. The caller checked it
 * (or is replaying the log, where nothing is checked). 0 or -ENOMEM. */
int producer_state_apply(struct producer_state *ps, const struct batch_header *h);

/* Makes sure recording a batch (or a marker) of pid cannot fail for
 * memory: its entry exists and, with txn, the transaction queue has room.
 * 0 or -ENOMEM. */
int producer_state_reserve(struct producer_state *ps, int64_t pid, bool txn);

/* Checks a marker the coordinator asks for: an epoch older than the
 * producer's -> INVALID_PRODUCER_EPOCH, an older coordinator epoch ->
 * TRANSACTION_COORDINATOR_FENCED. 0 or the Kafka code. */
int producer_state_check_marker(const struct producer_state *ps, int64_t pid, int16_t epoch,
                                int32_t coordinator_epoch);

/* Records a marker of pid written at offset (checked, or replayed): the
 * producer moves to epoch and its open transaction on the partition, if
 * any, is closed: then *done is filled (done->last_stable_offset is the
 * LSO right after) and 1 returned; 0 when there was none; -ENOMEM. */
int producer_state_end_txn(struct producer_state *ps, int64_t pid, int16_t epoch,
                           int32_t coordinator_epoch, int64_t offset, int64_t timestamp,
                           bool commit, struct producer_completed_txn *done);

/* The last stable offset given the durable end (the high watermark):
 * drops completed transactions whose marker is durable. */
int64_t producer_state_lso(struct producer_state *ps, int64_t durable_end);

/* The same without dropping anything (for a const log). */
int64_t producer_state_stable_end(const struct producer_state *ps, int64_t durable_end);

/* The first offset of the oldest transaction still open, or -1. */
int64_t producer_state_first_open_txn(const struct producer_state *ps);

/* Removes producers without an open transaction whose last timestamp is
 * expiration_ms or more before now_ms (producer.id.expiration.ms).
 * Returns how many. */
int producer_state_expire(struct producer_state *ps, int64_t now_ms, int64_t expiration_ms);

/* Calls fn for every producer (snapshots, DescribeProducers). */
void producer_state_each(const struct producer_state *ps,
                         void (*fn)(void *ctx, const struct producer_entry *e), void *ctx);

/* The newest kept batch of e, or NULL. */
const struct producer_batch *producer_entry_last(const struct producer_entry *e);

/* Loads an entry read from a snapshot (replacing any of that pid); its
 * open transaction, if any, joins the LSO queue. 0 or -ENOMEM. */
int producer_state_load(struct producer_state *ps, const struct producer_entry *e);

#endif
