/* batch_compress.h - re-encoding an uncompressed RecordBatch v2 as an LZ4
 * one, for topics whose compression.type is lz4 (Kafka recompresses a
 * producer's batch when the topic's codec differs from it). */
#ifndef SLUICE_BATCH_COMPRESS_H
#define SLUICE_BATCH_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* in[0..len) is one validated, uncompressed batch. On success *out is a
 * new malloc'd batch (same header fields, codec LZ4, records in one LZ4
 * frame as Kafka writes it: independent 64 KiB blocks, no checksums),
 * *out_len its size, CRC recomputed. Returns 0 or a negative errno. */
int batch_compress_lz4(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

#endif
