/* nats_bench.c - a load generator for NATS JetStream (nats-server) through
 * the NATS C client (libnats), the reference the broker is compared with.
 * Owns the JetStream stream set-up and the three workloads; options,
 * pacing, stamps, histograms and the RESULT line are loadgen.h's.
 *
 *   nats_bench --mode produce --target nats://H:P --topic T --partitions N
 *              --count C --size S [--window W] [--seconds D]
 *   nats_bench --mode consume --target nats://H:P --topic T --count C
 *              --size S [--consumer pull|ordered] [--seconds D]
 *   nats_bench --mode latency --target nats://H:P --topic T --partitions N
 *              --size S --rate R --seconds D [--warmup W] [--hist-out P]
 *
 * The stream: one JetStream stream named after --topic (every character a
 * stream name may not hold turned into '_'), file storage, one replica.
 * Partitions are the subjects NAME.0 .. NAME.N-1 of that stream, message
 * i going to NAME.(i % N). The stream is configured with the one subject
 * NAME.* rather than the N subjects one by one: it holds the same
 * messages, and a consumer whose filter equals the stream's only subject
 * is served without per-message subject filtering.
 *
 * produce  deletes the stream if it exists and creates it afresh, then
 *          js_PublishAsync()s C messages of S bytes, at most W awaiting
 *          their ack (PublishAsync.MaxPending; a publish that stalls there
 *          is retried until the time limit). Every ack comes to an ack
 *          handler; failed ones are counted (errors=) and not in the rate.
 *          Timed from the first publish to the last ack; bounded by D
 *          (then time_limited=1 and only what was acked counts).
 * consume  reads C messages of the existing stream from its first one,
 *          checking that each is S bytes long (errors= otherwise); timed
 *          from the consumer's creation to the Cth message, bounded by D.
 *          Two ways, --consumer:
 *            pull     an ephemeral pull consumer with ack policy none,
 *                     natsSubscription_Fetch() of PULL_BATCH messages at a
 *                     time (one request per batch);
 *            ordered  an ordered push consumer (ack none, flow control,
 *                     server-side heartbeats) read with NextMsg().
 *          The default is ordered, the faster here: 200k x 100 B, median
 *          of three, 650k vs 450k msgs/s from one subject, 405k vs 355k
 *          from eight; 1M x 100 B 1.4-2x (the server pushes without waiting
 *          for the next request, and NextMsg() costs less per message than
 *          Fetch()). --window is not used by consume.
 * latency  recreates the stream, subscribes a tailing push consumer (ack
 *          none, deliver new, no flow control: nothing between the server
 *          and the handler) on a connection of its own, then sends open
 *          loop at R msgs/s for D s (loadgen.h) on a second connection
 *          that writes every publish at once (SendAsap) and never waits
 *          for acks (MaxPending unlimited). Message i is stamped with its
 *          intended time and i. Histograms (the first W seconds not
 *          recorded): ack = ack handler - intended (read from the original
 *          message the handler is given), e2e = subscription handler -
 *          intended, lag = actual send - intended. kept_up=1 when every
 *          message was acked and consumed within LG_DRAIN_GRACE_S of the
 *          last intended time. achieved_rate = sent / (last send - first
 *          send + one interval), so n messages on time span n intervals.
 *
 * Every wait is bounded (D, the grace, API_WAIT_MS for JetStream API
 * requests - the consumer deletion at the end included - CLOSE_WAIT_MS for
 * the library's shutdown). Reconnection is off:
 * a lost connection is an error, not a pause. The last line printed is the
 * RESULT line, system=nats. Exit status 0 only if produce/consume moved C
 * messages with no error in time, or latency saw no error (kept_up=0 is
 * not one).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "loadgen.h"

#define STREAM_NAME_MAX 128
#define SUBJECT_MAX (STREAM_NAME_MAX + 16)
#define API_WAIT_MS 10000          /* stream / consumer create and delete */
#define STALL_WAIT_MS 50           /* produce: a publish blocked at MaxPending */
#define PULL_BATCH 8192            /* consume --consumer pull: per Fetch */
#define TAIL_PENDING_MSGS 4000000  /* client-side queue of a push subscription */
#define TAIL_PENDING_BYTES (1 << 30)
#define SEND_BATCH 1024            /* latency: most messages per pace wait */
#define DRAIN_POLL_NS 1000000ull
#define CLOSE_WAIT_MS 5000
#define MAX_ERRORS_SHOWN 5

enum { OPT_CONSUMER = 256 };

