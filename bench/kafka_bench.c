/* kafka_bench.c - produce and consume rates of a real Kafka client
 * (librdkafka) against a broker, or against librdkafka's in-process mock
 * cluster as the client's own ceiling.
 *
 *   kafka_bench produce --bootstrap H:P --topic T --count N --size S --acks 1|all
 *   kafka_bench consume --bootstrap H:P --topic T --count N [--size S]
 *   kafka_bench produce --mock --partitions P ...   (the mock cluster)
 *
 * produce  N messages of S bytes, no key, one shared payload buffer passed
 *          without RD_KAFKA_MSG_F_COPY (the client copies nothing but what
 *          it puts on the wire), linger.ms=5, batch.size ~1 MB, compression
 *          none, a queue of 1M messages. Timed from the first produce call
 *          to the last delivery report. Every delivery report is checked;
 *          failed ones are counted (errors=) and not in the rate.
 * consume  assign() every partition of T from the beginning (a group.id is
 *          set because librdkafka wants one for assign(), but nothing joins
 *          or commits), read until N messages, large fetches. Timed from
 *          the assign() to the Nth message. Checks that no error is
 *          returned, that offsets are contiguous per partition (gaps= and
 *          dups= count otherwise) and, with --size, every value's length.
 *
 * Before either, the topic's metadata is requested until every partition
 * has a leader (this auto-creates the topic on a broker that does so).
 * Rates: msgs/s, and MB/s of message values (10^6 bytes). Every loop is
 * bounded by --seconds (then the run reports time_limited=1), and the final
 * flush or drain by FLUSH_TIMEOUT_S.
 *
 * The last line printed is machine-readable:
 *   RESULT mode=produce msgs=... bytes=... secs=... msgs_s=... mb_s=...
 *          errors=... client_cpu_s=... time_limited=0|1 ...
 * The exit status is 0 only if N messages went through with no error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define METADATA_TIMEOUT_S 20.0
#define FLUSH_TIMEOUT_S 60.0
#define CONSUME_BATCH 4096
#define MAX_PARTITIONS 1024
#define MAX_ERRORS_SHOWN 5
#define MB 1e6

struct opts {
    const char *mode;          /* "produce" / "consume" */
    const char *bootstrap;
    const char *topic;
    uint64_t count;
    size_t size;               /* 0 for consume: any size */
    const char *acks;          /* "1" / "all" / "0" */
    double seconds;
    bool mock;
    int mock_brokers;
    int partitions;            /* mock only: partitions of the topic */
    bool verbose;
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
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, val, err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_bench: %s=%s: %s\n", key, val, err);
        return -1;
    }
    return 0;
}

/* librdkafka's log lines go to stderr, prefixed, so a failing run says
 * why (connection refused, unsupported version...). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    (void)rk;
    fprintf(stderr, "kafka_bench: rdkafka %d %s: %s\n", level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    fprintf(stderr, "kafka_bench: rdkafka error %s: %s\n",
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static rd_kafka_conf_t *conf_common(const struct opts *o)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", o->bootstrap) ||
        conf_set(conf, "client.id", "kafka_bench") ||
        conf_set(conf, "log_level", o->verbose ? "7" : "4"))
        goto err;
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
err:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Asks for T's metadata until it exists and every partition has a
 * leader. Returns the partition count, or -1. */
static int wait_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    double t0 = mono_s();
    int n = -1;
    const char *why = "no answer";

    if (!rkt)
        return -1;
    while (mono_s() - t0 < METADATA_TIMEOUT_S) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
        if (err) {
            why = rd_kafka_err2str(err);
            continue;      /* rd_kafka_metadata waited up to 2 s */
        }
        if (md->topic_cnt == 1 && !md->topics[0].err &&
            md->topics[0].partition_cnt > 0) {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            bool leaders = true;
            for (int i = 0; i < t->partition_cnt; i++)
                if (t->partitions[i].leader < 0 || t->partitions[i].err)
                    leaders = false;
            if (leaders) {
                n = t->partition_cnt;
                rd_kafka_metadata_destroy(md);
                break;
            }
            why = "a partition without leader";
        } else if (md->topic_cnt == 1 && md->topics[0].err) {
            why = rd_kafka_err2str(md->topics[0].err);
        } else {
            why = "no partitions";
        }
        rd_kafka_metadata_destroy(md);
        /* A topic being created: ask again shortly (bounded by the loop). */
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    rd_kafka_topic_destroy(rkt);
    if (n < 0)
        fprintf(stderr, "kafka_bench: topic %s not ready after %.0f s: %s\n",
                topic, METADATA_TIMEOUT_S, why);
    return n;
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
    st->t_last = mono_s();
}

