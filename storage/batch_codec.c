/* batch_codec.c - gzip, snappy, lz4 and zstd for a batch's records (see
 * batch_codec.h). One pair of functions per codec, each a thin loop over
 * its library's streaming API that bounds the output. */
#include "storage/batch_codec.h"
#include "storage/batch.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define XERIAL_HEADER_SIZE 16
#define XERIAL_BLOCK (32u << 10)   /* snappy-java's default block size */
#define ZSTD_LEVEL 3               /* Kafka's default compression.zstd.level */

static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

void codec_buf_free(struct codec_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int codec_buf_reserve(struct codec_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Makes room for the next chunk of output, never past max_out in all. */
static int grow_bounded(struct codec_buf *out, size_t start, size_t max_out, size_t want)
{
    size_t used = out->len - start;
    if (used >= max_out)
        return -E2BIG;
    if (want > max_out - used)
        want = max_out - used;
    return codec_buf_reserve(out, want);
}

/* ---- gzip (isa-l igzip) ---- */

static int gzip_decompress(const uint8_t *in, size_t len, struct codec_buf *out, size_t max_out)
{
    struct inflate_state st;
    size_t start = out->len;
    isal_inflate_init(&st);
    st.crc_flag = ISAL_GZIP;
    st.next_in = (uint8_t *)in;
    st.avail_in = (uint32_t)len;
    if (len > UINT32_MAX)
        return -EBADMSG;
    while (st.block_state != ISAL_BLOCK_FINISH) {
        int rc = grow_bounded(out, start, max_out, len * 4 + 4096);
        if (rc < 0)
            return rc;
        size_t room = out->cap - out->len;
        if (room > max_out - (out->len - start))
            room = max_out - (out->len - start);
        st.next_out = out->data + out->len;
        st.avail_out = (uint32_t)(room > UINT32_MAX ? UINT32_MAX : room);
        uint32_t before = st.avail_out;
        rc = isal_inflate(&st);
        out->len += before - st.avail_out;
        if (rc != ISAL_DECOMP_OK && rc != ISAL_OUT_OVERFLOW && rc != ISAL_END_INPUT)
            return -EBADMSG;
        if (st.block_state == ISAL_BLOCK_FINISH)
            break;
        if (st.avail_in == 0 && st.avail_out > 0)
            return -EBADMSG; /* the stream ended early */
    }
    return 0;
}

static int gzip_compress(const uint8_t *in, size_t len, struct codec_buf *out)
{
    struct isal_zstream z;
    uint8_t *level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
    if (!level_buf || len > UINT32_MAX) {
        free(level_buf);
        return -ENOMEM;
    }
    isal_deflate_init(&z);
    z.gzip_flag = IGZIP_GZIP;
    z.level = 1;
    z.level_buf = level_buf;
    z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    z.next_in = (uint8_t *)in;
    z.avail_in = (uint32_t)len;
    int rc = 0;
    while (z.internal_state.state != ZSTATE_END) {
        if ((rc = codec_buf_reserve(out, len / 2 + 1024)) < 0)
            break;
        size_t room = out->cap - out->len;
        z.next_out = out->data + out->len;
        z.avail_out = (uint32_t)(room > UINT32_MAX ? UINT32_MAX : room);
        uint32_t before = z.avail_out;
        if (isal_deflate(&z) != COMP_OK) {
            rc = -EINVAL;
            break;
        }
        out->len += before - z.avail_out;
    }
    free(level_buf);
    return rc;
}

/* ---- snappy (raw, or snappy-java's xerial framing) ---- */

static int snappy_raw_decompress(const uint8_t *in, size_t len, struct codec_buf *out,
                                 size_t start, size_t max_out)
{
    size_t n;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
        return -EBADMSG;
    if (n > max_out - (out->len - start))
        return -E2BIG;
    if (n == 0)
        return 0;
    int rc = codec_buf_reserve(out, n);
    if (rc < 0)
        return rc;
    size_t got = n;
    if (snappy_uncompress((const char *)in, len, (char *)out->data + out->len, &got) !=
            SNAPPY_OK || got != n)
        return -EBADMSG;
    out->len += n;
    return 0;
}

static int snappy_decompress(const uint8_t *in, size_t len, struct codec_buf *out,
                             size_t max_out, enum codec_framing *framing)
{
    size_t start = out->len;
    if (len < XERIAL_HEADER_SIZE || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0) {
        if (framing)
            *framing = CODEC_FRAMING_DEFAULT;
        return snappy_raw_decompress(in, len, out, start, max_out);
    }
    if (framing)
        *framing = CODEC_FRAMING_SNAPPY_XERIAL;
    /* magic, version, compatible version; then (int32 length, block)... */
    for (size_t pos = XERIAL_HEADER_SIZE; pos < len;) {
        if (len - pos < 4)
            return -EBADMSG;
        uint32_t n = be32_load(in + pos);
        pos += 4;
        if (n > len - pos)
            return -EBADMSG;
        int rc = snappy_raw_decompress(in + pos, n, out, start, max_out);
        if (rc < 0)
            return rc;
        pos += n;
    }
    return 0;
}

static int snappy_compress_block(const uint8_t *in, size_t len, struct codec_buf *out,
                                 size_t prefix)
{
    size_t bound = snappy_max_compressed_length(len);
    int rc = codec_buf_reserve(out, prefix + bound);
    if (rc < 0)
        return rc;
    size_t n = bound;
    if (snappy_compress((const char *)in, len, (char *)out->data + out->len + prefix, &n) !=
        SNAPPY_OK)
        return -EINVAL;
    if (prefix)
        be32_store(out->data + out->len, (uint32_t)n);
    out->len += prefix + n;
    return 0;
}

static int snappy_compress_framed(const uint8_t *in, size_t len, struct codec_buf *out,
                                  enum codec_framing framing)
{
    if (framing != CODEC_FRAMING_SNAPPY_XERIAL)
        return snappy_compress_block(in, len, out, 0);
    int rc = codec_buf_reserve(out, XERIAL_HEADER_SIZE);
    if (rc < 0)
        return rc;
    memcpy(out->data + out->len, xerial_magic, sizeof(xerial_magic));
    be32_store(out->data + out->len + 8, 1);   /* version */
    be32_store(out->data + out->len + 12, 1);  /* compatible version */
    out->len += XERIAL_HEADER_SIZE;
    for (size_t pos = 0; pos < len; pos += XERIAL_BLOCK) {
        size_t n = len - pos < XERIAL_BLOCK ? len - pos : XERIAL_BLOCK;
        if ((rc = snappy_compress_block(in + pos, n, out, 4)) < 0)
            return rc;
    }
    return 0;
}

/* ---- lz4 (frame format) ---- */

static int lz4_decompress(const uint8_t *in, size_t len, struct codec_buf *out, size_t max_out)
{
    LZ4F_dctx *dctx;
    size_t start = out->len;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return -ENOMEM;
    int rc = 0;
    size_t pos = 0, hint = 1;
    while (hint != 0) {
        if ((rc = grow_bounded(out, start, max_out, 64u << 10)) < 0)
            break;
        size_t room = out->cap - out->len;
        if (room > max_out - (out->len - start))
            room = max_out - (out->len - start);
        size_t src = len - pos;
        hint = LZ4F_decompress(dctx, out->data + out->len, &room, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            rc = -EBADMSG;
            break;
        }
        pos += src;
        out->len += room;
        if (hint != 0 && pos == len && room == 0) {
            rc = -EBADMSG; /* the frame is cut short */
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static int lz4_compress(const uint8_t *in, size_t len, struct codec_buf *out)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    int rc = codec_buf_reserve(out, bound);
    if (rc < 0)
        return rc;
    size_t n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
    if (LZ4F_isError(n))
        return -EINVAL;
    out->len += n;
    return 0;
}

/* ---- zstd ---- */

static int zstd_decompress(const uint8_t *in, size_t len, struct codec_buf *out, size_t max_out)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t start = out->len;
    if (!d)
        return -ENOMEM;
    ZSTD_inBuffer ib = { in, len, 0 };
    int rc = 0;
    size_t left = 1;
    while (left != 0) {
        if ((rc = grow_bounded(out, start, max_out, 128u << 10)) < 0)
            break;
        size_t room = out->cap - out->len;
        if (room > max_out - (out->len - start))
            room = max_out - (out->len - start);
        ZSTD_outBuffer ob = { out->data + out->len, room, 0 };
        left = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(left)) {
            rc = -EBADMSG;
            break;
        }
        out->len += ob.pos;
        if (left != 0 && ib.pos == ib.size && ob.pos < ob.size) {
            rc = -EBADMSG; /* the frame is cut short */
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return rc;
}

static int zstd_compress(const uint8_t *in, size_t len, struct codec_buf *out)
{
    size_t bound = ZSTD_compressBound(len);
    int rc = codec_buf_reserve(out, bound);
    if (rc < 0)
        return rc;
    size_t n = ZSTD_compress(out->data + out->len, bound, in, len, ZSTD_LEVEL);
    if (ZSTD_isError(n))
        return -EINVAL;
    out->len += n;
    return 0;
}

int batch_codec_decompress(int codec, const uint8_t *in, size_t len, struct codec_buf *out,
                           size_t max_out, enum codec_framing *framing)
{
    if (framing)
        *framing = CODEC_FRAMING_DEFAULT;
    switch (codec) {
    case BATCH_CODEC_GZIP:
        return gzip_decompress(in, len, out, max_out);
    case BATCH_CODEC_SNAPPY:
        return snappy_decompress(in, len, out, max_out, framing);
    case BATCH_CODEC_LZ4:
        return lz4_decompress(in, len, out, max_out);
    case BATCH_CODEC_ZSTD:
        return zstd_decompress(in, len, out, max_out);
    default:
        return -EINVAL;
    }
}

int batch_codec_compress(int codec, const uint8_t *in, size_t len, struct codec_buf *out,
                         enum codec_framing framing)
{
    switch (codec) {
    case BATCH_CODEC_GZIP:
        return gzip_compress(in, len, out);
    case BATCH_CODEC_SNAPPY:
        return snappy_compress_framed(in, len, out, framing);
    case BATCH_CODEC_LZ4:
        return lz4_compress(in, len, out);
    case BATCH_CODEC_ZSTD:
        return zstd_compress(in, len, out);
    default:
        return -EINVAL;
    }
}
