/* conn.c - one client connection: receiving and framing requests, and
 * sending responses in request order.
 *
 * Receive: one io_uring recv at a time into a chunk. Complete frames are
 * handed to request_dispatch in place (no copy): each request holds a
 * reference on its chunk, so produce batches can be appended to a log
 * straight from the receive buffer and stay valid until written. A frame
 * that does not fit the rest of a chunk moves, with only its received
 * prefix copied, to a fresh chunk.
 *
 * Send: responses leave in request order. Memory segments of consecutive
 * finished responses go out together in one sendmsg; file ranges (fetched
 * record data) are spliced file -> pipe -> socket, never read into user
 * space, except small ones already in the page cache (see conn_copy_tail).
 * One send operation is in flight per connection at a time.
 *
 * TLS (an SSL listener's connection, c->tls): conn_tls.c takes over the
 * receive and send steps between the socket and the same framing.
 *
 * Closing: the socket is shut down and in-flight operations cancelled; the
 * struct is freed when the last completion arrives. Requests still waiting
 * on a log or on the control thread are detached and finish on their own. */
#include "dataplane/shard_private.h"
#include "dataplane/sasl.h"
#include "storage/batch.h"
#include "slog/slog.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_OF(op, member) ((struct conn *)((char *)(op) - offsetof(struct conn, member)))
#define PIPE_SIZE (1u << 20)
/* File ranges up to this size that are in the page cache are read and sent
 * with the response instead of spliced (conn_copy_tail). */
#define TAIL_COPY_MAX (16u * 1024)

static void conn_arm_recv(struct conn *c);
static void conn_free_if_idle(struct conn *c);

/* Keeps c alive across work that may close it (a handler's error closes
 * the connection; the struct goes only when nothing holds it). */
void conn_hold(struct conn *c)
{
    c->inflight++;
}

void conn_unhold(struct conn *c)
{
    c->inflight--;
    if (c->closing)
        conn_free_if_idle(c);
}

struct chunk *chunk_get(struct shard *s, uint32_t min_cap)
{
    struct chunk *ch;
    if (min_cap <= CHUNK_SIZE && s->free_chunks) {
        ch = s->free_chunks;
        s->free_chunks = ch->next;
    } else {
        uint32_t cap = min_cap > CHUNK_SIZE ? min_cap : CHUNK_SIZE;
        ch = malloc(sizeof(*ch) + cap);
        if (!ch)
            return NULL;
        ch->cap = cap;
    }
    ch->next = NULL;
    ch->refs = 1;
    ch->len = 0;
    return ch;
}

void chunk_put(struct shard *s, struct chunk *ch)
{
    if (--ch->refs > 0)
        return;
    if (ch->cap == CHUNK_SIZE) {
        ch->next = s->free_chunks;
        s->free_chunks = ch;
    } else {
        free(ch);
    }
}

static void on_recv(struct io_op *op, int res, uint32_t flags);
static void on_send(struct io_op *op, int res, uint32_t flags);
static void on_splice_in(struct io_op *op, int res, uint32_t flags);
static void on_splice_out(struct io_op *op, int res, uint32_t flags);
static void on_cancel(struct io_op *op, int res, uint32_t flags);

/* Logs a refused connection: the first, then at most one line a second
 * with the count refused meanwhile (a connection storm is not a log storm). */
static void conn_log_refused(struct shard *s, const char *peer, const char *why)
{
    s->metrics.conns_refused++;
    if (s->refused_log_ms && s->mono_ms - s->refused_log_ms < 1000)
        return;
    slog(SLOG_WARN, "shard", "connection refused shard=%d peer=%s reason=\"%s\" refused=%llu",
         s->cfg.index, peer, why, (unsigned long long)s->metrics.conns_refused);
    s->refused_log_ms = s->mono_ms ? s->mono_ms : 1;
}

int conn_accept(struct shard *s, int fd)
{
    return conn_accept_on(s, fd, 0);
}