static int run_produce(const struct opts *o, struct result *res)
{
    struct dr_state st = { 0 };
    char errstr[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    uint8_t *payload = NULL;
    int rc = -1;

    rd_kafka_conf_t *conf = conf_common(o);
    if (!conf)
        return -1;
    if (conf_set(conf, "acks", o->acks) ||
        conf_set(conf, "linger.ms", "5") ||
        conf_set(conf, "batch.size", "1000000") ||
        conf_set(conf, "queue.buffering.max.messages", "1000000") ||
        conf_set(conf, "queue.buffering.max.kbytes", "2097151") ||
        conf_set(conf, "compression.type", "none") ||
        conf_set(conf, "message.timeout.ms", "120000")) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_bench: rd_kafka_new: %s\n", errstr);
        return -1;
    }
    res->partitions = wait_topic(rk, o->topic);
    if (res->partitions < 0)
        goto out;
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    payload = malloc(o->size ? o->size : 1);
    if (!rkt || !payload)
        goto out;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < o->size; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        payload[i] = (uint8_t)seed;
    }

    double t0 = mono_s(), deadline = t0 + o->seconds;
    uint64_t sent = 0;
    while (sent < o->count) {
        /* The payload is shared and outlives the producer: no copy, no
         * free (neither RD_KAFKA_MSG_F_COPY nor _F_FREE). */
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, payload, o->size,
                             NULL, 0, NULL) == 0) {
            sent++;
            if ((sent & 1023) == 0) {
                rd_kafka_poll(rk, 0);
                if (mono_s() >= deadline) {
                    res->time_limited = true;
                    break;
                }
            }
            continue;
        }
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "kafka_bench: produce: %s\n", rd_kafka_err2str(err));
            goto out;
        }
        rd_kafka_poll(rk, 1);
        if (mono_s() >= deadline) {
            res->time_limited = true;
            break;
        }
    }
    /* Delivery of everything queued, bounded. */
    double t_flush = mono_s();
    while (rd_kafka_outq_len(rk) > 0 && mono_s() - t_flush < FLUSH_TIMEOUT_S)
        rd_kafka_poll(rk, 100);
    if (rd_kafka_outq_len(rk) > 0) {
        fprintf(stderr, "kafka_bench: %d messages undelivered after %.0f s\n",
                rd_kafka_outq_len(rk), FLUSH_TIMEOUT_S);
        res->time_limited = true;
    }
    res->msgs = st.delivered;
    res->bytes = st.bytes;
    res->errors = st.errors + (sent - st.delivered - st.errors);
    res->secs = (st.t_last > t0 ? st.t_last : mono_s()) - t0;
    rc = 0;
out:
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    /* Nothing left to wait for when the run failed or timed out. */
    if (rc == 0 && rd_kafka_outq_len(rk) == 0)
        rd_kafka_flush(rk, 1000);
    rd_kafka_destroy(rk);
    free(payload);
    return rc;
}

/* ---- consume ----------------------------------------------------------- */

