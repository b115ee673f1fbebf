/* offsets.h - committed offsets on the control thread: OffsetCommit,
 * OffsetFetch, OffsetDelete, offsets.retention.minutes, and their log
 * DATA/__sluice/offsets/offsets.log (format and invariants in
 * offsets_file.c).
 *
 * Owns: the map (group, topic, partition) -> (offset, leader epoch,
 * metadata, commit time, expire time), the log file and the messages held
 * until the log is synced.
 * Never: touches wire bytes, sockets or a clock of its own (callers pass
 * now_ms); answers a commit before its record is fdatasync'ed.
 *
 * Life of a commit (group commit, like a shard's produce):
 *   offsets_request(CTL_OFFSET_COMMIT)  checked, records appended to the
 *                                       turn's buffer, the message held
 *   offsets_flush()                     once per control-loop turn: one
 *                                       write, one fdatasync, then the
 *                                       records are applied to the map
 *                                       and every held message answered
 * A fetch sees only what is durable (Kafka's pending commits are not
 * visible either). */
#ifndef SLUICE_OFFSETS_H
#define SLUICE_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

struct offsets;

/* For control/groups.c (struct groups_store). */

/* Removes every committed offset of group_id and makes that durable
 * before returning. 0 if the group had offsets, GROUP_ID_NOT_FOUND (69)
 * if it had none, COORDINATOR_NOT_AVAILABLE (15) if the log failed. */
int offsets_delete_group(struct offsets *o, const char *group_id);
/* Calls fn for every group that has committed offsets; returns how many. */
int offsets_list_groups(struct offsets *o, void (*fn)(void *ctx, const char *group_id),
                        void *ctx);

/* ---- the rest: for control.c and the unit test ---- */

#include "control/ctl.h"

struct groups;
struct md_store;

#define OFFSETS_METADATA_MAX 4096          /* offset.metadata.max.bytes */

/* How an answer goes back (control_post in control.c). */
typedef void (*offsets_answer_fn)(void *ctx, struct ctl_msg *m);

struct offsets_options {
    int64_t retention_ms;      /* offsets.retention.minutes, in ms */
    /* Compaction rewrites the log once it is larger than both
     * compact_ratio times the live records and compact_min_bytes. */
    int compact_ratio;         /* 0: 4 */
    int64_t compact_min_bytes; /* 0: 1 MiB */
    int64_t check_interval_ms; /* offsets_expire runs at most this often */
};

/* Opens (creating) dir (DATA/__sluice/offsets) and replays its log,
 * cutting a torn tail. now_ms starts the retention clock of groups
 * without members. Returns 0 or a negative errno with err saying why. */
int offsets_create(struct offsets **out, const char *dir, const struct offsets_options *opt,
                   offsets_answer_fn answer, void *ctx, int64_t now_ms, char *err,
                   size_t errlen);
/* Messages still held are dropped, not answered. */
void offsets_destroy(struct offsets *o);

/* Where membership and topics are checked; either may be NULL (tests):
 * then every generation is accepted, every group is taken as empty, and
 * every topic and partition exists. */
void offsets_set_groups(struct offsets *o, struct groups *g);
void offsets_set_metadata(struct offsets *o, const struct md_store *md);

/* Handles CTL_OFFSET_COMMIT (held until offsets_flush), CTL_OFFSET_FETCH
 * (answered now), CTL_OFFSET_DELETE (held) or CTL_TXN_OFFSET_COMMIT
 * (checked with the transaction coordinator, held): a transactional
 * commit is durable at once but visible (OffsetFetch) only once its
 * transaction commits (offsets_txn_end); until then OffsetFetch with
 * require_stable answers UNSTABLE_OFFSET_COMMIT for that partition. */
void offsets_request(struct offsets *o, struct ctl_msg *m, int64_t now_ms);

/* Writes the turn's records, fdatasyncs, applies them and answers the held
 * messages; compacts the log when it grew. Call at the end of every turn.
 * 0, or a negative errno (the held messages were answered with errors and
 * the log is now read-only: sticky, as after any failed fsync). */
int offsets_flush(struct offsets *o);

/* The marker of producer pid's transaction for the offsets: its pending
 * commits become committed offsets (commit) or are dropped, by a record
 * written at the next offsets_flush (the coordinator calls it right after,
 * and completes the transaction only once it returned 0). 0 or -ENOMEM. */
int offsets_txn_end(struct offsets *o, int64_t pid, bool commit);
struct txn_coord;
void offsets_set_txn(struct offsets *o, struct txn_coord *t);
/* Pending transactional commits (tests). */
int offsets_pending_count(const struct offsets *o);

/* Expires offsets (offsets.retention.minutes; records written at the next
 * flush). Returns how many entries expired. */
int offsets_expire(struct offsets *o, int64_t now_ms);

/* Rewrites the log with only the live entries now. 0 or a negative errno. */
int offsets_compact(struct offsets *o);

/* For tests and the CLI. */
struct offsets_entry {
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;      /* NULL: null */
    int64_t commit_ms, expire_ms; /* expire_ms -1: the group's retention */
};
/* 0 with *e filled (valid until the next call that changes o), or -ENOENT. */
int offsets_get(struct offsets *o, const char *group_id, const char *topic,
                int32_t partition, struct offsets_entry *e);
size_t offsets_count(const struct offsets *o);
/* Calls fn for every committed offset (metrics: consumer lag); stops at
 * fn's first non-zero return and returns it, else 0. */
int offsets_each(struct offsets *o,
                 int (*fn)(void *ctx, const char *group, const char *topic,
                           int32_t partition, int64_t offset),
                 void *ctx);
int offsets_held(const struct offsets *o);
/* Bytes of the log file, and of its live records. */
int64_t offsets_file_bytes(const struct offsets *o);
int64_t offsets_live_bytes(const struct offsets *o);

#endif
