/* redis_bench.c - a load generator for Redis Streams: the same three runs as
 * the broker's load generators (loadgen.h owns the options, the pacing, the
 * stamps, the histograms and the RESULT line), against redis-server.
 *
 *   redis_bench --mode produce|consume|latency --target HOST:PORT
 *               [--topic T] [--partitions P] [--size S] [--count N]
 *               [--seconds S] [--window W] [--rate R] [--warmup S]
 *
 * Partition i of topic T is the stream key "T-i"; a message is one stream
 * entry with the single field "v" holding --size bytes.
 *
 * produce  --count "XADD T-i * v <value>", round-robin over the keys, on one
 *          connection with at most --window outstanding. Commands are
 *          encoded with redisFormatCommandArgv into one buffer that goes out
 *          in one write each time half the window has come back. Every reply
 *          must be a stream id (error replies count in errors= and not in
 *          msgs=). Timed from the first send to the last reply.
 * consume  reads --count entries back from id 0, one "XREAD COUNT 10000
 *          STREAMS T-i <last id>" in flight per key, pipelined on one
 *          connection; a key's next XREAD goes out as soon as its reply is
 *          in. Every entry must hold field v of --size bytes (else errors=).
 *          Timed from the first send to the reply holding the Nth entry.
 * latency  open loop (loadgen.h) at --rate for --seconds. The main thread
 *          sends: every XADD due goes out in one write, stamped with its
 *          intended time and sequence number, without waiting for replies;
 *          the ack thread reads the replies off the same connection (they
 *          come back in order, so reply n acks message n); the tail thread
 *          follows the streams on a second connection with XREAD BLOCK and
 *          times each entry from the stamp in its value. --window is not
 *          used: an open loop does not limit what is in flight, unless
 *          --in-flight N (1: a synchronous client, one XADD at a time).
 *
 * Connections are raw non-blocking sockets with hiredis's encoder and reply
 * parser (redisReader) rather than a redisContext, so that every wait is a
 * poll() with a deadline and the latency run can write a connection from
 * one thread and read it from another. Every loop is bounded: produce and
 * consume by --seconds (then time_limited=1), latency by its drain deadline
 * (LG_DRAIN_GRACE_S past the last intended time).
 *
 * Diagnostics go to stderr; stdout is the RESULT line. The exit status is 0
 * only if the run completed with no error; a latency run that did not keep
 * up still exits 0 (the harness reads kept_up=).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "loadgen.h"

#define TOOL "redis_bench"
#define VALUE_FIELD "v"
#define READ_CHUNK (32 * 1024)
#define SETUP_TIMEOUT_S 5.0        /* connect, and the latency run's set-up */
#define POLL_SLICE_NS 50000000ull  /* reader threads re-check when to stop */
#define CONSUME_XREAD_COUNT 10000
#define TAIL_XREAD_COUNT "1000"
#define TAIL_BLOCK_MS "1000"
#define LATENCY_MAX_BATCH 4096     /* XADDs per write when the sender is late */
#define ID_MAX 48                  /* "<u64>-<u64>" and a NUL */
#define MAX_ERRORS_SHOWN 5

enum io_status { IO_OK = 0, IO_TIMEOUT = 1, IO_ERROR = -1 };

/* ---- a growable byte buffer ------------------------------------------- */

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

