/* native_wire.c - topic creation, leader discovery, loopback connections
 * and wire types for the native load generators. See native_wire.h. */
#include "native_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

double nw_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int nw_parse_acks(const char *arg, int16_t *acks)
{
    if (!strcmp(arg, "1"))
        *acks = 1;
    else if (!strcmp(arg, "all") || !strcmp(arg, "-1"))
        *acks = -1;
    else
        return -1;
    return 0;
}

const char *nw_err_name(int code)
{
    return rd_kafka_err2name((rd_kafka_resp_err_t)code);
}

void nw_put_str(struct nw_wr *w, const char *s)
{
    if (!s) {
        nw_put_i16(w, -1);
        return;
    }
    size_t n = strlen(s);
    if (n > INT16_MAX) {
        w->overflow = true;
        return;
    }
    nw_put_i16(w, (int16_t)n);
    nw_put_raw(w, s, n);
}

void nw_put_raw(struct nw_wr *w, const void *p, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->p, p, n);
    w->p += n;
}

void nw_get_str(struct nw_rd *r, const char **s, int *len)
{
    int16_t n = nw_get_i16(r);
    *s = NULL;
    *len = -1;
    if (r->err || n < 0)
        return;
    if (r->end - r->p < n) {
        r->err = true;
        return;
    }
    *s = (const char *)r->p;
    *len = n;
    r->p += n;
}

void nw_skip(struct nw_rd *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = true;
        return;
    }
    r->p += n;
}

/* ---- librdkafka plumbing ---------------------------------------------- */

static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    (void)rk;
    fprintf(stderr, "native: rdkafka %d %s: %s\n", level, fac, buf);
}

/* ---- creation ---------------------------------------------------------- */

#define CREATE_RESULT_MARGIN_MS 5000   /* the request's own timeout ends it first */

/* A producer handle only for the Admin API (librdkafka wants an instance
 * to send from). Returns it or NULL (after saying why). */
static rd_kafka_t *admin_client_new(const char *bootstrap)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    rd_kafka_conf_set_log_cb(conf, on_log);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "bench-create-topic", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "native: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                  sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "native: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Sends CreateTopics for nt and waits for its result event, bounded.
 * Returns the event or NULL. */
static rd_kafka_event_t *create_request(rd_kafka_t *rk, rd_kafka_NewTopic_t *nt,
                                        rd_kafka_queue_t *q, int timeout_ms)
{
    char errstr[512];
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;

    if (!ao)
        return NULL;
    if (rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, errstr,
                                                  sizeof(errstr)) ||
        rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, errstr,
                                                    sizeof(errstr))) {
        fprintf(stderr, "native: admin options: %s\n", errstr);
    } else {
        rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
        ev = rd_kafka_queue_poll(q, timeout_ms + CREATE_RESULT_MARGIN_MS);
        if (!ev)
            fprintf(stderr, "native: no CreateTopics result\n");
    }
    rd_kafka_AdminOptions_destroy(ao);
    return ev;
}

/* The error of a CreateTopics result event for its one topic, and the
 * broker's message (*msg, may be NULL). */
static rd_kafka_resp_err_t create_result(rd_kafka_event_t *ev, const char **msg)
{
    const rd_kafka_CreateTopics_result_t *res;
    const rd_kafka_topic_result_t **topics;
    size_t n = 0;

    *msg = rd_kafka_event_error_string(ev);
    if (rd_kafka_event_error(ev))
        return rd_kafka_event_error(ev);
    res = rd_kafka_event_CreateTopics_result(ev);
    topics = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
    if (n != 1)
        return RD_KAFKA_RESP_ERR__BAD_MSG;
    *msg = rd_kafka_topic_result_error_string(topics[0]);
    return rd_kafka_topic_result_error(topics[0]);
}

