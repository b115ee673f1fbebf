/* listeners.h - the broker's listeners (Kafka's listener model): each has
 * a name, a security protocol (listener.security.protocol.map), a listen
 * address and an advertised one. Every shard listens on every listener,
 * at the listener's port + the shard's index, and a client is told the
 * endpoints of the listener it connected to (Metadata, FindCoordinator,
 * DescribeCluster), as Kafka does.
 *
 * Built once by the process before the shards start (listeners_init, then
 * listeners_set_port for every shard's bound ports) and read-only after:
 * shards read it without a lock. Listener 0's endpoints are Metadata's
 * brokers (control/metadata.c); the others' are derived here. */
#ifndef SLUICE_DATAPLANE_LISTENERS_H
#define SLUICE_DATAPLANE_LISTENERS_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"
#include "control/metadata.h"
#include "dataplane/kafka/codec.h"

#define LISTENERS_MAX 8

struct tls_ctx;

struct listener {
    char name[32];
    int protocol;                  /* enum config_protocol */
    char host[CONFIG_LISTENERS_MAX]; /* listen host ("": every interface) */
    int port;                      /* shard i: port + i; 0: any free port */
    char adv_host[MD_HOST_MAX];
    bool adv_fixed;                /* advertised.listeners fixes the ports */
    int32_t *ports;                /* [nshards] bound */
    int32_t *adv_ports;            /* [nshards] advertised (0: the bound one) */
};

struct listeners {
    int n;
    struct listener l[LISTENERS_MAX];
    int nshards;
    int32_t node_id;
    struct tls_ctx *tls;           /* for SSL and SASL_SSL; NULL: none */
};

/* Parses listeners, listener.security.protocol.map and
 * advertised.listeners for nshards shards, and creates the TLS context when
 * a listener needs one. Returns 0 or a negative errno with err saying why. */
int listeners_init(struct listeners *ls, const struct broker_config *c, int nshards,
                   char *err, size_t errlen);
void listeners_close(struct listeners *ls);

/* Records the port shard listens on for listener k. */
void listeners_set_port(struct listeners *ls, int k, int shard, int port);

static inline bool listener_is_tls(const struct listeners *ls, int k)
{
    return ls && (ls->l[k].protocol == PROTOCOL_SSL || ls->l[k].protocol == PROTOCOL_SASL_SSL);
}

static inline bool listener_is_sasl(const struct listeners *ls, int k)
{
    return ls && (ls->l[k].protocol == PROTOCOL_SASL_PLAINTEXT ||
                  ls->l[k].protocol == PROTOCOL_SASL_SSL);
}

/* The endpoint of broker b for a client of listener k: b's own (listener
 * 0), this node's shard's on listener k, or, for another node's broker,
 * b's port moved by the difference of the two listeners' fixed ports (a
 * cluster's nodes share one listener layout). */
void listeners_endpoint(const struct listeners *ls, int k, const struct md_broker *b,
                        struct kstr *host, int32_t *port);

#endif
