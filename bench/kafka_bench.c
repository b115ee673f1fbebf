/* kafka_bench.c - a real Kafka client (librdkafka: what users run) against
 * the broker, or against librdkafka's in-process mock cluster as the
 * client's own reference. Owns the three librdkafka workloads; options,
 * pacing, stamps, histograms and the RESULT line are loadgen.h's.
 *
 *   kafka_bench --mode produce --target H:P --topic T --partitions N
 *               --count C --size S [--acks 1|all|0] [--linger-ms 5]
 *               [--idempotent | --txn-msgs M]
 *   kafka_bench --mode consume --target H:P --topic T --count C --size S
 *               [--isolation read_committed|read_uncommitted] [--markers]
 *   kafka_bench --mode latency --target H:P --topic T --partitions N
 *               --size S --rate R --seconds D [--warmup W] [--acks all]
 *               [--linger-ms 0] [--in-flight N] [--hist-out PREFIX]
 *   kafka_bench --mock [--mock-brokers B] ...   the in-process mock cluster
 *
 * The topic: against a broker it is created with --partitions partitions
 * (replication 1) through the Admin API (CreateTopics, nw_create_topic in
 * native_wire.c, shared with the native tools) unless it exists,
 * then its metadata is requested until every partition has a leader; the
 * partition count it really has is used and reported. With --mock the
 * mock cluster gets the topic with --partitions partitions.
 *
 * produce  C messages of S bytes, no key, one shared payload buffer passed
 *          without RD_KAFKA_MSG_F_COPY, linger.ms=5, batch.size ~1 MB,
 *          compression none, a queue of 10M messages. Timed from the first
 *          produce call to the last delivery report; failed reports are
 *          counted (errors=) and not in the rate.
 *          --idempotent: enable.idempotence=true (acks=all). --txn-msgs M:
 *          a transactional producer, M messages per transaction; each
 *          transaction's messages are flushed, then commit_transaction()
 *          is timed alone (EndTxn: the broker's markers and its log), and
 *          its p50/p99 reported as commit_p50_us/commit_p99_us with
 *          txns=; the rate covers everything.
 * consume  assign() every partition from the beginning (a group.id is set
 *          because librdkafka wants one for assign(), but nothing joins or
 *          commits), read until C messages, large fetches (librdkafka's own
 *          settings with --client-defaults). Timed from the
 *          assign() to the Cth message. Offsets must be contiguous per
 *          partition (gaps= and dups= count otherwise) and every value S
 *          bytes long (bad_size=). With --mock the mock is filled first.
 *          --isolation sets isolation.level (librdkafka's default is
 *          read_committed); --markers: the backlog was written in
 *          transactions, whose markers take offsets, so gaps are expected.
 * latency  open loop at R msgs/s for D s (loadgen.h): message i is due at
 *          start + i/R, stamped with that intended time and i, copied
 *          (RD_KAFKA_MSG_F_COPY) to partition i % N; linger.ms=0 unless
 *          --linger-ms, Nagle off. Delivery reports are served by a
 *          dedicated poller thread blocked in rd_kafka_poll(), not between
 *          sends: at low rates the sender sleeps up to 1/R between
 *          messages, and a report waiting for it would add that to the
 *          ack latency. A consumer on its own thread tails the topic from
 *          each partition's high watermark, queried and assigned before
 *          the first send (fetch.wait.max.ms=10, fetch.min.bytes=1).
 *          --in-flight 1 makes it a synchronous producer (Java's
 *          send().get(), librdkafka with max.in.flight=1): message i is
 *          sent only once i-1 was acknowledged, still timed from its
 *          intended time, so falling behind shows as latency.
 *          Histograms (the first --warmup seconds not recorded): ack =
 *          delivery report - intended, e2e = consumed - intended, lag =
 *          actual send - intended. Everything must be acked and consumed
 *          within LG_DRAIN_GRACE_S of the last intended time for kept_up=1.
 *
 * --topics K (produce, latency): K topics T-0..T-(K-1) of N partitions each
 *          (1,000 topics x 10 for a 10,000-partition cluster), created
 *          one CreateTopics each on one admin connection; message i goes
 *          to partition i % (K*N) of them in order (latency), or with
 *          --spread in produce (without it produce leaves the partition to
 *          librdkafka's partitioner, topic i % K). --spread alone spreads
 *          produce over one topic's partitions the same way: every
 *          partition busy through the run, as keyed traffic is.
 *
 * --window is not used: librdkafka pipelines on its own. Every loop is
 * bounded (--seconds; the final flush or drain by FLUSH_TIMEOUT_S or the
 * grace). The last line printed is the RESULT line (loadgen.h), system=
 * kafka or kafka-mock. Exit status 0 only if produce/consume moved C
 * messages with no error, or latency saw no error (kept_up=0 is not one).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "loadgen.h"
#include "native_wire.h"

#define METADATA_TIMEOUT_S 20.0
#define CREATE_TIMEOUT_S 15.0
#define WATERMARK_TIMEOUT_MS 5000
#define FLUSH_TIMEOUT_S 60.0
#define CONSUME_BATCH 4096
#define TAIL_BATCH 1024
#define SEND_BATCH 1024           /* latency: most messages per pace wait */
#define QUEUE_FULL_WAIT_NS 100000
#define MAX_PARTITIONS 4096
#define MAX_TOPICS 10000
#define MAX_ERRORS_SHOWN 5
#define MB 1e6

/* --flow-pauses: librdkafka's fetcher debug lines are read for its own
 * flow control, the times it skipped fetching a partition because its
 * queue held more than queued.min.messages / queued.max.messages.kbytes
 * (it then backs off for fetch.error.backoff.ms in 2.0.2), and not shown. */
static bool count_flow_pauses;
static _Atomic uint64_t flow_pauses;

struct kafka_opts {
    struct lg_opts lg;
    const char *acks;          /* "1" / "all" / "-1" / "0" */
    bool mock;
    int mock_brokers;
    int linger_ms;             /* -1: the mode's default */
    bool idempotent;           /* produce: enable.idempotence */
    int txn_msgs;              /* produce: messages per transaction; 0 none */
    const char *isolation;     /* consume: isolation.level, or NULL */
    bool markers;              /* consume: offsets skip transaction markers */
    bool no_create;            /* --no-create: the topic exists already */
    int topics;                /* --topics K: T-0..T-(K-1); 1: T itself */
    bool spread;               /* --spread: produce to i % partitions */
    bool client_defaults;      /* --client-defaults: consume at librdkafka's own settings */
    int nprops;                /* --prop key=value: librdkafka settings */
    const char *props[16];     /* (security.protocol=ssl for the TLS row) */
};