struct nats_opts {
    struct lg_opts lg;
    bool pull;                 /* consume: pull consumer, else ordered push */
};

/* The stream's name and the subjects its partitions are. */
struct stream {
    char name[STREAM_NAME_MAX];
    char all_subjects[SUBJECT_MAX];    /* NAME.* */
    char (*subjects)[SUBJECT_MAX];     /* NAME.i, one per partition */
    int partitions;
};

/* One connection and its JetStream context. */
struct js_client {
    natsConnection *nc;
    jsCtx *js;
    _Atomic uint64_t async_errors;     /* slow consumer, lost connection */
};

/* ---- options ------------------------------------------------------------ */

static int take_nats_option(int code, const char *arg, void *ctx)
{
    struct nats_opts *no = ctx;

    if (code != OPT_CONSUMER)
        return -1;
    if (!strcmp(arg, "pull"))
        no->pull = true;
    else if (!strcmp(arg, "ordered"))
        no->pull = false;
    else
        return -1;
    return 0;
}

static int parse_options(int argc, char **argv, struct nats_opts *no)
{
    static const struct option longopts[] = {
        { "consumer", required_argument, NULL, OPT_CONSUMER },
        { NULL, 0, NULL, 0 },
    };
    const struct lg_extra extra = {
        .longopts = longopts,
        .take = take_nats_option,
        .ctx = no,
        .usage = "  --consumer pull|ordered   consume: how (default ordered)\n",
    };

    no->pull = false;
    return lg_opts_parse("nats_bench", argc, argv, &no->lg, &extra);
}

/* ---- errors --------------------------------------------------------------- */

/* Prints what failed, the status and the library's last error text. */
static void report_failure(const char *what, natsStatus s, jsErrCode jerr)
{
    const char *detail = nats_GetLastError(NULL);

    fprintf(stderr, "nats_bench: %s: %s", what, natsStatus_GetText(s));
    if (jerr)
        fprintf(stderr, " (JetStream error %d)", (int)jerr);
    if (detail && *detail && strcmp(detail, natsStatus_GetText(s)))
        fprintf(stderr, ": %s", detail);
    fputc('\n', stderr);
}

/* Called by the library on its own threads for asynchronous errors. */
static void on_async_error(natsConnection *nc, natsSubscription *sub,
                           natsStatus err, void *closure)
{
    struct js_client *c = closure;

    (void)nc;
    (void)sub;
    if (atomic_fetch_add(&c->async_errors, 1) < MAX_ERRORS_SHOWN)
        fprintf(stderr, "nats_bench: asynchronous error: %s\n",
                natsStatus_GetText(err));
}

/* ---- the stream ----------------------------------------------------------- */

/* A stream name may not hold whitespace, '.', '*', '>', path separators or
 * control characters; anything of the kind becomes '_'. */
static void stream_name_from_topic(const char *topic, char *name, size_t cap)
{
    size_t n = 0;

    for (; topic[n] && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)topic[n];
        bool bad = ch <= ' ' || ch >= 0x7f || strchr(".*>/\\", ch);
        name[n] = bad ? '_' : (char)ch;
    }
    name[n] = '\0';
}

static int stream_init(struct stream *st, const char *topic, int partitions)
{
    stream_name_from_topic(topic, st->name, sizeof(st->name));
    if (!st->name[0]) {
        fprintf(stderr, "nats_bench: --topic must not be empty\n");
        return -1;
    }
    snprintf(st->all_subjects, sizeof(st->all_subjects), "%s.*", st->name);
    st->partitions = partitions;
    st->subjects = calloc((size_t)partitions, sizeof(*st->subjects));
    if (!st->subjects) {
        fprintf(stderr, "nats_bench: out of memory\n");
        return -1;
    }
    for (int i = 0; i < partitions; i++)
        snprintf(st->subjects[i], SUBJECT_MAX, "%s.%d", st->name, i);
    return 0;
}

static void stream_free(struct stream *st)
{
    free(st->subjects);
    st->subjects = NULL;
}

/* Deletes the stream if it exists and creates it empty, file storage. */
static int recreate_stream(jsCtx *js, const struct stream *st)
{
    const char *subjects[] = { st->all_subjects };
    jsStreamConfig cfg;
    jsErrCode jerr = 0;
    natsStatus s;

    s = js_DeleteStream(js, st->name, NULL, &jerr);
    if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        report_failure("deleting the old stream", s, jerr);
        return -1;
    }
    jsStreamConfig_Init(&cfg);
    cfg.Name = st->name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = 1;
    jerr = 0;
    s = js_AddStream(NULL, js, &cfg, NULL, &jerr);
    if (s != NATS_OK) {
        report_failure("creating the stream", s, jerr);
        return -1;
    }
    return 0;
}

