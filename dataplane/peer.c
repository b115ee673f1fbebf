/* peer.c - a shard's outbound connection to another node's broker, as a
 * Kafka client: connect, send request frames, hand back response frames.
 *
 * Owns: the socket and its io_uring operations (connect, send, receive,
 * close), the outgoing bytes not yet sent and the incoming bytes not yet
 * framed. Requests are the caller's encoded frames (length prefix
 * included); each response frame goes to on_frame without its length
 * prefix, in the order the peer answered (Kafka answers in request order).
 *
 * It is what a node uses to reach the controller leader (the broker
 * registration of dataplane/handle_cluster.c, a leader's AlterPartition)
 * and what a follower replica's fetcher uses to reach its leader's shard
 * (dataplane/replica_fetch.c): a fetch response's buffer can be kept by
 * the caller (peer_keep_frame) so fetched batches are appended from it
 * without a copy; buffers come back (peer_recycle) for the next receive.
 *
 * Never: blocks; touches a log or the control thread's state. A peer that
 * fails (connect refused, reset, a bad frame) closes and reports once
 * through on_error; the caller opens a new one to retry. */
#include "dataplane/peer.h"
#include "dataplane/shard_private.h"
#include "storage/batch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_OF(op, member) ((struct peer *)((char *)(op) - offsetof(struct peer, member)))
#define PEER_FRAME_MAX (64u << 20)
#define PEER_IN_CHUNK (64u << 10)

static void peer_arm_recv(struct peer *p);
static void peer_kick(struct peer *p);

static struct io_uring_sqe *peer_sqe(struct peer *p)
{
    struct io_uring *ring = &p->shard->ring;
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