struct result {
    uint64_t msgs;             /* delivered / consumed without error */
    uint64_t bytes;            /* their value bytes */
    uint64_t errors;
    uint64_t gaps;             /* consume: offsets skipped */
    uint64_t dups;             /* consume: offsets seen again */
    uint64_t bad_size;         /* consume: values of another length */
    double secs;
    bool time_limited;
    int partitions;
    uint64_t txns;             /* produce --txn-msgs: committed */
    struct hist commit;        /* their commit_transaction() times */
};

/* ---- options ----------------------------------------------------------- */

enum { OPT_ACKS = 256, OPT_MOCK, OPT_MOCK_BROKERS, OPT_LINGER_MS, OPT_IDEMPOTENT,
       OPT_TXN_MSGS, OPT_ISOLATION, OPT_MARKERS, OPT_PROP, OPT_NO_CREATE,
       OPT_TOPICS, OPT_SPREAD, OPT_CLIENT_DEFAULTS, OPT_FLOW_PAUSES };

static const struct option kafka_longopts[] = {
    { "acks", required_argument, NULL, OPT_ACKS },
    { "mock", no_argument, NULL, OPT_MOCK },
    { "mock-brokers", required_argument, NULL, OPT_MOCK_BROKERS },
    { "linger-ms", required_argument, NULL, OPT_LINGER_MS },
    { "idempotent", no_argument, NULL, OPT_IDEMPOTENT },
    { "txn-msgs", required_argument, NULL, OPT_TXN_MSGS },
    { "isolation", required_argument, NULL, OPT_ISOLATION },
    { "markers", no_argument, NULL, OPT_MARKERS },
    { "prop", required_argument, NULL, OPT_PROP },
    { "no-create", no_argument, NULL, OPT_NO_CREATE },
    { "topics", required_argument, NULL, OPT_TOPICS },
    { "spread", no_argument, NULL, OPT_SPREAD },
    { "client-defaults", no_argument, NULL, OPT_CLIENT_DEFAULTS },
    { "flow-pauses", no_argument, NULL, OPT_FLOW_PAUSES },
    { NULL, 0, NULL, 0 },
};

static const char kafka_usage[] =
    "  --acks 1|all|0     produce, latency (default 1)\n"
    "  --linger-ms N      produce default 5, latency default 0\n"
    "  --idempotent       produce: enable.idempotence=true\n"
    "  --txn-msgs M       produce in transactions of M messages\n"
    "  --isolation L      consume: read_committed or read_uncommitted\n"
    "  --markers          consume: offsets skip transaction markers\n"

    "  --mock             against librdkafka's in-process mock cluster\n"
    "  --mock-brokers N   its brokers (default 1)\n"
    "  --prop KEY=VALUE   a librdkafka setting (repeatable)\n"
    "  --no-create        the topic exists: no CreateTopics (which goes\n"
    "                     without the --prop settings)\n"
    "  --topics K         produce, latency: topics T-0..T-(K-1) (default 1: T)\n"
    "  --spread           produce: message i to partition i %% all partitions\n"
    "  --client-defaults  consume with librdkafka's default fetch and queue\n"
    "                     settings (what an application gets; --prop on top)\n"
    "  --flow-pauses      consume: count librdkafka's flow-control pauses (its\n"
    "                     fetch debug lines; reported as flow_pauses=)\n";

static int take_kafka_opt(int code, const char *arg, void *ctx)
{
    struct kafka_opts *ko = ctx;
    uint64_t v;

    switch (code) {
    case OPT_ACKS:
        if (strcmp(arg, "1") && strcmp(arg, "all") && strcmp(arg, "-1") &&
            strcmp(arg, "0"))
            return -1;
        ko->acks = arg;
        return 0;
    case OPT_MOCK:
        ko->mock = true;
        return 0;
    case OPT_MOCK_BROKERS:
        if (lg_parse_count(arg, &v) || v < 1 || v > 16)
            return -1;
        ko->mock_brokers = (int)v;
        return 0;
    case OPT_LINGER_MS:
        if (lg_parse_count(arg, &v) || v > 900000)
            return -1;
        ko->linger_ms = (int)v;
        return 0;
    case OPT_IDEMPOTENT:
        ko->idempotent = true;
        return 0;
    case OPT_TXN_MSGS:
        if (lg_parse_count(arg, &v) || v < 1 || v > 1000000)
            return -1;
        ko->txn_msgs = (int)v;
        return 0;
    case OPT_ISOLATION:
        if (strcmp(arg, "read_committed") && strcmp(arg, "read_uncommitted"))
            return -1;
        ko->isolation = arg;
        return 0;
    case OPT_MARKERS:
        ko->markers = true;
        return 0;

    case OPT_NO_CREATE:
        ko->no_create = true;
        return 0;
    case OPT_TOPICS:
        if (lg_parse_count(arg, &v) || v < 1 || v > MAX_TOPICS)
            return -1;
        ko->topics = (int)v;
        return 0;
    case OPT_SPREAD:
        ko->spread = true;
        return 0;
    case OPT_CLIENT_DEFAULTS:
        ko->client_defaults = true;
        return 0;
    case OPT_FLOW_PAUSES:
        count_flow_pauses = true;
        return 0;
    case OPT_PROP:
        if (!strchr(arg, '=') || ko->nprops == (int)(sizeof ko->props / sizeof *ko->props))
            return -1;
        ko->props[ko->nprops++] = arg;
        return 0;
    default:
        return -1;
    }
}

static int parse_opts(int argc, char **argv, struct kafka_opts *ko)
{
    const struct lg_extra extra = { kafka_longopts, take_kafka_opt, ko,
                                    kafka_usage };

    *ko = (struct kafka_opts){ .acks = "1", .mock_brokers = 1, .linger_ms = -1, .topics = 1 };
    if (lg_opts_parse("kafka_bench", argc, argv, &ko->lg, &extra))
        return -1;
    if (ko->topics > 1 && (ko->mock || !strcmp(ko->lg.mode, "consume"))) {
        fprintf(stderr, "kafka_bench: --topics is for produce and latency on a broker\n");
        return -1;
    }
    return 0;
}

static bool mode_is(const struct kafka_opts *ko, const char *mode)
{
    return !strcmp(ko->lg.mode, mode);
}

static const char *acks_name(const char *acks)
{
    return !strcmp(acks, "-1") ? "all" : acks;
}