/* How many messages the stream holds, or -1 if it cannot be read. */
static int64_t stream_messages(jsCtx *js, const struct stream *st)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, st->name, NULL, &jerr);
    int64_t msgs;

    if (s != NATS_OK) {
        report_failure("reading the stream (does it exist?)", s, jerr);
        return -1;
    }
    msgs = (int64_t)si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return msgs;
}

/* ---- connections ---------------------------------------------------------- */

/* Connects to url; send_asap writes every publish at once instead of
 * leaving it to the library's flusher (which waits up to 1 ms to batch). */
static int client_open(struct js_client *c, const char *url, bool send_asap,
                       jsOptions *jo)
{
    natsOptions *opts = NULL;
    natsStatus s;

    s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, url);
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, "nats_bench");
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(opts, false);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(opts, send_asap);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(opts, on_async_error, c);
    if (s == NATS_OK)
        s = natsConnection_Connect(&c->nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        report_failure(url, s, 0);
        return -1;
    }
    jo->Wait = API_WAIT_MS;
    s = natsConnection_JetStream(&c->js, c->nc, jo);
    if (s != NATS_OK) {
        report_failure("JetStream context", s, 0);
        return -1;
    }
    return 0;
}

/* Drops publishes still awaiting their ack (their messages are ours again)
 * and returns how many there were. Asks js_PublishAsyncComplete() first:
 * libnats 3.4.1's js_PublishAsyncGetPendingList() crashes on a context
 * that never published asynchronously. */
static uint64_t drop_unacked(jsCtx *js)
{
    natsMsgList pending = { 0 };
    jsPubOptions po;
    uint64_t n;

    jsPubOptions_Init(&po);
    po.MaxWait = 1;
    if (js_PublishAsyncComplete(js, &po) == NATS_OK)
        return 0;
    if (js_PublishAsyncGetPendingList(&pending, js) != NATS_OK)
        return 0;
    n = (uint64_t)pending.Count;
    natsMsgList_Destroy(&pending);
    return n;
}

/* Counts a connection that is no longer up (reconnection is off, so it is
 * gone for good) as an error; returns the client's asynchronous errors. */
static uint64_t client_errors(struct js_client *c)
{
    if (c->nc && natsConnection_Status(c->nc) != NATS_CONN_STATUS_CONNECTED) {
        fprintf(stderr, "nats_bench: the connection was lost\n");
        atomic_fetch_add(&c->async_errors, 1);
    }
    return atomic_load(&c->async_errors);
}

static void client_close(struct js_client *c)
{
    if (c->js) {
        drop_unacked(c->js);
        jsCtx_Destroy(c->js);
    }
    if (c->nc)
        natsConnection_Destroy(c->nc);
    c->js = NULL;
    c->nc = NULL;
}

/* Unsubscribes (the server deletes the consumer the library created for
 * it) and frees the subscription. */
static void subscription_close(natsSubscription *sub)
{
    if (!sub)
        return;
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
}

static uint8_t *payload_new(size_t size)
{
    uint8_t *p = malloc(size ? size : 1);

    if (!p) {
        fprintf(stderr, "nats_bench: out of memory\n");
        return NULL;
    }
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t)('a' + i % 26);
    return p;
}

/* ---- produce / consume result --------------------------------------------- */

struct rate_result {
    uint64_t msgs;             /* acked / consumed without error */
    uint64_t bytes;
    double secs;
    uint64_t errors;
    bool time_limited;
};

/* Prints the summary and the RESULT line; returns the exit status. */
static int report_rate(const struct nats_opts *no, const struct rate_result *r)
{
    double cpu = lg_cpu_s();

    printf("nats %s: %" PRIu64 " msgs in %.3f s: %.0f msgs/s, %.1f MB/s; %"
           PRIu64 " errors%s; client CPU %.2f s\n", no->lg.mode, r->msgs,
           r->secs, r->secs > 0 ? (double)r->msgs / r->secs : 0,
           r->secs > 0 ? (double)r->bytes / r->secs / 1e6 : 0, r->errors,
           r->time_limited ? " [time limit]" : "", cpu);
    lg_report_begin("nats", &no->lg);
    lg_report_rate(r->msgs, r->bytes, r->secs, r->errors, r->time_limited, cpu);
    lg_report_end();
    return r->msgs == no->lg.count && r->errors == 0 && !r->time_limited ? 0 : 1;
}

