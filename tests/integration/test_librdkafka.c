/* librdkafka against sluiced: an acks=all, non-idempotent producer whose every
 * delivery report must succeed with strictly increasing (and contiguous)
 * offsets per partition; a consumer using assign() without a group that reads
 * everything back checking key, value, header, timestamp and order; watermarks;
 * offsets_for_times.
 *
 * Usage: test_librdkafka [--bootstrap HOST:PORT | --mock]
 *   bootstrap defaults to $SLUICE_BOOTSTRAP (set by run_client.py);
 *   --mock runs against librdkafka's own mock cluster (to check the test itself).
 *   $SLUICE_IT_RDK_N sets the message count (default 200000).
 * Prints cmocka-style [ RUN ] / [ OK ] / [ FAILED ] lines; exits 1 on failure. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC "rdk-roundtrip"
#define MAX_VALUE 1200
#define MAX_PARTS 256

static const char *bootstrap;
static int N = 200000;
static int64_t ts_base;

/* What the producer learned, per message index. */
static int32_t *part_of;
static int64_t *off_of;
static int *dr_err;
static int dr_count, dr_failed;
static int nparts;
static int *idx_at[MAX_PARTS]; /* idx_at[p][offset] = message index */
static int64_t cnt_of[MAX_PARTS];
static int64_t last_dr_off[MAX_PARTS];
static int dr_order_errors;
static int produced_ok;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            printf("    %s:%d: check failed: %s\n    ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
            fflush(stdout);                                                     \
            return -1;                                                          \
        }                                                                       \
    } while (0)

static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("    ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t make_key(int i, char *buf) { return (size_t)sprintf(buf, "key-%d", i); }

/* Deterministic value of message i: a text prefix then bytes of every value. */
static size_t make_value(int i, unsigned char *buf) {
    size_t len = (size_t)sprintf((char *)buf, "value-%d:", i);
    size_t extra = (size_t)(((uint32_t)i * 2654435761u) % 1000u);
    if (i % 5 == 0) extra = 0;
    for (size_t j = 0; j < extra; j++) buf[len + j] = (unsigned char)((uint32_t)i * 31u + j * 17u);
    return len + extra;
}

static int64_t ts_of(int i) { return ts_base + i; }

static rd_kafka_conf_t *base_conf(void) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK) {
        note("conf: %s", err);
        exit(2);
    }
    return c;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        note("conf %s=%s: %s", k, v, err);
        exit(2);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    int i = (int)(intptr_t)m->_private;
    dr_count++;
    if (i < 0 || i >= N) return;
    dr_err[i] = m->err;
    if (m->err) {
        if (dr_failed++ < 10) note("delivery of message %d failed: %s", i, rd_kafka_err2str(m->err));
        return;
    }
    part_of[i] = m->partition;
    off_of[i] = m->offset;
    if (m->partition >= 0 && m->partition < MAX_PARTS) {
        if (m->offset <= last_dr_off[m->partition]) {
            if (dr_order_errors++ < 10)
                note("partition %d: delivery report offset %" PRId64 " after %" PRId64,
                     (int)m->partition, m->offset, last_dr_off[m->partition]);
        }
        last_dr_off[m->partition] = m->offset;
    }
}