static int buf_append(struct buf *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            fprintf(stderr, TOOL ": out of memory\n");
            return -1;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_free(struct buf *b)
{
    free(b->data);
    *b = (struct buf){ 0 };
}

/* Encodes one command (RESP, binary-safe) at the end of b. */
static int append_command(struct buf *b, int argc, const char **argv,
                          const size_t *argv_len)
{
    char *cmd;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argv_len);

    if (len < 0) {
        fprintf(stderr, TOOL ": cannot encode a command: out of memory\n");
        return -1;
    }
    int rc = buf_append(b, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

/* ---- stream keys -------------------------------------------------------- */

struct streams {
    int count;
    char **keys;               /* "<topic>-<i>" */
    size_t *key_lens;
    const char *topic;
    size_t topic_len;
};

static void streams_free(struct streams *s)
{
    for (int i = 0; s->keys && i < s->count; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->key_lens);
    *s = (struct streams){ 0 };
}

static int streams_init(struct streams *s, const char *topic, int partitions)
{
    *s = (struct streams){ .count = partitions, .topic = topic,
                           .topic_len = strlen(topic) };
    s->keys = calloc((size_t)partitions, sizeof(*s->keys));
    s->key_lens = calloc((size_t)partitions, sizeof(*s->key_lens));
    if (!s->keys || !s->key_lens)
        goto oom;
    for (int i = 0; i < partitions; i++) {
        size_t cap = s->topic_len + 16;
        s->keys[i] = malloc(cap);
        if (!s->keys[i])
            goto oom;
        s->key_lens[i] = (size_t)snprintf(s->keys[i], cap, "%s-%d", topic, i);
    }
    return 0;
oom:
    fprintf(stderr, TOOL ": out of memory\n");
    streams_free(s);
    return -1;
}

/* The partition a key names, or -1 when it is not one of ours. */
static int streams_index(const struct streams *s, const char *key, size_t len)
{
    int i = 0;

    if (len <= s->topic_len + 1 || memcmp(key, s->topic, s->topic_len) ||
        key[s->topic_len] != '-')
        return -1;
    for (size_t p = s->topic_len + 1; p < len; p++) {
        if (key[p] < '0' || key[p] > '9' || i > s->count)
            return -1;
        i = i * 10 + (key[p] - '0');
    }
    return i < s->count && s->key_lens[i] == len ? i : -1;
}

static int append_xadd(struct buf *b, const struct streams *s, int key,
                       const char *value, size_t value_len)
{
    const char *argv[] = { "XADD", s->keys[key], "*", VALUE_FIELD, value };
    const size_t lens[] = { 4, s->key_lens[key], 1, strlen(VALUE_FIELD), value_len };

    return append_command(b, 5, argv, lens);
}

/* ---- one connection: a socket and a reply parser ---------------------- */

struct conn {
    int fd;
    redisReader *reader;
    const char *name;          /* in messages */
};

/* Waits until fd is ready for `events`: 1 ready (or in error: the next
 * read or write tells), 0 the deadline passed, -1 poll failed. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = lg_now_ns();
        if (now >= deadline_ns)
            return 0;
        uint64_t wait_ms = (deadline_ns - now + 999999) / 1000000;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, wait_ms > 1000 ? 1000 : (int)wait_ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, TOOL ": poll: %s\n", strerror(errno));
            return -1;
        }
    }
}

/* "host:port", "[v6addr]:port" or "redis://host:port" into host and port. */
static int split_target(const char *target, char *host, size_t host_cap,
                        const char **port)
{
    const char *t = strncmp(target, "redis://", 8) ? target : target + 8;
    const char *colon = strrchr(t, ':');
    size_t host_len;

    if (!colon || colon == t || !colon[1])
        return -1;
    if (t[0] == '[' && colon[-1] == ']') {
        t++;
        host_len = (size_t)(colon - t) - 1;
    } else {
        host_len = (size_t)(colon - t);
    }
    if (host_len == 0 || host_len >= host_cap)
        return -1;
    memcpy(host, t, host_len);
    host[host_len] = '\0';
    *port = colon + 1;
    return 0;
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline_ns)
{
    int one = 1, err = 0;
    socklen_t err_len = sizeof(err);
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
        goto fail;
    int ready = wait_fd(fd, POLLOUT, deadline_ns);
    if (ready <= 0) {
        errno = ready == 0 ? ETIMEDOUT : errno;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len))
        goto fail;
    if (err) {
        errno = err;
        goto fail;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
        goto fail;
    return fd;
fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

static int conn_open(struct conn *c, const char *target, const char *name)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    char host[256];
    const char *port;
    uint64_t deadline = lg_now_ns() + (uint64_t)(SETUP_TIMEOUT_S * 1e9);

    *c = (struct conn){ .fd = -1, .name = name };
    if (split_target(target, host, sizeof(host), &port)) {
        fprintf(stderr, TOOL ": --target must be HOST:PORT, not %s\n", target);
        return -1;
    }
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        fprintf(stderr, TOOL ": %s: %s\n", target, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next)
        c->fd = connect_one(ai, deadline);
    freeaddrinfo(res);
    if (c->fd < 0) {
        fprintf(stderr, TOOL ": cannot connect to %s: %s\n", target, strerror(errno));
        return -1;
    }
    c->reader = redisReaderCreate();
    if (!c->reader) {
        fprintf(stderr, TOOL ": out of memory\n");
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->reader)
        redisReaderFree(c->reader);
    if (c->fd >= 0)
        close(c->fd);
    c->reader = NULL;
    c->fd = -1;
}

/* Writes all of buf; *written (if given) says how much went out. */
static enum io_status conn_write_all(struct conn *c, const char *buf, size_t len,
                                     uint64_t deadline_ns, size_t *written)
{
    enum io_status st = IO_OK;
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            fprintf(stderr, TOOL ": %s: send: %s\n", c->name, strerror(errno));
            st = IO_ERROR;
            break;
        }
        int ready = wait_fd(c->fd, POLLOUT, deadline_ns);
        if (ready <= 0) {
            st = ready == 0 ? IO_TIMEOUT : IO_ERROR;
            break;
        }
    }
    if (written)
        *written = off;
    return st;
}

