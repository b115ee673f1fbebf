/* quorum.c - canonical raft on the control thread (see quorum.h).
 *
 * Owns: the libuv loop raft runs on, raft's libuv I/O backend and its
 * transport, the raft server, the bridge from raft's state-machine
 * callbacks to the caller's, the one proposal a node has in flight, when
 * each voter was last heard from (every raft message received, seen on
 * its way to raft: quorum_recv) and the probes of silent voters' ports
 * (quorum_probe: a TCP connect, refused when no process listens there).
 *
 * Invariants:
 *   1. A proposal is answered only after raft has committed it: written
 *      (and fsync'ed, raft_uv's rule) on a majority of the voters, this
 *      node's own log included when it is one of them.
 *   2. The proposer's state machine already holds its change, so its own
 *      entry is recognised (the buffer raft hands back is the one proposed)
 *      and not applied twice; every other node applies it.
 *   3. The control thread is the only thread that calls raft; raft_uv's
 *      thread pool only does file work and reports through the loop.
 *
 * Never: touches a ring, a shard or a log, or blocks outside
 * quorum_commit and quorum_close. */
#include "control/quorum.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define QUORUM_SEGMENT_BYTES (512u << 10)  /* raft_uv's default is 8 MiB */
#define QUORUM_SNAPSHOT_EVERY 256          /* entries between snapshots */
#define QUORUM_SNAPSHOT_TRAILING 128       /* entries kept behind one */
#define QUORUM_ADDRESS_MAX (CONFIG_LISTENERS_MAX + 16)
/* An entry is its length (8 bytes, host order: the log never leaves the
 * machine's kind) and the caller's bytes, padded to a multiple of 8:
 * raft_uv writes entries padded but reads a batch back as the sum of
 * their lengths, so only 8-byte multiples survive a restart. */
#define ENTRY_HEADER 8
#define QUORUM_VOTERS_MAX 5
#define QUORUM_PROBE_TIMEOUT_MS 1000       /* no answer by then: unknown */

struct quorum;

/* One TCP connect to a voter's raft address (quorum_probe). Its libuv
 * handles outlive the verdict until their close callbacks ran. */
struct probe {
    struct quorum *q;          /* NULL once the quorum let go of it */
    unsigned slot;             /* the voter's configuration index */
    bool finished;
    int open_handles;
    uv_tcp_t tcp;
    uv_connect_t req;
    uv_timer_t timer;
};

/* What is known of one voter's port. */
struct probe_slot {
    struct probe *out;         /* in flight */
    int64_t started_ms;        /* of the last probe, monotonic */
    bool done;                 /* it was answered: verdict */
    enum quorum_probe verdict;
    /* The verdict last returned as fresh, and the voter's heard_ms then:
     * a silence is told each verdict once. */
    enum quorum_probe told;
    int64_t told_heard_ms;
};

struct quorum {
    uv_loop_t loop;
    struct raft_io io;
    struct raft_uv_transport transport;
    bool tcp;                  /* raft_uv_tcp, else the local transport */
    struct raft raft;
    struct raft_fsm fsm;
    const struct quorum_ops *ops;
    void *ctx;
    raft_id id;
    char address[QUORUM_ADDRESS_MAX];
    bool io_open, raft_open, closed;
    int apply_err;             /* sticky: an entry could not be applied */
    int nvoters;
    /* A leader commits a barrier in its own term before it says it is
     * ready: only then are the entries of earlier terms committed (and
     * applied) on it (Raft's section 5.4.2). */
    struct raft_barrier barrier;
    bool barrier_pending;
    uint64_t barrier_term;     /* the term whose barrier was applied */
    /* When each voter (by configuration index) was last heard from,
     * monotonic ms; a new term starts everyone afresh. */
    int64_t heard_ms[QUORUM_VOTERS_MAX];
    uint64_t heard_term;
    raft_id followed;          /* the leader this node last followed */
    struct probe_slot probes[QUORUM_VOTERS_MAX];
    /* the proposal in flight (quorum_commit) */
    struct raft_apply req;
    bool pending;
    int status;
    const void *own;           /* its buffer, as raft hands it back */
    /* tests */
    int fail_appends;
    int (*uv_append)(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n,
                     raft_io_append_cb cb);
    /* raft_uv's close, and raft's callback for it (see quorum_io_close) */
    void (*uv_close)(struct raft_io *io, raft_io_close_cb cb);
    raft_io_close_cb io_close_cb;
    /* raft_uv's start, and raft's receive callback (see quorum_start) */
    int (*uv_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                    raft_io_recv_cb recv);
    raft_io_recv_cb raft_recv;
};

