/* request.c - the life of a request on a shard: decode, dispatch to its
 * handler, answer (now or later), release.
 *
 * Requests and their arenas come from a per-shard free list, so a steady
 * stream of requests allocates nothing. A request is released when its
 * response has been sent (or, for acks=0 produce, when its batches are
 * written), never earlier: its frame bytes may still be queued in a log. */
#include "dataplane/shard_private.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_metadata.h"
#include "dataplane/sasl.h"
#include "dataplane/authz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request *request_get(struct shard *s, struct conn *c)
{
    struct request *rq = s->free_requests;
    if (rq) {
        s->free_requests = rq->next;
    } else {
        rq = calloc(1, sizeof(*rq) + sizeof(struct request_priv));
        if (!rq)
            return NULL;
        rq->priv = rq + 1;
        struct request_priv *p = rq->priv;
        p->arena_buf = malloc(REQUEST_ARENA_SIZE);
        if (!p->arena_buf) {
            free(rq);
            return NULL;
        }
    }
    struct request_priv *p = rq->priv;
    uint8_t *arena_buf = p->arena_buf;
    memset(p, 0, sizeof(*p));
    p->arena_buf = arena_buf;
    p->seq = ++s->rq_seq;
    void *priv = rq->priv;
    memset(rq, 0, sizeof(*rq));
    rq->priv = priv;
    rq->shard = s;
    rq->conn = c;
    rq->state = RQ_NEW;
    kafka_arena_init(&rq->arena, p->arena_buf, REQUEST_ARENA_SIZE);
    return rq;
}

void request_release(struct request *rq)
{
    struct request_priv *p = rq->priv;
    struct shard *s = rq->shard;
    if (p->chunk)
        chunk_put(s, p->chunk);
    free(p->heap);
    free(p->resp_heap);
    while (p->heap_more) {
        uint8_t *next;
        memcpy(&next, p->heap_more, sizeof(next));
        free(p->heap_more);
        p->heap_more = next;
    }
    p->heap = NULL;
    p->resp_heap = NULL;
    p->chunk = NULL;
    rq->next = s->free_requests;
    s->free_requests = rq;
}

/* A response is queued: send it if the connection is still there. */
static void request_done(struct request *rq)
{
    rq->state = RQ_DONE;
    if (rq->conn)
        conn_kick_send(rq->conn);
    else
        request_release(rq);
}

int request_respond_segs(struct request *rq, struct out_seg *segs, int nsegs)
{
    struct request_priv *p = rq->priv;
    shard_count_response(rq, segs, nsegs);
    p->segs = segs;
    p->nsegs = nsegs;
    request_done(rq);
    return 0;
}

void request_respond_none(struct request *rq)
{
    request_respond_segs(rq, NULL, 0);
}

/* Encodes resp into w: frame length, response header, body. */
static int encode_response(struct request *rq, struct kwriter *w, const void *resp)
{
    struct kafka_frame f = kafka_response_begin(w, rq->api_key, rq->api_version,
                                                rq->correlation_id);
    kafka_response_encode(w, rq->api_key, rq->api_version, resp);
    return kafka_response_end(w, f);
}

int request_respond(struct request *rq, const void *resp)
{
    struct request_priv *p = rq->priv;
    struct kafka_arena *a = &rq->arena;
    struct out_seg *seg = kafka_arena_alloc(a, sizeof(*seg));
    size_t at = (a->len + 7) & ~(size_t)7;
    struct kwriter w;
    if (seg && at < a->cap) {
        kwriter_init(&w, a->buf + at, a->cap - at);
        if (encode_response(rq, &w, resp) == 0) {
            a->len = at + w.len;
            *seg = (struct out_seg){ .p = a->buf + at, .len = (uint32_t)w.len };
            return request_respond_segs(rq, seg, 1);
        }
    }
    /* Too big for the arena: measure, then encode on the heap. */
    kwriter_init(&w, NULL, SIZE_MAX);
    if (encode_response(rq, &w, resp) < 0)
        return -EINVAL;
    size_t need = w.len;
    p->resp_heap = malloc(need + sizeof(struct out_seg));
    if (!p->resp_heap)
        return -ENOMEM;
    kwriter_init(&w, p->resp_heap + sizeof(struct out_seg), need);
    if (encode_response(rq, &w, resp) < 0)
        return -EINVAL;
    seg = (struct out_seg *)p->resp_heap;
    *seg = (struct out_seg){ .p = p->resp_heap + sizeof(struct out_seg), .len = (uint32_t)w.len };
    return request_respond_segs(rq, seg, 1);
}

