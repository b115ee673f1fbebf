/* log_txn.c - the partition log's producers and transactions: the checks
 * of an idempotent or transactional append, markers, the last stable
 * offset, aborted transactions for read_committed fetches, expiry (see
 * log.h, producer_state.h, txn_index.h).
 *
 * Invariants:
 *   1. A batch with a producer id is appended only after the producer
 *      state accepted it, and the state records it (producer_state_apply)
 *      in the same call that assigns its offsets: the state always
 *      describes exactly the batches in the log (queued ones included).
 *   2. An abort marker and its .txnindex entry go in together: the entry
 *      is reserved before the marker is queued, so it cannot be lost for
 *      memory (read_committed consumers would otherwise see aborted data).
 *   3. The LSO never passes an open transaction, nor a completed one whose
 *      marker is not durable. */
#include "storage/log_private.h"
#include "storage/batch_build.h"
#include "storage/kerr.h"
#include "storage/txn_index.h"

#include <errno.h>
#include <stdlib.h>

#define MARKER_MAX 128

int log_producers_check(struct log *log, const uint8_t *records, int nbatches,
                        struct log_append_result *dup, bool *is_dup)
{
    struct batch_header h;
    struct producer_check pc;

    *is_dup = false;
    batch_header_decode(records, &h);
    if (h.producer_id < 0) {
        if (h.attributes & BATCH_ATTR_TRANSACTIONAL)
            return KERR_INVALID_RECORD; /* a transaction needs a producer */
        return 0;
    }
    /* Kafka's LogValidator: a producer's batch carries a sequence, and one
     * append call checks one batch of one producer. */
    if (h.base_sequence < 0 || nbatches != 1)
        return KERR_INVALID_RECORD;
    producer_state_check(&log->producers, &h, &pc);
    if (pc.verdict == PRODUCER_REJECT)
        return pc.error;
    if (pc.verdict == PRODUCER_DUPLICATE) {
        *is_dup = true;
        dup->base_offset = pc.dup_first_offset;
        dup->last_offset = pc.dup_last_offset;
        dup->log_append_time = -1;
        dup->duplicate = true;
        return 0;
    }
    if (producer_state_reserve(&log->producers, h.producer_id,
                               (h.attributes & BATCH_ATTR_TRANSACTIONAL) != 0) < 0)
        return -ENOMEM;
    return 0;
}

void log_producers_apply(struct log *log, const uint8_t *batch)
{
    struct batch_header h;
    batch_header_decode(batch, &h);
    if (h.attributes & BATCH_ATTR_CONTROL)
        return; /* markers are recorded by log_append_marker */
    /* Reserved by log_producers_check: cannot fail. */
    producer_state_apply(&log->producers, &h);
}

void log_producers_replicate(struct log *log, struct segment *seg, const uint8_t *batch)
{
    struct producer_state *ps = &log->producers;
    struct producer_completed_txn done;
    struct batch_header h;
    int16_t type;
    int32_t coordinator_epoch;
    int rc = 0;
    batch_header_decode(batch, &h);
    if (!(h.attributes & BATCH_ATTR_CONTROL))
        rc = producer_state_apply(ps, &h);
    else if (batch_parse_marker(batch, batch_size(&h), &type, &coordinator_epoch) == 0) {
        rc = producer_state_end_txn(ps, h.producer_id, h.producer_epoch, coordinator_epoch,
                                    h.base_offset, h.max_timestamp,
                                    type == BATCH_CONTROL_COMMIT, &done);
        if (rc == 1 && done.aborted) {
            struct aborted_txn a = { done.pid, done.first_offset, done.marker_offset,
                                     done.last_stable_offset };
            rc = txn_index_append(&seg->txnindex, &a);
        }
    }
    if (rc < 0 && !log->error)
        log->error = rc; /* the state no longer describes the log */
}