static int run_consume(const struct opts *o, struct result *res)
{
    static int64_t next_off[MAX_PARTITIONS];
    rd_kafka_message_t *msgs[CONSUME_BATCH];
    char errstr[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_topic_partition_list_t *tl = NULL;
    int rc = -1;

    rd_kafka_conf_t *conf = conf_common(o);
    if (!conf)
        return -1;
    /* fetch.max.bytes <= receive.message.max.bytes - 512, and the per
     * partition limit no larger than the whole. */
    if (conf_set(conf, "group.id", "kafka_bench-assign-no-membership") ||
        conf_set(conf, "enable.auto.commit", "false") ||
        conf_set(conf, "enable.auto.offset.store", "false") ||
        conf_set(conf, "enable.partition.eof", "false") ||
        conf_set(conf, "fetch.max.bytes", "52428800") ||
        conf_set(conf, "max.partition.fetch.bytes", "16777216") ||
        conf_set(conf, "receive.message.max.bytes", "104857600") ||
        conf_set(conf, "fetch.wait.max.ms", "100") ||
        conf_set(conf, "queued.min.messages", "1000000") ||
        conf_set(conf, "queued.max.messages.kbytes", "1048576") ||
        conf_set(conf, "check.crcs", "false")) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_bench: rd_kafka_new: %s\n", errstr);
        return -1;
    }
    rd_kafka_poll_set_consumer(rk);
    res->partitions = wait_topic(rk, o->topic);
    if (res->partitions < 0)
        goto out;
    if (res->partitions > MAX_PARTITIONS) {
        fprintf(stderr, "kafka_bench: %d partitions, at most %d\n",
                res->partitions, MAX_PARTITIONS);
        goto out;
    }
    tl = rd_kafka_topic_partition_list_new(res->partitions);
    for (int p = 0; p < res->partitions; p++) {
        rd_kafka_topic_partition_list_add(tl, o->topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        next_off[p] = 0;
    }
    q = rd_kafka_queue_get_consumer(rk);

    double t0 = mono_s(), deadline = t0 + o->seconds, t_end = t0;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, tl);
    if (err) {
        fprintf(stderr, "kafka_bench: assign: %s\n", rd_kafka_err2str(err));
        goto out;
    }
    while (res->msgs < o->count) {
        if (mono_s() >= deadline) {
            res->time_limited = true;
            break;
        }
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, CONSUME_BATCH);
        if (n < 0) {
            fprintf(stderr, "kafka_bench: consume: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            goto out;
        }
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                if (res->errors < MAX_ERRORS_SHOWN)
                    fprintf(stderr, "kafka_bench: consume error: %s\n",
                            rd_kafka_message_errstr(m));
                res->errors++;
            } else if (m->partition < 0 || m->partition >= res->partitions) {
                res->errors++;
            } else {
                int64_t *next = &next_off[m->partition];
                if (m->offset > *next)
                    res->gaps += (uint64_t)(m->offset - *next);
                if (m->offset < *next)
                    res->dups++;
                else
                    *next = m->offset + 1;
                if (o->size && m->len != o->size)
                    res->bad_size++;
                if (res->msgs < o->count) {
                    res->msgs++;
                    res->bytes += m->len;
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (n > 0)
            t_end = mono_s();
    }
    res->secs = t_end - t0;
    rc = 0;
out:
    if (tl)
        rd_kafka_topic_partition_list_destroy(tl);
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: kafka_bench produce|consume [options]\n"
        "  --bootstrap H:P  broker (default 127.0.0.1:9092)\n"
        "  --topic T        topic (default kafka-bench)\n"
        "  --count N        messages (default 1000000; K/M suffixes)\n"
        "  --size S         value bytes (produce, default 100; consume: check)\n"
        "  --acks A         1, all or 0 (produce, default 1)\n"
        "  --seconds S      time limit (default 120)\n"
        "  --mock           against librdkafka's in-process mock cluster\n"
        "  --mock-brokers N its brokers (default 1)\n"
        "  --partitions P   the mock topic's partitions (default 4)\n"
        "  --verbose        librdkafka debug logs\n");
}

static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 1)
        return -1;
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1e6, end++;
    if (*end || v > 1e12)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        { "bootstrap", required_argument, NULL, 'b' },
        { "topic", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'n' },
        { "size", required_argument, NULL, 's' },
        { "acks", required_argument, NULL, 'a' },
        { "seconds", required_argument, NULL, 'S' },
        { "mock", no_argument, NULL, 'm' },
        { "mock-brokers", required_argument, NULL, 'M' },
        { "partitions", required_argument, NULL, 'p' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    char *end;
    int c;

    *o = (struct opts){ .bootstrap = "127.0.0.1:9092", .topic = "kafka-bench",
                        .count = 1000000, .size = 100, .acks = "1",
                        .seconds = 120.0, .mock_brokers = 1,
                        .partitions = 4 };
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && !strcmp(argv[1], "--help")) {
            usage(stdout);
            exit(0);
        }
        goto bad;
    }
    o->mode = argv[1];
    if (strcmp(o->mode, "produce") && strcmp(o->mode, "consume"))
        goto bad;
    bool size_set = false;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': o->bootstrap = optarg; break;
        case 't': o->topic = optarg; break;
        case 'n':
            if (parse_count(optarg, &o->count))
                goto bad;
            break;
        case 's':
            if (parse_count(optarg, &v) || v > 100000000)
                goto bad;
            o->size = (size_t)v;
            size_set = true;
            break;
        case 'a':
            if (strcmp(optarg, "1") && strcmp(optarg, "all") &&
                strcmp(optarg, "-1") && strcmp(optarg, "0"))
                goto bad;
            o->acks = optarg;
            break;
        case 'S':
            o->seconds = strtod(optarg, &end);
            if (*end || !(o->seconds > 0))
                goto bad;
            break;
        case 'm': o->mock = true; break;
        case 'M':
            o->mock_brokers = (int)strtol(optarg, &end, 10);
            if (*end || o->mock_brokers < 1 || o->mock_brokers > 16)
                goto bad;
            break;
        case 'p':
            o->partitions = (int)strtol(optarg, &end, 10);
            if (*end || o->partitions < 1 || o->partitions > MAX_PARTITIONS)
                goto bad;
            break;
        case 'v': o->verbose = true; break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    if (!strcmp(o->mode, "consume") && !size_set)
        o->size = 0;
    return 0;
