/* decode.h - the console's decoders of foreign bytes (decode.c). */
#ifndef SLUICE_OPS_DECODE_H
#define SLUICE_OPS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "ops/sbuf.h"

/* The records of concatenated RecordBatch v2 bytes as JSON objects (the
 * inside of an array), at most max; a note on what was not decoded goes
 * to skipped. Returns how many. */
int ops_tail_json_batches(struct sbuf *b, const uint8_t *q, size_t left, int max,
                          char *skipped, size_t skipped_len);

/* A ConsumerProtocolAssignment as [{"topic":..,"partitions":[..]}]. */
void ops_json_assignment(struct sbuf *b, const uint8_t *p, int32_t len);

#endif