int conn_accept_on(struct shard *s, int fd, int listener)
{
    struct conn_peer peer;
    char why[160];
    if (conn_peer_of(fd, &peer) < 0) {
        close(fd); /* gone before we looked: nothing to serve */
        return -ENOTCONN;
    }
    if (!conn_limits_admit(s->cfg.broker, &peer, why, sizeof(why))) {
        conn_log_refused(s, peer.text, why);
        close(fd);
        return -EMFILE;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        conn_limits_release(s->cfg.broker, &peer);
        close(fd);
        return -ENOMEM;
    }
    c->peer = peer;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->shard = s;
    c->fd = fd;
    c->id = ++s->next_conn_id;
    c->pipe[0] = c->pipe[1] = -1;
    c->recv_op.complete = on_recv;
    c->send_op.complete = on_send;
    c->splice_in_op.complete = on_splice_in;
    c->splice_out_op.complete = on_splice_out;
    c->close_op.complete = on_cancel;
    c->chunk = chunk_get(s, CHUNK_SIZE);
    if (!c->chunk) {
        conn_limits_release(s->cfg.broker, &peer);
        close(fd);
        free(c);
        return -ENOMEM;
    }
    c->listener = (uint8_t)listener;
    if ((listener_is_tls(s->cfg.listeners, listener) &&
         conn_tls_init(c, s->cfg.listeners->tls) < 0) ||
        (listener_is_sasl(s->cfg.listeners, listener) && conn_sasl_init(c) < 0)) {
        conn_tls_destroy(c);
        chunk_put(s, c->chunk);
        conn_limits_release(s->cfg.broker, &peer);
        close(fd);
        free(c);
        return -ENOMEM;
    }
    c->last_active_ms = s->mono_ms;
    c->next = s->conns;
    s->conns = c;
    s->metrics.conns_accepted++;
    s->metrics.conns_open++;
    conn_arm_recv(c);
    return 0;
}

/* Makes room in the receive chunk for the rest of the current frame. */
int conn_make_room(struct conn *c)
{
    struct chunk *ch = c->chunk;
    uint32_t partial = ch->len - c->parse;
    uint64_t need = 4096;
    if (partial >= 4) {
        int32_t size = (int32_t)be32_load(ch->data + c->parse);
        need = (uint64_t)size + 4 - partial;
    }
    if (ch->cap - ch->len >= need || ch->cap - ch->len >= 64 * 1024)
        return 0;
    if (ch->refs == 1 && c->parse > 0 && (uint64_t)ch->cap - partial >= need) {
        /* Nobody else points into it: slide the partial frame down. */
        memmove(ch->data, ch->data + c->parse, partial);
        ch->len = partial;
        c->parse = 0;
        return 0;
    }
    uint64_t cap = partial + need;
    if (cap < CHUNK_SIZE)
        cap = CHUNK_SIZE;
    struct chunk *fresh = chunk_get(c->shard, (uint32_t)cap);
    if (!fresh)
        return -ENOMEM;
    memcpy(fresh->data, ch->data + c->parse, partial);
    fresh->len = partial;
    c->parse = 0;
    c->chunk = fresh;
    chunk_put(c->shard, ch);
    return 0;
}

