/* conn_tls.c - a connection of an SSL or SASL_SSL listener: conn.c's
 * receive and send paths with OpenSSL between them and the socket.
 *
 * Receive: io_uring receives ciphertext into the connection's own buffer;
 * it is fed to the TLS engine (tls.h), and plaintext is read out of it
 * into the receive chunk, frame by frame as conn_parse consumes them, so
 * requests are framed and dispatched exactly as on a plaintext connection.
 * Plaintext still inside the engine while the connection is paused (or
 * has queued.max.requests in flight) is read out when it resumes, before
 * the next receive is armed.
 *
 * Send: finished responses are encrypted in request order, at most
 * TLS_PLAIN_BUDGET bytes per send, and the ciphertext leaves in one
 * io_uring send at a time (conn.c's send_op). Fetched file ranges cannot
 * be spliced through TLS: a range in the page cache is read with
 * preadv2(RWF_NOWAIT), anything else with an io_uring read, so the shard
 * never waits on the disk; the bytes are encrypted as they arrive.
 *
 * Never: blocks, or touches a plaintext connection (conn.c calls in only
 * when c->tls is set). */
#include "dataplane/shard_private.h"
#include "dataplane/tls.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define TLS_IN_SIZE (64u << 10)       /* ciphertext per receive */
#define TLS_OUT_SIZE (256u << 10)     /* ciphertext per send, at most */
#define TLS_PLAIN_BUDGET (128u << 10) /* plaintext encrypted per send */
#define TLS_FILE_STEP (64u << 10)     /* file bytes read per step */

struct conn_tls {
    struct conn *c;
    struct tls_conn *t;
    uint8_t *in;
    uint8_t *out;                     /* out[out_off..out_len) being sent */
    uint32_t out_len, out_off;
    uint8_t *fbuf;                    /* TLS_FILE_STEP: a file range piece */
    bool reading;                     /* an io_uring read into fbuf */
    int read_fd;                      /* ... of this file */
    bool named;                       /* principal set after the handshake */
    bool fed;                         /* first ciphertext seen: first_byte */
    uint8_t first_byte;               /* 0x16 for a TLS handshake record */
    struct io_op read_op;
    char principal[256];              /* "User:CN=...", or User:ANONYMOUS */
};

static void on_file_read(struct io_op *op, int res, uint32_t flags);

int conn_tls_init(struct conn *c, struct tls_ctx *ctx)
{
    struct conn_tls *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->c = c;
    x->t = tls_conn_create(ctx);
    x->in = malloc(TLS_IN_SIZE);
    x->out = malloc(TLS_OUT_SIZE);
    x->fbuf = malloc(TLS_FILE_STEP);
    x->read_op.complete = on_file_read;
    c->tls = x;
    if (!x->t || !x->in || !x->out || !x->fbuf) {
        conn_tls_destroy(c);
        return -ENOMEM;
    }
    return 0;
}

void conn_tls_destroy(struct conn *c)
{
    struct conn_tls *x = c->tls;
    if (!x)
        return;
    tls_conn_destroy(x->t);
    free(x->in);
    free(x->out);
    free(x->fbuf);
    free(x);
    c->tls = NULL;
}

const char *conn_tls_principal(const struct conn *c)
{
    return c->tls && c->tls->named ? c->tls->principal : NULL;
}

int conn_tls_feed(struct conn *c, int res)
{
    struct conn_tls *x = c->tls;
    if (!x->fed) {
        x->fed = true;
        x->first_byte = x->in[0];
    }
    return tls_conn_feed(x->t, x->in, (size_t)res);
}

/* A failed handshake: the alert OpenSSL wrote (unknown CA, certificate
 * required, protocol version) goes out with one non-blocking send so the
 * client can say why, then the connection closes with the reason logged.
 * Once per refused connection, never on the data path. */