/* ---- librdkafka plumbing ----------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char err[512];

    if (rd_kafka_conf_set(conf, key, val, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_bench: %s=%s: %s\n", key, val, err);
        return -1;
    }
    return 0;
}

static int conf_set_int(rd_kafka_conf_t *conf, const char *key, int val)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%d", val);
    return conf_set(conf, key, buf);
}

/* librdkafka's log lines go to stderr, prefixed, so a failing run says
 * why (connection refused, unsupported version...). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    (void)rk;
    if (count_flow_pauses && level >= 7) {
        if (strstr(buf, "queued.min.messages exceeded") ||
            strstr(buf, "queued.max.messages.kbytes exceeded"))
            atomic_fetch_add(&flow_pauses, 1);
        return;
    }
    fprintf(stderr, "kafka_bench: rdkafka %d %s: %s\n", level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    fprintf(stderr, "kafka_bench: rdkafka error %s: %s\n",
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static rd_kafka_conf_t *conf_common(const struct kafka_opts *ko)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (conf_set(conf, "bootstrap.servers", ko->lg.target) ||
        conf_set(conf, "client.id", "kafka_bench") ||
        conf_set(conf, "log_level", ko->lg.verbose ? "7" : "4")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (count_flow_pauses && (conf_set(conf, "debug", "fetch") ||
                              conf_set(conf, "log_level", "7"))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (int i = 0; i < ko->nprops; i++) {
        char key[128];
        const char *eq = strchr(ko->props[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - ko->props[i]), ko->props[i]);
        if (conf_set(conf, key, eq + 1)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
}

/* Takes conf (destroyed on failure too). */
static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

    if (!rk) {
        fprintf(stderr, "kafka_bench: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* ---- the topic --------------------------------------------------------- */

/* The partition count if every partition of md's one topic has a leader,
 * else -1 and *why. */
static int leaders_ready(const struct rd_kafka_metadata *md, const char **why)
{
    const struct rd_kafka_metadata_topic *t = &md->topics[0];

    if (md->topic_cnt != 1) {
        *why = "no such topic in the answer";
        return -1;
    }
    if (t->err) {
        *why = rd_kafka_err2str(t->err);
        return -1;
    }
    if (t->partition_cnt <= 0) {
        *why = "no partitions";
        return -1;
    }
    for (int i = 0; i < t->partition_cnt; i++)
        if (t->partitions[i].leader < 0 || t->partitions[i].err) {
            *why = "a partition without leader";
            return -1;
        }
    return t->partition_cnt;
}

/* Asks for the topic's metadata until every partition has a leader.
 * Returns the partition count, or -1. */
static int wait_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    double t0 = lg_now_s();
    const char *why = "no answer";
    int n = -1;

    if (!rkt)
        return -1;
    while (n < 0 && lg_now_s() - t0 < METADATA_TIMEOUT_S) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
        if (err) {
            why = rd_kafka_err2str(err);
            continue;          /* rd_kafka_metadata waited up to 2 s */
        }
        n = leaders_ready(md, &why);
        rd_kafka_metadata_destroy(md);
        if (n < 0)             /* being created: ask again shortly */
            lg_sleep_until_ns(lg_now_ns() + 100000000ull);
    }
    rd_kafka_topic_destroy(rkt);
    if (n < 0)
        fprintf(stderr, "kafka_bench: topic %s not ready after %.0f s: %s\n",
                topic, METADATA_TIMEOUT_S, why);
    return n;
}

/* Topic k of the run's --topics: T itself when there is one, else T-k. */
static const char *topic_name(const struct kafka_opts *ko, int k, char *buf, size_t cap)
{
    if (ko->topics <= 1)
        return ko->lg.topic;
    snprintf(buf, cap, "%s-%d", ko->lg.topic, k);
    return buf;
}

/* The run's topics (--topics), every one with the same partition count. */
struct topic_set {
    int n;                     /* topics */
    int partitions;            /* of each */
    rd_kafka_topic_t **rkt;
};

static int wait_topics(rd_kafka_t *rk, const struct kafka_opts *ko);

/* Creates the topic on a real broker, then waits for its leaders. Returns
 * the partition count it has, or -1. */
static int prepare_topic(rd_kafka_t *rk, const struct kafka_opts *ko)
{
    int n;

    if (ko->topics > 1)
        return wait_topics(rk, ko);
    if (!ko->mock && !ko->no_create && nw_create_topic(ko->lg.target, ko->lg.topic,
                                     ko->lg.partitions, CREATE_TIMEOUT_S))
        return -1;
    n = wait_topic(rk, ko->lg.topic);
    if (n > MAX_PARTITIONS) {
        fprintf(stderr, "kafka_bench: %d partitions, at most %d\n", n,
                MAX_PARTITIONS);
        return -1;
    }
    if (n > 0 && n != ko->lg.partitions)
        printf("  topic %s exists with %d partitions (not %d): using %d\n",
               ko->lg.topic, n, ko->lg.partitions, n);
    return n;
}

/* --topics K: creates T-0..T-(K-1) (one admin connection), then waits for
 * every one's leaders. Returns the partitions of each, or -1. */
static int wait_topics(rd_kafka_t *rk, const struct kafka_opts *ko)
{
    int n = -1;

    if (!ko->no_create && nw_create_topics(ko->lg.target, ko->lg.topic, ko->topics,
                                           ko->lg.partitions, CREATE_TIMEOUT_S))
        return -1;
    for (int k = 0; k < ko->topics; k++) {
        char buf[NW_NAME_MAX];
        int got = wait_topic(rk, topic_name(ko, k, buf, sizeof buf));
        if (got < 0 || got > MAX_PARTITIONS || (n >= 0 && got != n)) {
            fprintf(stderr, "kafka_bench: topic %s: %d partitions (want %d, at most %d)\n",
                    buf, got, n, MAX_PARTITIONS);
            return -1;
        }
        n = got;
    }
    return n;
}

/* Opens a handle on each of the run's topics. Returns 0 or -1. */
static int topic_set_open(struct topic_set *ts, rd_kafka_t *rk, const struct kafka_opts *ko,
                          int partitions)
{
    ts->n = ko->topics;
    ts->partitions = partitions;
    ts->rkt = calloc((size_t)ts->n, sizeof(*ts->rkt));
    if (!ts->rkt)
        return -1;
    for (int k = 0; k < ts->n; k++) {
        char buf[NW_NAME_MAX];
        ts->rkt[k] = rd_kafka_topic_new(rk, topic_name(ko, k, buf, sizeof buf), NULL);
        if (!ts->rkt[k])
            return -1;
    }
    return 0;
}

static void topic_set_close(struct topic_set *ts)
{
    for (int k = 0; ts->rkt && k < ts->n; k++)
        if (ts->rkt[k])
            rd_kafka_topic_destroy(ts->rkt[k]);
    free(ts->rkt);
    ts->rkt = NULL;
}

/* Where message i goes when spread: partition i % (topics x partitions),
 * topic by topic. */
static rd_kafka_topic_t *topic_set_pick(const struct topic_set *ts, uint64_t i,
                                        int32_t *partition)
{
    uint64_t g = i % ((uint64_t)ts->n * (uint64_t)ts->partitions);
    *partition = (int32_t)(g % (uint64_t)ts->partitions);
    return ts->rkt[g / (uint64_t)ts->partitions];
}

/* ---- produce ----------------------------------------------------------- */

