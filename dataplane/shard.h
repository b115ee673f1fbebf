/* shard.h - a shard: one pinned thread that owns a set of partitions end to
 * end, their logs, and the client connections on its own port.
 *
 * Everything a shard does is driven by one io_uring: accept, receive,
 * send, splice of fetched file ranges, log writes and fdatasync. It talks
 * to the control thread only through its pair of SPSC rings. */
#ifndef SLUICE_SHARD_H
#define SLUICE_SHARD_H

#include <stdint.h>

#include "control/config.h"

struct shard;
struct spsc_ring;
struct topology;

struct shard_config {
    int index;                     /* node id in Metadata */
    int core;                      /* topology core to pin to; -1: none */
    struct topology *topology;
    const char *host;              /* listen address */
    int port;                      /* 0: any free port */
    const char *data_dir;
    const struct broker_config *broker;
    struct spsc_ring *from_ctl;    /* control -> shard */
    struct spsc_ring *to_ctl;      /* shard -> control */
    int doorbell_fd;               /* eventfd the control thread rings */
    int ctl_doorbell_fd;           /* eventfd to ring after posting */
};

/* Creates the shard and binds its listening socket (so the port is known
 * before the thread starts). Returns 0 or a negative errno. */
int shard_create(struct shard **out, const struct shard_config *cfg);
int shard_port(const struct shard *s);
/* Starts the shard's thread. */
int shard_start(struct shard *s);
/* Waits for the thread to end (after CTL_SHUTDOWN) and frees the shard. */
void shard_destroy(struct shard *s);

#endif