/* Reads what has arrived (waiting for something until the deadline) into
 * the reply parser. */
static enum io_status conn_fill(struct conn *c, uint64_t deadline_ns)
{
    char chunk[READ_CHUNK];

    for (;;) {
        ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
        if (n > 0) {
            if (redisReaderFeed(c->reader, chunk, (size_t)n) != REDIS_OK) {
                fprintf(stderr, TOOL ": %s: out of memory\n", c->name);
                return IO_ERROR;
            }
            return IO_OK;
        }
        if (n == 0) {
            fprintf(stderr, TOOL ": %s: redis closed the connection\n", c->name);
            return IO_ERROR;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            fprintf(stderr, TOOL ": %s: recv: %s\n", c->name, strerror(errno));
            return IO_ERROR;
        }
        int ready = wait_fd(c->fd, POLLIN, deadline_ns);
        if (ready <= 0)
            return ready == 0 ? IO_TIMEOUT : IO_ERROR;
    }
}

/* The next complete reply already read: 1 (*out set, freeReplyObject it),
 * 0 none yet, -1 the bytes are not RESP. */
static int conn_next_reply(struct conn *c, redisReply **out)
{
    void *reply = NULL;

    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
        fprintf(stderr, TOOL ": %s: bad reply: %s\n", c->name, c->reader->errstr);
        return -1;
    }
    *out = reply;
    return reply != NULL;
}

static enum io_status conn_read_reply(struct conn *c, redisReply **out,
                                      uint64_t deadline_ns)
{
    for (;;) {
        int got = conn_next_reply(c, out);
        if (got)
            return got > 0 ? IO_OK : IO_ERROR;
        enum io_status st = conn_fill(c, deadline_ns);
        if (st != IO_OK)
            return st;
    }
}

/* ---- replies ----------------------------------------------------------- */

/* Counts an error, and shows the first few (with redis's message if the
 * reply is an error reply). */
static void show_error(uint64_t *errors, const char *what, const redisReply *r)
{
    if (++*errors > MAX_ERRORS_SHOWN)
        return;
    if (r && r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, TOOL ": %s: %.*s\n", what, (int)r->len, r->str);
    else
        fprintf(stderr, TOOL ": %s\n", what);
}

static void show_size_error(uint64_t *errors, const char *what, size_t len,
                            size_t size)
{
    if (++*errors <= MAX_ERRORS_SHOWN)
        fprintf(stderr, TOOL ": %s of %zu bytes, not %zu\n", what, len, size);
}

/* An XADD's reply is the new entry's id. */
static bool xadd_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < ID_MAX;
}

/* Element i of an XREAD reply: [key, [entry...]]. */
static int xread_stream(const redisReply *r, size_t i, const redisReply **key,
                        const redisReply **entries)
{
    const redisReply *s = r->element[i];

    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
        s->element[0]->type != REDIS_REPLY_STRING ||
        s->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    *key = s->element[0];
    *entries = s->element[1];
    return 0;
}

/* An entry: [id, [field, value]], the one field being VALUE_FIELD. */
static int entry_parts(const redisReply *e, const redisReply **id,
                       const redisReply **value)
{
    const redisReply *fields;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= ID_MAX ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    fields = e->element[1];
    if (fields->elements != 2 || fields->element[0]->type != REDIS_REPLY_STRING ||
        fields->element[1]->type != REDIS_REPLY_STRING ||
        fields->element[0]->len != strlen(VALUE_FIELD) ||
        memcmp(fields->element[0]->str, VALUE_FIELD, strlen(VALUE_FIELD)))
        return -1;
    *id = e->element[0];
    *value = fields->element[1];
    return 0;
}

static void copy_id(char *dst, const redisReply *id)
{
    memcpy(dst, id->str, id->len);
    dst[id->len] = '\0';
}

/* ---- produce and consume ---------------------------------------------- */

struct rate_result {
    uint64_t msgs;             /* good messages */
    uint64_t bytes;            /* their value bytes */
    uint64_t errors;
    double secs;
    bool time_limited;
    bool failed;               /* connection or protocol failure */
};

static char *make_payload(size_t size)
{
    char *p = malloc(size ? size : 1);

    if (!p) {
        fprintf(stderr, TOOL ": out of memory\n");
        return NULL;
    }
    for (size_t i = 0; i < size; i++)
        p[i] = (char)('a' + i % 26);
    return p;
}