static void conn_arm_recv(struct conn *c)
{
    if (c->closing || c->recv_armed || c->paused ||
        c->nrequests >= c->shard->cfg.broker->queued_max_requests ||
        c->shard->stopping)
        return;
    if (c->tls) {
        conn_tls_arm_recv(c);
        return;
    }
    if (conn_make_room(c) < 0) {
        conn_close(c, "out of memory for a receive buffer");
        return;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
    if (!sqe) {
        io_uring_submit(&c->shard->ring);
        sqe = io_uring_get_sqe(&c->shard->ring);
    }
    struct chunk *ch = c->chunk;
    io_uring_prep_recv(sqe, c->fd, ch->data + ch->len, ch->cap - ch->len, 0);
    io_uring_sqe_set_data(sqe, &c->recv_op);
    c->recv_armed = true;
    c->inflight++;
}

/* Hands every complete frame to request_dispatch. */
void conn_parse(struct conn *c)
{
    uint32_t max = (uint32_t)c->shard->cfg.broker->socket_request_max_bytes;
    int32_t queued_max = c->shard->cfg.broker->queued_max_requests;
    while (!c->closing && !c->paused && c->nrequests < queued_max) {
        struct chunk *ch = c->chunk;
        uint32_t avail = ch->len - c->parse;
        if (avail < 4)
            return;
        int32_t size = (int32_t)be32_load(ch->data + c->parse);
        if (size < 0 || (uint32_t)size > max) {
            char why[128];
            snprintf(why, sizeof(why), "frame of %d bytes is outside 0..%u "
                     "(socket.request.max.bytes)", size, max);
            conn_close(c, why);
            return;
        }
        if (avail - 4 < (uint32_t)size)
            return;
        struct request *rq = request_get(c->shard, c);
        if (!rq) {
            conn_close(c, "out of memory for a request");
            return;
        }
        struct request_priv *p = rq->priv;
        p->chunk = ch;
        ch->refs++;
        if (c->tail)
            c->tail->next = rq;
        else
            c->head = rq;
        c->tail = rq;
        c->nrequests++;
        const uint8_t *frame = ch->data + c->parse + 4;
        c->parse += 4 + (uint32_t)size;
        if (request_dispatch(rq, frame, (uint32_t)size) < 0)
            return; /* the dispatcher closed the connection and said why */
    }
}

static void on_recv(struct io_op *op, int res, uint32_t flags)
{
    struct conn *c = CONN_OF(op, recv_op);
    (void)flags;
    c->inflight--;
    c->recv_armed = false;
    if (c->closing) {
        conn_free_if_idle(c);
        return;
    }
    if (res <= 0) {
        if (res == 0 || res == -ECONNRESET)
            conn_close(c, NULL);
        else
            conn_close(c, strerror(-res));
        return;
    }
    if (!c->tls)
        c->chunk->len += (uint32_t)res;
    else if (conn_tls_feed(c, res) < 0) {
        conn_close(c, "out of memory for TLS input");
        return;
    }
    c->last_active_ms = c->shard->mono_ms;
    conn_hold(c);
    conn_parse(c);
    conn_arm_recv(c);
    conn_unhold(c);
}

void conn_resume(struct conn *c)
{
    if (!c->paused || c->closing)
        return;
    c->paused = false;
    conn_hold(c);
    conn_parse(c);
    conn_arm_recv(c);
    conn_unhold(c);
}

/* Drops sent bytes from the head of the response queue, releasing every
 * request that is fully sent. */
void conn_advance(struct conn *c, uint64_t n)
{
    while (c->head && c->head->state == RQ_DONE) {
        struct request *rq = c->head;
        struct request_priv *p = rq->priv;
        while (p->seg < p->nsegs) {
            uint32_t left = p->segs[p->seg].len - p->seg_off;
            if (n == 0 && left > 0)
                break;
            if (n < left) {
                p->seg_off += (uint32_t)n;
                return;
            }
            n -= left;
            p->seg++;
            p->seg_off = 0;
        }
        if (p->seg < p->nsegs)
            return;
        c->head = rq->next;
        if (!c->head)
            c->tail = NULL;
        c->nrequests--;
        request_release(rq);
    }
}

static int conn_start_splice(struct conn *c, const struct out_seg *seg, uint32_t off)
{
    struct io_uring *ring = &c->shard->ring;
    if (c->pipe[0] < 0) {
        if (pipe2(c->pipe, O_CLOEXEC) < 0)
            return -errno;
        fcntl(c->pipe[1], F_SETPIPE_SZ, PIPE_SIZE); /* best effort */
    }
    if (io_uring_sq_space_left(ring) < 2)
        io_uring_submit(ring);
    if (c->pipe_bytes == 0) {
        uint32_t len = seg->len - off;
        if (len > PIPE_SIZE)
            len = PIPE_SIZE;
        struct io_uring_sqe *in = io_uring_get_sqe(ring);
        io_uring_prep_splice(in, seg->fd, (int64_t)(seg->pos + off), c->pipe[1], -1, len,
                             SPLICE_F_MOVE);
        io_uring_sqe_set_data(in, &c->splice_in_op);
        in->flags |= IOSQE_IO_LINK;
        c->splice_len = len;
        c->splice_fd = seg->fd;
        c->splice_pending++;
        c->inflight++;
    }
    struct io_uring_sqe *out = io_uring_get_sqe(ring);
    uint32_t out_len = c->pipe_bytes ? c->pipe_bytes : c->splice_len;
    io_uring_prep_splice(out, c->pipe[0], -1, c->fd, -1, out_len, SPLICE_F_MOVE);
    io_uring_sqe_set_data(out, &c->splice_out_op);
    c->splice_pending++;
    c->inflight++;
    c->send_busy = true;
    return 0;
}

/* A tailing consumer's fetch answers carry a few hundred bytes of records.
 * Splicing them costs two io_uring operations that io_uring always runs in
 * its kernel worker threads (io-wq): two thread hand-offs, 33-53 us per
 * answer measured at 1k fetches/s (bench/native_latency), against ~1 us to
 * copy the bytes. So a range of at most TAIL_COPY_MAX that is in the page
 * cache (preadv2 RWF_NOWAIT: never a disk wait on the shard thread) is read
 * into the connection's tail buffer and goes out in the same sendmsg as
 * the response around it; anything larger or not cached keeps the
 * zero-copy splice path. Returns the bytes read into tail_buf + used, or 0
 * to splice instead. */
static uint32_t conn_copy_tail(struct conn *c, const struct out_seg *seg, uint32_t off,
                               uint32_t used)
{
    uint32_t len = seg->len - off;
    if (len > TAIL_COPY_MAX - used)
        return 0;
    if (!c->tail_buf && !(c->tail_buf = malloc(TAIL_COPY_MAX)))
        return 0;
    struct iovec iov = { c->tail_buf + used, len };
    ssize_t n = preadv2(seg->fd, &iov, 1, (off_t)(seg->pos + off), RWF_NOWAIT);
    return n == (ssize_t)len ? len : 0;
}

void conn_kick_send(struct conn *c)
{
    if (c->send_busy || c->closing)
        return;
    if (c->tls) {
        conn_tls_kick_send(c);
        return;
    }
    conn_advance(c, 0); /* release responses with nothing to send */
    int n = 0;
    uint32_t copied = 0;
    for (struct request *rq = c->head; rq && rq->state == RQ_DONE && n < SEND_IOV_MAX;
         rq = rq->next) {
        struct request_priv *p = rq->priv;
        for (int i = p->seg; i < p->nsegs && n < SEND_IOV_MAX; i++) {
            const struct out_seg *seg = &p->segs[i];
            uint32_t off = i == p->seg ? p->seg_off : 0;
            if (seg->len == off)
                continue; /* nothing left of it (an empty piece) */
            if (!seg->p) {
                uint32_t got = conn_copy_tail(c, seg, off, copied);
                if (got) {
                    c->iov[n].iov_base = c->tail_buf + copied;
                    c->iov[n].iov_len = got;
                    copied += got;
                    n++;
                    continue;
                }
                if (n == 0 && conn_start_splice(c, seg, off) < 0)
                    conn_close(c, "cannot create a pipe for a fetch");
                goto send;
            }
            c->iov[n].iov_base = (void *)(seg->p + off);
            c->iov[n].iov_len = seg->len - off;
            n++;
        }
    }
send:
    if (n == 0)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
    if (!sqe) {
        io_uring_submit(&c->shard->ring);
        sqe = io_uring_get_sqe(&c->shard->ring);
    }
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = (size_t)n;
    io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, &c->send_op);
    c->send_busy = true;
    c->inflight++;
}