/* ---- produce -------------------------------------------------------------- */

/* The ack handler's tally (it runs on the library's reply thread). */
struct produce_acks {
    pthread_mutex_t mu;
    uint64_t acked;
    uint64_t failed;
    uint64_t last_ack_ns;
};

static void on_produce_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa,
                           jsPubAckErr *pae, void *closure)
{
    struct produce_acks *a = closure;
    uint64_t now = lg_now_ns();

    (void)js;
    pthread_mutex_lock(&a->mu);
    if (pa) {
        a->acked++;
    } else if (a->failed++ < MAX_ERRORS_SHOWN) {
        fprintf(stderr, "nats_bench: publish failed: %s\n",
                pae && pae->ErrText ? pae->ErrText : "(no text)");
    }
    a->last_ack_ns = now;
    pthread_mutex_unlock(&a->mu);
    natsMsg_Destroy(msg);
}

/* Publishes one message, retrying while it stalls at MaxPending. Returns
 * 0, 1 when the deadline passed first, or -1 on an error. */
static int publish_until(jsCtx *js, const char *subject, const void *data,
                         size_t size, uint64_t deadline_ns)
{
    for (;;) {
        natsStatus s = js_PublishAsync(js, subject, data, (int)size, NULL);
        if (s == NATS_OK)
            return 0;
        if (s != NATS_TIMEOUT) {
            report_failure("publish", s, 0);
            return -1;
        }
        if (lg_now_ns() >= deadline_ns)
            return 1;
    }
}

/* Waits for the outstanding acks until the deadline (at least 1 ms);
 * returns whether all came. */
static bool await_acks(jsCtx *js, uint64_t deadline_ns)
{
    uint64_t now = lg_now_ns();
    jsPubOptions po;

    jsPubOptions_Init(&po);
    po.MaxWait = now < deadline_ns ? (int64_t)((deadline_ns - now) / 1000000) + 1 : 1;
    return js_PublishAsyncComplete(js, &po) == NATS_OK;
}

static void publish_all(jsCtx *js, const struct nats_opts *no,
                        const struct stream *st, const uint8_t *payload,
                        uint64_t deadline_ns, struct rate_result *r)
{
    for (uint64_t i = 0; i < no->lg.count; i++) {
        if (lg_now_ns() >= deadline_ns) {
            r->time_limited = true;
            return;
        }
        int rc = publish_until(js, st->subjects[i % (uint64_t)st->partitions],
                               payload, no->lg.size, deadline_ns);
        if (rc > 0)
            r->time_limited = true;
        if (rc < 0)
            r->errors++;
        if (rc)
            return;
    }
}

static int run_produce(const struct nats_opts *no, const struct stream *st)
{
    struct produce_acks acks = { .mu = PTHREAD_MUTEX_INITIALIZER };
    struct js_client c = { 0 };
    struct rate_result r = { 0 };
    uint8_t *payload = payload_new(no->lg.size);
    jsOptions jo;
    int rc = -1;

    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = no->lg.window;
    jo.PublishAsync.AckHandler = on_produce_ack;
    jo.PublishAsync.AckHandlerClosure = &acks;
    jo.PublishAsync.StallWait = STALL_WAIT_MS;
    if (payload && client_open(&c, no->lg.target, false, &jo) == 0 &&
        recreate_stream(c.js, st) == 0) {
        uint64_t t0 = lg_now_ns();
        uint64_t deadline = t0 + (uint64_t)(no->lg.seconds * 1e9);
        publish_all(c.js, no, st, payload, deadline, &r);
        if (!await_acks(c.js, deadline))
            r.time_limited = true;
        uint64_t unacked = drop_unacked(c.js);
        uint64_t end = lg_now_ns();
        pthread_mutex_lock(&acks.mu);
        r.msgs = acks.acked;
        r.errors += acks.failed;
        if (!r.time_limited && unacked == 0 && acks.last_ack_ns > t0)
            end = acks.last_ack_ns;
        pthread_mutex_unlock(&acks.mu);
        r.bytes = r.msgs * no->lg.size;
        r.secs = (double)(end - t0) / 1e9;
        r.errors += client_errors(&c);
        rc = report_rate(no, &r);
    }
    client_close(&c);
    free(payload);
    return rc;
}

/* ---- consume -------------------------------------------------------------- */