static int64_t mono_ms(void);
static int voter_index(const struct quorum *q, raft_id id);
static void probes_close(struct quorum *q);

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* --- the state machine ------------------------------------------------------ */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                     void **result)
{
    struct quorum *q = fsm->data;
    int rc;

    uint64_t len;

    *result = NULL;
    if (q->pending && buf->base == q->own)
        return 0;                               /* invariant 2 */
    if (buf->len < ENTRY_HEADER) {
        rc = -EINVAL;
    } else {
        memcpy(&len, buf->base, sizeof len);
        rc = len > buf->len - ENTRY_HEADER
                 ? -EINVAL
                 : q->ops->apply(q->ctx, (const char *)buf->base + ENTRY_HEADER,
                                 (size_t)len);
    }
    if (rc < 0) {
        /* The entry is committed: a node that cannot apply it has state
         * that differs from the others', which must not go unnoticed. */
        fprintf(stderr, "sluice: metadata entry %llu could not be applied: "
                "%s\n", (unsigned long long)raft_last_applied(&q->raft) + 1,
                strerror(-rc));
        if (!q->apply_err)
            q->apply_err = rc;
        return RAFT_INVALID;
    }
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                        unsigned *n)
{
    struct quorum *q = fsm->data;
    struct raft_buffer *b;
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (q->pending)
        return RAFT_BUSY;                       /* the state is mid-change */
    if ((rc = q->ops->snapshot(q->ctx, &data, &len)) < 0)
        return rc == -EBUSY ? RAFT_BUSY : RAFT_NOMEM;
    if (!(b = raft_malloc(sizeof *b))) {
        free(data);
        return RAFT_NOMEM;
    }
    b->base = data;
    b->len = len;
    *bufs = b;
    *n = 1;
    return 0;
}

/* Version 2: raft leaves the buffers to us (they are malloc'ed). */
static int fsm_snapshot_finalize(struct raft_fsm *fsm,
                                 struct raft_buffer *bufs[], unsigned *n)
{
    (void)fsm;
    for (unsigned i = 0; i < *n; i++)
        free((*bufs)[i].base);
    raft_free(*bufs);
    *bufs = NULL;
    *n = 0;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct quorum *q = fsm->data;
    int rc = q->ops->restore(q->ctx, buf->base, buf->len);

    if (rc < 0)
        return RAFT_CORRUPT;
    raft_free(buf->base);                       /* ours once restored */
    return 0;
}

/* --- the local transport ----------------------------------------------------- */

/* The only voter never sends raft a message, so the default single-node
 * broker opens no controller port: this transport accepts nothing and
 * refuses every connection (raft then reports the peer unreachable). */
static int local_init(struct raft_uv_transport *t, raft_id id,
                      const char *address)
{
    (void)t;
    (void)id;
    (void)address;
    return 0;
}

static int local_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    (void)t;
    (void)cb;
    return 0;
}

static int local_connect(struct raft_uv_transport *t,
                         struct raft_uv_connect *req, raft_id id,
                         const char *address, raft_uv_connect_cb cb)
{
    (void)req;
    (void)id;
    (void)cb;
    snprintf(t->errmsg, sizeof t->errmsg, "no network: %s is not reachable "
             "from a single-voter quorum", address);
    return RAFT_NOCONNECTION;
}

static void local_close(struct raft_uv_transport *t,
                        raft_uv_transport_close_cb cb)
{
    cb(t);
}

/* --- set-up ---------------------------------------------------------------- */

static struct quorum *quorum_of_io(struct raft_io *io)
{
    return (struct quorum *)(void *)((char *)io - offsetof(struct quorum, io));
}

/* Tests make appends fail as a broken disk would, before raft_uv sees
 * them (raft then truncates the entry and fails the proposal). */
