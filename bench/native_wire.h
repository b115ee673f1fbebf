/* native_wire.h - what the native load generators (native_produce.c,
 * native_fetch.c, native_latency.c) share: creating the topic, finding
 * each partition's leader, connecting to it over loopback, and reading and
 * writing Kafka's big-endian wire types. kafka_bench creates its topics
 * here too.
 *
 * Creation and discovery go through librdkafka's Admin and metadata APIs
 * (a real client's view of the cluster); the load itself is raw
 * sockets. Connections are refused to anything but 127.0.0.0/8: these
 * benchmarks send traffic to the local host only. */
#ifndef SLUICE_BENCH_NATIVE_WIRE_H
#define SLUICE_BENCH_NATIVE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NW_HOST_MAX 256
#define NW_NAME_MAX 250

struct nw_partition {
    int32_t id;
    int32_t leader;                /* broker (= shard) node id */
    char host[NW_HOST_MAX];
    int port;
};

struct nw_topic {
    char name[NW_NAME_MAX];
    int n;
    struct nw_partition *parts;    /* by partition id */
    int brokers;                   /* distinct leaders */
};

/* Creates topic with `partitions` partitions, replication 1, through
 * librdkafka's Admin API (CreateTopics), so that a run gets the partitions
 * it asks for rather than the broker's num.partitions. A topic that
 * exists already is fine (it keeps its partition count: nw_discover says
 * which). The request and the broker's operation are bounded by
 * timeout_s, the wait for the result by a few seconds more. Prints
 * "  created topic T with N partitions" on stdout when it did. Returns 0
 * or -1 (after saying why on stderr). */
int nw_create_topic(const char *bootstrap, const char *topic, int partitions,
                    double timeout_s);

/* nw_create_topic for PREFIX-0..PREFIX-(ntopics-1), one CreateTopics each
 * on one admin connection (each bounded by timeout_s). Returns 0 or -1. */
int nw_create_topics(const char *bootstrap, const char *prefix, int ntopics,
                     int partitions, double timeout_s);

/* Asks bootstrap for topic's metadata (through librdkafka, which
 * auto-creates it) until every partition has a leader with an address, at
 * most timeout_s. Returns 0 or -1 (after saying why on stderr). */
int nw_discover(const char *bootstrap, const char *topic, double timeout_s,
                struct nw_topic *t);
void nw_topic_free(struct nw_topic *t);

/* Starts librdkafka's in-process mock cluster with one topic; *bootstrap
 * points into it. Returns an opaque handle or NULL. */
void *nw_mock_start(const char *topic, int partitions, const char **bootstrap);
void nw_mock_stop(void *mock);

/* A blocking TCP connection to host:port, which must be a loopback
 * address (or "localhost"), with TCP_NODELAY; then made non-blocking when
 * nonblock. Returns the fd or a negative errno (-EPERM: not loopback). */
int nw_connect(const char *host, int port, bool nonblock);

/* Parses --acks: "1" gives 1, "all" or "-1" gives -1. Returns 0 or -1. */
int nw_parse_acks(const char *arg, int16_t *acks);

/* librdkafka's name for a Kafka error code ("NOT_LEADER_OR_FOLLOWER"). */
const char *nw_err_name(int code);

double nw_mono_s(void);

/* ---- wire types -------------------------------------------------------- */

struct nw_wr {                     /* a bounded writer */
    uint8_t *p, *end;
    bool overflow;
};

struct nw_rd {                     /* a bounded reader */
    const uint8_t *p, *end;
    bool err;
};

static inline void nw_put(struct nw_wr *w, uint64_t v, int n)
{
    if (w->end - w->p < n) {
        w->overflow = true;
        return;
    }
    for (int i = n - 1; i >= 0; i--)
        *w->p++ = (uint8_t)(v >> (8 * i));
}

static inline void nw_put_i8(struct nw_wr *w, int8_t v) { nw_put(w, (uint8_t)v, 1); }
static inline void nw_put_i16(struct nw_wr *w, int16_t v) { nw_put(w, (uint16_t)v, 2); }
static inline void nw_put_i32(struct nw_wr *w, int32_t v) { nw_put(w, (uint32_t)v, 4); }
static inline void nw_put_i64(struct nw_wr *w, int64_t v) { nw_put(w, (uint64_t)v, 8); }

/* A Kafka STRING (int16 length); NULL writes a null (-1). */
void nw_put_str(struct nw_wr *w, const char *s);
void nw_put_raw(struct nw_wr *w, const void *p, size_t n);

static inline uint64_t nw_get(struct nw_rd *r, int n)
{
    uint64_t v = 0;
    if (r->err || r->end - r->p < n) {
        r->err = true;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v = v << 8 | *r->p++;
    return v;
}

static inline int8_t nw_get_i8(struct nw_rd *r) { return (int8_t)nw_get(r, 1); }
static inline int16_t nw_get_i16(struct nw_rd *r) { return (int16_t)nw_get(r, 2); }
static inline int32_t nw_get_i32(struct nw_rd *r) { return (int32_t)nw_get(r, 4); }
static inline int64_t nw_get_i64(struct nw_rd *r) { return (int64_t)nw_get(r, 8); }

/* A Kafka STRING as a view: *s and *len (len -1 for null). */
void nw_get_str(struct nw_rd *r, const char **s, int *len);
/* Skips n bytes. */
void nw_skip(struct nw_rd *r, size_t n);

static inline uint32_t nw_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void nw_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