/* Counts one consumed message: right size or an error. */
static void take_consumed(natsMsg *msg, size_t size, struct rate_result *r)
{
    if ((size_t)natsMsg_GetDataLength(msg) == size) {
        r->msgs++;
        r->bytes += size;
    } else if (r->errors++ < MAX_ERRORS_SHOWN) {
        fprintf(stderr, "nats_bench: message of %d bytes, expected %zu\n",
                natsMsg_GetDataLength(msg), size);
    }
}

/* Milliseconds left until the deadline (rounded up); 0 once it has passed. */
static int64_t ms_until(uint64_t deadline_ns)
{
    uint64_t now = lg_now_ns();

    if (now >= deadline_ns)
        return 0;
    return (int64_t)((deadline_ns - now) / 1000000) + 1;
}

static int subscribe_pull(natsSubscription **sub, jsCtx *js,
                          const struct stream *st)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    jsSubOptions_Init(&so);
    so.Stream = st->name;
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    s = js_PullSubscribe(sub, js, st->all_subjects, NULL, NULL, &so, &jerr);
    if (s != NATS_OK) {
        report_failure("pull subscription", s, jerr);
        return -1;
    }
    return 0;
}

/* libnats 3.4.1's Fetch overflows its message array when messages of an
 * earlier request are still queued in the subscription (fixed upstream in
 * 3.9, nats.c #749). They can only be left over when a Fetch gave up
 * before its batch was complete, so each Fetch waits until the deadline,
 * after which there is no next one; this check turns any other way of
 * getting there into an error instead of a corrupt heap. */
static bool fetch_would_overflow(natsSubscription *sub)
{
    int msgs = 0, bytes = 0;

    if (natsSubscription_GetPending(sub, &msgs, &bytes) != NATS_OK || msgs == 0)
        return false;
    fprintf(stderr, "nats_bench: %d messages left over from an earlier fetch; "
            "stopping (libnats 3.4.1 would overflow)\n", msgs);
    return true;
}

/* Fetches batches until count messages, the deadline or an error. */
static void consume_pull(natsSubscription *sub, const struct nats_opts *no,
                         uint64_t deadline_ns, struct rate_result *r)
{
    while (r->msgs + r->errors < no->lg.count) {
        uint64_t want = no->lg.count - r->msgs - r->errors;
        int batch = want < PULL_BATCH ? (int)want : PULL_BATCH;
        int64_t timeout = ms_until(deadline_ns);
        natsMsgList list = { 0 };
        jsErrCode jerr = 0;
        natsStatus s;

        if (timeout == 0) {
            r->time_limited = true;
            return;
        }
        if (fetch_would_overflow(sub)) {
            r->errors++;
            return;
        }
        s = natsSubscription_Fetch(&list, sub, batch, timeout, &jerr);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            report_failure("fetch", s, jerr);
            r->errors++;
            return;
        }
        for (int i = 0; i < list.Count; i++)
            take_consumed(list.Msgs[i], no->lg.size, r);
        natsMsgList_Destroy(&list);
    }
}

static int subscribe_ordered(natsSubscription **sub, jsCtx *js,
                             const struct stream *st)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    jsSubOptions_Init(&so);
    so.Stream = st->name;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    s = js_SubscribeSync(sub, js, st->all_subjects, NULL, &so, &jerr);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(*sub, TAIL_PENDING_MSGS,
                                              TAIL_PENDING_BYTES);
    if (s != NATS_OK) {
        report_failure("ordered subscription", s, jerr);
        return -1;
    }
    return 0;
}

/* Takes pushed messages until count, the deadline or an error. */
static void consume_ordered(natsSubscription *sub, const struct nats_opts *no,
                            uint64_t deadline_ns, struct rate_result *r)
{
    while (r->msgs + r->errors < no->lg.count) {
        int64_t timeout = ms_until(deadline_ns);
        natsMsg *msg = NULL;
        natsStatus s;

        if (timeout == 0) {
            r->time_limited = true;
            return;
        }
        s = natsSubscription_NextMsg(&msg, sub, timeout);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            report_failure("next message", s, 0);
            r->errors++;
            if (s == NATS_SLOW_CONSUMER)
                continue;
            return;
        }
        take_consumed(msg, no->lg.size, r);
        natsMsg_Destroy(msg);
    }
}

