/* conn_limits.c - max.connections and max.connections.per.ip across the
 * shards of this process (one process is one broker).
 *
 * The total is one atomic counter. The per-IP counts live in an
 * open-addressed table under a mutex, taken only when a connection is
 * accepted or freed - never per request; the table exists only once
 * max.connections.per.ip is set (a static setting: it needs a restart).
 *
 * Never: blocks on anything but that mutex; counts a connection it
 * refused. */
#include "dataplane/conn_limits.h"
#include "control/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IP_SLOTS 65536u          /* distinct addresses counted at once */

struct ip_slot {
    uint8_t addr[16];
    int32_t count;
    uint8_t state;               /* SLOT_FREE, SLOT_USED, SLOT_GONE */
};

enum { SLOT_FREE, SLOT_USED, SLOT_GONE };

static atomic_int open_total;
static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_slot *ip_table; /* IP_SLOTS, allocated on first use */
static uint32_t ip_gone;         /* SLOT_GONE slots: rebuilt past half */

int conn_peer_of(int fd, struct conn_peer *peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(peer, 0, sizeof(*peer));
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        peer->addr[10] = peer->addr[11] = 0xff;
        memcpy(peer->addr + 12, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, peer->text, sizeof(peer->text));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        memcpy(peer->addr, &in6->sin6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, peer->text, sizeof(peer->text));
    } else {
        snprintf(peer->text, sizeof(peer->text), "family-%d", ss.ss_family);
    }
    return 0;
}

static uint32_t ip_hash(const uint8_t *a)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h;
}

/* The slot holding addr, or where it would go (NULL: the table is full).
 * Called with ip_lock held. */
static struct ip_slot *ip_find(const uint8_t *addr, bool insert)
{
    struct ip_slot *gone = NULL;
    uint32_t i = ip_hash(addr) & (IP_SLOTS - 1);
    for (uint32_t n = 0; n < IP_SLOTS; n++, i = (i + 1) & (IP_SLOTS - 1)) {
        struct ip_slot *s = &ip_table[i];
        if (s->state == SLOT_USED && memcmp(s->addr, addr, 16) == 0)
            return s;
        if (s->state == SLOT_GONE && !gone)
            gone = s;
        if (s->state == SLOT_FREE) {
            if (!insert)
                return NULL;
            return gone ? gone : s;
        }
    }
    return insert ? gone : NULL;
}

static bool per_ip_limited(const struct broker_config *b)
{
    return b->max_connections_per_ip < INT32_MAX;
}

/* Counts one more from peer; false when it is at the limit. */
static bool ip_admit(const struct broker_config *b, const struct conn_peer *peer,
                     char *why, size_t whylen)
{
    bool ok = false;
    pthread_mutex_lock(&ip_lock);
    if (!ip_table)
        ip_table = calloc(IP_SLOTS, sizeof(*ip_table));
    struct ip_slot *s = ip_table ? ip_find(peer->addr, true) : NULL;
    if (!s) {
        snprintf(why, whylen, "no room to count connections per IP (%u addresses)", IP_SLOTS);
    } else if (s->state == SLOT_USED && s->count >= b->max_connections_per_ip) {
        snprintf(why, whylen, "%d connections from %s already (max.connections.per.ip)",
                 s->count, peer->text);
    } else {
        if (s->state != SLOT_USED) {
            if (s->state == SLOT_GONE)
                ip_gone--;
            memcpy(s->addr, peer->addr, 16);
            s->count = 0;
            s->state = SLOT_USED;
        }
        s->count++;
        ok = true;
    }
    pthread_mutex_unlock(&ip_lock);
    return ok;
}

/* Puts the addresses still counted into fresh slots: without it, once
 * every slot has held some address, each lookup of a new one would walk
 * the whole table. Called with ip_lock held. */
static void ip_rebuild(void)
{
    struct ip_slot *old = ip_table;
    ip_table = calloc(IP_SLOTS, sizeof(*ip_table));
    if (!ip_table) {
        ip_table = old; /* keep the tombstones: slower, still right */
        return;
    }
    for (uint32_t i = 0; i < IP_SLOTS; i++)
        if (old[i].state == SLOT_USED)
            *ip_find(old[i].addr, true) = old[i];
    ip_gone = 0;
    free(old);
}

static void ip_release(const struct conn_peer *peer)
{
    pthread_mutex_lock(&ip_lock);
    struct ip_slot *s = ip_table ? ip_find(peer->addr, false) : NULL;
    if (s && --s->count <= 0) {
        s->state = SLOT_GONE;
        if (++ip_gone > IP_SLOTS / 2)
            ip_rebuild();
    }
    pthread_mutex_unlock(&ip_lock);
}

bool conn_limits_admit(const struct broker_config *b, const struct conn_peer *peer,
                       char *why, size_t whylen)
{
    int was = atomic_fetch_add_explicit(&open_total, 1, memory_order_relaxed);
    if (was >= b->max_connections) {
        atomic_fetch_sub_explicit(&open_total, 1, memory_order_relaxed);
        snprintf(why, whylen, "%d connections open already (max.connections)", was);
        return false;
    }
    if (per_ip_limited(b) && !ip_admit(b, peer, why, whylen)) {
        atomic_fetch_sub_explicit(&open_total, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

void conn_limits_release(const struct broker_config *b, const struct conn_peer *peer)
{
    if (per_ip_limited(b))
        ip_release(peer);
    atomic_fetch_sub_explicit(&open_total, 1, memory_order_relaxed);
}

int conn_limits_open(void)
{
    return atomic_load_explicit(&open_total, memory_order_relaxed);
}