/* Encodes and writes the next n XADDs (messages sent..sent+n-1). */
static enum io_status send_xadds(struct conn *c, const struct streams *s,
                                 struct buf *batch, const char *payload,
                                 size_t size, uint64_t sent, uint64_t n,
                                 uint64_t deadline_ns)
{
    batch->len = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (append_xadd(batch, s, (int)((sent + i) % (uint64_t)s->count),
                        payload, size))
            return IO_ERROR;
    }
    return conn_write_all(c, batch->data, batch->len, deadline_ns, NULL);
}

/* Takes every reply already read; returns how many, or -1. */
static int64_t take_xadd_replies(struct conn *c, struct rate_result *res)
{
    redisReply *r;
    int64_t taken = 0;
    int got;

    while ((got = conn_next_reply(c, &r)) > 0) {
        if (xadd_ok(r))
            res->msgs++;
        else
            show_error(&res->errors, "XADD failed", r);
        freeReplyObject(r);
        taken++;
    }
    return got < 0 ? -1 : taken;
}

static void note_io(enum io_status st, struct rate_result *res)
{
    if (st == IO_TIMEOUT)
        res->time_limited = true;
    else if (st == IO_ERROR)
        res->failed = true;
}

static void run_produce(const struct lg_opts *o, const struct streams *s,
                        struct conn *c, struct rate_result *res)
{
    struct buf batch = { 0 };
    char *payload = make_payload(o->size);
    uint64_t sent = 0, replied = 0, refill_at = o->window / 2;
    uint64_t t0 = lg_now_ns(), last = t0;
    uint64_t deadline = t0 + (uint64_t)(o->seconds * 1e9);

    if (!payload) {
        res->failed = true;
        return;
    }
    while (replied < o->count) {
        enum io_status st = IO_OK;
        if (lg_now_ns() >= deadline) {
            res->time_limited = true;
            break;
        }
        if (sent < o->count && sent - replied <= refill_at) {
            uint64_t room = o->window - (sent - replied), left = o->count - sent;
            uint64_t n = room < left ? room : left;
            st = send_xadds(c, s, &batch, payload, o->size, sent, n, deadline);
            sent += n;
        }
        if (st == IO_OK)
            st = conn_fill(c, deadline);
        if (st != IO_OK) {
            note_io(st, res);
            break;
        }
        int64_t taken = take_xadd_replies(c, res);
        if (taken < 0) {
            res->failed = true;
            break;
        }
        if (taken > 0)
            last = lg_now_ns();
        replied += (uint64_t)taken;
    }
    res->secs = (double)(last - t0) / 1e9;
    res->bytes = res->msgs * o->size;
    buf_free(&batch);
    free(payload);
}

/* Per stream key: where reading goes on from. */
struct cursor {
    char id[ID_MAX];
    uint64_t next_seq;         /* latency: the sequence number expected next */
    bool exhausted;            /* consume: nothing left past id */
};

static enum io_status send_xread(struct conn *c, const struct streams *s, int key,
                                 const char *id, uint64_t deadline_ns)
{
    char count[24];
    struct buf cmd = { 0 };
    snprintf(count, sizeof(count), "%d", CONSUME_XREAD_COUNT);
    const char *argv[] = { "XREAD", "COUNT", count, "STREAMS", s->keys[key], id };
    const size_t lens[] = { 5, 5, strlen(count), 7, s->key_lens[key], strlen(id) };

    if (append_command(&cmd, 6, argv, lens))
        return IO_ERROR;
    enum io_status st = conn_write_all(c, cmd.data, cmd.len, deadline_ns, NULL);
    buf_free(&cmd);
    return st;
}

/* Counts and checks the entries of key's XREAD reply (up to o->count in
 * all), and moves the key's cursor past them. */
static int take_xread_reply(const struct lg_opts *o, const redisReply *r,
                            struct cursor *cur, struct rate_result *res)
{
    const redisReply *key, *entries, *id = NULL, *value;

    if (r->type == REDIS_REPLY_NIL) {
        cur->exhausted = true;
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        xread_stream(r, 0, &key, &entries)) {
        show_error(&res->errors, "unexpected XREAD reply", r);
        return -1;
    }
    for (size_t i = 0; i < entries->elements; i++) {
        if (entry_parts(entries->element[i], &id, &value)) {
            show_error(&res->errors, "malformed stream entry", NULL);
            return -1;
        }
        if (res->msgs + res->errors >= o->count)
            continue;
        if (value->len == o->size) {
            res->msgs++;
            res->bytes += value->len;
        } else {
            show_size_error(&res->errors, "an entry", value->len, o->size);
        }
    }
    if (id)
        copy_id(cur->id, id);
    if (entries->elements < CONSUME_XREAD_COUNT)
        cur->exhausted = true;
    return 0;
}