static int quorum_append(struct raft_io *io, struct raft_io_append *req,
                         const struct raft_entry entries[], unsigned n,
                         raft_io_append_cb cb)
{
    struct quorum *q = quorum_of_io(io);

    if (q->fail_appends > 0) {
        q->fail_appends--;
        snprintf(io->errmsg, sizeof io->errmsg, "injected write failure");
        return RAFT_IOERR;
    }
    return q->uv_append(io, req, entries, n, cb);
}

static void on_io_closed(struct raft_io *io)
{
    struct quorum *q = quorum_of_io(io);
    raft_io_close_cb cb = q->io_close_cb;

    q->io_close_cb = NULL;
    if (cb)
        cb(io);
}

/* raft_uv 0.15 (Debian 12's libraft) can fire its close callback twice:
 * uvMaybeFireCloseCb does not forget the callback once it has run, so a
 * late completion after the close (an append failed by a full disk, say)
 * runs raft's ioCloseCb again, which frees raft's address a second time.
 * Upstream fixed it in 0.18.1 ("uv: Prevent calling close_cb twice");
 * until Debian ships that, raft's callback is passed on once only. */
static void quorum_io_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct quorum *q = quorum_of_io(io);

    q->io_close_cb = cb;
    q->uv_close(io, on_io_closed);
}

/* Every message raft receives passes here first: its sender was heard
 * from now (a follower answers each of the leader's heartbeats, every
 * heartbeat timeout), finer than raft's recent_recv flags, which it
 * resets once per election timeout. */
static void quorum_recv(struct raft_io *io, struct raft_message *msg)
{
    struct quorum *q = quorum_of_io(io);
    int i = voter_index(q, msg->server_id);

    if (i >= 0)
        q->heard_ms[i] = mono_ms();
    q->raft_recv(io, msg);
}

static int quorum_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                        raft_io_recv_cb recv)
{
    struct quorum *q = quorum_of_io(io);

    q->raft_recv = recv;
    return q->uv_start(io, msecs, tick, quorum_recv);
}

/* The voters of cfg into conf; *self_voter says whether this node is one.
 * Its own address goes to q->address. */
static int voters_build(struct quorum *q, const struct broker_config *cfg,
                        struct raft_configuration *conf, bool *self_voter,
                        char *err, size_t errlen)
{
    const char *list = cfg->controller_quorum_voters;
    struct config_voter v;
    char addr[QUORUM_ADDRESS_MAX];
    int i, rc;

    *self_voter = false;
    if (!broker_config_is_set(cfg, "controller.quorum.voters")) {
        snprintf(q->address, sizeof q->address, "node-%d", cfg->node_id);
        *self_voter = true;
        return raft_configuration_add(conf, q->id, q->address, RAFT_VOTER);
    }
    for (i = 0; (rc = config_voter_get(list, i, &v)) == 0; i++) {
        snprintf(addr, sizeof addr, "%s:%d", v.host, v.port);
        if (v.id == cfg->node_id) {
            *self_voter = true;
            snprintf(q->address, sizeof q->address, "%s", addr);
        }
        rc = raft_configuration_add(conf, (raft_id)v.id + 1, addr, RAFT_VOTER);
        if (rc == RAFT_DUPLICATEID || rc == RAFT_DUPLICATEADDRESS) {
            seterr(err, errlen, "controller.quorum.voters: node %d or %s "
                   "appears twice", v.id, addr);
            return -EINVAL;
        }
        if (rc != 0)
            return -ENOMEM;
    }
    if (rc != -ENOENT || i == 0) {
        seterr(err, errlen, "controller.quorum.voters: bad entry %d", i);
        return -EINVAL;
    }
    if (i != 1 && i != 3 && i != 5) {
        _Static_assert(QUORUM_VOTERS_MAX == 5, "voters counted below");
        /* Kafka allows any count; an even one only adds a node that can
         * fail without adding a failure the quorum survives. */
        seterr(err, errlen, "controller.quorum.voters: %d voters; use 1, 3 "
               "or 5", i);
        return -EINVAL;
    }
    return 0;
}