    if (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

/* Frees the peer once nothing is in flight; its owner learnt of the end
 * through on_error already. */
static void peer_maybe_free(struct peer *p)
{
    if (p->state != PEER_CLOSED || p->inflight > 0)
        return;
    if (p->fd >= 0)
        close(p->fd);
    free(p->out);
    free(p->in);
    free(p->spare);
    p->shard->npeers--;
    free(p);
}

/* Cancels what is in flight (the socket is closed once it has all come
 * back, so no completion ever meets a reused descriptor). */
static void peer_cancel(struct peer *p, struct io_op *op)
{
    struct io_uring_sqe *sqe = peer_sqe(p);

    if (!sqe)
        return;
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data(sqe, NULL);
}

static void peer_fail(struct peer *p, int err)
{
    if (p->state == PEER_CLOSED)
        return;
    if (p->state == PEER_CONNECTING)
        peer_cancel(p, &p->connect_op);
    if (p->receiving)
        peer_cancel(p, &p->recv_op);
    if (p->sending)
        peer_cancel(p, &p->send_op);
    p->state = PEER_CLOSED;
    if (p->fd >= 0)
        shutdown(p->fd, SHUT_RDWR);
    if (p->on_error && !p->detached)
        p->on_error(p, err);
    peer_maybe_free(p);
}

static void on_connect(struct io_op *op, int res, uint32_t flags)
{
    struct peer *p = PEER_OF(op, connect_op);

    (void)flags;
    p->inflight--;
    if (p->state == PEER_CLOSED) {
        peer_maybe_free(p);
        return;
    }
    if (res < 0) {
        peer_fail(p, res);
        return;
    }
    p->state = PEER_UP;
    peer_arm_recv(p);
    peer_kick(p);
}

static void on_send(struct io_op *op, int res, uint32_t flags)
{
    struct peer *p = PEER_OF(op, send_op);

    (void)flags;
    p->inflight--;
    p->sending = false;
    if (p->state == PEER_CLOSED) {
        peer_maybe_free(p);
        return;
    }
    if (res <= 0) {
        peer_fail(p, res < 0 ? res : -EPIPE);
        return;
    }
    p->outoff += (uint32_t)res;
    if (p->outoff == p->outlen)
        p->outoff = p->outlen = 0;
    peer_kick(p);
}

/* After on_frame kept the buffer: the bytes after the frame (at) move
 * to a buffer of the peer's own. 0 or -ENOMEM. */
static int peer_swap_buffer(struct peer *p, uint32_t at)
{
    uint32_t rest = p->inlen - at, need = rest + PEER_IN_CHUNK * 2;
    uint8_t *buf = p->spare;
    uint32_t cap = p->sparecap;

    if (!buf || cap < need) {
        free(buf);
        cap = need;
        if (!(buf = malloc(cap)))
            return -ENOMEM;
    }
    p->spare = NULL;
    p->sparecap = 0;
    memcpy(buf, p->in + at, rest);
    p->in = buf;
    p->incap = cap;
    p->inlen = rest;
    return 0;
}

/* Hands every complete frame to on_frame, then keeps what is left. */
static void peer_parse(struct peer *p)
{
    uint32_t at = 0;

    while (p->state == PEER_UP && p->inlen - at >= 4) {
        uint32_t size = be32_load(p->in + at);
        if (size > PEER_FRAME_MAX) {
            peer_fail(p, -EPROTO);
            return;
        }
        if (p->inlen - at - 4 < size)
            break;
        p->keep = false;
        p->on_frame(p, p->in + at + 4, size);
        at += 4 + size;
        if (p->keep) {
            p->keep = false;
            if (peer_swap_buffer(p, at) < 0) {
                p->in = NULL;           /* the caller's now */
                p->inlen = p->incap = 0;
                peer_fail(p, -ENOMEM);
                return;
            }
            at = 0;
        }
    }
    if (p->state != PEER_UP)
        return;
    memmove(p->in, p->in + at, p->inlen - at);
    p->inlen -= at;
}

static void on_recv(struct io_op *op, int res, uint32_t flags)
{
    struct peer *p = PEER_OF(op, recv_op);

    (void)flags;
    p->inflight--;
    p->receiving = false;
    if (p->state == PEER_CLOSED) {
        peer_maybe_free(p);
        return;
    }
    if (res <= 0) {
        peer_fail(p, res < 0 ? res : -ECONNRESET);
        return;
    }
    p->inlen += (uint32_t)res;
    p->inflight++;                  /* on_frame may close the peer */
    peer_parse(p);
    p->inflight--;
    if (p->state == PEER_CLOSED) {
        peer_maybe_free(p);
        return;
    }
    peer_arm_recv(p);
}

static void peer_arm_recv(struct peer *p)
{
    struct io_uring_sqe *sqe;

    if (p->receiving || p->state != PEER_UP)
        return;
    if (p->incap - p->inlen < PEER_IN_CHUNK) {
        uint32_t need = p->inlen >= 4 ? be32_load(p->in) + 4 : 0;
        uint32_t cap = p->incap ? p->incap * 2 : PEER_IN_CHUNK * 2;
        while (cap < need + PEER_IN_CHUNK)
            cap *= 2;
        uint8_t *in = realloc(p->in, cap);
        if (!in) {
            peer_fail(p, -ENOMEM);
            return;
        }
        p->in = in;
        p->incap = cap;
    }
    if (!(sqe = peer_sqe(p))) {
        peer_fail(p, -EBUSY);
        return;
    }
    io_uring_prep_recv(sqe, p->fd, p->in + p->inlen, p->incap - p->inlen, 0);
    io_uring_sqe_set_data(sqe, &p->recv_op);
    p->receiving = true;
    p->inflight++;
}

static void peer_kick(struct peer *p)
{
    struct io_uring_sqe *sqe;

    if (p->sending || p->state != PEER_UP || p->outoff == p->outlen)
        return;
    if (!(sqe = peer_sqe(p))) {
        peer_fail(p, -EBUSY);
        return;
    }
    io_uring_prep_send(sqe, p->fd, p->out + p->outoff, p->outlen - p->outoff,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, &p->send_op);
    p->sending = true;
    p->inflight++;
}

struct peer *peer_open(struct shard *s, const char *host, int port,
                       const struct peer_ops *ops, void *ctx)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    struct io_uring_sqe *sqe;
    char portstr[16];
    struct peer *p = calloc(1, sizeof *p);
    int one = 1;

    if (!p)
        return NULL;
    p->shard = s;
    s->npeers++;                    /* until peer_maybe_free */
    p->fd = -1;
    p->ctx = ctx;
    p->on_frame = ops->on_frame;
    p->on_error = ops->on_error;
    p->connect_op.complete = on_connect;
    p->send_op.complete = on_send;
    p->recv_op.complete = on_recv;
    snprintf(portstr, sizeof portstr, "%d", port);
    /* Addresses come from the metadata: numeric, so no resolver blocks. */
    hints.ai_flags |= AI_NUMERICHOST;
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res ||
        res->ai_addrlen > sizeof p->addr) {
        if (res)
            freeaddrinfo(res);
        s->npeers--;
        free(p);
        return NULL;
    }
    memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
    p->addrlen = (socklen_t)res->ai_addrlen;
    p->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    freeaddrinfo(res);
    if (p->fd < 0 || !(sqe = peer_sqe(p))) {
        if (p->fd >= 0)
            close(p->fd);
        s->npeers--;
        free(p);
        return NULL;
    }
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    io_uring_prep_connect(sqe, p->fd, (struct sockaddr *)&p->addr, p->addrlen);
    io_uring_sqe_set_data(sqe, &p->connect_op);
    p->state = PEER_CONNECTING;
    p->inflight++;
    return p;
}

int peer_send(struct peer *p, const uint8_t *frame, uint32_t len)
{
    if (p->state == PEER_CLOSED)
        return -EPIPE;
    if (p->outlen + len > p->outcap) {
        uint32_t cap = p->outcap ? p->outcap : 4096;
        while (cap < p->outlen + len)
            cap *= 2;
        uint8_t *out = realloc(p->out, cap);
        if (!out)
            return -ENOMEM;
        p->out = out;
        p->outcap = cap;
    }
    memcpy(p->out + p->outlen, frame, len);
    p->outlen += len;
    peer_kick(p);
    return 0;
}

void peer_close(struct peer *p)
{
    if (!p)
        return;
    p->detached = true;             /* the owner lets go: no callback */
    peer_fail(p, 0);
}

uint8_t *peer_keep_frame(struct peer *p, uint32_t *cap)
{
    p->keep = true;
    *cap = p->incap;
    return p->in;
}

void peer_recycle(struct peer *p, uint8_t *buf, uint32_t cap)
{
    if (!p || p->spare || p->state == PEER_CLOSED) {
        free(buf);
        return;
    }
    p->spare = buf;
    p->sparecap = cap;
}