static int run_consume(const struct nats_opts *no, const struct stream *st)
{
    struct js_client c = { 0 };
    struct rate_result r = { 0 };
    natsSubscription *sub = NULL;
    jsOptions jo;
    int rc = -1;

    jsOptions_Init(&jo);
    if (client_open(&c, no->lg.target, false, &jo) == 0) {
        int64_t held = stream_messages(c.js, st);
        if (held >= 0 && (uint64_t)held < no->lg.count)
            fprintf(stderr, "nats_bench: the stream holds %" PRId64
                    " messages, fewer than --count\n", held);
        uint64_t t0 = lg_now_ns();
        uint64_t deadline = t0 + (uint64_t)(no->lg.seconds * 1e9);
        int sub_rc = held < 0 ? -1
                     : no->pull ? subscribe_pull(&sub, c.js, st)
                                : subscribe_ordered(&sub, c.js, st);
        if (sub_rc == 0) {
            if (no->pull)
                consume_pull(sub, no, deadline, &r);
            else
                consume_ordered(sub, no, deadline, &r);
            r.secs = (double)(lg_now_ns() - t0) / 1e9;
            r.errors += client_errors(&c);
            rc = report_rate(no, &r);
        }
    }
    subscription_close(sub);
    client_close(&c);
    return rc;
}

/* ---- latency -------------------------------------------------------------- */

/* What a library thread records (acks on the publishing connection's reply
 * thread, deliveries on the subscription's). Under a lock, so that the
 * main thread can close it - the library may call back later still - and
 * then read it. */
struct recorder {
    pthread_mutex_t mu;
    bool closed;               /* past the grace: count nothing more */
    struct lg_lat lat;
    uint64_t count;            /* acked / consumed */
    uint64_t errors;
    uint64_t dups;             /* consumed twice */
    uint64_t foreign;          /* consumed, not a message of this run */
    uint8_t *seen;             /* consumed: one bit per sequence number */
    uint64_t total;            /* sequence numbers 0..total-1 are ours */
    size_t size;
};

/* The sender's (the main thread). */
struct sender {
    jsCtx *js;
    const struct stream *st;
    uint8_t *payload;          /* --size bytes, restamped per message */
    size_t size;
    struct lg_pace pace;
    struct lg_lat lag;
    uint64_t deadline_ns;      /* last intended time + the grace */
    uint64_t sent;
    uint64_t errors;
    uint64_t first_send_ns;
    uint64_t last_send_ns;
};

struct latency_run {
    const struct nats_opts *no;
    struct js_client pub;      /* publishes; its acks come back here */
    struct js_client tail;     /* the tailing subscription's */
    natsSubscription *tail_sub;
    struct recorder ack;
    struct recorder e2e;
    struct sender send;
    uint64_t client_errors;    /* both connections', before the teardown */
    bool kept_up;
    double cpu_s;
};

static void on_latency_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa,
                           jsPubAckErr *pae, void *closure)
{
    struct recorder *a = closure;
    uint64_t now = lg_now_ns();

    (void)js;
    pthread_mutex_lock(&a->mu);
    if (a->closed) {
        /* too late to count */
    } else if (!pa) {
        if (a->errors++ < MAX_ERRORS_SHOWN)
            fprintf(stderr, "nats_bench: publish failed: %s\n",
                    pae && pae->ErrText ? pae->ErrText : "(no text)");
    } else if (natsMsg_GetDataLength(msg) >= LG_STAMP_BYTES) {
        lg_lat_record(&a->lat, lg_stamp_time(natsMsg_GetData(msg)), now);
        a->count++;
    }
    pthread_mutex_unlock(&a->mu);
    natsMsg_Destroy(msg);
}

/* Checks and records one delivered message; the caller holds t->mu. */
static void tail_take(struct recorder *t, const void *data, int len, uint64_t now)
{
    uint64_t seq;

    if (len < 0 || (size_t)len != t->size) {
        if (t->errors++ < MAX_ERRORS_SHOWN)
            fprintf(stderr, "nats_bench: message of %d bytes, expected %zu\n",
                    len, t->size);
    } else if ((seq = lg_stamp_seq(data)) >= t->total) {
        t->foreign++;
    } else if (t->seen[seq / 8] & (1u << (seq % 8))) {
        t->dups++;
    } else {
        t->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
        lg_lat_record(&t->lat, lg_stamp_time(data), now);
        t->count++;
    }
}

static void on_tail_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                        void *closure)
{
    struct recorder *t = closure;
    uint64_t now = lg_now_ns();

    (void)nc;
    (void)sub;
    pthread_mutex_lock(&t->mu);
    if (!t->closed)
        tail_take(t, natsMsg_GetData(msg), natsMsg_GetDataLength(msg), now);
    pthread_mutex_unlock(&t->mu);
    natsMsg_Destroy(msg);
}

