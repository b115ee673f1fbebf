/* fuzz_journal.c - the shard journal's reader (storage/journal_replay.c):
 * an input is a journal file's bytes, its two header slots and its region.
 * The header slots are parsed as recovery parses them, the region is
 * scanned from the tail they give (any value: it is taken modulo the
 * region as the scanner does), and each record found is walked batch by
 * batch as replay walks it. Nothing may read outside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/journal_private.h"

static void walk(void *ctx, const struct journal_record *r)
{
    uint64_t *sum = ctx;
    *sum += (uint64_t)r->name_len + (uint64_t)r->end_offset - (uint64_t)r->base_offset;
    for (uint32_t off = 0; off + BATCH_HEADER_SIZE <= r->batches_len;) {
        struct batch_header h;
        batch_header_decode(r->batches + off, &h);
        uint32_t size = batch_size(&h);
        if (size < BATCH_HEADER_SIZE || size > r->batches_len - off)
            return;
        *sum += (uint64_t)h.base_offset;
        off += size;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t tail = 0, seq, t, z, sum = 0;
    for (int slot = 0; slot < 2; slot++)
        if (size >= (size_t)(slot + 1) * JOURNAL_BLOCK &&
            jhdr_get(data + slot * JOURNAL_BLOCK, &seq, &t, &z) == 0)
            tail = t;
    if (size <= JOURNAL_HEADER_BYTES)
        return 0;
    /* The region in a buffer of its own size, so a read past it is caught. */
    size_t rsize = size - JOURNAL_HEADER_BYTES;
    uint8_t *region = malloc(rsize);
    if (!region)
        return 0;
    memcpy(region, data + JOURNAL_HEADER_BYTES, rsize);
    journal_scan(region, rsize, tail, walk, &sum);
    journal_scan(region, rsize, 0, walk, &sum);
    free(region);
    return sum == 42 ? 0 : 0;
}