struct dr_state {
    uint64_t delivered;
    uint64_t errors;
    uint64_t bytes;
    double t_last;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    struct dr_state *st = opaque;

    (void)rk;
    if (m->err) {
        if (st->errors < MAX_ERRORS_SHOWN)
            fprintf(stderr, "kafka_bench: delivery failed: %s\n",
                    rd_kafka_err2str(m->err));
        st->errors++;
    } else {
        st->delivered++;
        st->bytes += m->len;
    }
    st->t_last = lg_now_s();
}

static rd_kafka_t *producer_new(const struct kafka_opts *ko, int linger_ms,
                                bool low_latency, void *opaque,
                                void (*dr)(rd_kafka_t *, const rd_kafka_message_t *,
                                           void *))
{
    rd_kafka_conf_t *conf = conf_common(ko);

    if (!conf)
        return NULL;
    if (conf_set(conf, "acks", ko->idempotent || ko->txn_msgs ? "all" : ko->acks) ||
        conf_set_int(conf, "linger.ms", ko->linger_ms >= 0 ? ko->linger_ms : linger_ms) ||
        conf_set(conf, "batch.size", "1000000") ||
        conf_set(conf, "queue.buffering.max.messages", "10000000") ||
        conf_set(conf, "queue.buffering.max.kbytes", "2097151") ||
        conf_set(conf, "compression.type", "none") ||
        conf_set(conf, "message.timeout.ms", ko->txn_msgs ? "60000" : "120000") ||
        (low_latency && conf_set(conf, "socket.nagle.disable", "true")) ||
        (ko->idempotent && conf_set(conf, "enable.idempotence", "true")) ||
        (ko->lg.in_flight > 0 && ko->lg.in_flight <= 1000000 &&
         conf_set_int(conf, "max.in.flight.requests.per.connection",
                      (int)ko->lg.in_flight))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (ko->txn_msgs) {
        char id[256];
        snprintf(id, sizeof(id), "kafka_bench-%s", ko->lg.topic);
        if (conf_set(conf, "transactional.id", id) ||
            conf_set(conf, "transaction.timeout.ms", "60000")) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr);
    rd_kafka_conf_set_opaque(conf, opaque);
    return client_new(RD_KAFKA_PRODUCER, conf);
}

static uint8_t *random_payload(size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    for (size_t i = 0; p && i < size; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        p[i] = (uint8_t)seed;
    }
    return p;
}

/* Queues `count` messages as fast as the queue takes them, bounded by
 * deadline. Returns how many were queued, or -1 on a produce error. */
static int64_t produce_all(rd_kafka_t *rk, const struct topic_set *ts, bool spread,
                           const uint8_t *payload, const struct lg_opts *o,
                           double deadline, bool *time_limited)
{
    uint64_t sent = 0;

    while (sent < o->count) {
        int32_t partition = RD_KAFKA_PARTITION_UA;
        rd_kafka_topic_t *rkt = spread ? topic_set_pick(ts, sent, &partition)
                                       : ts->rkt[sent % (uint64_t)ts->n];
        /* The payload is shared and outlives the producer: no copy, no
         * free (neither RD_KAFKA_MSG_F_COPY nor _F_FREE). */
        if (rd_kafka_produce(rkt, partition, 0, (void *)payload,
                             o->size, NULL, 0, NULL) == 0) {
            sent++;
            if ((sent & 1023) != 0)
                continue;
            rd_kafka_poll(rk, 0);
        } else if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
        } else {
            fprintf(stderr, "kafka_bench: produce: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        if (lg_now_s() >= deadline) {
            *time_limited = true;
            break;
        }
    }
    return (int64_t)sent;
}

/* Serves delivery reports until everything queued is delivered, bounded. */
static void await_deliveries(rd_kafka_t *rk, bool *time_limited)
{
    double t0 = lg_now_s();

    while (rd_kafka_outq_len(rk) > 0 && lg_now_s() - t0 < FLUSH_TIMEOUT_S)
        rd_kafka_poll(rk, 100);
    if (rd_kafka_outq_len(rk) > 0) {
        fprintf(stderr, "kafka_bench: %d messages undelivered after %.0f s\n",
                rd_kafka_outq_len(rk), FLUSH_TIMEOUT_S);
        *time_limited = true;
    }
}

static bool txn_ok(rd_kafka_error_t *e, const char *what)
{
    if (!e)
        return true;
    fprintf(stderr, "kafka_bench: %s: %s\n", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return false;
}

/* Transactions of ko->txn_msgs messages: produce, flush, then time the
 * commit alone. Returns the messages queued, or -1. */
static int64_t produce_txns(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *payload,
                            const struct kafka_opts *ko, double deadline, struct result *res)
{
    const struct lg_opts *o = &ko->lg;
    uint64_t sent = 0;
    hist_init(&res->commit);
    if (!txn_ok(rd_kafka_init_transactions(rk, 30000), "init_transactions"))
        return -1;
    while (sent < o->count) {
        if (lg_now_s() >= deadline) {
            res->time_limited = true;
            break;
        }
        if (!txn_ok(rd_kafka_begin_transaction(rk), "begin_transaction"))
            return -1;
        for (int i = 0; i < ko->txn_msgs && sent < o->count;) {
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, (void *)payload, o->size, NULL,
                                 0, NULL) == 0) {
                sent++;
                i++;
            } else if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 1);
            } else {
                fprintf(stderr, "kafka_bench: produce: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
            }
        }
        rd_kafka_flush(rk, (int)(FLUSH_TIMEOUT_S * 1000));
        double c0 = lg_now_s();
        if (!txn_ok(rd_kafka_commit_transaction(rk, 60000), "commit_transaction"))
            return -1;
        hist_record(&res->commit, (uint64_t)((lg_now_s() - c0) * 1e9));
        res->txns++;
    }
    return (int64_t)sent;
}

static int run_produce(const struct kafka_opts *ko, struct result *res)
{
    const struct lg_opts *o = &ko->lg;
    struct dr_state st = { 0 };
    rd_kafka_t *rk = producer_new(ko, 5, false, &st, on_delivery);
    struct topic_set ts = { 0 };
    uint8_t *payload = NULL;
    int rc = -1;

    if (!rk)
        return -1;
    res->partitions = prepare_topic(rk, ko);
    if (res->partitions < 0)
        goto out;
    payload = random_payload(o->size);
    if (topic_set_open(&ts, rk, ko, res->partitions) || !payload)
        goto out;

    double t0 = lg_now_s();
    int64_t sent = ko->txn_msgs ? produce_txns(rk, ts.rkt[0], payload, ko, t0 + o->seconds, res)
                                : produce_all(rk, &ts, ko->spread, payload, o, t0 + o->seconds,
                                              &res->time_limited);
    if (sent < 0)
        goto out;
    await_deliveries(rk, &res->time_limited);
    res->msgs = st.delivered;
    res->bytes = st.bytes;
    res->errors = st.errors + ((uint64_t)sent - st.delivered - st.errors);
    res->secs = (st.t_last > t0 ? st.t_last : lg_now_s()) - t0;
    rc = 0;
out:
    topic_set_close(&ts);
    /* Nothing left to wait for when the run failed or timed out. */
    if (rd_kafka_outq_len(rk) > 0)
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 1000);
    rd_kafka_destroy(rk);
    free(payload);
    return rc;
}