static void run_consume(const struct lg_opts *o, const struct streams *s,
                        struct conn *c, struct rate_result *res)
{
    struct cursor *cur = calloc((size_t)s->count, sizeof(*cur));
    int *in_flight = calloc((size_t)s->count, sizeof(*in_flight));
    uint64_t head = 0, tail = 0;   /* in_flight[] is a ring of keys */
    uint64_t t0 = lg_now_ns(), last = t0;
    uint64_t deadline = t0 + (uint64_t)(o->seconds * 1e9);
    enum io_status st = IO_OK;

    if (!cur || !in_flight) {
        fprintf(stderr, TOOL ": out of memory\n");
        res->failed = true;
        goto out;
    }
    for (int k = 0; k < s->count && st == IO_OK; k++) {
        strcpy(cur[k].id, "0");
        st = send_xread(c, s, k, cur[k].id, deadline);
        in_flight[tail++ % (uint64_t)s->count] = k;
    }
    while (st == IO_OK && head < tail && res->msgs + res->errors < o->count) {
        redisReply *r;
        int k = in_flight[head++ % (uint64_t)s->count];
        st = conn_read_reply(c, &r, deadline);
        if (st != IO_OK)
            break;
        int bad = take_xread_reply(o, r, &cur[k], res);
        freeReplyObject(r);
        last = lg_now_ns();
        if (bad) {
            res->failed = true;
            break;
        }
        if (!cur[k].exhausted && res->msgs + res->errors < o->count) {
            st = send_xread(c, s, k, cur[k].id, deadline);
            in_flight[tail++ % (uint64_t)s->count] = k;
        }
    }
    note_io(st, res);
    if (!res->failed && !res->time_limited && res->msgs + res->errors < o->count)
        fprintf(stderr, TOOL ": the streams hold only %" PRIu64 " of %" PRIu64
                " messages\n", res->msgs + res->errors, o->count);
    res->secs = (double)(last - t0) / 1e9;
out:
    free(cur);
    free(in_flight);
}

static int report_rate(const struct lg_opts *o, const struct rate_result *res)
{
    double cpu = lg_cpu_s();

    fprintf(stderr, TOOL ": %s %" PRIu64 " msgs in %.3f s: %.0f msgs/s, %.1f MB/s, "
            "%" PRIu64 " errors%s\n", o->mode, res->msgs, res->secs,
            res->secs > 0 ? (double)res->msgs / res->secs : 0,
            res->secs > 0 ? (double)res->bytes / res->secs / 1e6 : 0, res->errors,
            res->time_limited ? " (time limited)" : "");
    lg_report_begin("redis", o);
    lg_report_rate(res->msgs, res->bytes, res->secs, res->errors,
                   res->time_limited, cpu);
    lg_report_end();
    bool complete = res->msgs == o->count && !res->time_limited && !res->failed;
    return complete && res->errors == 0 ? 0 : 1;
}

/* ---- latency ----------------------------------------------------------- */

struct latency_run {
    const struct lg_opts *o;
    const struct streams *s;
    struct conn prod;          /* main thread writes, ack thread reads */
    struct conn tail;          /* the tail thread's */
    struct cursor *tail_at;    /* per key: the last id the tail has seen */
    struct lg_pace pace;       /* the sender's (it moves pace.next) */
    struct lg_pace schedule;   /* a copy the ack thread reads intended times
                                  from: message n is due at start + n/rate,
                                  so no ring of send times is needed */
    uint64_t deadline_ns;      /* the last intended time + LG_DRAIN_GRACE_S */
    atomic_uint_fast64_t sent; /* messages written whole so far */
    atomic_uint_fast64_t replied; /* replies the ack thread has read */
    atomic_bool sender_done;   /* sent is final */

    /* each owned by one thread until the threads are joined */
    uint64_t first_send_ns, last_send_ns;
    bool send_failed;
    struct lg_lat lag;
    uint64_t acked, ack_errors;
    bool ack_failed;
    struct lg_lat ack;
    uint64_t consumed, tail_errors;
    bool tail_failed;
    struct lg_lat e2e;
};

/* A reader thread stops when it has everything sent, or at the deadline. */
static bool reader_should_stop(struct latency_run *r, uint64_t have)
{
    if (have >= r->schedule.total || lg_now_ns() >= r->deadline_ns)
        return true;
    return atomic_load(&r->sender_done) && have >= atomic_load(&r->sent);
}

static uint64_t poll_slice_deadline(const struct latency_run *r)
{
    uint64_t t = lg_now_ns() + POLL_SLICE_NS;

    return t < r->deadline_ns ? t : r->deadline_ns;
}

