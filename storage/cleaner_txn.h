/* cleaner_txn.h - what transactions decide in a clean (Kafka's
 * CleanedTransactionMetadata): which data batches belong to aborted
 * transactions, and which transaction markers may go.
 *
 * A clean walks its batches in offset order through one clean_txns
 * (the map pass with one, the rewrite pass with another), given the
 * aborted transactions whose first offset lies below the job's end,
 * sorted by first offset (log_clean_begin collects them from every
 * segment's .txnindex: a transaction's marker may lie past the cleaned
 * range while its data is inside it). For each batch:
 *   - data of an aborted transaction (transactional, its producer has an
 *     aborted transaction begun at or before the batch and not yet ended
 *     by its marker, which lies at the entry's last offset): ABORTED, every record goes (the producer's last
 *     batch stays as an empty header, as for any emptied batch); the map
 *     pass puts none of its keys in the offset map, so aborted data never
 *     supersedes a committed value;
 *   - an abort marker whose transaction had data in this walk: KEEP, and
 *     its .txnindex entry goes into the cleaned segment (that data may
 *     still be held by a consumer that has not reached the marker);
 *   - a commit marker whose transaction had data in this walk: KEEP;
 *   - any other marker (its transaction's data was removed by an earlier
 *     clean, or a commit of nothing here), and an empty control batch:
 *     DONE - kept until its delete horizon (delete.retention.ms after the
 *     clean that first found it done, stamped in the batch as for
 *     tombstones), then removed; its .txnindex entry is not carried.
 *
 * Transactions open at once are few (one per transactional producer
 * writing to the partition), so the open sets are plain arrays searched
 * in order. Allocates (the cleaner's thread only). */
#ifndef SLUICE_CLEANER_TXN_H
#define SLUICE_CLEANER_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/batch.h"
#include "storage/txn_index.h"

enum clean_txn_fate {
    CLEAN_TXN_NONE = 0,    /* a data batch of no aborted transaction: by its keys */
    CLEAN_TXN_ABORTED,     /* data of an aborted transaction: every record goes */
    CLEAN_TXN_MARKER_KEEP, /* a marker whose transaction still has data */
    CLEAN_TXN_MARKER_DONE, /* a marker with nothing left of its transaction */
};

struct clean_open_txn {
    int64_t pid;
    const struct aborted_txn *entry;  /* NULL: a committed transaction */
    bool observed;                    /* data of it seen in this walk */
};

struct clean_txns {
    const struct aborted_txn *aborted;  /* sorted by first offset, not owned */
    size_t naborted;
    size_t next;                        /* the first not yet begun */
    struct clean_open_txn *open;
    size_t nopen, cap;
};

void clean_txns_init(struct clean_txns *t, const struct aborted_txn *sorted, size_t n);
void clean_txns_free(struct clean_txns *t);

/* The fate of the batch b[0..len) (header h, CRC checked), the next in
 * offset order. *entry: with an abort marker that is kept, the .txnindex
 * entry the cleaned segment must carry; else NULL. 0 or -ENOMEM. */
int clean_txns_on_batch(struct clean_txns *t, const uint8_t *b, size_t len,
                        const struct batch_header *h, enum clean_txn_fate *fate,
                        const struct aborted_txn **entry);

/* Sorts aborted transactions by first offset (for clean_txns_init). */
void clean_txns_sort(struct aborted_txn *v, size_t n);

#endif