/* A push consumer from the stream's end: ack none, no flow control, its
 * messages handed to on_tail_msg on the subscription's own thread. */
static int subscribe_tail(struct latency_run *r)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    jsSubOptions_Init(&so);
    so.Stream = r->send.st->name;
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverNew;
    s = js_Subscribe(&r->tail_sub, r->tail.js, r->send.st->all_subjects,
                     on_tail_msg, &r->e2e, NULL, &so, &jerr);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(r->tail_sub, TAIL_PENDING_MSGS,
                                              TAIL_PENDING_BYTES);
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(r->tail.nc, API_WAIT_MS);
    if (s != NATS_OK) {
        report_failure("tailing subscription", s, jerr);
        return -1;
    }
    return 0;
}

static int latency_connect(struct latency_run *r)
{
    jsOptions pub_jo, tail_jo;

    jsOptions_Init(&pub_jo);
    pub_jo.PublishAsync.MaxPending = 0;        /* never wait for acks */
    pub_jo.PublishAsync.AckHandler = on_latency_ack;
    pub_jo.PublishAsync.AckHandlerClosure = &r->ack;
    jsOptions_Init(&tail_jo);
    if (client_open(&r->pub, r->no->lg.target, true, &pub_jo) ||
        client_open(&r->tail, r->no->lg.target, false, &tail_jo))
        return -1;
    r->send.js = r->pub.js;
    return 0;
}

static int latency_setup(struct latency_run *r, const struct stream *st)
{
    const struct lg_opts *o = &r->no->lg;
    struct sender *s = &r->send;

    pthread_mutex_init(&r->ack.mu, NULL);
    pthread_mutex_init(&r->e2e.mu, NULL);
    s->st = st;
    s->size = o->size;
    s->payload = payload_new(o->size);
    /* The schedule's length is known before its start: a provisional
     * start, so that the consumer can size its bitmap. */
    lg_pace_init(&s->pace, o->rate, o->seconds, 0);
    r->e2e.total = s->pace.total;
    r->e2e.size = o->size;
    r->e2e.seen = calloc((size_t)(s->pace.total / 8 + 1), 1);
    if (!s->payload || !r->e2e.seen) {
        fprintf(stderr, "nats_bench: out of memory\n");
        return -1;
    }
    if (latency_connect(r) || recreate_stream(s->js, st) || subscribe_tail(r))
        return -1;
    s->deadline_ns = lg_latency_start(o, &s->pace, &r->ack.lat, &r->e2e.lat, &s->lag);
    return 0;
}

/* Hands one stamped message to the library (it copies the data). */
static int send_one(struct sender *s, uint64_t seq, uint64_t intended)
{
    const char *subject = s->st->subjects[seq % (uint64_t)s->st->partitions];
    natsStatus st;

    lg_stamp(s->payload, intended, seq);
    st = js_PublishAsync(s->js, subject, s->payload, (int)s->size, NULL);
    if (st != NATS_OK) {
        if (s->errors < MAX_ERRORS_SHOWN)
            report_failure("publish", st, 0);
        return -1;
    }
    return 0;
}

/* Sends every message when it is due (late ones at once), until all are
 * sent or the deadline passes. */
static void send_paced(struct sender *s)
{
    uint64_t due;

    while ((due = lg_pace_wait(&s->pace, SEND_BATCH)) > 0) {
        for (uint64_t k = 0; k < due; k++) {
            uint64_t seq = s->pace.next;
            uint64_t intended = lg_pace_intended(&s->pace, seq);
            uint64_t now = lg_now_ns();
            if (now >= s->deadline_ns)
                return;
            lg_lat_record(&s->lag, intended, now);
            if (send_one(s, seq, intended) == 0)
                s->sent++;
            else
                s->errors++;
            if (!s->first_send_ns)
                s->first_send_ns = now;
            s->last_send_ns = now;
            lg_pace_sent(&s->pace, 1);
        }
    }
}

static uint64_t recorder_count(struct recorder *rec, uint64_t *errors)
{
    uint64_t n;

    pthread_mutex_lock(&rec->mu);
    n = rec->count;
    if (errors)
        *errors = rec->errors;
    pthread_mutex_unlock(&rec->mu);
    return n;
}

/* Waits until every sent message is acked (or failed) and consumed, at
 * most until the deadline. Returns whether all of it arrived in time. */