static void on_send(struct io_op *op, int res, uint32_t flags)
{
    struct conn *c = CONN_OF(op, send_op);
    (void)flags;
    c->inflight--;
    c->send_busy = false;
    if (c->closing) {
        conn_free_if_idle(c);
        return;
    }
    if (res < 0) {
        conn_close(c, res == -EPIPE || res == -ECONNRESET ? NULL : strerror(-res));
        return;
    }
    c->last_active_ms = c->shard->mono_ms;
    conn_hold(c);
    if (c->tls)
        conn_tls_sent(c, res);
    else
        conn_advance(c, (uint64_t)res);
    conn_kick_send(c);
    conn_parse(c); /* room for more requests may have opened */
    conn_arm_recv(c);
    conn_unhold(c);
}

static void splice_step_done(struct conn *c)
{
    if (--c->splice_pending > 0)
        return;
    c->send_busy = false;
    if (c->closing) {
        conn_free_if_idle(c);
        return;
    }
    conn_hold(c);
    conn_kick_send(c);
    conn_parse(c);
    conn_arm_recv(c);
    conn_unhold(c);
}

/* A fetched file range that cannot be read: a disk fault takes its
 * partition offline (partition_fault.c; the next fetch of it answers
 * KAFKA_STORAGE_ERROR). This answer's header is sent already, so the
 * connection can only be closed; the client fetches again. */