/* ---- consume ----------------------------------------------------------- */

static int consumer_conf_set(rd_kafka_conf_t *conf)
{
    return conf_set(conf, "group.id", "kafka_bench-assign-no-membership") ||
           conf_set(conf, "enable.auto.commit", "false") ||
           conf_set(conf, "enable.auto.offset.store", "false") ||
           conf_set(conf, "enable.partition.eof", "false") ||
           conf_set(conf, "check.crcs", "false") ? -1 : 0;
}

/* Large fetches: fetch.max.bytes <= receive.message.max.bytes - 512, and
 * the per-partition limit no larger than the whole. */
static rd_kafka_t *bulk_consumer_new(const struct kafka_opts *ko)
{
    rd_kafka_conf_t *conf = conf_common(ko);

    if (!conf)
        return NULL;
    if (consumer_conf_set(conf) ||
        (ko->isolation && conf_set(conf, "isolation.level", ko->isolation))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* --client-defaults: librdkafka's own fetch and queue settings (its
     * flow control included: queued.min.messages, fetch.error.backoff.ms)
     * and the --prop settings, nothing of ours. */
    if (ko->client_defaults)
        return client_new(RD_KAFKA_CONSUMER, conf);
    if (conf_set(conf, "fetch.max.bytes", "52428800") ||
        conf_set(conf, "max.partition.fetch.bytes", "16777216") ||
        conf_set(conf, "receive.message.max.bytes", "104857600") ||
        conf_set(conf, "fetch.wait.max.ms", "100") ||
        conf_set(conf, "queued.min.messages", "1000000") ||
        conf_set(conf, "queued.max.messages.kbytes", "1048576")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return client_new(RD_KAFKA_CONSUMER, conf);
}

/* assign() every partition at offset (a logical offset such as
 * RD_KAFKA_OFFSET_BEGINNING, or per partition from offsets[]). */
static int assign_all(rd_kafka_t *rk, const char *topic, int partitions,
                      int64_t offset, const int64_t *offsets)
{
    rd_kafka_topic_partition_list_t *tl =
        rd_kafka_topic_partition_list_new(partitions);
    rd_kafka_resp_err_t err;

    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(tl, topic, p)->offset =
            offsets ? offsets[p] : offset;
    err = rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (err)
        fprintf(stderr, "kafka_bench: assign: %s\n", rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Checks and counts one consumed message (consume mode). */
static void take_message(const struct lg_opts *o, const rd_kafka_message_t *m,
                         int64_t *next_off, struct result *res)
{
    if (m->err) {
        if (res->errors < MAX_ERRORS_SHOWN)
            fprintf(stderr, "kafka_bench: consume error: %s\n",
                    rd_kafka_message_errstr(m));
        res->errors++;
        return;
    }
    if (m->partition < 0 || m->partition >= res->partitions) {
        res->errors++;
        return;
    }
    int64_t *next = &next_off[m->partition];
    if (m->offset > *next)
        res->gaps += (uint64_t)(m->offset - *next);
    if (m->offset < *next)
        res->dups++;
    else
        *next = m->offset + 1;
    if (m->len != o->size)
        res->bad_size++;
    if (res->msgs < o->count) {
        res->msgs++;
        res->bytes += m->len;
    }
}

/* Reads until o->count messages or the time limit. Returns 0 or -1. */
static int consume_loop(rd_kafka_queue_t *q, const struct lg_opts *o,
                        int64_t *next_off, double t0, struct result *res)
{
    static rd_kafka_message_t *msgs[CONSUME_BATCH];
    double deadline = t0 + o->seconds, t_end = t0;

    while (res->msgs < o->count) {
        if (lg_now_s() >= deadline) {
            res->time_limited = true;
            break;
        }
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, CONSUME_BATCH);
        if (n < 0) {
            fprintf(stderr, "kafka_bench: consume: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            take_message(o, msgs[i], next_off, res);
            rd_kafka_message_destroy(msgs[i]);
        }
        if (n > 0)
            t_end = lg_now_s();
    }
    res->secs = t_end - t0;
    return 0;
}

static int run_consume(const struct kafka_opts *ko, struct result *res)
{
    static int64_t next_off[MAX_PARTITIONS];
    rd_kafka_t *rk = bulk_consumer_new(ko);
    rd_kafka_queue_t *q = NULL;
    int rc = -1;

    if (!rk)
        return -1;
    rd_kafka_poll_set_consumer(rk);
    res->partitions = prepare_topic(rk, ko);
    if (res->partitions < 0)
        goto out;
    memset(next_off, 0, sizeof(next_off));
    q = rd_kafka_queue_get_consumer(rk);
    double t0 = lg_now_s();
    if (assign_all(rk, ko->lg.topic, res->partitions, RD_KAFKA_OFFSET_BEGINNING,
                   NULL) == 0)
        rc = consume_loop(q, &ko->lg, next_off, t0, res);
out:
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- latency ----------------------------------------------------------- */

/* The poller thread's: delivery reports. */
struct ack_side {
    struct lg_lat lat;
    _Atomic uint64_t acked;
    _Atomic uint64_t errors;
    atomic_bool closed;        /* past the grace: count nothing more */
};

/* The consumer thread's. */
struct tail_side {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    size_t size;
    uint64_t total;            /* sequence numbers 0..total-1 are ours */
    uint8_t *seen;             /* one bit per sequence number */
    struct lg_lat lat;
    _Atomic uint64_t consumed;
    _Atomic uint64_t errors;
    uint64_t dups;             /* read after the join */
    uint64_t foreign;          /* not a message of this run */
    atomic_bool stop;
};

/* The sender's (the main thread). */
struct send_side {
    struct topic_set ts;
    int partitions;
    uint8_t *payload;          /* --size bytes, restamped per message */
    struct lg_pace pace;
    struct lg_lat lag;
    uint64_t deadline_ns;      /* last intended time + the grace */
    uint64_t sent;
    uint64_t errors;
    uint64_t last_send_ns;
};

struct latency_run {
    const struct kafka_opts *ko;
    rd_kafka_t *producer;
    pthread_t poller_thread, tail_thread;
    bool poller_started, tail_started;
    atomic_bool stop_polling;
    struct ack_side ack;
    struct tail_side tail;
    struct send_side send;
    bool kept_up;
    double cpu_s;
};

static void on_latency_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                                void *opaque)
{
    struct ack_side *a = opaque;
    uint64_t now = lg_now_ns();

    (void)rk;
    if (atomic_load_explicit(&a->closed, memory_order_relaxed))
        return;
    if (m->err) {
        if (atomic_fetch_add(&a->errors, 1) < MAX_ERRORS_SHOWN)
            fprintf(stderr, "kafka_bench: delivery failed: %s\n",
                    rd_kafka_err2str(m->err));
        return;
    }
    lg_lat_record(&a->lat, lg_stamp_time(m->payload), now);
    atomic_fetch_add_explicit(&a->acked, 1, memory_order_relaxed);
}

/* Delivery reports are served here as soon as they are queued (the poll
 * wakes on them), independent of the sender's pacing. */
static void *poll_deliveries(void *arg)
{
    struct latency_run *r = arg;

    while (!atomic_load(&r->stop_polling))
        rd_kafka_poll(r->producer, 100);
    return NULL;
}

/* A message this run sent: its size, and a sequence number in range. */
static bool is_ours(const struct tail_side *t, const rd_kafka_message_t *m)
{
    return m->len == t->size && lg_stamp_seq(m->payload) < t->total;
}

/* Checks, records and frees one message of the tailing consumer. */
static void tail_take(struct tail_side *t, rd_kafka_message_t *m, uint64_t now)
{
    if (m->err) {
        if (!atomic_load(&t->stop) &&
            atomic_fetch_add(&t->errors, 1) < MAX_ERRORS_SHOWN)
            fprintf(stderr, "kafka_bench: consume error: %s\n",
                    rd_kafka_message_errstr(m));
    } else if (!is_ours(t, m)) {
        t->foreign++;
    } else {
        uint64_t seq = lg_stamp_seq(m->payload);
        uint8_t bit = (uint8_t)(1u << (seq % 8));
        if (t->seen[seq / 8] & bit) {
            t->dups++;
        } else {
            t->seen[seq / 8] |= bit;
            lg_lat_record(&t->lat, lg_stamp_time(m->payload), now);
            atomic_fetch_add_explicit(&t->consumed, 1, memory_order_relaxed);
        }
    }
    rd_kafka_message_destroy(m);
}

/* Blocks for one message (rd_kafka_consumer_poll returns as soon as there
 * is one; consume_batch would wait to fill its batch), then takes what
 * else is already there without waiting. */
static void *tail_topic(void *arg)
{
    struct tail_side *t = arg;
    rd_kafka_message_t *batch[TAIL_BATCH];

    while (!atomic_load(&t->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 100);
        if (!m)
            continue;
        tail_take(t, m, lg_now_ns());
        ssize_t n = rd_kafka_consume_batch_queue(t->q, 0, batch, TAIL_BATCH);
        uint64_t now = lg_now_ns();
        for (ssize_t i = 0; i < n; i++)
            tail_take(t, batch[i], now);
    }
    return NULL;
}

static rd_kafka_t *tail_consumer_new(const struct kafka_opts *ko)
{
    rd_kafka_conf_t *conf = conf_common(ko);

    if (!conf)
        return NULL;
    if (consumer_conf_set(conf) ||
        conf_set(conf, "fetch.wait.max.ms", "10") ||
        conf_set(conf, "fetch.min.bytes", "1") ||
        conf_set(conf, "socket.nagle.disable", "true")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return client_new(RD_KAFKA_CONSUMER, conf);
}

/* A partition's watermarks, asked again while its leadership is still
 * settling (Kafka answers NOT_LEADER for a moment after CreateTopics even
 * when Metadata already names the leader), at most WATERMARK_TIMEOUT_MS. */
static rd_kafka_resp_err_t watermarks(rd_kafka_t *rk, const char *topic, int p, int64_t *lo,
                                      int64_t *hi)
{
    double deadline = lg_now_s() + WATERMARK_TIMEOUT_MS / 1000.0;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi,
                                                                   WATERMARK_TIMEOUT_MS);
        bool settling = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                        err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                        err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (!settling || lg_now_s() >= deadline)
            return err;
        lg_sleep_until_ns(lg_now_ns() + 100000000ull);
    }
}

/* Assigns every partition of every topic of the run at its current high
 * watermark, so that the consumer reads exactly what is sent from now on. */
static int assign_at_end(rd_kafka_t *rk, const struct kafka_opts *ko, int partitions)
{
    rd_kafka_topic_partition_list_t *tl =
        rd_kafka_topic_partition_list_new(partitions * ko->topics);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (int k = 0; k < ko->topics && !err; k++) {
        char buf[NW_NAME_MAX];
        const char *topic = topic_name(ko, k, buf, sizeof buf);
        for (int p = 0; p < partitions && !err; p++) {
            int64_t lo, hi;
            err = watermarks(rk, topic, p, &lo, &hi);
            if (err)
                fprintf(stderr, "kafka_bench: watermarks of %s [%d]: %s\n", topic,
                        p, rd_kafka_err2str(err));
            else
                rd_kafka_topic_partition_list_add(tl, topic, p)->offset = hi;
        }
    }
    if (!err) {
        err = rd_kafka_assign(rk, tl);
        if (err)
            fprintf(stderr, "kafka_bench: assign: %s\n", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(tl);
    return err ? -1 : 0;
}

static int tail_open(struct tail_side *t, const struct kafka_opts *ko,
                     int partitions)
{
    t->rk = tail_consumer_new(ko);
    if (!t->rk)
        return -1;
    rd_kafka_poll_set_consumer(t->rk);
    t->q = rd_kafka_queue_get_consumer(t->rk);
    t->seen = calloc((size_t)(t->total / 8 + 1), 1);
    if (!t->seen)
        return -1;
    return assign_at_end(t->rk, ko, partitions);
}

static void tail_close(struct tail_side *t)
{
    if (t->q)
        rd_kafka_queue_destroy(t->q);
    if (t->rk) {
        rd_kafka_consumer_close(t->rk);
        rd_kafka_destroy(t->rk);
    }
    free(t->seen);
}

/* Hands one stamped message to librdkafka (copied), waiting out a full
 * queue until the deadline. Returns 0, 1 if the queue was still full at the
 * deadline, or -1 on any other error. */
static int send_one(struct send_side *s, size_t size, uint64_t seq,
                    uint64_t intended)
{
    int32_t partition;
    rd_kafka_topic_t *rkt = topic_set_pick(&s->ts, seq, &partition);

    lg_stamp(s->payload, intended, seq);
    for (;;) {
        if (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, s->payload,
                             size, NULL, 0, NULL) == 0)
            return 0;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (s->errors < MAX_ERRORS_SHOWN)
                fprintf(stderr, "kafka_bench: produce: %s\n",
                        rd_kafka_err2str(err));
            return -1;
        }
        if (lg_now_ns() >= s->deadline_ns)
            return 1;          /* still full at the end: it did not keep up */
        lg_sleep_until_ns(lg_now_ns() + QUEUE_FULL_WAIT_NS);
    }
}

/* Sends every message when it is due (late ones at once), until all are
 * sent or the deadline passes (also while librdkafka's queue stays full:
 * the run then did not keep up, which is not an error). */
/* --in-flight: waits until fewer than max messages are unacknowledged
 * (the delivery reports are counted on the poller thread). */
static void wait_in_flight(const struct send_side *s, const struct ack_side *a, int max)
{
    while (max > 0 && s->sent - atomic_load(&a->acked) - atomic_load(&a->errors) >=
                          (uint64_t)max && lg_now_ns() < s->deadline_ns)
        sched_yield(); /* the report comes from the poller thread */
}

static void send_paced(struct send_side *s, const struct ack_side *a, size_t size,
                       int in_flight)
{
    while (!lg_pace_done(&s->pace)) {
        uint64_t due = lg_pace_wait(&s->pace, SEND_BATCH);
        for (uint64_t k = 0; k < due; k++) {
            wait_in_flight(s, a, in_flight);
            uint64_t seq = s->pace.next;
            uint64_t intended = lg_pace_intended(&s->pace, seq);
            uint64_t now = lg_now_ns();
            if (now >= s->deadline_ns)
                return;
            lg_lat_record(&s->lag, intended, now);
            int rc = send_one(s, size, seq, intended);
            if (rc > 0)
                return;
            if (rc == 0)
                s->sent++;
            else
                s->errors++;
            s->last_send_ns = now;
            lg_pace_sent(&s->pace, 1);
        }
    }
}

/* Waits until every sent message is acked (or failed) and consumed, at
 * most until the deadline. Returns whether all of it arrived in time. */
static bool wait_drained(struct latency_run *r)
{
    const struct send_side *s = &r->send;

    for (;;) {
        uint64_t acked = atomic_load(&r->ack.acked);
        uint64_t failed = atomic_load(&r->ack.errors);
        uint64_t consumed = atomic_load(&r->tail.consumed);
        if (acked + failed >= s->sent && consumed >= acked)
            return s->sent == s->pace.total && acked == s->sent &&
                   consumed == s->sent;
        if (lg_now_ns() >= s->deadline_ns)
            return false;
        lg_sleep_until_ns(lg_now_ns() + 1000000);
    }
}

static int latency_setup(struct latency_run *r)
{
    const struct lg_opts *o = &r->ko->lg;
    struct send_side *s = &r->send;

    r->producer = producer_new(r->ko, 0, true, &r->ack, on_latency_delivery);
    if (!r->producer)
        return -1;
    s->partitions = prepare_topic(r->producer, r->ko);
    if (s->partitions < 0)
        return -1;
    s->payload = random_payload(o->size);
    if (topic_set_open(&s->ts, r->producer, r->ko, s->partitions) || !s->payload)
        return -1;
    /* The schedule's length is known before its start: set it up with a
     * provisional start so that the consumer can size its bitmap. */
    lg_pace_init(&s->pace, o->rate, o->seconds, 0);
    r->tail.size = o->size;
    r->tail.total = s->pace.total;
    if (tail_open(&r->tail, r->ko, s->partitions))
        return -1;
    s->deadline_ns = lg_latency_start(o, &s->pace, &r->ack.lat, &r->tail.lat, &s->lag);
    return 0;
}

static int latency_start_threads(struct latency_run *r)
{
    int err = pthread_create(&r->poller_thread, NULL, poll_deliveries, r);

    r->poller_started = err == 0;
    if (!err) {
        err = pthread_create(&r->tail_thread, NULL, tail_topic, &r->tail);
        r->tail_started = err == 0;
    }
    if (err)
        fprintf(stderr, "kafka_bench: pthread_create: %s\n", strerror(err));
    return err ? -1 : 0;
}

/* Stops counting, joins the threads, drops what is still queued. */
static void latency_teardown(struct latency_run *r)
{
    atomic_store(&r->ack.closed, true);
    atomic_store(&r->stop_polling, true);
    atomic_store(&r->tail.stop, true);
    if (r->poller_started)
        pthread_join(r->poller_thread, NULL);
    if (r->tail_started)
        pthread_join(r->tail_thread, NULL);
    tail_close(&r->tail);
    topic_set_close(&r->send.ts);
    if (r->producer) {
        rd_kafka_purge(r->producer,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(r->producer, 1000);
        rd_kafka_destroy(r->producer);
    }
    free(r->send.payload);
}

static uint64_t latency_errors(const struct latency_run *r)
{
    return r->send.errors + atomic_load(&r->ack.errors) +
           atomic_load(&r->tail.errors);
}

static void latency_report(const struct latency_run *r, const char *system)
{
    const struct kafka_opts *ko = r->ko;
    struct lg_opts o = ko->lg;
    const struct lg_lat_summary sum = {
        .scheduled = r->send.pace.total, .sent = r->send.sent,
        .acked = atomic_load(&r->ack.acked),
        .consumed = atomic_load(&r->tail.consumed), .errors = latency_errors(r),
        .dups = r->tail.dups, .foreign = r->tail.foreign, .kept_up = r->kept_up,
        .achieved_rate = lg_achieved_rate(&r->send.pace, r->send.sent,
                                          r->send.pace.start_ns, r->send.last_send_ns),
        .client_cpu_s = r->cpu_s,
        .ack = &r->ack.lat.h, .e2e = &r->tail.lat.h, .lag = &r->send.lag.h,
    };

    o.partitions = r->send.partitions;
    lg_lat_summary_print(&sum);
    lg_report_begin(system, &o);
    lg_report_latency(&sum);
    lg_report_str("acks", acks_name(ko->acks));
    lg_report_u64("linger_ms", (uint64_t)(ko->linger_ms >= 0 ? ko->linger_ms : 0));
    lg_report_u64("topics", (uint64_t)ko->topics);
    lg_report_end();
}

static int run_latency(const struct kafka_opts *ko, const char *system)
{
    struct latency_run *r = calloc(1, sizeof(*r));
    int rc = -1;

    if (!r)
        return -1;
    r->ko = ko;
    if (latency_setup(r) == 0 && latency_start_threads(r) == 0) {
        double cpu0 = lg_cpu_s();
        send_paced(&r->send, &r->ack, ko->lg.size, (int)ko->lg.in_flight);
        r->kept_up = wait_drained(r);
        r->cpu_s = lg_cpu_s() - cpu0;
        rc = 0;
    }
    latency_teardown(r);
    if (rc == 0) {
        latency_report(r, system);
        if (lg_write_hist(&ko->lg, "ack", &r->ack.lat.h) ||
            lg_write_hist(&ko->lg, "e2e", &r->tail.lat.h))
            rc = -1;
        else if (latency_errors(r) || r->tail.dups)
            rc = 1;
    }
    free(r);
    return rc;
}

/* ---- the mock cluster -------------------------------------------------- */

/* It lives in a producer handle of its own (librdkafka's way:
 * rd_kafka_mock_cluster_new wants an instance to run in); ko->lg.target
 * then points to it. */
static rd_kafka_t *mock_start(struct kafka_opts *ko, rd_kafka_mock_cluster_t **mc)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    rd_kafka_resp_err_t err;

    rd_kafka_conf_set_log_cb(conf, on_log);
    if (conf_set(conf, "log_level", "4")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = client_new(RD_KAFKA_PRODUCER, conf);
    if (!rk)
        return NULL;
    *mc = rd_kafka_mock_cluster_new(rk, ko->mock_brokers);
    if (!*mc) {
        fprintf(stderr, "kafka_bench: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return NULL;
    }
    err = rd_kafka_mock_topic_create(*mc, ko->lg.topic, ko->lg.partitions, 1);
    if (err) {
        fprintf(stderr, "kafka_bench: mock topic: %s\n", rd_kafka_err2str(err));
        rd_kafka_mock_cluster_destroy(*mc);
        rd_kafka_destroy(rk);
        return NULL;
    }
    ko->lg.target = rd_kafka_mock_cluster_bootstraps(*mc);
    return rk;
}

/* An empty mock has nothing to consume: fill it first (untimed). */
static int mock_fill(const struct kafka_opts *ko)
{
    struct result fr = { 0 };
    int rc = run_produce(ko, &fr);

    printf("  mock filled with %" PRIu64 " x %zu B\n", fr.msgs, ko->lg.size);
    return rc == 0 && fr.msgs == ko->lg.count && fr.errors == 0 ? 0 : -1;
}

/* ---- main -------------------------------------------------------------- */

static void print_header(const struct kafka_opts *ko)
{
    const struct lg_opts *o = &ko->lg;

    if (mode_is(ko, "latency"))
        printf("kafka_bench: latency, %.0f msgs/s x %zu B for %.1f s (warm-up "
               "%.1f s)", o->rate, o->size, o->seconds, o->warmup);
    else
        printf("kafka_bench: %s %" PRIu64 " x %zu B", o->mode, o->count, o->size);
    printf(", topic %s, %s%s", o->topic, ko->mock ? "mock cluster " : "", o->target);
    if (!mode_is(ko, "consume"))
        printf(", acks=%s", acks_name(ko->acks));
    printf(", librdkafka %s\n", rd_kafka_version_str());
    fflush(stdout);
}

/* Prints the summary and the RESULT line; returns the exit status. */
static int rate_report(const struct kafka_opts *ko, const struct result *res,
                       const char *system, double cpu)
{
    struct lg_opts o = ko->lg;
    bool produce = mode_is(ko, "produce");
    double msgs_s = res->secs > 0 ? (double)res->msgs / res->secs : 0;
    double mb_s = res->secs > 0 ? (double)res->bytes / res->secs / MB : 0;

    printf("  %" PRIu64 " msgs, %.1f MB in %.3f s over %d partitions: "
           "%.0f msgs/s, %.1f MB/s; %" PRIu64 " errors%s; client CPU %.2f s\n",
           res->msgs, (double)res->bytes / MB, res->secs, res->partitions,
           msgs_s, mb_s, res->errors, res->time_limited ? " [time limit]" : "",
           cpu);
    if (!produce)
        printf("  offsets: %" PRIu64 " gaps, %" PRIu64 " duplicates; %" PRIu64
               " values of another size\n", res->gaps, res->dups, res->bad_size);
    if (produce && ko->txn_msgs)
        printf("  %" PRIu64 " transactions of %d: commit p50 %.0f us, p99 %.0f us\n",
               res->txns, ko->txn_msgs, (double)hist_percentile(&res->commit, 50) / 1e3,
               (double)hist_percentile(&res->commit, 99) / 1e3);
    o.partitions = res->partitions;
    lg_report_begin(system, &o);
    lg_report_rate(res->msgs, res->bytes, res->secs, res->errors,
                   res->time_limited, cpu);
    if (produce) {
        lg_report_str("acks", ko->idempotent || ko->txn_msgs ? "all" : acks_name(ko->acks));
        lg_report_u64("linger_ms", (uint64_t)(ko->linger_ms >= 0 ? ko->linger_ms : 5));
        lg_report_str("producer", ko->txn_msgs ? "transactional"
                                  : ko->idempotent ? "idempotent" : "plain");
        if (ko->txn_msgs) {
            lg_report_u64("txn_msgs", (uint64_t)ko->txn_msgs);
            lg_report_u64("txns", res->txns);
            lg_report_f("commit_p50_us", (double)hist_percentile(&res->commit, 50) / 1e3);
            lg_report_f("commit_p99_us", (double)hist_percentile(&res->commit, 99) / 1e3);
        }
        lg_report_u64("topics", (uint64_t)ko->topics);
        lg_report_u64("spread", ko->spread);
    } else {
        lg_report_str("isolation", ko->isolation ? ko->isolation : "read_committed");
        lg_report_u64("gaps", res->gaps);
        lg_report_u64("dups", res->dups);
        lg_report_u64("bad_size", res->bad_size);
        if (count_flow_pauses)
            lg_report_u64("flow_pauses", atomic_load(&flow_pauses));
    }
    lg_report_end();
    bool ok = res->msgs == o.count && res->errors == 0 && (res->gaps == 0 || ko->markers) &&
              res->dups == 0 && res->bad_size == 0 && !res->time_limited;
    return ok ? 0 : 1;
}

static int run_rate(const struct kafka_opts *ko, const char *system)
{
    struct result res = { 0 };
    int rc = 0;

    if (ko->mock && mode_is(ko, "consume"))
        rc = mock_fill(ko);
    double cpu0 = lg_cpu_s();
    if (rc == 0)
        rc = mode_is(ko, "produce") ? run_produce(ko, &res) : run_consume(ko, &res);
    double cpu = lg_cpu_s() - cpu0;
    if (rc)
        return 1;
    return rate_report(ko, &res, system, cpu);
}

int main(int argc, char **argv)
{
    struct kafka_opts ko;
    rd_kafka_t *mock_rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    const char *system;
    int rc;

    if (parse_opts(argc, argv, &ko))
        return 2;
    if (ko.mock && !(mock_rk = mock_start(&ko, &mc)))
        return 1;
    system = ko.mock ? "kafka-mock" : "kafka";
    print_header(&ko);
    if (mode_is(&ko, "latency"))
        rc = run_latency(&ko, system) ? 1 : 0;
    else
        rc = run_rate(&ko, system);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (mock_rk)
        rd_kafka_destroy(mock_rk);
    return rc;
}
