/* ops.h - the ops thread: sluice's HTTP listener (sluice.http.listen),
 * serving /metrics (Prometheus text) and the web console.
 *
 * Where it runs, and why: a thread of its own (libmicrohttpd's polling
 * thread), never the control thread's loop and never a shard. The control
 * thread must not touch sockets (it owns metadata, groups and commits,
 * whose latency an HTTP client must never set), and the shards must not
 * spend a loop turn on anything but their partitions. The ops thread is
 * one more peer on the control thread's rings (the pair after the
 * shards'): it asks (CTL_STATS, the group and config requests) exactly as
 * a shard asks on behalf of a client, and only ever reads the copies the
 * control thread aggregated. The live tail reads records as any consumer
 * would, with a Fetch on the owning shard's own port.
 *
 * What main() calls: ops_create() after control_create() (binds and
 * starts serving), ops_stop() once control_run() returns, before
 * control_shutdown(), and ops_destroy() after control_destroy(). */
#ifndef SLUICE_OPS_H
#define SLUICE_OPS_H

#include "control/config.h"

struct ops;
struct spsc_ring;

struct ops_config {
    const char *listen;              /* HOST:PORT; port 0: any free port */
    const struct broker_config *broker;
    struct spsc_ring *to_ctl;        /* ops -> control */
    struct spsc_ring *from_ctl;      /* control -> ops */
    int doorbell_fd;                 /* the control thread rings it */
    int ctl_doorbell_fd;             /* ring after posting */
    const char *bootstrap_host;      /* where the shards listen (the tail) */
};

/* Binds and starts serving. 0 or a negative errno (-EINVAL: listen is not
 * HOST:PORT). */
int ops_create(struct ops **out, const struct ops_config *cfg);
int ops_port(const struct ops *o);
/* Stops serving (joins the HTTP thread). */
void ops_stop(struct ops *o);
void ops_destroy(struct ops *o);

#endif
