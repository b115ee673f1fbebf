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
#include "ops/decode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TAIL_FETCH_BYTES (1u << 20)

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