void request_wait(struct request *rq, int (*poll)(struct request *rq), int64_t deadline_ms)
{
    struct request_priv *p = rq->priv;
    rq->state = RQ_WAITING;
    p->poll = poll;
    p->deadline_ms = deadline_ms;
    p->wait_next = rq->shard->waiting;
    rq->shard->waiting = rq;
}

/* Gives every waiting request a chance to finish; oldest first would be
 * nicer but is not needed: responses are re-ordered per connection.
 * Returns how many finished. */
int shard_poll_waiting(struct shard *s)
{
    txn_shard_poll(s); /* markers the coordinator waits for */
    /* Take the list: a poll may start new requests, which wait anew. */
    struct request *rq = s->waiting;
    int done = 0;
    s->waiting = NULL;
    while (rq) {
        struct request_priv *p = rq->priv;
        struct request *next = p->wait_next;
        p->wait_next = NULL;
        if (!p->poll(rq)) {
            p->wait_next = s->waiting;
            s->waiting = rq;
        } else {
            done++;
        }
        rq = next;
    }
    return done;
}

int64_t shard_next_deadline(const struct shard *s)
{
    int64_t next = INT64_MAX;
    for (const struct request *rq = s->waiting; rq;) {
        const struct request_priv *p = rq->priv;
        if (p->deadline_ms < next)
            next = p->deadline_ms;
        rq = p->wait_next;
    }
    return next;
}

int request_ctl_arena(struct request *rq, size_t len)
{
    void *buf = kafka_arena_alloc(&rq->arena, len);
    if (!buf)
        return -ENOMEM;
    rq->ctl.arena = (struct ctl_arena){ .buf = buf, .len = 0, .cap = len };
    return 0;
}

int request_post_ctl(struct request *rq, request_ctl_done done)
{
    rq->state = RQ_WAITING;
    rq->ctl_done = done;
    rq->ctl.shard = rq->shard->cfg.index;
    rq->ctl.cookie = rq;
    shard_post_ctl(rq->shard, &rq->ctl);
    return 0;
}

int request_arena_reserve(struct request *rq, size_t n)
{
    struct request_priv *p = rq->priv;
    struct kafka_arena *a = &rq->arena;
    size_t used = (a->len + 7) & ~(size_t)7;
    if (used <= a->cap && a->cap - used >= n)
        return 0;
    /* The block's first word links it to the one before (freed together). */
    size_t cap = n + REQUEST_ARENA_SIZE;
    uint8_t *block = malloc(sizeof(uint8_t *) + cap);
    if (!block)
        return -ENOMEM;
    memcpy(block, &p->heap_more, sizeof(uint8_t *));
    p->heap_more = block;
    kafka_arena_init(a, block + sizeof(uint8_t *), cap);
    return 0;
}

void *request_alloc(struct request *rq, size_t n)
{
    return kafka_arena_alloc(&rq->arena, n ? n : 1);
}

int request_cstr(struct request *rq, struct kstr s, const char **out)
{
    *out = NULL;
    if (s.len < 0)
        return 0;
    char *p = request_alloc(rq, (size_t)s.len + 1);
    if (!p)
        return -ENOMEM;
    for (int32_t i = 0; i < s.len; i++)
        p[i] = s.p[i] ? s.p[i] : '\x7f';
    p[s.len] = '\0';
    *out = p;
    return 0;
}

const struct md_snapshot *request_metadata(const struct request *rq)
{
    return rq->shard->md;
}

typedef int (*handler_fn)(struct request *rq);

