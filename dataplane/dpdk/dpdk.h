/* dpdk.h - the DPDK receive path as sluiced's main and the shards see it:
 * a port (EAL, device, mempool, hand-off rings) opened once, and one
 * queue per shard that the shard's loop polls.
 *
 * Without DPDK (meson option dpdk disabled or libdpdk absent) the same
 * functions exist and refuse (dpdk_none.c), so nothing else changes.
 *
 * A queue, on its shard's thread only:
 *   dpdk_queue_poll         receive a burst: ARP/ICMP answered, native
 *                           datagrams appended (ingest.h), capture
 *                           datagrams stored (capture.h), datagrams for
 *                           partitions of other shards handed to them
 *   (the shard's group commit writes and syncs the logs)
 *   dpdk_queue_after_flush  give back buffers the logs wrote, send ACKs for
 *                           what became durable, send everything queued
 * The shard tells it about partitions through struct dpdk_route_ops and
 * dpdk_queue_on_metadata / dpdk_queue_partition_closed. */
#ifndef SLUICE_DPDK_H
#define SLUICE_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config.h"
#include "control/metadata.h"
#include "dataplane/dpdk/capture.h"
#include "dataplane/dpdk/ingest.h"
#include "dataplane/dpdk/net_stats.h"
#include "numa/duty_cycle.h"
#include "storage/log.h"

struct dpdk_port;
struct dpdk_queue;

/* One queue's counters: plain numbers, read by whoever exports them. */
struct dpdk_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_packets, tx_dropped;    /* dropped: the TX ring was full */
    uint64_t no_mbuf;                   /* a reply found the mempool empty */
    uint64_t bad_datagram;              /* native datagrams that do not parse */
    uint64_t unknown_partition;
    uint64_t handoff_out, handoff_in, handoff_dropped;
    uint64_t idle_polls;
    int64_t first_rx_ns, last_rx_ns;    /* wall clock (TSC) of the first and
                                           the last burst received */
    struct net_stats net;
    struct ingest_stats native;
    struct capture_stats capture;
};

/* What route answers besides a shard index. */
enum {
    DPDK_ROUTE_UNKNOWN = -1,    /* no such partition (open) here */
    DPDK_ROUTE_ELSEWHERE = -2,  /* led by another node */
};

/* What a queue asks its shard. */
struct dpdk_route_ops {
    /* The shard of this node owning topic/partition, or DPDK_ROUTE_*; when
     * it is this shard, *log and *cookie (the shard's partition) are set. */
    int (*route)(void *ctx, const char *topic, size_t len, int32_t partition,
                 struct log **log, void **cookie);
    /* The log of cookie has appends to write this turn. */
    void (*mark_dirty)(void *ctx, void *cookie);
};

/* Initialises the EAL from cfg (sluice.dpdk.eal.args), opens
 * sluice.dpdk.port with one RX and one TX queue per shard, a mempool on
 * the port's NUMA node, checksum offloads where the device has them, and
 * flow rules steering shard i's UDP port to queue i where it supports
 * them. Restores the calling thread's CPU affinity (EAL pins it). Returns
 * 0, or a negative errno with err saying why. */
int dpdk_port_open(struct dpdk_port **out, const struct broker_config *cfg, int nshards,
                   char *err, size_t errlen);

/* Stops the port and ends the EAL. Every queue must be destroyed first. */
void dpdk_port_close(struct dpdk_port *p);

/* The port's NUMA node (-1: unknown), for choosing shard cores. */
int dpdk_port_numa_node(const struct dpdk_port *p);

/* One line for the start-up log. */
void dpdk_port_describe(const struct dpdk_port *p, char *buf, size_t len);

/* On the shard's thread. Returns 0 or a negative errno. */
int dpdk_queue_create(struct dpdk_queue **out, struct dpdk_port *p, int shard,
                      const struct dpdk_route_ops *ops, void *ctx);
/* Gives back every buffer it still holds; the shard's logs must have
 * written everything (the shard drains them first). */
void dpdk_queue_destroy(struct dpdk_queue *q);

/* Receives and handles what has arrived. Returns the work done. */
int dpdk_queue_poll(struct dpdk_queue *q, int64_t now_ms);
/* After the shard's flush. Returns the work done. */
int dpdk_queue_after_flush(struct dpdk_queue *q, int64_t now_ms);

/* A new metadata snapshot (kept by the shard until the next one): the
 * capture topics, their ports and groups, and which of this node's shards
 * (node: this node's node.id) owns them. */
void dpdk_queue_on_metadata(struct dpdk_queue *q, const struct md_snapshot *md, int32_t node);
/* The shard is about to close a partition's log (cookie as route gave). */
void dpdk_queue_partition_closed(struct dpdk_queue *q, void *cookie);

/* True while it holds buffers a log has not written yet. */
bool dpdk_queue_busy(const struct dpdk_queue *q);

/* Copies the queue's counters into out. Nothing in q is written, so
 * another thread (metrics) may call it: every counter is a 64-bit value
 * only the shard writes, read as it is at that moment. */
void dpdk_queue_stats(const struct dpdk_queue *q, struct dpdk_stats *out);
/* Native datagrams' time from arrival to written (the log's pwritev). */
const struct duty_cycle *dpdk_queue_append_latency(const struct dpdk_queue *q);
/* The counters as one "key=value ..." line, for logs. */
void dpdk_stats_format(const struct dpdk_stats *st, char *buf, size_t len);

#endif
