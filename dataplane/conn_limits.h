/* conn_limits.h - the broker's connection limits, max.connections and
 * max.connections.per.ip, counted across every shard of the process.
 *
 * A shard asks conn_limits_admit() for each connection it accepts and,
 * when admitted, gives it back with conn_limits_release() as the
 * connection is freed. Kafka's names and meanings: a connection past a
 * limit is closed at once (Kafka throttles the acceptor for
 * max.connections; closing is what a client sees sooner, and it retries). */
#ifndef SLUICE_DATAPLANE_CONN_LIMITS_H
#define SLUICE_DATAPLANE_CONN_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_config;

/* A peer's IP address as the per-IP count keys it (IPv4 mapped into IPv6). */
struct conn_peer {
    uint8_t addr[16];
    char text[48];     /* printable, for log lines */
};

/* Fills peer from the connected socket fd. Returns 0 or a negative errno. */
int conn_peer_of(int fd, struct conn_peer *peer);

/* Counts a new connection from peer against b's limits. Returns true when
 * it may stay; false (counted nowhere) with the limit it crossed in why. */
bool conn_limits_admit(const struct broker_config *b, const struct conn_peer *peer,
                       char *why, size_t whylen);

/* Gives back what conn_limits_admit counted for peer. */
void conn_limits_release(const struct broker_config *b, const struct conn_peer *peer);

/* Client connections counted now, across the process (tests, metrics). */
int conn_limits_open(void);

#endif