static handler_fn handler_for(int16_t key)
{
    switch (key) {
    case KAFKA_PRODUCE: return handle_produce;
    case KAFKA_FETCH: return handle_fetch;
    case KAFKA_LIST_OFFSETS: return handle_list_offsets;
    case KAFKA_DELETE_RECORDS: return handle_delete_records;
    case KAFKA_METADATA: return handle_metadata;
    case KAFKA_FIND_COORDINATOR: return handle_find_coordinator;
    case KAFKA_CREATE_TOPICS: return handle_create_topics;
    case KAFKA_DELETE_TOPICS: return handle_delete_topics;
    case KAFKA_CREATE_PARTITIONS: return handle_create_partitions;
    case KAFKA_DESCRIBE_CONFIGS: return handle_describe_configs;
    case KAFKA_ALTER_CONFIGS: return handle_alter_configs;
    case KAFKA_INCREMENTAL_ALTER_CONFIGS: return handle_incremental_alter_configs;
    case KAFKA_DESCRIBE_CLUSTER: return handle_describe_cluster;
    case KAFKA_BROKER_REGISTRATION: return handle_broker_registration;
    case KAFKA_OFFSET_FOR_LEADER_EPOCH: return handle_offset_for_leader_epoch;
    case KAFKA_ALTER_PARTITION: return handle_alter_partition;
    case KAFKA_ELECT_LEADERS: return handle_elect_leaders;
    case KAFKA_ALTER_PARTITION_REASSIGNMENTS: return handle_alter_reassignments;
    case KAFKA_LIST_PARTITION_REASSIGNMENTS: return handle_list_reassignments;
    case KAFKA_DESCRIBE_TOPIC_PARTITIONS: return handle_describe_topic_partitions;
    case KAFKA_JOIN_GROUP: return handle_join_group;
    case KAFKA_SYNC_GROUP: return handle_sync_group;
    case KAFKA_HEARTBEAT: return handle_heartbeat;
    case KAFKA_LEAVE_GROUP: return handle_leave_group;
    case KAFKA_LIST_GROUPS: return handle_list_groups;
    case KAFKA_DESCRIBE_GROUPS: return handle_describe_groups;
    case KAFKA_DELETE_GROUPS: return handle_delete_groups;
    case KAFKA_OFFSET_COMMIT: return handle_offset_commit;
    case KAFKA_OFFSET_FETCH: return handle_offset_fetch;
    case KAFKA_OFFSET_DELETE: return handle_offset_delete;
    case KAFKA_INIT_PRODUCER_ID: return handle_init_producer_id;
    case KAFKA_ADD_PARTITIONS_TO_TXN: return handle_add_partitions_to_txn;
    case KAFKA_ADD_OFFSETS_TO_TXN: return handle_add_offsets_to_txn;
    case KAFKA_END_TXN: return handle_end_txn;
    case KAFKA_WRITE_TXN_MARKERS: return handle_write_txn_markers;
    case KAFKA_TXN_OFFSET_COMMIT: return handle_txn_offset_commit;
    case KAFKA_DESCRIBE_PRODUCERS: return handle_describe_producers;
    case KAFKA_LIST_TRANSACTIONS: return handle_list_transactions;
    case KAFKA_DESCRIBE_TRANSACTIONS: return handle_describe_transactions;
    case KAFKA_SASL_HANDSHAKE: return handle_sasl_handshake;
    case KAFKA_SASL_AUTHENTICATE: return handle_sasl_authenticate;
    case KAFKA_DESCRIBE_USER_SCRAM_CREDENTIALS: return handle_describe_user_scram;
    case KAFKA_ALTER_USER_SCRAM_CREDENTIALS: return handle_alter_user_scram;
    case KAFKA_DESCRIBE_ACLS: return handle_describe_acls;
    case KAFKA_CREATE_ACLS: return handle_create_acls;
    case KAFKA_DELETE_ACLS: return handle_delete_acls;
    default: return NULL;
    }
}

/* ApiVersions lists only the APIs this broker answers. */
static bool request_served(int16_t key)
{
    return key == KAFKA_API_VERSIONS || handler_for(key) != NULL;
}