static bool wait_drained(struct latency_run *r)
{
    const struct sender *s = &r->send;

    for (;;) {
        uint64_t failed;
        uint64_t acked = recorder_count(&r->ack, &failed);
        uint64_t consumed = recorder_count(&r->e2e, NULL);
        if (acked + failed >= s->sent && consumed >= acked)
            return s->sent == s->pace.total && acked == s->sent &&
                   consumed == s->sent;
        if (lg_now_ns() >= s->deadline_ns)
            return false;
        lg_sleep_until_ns(lg_now_ns() + DRAIN_POLL_NS);
    }
}

static void recorder_close(struct recorder *rec)
{
    pthread_mutex_lock(&rec->mu);
    rec->closed = true;
    pthread_mutex_unlock(&rec->mu);
}

/* Stops counting, then closes the subscription and both connections. */
static void latency_teardown(struct latency_run *r)
{
    recorder_close(&r->ack);
    recorder_close(&r->e2e);
    subscription_close(r->tail_sub);
    r->tail_sub = NULL;
    client_close(&r->pub);
    client_close(&r->tail);
}

static uint64_t latency_errors(const struct latency_run *r)
{
    return r->send.errors + r->ack.errors + r->e2e.errors + r->client_errors;
}

/* Called after the teardown: the recorders are closed, read freely. */
static void latency_report(const struct latency_run *r)
{
    const struct sender *s = &r->send;
    const struct lg_lat_summary sum = {
        .scheduled = s->pace.total, .sent = s->sent, .acked = r->ack.count,
        .consumed = r->e2e.count, .errors = latency_errors(r),
        .dups = r->e2e.dups, .foreign = r->e2e.foreign, .kept_up = r->kept_up,
        .achieved_rate = lg_achieved_rate(&s->pace, s->sent, s->first_send_ns,
                                          s->last_send_ns),
        .client_cpu_s = r->cpu_s,
        .ack = &r->ack.lat.h, .e2e = &r->e2e.lat.h, .lag = &s->lag.h,
    };

    lg_lat_summary_print(&sum);
    lg_report_begin("nats", &r->no->lg);
    lg_report_latency(&sum);
    lg_report_end();
}

static void latency_free(struct latency_run *r)
{
    free(r->send.payload);
    free(r->e2e.seen);
    pthread_mutex_destroy(&r->ack.mu);
    pthread_mutex_destroy(&r->e2e.mu);
    free(r);
}

static int run_latency(const struct nats_opts *no, const struct stream *st)
{
    struct latency_run *r = calloc(1, sizeof(*r));
    int rc = -1;

    if (!r) {
        fprintf(stderr, "nats_bench: out of memory\n");
        return -1;
    }
    r->no = no;
    if (latency_setup(r, st) == 0) {
        double cpu0 = lg_cpu_s();
        send_paced(&r->send);
        r->kept_up = wait_drained(r);
        r->cpu_s = lg_cpu_s() - cpu0;
        r->client_errors = client_errors(&r->pub) + client_errors(&r->tail);
        rc = 0;
    }
    latency_teardown(r);
    if (rc == 0) {
        latency_report(r);
        if (lg_write_hist(&no->lg, "ack", &r->ack.lat.h) ||
            lg_write_hist(&no->lg, "e2e", &r->e2e.lat.h))
            rc = -1;
        else if (latency_errors(r) || r->e2e.dups || r->e2e.foreign)
            rc = 1;
    }
    latency_free(r);
    return rc;
}

/* ---- main ----------------------------------------------------------------- */

static int run_mode(const struct nats_opts *no, const struct stream *st)
{
    if (!strcmp(no->lg.mode, "produce"))
        return run_produce(no, st);
    if (!strcmp(no->lg.mode, "consume"))
        return run_consume(no, st);
    return run_latency(no, st);
}

int main(int argc, char **argv)
{
    struct nats_opts no;
    struct stream st = { 0 };
    natsStatus s;
    int rc;

    if (parse_options(argc, argv, &no))
        return 2;
    if (stream_init(&st, no.lg.topic, no.lg.partitions))
        return 1;
    s = nats_Open(-1);
    if (s != NATS_OK) {
        report_failure("library initialisation", s, 0);
        stream_free(&st);
        return 1;
    }
    rc = run_mode(&no, &st);
    stream_free(&st);
    s = nats_CloseAndWait(CLOSE_WAIT_MS);
    if (s != NATS_OK)
        fprintf(stderr, "nats_bench: library shutdown: %s\n", natsStatus_GetText(s));
    return rc == 0 ? 0 : 1;
}