static int roles_check(const struct broker_config *cfg, bool self_voter,
                       char *err, size_t errlen)
{
    bool controller = (cfg->process_roles & ROLE_CONTROLLER) != 0;

    if (!(cfg->process_roles & ROLE_BROKER)) {
        seterr(err, errlen, "process.roles: every sluice node serves clients; "
               "it must include broker");
        return -EINVAL;
    }
    if (controller && !self_voter) {
        seterr(err, errlen, "process.roles has controller but node.id %d is "
               "not in controller.quorum.voters", cfg->node_id);
        return -EINVAL;
    }
    if (!controller && self_voter) {
        seterr(err, errlen, "node.id %d is in controller.quorum.voters but "
               "process.roles lacks controller", cfg->node_id);
        return -EINVAL;
    }
    return 0;
}

static int io_setup(struct quorum *q, const char *dir, char *err,
                    size_t errlen)
{
    int rc;

    if (q->tcp)
        rc = raft_uv_tcp_init(&q->transport, &q->loop);
    else
        q->transport = (struct raft_uv_transport){
            .init = local_init, .listen = local_listen,
            .connect = local_connect, .close = local_close};
    if (q->tcp && rc != 0) {
        seterr(err, errlen, "raft transport: %s", raft_strerror(rc));
        return -ENOMEM;
    }
    if ((rc = raft_uv_init(&q->io, &q->loop, dir, &q->transport)) != 0) {
        seterr(err, errlen, "raft log in %s: %s", dir, q->io.errmsg);
        return rc == RAFT_NOMEM ? -ENOMEM : -EIO;
    }
    q->io_open = true;
    raft_uv_set_segment_size(&q->io, QUORUM_SEGMENT_BYTES);
    /* raft_uv would set a corrupt segment aside and carry on from the
     * entries before it: committed metadata lost without a word (and a
     * voter that forgets entries it acknowledged can elect a leader that
     * lacks them). A damaged log is a startup error instead. */
    raft_uv_set_auto_recovery(&q->io, false);
    q->uv_append = q->io.append;
    q->io.append = quorum_append;
    q->uv_close = q->io.close;
    q->io.close = quorum_io_close;
    q->uv_start = q->io.start;
    q->io.start = quorum_start;
    return 0;
}

static int raft_setup(struct quorum *q, struct raft_configuration *conf,
                      char *err, size_t errlen)
{
    int rc;

    q->fsm = (struct raft_fsm){
        .version = 2, .data = q, .apply = fsm_apply, .snapshot = fsm_snapshot,
        .restore = fsm_restore, .snapshot_finalize = fsm_snapshot_finalize};
    if ((rc = raft_init(&q->raft, &q->io, &q->fsm, q->id, q->address)) != 0) {
        seterr(err, errlen, "raft: %s", raft_strerror(rc));
        return -ENOMEM;
    }
    q->raft_open = true;
    q->raft.data = q;
    raft_set_snapshot_threshold(&q->raft, QUORUM_SNAPSHOT_EVERY);
    raft_set_snapshot_trailing(&q->raft, QUORUM_SNAPSHOT_TRAILING);
    raft_set_pre_vote(&q->raft, true);
    if (!q->tcp) {
        /* Alone, raft's timers only wake the control thread. */
        raft_set_election_timeout(&q->raft, 10000);
        raft_set_heartbeat_timeout(&q->raft, 1000);
    }
    rc = raft_bootstrap(&q->raft, conf);
    if (rc != 0 && rc != RAFT_CANTBOOTSTRAP) {
        seterr(err, errlen, "raft bootstrap: %s", raft_errmsg(&q->raft));
        return -EIO;
    }
    if ((rc = raft_start(&q->raft)) != 0) {
        seterr(err, errlen, "the metadata log cannot be loaded: %s (%s)",
               raft_errmsg(&q->raft), raft_strerror(rc));
        return rc == RAFT_CORRUPT || rc == RAFT_MALFORMED ? -EINVAL : -EIO;
    }
    if (q->apply_err) {
        seterr(err, errlen, "the metadata log holds an entry this node "
               "cannot apply (see above)");
        return q->apply_err == -ENOMEM ? -ENOMEM : -EINVAL;
    }
    return 0;
}