/* The tail must see exactly the entries this run adds. XREAD from "$" is
 * racy (an XADD that lands before the first XREAD would be missed, and a
 * key that does not exist yet has no "$"), so before sending starts one
 * marker entry (--size zero bytes) is added to every key, which also
 * creates it, and the tail starts from the marker's id: XREAD returns
 * entries with greater ids, i.e. everything added after the marker. */
static int add_markers(struct latency_run *r)
{
    struct buf cmds = { 0 };
    char *zeros = calloc(1, r->o->size);
    uint64_t deadline = lg_now_ns() + (uint64_t)(SETUP_TIMEOUT_S * 1e9);
    enum io_status st = IO_OK;
    int rc = -1;

    if (!zeros) {
        fprintf(stderr, TOOL ": out of memory\n");
        return -1;
    }
    for (int k = 0; k < r->s->count; k++) {
        if (append_xadd(&cmds, r->s, k, zeros, r->o->size))
            goto out;
    }
    st = conn_write_all(&r->prod, cmds.data, cmds.len, deadline, NULL);
    for (int k = 0; k < r->s->count && st == IO_OK; k++) {
        redisReply *reply;
        st = conn_read_reply(&r->prod, &reply, deadline);
        if (st != IO_OK)
            break;
        bool ok = xadd_ok(reply);
        if (ok) {
            copy_id(r->tail_at[k].id, reply);
            r->tail_at[k].next_seq = (uint64_t)k;
        } else {
            uint64_t errors = 0;
            show_error(&errors, "marker XADD failed", reply);
        }
        freeReplyObject(reply);
        if (!ok)
            goto out;
    }
    if (st != IO_OK) {
        fprintf(stderr, TOOL ": no reply to the marker XADDs\n");
        goto out;
    }
    rc = 0;
out:
    buf_free(&cmds);
    free(zeros);
    return rc;
}

/* The ack thread: reply n is the ack of message n. */
static void *ack_main(void *arg)
{
    struct latency_run *r = arg;
    uint64_t replies = 0;

    while (!reader_should_stop(r, replies)) {
        enum io_status st = conn_fill(&r->prod, poll_slice_deadline(r));
        if (st == IO_TIMEOUT)
            continue;
        if (st != IO_OK) {
            r->ack_failed = true;
            break;
        }
        uint64_t now = lg_now_ns();
        redisReply *reply;
        int got;
        while ((got = conn_next_reply(&r->prod, &reply)) > 0) {
            if (xadd_ok(reply)) {
                lg_lat_record(&r->ack, lg_pace_intended(&r->schedule, replies), now);
                r->acked++;
            } else {
                show_error(&r->ack_errors, "XADD failed", reply);
            }
            freeReplyObject(reply);
            replies++;
            atomic_store(&r->replied, replies);
        }
        if (got < 0) {
            r->ack_failed = true;
            break;
        }
    }
    return NULL;
}

static enum io_status send_tail_xread(struct latency_run *r)
{
    int n = 6 + 2 * r->s->count;
    const char **argv = malloc((size_t)n * sizeof(*argv));
    size_t *lens = malloc((size_t)n * sizeof(*lens));
    struct buf cmd = { 0 };
    enum io_status st = IO_ERROR;

    if (!argv || !lens) {
        fprintf(stderr, TOOL ": out of memory\n");
        goto out;
    }
    argv[0] = "XREAD"; argv[1] = "BLOCK"; argv[2] = TAIL_BLOCK_MS;
    argv[3] = "COUNT"; argv[4] = TAIL_XREAD_COUNT; argv[5] = "STREAMS";
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    for (int k = 0; k < r->s->count; k++) {
        argv[6 + k] = r->s->keys[k];
        lens[6 + k] = r->s->key_lens[k];
        argv[6 + r->s->count + k] = r->tail_at[k].id;
        lens[6 + r->s->count + k] = strlen(r->tail_at[k].id);
    }
    if (append_command(&cmd, n, argv, lens))
        goto out;
    st = conn_write_all(&r->tail, cmd.data, cmd.len, r->deadline_ns, NULL);
out:
    buf_free(&cmd);
    free(argv);
    free(lens);
    return st;
}

/* One delivered entry of partition k: checks it is the next message of
 * that partition (k, k+P, k+2P, ...), of the right size, and times it. */