void conn_file_read_failed(struct conn *c, int fd, int res)
{
    char why[160];
    bool ours = partition_read_failed(c->shard, fd, res, c->tls ? "tls-read" : "splice");
    snprintf(why, sizeof(why), "a fetch's file range could not be read (%s%s); the answer "
             "was partly sent", strerror(-res), ours ? ", partition taken offline" : "");
    conn_close(c, why);
}

static void on_splice_in(struct io_op *op, int res, uint32_t flags)
{
    struct conn *c = CONN_OF(op, splice_in_op);
    (void)flags;
    c->inflight--;
    if (!c->closing) {
        if (res == 0)
            conn_close(c, "fetched file range ended early");
        else if (res < 0 && res != -ECANCELED)
            conn_file_read_failed(c, c->splice_fd, res);
        else if (res < 0)
            conn_close(c, strerror(-res));
        else
            c->pipe_bytes += (uint32_t)res;
    }
    splice_step_done(c);
}

static void on_splice_out(struct io_op *op, int res, uint32_t flags)
{
    struct conn *c = CONN_OF(op, splice_out_op);
    (void)flags;
    c->inflight--;
    if (!c->closing && res != -ECANCELED) {
        if (res < 0) {
            conn_close(c, res == -EPIPE || res == -ECONNRESET ? NULL : strerror(-res));
        } else {
            c->pipe_bytes -= (uint32_t)res;
            conn_advance(c, (uint64_t)res);
        }
    }
    splice_step_done(c);
}

static void on_cancel(struct io_op *op, int res, uint32_t flags)
{
    struct conn *c = CONN_OF(op, close_op);
    (void)res;
    (void)flags;
    c->inflight--;
    conn_free_if_idle(c);
}

void conn_close_idle(struct shard *s)
{
    int64_t idle = s->cfg.broker->connections_max_idle_ms;
    if (idle <= 0)
        return;
    for (struct conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        /* Idle: nothing received or sent for that long and nothing owed
         * (a long-polling fetch or a produce waiting for its sync is not). */
        if (!c->closing && c->nrequests == 0 && s->mono_ms - c->last_active_ms > idle)
            conn_close(c, "idle for longer than connections.max.idle.ms");
    }
}

void conn_close(struct conn *c, const char *why)
{
    if (c->closing)
        return;
    if (why)
        slog(SLOG_WARN, "shard", "connection closed shard=%d conn=%u reason=\"%s\"",
             c->shard->cfg.index, c->id, why);
    c->closing = true;
    shutdown(c->fd, SHUT_RDWR);
    if (c->inflight > 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&c->shard->ring);
        if (!sqe) {
            io_uring_submit(&c->shard->ring);
            sqe = io_uring_get_sqe(&c->shard->ring);
        }
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data(sqe, &c->close_op);
        c->inflight++;
    }
    conn_free_if_idle(c);
}

static void conn_free_if_idle(struct conn *c)
{
    if (c->inflight > 0)
        return;
    struct shard *s = c->shard;
    for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    /* Requests still waiting (on a log write or the control thread) finish
     * on their own, detached; the rest go now. */
    for (struct request *rq = c->head, *next; rq; rq = next) {
        next = rq->next;
        rq->next = NULL;
        rq->conn = NULL;
        if (rq->state != RQ_WAITING)
            request_release(rq);
    }
    chunk_put(s, c->chunk);
    s->metrics.conns_closed++;
    s->metrics.conns_open--;
    conn_limits_release(s->cfg.broker, &c->peer);
    free(c->tail_buf);
    conn_tls_destroy(c);
    conn_sasl_destroy(c);
    close(c->fd);
    if (c->pipe[0] >= 0) {
        close(c->pipe[0]);
        close(c->pipe[1]);
    }
    free(c);
}
