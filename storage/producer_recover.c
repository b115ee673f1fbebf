/* producer_recover.c - bringing a log's producer state back at open, and
 * writing the snapshots that keep that bounded.
 *
 * At open (after recover.c found the log's end):
 *   1. snapshots above the log end are deleted (the log was cut below
 *      them: they describe offsets that are gone);
 *   2. the newest snapshot at or below the replay limit is loaded - the
 *      log end after a clean stop, else the base of the first segment
 *      recovery re-read (whose .txnindex must be rebuilt), and after a
 *      crash the one before it, so the five batches a producer may retry
 *      are all known even when they straddle a roll; a corrupt one is
 *      deleted and the next older one tried;
 *   3. the batches from that snapshot to the log end are replayed into
 *      the state, headers only except for markers; the abort markers of
 *      re-read segments rebuild their .txnindex.
 * Snapshots are written at every roll and at close, so the replay reads
 * at most the two segments since the last two rolls: bounded, never the
 * whole log.
 * Without a snapshot at or below the limit (a log that never rolled, or
 * one whose newest snapshots a crash or a truncation took) the replay
 * starts at the log start. */
#include "storage/log_private.h"
#include "storage/producer_snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_CHUNK (1u << 20)
#define REPLAY_MARKER_MAX 4096u

struct replay {
    struct log *log;
    uint8_t *buf;
    int64_t batches;
};

/* One batch of the replay (its first got bytes are in p). */
static int replay_batch(struct replay *r, struct segment *seg, const uint8_t *p, size_t got,
                        const struct batch_header *h)
{
    struct producer_state *ps = &r->log->producers;
    struct producer_completed_txn done;
    int16_t type;
    int32_t coordinator_epoch;

    if (h->producer_id < 0)
        return 0;
    r->batches++;
    if (!(h->attributes & BATCH_ATTR_CONTROL))
        return producer_state_apply(ps, h);
    if (got < batch_size(h) || batch_parse_marker(p, batch_size(h), &type, &coordinator_epoch) < 0)
        return 0; /* an empty control batch (compaction) closes nothing */
    int rc = producer_state_end_txn(ps, h->producer_id, h->producer_epoch, coordinator_epoch,
                                    h->base_offset, h->max_timestamp,
                                    type == BATCH_CONTROL_COMMIT, &done);
    if (rc == 1 && done.aborted && seg->base_offset >= r->log->recover_from) {
        struct aborted_txn a = { done.pid, done.first_offset, done.marker_offset,
                                 done.last_stable_offset };
        rc = txn_index_append(&seg->txnindex, &a);
        if (rc == -EINVAL)
            rc = 0; /* already there: the index survived */
    }
    return rc < 0 ? rc : 0;
}