static int topic_partitions(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else if (e)
        note("metadata: %s", rd_kafka_err2str(e));
    else if (md->topic_cnt == 1)
        note("metadata for %s: %s", topic, rd_kafka_err2str(md->topics[0].err));
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static int test_produce_acks_all(void) {
    char err[512];
    rd_kafka_conf_t *c = base_conf();
    set(c, "acks", "all");
    set(c, "enable.idempotence", "false");
    set(c, "linger.ms", "5");
    set(c, "message.timeout.ms", "120000");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    CHECK(rk, "rd_kafka_new: %s", err);

    part_of = calloc((size_t)N, sizeof *part_of);
    off_of = calloc((size_t)N, sizeof *off_of);
    dr_err = calloc((size_t)N, sizeof *dr_err);
    CHECK(part_of && off_of && dr_err, "out of memory");
    for (int p = 0; p < MAX_PARTS; p++) last_dr_off[p] = -1;
    for (int i = 0; i < N; i++) dr_err[i] = -1;

    char key[32];
    static unsigned char val[MAX_VALUE];
    char hdr[16];
    int64_t t0 = mono_ms(), deadline = t0 + 240000;
    for (int i = 0; i < N; i++) {
        size_t kl = make_key(i, key), vl = make_value(i, val);
        int hl = sprintf(hdr, "%d", i);
        for (int attempt = 0;; attempt++) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(key, kl), RD_KAFKA_V_VALUE(val, vl),
                RD_KAFKA_V_HEADER("idx", hdr, hl), RD_KAFKA_V_TIMESTAMP(ts_of(i)),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (!e) break;
            CHECK(e == RD_KAFKA_RESP_ERR__QUEUE_FULL, "producev(%d): %s", i, rd_kafka_err2str(e));
            CHECK(mono_ms() < deadline, "producer queue still full after 240 s at message %d", i);
            rd_kafka_poll(rk, 100);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 120000);
    int64_t dt = mono_ms() - t0;
    nparts = topic_partitions(rk, TOPIC);
    int outq = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    note("produced %d messages in %" PRId64 " ms, %d delivery reports, %d partitions", N, dt,
         dr_count, nparts);
    CHECK(fe == RD_KAFKA_RESP_ERR_NO_ERROR, "flush: %s (outq %d)", rd_kafka_err2str(fe), outq);
    CHECK(dr_count == N, "expected %d delivery reports, got %d", N, dr_count);
    CHECK(dr_failed == 0, "%d deliveries failed", dr_failed);
    CHECK(dr_order_errors == 0, "%d delivery reports went back in offset", dr_order_errors);
    CHECK(nparts >= 1 && nparts <= MAX_PARTS, "bad partition count %d", nparts);

    /* Per partition, produce order == offset order and offsets are 0,1,2,... */
    for (int p = 0; p < nparts; p++) cnt_of[p] = 0;
    for (int i = 0; i < N; i++) {
        CHECK(dr_err[i] == 0, "message %d has no successful delivery report", i);
        CHECK(part_of[i] >= 0 && part_of[i] < nparts, "message %d in partition %d of %d", i,
              (int)part_of[i], nparts);
        CHECK(off_of[i] == cnt_of[part_of[i]],
              "message %d (partition %d): offset %" PRId64 ", expected %" PRId64
              " (strictly increasing from 0 in produce order)",
              i, (int)part_of[i], off_of[i], cnt_of[part_of[i]]);
        cnt_of[part_of[i]]++;
    }
    int used = 0;
    for (int p = 0; p < nparts; p++) {
        idx_at[p] = malloc(sizeof(int) * (size_t)(cnt_of[p] + 1));
        CHECK(idx_at[p], "out of memory");
        used += cnt_of[p] > 0;
    }
    for (int i = 0; i < N; i++) idx_at[part_of[i]][off_of[i]] = i;
    CHECK(nparts == 1 || used > 1, "all messages went to one of %d partitions", nparts);
    produced_ok = 1;
    return 0;
}

static int test_watermarks(void) {
    CHECK(produced_ok, "needs test_produce_acks_all");
    char err[512];
    rd_kafka_conf_t *c = base_conf();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    CHECK(rk, "rd_kafka_new: %s", err);
    int rc = 0;
    for (int p = 0; p < nparts && rc == 0; p++) {
        int64_t lo = -2, hi = -2;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, TOPIC, p, &lo, &hi, 10000);
        if (e || lo != 0 || hi != cnt_of[p]) {
            note("partition %d: watermarks %s low %" PRId64 " high %" PRId64
                 ", expected low 0 high %" PRId64,
                 p, rd_kafka_err2str(e), lo, hi, cnt_of[p]);
            rc = -1;
        }
    }
    rd_kafka_destroy(rk);
    return rc;
}

