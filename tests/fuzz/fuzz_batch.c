/* fuzz_batch.c - libFuzzer target for RecordBatch v2 (storage/batch.c):
 * validation of a Produce record set, record framing, timestamp search,
 * offset assignment, and re-encoding as LZ4 (storage/batch_compress.c).
 *
 * Input: a record set (concatenated batches, as a Produce request carries
 * it). With an odd first byte the CRC of every batch is fixed first, so the
 * record framing behind the checksum is reached; the first byte is then
 * dropped. Invariants: what validates still validates once the broker has
 * assigned its fields (offsets, leader epoch, LogAppendTime), and an
 * uncompressed batch re-encoded as LZ4 validates, with the same counts.
 * Compressed batches are checked by header and CRC only: the broker does
 * not decompress them yet (when it does, their records go here too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch.h"
#include "storage/batch_compress.h"
#include "storage/kerr.h"
#include "fuzz_util.h"

#define MAX_IN (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_IN)
        return 0;
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    memcpy(buf, data + 1, len);
    if (data[0] & 1)
        fuzz_fix_batch_crcs(buf, len);

    int nbatches;
    int64_t nrecords;
    int kerr = batch_validate_set(buf, len, (uint32_t)(data[0] >> 1) << 12, &nbatches, &nrecords);
    if (kerr != KERR_NONE) {
        free(buf);
        return 0;
    }
    int seen = 0;
    int64_t records = 0;
    for (size_t off = 0; off < len;) {
        struct batch_header h;
        batch_header_decode(buf + off, &h);
        uint8_t *b = buf + off;
        size_t bsize = batch_size(&h);
        if (bsize > len - off || batch_validate(b, bsize, 0) != KERR_NONE)
            abort(); /* the set validated: so does each batch */
        int64_t at, ts;
        batch_find_timestamp(b, bsize, h.base_timestamp + (int64_t)(data[0] & 0x3f), &at, &ts);
        if ((h.attributes & (BATCH_ATTR_CODEC_MASK | BATCH_ATTR_CONTROL)) == 0) {
            uint8_t *z;
            size_t zlen;
            if (batch_compress_lz4(b, bsize, &z, &zlen) == 0) {
                struct batch_header zh;
                batch_header_decode(z, &zh);
                if (zlen < BATCH_HEADER_SIZE || batch_size(&zh) != zlen ||
                    batch_validate(z, zlen, 0) != KERR_NONE ||
                    zh.records_count != h.records_count ||
                    zh.last_offset_delta != h.last_offset_delta)
                    abort();
                free(z);
            }
        }
        batch_assign(b, 1000 + off, 7, (data[0] & 2) ? 1700000000000ll : -1);
        if (batch_validate(b, bsize, 0) != KERR_NONE)
            abort(); /* assignment keeps the batch valid */
        records += h.records_count;
        seen++;
        off += bsize;
    }
    if (seen != nbatches || records != nrecords)
        abort();
    free(buf);
    return 0;
}
