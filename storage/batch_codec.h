/* batch_codec.h - the records section of a RecordBatch, decompressed and
 * compressed with the four codecs Kafka clients send: gzip, snappy, lz4,
 * zstd (the codec numbers of the batch attributes, enum batch_codec).
 *
 * The compacting cleaner decompresses a producer's batch, drops records
 * and compresses the survivors again with the batch's own codec. Each codec
 * is its field's library: gzip with isa-l's igzip, snappy with libsnappy
 * (raw blocks, or snappy-java's "xerial" framing that Java producers
 * write, kept as it came), lz4 with liblz4's frame API (what Kafka and
 * librdkafka write for magic 2), zstd with libzstd's streaming API.
 *
 * Never trusts its input: a decompressed size is bounded by the caller
 * (-E2BIG past it), malformed input is -EBADMSG, nothing is read outside
 * in[0..len). Allocates only inside the caller's codec_buf. */
#ifndef SLUICE_BATCH_CODEC_H
#define SLUICE_BATCH_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* A growable output buffer; bytes are appended at len. */
struct codec_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void codec_buf_free(struct codec_buf *b);
/* Room for n more bytes at b->len. 0 or -ENOMEM. */
int codec_buf_reserve(struct codec_buf *b, size_t n);

/* How a snappy payload was framed, to write it back the same way. */
enum codec_framing {
    CODEC_FRAMING_DEFAULT = 0,
    CODEC_FRAMING_SNAPPY_XERIAL = 1,
};

/* Appends the decompression of in[0..len) (codec 1-4) to out, at most
 * max_out bytes. *framing (may be NULL) says how snappy input was framed.
 * Returns 0, -EBADMSG, -E2BIG, -ENOMEM or -EINVAL (unknown codec). */
int batch_codec_decompress(int codec, const uint8_t *in, size_t len, struct codec_buf *out,
                           size_t max_out, enum codec_framing *framing);

/* Appends the compression of in[0..len) with codec (1-4) to out, framed
 * as framing says (snappy only). Returns 0, -ENOMEM or -EINVAL. */
int batch_codec_compress(int codec, const uint8_t *in, size_t len, struct codec_buf *out,
                         enum codec_framing framing);

#endif
