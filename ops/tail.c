/* tail.c - the console's live tail: the records of one partition from an
 * offset, read the way any consumer reads them (one Fetch v4 on the owning
 * shard's own port, over loopback) and decoded to JSON (key, value as text
 * when printable and always as hex, headers, offset, timestamp).
 *
 * A client of the broker, not a back door: the shard serves the Fetch on
 * its normal path, so the tail adds nothing to the data path and needs no
 * access to another thread's logs. Batches compressed with LZ4 are
 * decoded (liblz4's frame API); other codecs are listed as such, with
 * their offsets, but not decoded here.
 * Never: writes, or keeps a connection past one request. */
#include "ops/ops_private.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_fetch.h"
#include "storage/batch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lz4frame.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TAIL_FETCH_BYTES (1u << 20)
#define TAIL_SHOW_BYTES 512          /* of a key or value, per record */

static int io_all(int fd, uint8_t *p, size_t n, bool out)
{
    while (n > 0) {
        ssize_t k = out ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k <= 0)
            return k == 0 ? -ECONNRESET : -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One Fetch v4 round trip; *resp_buf (malloc'd) holds the answer. */
static int fetch_once(const char *host, int port, const char *topic, int32_t partition,
                      int64_t offset, uint8_t **resp_buf, struct kafka_fetch_resp **out,
                      struct kafka_arena *arena)
{
    struct kafka_fetch_req_partition rp = { .partition = partition, .current_leader_epoch = -1,
                                            .fetch_offset = offset, .last_fetched_epoch = -1,
                                            .log_start_offset = -1,
                                            .partition_max_bytes = TAIL_FETCH_BYTES };
    struct kafka_fetch_req_topic rt = { .topic = { topic, (int32_t)strlen(topic) } };
    struct kafka_fetch_req req;
    kafka_defaults(&kafka_fetch_req_s, &req);
    rt.partitions.v = &rp;
    rt.partitions.n = 1;
    req.replica_id = -1;
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = TAIL_FETCH_BYTES;
    req.topics.v = &rt;
    req.topics.n = 1;
    req.forgotten_topics_data.n = 0;
    uint8_t buf[1024];
    struct kwriter w;
    kwriter_init(&w, buf, sizeof(buf));
    kw_int32(&w, 0);
    struct kafka_request_header h = { .api_key = KAFKA_FETCH, .api_version = 4,
                                      .correlation_id = 1,
                                      .client_id = { "sluice-console", 14 } };
    kafka_request_header_write(&w, &h);
    if (kafka_request_encode(&w, KAFKA_FETCH, 4, &req) < 0 || w.err)
        return -EINVAL;
    kw_put_int32_at(&w, 0, (int32_t)(w.len - 4));

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct timeval tv = { .tv_sec = 5 };
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    uint8_t lenb[4];
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = io_all(fd, buf, w.len, true)) < 0 || (rc = io_all(fd, lenb, 4, false)) < 0)
        goto out;
    uint32_t len = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 | (uint32_t)lenb[2] << 8 |
                   lenb[3];
    if (len < 4 || len > 4 * TAIL_FETCH_BYTES) {
        rc = -EBADMSG;
        goto out;
    }
    if (!(*resp_buf = malloc(len))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = io_all(fd, *resp_buf, len, false)) < 0)
        goto out;
    struct kreader r;
    kreader_init(&r, *resp_buf + 4, len - 4);   /* after the correlation id */
    void *resp;
    rc = kafka_response_decode(&r, KAFKA_FETCH, 4, arena, &resp);
    *out = resp;
out:
    close(fd);
    return rc;
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
        sbuf_printf(b, "%s{\"offset\":%lld,\"timestamp\":%lld,", (*first)++ ? "," : "",
                    (long long)(base + od), (long long)(base_ts + ts));
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
        uint64_t blen = (uint64_t)be32_load(q + BATCH_OFF_LENGTH) + BATCH_LOG_OVERHEAD;
        if (blen > left || blen < BATCH_HEADER_SIZE)
            break; /* a partial batch at the end of the answer */
        int64_t base = (int64_t)be64_load(q + BATCH_OFF_BASE_OFFSET);
        int64_t base_ts = (int64_t)be64_load(q + BATCH_OFF_BASE_TIMESTAMP);
        int count = (int)be32_load(q + BATCH_OFF_RECORDS_COUNT);
        int attrs = be16_load(q + BATCH_OFF_ATTRIBUTES);
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

int ops_tail(struct ops *o, const char *topic, int32_t partition, int64_t offset, int max,
             struct sbuf *b)
{
    const struct ctl_stats *st;
    int rc = ops_collect(o, &st);
    if (rc < 0)
        return rc;
    const struct part_report *pr = NULL;
    for (int i = 0; i < st->nparts; i++)
        if (strcmp(st->parts[i].topic, topic) == 0 && st->parts[i].partition == partition)
            pr = &st->parts[i];
    if (!pr)
        return -ENOENT;
    int port = st->ports[pr->shard];
    int64_t hw = pr->high_watermark, start = pr->log_start;
    if (offset < 0)
        offset = hw - max > start ? hw - max : start;
    uint8_t *resp_buf = NULL;
    size_t acap = 1u << 20;
    uint8_t *abuf = malloc(acap);
    struct kafka_arena arena;
    struct kafka_fetch_resp *resp = NULL;
    if (!abuf)
        return -ENOMEM;
    kafka_arena_init(&arena, abuf, acap);
    rc = fetch_once(o->bootstrap_host, port, topic, partition, offset, &resp_buf, &resp, &arena);
    if (rc == 0 && (resp->responses.n != 1 || resp->responses.v[0].partitions.n != 1))
        rc = -EBADMSG;
    if (rc == 0) {
        const struct kafka_fetch_resp_partition *p = &resp->responses.v[0].partitions.v[0];
        sbuf_printf(b, "{\"topic\":");
        sbuf_json_str(b, topic);
        sbuf_printf(b, ",\"partition\":%d,\"shard\":%d,\"error\":%d,\"high_watermark\":%lld,"
                       "\"log_start\":%lld,\"from\":%lld,\"records\":[",
                    partition, pr->shard, p->error_code, (long long)p->high_watermark,
                    (long long)start, (long long)offset);
        char skipped[256] = "";
        ops_tail_json_batches(b, p->records.p, p->records.len > 0 ? (size_t)p->records.len : 0,
                              max, skipped, sizeof(skipped));
        sbuf_printf(b, "],\"note\":");
        sbuf_json_str(b, skipped);
        sbuf_printf(b, "}");
    }
    free(resp_buf);
    free(abuf);
    return rc;
}