static void take_delivery(struct latency_run *r, int k, const redisReply *value,
                          uint64_t now)
{
    struct cursor *cur = &r->tail_at[k];

    if (value->len != r->o->size) {
        show_size_error(&r->tail_errors, "a delivered entry", value->len, r->o->size);
        return;
    }
    uint64_t seq = lg_stamp_seq(value->str);
    if (seq != cur->next_seq && ++r->tail_errors <= MAX_ERRORS_SHOWN)
        fprintf(stderr, TOOL ": partition %d delivered message %" PRIu64
                " where %" PRIu64 " was next\n", k, seq, cur->next_seq);
    cur->next_seq = seq + (uint64_t)r->s->count;
    lg_lat_record(&r->e2e, lg_stamp_time(value->str), now);
    r->consumed++;
}

static int take_tail_reply(struct latency_run *r, const redisReply *reply,
                           uint64_t now)
{
    if (reply->type == REDIS_REPLY_NIL)        /* BLOCK timed out */
        return 0;
    if (reply->type != REDIS_REPLY_ARRAY) {
        show_error(&r->tail_errors, "unexpected XREAD reply", reply);
        return -1;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *key, *entries, *id, *value;
        int k;
        if (xread_stream(reply, i, &key, &entries) ||
            (k = streams_index(r->s, key->str, key->len)) < 0) {
            show_error(&r->tail_errors, "unexpected XREAD reply", NULL);
            return -1;
        }
        for (size_t e = 0; e < entries->elements; e++) {
            if (entry_parts(entries->element[e], &id, &value)) {
                show_error(&r->tail_errors, "malformed stream entry", NULL);
                return -1;
            }
            copy_id(r->tail_at[k].id, id);
            take_delivery(r, k, value, now);
        }
    }
    return 0;
}

/* The tail thread: one XREAD BLOCK in flight over all keys at a time. */
static void *tail_main(void *arg)
{
    struct latency_run *r = arg;
    bool waiting = false;       /* an XREAD is in flight */

    while (!reader_should_stop(r, r->consumed)) {
        enum io_status st = IO_OK;
        redisReply *reply;
        if (!waiting)
            st = send_tail_xread(r);
        waiting = true;
        if (st == IO_OK)
            st = conn_read_reply(&r->tail, &reply, poll_slice_deadline(r));
        if (st == IO_TIMEOUT)
            continue;
        if (st != IO_OK) {
            r->tail_failed = true;
            break;
        }
        waiting = false;
        int bad = take_tail_reply(r, reply, lg_now_ns());
        freeReplyObject(reply);
        if (bad) {
            r->tail_failed = true;
            break;
        }
    }
    return NULL;
}

/* Encodes the n XADDs due (stamped with their intended times). */
static int encode_due(struct latency_run *r, struct buf *batch, char *payload,
                      uint64_t n, size_t *ends)
{
    const struct lg_opts *o = r->o;

    batch->len = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t seq = r->pace.next + i;
        lg_stamp(payload, lg_pace_intended(&r->pace, seq), seq);
        if (append_xadd(batch, r->s, (int)(seq % (uint64_t)r->s->count),
                        payload, o->size))
            return -1;
        ends[i] = batch->len;
    }
    return 0;
}

/* The sender (main thread): all due XADDs in one write, no waiting for
 * replies. Stops early only if a write cannot finish by the deadline. */
static void send_paced(struct latency_run *r)
{
    struct buf batch = { 0 };
    char *payload = make_payload(r->o->size);
    size_t *ends = malloc(LATENCY_MAX_BATCH * sizeof(*ends));
    uint64_t n;

    if (!payload || !ends) {
        fprintf(stderr, TOOL ": out of memory\n");
        r->send_failed = true;
        goto out;
    }
    uint64_t max = r->o->in_flight ? r->o->in_flight : LATENCY_MAX_BATCH;
    while ((n = lg_pace_wait(&r->pace, max < LATENCY_MAX_BATCH ? max : LATENCY_MAX_BATCH)) > 0) {
        /* --in-flight: a synchronous client sends the next XADD only once
         * the replies have come back (the wait is bounded by the deadline). */
        while (r->o->in_flight && r->pace.next - atomic_load(&r->replied) >= r->o->in_flight &&
               lg_now_ns() < r->deadline_ns)
            sched_yield();
        uint64_t room = r->o->in_flight ? r->o->in_flight - (r->pace.next - atomic_load(&r->replied))
                                        : n;
        if (room < n)
            n = room ? room : 1;
        if (encode_due(r, &batch, payload, n, ends)) {
            r->send_failed = true;
            break;
        }
        uint64_t now = lg_now_ns();
        if (now >= r->deadline_ns) {
            fprintf(stderr, TOOL ": the sender fell more than %.1f s behind;"
                    " sending stopped\n", LG_DRAIN_GRACE_S);
            break;
        }
        for (uint64_t i = 0; i < n; i++)
            lg_lat_record(&r->lag, lg_pace_intended(&r->pace, r->pace.next + i), now);
        if (r->pace.next == 0)
            r->first_send_ns = now;
        r->last_send_ns = now;
        size_t written;
        enum io_status st = conn_write_all(&r->prod, batch.data, batch.len,
                                           r->deadline_ns, &written);
        uint64_t whole = 0;
        while (whole < n && ends[whole] <= written)
            whole++;
        lg_pace_sent(&r->pace, whole);
        atomic_store(&r->sent, r->pace.next);
        if (st != IO_OK) {
            if (st == IO_TIMEOUT)
                fprintf(stderr, TOOL ": redis stopped reading; sending stopped\n");
            r->send_failed = st == IO_ERROR;
            break;
        }
    }
out:
    atomic_store(&r->sender_done, true);
    buf_free(&batch);
    free(payload);
    free(ends);
}

