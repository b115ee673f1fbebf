/* shard_fixture.h - a shard and its control thread driven in-process from
 * the test's own thread, with a clock the test moves (struct shard_now),
 * and fake client connections (one end of a socketpair handed to the
 * shard as an accepted connection) that speak the Kafka wire with the
 * broker's own codec. No threads, no TCP: the test turns the shard
 * (shard_do_work + shard_idle) and the control thread
 * (control_poll_once) until the answer it waits for has arrived, so
 * nothing waits on a sleep. Include it after <cmocka.h>. */
#ifndef SLUICE_SHARD_FIXTURE_H
#define SLUICE_SHARD_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/control.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/codec.h"
#include "dataplane/kafka/msg_admin.h"
#include "dataplane/kafka/msg_fetch.h"
#include "dataplane/kafka/msg_produce.h"
#include "dataplane/shard.h"
#include "dataplane/shard_private.h"
#include "storage_fixture.h"

/* Turns before a test gives up waiting for something that must happen;
 * each turn idles at most FX_IDLE_NS of real time, and returns as soon as
 * a completion arrives, so this bounds a stuck test, never paces one. */
#define FX_MAX_TURNS 20000
#define FX_IDLE_NS (5 * 1000000LL)
#define FX_MAX_CLIENTS 8

struct fx {
    char *dir;
    struct broker_config cfg;
    struct control *ctl;
    struct shard *s;
    struct shard_now now;      /* the shard's clock: only the test moves it */
    int clients[FX_MAX_CLIENTS];
    int nclients;
    int32_t corr;
    uint8_t arena_buf[1 << 20];
    struct kafka_arena arena;  /* decoded answers; reset per answer */
};

/* One turn of both threads' loops. Returns the shard's work. */
static inline int fx_turn(struct fx *f)
{
    int work = shard_do_work(f->s, &f->now);
    shard_idle(f->s, work, FX_IDLE_NS);
    assert_true(control_poll_once(f->ctl, 0) >= 0);
    return work;
}

/* Brings up control + one shard on f->dir with f->cfg (already set). */
static inline void fx_start(struct fx *f)
{
    assert_int_equal(control_create(&f->ctl, &f->cfg, f->dir, 1), 0);
    assert_true(journal_replay_dir(f->dir) >= 0);
    struct shard_config sc = { .index = 0, .core = -1, .host = "127.0.0.1", .port = 0,
                               .data_dir = f->dir, .broker = &f->cfg };
    control_shard_endpoints(f->ctl, 0, &sc.from_ctl, &sc.to_ctl, &sc.doorbell_fd,
                            &sc.ctl_doorbell_fd);
    assert_int_equal(shard_create(&f->s, &sc), 0);
    control_set_shard_port(f->ctl, 0, shard_port(f->s));
    assert_int_equal(shard_loop_init(f->s), 0);
    assert_int_equal(control_open_partitions_start(f->ctl), 0);
    for (int i = 0; i < FX_MAX_TURNS && control_opening(f->ctl) == 1; i++)
        fx_turn(f);
    assert_int_equal(control_opening(f->ctl), 0);
    assert_int_equal(control_publish(f->ctl), 0);
    for (int i = 0; i < FX_MAX_TURNS && !f->s->md; i++)
        fx_turn(f);
    assert_non_null(f->s->md);
}

/* A fresh fixture with the broker's defaults and a settings hook. */
static inline struct fx *fx_new(const char *const *settings)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_non_null(f->dir = fixture_tmpdir());
    broker_config_defaults(&f->cfg);
    char err[256];
    assert_int_equal(broker_config_set(&f->cfg, "listeners", "PLAINTEXT://127.0.0.1:0", err,
                                       sizeof(err)), 0);
    /* The smallest journal: each test zero-fills a new one. */
    assert_int_equal(broker_config_set(&f->cfg, "sluice.journal.bytes", "4194304", err,
                                       sizeof(err)), 0);
    for (int i = 0; settings && settings[i]; i += 2)
        assert_int_equal(broker_config_set(&f->cfg, settings[i], settings[i + 1], err,
                                           sizeof(err)), 0);
    f->now.mono_ns = 1000 * 1000000000LL; /* any origin: only differences count */
    f->now.wall_ms = shard_clock_now().wall_ms;
    fx_start(f);
    return f;
}