/* Replays seg from position pos to its end. */
static int replay_segment(struct replay *r, struct segment *seg, uint64_t pos)
{
    while (pos < seg->size) {
        size_t want = seg->size - pos < REPLAY_CHUNK ? seg->size - pos : REPLAY_CHUNK;
        ssize_t got = pread(seg->fd, r->buf, want, (off_t)pos);
        if (got < 0)
            return -errno;
        size_t off = 0;
        while (off + BATCH_HEADER_SIZE <= (size_t)got) {
            struct batch_header h;
            batch_header_decode(r->buf + off, &h);
            size_t left = (size_t)got - off;
            if (h.length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
                return 0; /* recovery checked every batch up to size */
            /* A marker must be whole in the chunk: re-read from it. */
            if ((h.attributes & BATCH_ATTR_CONTROL) && batch_size(&h) > left &&
                batch_size(&h) <= REPLAY_MARKER_MAX && off > 0)
                break;
            int rc = replay_batch(r, seg, r->buf + off, left, &h);
            if (rc < 0)
                return rc;
            off += batch_size(&h);
            if (off > (size_t)got)
                break; /* only its header was needed: go on after it */
        }
        if (off == 0)
            return 0;
        pos += off;
    }
    return 0;
}

static int replay(struct log *log, int64_t from)
{
    struct replay r = { .log = log, .buf = malloc(REPLAY_CHUNK) };
    int rc = 0;
    if (!r.buf)
        return -ENOMEM;
    for (int i = 0; i < log->nsegs && rc == 0; i++) {
        struct segment *seg = log->segs[i];
        int64_t next = i + 1 < log->nsegs ? log->segs[i + 1]->base_offset : log->next_offset;
        uint64_t pos = 0;
        struct batch_header h;
        if (next <= from || seg->size == 0)
            continue;
        if (from > seg->base_offset) {
            rc = segment_find_offset(seg, from, seg->size, &pos, &h);
            if (rc == -ENOENT) {
                rc = 0;
                continue;
            }
            if (rc < 0)
                break;
        }
        rc = replay_segment(&r, seg, pos);
    }
    free(r.buf);
    if (rc == 0 && r.batches > 0)
        fprintf(stderr, "storage: %s: producer state: %" PRId64 " batches replayed from offset %"
                PRId64 ", %u producers\n", log->dir, r.batches, from, log->producers.count);
    return rc;
}

/* Loads the newest snapshot at or below limit (one further back with
 * skip_one) and replays the log from it; without one, from its start. */
static int producers_load(struct log *log, int64_t limit, bool skip_one)
{
    int64_t *snaps = NULL, end = log->next_offset;
    int n = 0, rc = producer_snapshot_list(log->dir, &snaps, &n);
    if (rc < 0)
        return rc;
    int64_t from = -1;
    for (int i = n - 1; i >= 0; i--) {
        if (snaps[i] > end) {
            producer_snapshot_remove(log->dir, snaps[i]);
            continue;
        }
        if (snaps[i] > limit || snaps[i] < log_start_offset(log))
            continue;
        if (skip_one && i > 0 && snaps[i - 1] >= log_start_offset(log)) {
            skip_one = false;
            continue;
        }
        rc = producer_snapshot_load(log->dir, snaps[i], &log->producers, NULL, NULL);
        if (rc == 0) {
            from = snaps[i];
            break;
        }
        if (rc != -EBADMSG)
            break;
        fprintf(stderr, "storage: %s: producer snapshot %020" PRId64 " is corrupt; "
                "deleted, trying an older one\n", log->dir, snaps[i]);
        producer_snapshot_remove(log->dir, snaps[i]);
        rc = 0;
    }
    free(snaps);
    if (rc < 0)
        return rc;
    if (from < 0)
        from = log_start_offset(log);
    if (from < end && (rc = replay(log, from)) < 0)
        return rc;
    /* The rebuilt .txnindex files are written and made durable now: the
     * recovery point will pass these segments (the next seal, or close,
     * which flushes only the active one) and then they are trusted. */
    for (int i = 0; i < log->nsegs; i++) {
        struct segment *seg = log->segs[i];
        if (seg->base_offset < log->recover_from)
            continue;
        if ((rc = segment_flush_indexes(seg)) < 0 || (rc = segment_sync_indexes(seg)) < 0 ||
            (rc = segment_sync_txnindex(seg, log->dir)) < 0)
            return rc;
    }
    return 0;
}

int log_producers_load(struct log *log, bool clean, int64_t now_ms)
{
    int64_t end = log->next_offset;
    int64_t limit = clean ? end : (log->recover_from < end ? log->recover_from : end);
    (void)now_ms;
    /* After a crash, start one snapshot further back than needed: a
     * snapshot keeps one batch per producer, the replay all five, and the
     * batches a producer may retry can straddle the last roll. Without
     * a snapshot at or below the limit the whole log is replayed, as
     * Kafka does: the snapshots are what bound the replay, and a crash can
     * take the newest ones (their names), a truncation the ones past its
     * end - starting at the limit instead forgot every transaction opened
     * before it (a wrong LSO; test_powercut_eos found it). */
    return producers_load(log, limit, !clean);
}

int log_producers_snapshot(struct log *log, bool sync)
{
    return producer_snapshot_write(log->dir, log->next_offset, &log->producers, sync);
}

int log_producers_snapshot_take(struct log *log, struct segment *seg)
{
    size_t len = producer_snapshot_size(&log->producers);
    uint8_t *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    producer_snapshot_encode(&log->producers, buf);
    free(seg->snapshot); /* an earlier try of this roll's */
    seg->snapshot = buf;
    seg->snapshot_len = len;
    return 0;
}

int log_producers_snapshot_store(struct log *log, struct segment *seg)
{
    if (!seg->snapshot)
        return 0;
    int rc = producer_snapshot_write_encoded(log->dir, seg->next_offset, seg->snapshot,
                                             seg->snapshot_len, true);
    if (rc == 0) {
        free(seg->snapshot);
        seg->snapshot = NULL;
    }
    return rc;
}

void log_producers_remove_snapshot(struct log *log, int64_t base_offset)
{
    producer_snapshot_remove(log->dir, base_offset);
}

int log_producers_truncated(struct log *log, bool emptied)
{
    int64_t *snaps = NULL;
    int n = 0, rc = producer_snapshot_list(log->dir, &snaps, &n);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n && rc == 0; i++)
        if (emptied || snaps[i] > log->next_offset)
            rc = producer_snapshot_remove(log->dir, snaps[i]);
    free(snaps);
    producer_state_clear(&log->producers);
    if (rc < 0 || emptied)
        return rc;
    /* The .txnindex files are right (the cut one was cut): none is
     * rebuilt by the replay. */
    int64_t from = log->recover_from;
    log->recover_from = INT64_MAX;
    rc = producers_load(log, log->next_offset, false);
    log->recover_from = from;
    /* And a snapshot at the new end (as Kafka's truncateAndReload takes
     * one), synced: a restart before the next roll starts from it, not
     * from its rule for a log without one (its last segment). */
    return rc < 0 ? rc : log_producers_snapshot(log, true);
}
