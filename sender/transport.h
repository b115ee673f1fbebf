/* transport.h - how libsluice-send moves datagrams: a kernel UDP socket
 * (transport_udp.c) or a DPDK port (transport_dpdk.c). sender.c holds
 * the protocol; a transport only sends and receives whole datagrams to
 * and from the broker's address. */
#ifndef SLUICE_SEND_TRANSPORT_H
#define SLUICE_SEND_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "sender/sluice_send.h"

struct send_transport {
    /* Queues or sends one datagram to the broker's current port. 0, or a
     * negative errno (-EAGAIN: no room now; the protocol re-sends). */
    int (*send)(struct send_transport *t, const uint8_t *d, size_t len);
    /* Pushes out what send queued. */
    void (*flush)(struct send_transport *t);
    /* One received datagram from the broker, without waiting: its length,
     * 0 when there is none, or a negative errno. *src_port: the port it
     * came from (host order). */
    int (*recv)(struct send_transport *t, uint8_t *buf, size_t cap, uint16_t *src_port);
    /* Waits up to timeout_ms for something to receive. */
    void (*wait)(struct send_transport *t, int timeout_ms);
    /* Sends to this port of the broker from now on (host order). */
    void (*set_port)(struct send_transport *t, uint16_t port);
    void (*destroy)(struct send_transport *t);
};

/* ip, port: the broker's, host order. Return 0 or a negative errno with
 * err saying why. */
int send_transport_udp(struct send_transport **out, const struct sluice_send_config *cfg,
                       uint32_t ip, uint16_t port, char *err, size_t errlen);
int send_transport_dpdk(struct send_transport **out, const struct sluice_send_config *cfg,
                        uint32_t ip, uint16_t port, char *err, size_t errlen);

#endif
