/* transport_udp.c - libsluice-send over a kernel UDP socket (see
 * transport.h). The socket is not connected: replies come from whichever
 * shard port owns the partition, and the sender follows them. */
#include "sender/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct udp_transport {
    struct send_transport t;
    int fd;
    struct sockaddr_in dst;
};

static int udp_send(struct send_transport *t, const uint8_t *d, size_t len)
{
    struct udp_transport *u = (struct udp_transport *)t;
    if (sendto(u->fd, d, len, 0, (struct sockaddr *)&u->dst, sizeof(u->dst)) < 0)
        return -errno; /* ENOBUFS/EAGAIN: the protocol re-sends */
    return 0;
}

static void udp_flush(struct send_transport *t)
{
    (void)t;
}

static int udp_recv(struct send_transport *t, uint8_t *buf, size_t cap, uint16_t *src_port)
{
    struct udp_transport *u = (struct udp_transport *)t;
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(u->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED ? 0 : -errno;
        if (from.sin_addr.s_addr != u->dst.sin_addr.s_addr)
            continue; /* not the broker's: skip it */
        *src_port = ntohs(from.sin_port);
        return (int)n;
    }
}

static void udp_wait(struct send_transport *t, int timeout_ms)
{
    struct udp_transport *u = (struct udp_transport *)t;
    struct pollfd p = { .fd = u->fd, .events = POLLIN };
    poll(&p, 1, timeout_ms);
}

static void udp_set_port(struct send_transport *t, uint16_t port)
{
    struct udp_transport *u = (struct udp_transport *)t;
    u->dst.sin_port = htons(port);
}

static void udp_destroy(struct send_transport *t)
{
    struct udp_transport *u = (struct udp_transport *)t;
    close(u->fd);
    free(u);
}

int send_transport_udp(struct send_transport **out, const struct sluice_send_config *cfg,
                       uint32_t ip, uint16_t port, char *err, size_t errlen)
{
    struct udp_transport *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->t = (struct send_transport){ udp_send, udp_flush, udp_recv, udp_wait, udp_set_port,
                                    udp_destroy };
    u->dst = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(ip) };
    u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(-rc));
        free(u);
        return rc;
    }
    int size = 8 << 20;
    setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (cfg->bind) {
        char host[64];
        const char *colon = strrchr(cfg->bind, ':');
        size_t hl = colon ? (size_t)(colon - cfg->bind) : strlen(cfg->bind);
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 0) };
        snprintf(host, sizeof(host), "%.*s", (int)hl, cfg->bind);
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
            bind(u->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            snprintf(err, errlen, "bind %s: %s", cfg->bind, strerror(errno));
            close(u->fd);
            free(u);
            return -EINVAL;
        }
    }
    *out = &u->t;
    return 0;
}