int quorum_open(struct quorum **out, const struct broker_config *cfg,
                const char *dir, const struct quorum_ops *ops, void *ctx,
                char *err, size_t errlen)
{
    struct raft_configuration conf;
    struct quorum *q = calloc(1, sizeof *q);
    bool self_voter;
    int rc;

    *out = NULL;
    if (!q)
        return -ENOMEM;
    q->ops = ops;
    q->ctx = ctx;
    q->id = (raft_id)cfg->node_id + 1;
    raft_configuration_init(&conf);
    if ((rc = voters_build(q, cfg, &conf, &self_voter, err, errlen)) < 0 ||
        (rc = roles_check(cfg, self_voter, err, errlen)) < 0)
        goto fail;
    /* One voter sends raft no message, even with an address of its own. */
    q->tcp = conf.n > 1;
    q->nvoters = (int)conf.n;
    if ((rc = uv_loop_init(&q->loop)) != 0) {
        seterr(err, errlen, "libuv: %s", uv_strerror(rc));
        free(q);
        raft_configuration_close(&conf);
        return -ENOMEM;
    }
    if ((rc = io_setup(q, dir, err, errlen)) < 0 ||
        (rc = raft_setup(q, &conf, err, errlen)) < 0)
        goto fail_loop;
    raft_configuration_close(&conf);
    *out = q;
    return 0;
fail_loop:
    raft_configuration_close(&conf);
    quorum_close(q);
    return rc;
fail:
    raft_configuration_close(&conf);
    free(q);
    return rc;
}

static void on_raft_closed(struct raft *r)
{
    struct quorum *q = r->data;
    q->closed = true;
}

void quorum_close(struct quorum *q)
{
    if (!q)
        return;
    probes_close(q);
    if (q->raft_open) {
        raft_close(&q->raft, on_raft_closed);
        while (!q->closed)
            uv_run(&q->loop, UV_RUN_ONCE);
    }
    /* Everything raft_uv still has in flight comes back before its memory
     * goes (a late completion is what quorum_io_close guards against). */
    while (uv_loop_close(&q->loop) == UV_EBUSY)
        uv_run(&q->loop, UV_RUN_DEFAULT);
    if (q->io_open)
        raft_uv_close(&q->io);
    if (q->tcp && q->io_open)
        raft_uv_tcp_close(&q->transport);
    free(q);
}

/* --- proposals ---------------------------------------------------------------- */

static void on_applied(struct raft_apply *req, int status, void *result)
{
    struct quorum *q = req->data;

    (void)result;
    q->status = status == 0 ? 0
                : status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER
                    ? -ENOTCONN
                    : -EIO;
    q->pending = false;
}

int quorum_commit(struct quorum *q, const void *data, size_t len, char *err,
                  size_t errlen)
{
    struct raft_buffer buf = {.len = (ENTRY_HEADER + len + 7) & ~(size_t)7};
    uint64_t n = len;
    int rc;

    if (q->apply_err) {
        seterr(err, errlen, "the metadata of this node is not the quorum's: "
               "an entry could not be applied");
        return -EIO;
    }
    if (raft_state(&q->raft) != RAFT_LEADER) {
        seterr(err, errlen, "this node is not the metadata leader");
        return -ENOTCONN;
    }
    if (!(buf.base = raft_calloc(1, buf.len)))
        return -ENOMEM;
    memcpy(buf.base, &n, sizeof n);
    memcpy((char *)buf.base + ENTRY_HEADER, data, len);
    q->req.data = q;
    q->own = buf.base;
    q->pending = true;
    if ((rc = raft_apply(&q->raft, &q->req, &buf, 1, on_applied)) != 0) {
        q->pending = false;
        q->own = NULL;
        raft_free(buf.base);
        seterr(err, errlen, "cannot write the metadata log: %s",
               raft_errmsg(&q->raft));
        return rc == RAFT_NOTLEADER ? -ENOTCONN : -EIO;
    }
    while (q->pending)
        uv_run(&q->loop, UV_RUN_ONCE);
    q->own = NULL;
    if (q->status < 0)
        seterr(err, errlen, "the metadata log did not commit the change: %s",
               q->status == -ENOTCONN ? "leadership was lost"
                                      : raft_errmsg(&q->raft));
    return q->status;
}

/* --- readiness ------------------------------------------------------------------ */

static void on_barrier(struct raft_barrier *req, int status)
{
    struct quorum *q = req->data;

    q->barrier_pending = false;
    if (status == 0)
        q->barrier_term = q->raft.current_term;
}

