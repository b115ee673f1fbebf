/* handle_cluster.c - the Kafka messages between sluice nodes, both ends:
 * BrokerRegistration (62) received from another node (decoded here,
 * carried out by the control thread: CTL_REGISTER_NODE), and this node's
 * own registration sent to the controller leader when the control thread
 * asks (CTL_REGISTER_SEND, on shard 0, over a peer connection).
 *
 * A node registers as one Kafka broker id, node.id * 1000 (its shard 0),
 * with one listener per shard, named "SHARD<i>", in shard order: that is
 * how sluice's node of several brokers fits Kafka's message.
 *
 * Never: blocks; the control thread sees only the plain struct. */
#include "dataplane/shard_private.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_cluster.h"
#include "dataplane/peer.h"
#include "storage/kerr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTER_TIMEOUT_MS 5000
#define REGISTER_ARENA (256u << 10)

/* --- received: another node registers with us ---------------------------- */

static void registration_done(struct request *rq, struct ctl_msg *m)
{
    struct kafka_broker_registration_resp resp = {
        .error_code = m->u.reg.error, .broker_epoch = -1};

    if (request_respond(rq, &resp) < 0)
        conn_close(rq->conn, "cannot encode a BrokerRegistration response");
}

static int registration_refuse(struct request *rq, int16_t code)
{
    struct kafka_broker_registration_resp resp = {.error_code = code,
                                                  .broker_epoch = -1};
    return request_respond(rq, &resp);
}

int handle_broker_registration(struct request *rq)
{
    const struct kafka_broker_registration_req *req = rq->body;
    struct ctl_register r = {0};
    int32_t n = req->listeners.n;

    if (req->broker_id < 0 || md_broker_shard(req->broker_id) != 0 || n < 1 ||
        n > MD_NODE_SHARDS)
        return registration_refuse(rq, KERR_INVALID_REQUEST);
    r.node_id = md_broker_node(req->broker_id);
    r.nshards = n;
    if (!(r.brokers = request_alloc(rq, sizeof *r.brokers * (size_t)n)) ||
        request_cstr(rq, req->cluster_id, &r.cluster_id) < 0 ||
        request_cstr(rq, req->rack, &r.rack) < 0)
        return -ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const struct kafka_broker_registration_listener *l = &req->listeners.v[i];
        char want[16];
        snprintf(want, sizeof want, "SHARD%d", i);
        if (!kstr_eq(l->name, want) || l->host.len <= 0 ||
            l->host.len >= MD_HOST_MAX)
            return registration_refuse(rq, KERR_INVALID_REQUEST);
        if (request_cstr(rq, l->host, &r.brokers[i].host) < 0)
            return -ENOMEM;
        r.brokers[i].port = (uint16_t)l->port;
    }
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = CTL_REGISTER_NODE;
    rq->ctl.u.reg = r;
    return request_post_ctl(rq, registration_done);
}

/* --- sent: this node registers with the controller leader ------------------ */

struct registration {
    struct ctl_msg *msg;          /* CTL_REGISTER_SEND, posted back */
    struct peer *peer;
    int64_t deadline_ms;
    int32_t correlation_id;
};

static void registration_finish(struct shard *s, int result, int16_t error)
{
    struct registration *g = s->registration;

    s->registration = NULL;
    peer_close(g->peer);
    g->msg->u.reg.result = result;
    g->msg->u.reg.error = error;
    shard_post_ctl(s, g->msg);
    free(g);
}

static void on_registration_frame(struct peer *p, const uint8_t *frame,
                                  uint32_t len)
{
    struct shard *s = p->shard;
    struct registration *g = p->ctx;
    static uint8_t arena_buf[4096];
    struct kafka_arena arena;
    struct kreader r;
    void *body = NULL;

    kafka_arena_init(&arena, arena_buf, sizeof arena_buf);
    kreader_init(&r, frame, len);
    int32_t cid = kr_int32(&r);
    kr_tags_skip(&r);             /* response header v1: flexible */
    if (cid != g->correlation_id ||
        kafka_response_decode(&r, KAFKA_BROKER_REGISTRATION, 0, &arena,
                              &body) < 0 || !body) {
        registration_finish(s, -EPROTO, 0);
        return;
    }
    registration_finish(
        s, 0, ((const struct kafka_broker_registration_resp *)body)->error_code);
}