static int check_message(const rd_kafka_message_t *m, int64_t *next) {
    int p = m->partition;
    CHECK(p >= 0 && p < nparts, "message from partition %d", p);
    CHECK(m->offset == next[p], "partition %d: got offset %" PRId64 ", expected %" PRId64
          " (in order, no gaps, no duplicates)", p, m->offset, next[p]);
    CHECK(m->offset < cnt_of[p], "partition %d: offset %" PRId64 " beyond the %" PRId64
          " produced", p, m->offset, cnt_of[p]);
    int i = idx_at[p][m->offset];
    char key[32];
    static unsigned char val[MAX_VALUE];
    size_t kl = make_key(i, key), vl = make_value(i, val);
    CHECK(m->key_len == kl && memcmp(m->key, key, kl) == 0,
          "partition %d offset %" PRId64 ": key %.*s, expected %s", p, m->offset,
          (int)m->key_len, (const char *)m->key, key);
    CHECK(m->len == vl && memcmp(m->payload, val, vl) == 0,
          "partition %d offset %" PRId64 ": value of %zu bytes differs from message %d's (%zu bytes)",
          p, m->offset, m->len, i, vl);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    CHECK(tt == RD_KAFKA_TIMESTAMP_CREATE_TIME && ts == ts_of(i),
          "partition %d offset %" PRId64 ": timestamp %" PRId64 " type %d, expected CreateTime %" PRId64,
          p, m->offset, ts, (int)tt, ts_of(i));
    rd_kafka_headers_t *hdrs = NULL;
    const void *hv = NULL;
    size_t hs = 0;
    char want[16];
    int wl = sprintf(want, "%d", i);
    CHECK(rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
              rd_kafka_header_get_last(hdrs, "idx", &hv, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
              hs == (size_t)wl && memcmp(hv, want, hs) == 0,
          "partition %d offset %" PRId64 ": header idx missing or not %s", p, m->offset, want);
    CHECK(rd_kafka_header_cnt(hdrs) == 1, "partition %d offset %" PRId64 ": %zu headers, expected 1",
          p, m->offset, rd_kafka_header_cnt(hdrs));
    next[p]++;
    return 0;
}

/* Reads until every partition is at its produced count (and has reported EOF),
 * checking each message; poll() is rd_kafka_consumer_poll or the legacy queue. */
static int read_all(rd_kafka_t *rk, rd_kafka_queue_t *q) {
    int64_t next[MAX_PARTS] = {0};
    int eof[MAX_PARTS] = {0};
    int got = 0, rc = 0, errors = 0;
    int64_t t0 = mono_ms(), deadline = t0 + 180000;
    for (int rounds = 0; rounds < 10000000 && mono_ms() < deadline; rounds++) {
        int all = got == N;
        for (int p = 0; p < nparts && all; p++) all = eof[p] && next[p] == cnt_of[p];
        if (all) break;
        rd_kafka_message_t *m = q ? rd_kafka_consume_queue(q, 1000) : rd_kafka_consumer_poll(rk, 1000);
        if (!m) continue;
        int p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < nparts) eof[p] = next[p] == cnt_of[p];
        } else if (m->err) {
            if (errors++ < 10) note("consumer error: %s", rd_kafka_message_errstr(m));
        } else {
            if (p >= 0 && p < nparts) eof[p] = 0;
            if (check_message(m, next) != 0) rc = -1;
            got++;
        }
        rd_kafka_message_destroy(m);
        if (rc) break;
    }
    note("consumed %d of %d messages in %" PRId64 " ms", got, N, mono_ms() - t0);
    if (rc) return rc;
    for (int p = 0; p < nparts; p++)
        CHECK(next[p] == cnt_of[p], "partition %d: read %" PRId64 " of %" PRId64
              " messages before the 180 s deadline", p, next[p], cnt_of[p]);
    CHECK(got == N, "read %d messages, expected %d", got, N);
    return 0;
}

