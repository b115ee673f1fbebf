/* decode.c - what the console decodes from bytes it did not make: record
 * batches from a Fetch answer (the live tail) and consumer-protocol
 * assignments (a group member's, from DescribeGroups), as JSON.
 *
 * Owns: nothing; pure functions of their input, fuzzed by
 * tests/fuzz/fuzz_console.c. Never reads outside the bytes it is given. */
#include "ops/decode.h"
#include "dataplane/kafka/codec.h"
#include "storage/batch.h"

#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAIL_SHOW_BYTES 512          /* of a key or value, per record */

static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t load16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void json_bytes(struct sbuf *b, const char *name, const uint8_t *p, int32_t len)
{
    sbuf_printf(b, "\"%s\":", name);
    if (len < 0) {
        sbuf_printf(b, "null");
        return;
    }
    int32_t show = len > TAIL_SHOW_BYTES ? TAIL_SHOW_BYTES : len;
    if (!p)
        show = 0;
    bool text = true;
    for (int32_t i = 0; i < show; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
            text = false;
    sbuf_printf(b, "{\"len\":%d,\"text\":", len);
    if (text) {
        char *t = malloc((size_t)show + 1);
        if (t) {
            if (show > 0)
                memcpy(t, p, (size_t)show);
            t[show] = '\0';
            sbuf_json_str(b, t);
            free(t);
        } else {
            b->err = true;
        }
    } else {
        sbuf_printf(b, "null");
    }
    sbuf_printf(b, ",\"hex\":\"");
    for (int32_t i = 0; i < show; i++)
        sbuf_printf(b, "%02x", p[i]);
    sbuf_printf(b, "\"}");
}

/* The records of one uncompressed batch body; returns how many. */
static int json_records(struct sbuf *b, int64_t base, int64_t base_ts, const uint8_t *p,
                        size_t n, int count, int *first, int max)
{
    struct kreader r;
    int done = 0;
    kreader_init(&r, p, n);
    for (int i = 0; i < count && !r.err && *first < max; i++) {
        int32_t rlen = kr_varint(&r);
        const uint8_t *start = r.p;
        (void)kr_int8(&r);
        int64_t ts = kr_varlong(&r);
        int32_t od = kr_varint(&r);
        int32_t kl = kr_varint(&r);
        const uint8_t *k = kl > 0 ? kr_raw(&r, (size_t)kl) : NULL;
        int32_t vl = kr_varint(&r);
        const uint8_t *v = vl > 0 ? kr_raw(&r, (size_t)vl) : NULL;
        int32_t nh = kr_varint(&r);
        if (r.err || rlen < 0 || (size_t)rlen > (size_t)(p + n - start))
            break;
        /* Deltas from the wire may be anything: wrap, never overflow. */
        int64_t offset = (int64_t)((uint64_t)base + (uint64_t)(int64_t)od);
        int64_t stamp = (int64_t)((uint64_t)base_ts + (uint64_t)ts);
        sbuf_printf(b, "%s{\"offset\":%lld,\"timestamp\":%lld,", (*first)++ ? "," : "",
                    (long long)offset, (long long)stamp);
        json_bytes(b, "key", k, kl);
        sbuf_put(b, ",", 1);
        json_bytes(b, "value", v, vl);
        sbuf_printf(b, ",\"headers\":[");
        for (int32_t j = 0; j < nh && !r.err && j < 64; j++) {
            int32_t hkl = kr_varint(&r);
            const uint8_t *hk = hkl > 0 ? kr_raw(&r, (size_t)hkl) : NULL;
            int32_t hvl = kr_varint(&r);
            const uint8_t *hv = hvl > 0 ? kr_raw(&r, (size_t)hvl) : NULL;
            if (r.err)
                break;
            sbuf_printf(b, "%s{", j ? "," : "");
            json_bytes(b, "key", hk, hkl);
            sbuf_put(b, ",", 1);
            json_bytes(b, "value", hv, hvl);
            sbuf_put(b, "}", 1);
        }
        sbuf_printf(b, "]}");
        /* Resynchronise on the record's own length. */
        kreader_init(&r, start + rlen, (size_t)(p + n - (start + rlen)));
        done++;
    }
    return done;
}

static uint8_t *lz4_decode(const uint8_t *in, size_t n, size_t *out_len)
{
    LZ4F_dctx *dctx;
    size_t cap = n * 4 + 4096, len = 0;
    uint8_t *out = malloc(cap);
    if (!out || LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        free(out);
        return NULL;
    }
    while (n > 0) {
        size_t dst = cap - len, src = n;
        size_t rc = LZ4F_decompress(dctx, out + len, &dst, in, &src, NULL);
        if (LZ4F_isError(rc) || (dst == 0 && src == 0))
            break;
        len += dst;
        in += src;
        n -= src;
        if (rc == 0)
            break;
        if (cap - len < 65536) {
            uint8_t *grown = cap < (64u << 20) ? realloc(out, cap * 2) : NULL;
            if (!grown)
                break;
            out = grown;
            cap *= 2;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    *out_len = len;
    return out;
}

/* The records of concatenated RecordBatch v2 bytes as JSON objects (the
 * inside of an array), at most max; a note on what was not decoded goes
 * to skipped. Never reads outside q[0..left). Returns how many. */
int ops_tail_json_batches(struct sbuf *b, const uint8_t *q, size_t left, int max,
                          char *skipped, size_t skipped_len)
{
    int shown = 0;
    while (q && left >= BATCH_HEADER_SIZE && shown < max) {
        uint64_t blen = (uint64_t)load32(q + BATCH_OFF_LENGTH) + BATCH_LOG_OVERHEAD;
        if (blen > left || blen < BATCH_HEADER_SIZE)
            break; /* a partial batch at the end of the answer */
        int64_t base = (int64_t)load64(q + BATCH_OFF_BASE_OFFSET);
        int64_t base_ts = (int64_t)load64(q + BATCH_OFF_BASE_TIMESTAMP);
        int count = (int)load32(q + BATCH_OFF_RECORDS_COUNT);
        int attrs = load16(q + BATCH_OFF_ATTRIBUTES);
        int codec = attrs & BATCH_ATTR_CODEC_MASK;
        const uint8_t *body = q + BATCH_HEADER_SIZE;
        size_t body_len = (size_t)blen - BATCH_HEADER_SIZE;
        if (attrs & BATCH_ATTR_CONTROL) {
            /* transaction markers: not records */
        } else if (codec == BATCH_CODEC_NONE) {
            json_records(b, base, base_ts, body, body_len, count, &shown, max);
        } else if (codec == BATCH_CODEC_LZ4) {
            size_t n;
            uint8_t *plain = lz4_decode(body, body_len, &n);
            if (plain)
                json_records(b, base, base_ts, plain, n, count, &shown, max);
            free(plain);
        } else if (!skipped[0]) {
            snprintf(skipped, skipped_len, "batches compressed with codec %d (from offset "
                     "%lld) are not decoded by the console", codec, (long long)base);
        }
        q += blen;
        left -= (size_t)blen;
    }
    return shown;
}


/* ConsumerProtocolAssignment: version, [topic, [partition]], user data. */
void ops_json_assignment(struct sbuf *b, const uint8_t *ap, int32_t alen)
{
    struct kreader r;
    sbuf_printf(b, "[");
    if (alen <= 0 || !ap) {
        sbuf_printf(b, "]");
        return;
    }
    kreader_init(&r, ap, (size_t)alen);
    (void)kr_int16(&r);
    int32_t nt = kr_array_len(&r);
    for (int32_t t = 0; t < nt && t < 10000 && !r.err; t++) {
        struct kstr name = kr_string(&r);
        int32_t np = kr_array_len(&r);
        if (r.err || name.len < 0)
            break;
        char topic[256];
        snprintf(topic, sizeof(topic), "%.*s", (int)name.len, name.p);
        sbuf_printf(b, "%s{\"topic\":", t ? "," : "");
        sbuf_json_str(b, topic);
        sbuf_printf(b, ",\"partitions\":[");
        for (int32_t p = 0; p < np && p < 100000 && !r.err; p++)
            sbuf_printf(b, "%s%d", p ? "," : "", kr_int32(&r));
        sbuf_printf(b, "]}");
    }
    sbuf_printf(b, "]");
}
