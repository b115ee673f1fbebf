/* ops.c - the ops thread (see ops.h): the HTTP daemon (libmicrohttpd),
 * its routes, and the round trip to the control thread.
 *
 * libmicrohttpd runs one internal polling thread; every handler runs on
 * it, one at a time, so that thread is the single producer of the ring
 * to the control thread and owns o->msg. A handler that asks waits on
 * the doorbell for the answer (bounded); the control thread and the
 * shards are never blocked by it, and a slow HTTP client only delays
 * other HTTP clients.
 *
 * Owns: the listening socket, the daemon, the message and its arena.
 * Never: touches a shard's memory or the control thread's; writes
 * anything (every route is read-only). */
#include "ops/ops_private.h"
#include "numa/ring.h"
#include "dataplane/listen.h"
#include "slog/slog.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OPS_ARENA_START (1u << 20)
#define OPS_ARENA_MAX (256u << 20)
#define OPS_ASK_TIMEOUT_MS 5000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes the answer off the ring if it is there. */
static void take_answer(struct ops *o)
{
    void *m;
    uint64_t v;
    if (read(o->cfg.doorbell_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        slog(SLOG_ERROR, "ops", "doorbell read failed error=\"%s\"", strerror(errno));
    while (spsc_ring_dequeue(o->cfg.from_ctl, &m) == 0)
        if (m == &o->msg)
            o->msg_out = false;
}

bool ops_idle(struct ops *o, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    take_answer(o);
    while (o->msg_out) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = { .fd = o->cfg.doorbell_fd, .events = POLLIN };
        poll(&pfd, 1, (int)left);
        take_answer(o);
    }
    return true;
}

int ops_ask(struct ops *o, int timeout_ms)
{
    if (o->msg_out)
        return -EBUSY;
    o->msg.arena = (struct ctl_arena){ .buf = o->arena, .cap = o->arena_cap };
    o->msg.cookie = o;
    o->msg_out = true;
    while (spsc_ring_enqueue(o->cfg.to_ctl, &o->msg) != 0) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    uint64_t one = 1;
    if (write(o->cfg.ctl_doorbell_fd, &one, sizeof(one)) < 0)
        slog(SLOG_ERROR, "ops", "control doorbell failed error=\"%s\"", strerror(errno));
    return ops_idle(o, timeout_ms) ? 0 : -ETIMEDOUT;
}

static int grow_arena(struct ops *o, size_t need)
{
    if (need <= o->arena_cap)
        need = o->arena_cap * 2;
    if (need > OPS_ARENA_MAX)
        return -E2BIG;
    uint8_t *p = malloc(need);
    if (!p)
        return -ENOMEM;
    free(o->arena);
    o->arena = p;
    o->arena_cap = need;
    return 0;
}

int ops_collect(struct ops *o, const struct ctl_stats **out)
{
    for (int tries = 0; tries < 8; tries++) {
        if (!ops_idle(o, OPS_ASK_TIMEOUT_MS))
            return -ETIMEDOUT;
        memset(&o->msg, 0, sizeof(o->msg));
        o->msg.op = CTL_STATS;
        int rc = ops_ask(o, OPS_ASK_TIMEOUT_MS);
        if (rc < 0)
            return rc;
        if (o->msg.u.stats.need == 0) {
            *out = &o->msg.u.stats;
            return 0;
        }
        if ((rc = grow_arena(o, o->msg.u.stats.need)) < 0)
            return rc;
    }
    return -E2BIG;
}

/* --- HTTP ------------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct sbuf *body)
{
    if (body->err) {
        sbuf_free(body);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        sbuf_printf(body, "out of memory\n");
        type = "text/plain";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(body->len, body->p ? body->p : "",
                                                             body->p ? MHD_RESPMEM_MUST_FREE
                                                                     : MHD_RESPMEM_PERSISTENT);
    *body = (struct sbuf){ 0 };
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

int ops_reply(struct MHD_Connection *conn, unsigned status, const char *type, struct sbuf *body)
{
    return reply(conn, status, type, body);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct sbuf b = { 0 };
    sbuf_printf(&b, "%s\n", text);
    return reply(conn, status, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result serve_metrics(struct ops *o, struct MHD_Connection *conn)
{
    const struct ctl_stats *st;
    int rc = ops_collect(o, &st);
    if (rc < 0) {
        slog(SLOG_WARN, "ops", "no answer for a scrape error=\"%s\"", strerror(-rc));
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer");
    }
    struct sbuf b = { 0 };
    ops_render_metrics(&b, st);
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    struct ops *o = cls;
    (void)version;
    (void)upload;
    if (!*state) {
        *state = o; /* headers only so far: wait for the body (if any) */
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* bodies are ignored: every route is a GET */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(o, conn);
    return (enum MHD_Result)ops_console_route(o, conn, url);
}

/* --- life -------------------------------------------------------------------- */

static int split_host_port(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *he = colon;
    if (!colon)
        return -EINVAL;
    if (*h == '[') {
        h++;
        if (he == s || he[-1] != ']')
            return -EINVAL;
        he--;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || p < 0 || p > 65535 || (size_t)(he - h) >= hostlen)
        return -EINVAL;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    *port = (int)p;
    return 0;
}

int ops_create(struct ops **out, const struct ops_config *cfg)
{
    struct ops *o = calloc(1, sizeof(*o));
    int port, rc;
    *out = NULL;
    if (!o)
        return -ENOMEM;
    o->cfg = *cfg;
    o->listen_fd = -1;
    snprintf(o->bootstrap_host, sizeof(o->bootstrap_host), "%s",
             cfg->bootstrap_host ? cfg->bootstrap_host : "127.0.0.1");
    o->cfg.bootstrap_host = o->bootstrap_host;
    if ((rc = split_host_port(cfg->listen, o->listen_host, sizeof(o->listen_host), &port)) < 0)
        goto err;
    if (!(o->arena = malloc(OPS_ARENA_START))) {
        rc = -ENOMEM;
        goto err;
    }
    o->arena_cap = OPS_ARENA_START;
    if ((rc = o->listen_fd = tcp_listen(o->listen_host, port, 128, &o->port)) < 0)
        goto err;
    o->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                     MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, on_request, o,
                                 MHD_OPTION_LISTEN_SOCKET, o->listen_fd,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                 MHD_OPTION_END);
    if (!o->daemon) {
        rc = -EIO;
        goto err;
    }
    o->listen_fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
    *out = o;
    return 0;
err:
    ops_destroy(o);
    return rc;
}

int ops_port(const struct ops *o)
{
    return o->port;
}

void ops_stop(struct ops *o)
{
    if (o && o->daemon) {
        MHD_stop_daemon(o->daemon);
        o->daemon = NULL;
    }
}

void ops_destroy(struct ops *o)
{
    if (!o)
        return;
    ops_stop(o);
    if (o->listen_fd >= 0)
        close(o->listen_fd);
    free(o->arena);
    free(o);
}
