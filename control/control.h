/* control.h - the control thread: owner of the metadata (topics, placement,
 * configs), the admin requests, and the shards' metadata snapshots.
 *
 * It runs on the process's main thread and talks to each shard through a
 * pair of SPSC rings of struct ctl_msg pointers (ctl.h) and two eventfd
 * doorbells: one per shard, which the control thread writes after posting
 * to that shard, and one of its own, which shards write after posting to
 * it. It never touches a socket or wire bytes.
 *
 * What main() calls, in order:
 *   control_create()            open the metadata log (control/md_log.c)
 *   control_shard_endpoints()   for each shard, before shard_create()
 *   control_set_shard_port()    for each shard, once its port is bound
 *   (start the shards)
 *   control_open_partitions()   every persisted partition opened by its shard
 *   control_publish()           first snapshot: shards may serve
 *   control_run()               until *stop
 *   control_shutdown()          every shard stopped and acknowledged
 *   (join the shards)
 *   control_destroy()
 *
 * Tests drive it from one thread: post to the rings as a shard would,
 * call control_poll_once(), and read the answers back. */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <signal.h>
#include <stdbool.h>

#include "control/config.h"

struct control;
struct spsc_ring;

#define CONTROL_RING_SLOTS 1024   /* per ring, each direction */
#define CONTROL_SHARDS_MAX 1024

/* Opens (creating if needed) data_dir and its metadata; cfg is copied.
 * Returns 0 or a negative errno, with the reason written to stderr
 * (-EINVAL: a damaged metadata file; -EBUSY: another broker uses the
 * directory). */
int control_create(struct control **out, const struct broker_config *cfg,
                   const char *data_dir, int nshards);

/* What shard i needs: its ring from the control thread, its ring to it,
 * the eventfd the control thread rings for it, and the eventfd to ring
 * after posting. Any pointer may be NULL. Index nshards is the ops
 * thread's pair (ops/): it only asks (CTL_STATS, the describe and list
 * requests) and is sent no commands, metadata or shutdown. */
void control_shard_endpoints(struct control *c, int shard,
                             struct spsc_ring **to_shard,
                             struct spsc_ring **to_control,
                             int *shard_doorbell, int *control_doorbell);

/* The port shard i listens on, advertised to clients unless
 * advertised.listeners fixes the port. */
void control_set_shard_port(struct control *c, int shard, int port);

/* Asks every shard to open its persisted partitions (and to finish
 * deletes a crash interrupted), and waits for every answer. 0, or -EIO
 * when a partition could not be opened (each failure is on stderr). */
int control_open_partitions(struct control *c);

/* The same in two steps, for tests: start, then control_poll_once()
 * until control_opening() is not 1 (0: all open, < 0: failed). */
int control_open_partitions_start(struct control *c);
int control_opening(const struct control *c);

/* Sends every shard a new snapshot of the metadata. Old snapshots are
 * freed once every shard has acknowledged a newer one. 0 or -ENOMEM. */
int control_publish(struct control *c);

/* One turn: waits up to timeout_ms for the doorbell, then handles every
 * message the shards posted. Returns how many, or a negative errno. */
int control_poll_once(struct control *c, int timeout_ms);

/* Turns until *stop becomes non-zero (a signal interrupts the wait). */
int control_run(struct control *c, volatile sig_atomic_t *stop);

/* SIGHUP (reload.c): applies fresh's dynamic settings (true for
 * control_config_dynamic) to the running broker, re-deriving every topic's
 * inherited log settings and sending the changed ones to the shards; the
 * other settings keep their running value and are logged as needing a
 * restart. Returns how many settings were applied. */
int control_reload(struct control *c, const struct broker_config *fresh);
bool control_config_dynamic(const char *key);

/* Sends CTL_SHUTDOWN to every shard and waits (at most 30 s) for each to
 * acknowledge. 0 or -ETIMEDOUT. Split for tests like opening. */
int control_shutdown(struct control *c);
int control_shutdown_start(struct control *c);
bool control_shutdown_done(const struct control *c);

/* Frees everything, the snapshots too: call it only after the shards
 * have stopped. */
void control_destroy(struct control *c);

/* Tests: the next n writes of the metadata log fail (a broken disk). */
void control_fail_metadata_writes(struct control *c, int n);

/* Snapshots not yet freed (the current one included). */
int control_live_snapshots(const struct control *c);

#endif