static int64_t mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int voter_index(const struct quorum *q, raft_id id)
{
    unsigned n = q->raft.configuration.n;

    for (unsigned i = 0; i < n && i < QUORUM_VOTERS_MAX; i++)
        if (q->raft.configuration.servers[i].id == id)
            return (int)i;
    return -1;
}

/* Followers do not talk to each other: a new leader gives everyone its
 * term's start as the last time heard from, except the leader it followed,
 * whose heartbeats it did hear (so a leader that died is probed as soon as
 * its successor leads, not sluice.fence.probe.ms later). This node hears
 * itself. */
static void heard_update(struct quorum *q)
{
    int64_t now = mono_ms();
    int self = voter_index(q, q->id), was = voter_index(q, q->followed);

    if (q->heard_term != q->raft.current_term) {
        q->heard_term = q->raft.current_term;
        for (int i = 0; i < QUORUM_VOTERS_MAX; i++)
            if (i != was || q->heard_ms[i] == 0)
                q->heard_ms[i] = now;
    }
    if (self >= 0)
        q->heard_ms[self] = now;
}

int64_t quorum_silent_ms(struct quorum *q, int32_t node_id)
{
    int i = voter_index(q, (raft_id)node_id + 1);

    if (raft_state(&q->raft) != RAFT_LEADER || i < 0)
        return 0;
    return mono_ms() - q->heard_ms[i];
}

/* --- probes of silent voters' ports ------------------------------------------------ */

static void on_probe_closed(uv_handle_t *h)
{
    struct probe *p = h->data;

    if (--p->open_handles == 0)
        free(p);
}

static void probe_finish(struct probe *p, enum quorum_probe verdict)
{
    if (p->finished)
        return;
    p->finished = true;
    if (p->q) {
        struct probe_slot *sl = &p->q->probes[p->slot];
        sl->out = NULL;
        sl->done = true;
        sl->verdict = verdict;
    }
    uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
    uv_close((uv_handle_t *)&p->timer, on_probe_closed);
}

static void on_probe_connect(uv_connect_t *req, int status)
{
    /* A connection made is closed again at once: raft's listener drops
     * a peer that goes before its handshake without a word. */
    probe_finish(req->data, status == 0                  ? QUORUM_PROBE_LISTENING
                            : status == UV_ECONNREFUSED ? QUORUM_PROBE_REFUSED
                                                        : QUORUM_PROBE_UNKNOWN);
}

static void on_probe_timeout(uv_timer_t *t)
{
    probe_finish(t->data, QUORUM_PROBE_UNKNOWN);  /* a cut link, a dead box */
}

/* A raft address, "host:port" (an IPv6 host in brackets or not), as a
 * numeric socket address; -EINVAL for a name (no resolver on this thread). */
static int probe_address(const char *address, struct sockaddr_storage *out)
{
    char host[QUORUM_ADDRESS_MAX];
    const char *colon = strrchr(address, ':');
    size_t len;

    if (!colon || (len = (size_t)(colon - address)) == 0 || len >= sizeof host)
        return -EINVAL;
    memcpy(host, address, len);
    host[len] = 0;
    int port = atoi(colon + 1);
    char *h = host;
    if (h[0] == '[' && h[len - 1] == ']') {
        h[len - 1] = 0;
        h++;
    }
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)out) == 0 ||
        uv_ip6_addr(h, port, (struct sockaddr_in6 *)out) == 0)
        return 0;
    return -EINVAL;
}

static enum quorum_probe probe_start(struct quorum *q, unsigned slot)
{
    struct probe_slot *sl = &q->probes[slot];
    struct sockaddr_storage addr;
    struct probe *p;

    sl->started_ms = mono_ms();
    sl->done = false;
    if (probe_address(q->raft.configuration.servers[slot].address, &addr) < 0 ||
        !(p = calloc(1, sizeof *p))) {
        sl->done = true;
        sl->verdict = QUORUM_PROBE_UNKNOWN;
        return QUORUM_PROBE_UNKNOWN;
    }
    p->q = q;
    p->slot = slot;
    p->tcp.data = p->req.data = p->timer.data = p;
    uv_tcp_init(&q->loop, &p->tcp);
    uv_timer_init(&q->loop, &p->timer);
    p->open_handles = 2;
    sl->out = p;
    if (uv_tcp_connect(&p->req, &p->tcp, (struct sockaddr *)&addr, on_probe_connect) != 0) {
        probe_finish(p, QUORUM_PROBE_UNKNOWN);
        return QUORUM_PROBE_UNKNOWN;
    }
    uv_timer_start(&p->timer, on_probe_timeout, QUORUM_PROBE_TIMEOUT_MS, 0);
    return QUORUM_PROBE_PENDING;
}