/* Creates the topic through rk. Returns 0 (created or already there) or -1. */
static int create_on(rd_kafka_t *rk, const char *topic, int partitions,
                     int timeout_ms)
{
    char errstr[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof(errstr));
    if (!nt) {
        fprintf(stderr, "native: topic %s: %s\n", topic, errstr);
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = create_request(rk, nt, q, timeout_ms);
    int rc = -1;

    if (ev) {
        const char *msg;
        rd_kafka_resp_err_t err = create_result(ev, &msg);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            printf("  created topic %s with %d partitions\n", topic, partitions);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR ||
            err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = 0;
        else
            fprintf(stderr, "native: CreateTopics %s: %s%s%s\n", topic,
                    rd_kafka_err2name(err), msg ? ": " : "", msg ? msg : "");
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Creates `prefix` itself (ntopics 0) or prefix-0..prefix-(ntopics-1), one
 * CreateTopics each on one admin connection. */
static int create_topics(const char *bootstrap, const char *prefix, int ntopics,
                         int partitions, double timeout_s)
{
    if (timeout_s <= 0 || timeout_s > 3600) {
        fprintf(stderr, "native: CreateTopics timeout out of range\n");
        return -1;
    }
    rd_kafka_t *rk = admin_client_new(bootstrap);
    if (!rk)
        return -1;
    int rc = 0;
    for (int k = 0; k < (ntopics > 0 ? ntopics : 1) && rc == 0; k++) {
        char name[NW_NAME_MAX];
        if (ntopics > 0)
            snprintf(name, sizeof(name), "%s-%d", prefix, k);
        rc = create_on(rk, ntopics > 0 ? name : prefix, partitions, (int)(timeout_s * 1000));
    }
    rd_kafka_destroy(rk);
    return rc;
}

int nw_create_topic(const char *bootstrap, const char *topic, int partitions,
                    double timeout_s)
{
    return create_topics(bootstrap, topic, 0, partitions, timeout_s);
}

int nw_create_topics(const char *bootstrap, const char *prefix, int ntopics,
                     int partitions, double timeout_s)
{
    return create_topics(bootstrap, prefix, ntopics > 0 ? ntopics : 1, partitions, timeout_s);
}

/* ---- discovery --------------------------------------------------------- */

/* Copies the answer if it is complete: every partition led by a broker
 * the answer lists. Returns 0 or -1 with *why set. */
static int take_metadata(const struct rd_kafka_metadata *md, const char *topic,
                         struct nw_topic *t, const char **why)
{
    if (md->topic_cnt != 1 || strcmp(md->topics[0].topic, topic)) {
        *why = "topic missing from the answer";
        return -1;
    }
    const struct rd_kafka_metadata_topic *mt = &md->topics[0];
    if (mt->err) {
        *why = rd_kafka_err2str(mt->err);
        return -1;
    }
    if (mt->partition_cnt <= 0) {
        *why = "no partitions";
        return -1;
    }
    struct nw_partition *parts = calloc((size_t)mt->partition_cnt,
                                        sizeof(*parts));
    if (!parts) {
        *why = "out of memory";
        return -1;
    }
    for (int i = 0; i < mt->partition_cnt; i++) {
        const struct rd_kafka_metadata_partition *mp = &mt->partitions[i];
        const struct rd_kafka_metadata_broker *b = NULL;
        if (mp->id < 0 || mp->id >= mt->partition_cnt || mp->err ||
            mp->leader < 0) {
            *why = "a partition without leader";
            goto err;
        }
        for (int j = 0; j < md->broker_cnt; j++)
            if (md->brokers[j].id == mp->leader)
                b = &md->brokers[j];
        if (!b || !b->host || strlen(b->host) >= NW_HOST_MAX) {
            *why = "a leader not among the brokers";
            goto err;
        }
        struct nw_partition *p = &parts[mp->id];
        p->id = mp->id;
        p->leader = mp->leader;
        snprintf(p->host, sizeof(p->host), "%s", b->host);
        p->port = b->port;
    }
    t->parts = parts;
    t->n = mt->partition_cnt;
    t->brokers = 0;
    for (int i = 0; i < t->n; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen |= parts[j].leader == parts[i].leader;
        t->brokers += !seen;
    }
    snprintf(t->name, sizeof(t->name), "%s", topic);
    return 0;
err:
    free(parts);
    return -1;
}

int nw_discover(const char *bootstrap, const char *topic, double timeout_s,
                struct nw_topic *t)
{
    char errstr[512];
    const char *why = "no answer";
    int rc = -1;

    memset(t, 0, sizeof(*t));
    if (strlen(topic) >= NW_NAME_MAX) {
        fprintf(stderr, "native: topic name too long\n");
        return -1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    /* A producer handle: librdkafka lets producers auto-create topics. */
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "native-discovery", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "native: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                  sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "native: rd_kafka_new: %s\n", errstr);
        return -1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    double t0 = nw_mono_s();
    while (rkt && nw_mono_s() - t0 < timeout_s) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
        if (err) {
            why = rd_kafka_err2str(err);
            continue;      /* it waited up to 2 s */
        }
        rc = take_metadata(md, topic, t, &why);
        rd_kafka_metadata_destroy(md);
        if (rc == 0)
            break;
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (rc)
        fprintf(stderr, "native: topic %s not ready after %.0f s: %s\n",
                topic, timeout_s, why);
    return rc;
}

void nw_topic_free(struct nw_topic *t)
{
    free(t->parts);
    memset(t, 0, sizeof(*t));
}

struct nw_mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
};

void *nw_mock_start(const char *topic, int partitions, const char **bootstrap)
{
    char errstr[512];
    struct nw_mock *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!m->rk) {
        fprintf(stderr, "native: rd_kafka_new (mock): %s\n", errstr);
        goto err;
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    if (!m->mc ||
        rd_kafka_mock_topic_create(m->mc, topic, partitions, 1) != 0) {
        fprintf(stderr, "native: cannot start the mock cluster\n");
        goto err;
    }
    *bootstrap = rd_kafka_mock_cluster_bootstraps(m->mc);
    return m;
err:
    nw_mock_stop(m);
    return NULL;
}

void nw_mock_stop(void *mock)
{
    struct nw_mock *m = mock;
    if (!m)
        return;
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    free(m);
}

/* ---- connections ------------------------------------------------------- */

int nw_connect(const char *host, int port, bool nonblock)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
    if (port <= 0 || port > 65535)
        return -EINVAL;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        (ntohl(a.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "native: %s is not a loopback address: refused\n",
                host);
        return -EPERM;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (nonblock) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    return fd;
}
