/* peer.h - a shard's outbound connection to another node's broker, as a
 * Kafka client (see peer.c). Single-threaded: only the owning shard
 * touches a peer. */
#ifndef SLUICE_PEER_H
#define SLUICE_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "storage/io.h"

struct shard;
struct peer;

struct peer_ops {
    /* One response frame, without its length prefix; valid during the
     * call only. The callee may close the peer. */
    void (*on_frame)(struct peer *p, const uint8_t *frame, uint32_t len);
    /* The connection failed or ended (negative errno); the peer is gone
     * after this returns. Not called after peer_close. */
    void (*on_error)(struct peer *p, int err);
};

enum peer_state { PEER_CONNECTING = 1, PEER_UP, PEER_CLOSED };

struct peer {
    struct shard *shard;
    void *ctx;                  /* the owner's */
    int fd;
    enum peer_state state;
    bool sending, receiving, detached;
    int inflight;               /* io_uring operations not yet completed */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct io_op connect_op, send_op, recv_op;
    uint8_t *out;               /* frames not yet sent: [outoff, outlen) */
    uint32_t outoff, outlen, outcap;
    uint8_t *in;                /* received, not yet framed */
    uint32_t inlen, incap;
    uint8_t *spare;             /* a receive buffer given back (peer_recycle) */
    uint32_t sparecap;
    bool keep;                  /* on_frame keeps the frame's buffer */
    void (*on_frame)(struct peer *p, const uint8_t *frame, uint32_t len);
    void (*on_error)(struct peer *p, int err);
};

/* Starts connecting to host (a numeric address) and port on s's ring.
 * NULL when the address does not parse or memory is short. */
struct peer *peer_open(struct shard *s, const char *host, int port,
                       const struct peer_ops *ops, void *ctx);
/* Queues a whole request frame (length prefix included; copied). */
int peer_send(struct peer *p, const uint8_t *frame, uint32_t len);
/* Closes the connection; its memory goes when its operations are back. */
void peer_close(struct peer *p);

/* Called inside on_frame: the frame's bytes stay valid after the call (a
 * follower appends fetched batches straight from them, zero copy). The
 * receive buffer holding them becomes the caller's (*cap bytes; give it
 * back with peer_recycle, or free() it), and the peer receives into
 * another. Returns the buffer. */
uint8_t *peer_keep_frame(struct peer *p, uint32_t *cap);
/* A buffer peer_keep_frame gave out comes back for the next receive (or
 * is freed when the peer has one spare already). p may be NULL. */
void peer_recycle(struct peer *p, uint8_t *buf, uint32_t cap);

#endif
