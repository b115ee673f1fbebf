/* segment.h - one segment of a partition log: <base>.log, <base>.index
 * and <base>.timeindex, named by the 20-digit base offset as Kafka does.
 *
 * Beside them, <base>.txnindex (txn_index.h) once a transaction aborted in
 * the segment, and DIR/<base>.snapshot (producer_snapshot.h) from the roll
 * that started it.
 *
 * Life cycle:
 *   segment_create()  new, empty, active (the log appends to it)
 *   segment_precreate() new, empty, under a temporary name, ahead of need;
 *                     segment_begin() makes it active at a roll and
 *                     segment_rename() names it (off the owner's thread)
 *   segment_load()    existing files at open; recovery may then truncate
 *   seal              the log stops appending (roll); indexes written and
 *                     synced, the .log synced (flush.c)
 *   segment_destroy() closed; with unlink, its files removed (retention)
 */
#ifndef SLUICE_SEGMENT_H
#define SLUICE_SEGMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/batch.h"
#include "storage/index.h"
#include "storage/txn_index.h"

struct segment {
    int64_t base_offset;
    int fd;                    /* the .log file */
    uint64_t size;             /* bytes assigned, written or queued */
    uint64_t durable_size;     /* bytes below the high watermark */
    int64_t next_offset;       /* one past its last offset */
    int64_t max_timestamp;     /* -1 when empty */
    int64_t max_timestamp_offset;
    int64_t created_ms;        /* for segment.ms */
    uint64_t bytes_since_index;
    struct offset_index index;
    struct time_index timeindex;
    struct txn_index txnindex;    /* aborted transactions (txn_index.h) */
    uint8_t *snapshot;         /* the producer snapshot taken when the log
                                  rolled off it (at next_offset), written by
                                  its SEAL job; NULL: none */
    size_t snapshot_len;
    char base_path[PATH_MAX - 32]; /* DIR/<base>, no extension */
    char suffix[16];           /* "" or the cleaner's ".cleaned"/".swap" */
};

/* Creates an empty segment in dir. 0 or negative errno. */
int segment_create(struct segment **out, const char *dir, int64_t base_offset,
                   int64_t now_ms);

/* Pre-creates the next segment of the log in dir, ahead of need: its three
 * files under temporary names (.next.log, ...), created and, with
 * sync_names (else the caller syncs dir before using it), their names
 * synced, so that a roll needs no system call. Its base offset is set
 * when the log rolls onto it (segment_begin), and it is named after it
 * later (segment_rename). 0 or negative errno. */
int segment_precreate(struct segment **out, const char *dir, bool sync_names);

/* The log rolls onto a pre-created segment: it starts at base_offset. */
void segment_begin(struct segment *seg, int64_t base_offset, int64_t now_ms);

/* Gives a begun pre-created segment its Kafka name (<base>.log, ...) and
 * syncs dir. Its open files are unaffected. 0 or negative errno. */
int segment_rename(struct segment *seg, const char *dir);

/* At open, before the segments are listed: a pre-created segment a crash
 * left holding batches (rolled onto, not yet named) gets its name from
 * its first batch's base offset. 0 (also when there is none) or negative
 * errno. */
int segment_adopt_next(const char *dir);

/* Opens an existing segment; with load_indexes its index files are read,
 * otherwise they are emptied to be rebuilt by recovery. They stay open
 * for recovery, which releases them (segment_sync_indexes). Its size is the
 * file size; next_offset and max_timestamp are still unknown (recovery or
 * segment_scan_tail fills them). */
int segment_load(struct segment **out, const char *dir, int64_t base_offset,
                 int load_indexes);

/* Makes room for n more index entries, so that the next n calls of
 * segment_note_batch cannot fail. 0 or -ENOMEM. */
int segment_reserve(struct segment *seg, int n);

/* Accounts one batch appended at position pos: offsets, timestamps and,
 * every interval bytes, an index entry. Returns 0 or -ENOMEM. */
int segment_note_batch(struct segment *seg, const struct batch_header *h,
                       uint64_t pos, uint32_t interval);

/* Reads the header of the batch at pos (which must end by limit). Returns
 * 0, -ENODATA at limit, -EBADMSG for a header that cannot be a batch, or a
 * negative errno. */
int segment_read_header(const struct segment *seg, uint64_t pos,
                        uint64_t limit, struct batch_header *h);

/* Position of the first batch whose last offset is >= offset, scanning
 * from the index hint, never past limit. 0, -ENOENT, or negative errno. */
int segment_find_offset(const struct segment *seg, int64_t offset,
                        uint64_t limit, uint64_t *pos, struct batch_header *h);

/* Ends the time index of a segment that goes inactive with its largest
 * timestamp, as Kafka does, so that it is known without a scan. 0 or
 * -ENOMEM. */
int segment_end_timeindex(struct segment *seg);

/* Writes pending index entries to their files (opening them again by
 * name when they were released). */
int segment_flush_indexes(struct segment *seg);

/* fdatasyncs the .index and .timeindex when they are open, then closes
 * them (their entries stay in memory). 0 or negative errno. */
int segment_sync_indexes(struct segment *seg);
/* Closes them without a sync: only when nothing was written to them
 * since their last sync, or recovery rebuilds them (see segment.c). */
void segment_release_indexes(struct segment *seg);

/* Cuts the segment at pos (recovery): file, indexes (opened again; the
 * caller syncs them with segment_sync_indexes). */
int segment_truncate(struct segment *seg, uint64_t pos);

/* Creates an empty segment whose three files carry suffix after their
 * extension (<base>.log.cleaned, ...): the compacting cleaner's output,
 * invisible to recovery as a segment until renamed. 0 or negative errno. */
int segment_create_suffixed(struct segment **out, const char *dir, int64_t base_offset,
                            const char *suffix, int64_t now_ms);

/* Renames the files to carry suffix instead (rename(2) each; the
 * caller fsyncs the directory). An existing target is replaced; a
 * segment without a .txnindex removes one under the new name. 0 or
 * negative errno (some files may then be renamed already). */
int segment_rename_suffix(struct segment *seg, const char *suffix);

/* fsyncs the .log, both index files and the .txnindex when there is
 * one. 0 or negative errno. */
int segment_sync_all(const struct segment *seg);

/* Makes the .txnindex durable, if there is one: fdatasync, and an fsync
 * of dir when the file was created since (a new name; the segment's other
 * files were named at segment_create). 0 or negative errno. */
int segment_sync_txnindex(struct segment *seg, const char *dir);

/* Closes the files; with unlink_files also removes them. */
void segment_destroy(struct segment *seg, int unlink_files);

#endif