/* Stops both loops cleanly (CTL_SHUTDOWN) and frees everything. */
static inline void fx_stop(struct fx *f)
{
    assert_int_equal(control_shutdown_start(f->ctl), 0);
    for (int i = 0; i < FX_MAX_TURNS && shard_running(f->s); i++)
        fx_turn(f);
    assert_false(shard_running(f->s));
    shard_loop_finish(f->s);
    for (int i = 0; i < FX_MAX_TURNS && !control_shutdown_done(f->ctl); i++)
        assert_true(control_poll_once(f->ctl, 0) >= 0);
    assert_true(control_shutdown_done(f->ctl));
}

static inline void fx_free(struct fx *f)
{
    shard_free(f->s);
    control_destroy(f->ctl);
    for (int i = 0; i < f->nclients; i++)
        close(f->clients[i]);
    fixture_rmdir(f->dir);
    free(f);
}

/* A new client: the shard gets one end of a socketpair as an accepted
 * connection; the test keeps the other (non-blocking). */
static inline int fx_connect(struct fx *f)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    assert_true(f->nclients < FX_MAX_CLIENTS);
    f->clients[f->nclients++] = sv[1];
    assert_int_equal(conn_accept(f->s, sv[0]), 0);
    return sv[1];
}

static inline void fx_write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Sends one request (non-flexible versions only: header v1). Returns its
 * correlation id. */
static inline int32_t fx_send(struct fx *f, int fd, int16_t key, int16_t version,
                              const void *req)
{
    static uint8_t buf[1 << 20];
    struct kwriter w;
    kwriter_init(&w, buf, sizeof(buf));
    kw_int32(&w, 0);
    struct kafka_request_header h = { .api_key = key, .api_version = version,
                                      .correlation_id = ++f->corr,
                                      .client_id = KSTR_LIT("shard-test"), .version = 1 };
    kafka_request_header_write(&w, &h);
    assert_int_equal(kafka_request_encode(&w, key, version, req), 0);
    assert_int_equal(w.err, 0);
    kw_put_int32_at(&w, 0, (int32_t)(w.len - 4));
    fx_write_all(fd, buf, w.len);
    return f->corr;
}

/* 1 and the frame in buf when a whole response is readable on fd, 0 when
 * not yet, -1 at end of stream (the shard closed the connection). */
static inline int fx_try_read(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t hdr[4];
    ssize_t n = recv(fd, hdr, 4, MSG_PEEK);
    if (n == 0)
        return -1;
    if (n < 4)
        return 0;
    size_t size = be32_load(hdr);
    assert_true(size + 4 <= cap);
    n = recv(fd, buf, size + 4, MSG_PEEK);
    if (n < (ssize_t)(size + 4))
        return 0;
    assert_int_equal(recv(fd, buf, size + 4, 0), (ssize_t)(size + 4));
    *len = size + 4;
    return 1;
}

/* Turns until fd's next response is in, and decodes it (response header
 * v0) into f->arena; checks it answers corr. */
static inline void *fx_recv(struct fx *f, int fd, int32_t corr, int16_t key, int16_t version)
{
    static uint8_t buf[1 << 20];
    size_t len = 0;
    int got = 0;
    for (int i = 0; i < FX_MAX_TURNS && (got = fx_try_read(fd, buf, sizeof(buf), &len)) == 0; i++)
        fx_turn(f);
    assert_int_equal(got, 1);
    struct kreader r;
    kreader_init(&r, buf + 4, len - 4);
    assert_int_equal(kr_int32(&r), corr);
    kafka_arena_init(&f->arena, f->arena_buf, sizeof(f->arena_buf));
    void *resp = NULL;
    assert_int_equal(kafka_response_decode(&r, key, version, &f->arena, &resp), 0);
    return resp;
}

/* True once the shard has closed fd's connection (turning until then). */
static inline bool fx_closed(struct fx *f, int fd)
{
    uint8_t buf[4096];
    for (int i = 0; i < FX_MAX_TURNS; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            return true;
        if (n < 0 && errno != EAGAIN)
            return true; /* reset */
        fx_turn(f);
    }
    return false;
}

/* The test's clock moves only here. */
static inline void fx_advance_ms(struct fx *f, int64_t ms)
{
    f->now.mono_ns += ms * 1000000;
    f->now.wall_ms += ms;
}

#endif
