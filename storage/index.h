/* index.h - a segment's sparse indexes: .index (offset -> file position)
 * and .timeindex (timestamp -> offset), in Kafka's on-disk format.
 *
 * .index entries are 8 bytes: relative offset (int32 BE), position (int32
 * BE). .timeindex entries are 12 bytes: timestamp (int64 BE), relative
 * offset (int32 BE). Both are kept in memory as well (a 1 GiB segment with
 * a 4 KiB interval needs 2 MiB) and appended to their files in bulk, at
 * each flush, never one syscall per entry. Index files are not synced on
 * the append path: recovery rebuilds them from the log, which is the truth.
 */
#ifndef SLUICE_INDEX_H
#define SLUICE_INDEX_H

#include <stdint.h>

#define INDEX_ENTRY_SIZE 8
#define TIMEINDEX_ENTRY_SIZE 12

struct index_entry {
    uint32_t rel_offset;
    uint32_t position;
};

struct time_entry {
    int64_t timestamp;
    uint32_t rel_offset;
};

struct offset_index {
    int fd;             /* -1 while released (offset_index_release) */
    struct index_entry *entries;
    uint32_t count;     /* entries in memory */
    uint32_t cap;
    uint32_t written;   /* entries already in the file */
};

struct time_index {
    int fd;
    struct time_entry *entries;
    uint32_t count;
    uint32_t cap;
    uint32_t written;
};

/* Open (creating) the file at path; with load, read its entries, keeping
 * only the longest prefix that is strictly increasing (a torn or garbled
 * tail is dropped from memory and from the file). 0 or negative errno. */
int offset_index_open(struct offset_index *ix, const char *path, int load);
/* Grows the entry array so n more appends cannot fail. */
int offset_index_reserve(struct offset_index *ix, uint32_t n);
int time_index_reserve(struct time_index *ti, uint32_t n);
int offset_index_append(struct offset_index *ix, uint32_t rel_offset,
                        uint32_t position);
/* Largest entry with rel_offset <= rel; position 0 when none. */
uint32_t offset_index_lookup(const struct offset_index *ix, uint32_t rel);
/* Drop entries at or past position (recovery truncation). */
int offset_index_truncate_position(struct offset_index *ix, uint32_t position);
int offset_index_flush(struct offset_index *ix);
/* The file's descriptor alone: released (closed; the entries stay in
 * memory, fd -1) and opened again by path before the next flush or
 * truncation needs it. reopen is a no-op when it is open; 0 or negative
 * errno. Nothing written since the last fdatasync may be released unless
 * recovery would rebuild the file anyway. */
int offset_index_reopen(struct offset_index *ix, const char *path);
void offset_index_release(struct offset_index *ix);
void offset_index_close(struct offset_index *ix);

int time_index_open(struct time_index *ti, const char *path, int load);
int time_index_append(struct time_index *ti, int64_t timestamp,
                      uint32_t rel_offset);
/* Largest entry with timestamp < ts: the relative offset to start a scan
 * at (0 when none). */
uint32_t time_index_lookup(const struct time_index *ti, int64_t ts);
int time_index_truncate_offset(struct time_index *ti, uint32_t rel_offset);
int time_index_flush(struct time_index *ti);
int time_index_reopen(struct time_index *ti, const char *path);
void time_index_release(struct time_index *ti);
void time_index_close(struct time_index *ti);

#endif
