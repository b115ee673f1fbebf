/* batch_compress.c - LZ4 re-encoding of a batch (see batch_compress.h).
 * Compression is liblz4's frame API: the frame is what Kafka's
 * KafkaLZ4BlockOutputStream and librdkafka write for magic 2 batches. */
#include "storage/batch_compress.h"
#include "storage/batch.h"
#include "storage/crc32c.h"

#include <errno.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>

int batch_compress_lz4(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    const uint8_t *records = in + BATCH_HEADER_SIZE;
    size_t rlen = len - BATCH_HEADER_SIZE;
    size_t cap = BATCH_HEADER_SIZE + LZ4F_compressFrameBound(rlen, &prefs);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    size_t n = LZ4F_compressFrame(buf + BATCH_HEADER_SIZE, cap - BATCH_HEADER_SIZE, records, rlen,
                                  &prefs);
    if (LZ4F_isError(n) || BATCH_HEADER_SIZE + n - BATCH_LOG_OVERHEAD > INT32_MAX) {
        free(buf);
        return -EINVAL;
    }
    memcpy(buf, in, BATCH_HEADER_SIZE);
    uint16_t attrs = be16_load(in + BATCH_OFF_ATTRIBUTES);
    be16_store(buf + BATCH_OFF_ATTRIBUTES,
               (uint16_t)((attrs & ~BATCH_ATTR_CODEC_MASK) | BATCH_CODEC_LZ4));
    size_t total = BATCH_HEADER_SIZE + n;
    be32_store(buf + BATCH_OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
    be32_store(buf + BATCH_OFF_CRC, crc32c(buf + BATCH_OFF_ATTRIBUTES, total - BATCH_OFF_ATTRIBUTES));
    *out = buf;
    *out_len = total;
    return 0;
}
