/* txn_index.h - a segment's aborted-transaction index, <base>.txnindex,
 * in Kafka's format (TransactionIndex / AbortedTxn), so read_committed
 * fetches can tell consumers which ranges to drop while the data itself
 * stays a file range.
 *
 * One entry per transaction aborted by a marker written into this
 * segment, in marker order (last offsets increase), 34 bytes, big-endian:
 *   int16 version (0)  int64 producer id  int64 first offset
 *   int64 last offset (the abort marker's)  int64 last stable offset
 *   (the partition's LSO right after the abort)
 * The file is created with its first entry (most segments never have
 * one, as in Kafka). Entries are kept in memory as well (aborts are rare)
 * and written with the segment's other indexes; the file is synced when
 * the segment is sealed or the log closes, and rebuilt by recovery for
 * every segment recovery re-reads (storage/producer_recover.c).
 *
 * For compaction (issue 11): a cleaned segment gets the entries of the
 * aborted transactions whose markers it keeps (Kafka's cleaner rewrites
 * the index the same way); txn_index_* is what it needs.
 *
 * Never: decides what is aborted (producer_state.c does), or touches
 * another segment's index. */
#ifndef SLUICE_TXN_INDEX_H
#define SLUICE_TXN_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#define TXN_INDEX_ENTRY 34
#define TXN_INDEX_VERSION 0

struct aborted_txn {
    int64_t pid;
    int64_t first_offset;
    int64_t last_offset;
    int64_t last_stable_offset;
};

struct txn_index {
    int fd;                     /* -1 until the file exists */
    struct aborted_txn *v;
    uint32_t count, cap;
    uint32_t written;           /* entries in the file */
    bool new_name;              /* created since the directory's last fsync
                                   (segment_sync_txnindex) */
};

/* Opens path if it exists and, with load, reads its entries (a torn
 * trailing entry is cut; entries whose last offsets do not increase end
 * the index). Without load the file is emptied (rebuilt by recovery).
 * 0 or a negative errno. */
int txn_index_open(struct txn_index *ti, const char *path, bool load);
void txn_index_close(struct txn_index *ti);

/* Adds an entry; its last offset must be above the previous one's
 * (-EINVAL otherwise). 0, -EINVAL or -ENOMEM. */
int txn_index_append(struct txn_index *ti, const struct aborted_txn *a);
/* Makes room for n more entries, so the next n appends cannot fail for
 * memory. 0 or -ENOMEM. */
int txn_index_reserve(struct txn_index *ti, uint32_t n);
/* Writes entries not yet in the file (creating it). 0 or negative errno. */
int txn_index_flush(struct txn_index *ti, const char *path);
/* fdatasyncs the file, if there is one (its name: segment_sync_txnindex). */
int txn_index_sync(struct txn_index *ti);
/* Drops every entry whose last offset is >= offset (recovery cut). */
int txn_index_truncate(struct txn_index *ti, int64_t offset);

/* Aborted transactions overlapping [fetch_offset, upper): last offset >=
 * fetch_offset and first offset < upper, in index order, at most max
 * into out (*n counts them, up to max). Returns true when the search is
 * complete (an entry's LSO reached upper: later segments need not be
 * searched), as Kafka's collectAbortedTxns. */
bool txn_index_collect(const struct txn_index *ti, int64_t fetch_offset, int64_t upper,
                       struct aborted_txn *out, int max, int *n);

/* Appends the valid entries of the index file at path (read only; absent:
 * none) to ti, as new entries (not yet in ti's own file): the cleaner
 * copies its sources' entries into a cleaned segment this way. 0 or a
 * negative errno. */
int txn_index_append_file(struct txn_index *ti, const char *path);

/* Encodes / decodes one entry (tests, fuzzing). decode returns false for
 * a version it does not know. */
void txn_index_encode(const struct aborted_txn *a, uint8_t out[TXN_INDEX_ENTRY]);
bool txn_index_decode(const uint8_t in[TXN_INDEX_ENTRY], struct aborted_txn *a);
/* Loads entries from buf[0..len) as txn_index_open does from a file;
 * returns how many bytes were whole, valid entries. */
uint64_t txn_index_parse(struct txn_index *ti, const uint8_t *buf, uint64_t len);

#endif