int log_append_marker(struct log *log, int64_t pid, int16_t epoch, int32_t coordinator_epoch,
                      bool commit, int64_t now_ms, struct log_append_result *res)
{
    struct producer_completed_txn done;
    struct producer_state *ps = &log->producers;
    if (log->error)
        return log->error;
    int kerr = producer_state_check_marker(ps, pid, epoch, coordinator_epoch);
    if (kerr)
        return kerr;
    uint8_t *b = malloc(MARKER_MAX);
    size_t len = b ? batch_build_marker(b, MARKER_MAX, pid, epoch, commit, coordinator_epoch,
                                        now_ms)
                   : 0;
    if (len == 0 || producer_state_reserve(ps, pid, false) < 0 ||
        txn_index_reserve(&log_active(log)->txnindex, 1) < 0) {
        free(b);
        return -ENOMEM;
    }
    int rc = log_append_owned(log, b, len, now_ms, res);
    if (rc < 0) {
        free(b);
        return rc;
    }
    /* log_append_owned may have rolled: the marker is in the active one. */
    struct segment *seg = log_active(log);
    if (producer_state_end_txn(ps, pid, epoch, coordinator_epoch, res->base_offset, now_ms,
                               commit, &done) == 1 && done.aborted) {
        struct aborted_txn a = { done.pid, done.first_offset, done.marker_offset,
                                 done.last_stable_offset };
        if (txn_index_reserve(&seg->txnindex, 1) < 0 ||
            txn_index_append(&seg->txnindex, &a) < 0) {
            /* Invariant 2: never acknowledge the marker without it. */
            log->error = -ENOMEM;
            return -ENOMEM;
        }
    }
    return 0;
}

int64_t log_last_stable_offset(struct log *log)
{
    /* Never below the log start (DeleteRecords may pass an open
     * transaction's first offset), as Kafka's firstUnstableOffset. */
    int64_t lso = producer_state_lso(&log->producers, log_durable_end(log));
    int64_t start = log_start_offset(log);
    return lso < start ? start : lso;
}

int log_aborted_txns(struct log *log, int64_t from, int64_t upper, struct aborted_txn *out,
                     int max)
{
    int n = 0;
    if (upper <= from)
        return 0;
    /* From the segment holding from on, until an entry's LSO says every
     * later segment's aborts start at or after upper. */
    int i = 0;
    while (i + 1 < log->nsegs && log->segs[i + 1]->base_offset <= from)
        i++;
    for (; i < log->nsegs && n < max; i++) {
        /* A transaction that began below upper may have its marker, and
         * so its entry, in any later segment. */
        if (txn_index_collect(&log->segs[i]->txnindex, from, upper, out, max, &n))
            break;
    }
    return n;
}

bool log_producer_in_txn(const struct log *log, int64_t pid, int16_t epoch)
{
    const struct producer_entry *e = producer_state_find(&log->producers, pid);
    return e && e->txn_first_offset >= 0 && e->epoch == epoch;
}

uint64_t log_txn_verify_begin(struct log *log, int64_t pid)
{
    struct producer_entry *e = producer_state_get(&log->producers, pid);
    if (!e)
        return 0;
    /* One guard for every request of the producer verified before its
     * first batch lands (several may be in flight to this partition): a
     * new one would void theirs. The marker that ends the transaction
     * clears it (Kafka's VerificationStateEntry, shared the same way). */
    if (e->verify_guard == 0)
        e->verify_guard = ++log->next_guard;
    return e->verify_guard;
}

bool log_txn_verify_holds(const struct log *log, int64_t pid, uint64_t guard)
{
    const struct producer_entry *e = producer_state_find(&log->producers, pid);
    return guard != 0 && e && e->verify_guard == guard;
}

int log_expire_producers(struct log *log, int64_t now_ms, int64_t expiration_ms)
{
    return producer_state_expire(&log->producers, now_ms, expiration_ms);
}

void log_each_producer(const struct log *log,
                       void (*fn)(void *ctx, const struct producer_entry *e), void *ctx)
{
    producer_state_each(&log->producers, fn, ctx);
}

int log_producer_count(const struct log *log)
{
    return (int)log->producers.count;
}
