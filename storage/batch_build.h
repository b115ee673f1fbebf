/* batch_build.h - encodes records into a RecordBatch v2.
 *
 * Used where the broker itself produces batches (recompression, control
 * records) and by tests and benchmarks that need real producer batches.
 * Writes into a caller-provided buffer; never allocates. */
#ifndef SLUICE_BATCH_BUILD_H
#define SLUICE_BATCH_BUILD_H

#include <stddef.h>
#include <stdint.h>

struct record_header {
    const char *key;
    size_t key_len;
    const void *value;     /* NULL: a null header value */
    size_t value_len;
};

struct batch_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;            /* bytes used so far, header included */
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int overflow;          /* set when a record did not fit */
    int64_t producer_id;   /* -1 unless batch_builder_set_producer */
    int16_t producer_epoch;
    int32_t base_sequence;
};

/* Starts a batch in buf[0..cap); cap must be >= BATCH_HEADER_SIZE. */
void batch_builder_init(struct batch_builder *b, uint8_t *buf, size_t cap,
                        int64_t base_timestamp);

/* Appends one record. key/value NULL means a null key/value (a NULL header
 * key is written empty: Kafka header keys are never null). Returns 0, or
 * -ENOSPC when the record does not fit (the batch stays as it was), or
 * -EINVAL for nheaders < 0 or a field longer than Kafka's int32 lengths. */
int batch_builder_add(struct batch_builder *b, int64_t timestamp,
                      const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      const struct record_header *headers, int nheaders);

/* An idempotent producer's batch: finish writes these instead of -1. */
void batch_builder_set_producer(struct batch_builder *b, int64_t producer_id,
                                int16_t producer_epoch, int32_t base_sequence);

/* Fills in the header (baseOffset 0, the given attributes, the producer
 * fields: -1 unless set, CRC) and returns the batch's total size, or 0 for
 * an empty batch. */
size_t batch_builder_finish(struct batch_builder *b, int16_t attributes);

/* Kafka's zigzag varint/varlong (the record fields' encoding): the bytes
 * v takes, and writing it at p (returns the byte after it). */
size_t batch_varint_size(int64_t v);
uint8_t *batch_varint_put(uint8_t *p, int64_t v);

/* Builds a transaction marker of producer pid at epoch into buf (Kafka's
 * EndTransactionMarker: one record, key = int16 version 0 + int16 type,
 * value = int16 version 0 + int32 coordinator epoch) with the
 * transactional and control attributes. Returns its size, or 0 when cap
 * is too small. */
size_t batch_build_marker(uint8_t *buf, size_t cap, int64_t pid, int16_t epoch, int commit,
                          int32_t coordinator_epoch, int64_t timestamp);

#endif