static void on_registration_error(struct peer *p, int err)
{
    struct shard *s = p->shard;
    struct registration *g = s->registration;

    g->peer = NULL;               /* gone with this call */
    registration_finish(s, err ? err : -ECONNRESET, 0);
}

static const struct peer_ops registration_ops = {
    .on_frame = on_registration_frame, .on_error = on_registration_error};

/* The request frame: length, header v2, body. */
static int registration_encode(struct shard *s, const struct ctl_register *r,
                               int32_t cid, uint8_t *buf, size_t cap,
                               size_t *len)
{
    static uint8_t arena_buf[REGISTER_ARENA];
    struct kafka_arena a;
    struct kafka_broker_registration_req req = {0};
    struct kwriter w;
    char client[32];

    kafka_arena_init(&a, arena_buf, sizeof arena_buf);
    req.broker_id = md_broker_id(r->node_id, 0);
    req.cluster_id = kstr_c(r->cluster_id);
    req.rack = kstr_c(r->rack);
    for (int i = 0; i < 16; i++)
        req.incarnation_id.b[i] = (uint8_t)(s->cfg.broker_id >> (i % 4 * 8));
    req.listeners.n = r->nshards;
    req.listeners.v = kafka_arena_alloc(&a, sizeof *req.listeners.v *
                                                (size_t)r->nshards);
    char (*names)[16] = kafka_arena_alloc(&a, 16 * (size_t)r->nshards);
    if (!req.listeners.v || !names)
        return -ENOMEM;
    for (int32_t i = 0; i < r->nshards; i++) {
        snprintf(names[i], 16, "SHARD%d", i);
        req.listeners.v[i] = (struct kafka_broker_registration_listener){
            .name = kstr_c(names[i]), .host = kstr_c(r->brokers[i].host),
            .port = (int16_t)r->brokers[i].port, .security_protocol = 0};
    }
    snprintf(client, sizeof client, "sluice-node-%d", r->node_id);
    struct kafka_request_header h = {
        .api_key = KAFKA_BROKER_REGISTRATION, .api_version = 0,
        .correlation_id = cid, .client_id = kstr_c(client), .version = 2};
    kwriter_init(&w, buf, cap);
    kw_int32(&w, 0);
    kafka_request_header_write(&w, &h);
    if (kafka_request_encode(&w, KAFKA_BROKER_REGISTRATION, 0, &req) < 0 ||
        w.len > cap)
        return -ENOSPC;
    kw_put_int32_at(&w, 0, (int32_t)(w.len - 4));
    *len = w.len;
    return 0;
}

void shard_send_registration(struct shard *s, struct ctl_msg *m)
{
    static uint8_t frame[REGISTER_ARENA];
    struct registration *g = calloc(1, sizeof *g);
    size_t len = 0;
    int rc;

    if (!g || s->registration) {
        free(g);
        m->u.reg.result = -EBUSY;
        shard_post_ctl(s, m);
        return;
    }
    g->msg = m;
    g->correlation_id = ++s->next_correlation_id;
    g->deadline_ms = s->mono_ms + REGISTER_TIMEOUT_MS;
    s->registration = g;
    rc = registration_encode(s, &m->u.reg, g->correlation_id, frame,
                             sizeof frame, &len);
    if (rc == 0 && !(g->peer = peer_open(s, m->u.reg.to_host, m->u.reg.to_port,
                                         &registration_ops, g)))
        rc = -EADDRNOTAVAIL;
    if (rc == 0)
        rc = peer_send(g->peer, frame, (uint32_t)len);
    if (rc < 0)
        registration_finish(s, rc, 0);
}

void shard_registration_tick(struct shard *s)
{
    if (s->registration && s->mono_ms >= s->registration->deadline_ms)
        registration_finish(s, -ETIMEDOUT, 0);
}
