/* batch.h - Kafka RecordBatch v2 (magic 2): parse, validate, rewrite the
 * fields the broker owns.
 *
 * A batch is kept byte for byte as the producer sent it; the broker only
 * rewrites baseOffset and partitionLeaderEpoch (neither is covered by the
 * CRC) and, for LogAppendTime topics, the timestamp type bit and
 * maxTimestamp (then the CRC is recomputed). All integers are big-endian.
 *
 *   off  size  field
 *     0     8  baseOffset
 *     8     4  batchLength          (bytes after this field)
 *    12     4  partitionLeaderEpoch
 *    16     1  magic                (2)
 *    17     4  crc                  (CRC32C of attributes..end)
 *    21     2  attributes           (bits 0-2 codec, 3 timestamp type,
 *                                    4 transactional, 5 control)
 *    23     4  lastOffsetDelta
 *    27     8  baseTimestamp
 *    35     8  maxTimestamp
 *    43     8  producerId
 *    51     2  producerEpoch
 *    53     4  baseSequence
 *    57     4  recordsCount
 *    61        records
 */
#ifndef SLUICE_BATCH_H
#define SLUICE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATCH_HEADER_SIZE 61
#define BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define BATCH_MAGIC 2

#define BATCH_OFF_BASE_OFFSET 0
#define BATCH_OFF_LENGTH 8
#define BATCH_OFF_LEADER_EPOCH 12
#define BATCH_OFF_MAGIC 16
#define BATCH_OFF_CRC 17
#define BATCH_OFF_ATTRIBUTES 21
#define BATCH_OFF_LAST_OFFSET_DELTA 23
#define BATCH_OFF_BASE_TIMESTAMP 27
#define BATCH_OFF_MAX_TIMESTAMP 35
#define BATCH_OFF_PRODUCER_ID 43
#define BATCH_OFF_PRODUCER_EPOCH 51
#define BATCH_OFF_BASE_SEQUENCE 53
#define BATCH_OFF_RECORDS_COUNT 57

#define BATCH_ATTR_CODEC_MASK 0x07
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20

enum batch_codec {
    BATCH_CODEC_NONE = 0,
    BATCH_CODEC_GZIP = 1,
    BATCH_CODEC_SNAPPY = 2,
    BATCH_CODEC_LZ4 = 3,
    BATCH_CODEC_ZSTD = 4,
};

/* The header fields of one batch, decoded. */
struct batch_header {
    int64_t base_offset;
    int32_t length;          /* batchLength: total size is length + 12 */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
};

static inline uint32_t batch_size(const struct batch_header *h)
{
    return (uint32_t)h->length + BATCH_LOG_OVERHEAD;
}

/* Wrapping, so that garbage in a header is no undefined behaviour. */
static inline int64_t batch_last_offset(const struct batch_header *h)
{
    return (int64_t)((uint64_t)h->base_offset + (uint64_t)(int64_t)h->last_offset_delta);
}

/* One record as stored in a batch's (decompressed) records section: views
 * into the caller's bytes. */
struct record_view {
    const uint8_t *start;     /* its length varint */
    size_t size;              /* the whole record, length varint included */
    const uint8_t *body;      /* after the length varint: attributes */
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *fields;    /* the key length varint: key, value, headers */
    const uint8_t *key;       /* NULL: null key */
    int32_t key_len;          /* -1: null */
    const uint8_t *value;     /* NULL: null value (a tombstone) */
    int32_t value_len;
    const uint8_t *headers;   /* header count varint to the record's end */
    size_t headers_len;
};

/* Reads the record at *p (ending by end) into r and moves *p past it.
 * Returns 0, or -1 for a record that does not frame (every length checked
 * against end). Offset deltas need not run 0, 1, 2...: a compacted batch
 * keeps its survivors' deltas. */
int batch_record_next(const uint8_t **p, const uint8_t *end, struct record_view *r);

/* Big-endian loads and stores shared by the storage files. */
uint16_t be16_load(const uint8_t *p);
uint32_t be32_load(const uint8_t *p);
uint64_t be64_load(const uint8_t *p);
void be16_store(uint8_t *p, uint16_t v);
void be32_store(uint8_t *p, uint32_t v);
void be64_store(uint8_t *p, uint64_t v);

/* Decodes the 61-byte header at buf (len >= BATCH_HEADER_SIZE). */
void batch_header_decode(const uint8_t *buf, struct batch_header *h);

/* Validates one batch occupying exactly buf[0..len): length fields, magic,
 * CRC, record count against lastOffsetDelta, and for uncompressed batches
 * the framing of every record. max_bytes bounds the batch size (0: none).
 * Returns 0 (KERR_NONE) or a Kafka error code: KERR_CORRUPT_MESSAGE,
 * KERR_INVALID_RECORD, KERR_MESSAGE_TOO_LARGE,
 * KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT. */
int batch_validate(const uint8_t *buf, size_t len, uint32_t max_bytes);

/* Walks a record set (concatenated batches) as a Produce request carries
 * it: validates each batch and counts them. Returns a Kafka error code;
 * on success *nbatches and *nrecords are set. An empty set is
 * KERR_CORRUPT_MESSAGE. */
int batch_validate_set(const uint8_t *buf, size_t len, uint32_t max_bytes,
                       int *nbatches, int64_t *nrecords);

/* Checks the CRC only (recovery, reads): true when it matches. */
bool batch_crc_ok(const uint8_t *buf, size_t len);

/* Rewrites the broker-owned fields in place. When log_append_time_ms >= 0
 * the batch is stamped with LogAppendTime (attribute bit 3 and
 * maxTimestamp) and its CRC recomputed. buf must hold a batch that
 * batch_validate accepted: its size is taken from batchLength. */
void batch_assign(uint8_t *buf, int64_t base_offset, int32_t leader_epoch,
                  int64_t log_append_time_ms);

/* The offset and timestamp of the first record whose timestamp is
 * >= ts in an uncompressed batch; for compressed batches the batch's base
 * offset is returned (records are not decompressed). Returns 0, or -1 when
 * no record qualifies. */
int batch_find_timestamp(const uint8_t *buf, size_t len, int64_t ts,
                         int64_t *offset, int64_t *timestamp);

/* Control batches (transaction markers): the type in a marker's key. */
#define BATCH_CONTROL_ABORT 0
#define BATCH_CONTROL_COMMIT 1

/* Reads the marker in an uncompressed control batch buf[0..len): its
 * first record's key (int16 version 0, int16 type) and value (int16
 * version 0, int32 coordinator epoch). Returns 0, or -1 when the batch
 * holds no such record (an empty control batch, as compaction leaves, or
 * an unknown type). Never reads outside buf. */
int batch_parse_marker(const uint8_t *buf, size_t len, int16_t *type,
                       int32_t *coordinator_epoch);

#endif