static void conn_tls_refuse(struct conn *c)
{
    struct conn_tls *x = c->tls;
    char why[224];
    if (x->first_byte != 0x16) /* a TLS record starts with 0x16 (handshake) */
        snprintf(why, sizeof why, "not a TLS handshake on %s listener %s (a plaintext "
                 "client? first byte 0x%02x)",
                 config_protocol_name(c->shard->cfg.listeners->l[c->listener].protocol),
                 c->shard->cfg.listeners->l[c->listener].name, x->first_byte);
    else
        snprintf(why, sizeof why, "%s", tls_conn_error(x->t));
    if (!c->send_busy && x->out_off == x->out_len) {
        size_t n = tls_conn_take(x->t, x->out, TLS_OUT_SIZE);
        /* best effort: a peer already gone has nothing to be told */
        ssize_t sent = n > 0 ? send(c->fd, x->out, n, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
        (void)sent;
    }
    conn_close(c, why);
}

/* Reads plaintext out of the engine into the chunk, parsing as it goes.
 * Returns 0 when the engine needs more ciphertext, 1 when parsing had to
 * stop (paused, too many requests) with plaintext left inside, or -1 when
 * the connection closed. */
static int conn_tls_pull(struct conn *c)
{
    struct conn_tls *x = c->tls;
    while (tls_conn_has_input(x->t)) {
        if (c->closing)
            return -1;
        if (c->paused || c->nrequests >= c->shard->cfg.broker->queued_max_requests)
            return 1;
        if (conn_make_room(c) < 0) {
            conn_close(c, "out of memory for a receive buffer");
            return -1;
        }
        struct chunk *ch = c->chunk;
        int n = tls_conn_read(x->t, ch->data + ch->len, ch->cap - ch->len);
        if (!x->named && tls_conn_established(x->t)) {
            char name[sizeof x->principal - 8];
            tls_conn_peer_name(x->t, name, sizeof name);
            snprintf(x->principal, sizeof x->principal, "User:%s", name);
            x->named = true;
        }
        if (n == -EPROTO && !tls_conn_established(x->t)) {
            conn_tls_refuse(c);
            return -1;
        }
        if (n < 0) {
            conn_close(c, n == -ECONNRESET ? NULL : tls_conn_error(x->t));
            return -1;
        }
        if (n == 0)
            break;
        ch->len += (uint32_t)n;
        conn_parse(c);
    }
    return c->closing ? -1 : 0;
}

void conn_tls_arm_recv(struct conn *c)
{
    struct conn_tls *x = c->tls;
    int rc = conn_tls_pull(c);
    if (tls_conn_pending(x->t) > 0)
        conn_kick_send(c); /* handshake records, session tickets */
    if (rc != 0 || c->closing || c->recv_armed)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
    if (!sqe) {
        io_uring_submit(&c->shard->ring);
        sqe = io_uring_get_sqe(&c->shard->ring);
    }
    io_uring_prep_recv(sqe, c->fd, x->in, TLS_IN_SIZE, 0);
    io_uring_sqe_set_data(sqe, &c->recv_op);
    c->recv_armed = true;
    c->inflight++;
}

/* The next piece of a file range: from the page cache at once (returns the
 * bytes), or by an io_uring read that continues in on_file_read (0), or
 * -1 when the connection closed. */
static int conn_tls_read_file(struct conn *c, const struct out_seg *seg, uint32_t off,
                              uint32_t len)
{
    struct conn_tls *x = c->tls;
    struct iovec iov = { x->fbuf, len };
    ssize_t n = preadv2(seg->fd, &iov, 1, (off_t)(seg->pos + off), RWF_NOWAIT);
    if (n > 0)
        return (int)n;
    if (n == 0) {
        conn_close(c, "fetched file range ended early");
        return -1;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
    if (!sqe) {
        io_uring_submit(&c->shard->ring);
        sqe = io_uring_get_sqe(&c->shard->ring);
    }
    io_uring_prep_read(sqe, seg->fd, x->fbuf, len, seg->pos + off);
    io_uring_sqe_set_data(sqe, &x->read_op);
    x->read_fd = seg->fd;
    x->reading = true;
    conn_hold(c);
    return 0;
}

/* Encrypts finished responses in order, up to the budget. */
static void conn_tls_encrypt(struct conn *c)
{
    struct conn_tls *x = c->tls;
    uint32_t budget = TLS_PLAIN_BUDGET;
    conn_advance(c, 0);
    while (budget > 0 && !x->reading && !c->closing &&
           tls_conn_pending(x->t) < TLS_OUT_SIZE / 2) {
        struct request *rq = c->head;
        if (!rq || rq->state != RQ_DONE)
            return;
        struct request_priv *p = rq->priv;
        if (p->seg >= p->nsegs || p->segs[p->seg].len == p->seg_off) {
            conn_advance(c, 0);
            continue;
        }
        const struct out_seg *seg = &p->segs[p->seg];
        uint32_t len = seg->len - p->seg_off;
        if (len > budget)
            len = budget;
        const uint8_t *src = seg->p ? seg->p + p->seg_off : x->fbuf;
        if (!seg->p) {
            int n = conn_tls_read_file(c, seg, p->seg_off,
                                       len < TLS_FILE_STEP ? len : TLS_FILE_STEP);
            if (n <= 0)
                return;
            len = (uint32_t)n;
        }
        if (tls_conn_write(x->t, src, len) < 0) {
            conn_close(c, tls_conn_error(x->t));
            return;
        }
        conn_advance(c, len);
        budget -= len;
    }
}

void conn_tls_kick_send(struct conn *c)
{
    struct conn_tls *x = c->tls;
    if (c->send_busy || c->closing)
        return;
    if (tls_conn_established(x->t))
        conn_tls_encrypt(c);
    if (c->closing)
        return;
    if (x->out_off == x->out_len) {
        x->out_off = 0;
        x->out_len = (uint32_t)tls_conn_take(x->t, x->out, TLS_OUT_SIZE);
    }
    if (x->out_off == x->out_len)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
    if (!sqe) {
        io_uring_submit(&c->shard->ring);
        sqe = io_uring_get_sqe(&c->shard->ring);
    }
    io_uring_prep_send(sqe, c->fd, x->out + x->out_off, x->out_len - x->out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, &c->send_op);
    c->send_busy = true;
    c->inflight++;
}

void conn_tls_sent(struct conn *c, int res)
{
    c->tls->out_off += (uint32_t)res;
}

static void on_file_read(struct io_op *op, int res, uint32_t flags)
{
    struct conn_tls *x = (struct conn_tls *)((char *)op - offsetof(struct conn_tls, read_op));
    struct conn *c = x->c;
    (void)flags;
    x->reading = false;
    if (!c->closing) {
        struct request *rq = c->head;
        if (res == 0 || res == -ECANCELED) {
            conn_close(c, res == 0 ? "fetched file range ended early" : strerror(-res));
        } else if (res < 0) {
            conn_file_read_failed(c, x->read_fd, res); /* a disk fault: offline */
        } else if (tls_conn_write(x->t, x->fbuf, (size_t)res) < 0) {
            conn_close(c, tls_conn_error(x->t));
        } else if (rq) {
            conn_advance(c, (uint64_t)res);
            conn_kick_send(c);
        }
    }
    conn_unhold(c);
}
