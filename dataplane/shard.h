/* shard.h - a shard: one pinned thread that owns a set of partitions end to
 * end, their logs, and the client connections on its own port.
 *
 * Everything a shard does is driven by one io_uring: accept, receive,
 * send, splice of fetched file ranges, log writes and fdatasync. It talks
 * to the control thread only through its pair of SPSC rings. */
#ifndef SLUICE_SHARD_H
#define SLUICE_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"
#include "numa/duty_cycle.h"

struct shard;
struct dpdk_port;
struct listeners;
struct spsc_ring;
struct topology;

struct shard_config {
    int index;                     /* the shard's index on this node */
    int32_t broker_id;             /* its id in Metadata (md_broker_id) */
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
    struct dpdk_port *dpdk;        /* NULL: no DPDK queue (dataplane/dpdk/) */
    /* Every listener (dataplane/listeners.h); NULL: one PLAINTEXT listener
     * on host:port. Listener 0 is bound on host:port, listener k on its
     * own host and port + index. Read-only once the shard starts. */
    const struct listeners *listeners;
};

/* What a shard does after a turn that found no work (sluice.idle). */
enum shard_idle {
    SHARD_IDLE_SLEEP,   /* block in io_uring until a completion or the next
                           deadline (the default) */
    SHARD_IDLE_SPIN,    /* never block: poll the completion queue and the
                           rings again at once (a dedicated core) */
};

/* The clocks of one turn, read once by whoever drives the shard and passed
 * in, so a test can drive a shard with a clock of its own. */
struct shard_now {
    int64_t mono_ns;    /* CLOCK_MONOTONIC: every timeout (fetch max_wait,
                           idle connections, the tick, the stop deadline) */
    int64_t wall_ms;    /* CLOCK_REALTIME: record timestamps, segment.ms,
                           retention (Kafka's are wall-clock too) */
};

/* The real clocks. */
struct shard_now shard_clock_now(void);

/* Creates the shard and binds its listening socket (so the port is known
 * before the thread starts). Returns 0 or a negative errno. */
int shard_create(struct shard **out, const struct shard_config *cfg);
int shard_port(const struct shard *s);
/* The port the shard listens on for listener k; -1 when there is none. */
int shard_listener_port(const struct shard *s, int listener);
/* Starts the shard's thread. */
int shard_start(struct shard *s);
/* Waits for the thread to end (after CTL_SHUTDOWN) and frees the shard. */
void shard_destroy(struct shard *s);

/* How long this shard's turns of work take; any thread may read it while
 * the shard runs (see numa/duty_cycle.h). */
const struct duty_cycle *shard_turns(const struct shard *s);

/* The agent (Aeron's model). shard_start() runs it on the shard's thread:
 *
 *     shard_loop_init(s);
 *     while (shard_running(s))
 *         shard_idle(s, shard_do_work(s, &now), shard_next_wake(s) - now);
 *     shard_loop_finish(s);
 *
 * and a test may run the same steps on its own thread, with its own clock,
 * instead of shard_start() (then shard_free(), not shard_destroy()). */
int shard_loop_init(struct shard *s);
/* One turn, in a fixed order: reap completions (receives are parsed and
 * applied as they are reaped), the control thread's messages, answer what
 * completions made safe, group commit, answer what the writes made safe,
 * timers. Returns the work done: completions, messages, answers and log
 * flushes; 0 when the turn found nothing to do. */
int shard_do_work(struct shard *s, const struct shard_now *now);
/* False once the shard has stopped (CTL_SHUTDOWN, then every connection
 * answered or the stop deadline passed). */
bool shard_running(const struct shard *s);
/* The CLOCK_MONOTONIC ns by which the next turn is due without any
 * completion (the next deadline or tick). */
int64_t shard_next_wake(const struct shard *s);
/* Submits what the turn queued and idles per the strategy: sleep waits up
 * to wait_ns for a completion, spin returns at once. */
void shard_idle(struct shard *s, int work, int64_t wait_ns);
/* Syncs and closes every log and acknowledges CTL_SHUTDOWN. */
void shard_loop_finish(struct shard *s);
/* Frees a shard whose loop the caller ran itself. */
void shard_free(struct shard *s);

#endif