static int request_reject(struct request *rq, const char *fmt, int a, int b)
{
    char why[160];
    snprintf(why, sizeof(why), fmt, a, b);
    rq->shard->metrics.requests_rejected++;
    if (rq->conn)
        conn_close(rq->conn, why);
    return -EBADMSG;
}

/* ApiVersions is answered straight from the API table, and for any
 * version: one we do not support gets the v0 answer with error 35. */
static int request_api_versions(struct request *rq)
{
    struct kafka_arena *a = &rq->arena;
    struct out_seg *seg = kafka_arena_alloc(a, sizeof(*seg));
    if (!seg)
        return -ENOMEM;
    size_t at = (a->len + 7) & ~(size_t)7;
    struct kwriter w;
    kwriter_init(&w, a->buf + at, a->cap - at);
    if (kafka_api_versions_reply(&w, rq->correlation_id, rq->api_version, 0, request_served) < 0)
        return -ENOMEM;
    a->len = at + w.len;
    *seg = (struct out_seg){ .p = a->buf + at, .len = (uint32_t)w.len };
    return request_respond_segs(rq, seg, 1);
}

int request_dispatch(struct request *rq, const uint8_t *frame, uint32_t len)
{
    struct kreader r;
    struct kafka_request_header h;
    if (rq->conn && sasl_wants_raw(rq->conn)) /* a raw token after SaslHandshake v0 */
        return sasl_raw_token(rq, frame, len);
    kreader_init(&r, frame, len);
    if (kafka_request_header_parse(&r, &h) < 0)
        return request_reject(rq, "malformed request header (%d bytes)%.0d", (int)len, 0);
    rq->api_key = h.api_key;
    rq->api_version = h.api_version;
    rq->correlation_id = h.correlation_id;
    rq->client_id = h.client_id;
    rq->flexible = kafka_api_is_flexible(h.api_key, h.api_version);
    rq->start_ns = shard_mono_ns();
    if (h.api_key >= 0 && h.api_key < METRICS_API_KEYS) {
        rq->shard->metrics.api[h.api_key].requests++;
        rq->shard->metrics.api[h.api_key].bytes_in += (uint64_t)len + 4;
    }
    if (rq->conn && !sasl_allows(rq->conn, h.api_key))
        return request_reject(rq, "API key %d (version %d) before SASL authentication",
                              h.api_key, h.api_version);
    if (h.api_key == KAFKA_API_VERSIONS)
        return request_api_versions(rq);

    handler_fn handle = handler_for(h.api_key);
    if (!handle || !kafka_api_find(h.api_key))
        return request_reject(rq, "unsupported API key %d (version %d)", h.api_key,
                              h.api_version);
    if (!kafka_api_supported(h.api_key, h.api_version))
        return request_reject(rq, "unsupported version %d of API key %d", h.api_version,
                              h.api_key);
    int rc = kafka_request_decode(&r, h.api_key, h.api_version, &rq->arena, &rq->body);
    if (rc == -ENOMEM) {
        /* A huge request (thousands of topics): give it a bigger arena. */
        struct request_priv *p = rq->priv;
        size_t cap = (size_t)len * 16 + REQUEST_ARENA_SIZE;
        p->heap = malloc(cap);
        if (!p->heap)
            return request_reject(rq, "no memory to decode a %d-byte request%.0d", (int)len, 0);
        kafka_arena_init(&rq->arena, p->heap, cap);
        kreader_init(&r, frame, len);
        kafka_request_header_parse(&r, &h);
        rc = kafka_request_decode(&r, h.api_key, h.api_version, &rq->arena, &rq->body);
    }
    if (rc < 0)
        return request_reject(rq, "malformed request: API key %d version %d", h.api_key,
                              h.api_version);
    if (authz_request(rq)) {   /* refused as a whole: answered with Kafka's error */
        rq->shard->served++;
        return 0;
    }
    rc = handle(rq);
    if (rc < 0)
        return request_reject(rq, "cannot answer API key %d: error %d", h.api_key, rc);
    rq->shard->served++;
    return 0;
}