/* The KafkaConsumer with assign(): librdkafka insists on a group.id for
 * assign(), but nothing here joins the group or commits (no subscribe, no
 * auto commit), so the broker's group support is not needed. */
static int test_consume_assign(void) {
    CHECK(produced_ok, "needs test_produce_acks_all");
    char err[512];
    rd_kafka_conf_t *c = base_conf();
    set(c, "group.id", "rdk-assign-no-membership");
    set(c, "enable.auto.commit", "false");
    set(c, "enable.auto.offset.store", "false");
    set(c, "enable.partition.eof", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    CHECK(rk, "rd_kafka_new(consumer): %s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(tl, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    int rc = e ? -1 : read_all(rk, NULL);
    if (e) note("rd_kafka_assign: %s", rd_kafka_err2str(e));
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return rc;
}

/* The legacy (simple) consumer: no group.id at all. */
static int test_consume_legacy(void) {
    CHECK(produced_ok, "needs test_produce_acks_all");
    char err[512];
    rd_kafka_conf_t *c = base_conf();
    set(c, "enable.partition.eof", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    CHECK(rk, "rd_kafka_new(consumer): %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int rc = 0;
    for (int p = 0; p < nparts && !rc; p++)
        if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) == -1) {
            note("consume_start(%d): %s", p, rd_kafka_err2str(rd_kafka_last_error()));
            rc = -1;
        }
    if (!rc) rc = read_all(rk, q);
    for (int p = 0; p < nparts; p++) rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

/* One offsets_for_times round: for each partition query ts[p], expect want[p]. */
static int lookup_round(rd_kafka_t *rk, const char *what, const int64_t *ts, const int64_t *want) {
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++) rd_kafka_topic_partition_list_add(tl, TOPIC, p)->offset = ts[p];
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, tl, 15000);
    int rc = 0;
    if (e) {
        note("offsets_for_times (%s): %s", what, rd_kafka_err2str(e));
        rc = -1;
    }
    for (int p = 0; p < nparts && !rc; p++) {
        const rd_kafka_topic_partition_t *r = rd_kafka_topic_partition_list_find(tl, TOPIC, p);
        if (!r || r->err || r->offset != want[p]) {
            note("offsets_for_times (%s), partition %d, timestamp %" PRId64 ": got offset %" PRId64
                 " (%s), expected %" PRId64,
                 what, p, ts[p], r ? r->offset : -999, r ? rd_kafka_err2str(r->err) : "missing",
                 want[p]);
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(tl);
    return rc;
}

static int test_offsets_for_times(void) {
    CHECK(produced_ok, "needs test_produce_acks_all");
    char err[512];
    rd_kafka_conf_t *c = base_conf();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    CHECK(rk, "rd_kafka_new(consumer): %s", err);
    int64_t ts[MAX_PARTS], want[MAX_PARTS];
    int rc = 0;
    /* Before everything: offset 0. */
    for (int p = 0; p < nparts; p++) ts[p] = ts_base - 60000, want[p] = cnt_of[p] ? 0 : -1;
    rc |= lookup_round(rk, "before the first", ts, want);
    /* Exactly at a message's timestamp, and just after its predecessor's, at
     * several positions: the offset of that message. */
    static const int fractions[] = {0, 1, 7, 50, 93, 99, 100};
    for (size_t f = 0; f < sizeof fractions / sizeof *fractions && !rc; f++) {
        int skip = 1;
        for (int p = 0; p < nparts; p++) {
            int64_t k = cnt_of[p] * fractions[f] / 100;
            if (k >= cnt_of[p]) k = cnt_of[p] - 1;
            if (k < 0) { ts[p] = ts_base; want[p] = -1; continue; }
            skip = 0;
            ts[p] = ts_of(idx_at[p][k]);
            want[p] = k;
        }
        if (skip) continue;
        char what[64];
        snprintf(what, sizeof what, "exact timestamp at %d%%", fractions[f]);
        rc |= lookup_round(rk, what, ts, want);
        for (int p = 0; p < nparts; p++) {
            int64_t k = want[p];
            if (k > 0) ts[p] = ts_of(idx_at[p][k - 1]) + 1;
        }
        snprintf(what, sizeof what, "between timestamps at %d%%", fractions[f]);
        if (!rc) rc |= lookup_round(rk, what, ts, want);
    }
    /* After the last message: Kafka answers offset -1 (no such message). */
    for (int p = 0; p < nparts; p++) ts[p] = ts_of(N - 1) + 60000, want[p] = -1;
    if (!rc) rc |= lookup_round(rk, "after the last", ts, want);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv) {
    bootstrap = getenv("SLUICE_BOOTSTRAP");
    int mock = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bootstrap") && i + 1 < argc) bootstrap = argv[++i];
        else if (!strcmp(argv[i], "--mock")) mock = 1;
        else {
            fprintf(stderr, "usage: %s [--bootstrap HOST:PORT | --mock]\n", argv[0]);
            return 2;
        }
    }
    if (getenv("SLUICE_IT_RDK_N")) N = atoi(getenv("SLUICE_IT_RDK_N"));
    if (N < 1) N = 1;
    rd_kafka_t *mock_rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    if (mock) {
        char err[256];
        mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
        mc = mock_rk ? rd_kafka_mock_cluster_new(mock_rk, 2) : NULL;
        if (!mc) {
            fprintf(stderr, "cannot create a mock cluster: %s\n", err);
            return 2;
        }
        bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    }
    if (!bootstrap) {
        fprintf(stderr, "no bootstrap: set SLUICE_BOOTSTRAP or pass --bootstrap\n");
        return 2;
    }
    ts_base = (now_ms() / 1000) * 1000 - 3600 * 1000;
    note("librdkafka %s, bootstrap %s, %d messages", rd_kafka_version_str(), bootstrap, N);

    static const struct { const char *name; int (*fn)(void); } tests[] = {
        {"rdk_produce_acks_all", test_produce_acks_all},
        {"rdk_watermarks", test_watermarks},
        {"rdk_consume_assign", test_consume_assign},
        {"rdk_consume_legacy_no_group", test_consume_legacy},
        {"rdk_offsets_for_times", test_offsets_for_times},
    };
    int n = (int)(sizeof tests / sizeof *tests), failed = 0;
    const char *failed_names[8];
    printf("[==========] Running %d test(s).\n", n);
    for (int t = 0; t < n; t++) {
        printf("[ RUN      ] %s\n", tests[t].name);
        fflush(stdout);
        if (tests[t].fn() == 0) {
            printf("[       OK ] %s\n", tests[t].name);
        } else {
            printf("[  FAILED  ] %s\n", tests[t].name);
            failed_names[failed++] = tests[t].name;
        }
        fflush(stdout);
    }
    printf("[==========] %d test(s) run.\n[  PASSED  ] %d test(s).\n", n, n - failed);
    if (failed) {
        printf("[  FAILED  ] %d test(s), listed below:\n", failed);
        for (int i = 0; i < failed; i++) printf("[  FAILED  ] %s\n", failed_names[i]);
    }
    fflush(stdout);
    for (int p = 0; p < MAX_PARTS; p++) free(idx_at[p]);
    free(part_of);
    free(off_of);
    free(dr_err);
    if (mc) rd_kafka_mock_cluster_destroy(mc);
    if (mock_rk) rd_kafka_destroy(mock_rk);
    return failed ? 1 : 0;
}