bad:
    usage(stderr);
    return -1;
}

/* The mock cluster lives in a producer handle of its own (librdkafka's
 * way: rd_kafka_mock_cluster_new wants an instance to run in). */
static rd_kafka_t *mock_start(struct opts *o, rd_kafka_mock_cluster_t **mc)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (conf_set(conf, "log_level", "4")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                  sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_bench: rd_kafka_new (mock): %s\n", errstr);
        return NULL;
    }
    *mc = rd_kafka_mock_cluster_new(rk, o->mock_brokers);
    if (!*mc) {
        fprintf(stderr, "kafka_bench: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(*mc, o->topic,
                                                         o->partitions, 1);
    if (err) {
        fprintf(stderr, "kafka_bench: mock topic: %s\n", rd_kafka_err2str(err));
        rd_kafka_mock_cluster_destroy(*mc);
        rd_kafka_destroy(rk);
        return NULL;
    }
    o->bootstrap = rd_kafka_mock_cluster_bootstraps(*mc);
    return rk;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct result res = { 0 };
    rd_kafka_t *mock_rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;

    if (parse_opts(argc, argv, &o))
        return 2;
    if (o.mock && !(mock_rk = mock_start(&o, &mc)))
        return 1;
    bool produce = !strcmp(o.mode, "produce");
    printf("kafka_bench: %s %" PRIu64 " x %zu B, topic %s, %s%s%s, "
           "librdkafka %s\n", o.mode, o.count, o.size, o.topic,
           o.mock ? "mock cluster " : "", o.bootstrap,
           produce ? (!strcmp(o.acks, "1") ? ", acks=1" : !strcmp(o.acks, "0")
                      ? ", acks=0" : ", acks=all") : "",
           rd_kafka_version_str());
    fflush(stdout);

    int rc = 0;
    if (o.mock && !produce) {
        /* An empty mock has nothing to consume: fill it first (untimed). */
        struct opts fill = o;
        struct result fr = { 0 };
        if (!fill.size)
            fill.size = 100;
        rc = run_produce(&fill, &fr);
        if (rc == 0 && (fr.msgs != o.count || fr.errors))
            rc = -1;
        printf("  mock filled with %" PRIu64 " x %zu B\n", fr.msgs, fill.size);
    }
    double cpu0 = cpu_s();
    if (rc == 0)
        rc = produce ? run_produce(&o, &res) : run_consume(&o, &res);
    double cpu = cpu_s() - cpu0;
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (mock_rk)
        rd_kafka_destroy(mock_rk);
    if (rc)
        return 1;

    double msgs_s = res.secs > 0 ? (double)res.msgs / res.secs : 0;
    double mb_s = res.secs > 0 ? (double)res.bytes / res.secs / MB : 0;
    printf("  %" PRIu64 " msgs, %.1f MB in %.3f s over %d partitions: "
           "%.0f msgs/s, %.1f MB/s; %" PRIu64 " errors%s; client CPU %.2f s\n",
           res.msgs, (double)res.bytes / MB, res.secs, res.partitions, msgs_s,
           mb_s, res.errors, res.time_limited ? " [time limit]" : "", cpu);
    if (!produce)
        printf("  offsets: %" PRIu64 " gaps, %" PRIu64 " duplicates; %" PRIu64
               " values of another size\n", res.gaps, res.dups, res.bad_size);
    printf("RESULT mode=%s%s msgs=%" PRIu64 " bytes=%" PRIu64 " secs=%.3f "
           "msgs_s=%.0f mb_s=%.1f errors=%" PRIu64 " gaps=%" PRIu64
           " dups=%" PRIu64 " bad_size=%" PRIu64 " partitions=%d "
           "client_cpu_s=%.2f time_limited=%d\n", o.mode, o.mock ? "_mock" : "",
           res.msgs, res.bytes, res.secs, msgs_s, mb_s, res.errors, res.gaps,
           res.dups, res.bad_size, res.partitions, cpu, res.time_limited);
    bool ok = res.msgs == o.count && res.errors == 0 && res.gaps == 0 &&
              res.dups == 0 && res.bad_size == 0 && !res.time_limited;
    return ok ? 0 : 1;
}
