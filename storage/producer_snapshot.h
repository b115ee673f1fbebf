/* producer_snapshot.h - producer state snapshots, DIR/<offset>.snapshot,
 * in Kafka's format (ProducerStateManager.writeSnapshot/readSnapshot and
 * ProducerSnapshot.json, version 1), so a Kafka tool reads ours and we
 * read Kafka's.
 *
 * A snapshot named N holds the producer state of every offset below N:
 * one is written when a segment rolls (N = the new segment's base offset)
 * and one at a clean close (N = the log end). Recovery loads the newest
 * one not above where the log must be re-read, and replays the batches
 * from N on (storage/producer_recover.c).
 *
 * Format (big-endian, as Kafka's):
 *   int16  version (1)
 *   uint32 crc32c of every byte after this field
 *   int32  number of entries, then per entry (46 bytes):
 *     int64 producer id, int16 epoch, int32 last sequence,
 *     int64 last offset (-1: no batch), int32 offset delta of the last
 *     batch, int64 timestamp, int32 coordinator epoch,
 *     int64 first offset of the open transaction (-1: none)
 * Only the last batch of each producer is kept (Kafka's format has room
 * for one), so after a restart a retry of an older batch of the last five
 * is not recognised as a duplicate; Kafka has the same limit.
 *
 * Compaction (storage/cleaner*, issue 11) keeps these files as they are;
 * retention deletes a snapshot with the segment whose base offset names
 * it (log_enforce_retention). */
#ifndef SLUICE_PRODUCER_SNAPSHOT_H
#define SLUICE_PRODUCER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/producer_state.h"

#define PRODUCER_SNAPSHOT_VERSION 1
#define PRODUCER_SNAPSHOT_HEADER 10
#define PRODUCER_SNAPSHOT_ENTRY 46
#define PRODUCER_SNAPSHOT_SUFFIX ".snapshot"

/* Bytes the snapshot of ps takes. */
size_t producer_snapshot_size(const struct producer_state *ps);
/* Encodes ps into buf (producer_snapshot_size bytes). */
void producer_snapshot_encode(const struct producer_state *ps, uint8_t *buf);
/* Decodes a snapshot, calling fn for each entry (its one batch, if any,
 * rebuilt). Returns 0, or -EBADMSG for a bad version, length or CRC
 * (nothing is called then). Never reads outside buf[0..len). */
int producer_snapshot_decode(const uint8_t *buf, size_t len,
                             int (*fn)(void *ctx, const struct producer_entry *e), void *ctx);

/* Writes DIR/<offset>.snapshot (through a .tmp file renamed over it).
 * With sync the file is fdatasync'ed and the directory fsync'ed before
 * returning. 0 or a negative errno. */
int producer_snapshot_write(const char *dir, int64_t offset, const struct producer_state *ps,
                            bool sync);
/* The same for a snapshot encoded before (producer_snapshot_encode): what
 * a log's seal job writes, on a thread that may not read the state. */
int producer_snapshot_write_encoded(const char *dir, int64_t offset, const uint8_t *buf,
                                    size_t len, bool sync);
/* Loads DIR/<offset>.snapshot into ps, skipping entries fn_keep refuses
 * (may be NULL). 0, -ENOENT, -EBADMSG (corrupt), or a negative errno. */
int producer_snapshot_load(const char *dir, int64_t offset, struct producer_state *ps,
                           bool (*keep)(void *ctx, const struct producer_entry *e), void *ctx);
/* The offsets of DIR's snapshots, sorted; *out is malloc'ed. */
int producer_snapshot_list(const char *dir, int64_t **out, int *count);
/* Removes DIR/<offset>.snapshot; an absent file is not an error. */
int producer_snapshot_remove(const char *dir, int64_t offset);

#endif