enum quorum_probe quorum_probe(struct quorum *q, int32_t node_id, int64_t every_ms,
                               bool *fresh)
{
    int i = voter_index(q, (raft_id)node_id + 1);

    *fresh = false;
    if (!q->tcp || raft_state(&q->raft) != RAFT_LEADER || i < 0 || i == voter_index(q, q->id))
        return QUORUM_PROBE_UNKNOWN;
    struct probe_slot *sl = &q->probes[i];
    if (sl->out)
        return QUORUM_PROBE_PENDING;
    if (sl->done && sl->started_ms >= q->heard_ms[i] && mono_ms() - sl->started_ms < every_ms) {
        *fresh = sl->told != sl->verdict || sl->told_heard_ms != q->heard_ms[i];
        sl->told = sl->verdict;
        sl->told_heard_ms = q->heard_ms[i];
        return sl->verdict;
    }
    return probe_start(q, (unsigned)i);
}

/* Probes in flight end with the quorum (their handles close on the loop's
 * last turns, in quorum_close). */
static void probes_close(struct quorum *q)
{
    for (unsigned i = 0; i < QUORUM_VOTERS_MAX; i++) {
        struct probe *p = q->probes[i].out;
        if (!p)
            continue;
        q->probes[i].out = NULL;
        p->q = NULL;
        probe_finish(p, QUORUM_PROBE_UNKNOWN);
    }
}

void quorum_tick(struct quorum *q)
{
    if (raft_state(&q->raft) == RAFT_LEADER && q->tcp)
        heard_update(q);
    else if (quorum_leader(q) != 0 && quorum_leader(q) != q->id)
        q->followed = quorum_leader(q);
    if (raft_state(&q->raft) != RAFT_LEADER || q->barrier_pending ||
        q->barrier_term == q->raft.current_term)
        return;
    q->barrier.data = q;
    if (raft_barrier(&q->raft, &q->barrier, on_barrier) == 0)
        q->barrier_pending = true;
}

bool quorum_ready(struct quorum *q)
{
    if (q->nvoters <= 1)
        return true;                /* raft_start applied everything */
    if (raft_state(&q->raft) == RAFT_LEADER)
        return q->barrier_term == q->raft.current_term;
    return quorum_leader(q) != 0 && q->raft.commit_index > 0 &&
           raft_last_applied(&q->raft) >= q->raft.commit_index;
}

int quorum_voters(const struct quorum *q)
{
    return q->nvoters;
}

void quorum_wait(struct quorum *q, int timeout_ms)
{
    struct pollfd pfd = {.fd = uv_backend_fd(&q->loop), .events = POLLIN};
    int t = uv_backend_timeout(&q->loop);

    if (t < 0 || t > timeout_ms)
        t = timeout_ms;
    poll(&pfd, 1, t);
    uv_run(&q->loop, UV_RUN_NOWAIT);
    quorum_tick(q);
}

/* --- state and the loop -------------------------------------------------------- */

bool quorum_is_leader(struct quorum *q)
{
    return raft_state(&q->raft) == RAFT_LEADER;
}

uint64_t quorum_leader(struct quorum *q)
{
    raft_id id = 0;
    const char *address = NULL;

    raft_leader(&q->raft, &id, &address);
    return id;
}

uint64_t quorum_applied(struct quorum *q)
{
    return raft_last_applied(&q->raft);
}

int quorum_fd(struct quorum *q)
{
    return uv_backend_fd(&q->loop);
}

int quorum_timeout_ms(struct quorum *q)
{
    return uv_backend_timeout(&q->loop);
}

void quorum_run(struct quorum *q)
{
    uv_run(&q->loop, UV_RUN_NOWAIT);
}

void quorum_fail_appends(struct quorum *q, int n)
{
    q->fail_appends = n;
}
