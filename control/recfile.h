/* recfile.h - a control-thread log of self-checking records: the shape of
 * every small durable state the control thread keeps (the transaction log
 * DATA/__sluice/transactions/txn.log; the offsets log has the same
 * on-disk framing).
 *
 * Format (little-endian):
 *   header   magic[8] u32 version u32 crc32c(of the 12 bytes before)
 *   record   u32 crc32c(of the next 4 + len bytes) u32 len  payload[len]
 *
 * Life: recfile_open replays every whole record through the caller's
 * apply and cuts a torn tail; during a control-loop turn the caller adds
 * records (recfile_begin/recfile_end) and at its end recfile_flush writes
 * them with one write and one fdatasync; recfile_rewrite replaces the file
 * with only the live records (compaction).
 *
 * Invariants:
 *   1. Nothing the caller answers from a record is answered before
 *      recfile_flush returned 0 for it.
 *   2. At open the first record that does not check out, and everything
 *      after it, is cut (ftruncate + fsync) before anything is appended.
 *   3. A rewrite goes through <name>.tmp, fsync'ed, renamed over the log,
 *      directory fsync'ed: a crash leaves the old log or the new, whole.
 *   4. A failed write is undone with ftruncate; a failed fdatasync (or
 *      undo) makes the file read-only until restart (sticky).
 * Writes and fdatasyncs go through storage_sys. */
#ifndef SLUICE_RECFILE_H
#define SLUICE_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECFILE_HEADER 16
#define RECFILE_FRAME 8
#define RECFILE_RECORD_MAX (1u << 20)

struct recfile {
    char *dir, *path, *tmp_path;
    char magic[8];
    uint32_t version;
    int fd;
    int64_t file_bytes;
    bool failed;
    uint8_t *buf;              /* this turn's records, framed */
    size_t buf_len, buf_cap;
    size_t open_at;            /* the record being added (recfile_begin) */
};

/* Applies one record's payload at replay; a negative errno stops it. */
typedef int (*recfile_apply_fn)(void *ctx, const uint8_t *p, size_t len);

/* Opens (creating dir and the file) dir/name and replays it. Returns 0 or
 * a negative errno with err saying why (-EINVAL: not such a log). */
int recfile_open(struct recfile *f, const char *dir, const char *name, const char magic[8],
                 uint32_t version, recfile_apply_fn apply, void *ctx, char *err, size_t errlen);
void recfile_close(struct recfile *f);

/* Space for a record of len payload bytes at the end of the turn's
 * buffer; recfile_end frames it. NULL on -ENOMEM or a len over
 * RECFILE_RECORD_MAX. */
uint8_t *recfile_begin(struct recfile *f, size_t len);
void recfile_end(struct recfile *f);
/* Whether records wait for the flush. */
static inline bool recfile_pending(const struct recfile *f)
{
    return f->buf_len > 0;
}

/* Writes and fdatasyncs the turn's records; on 0 the caller may apply and
 * answer them, and the buffer is reset. A negative errno otherwise (the
 * records are dropped; after a failed sync the file is read-only). */
int recfile_flush(struct recfile *f);

/* Replaces the file with the records fill adds to out (a fresh buffer:
 * recfile_begin/recfile_end on out). 0 or a negative errno (the log stays
 * as it was, unless the rename was done: then it is read-only). */
int recfile_rewrite(struct recfile *f, int (*fill)(void *ctx, struct recfile *out), void *ctx);

/* The payload of the record at p (n bytes left); its framed size, or 0
 * when it does not check out. For replay and fuzzing. */
size_t recfile_next(const uint8_t *p, size_t n, const uint8_t **payload, size_t *len);

/* Little-endian helpers for payload codecs. */
uint8_t *recfile_put(uint8_t *p, uint64_t v, int n);
uint64_t recfile_get(const uint8_t *p, int n);

#endif
