/* replica.h - a shard's replicas of replicated partitions (more than one
 * replica): what the leader tracks of its followers (Kafka's Partition:
 * the ISR, the high watermark), and the follower's fetcher (Kafka's
 * ReplicaFetcherThread, replica_fetch.c), which pulls the leader's batches
 * with replica Fetch requests over a peer connection, shard to shard.
 *
 * A partition of one replica has no struct replica (p->repl is NULL): it
 * is served as a single node serves it, its high watermark the log's
 * durable end. Single-threaded: only the owning shard touches these. */
#ifndef SLUICE_REPLICA_H
#define SLUICE_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "control/ctl.h"

struct shard;
struct partition;
struct replica;
struct fetcher;

/* The per-shard side (shard->replicas): every replicated partition, the
 * fetchers, the ISR changes being asked for. */
struct replica_shard;

int replica_shard_init(struct shard *s);
void replica_shard_close(struct shard *s);

/* Applies the state the control thread sent (CTL_PARTITION_OPEN or
 * CTL_PARTITION_STATE): creates, updates or frees p->repl; becoming
 * leader stamps the new epoch into appends, becoming follower starts
 * fetching (after truncation) from the new leader. A state older than the
 * one applied is ignored. 0 or -ENOMEM. */
int replica_apply(struct shard *s, struct partition *p, const struct ctl_replica_state *st);
/* The partition leaves the shard (its log idle or drained: the fetched
 * buffers it held are written). */
void replica_drop(struct shard *s, struct partition *p);
/* The partition is being deleted: no more fetching, leading or ISR
 * changes; replica_drop follows once its log is idle. */
void replica_stop(struct shard *s, struct partition *p);

/* Whether this shard leads p (always, for one replica), and the check of
 * a request's current_leader_epoch (-1: not given): NONE,
 * NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH. */
bool replica_is_leader(const struct partition *p);
/* Whether broker is another replica of p this shard leads (a fetch from it
 * reads up to the written end; anyone else up to the high watermark). */
bool replica_is_follower(const struct partition *p, int32_t broker);
int16_t replica_check_leader(const struct partition *p, int32_t current_leader_epoch);
int32_t replica_leader_epoch(const struct partition *p);

/* The high watermark consumers see: the log's durable end for one
 * replica; for several, what every member of the ISR has (durable per its
 * flush policy), never past the leader's durable end, never moving back. */
int64_t replica_high_watermark(struct partition *p);
/* The last stable offset read_committed consumers see: the log's (the
 * first offset of the oldest open transaction, storage/log_txn.c), never
 * past the high watermark above. */
int64_t replica_last_stable_offset(struct partition *p);
/* acks=all: NOT_ENOUGH_REPLICAS when the ISR is smaller than
 * min.insync.replicas, else NONE. */
int16_t replica_check_isr(const struct partition *p);

/* A replica Fetch from follower broker replica_id at fetch_offset reached
 * the leader (once per request): it has everything below fetch_offset. */
void replica_on_fetch(struct shard *s, struct partition *p, int32_t replica_id,
                      int64_t fetch_offset);

/* One turn: fetchers send, truncate, append; ISR changes go out. Returns
 * the work done. */
int replica_do_work(struct shard *s);
/* Once a second: followers out of the ISR, high watermark checkpoints. */
void replica_tick(struct shard *s);
/* The answer to a CTL_ALTER_PARTITION the shard's replicas sent. */
void replica_alter_done(struct shard *s, struct ctl_msg *m);
/* The monotonic ms by which replica_do_work wants a turn (INT64_MAX). */
int64_t replica_next_wake(const struct shard *s);

#endif