static int latency_report(struct latency_run *r)
{
    const struct lg_opts *o = r->o;
    uint64_t sent = atomic_load(&r->sent);
    uint64_t errors = r->ack_errors + r->tail_errors;
    bool kept_up = sent == r->pace.total && r->acked == sent && r->consumed == sent;
    double cpu = lg_cpu_s();
    bool failed = r->send_failed || r->ack_failed || r->tail_failed;

    if (lg_write_hist(o, "ack", &r->ack.h) || lg_write_hist(o, "e2e", &r->e2e.h))
        failed = true;
    const struct lg_lat_summary sum = {
        .scheduled = r->pace.total, .sent = sent, .acked = r->acked,
        .consumed = r->consumed, .errors = errors, .kept_up = kept_up,
        .achieved_rate = lg_achieved_rate(&r->pace, sent, r->first_send_ns,
                                          r->last_send_ns),
        .client_cpu_s = cpu, .ack = &r->ack.h, .e2e = &r->e2e.h, .lag = &r->lag.h,
    };

    lg_lat_summary_print(&sum);
    lg_report_begin("redis", o);
    lg_report_latency(&sum);
    lg_report_end();
    return errors == 0 && !failed ? 0 : 1;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), struct latency_run *r)
{
    int rc = pthread_create(t, NULL, fn, r);

    if (rc)
        fprintf(stderr, TOOL ": cannot start a thread: %s\n", strerror(rc));
    return rc ? -1 : 0;
}

static int run_latency(const struct lg_opts *o, const struct streams *s)
{
    struct latency_run *r = calloc(1, sizeof(*r));
    pthread_t ack_thread, tail_thread;
    int rc = 1;

    if (!r) {
        fprintf(stderr, TOOL ": out of memory\n");
        return 1;
    }
    r->o = o;
    r->s = s;
    r->prod.fd = r->tail.fd = -1;
    r->tail_at = calloc((size_t)s->count, sizeof(*r->tail_at));
    if (!r->tail_at) {
        fprintf(stderr, TOOL ": out of memory\n");
        goto out;
    }
    if (conn_open(&r->prod, o->target, "produce connection") ||
        conn_open(&r->tail, o->target, "tail connection") || add_markers(r))
        goto out;

    r->deadline_ns = lg_latency_start(o, &r->pace, &r->ack, &r->e2e, &r->lag);
    r->schedule = r->pace;
    atomic_init(&r->sent, 0);
    atomic_init(&r->sender_done, false);

    if (start_thread(&ack_thread, ack_main, r))
        goto out;
    if (start_thread(&tail_thread, tail_main, r)) {
        atomic_store(&r->sender_done, true);
        pthread_join(ack_thread, NULL);
        goto out;
    }
    send_paced(r);
    pthread_join(ack_thread, NULL);
    pthread_join(tail_thread, NULL);
    rc = latency_report(r);
out:
    conn_close(&r->prod);
    conn_close(&r->tail);
    free(r->tail_at);
    free(r);
    return rc;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct lg_opts o;
    struct streams s;
    int rc;

    if (lg_opts_parse(TOOL, argc, argv, &o, NULL))
        return 2;
    if (streams_init(&s, o.topic, o.partitions))
        return 1;
    if (!strcmp(o.mode, "latency")) {
        rc = run_latency(&o, &s);
    } else {
        struct conn c;
        struct rate_result res = { 0 };
        if (conn_open(&c, o.target, "connection")) {
            streams_free(&s);
            return 1;
        }
        if (!strcmp(o.mode, "produce"))
            run_produce(&o, &s, &c, &res);
        else
            run_consume(&o, &s, &c, &res);
        conn_close(&c);
        rc = report_rate(&o, &res);
    }
    streams_free(&s);
    return rc;
}
