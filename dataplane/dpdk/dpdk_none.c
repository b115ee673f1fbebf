/* dpdk_none.c - dpdk.h where sluice is built without DPDK (meson option
 * dpdk disabled, or libdpdk absent): opening a port says so, and there is
 * never a queue for the rest to be called on. */
#include "dataplane/dpdk/dpdk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int dpdk_port_open(struct dpdk_port **out, const struct broker_config *cfg, int nshards,
                   char *err, size_t errlen)
{
    (void)out;
    (void)cfg;
    (void)nshards;
    snprintf(err, errlen, "sluice.dpdk.enable=true, but this sluiced was built without DPDK "
                          "(install libdpdk-dev and rebuild)");
    return -ENOTSUP;
}

void dpdk_port_close(struct dpdk_port *p)
{
    (void)p;
}

int dpdk_port_numa_node(const struct dpdk_port *p)
{
    (void)p;
    return -1;
}

void dpdk_port_describe(const struct dpdk_port *p, char *buf, size_t len)
{
    (void)p;
    snprintf(buf, len, "no DPDK");
}

int dpdk_queue_create(struct dpdk_queue **out, struct dpdk_port *p, int shard,
                      const struct dpdk_route_ops *ops, void *ctx)
{
    (void)out;
    (void)p;
    (void)shard;
    (void)ops;
    (void)ctx;
    return -ENOTSUP;
}

void dpdk_queue_destroy(struct dpdk_queue *q)
{
    (void)q;
}

int dpdk_queue_poll(struct dpdk_queue *q, int64_t now_ms)
{
    (void)q;
    (void)now_ms;
    return 0;
}

int dpdk_queue_after_flush(struct dpdk_queue *q, int64_t now_ms)
{
    (void)q;
    (void)now_ms;
    return 0;
}

void dpdk_queue_on_metadata(struct dpdk_queue *q, const struct md_snapshot *md, int32_t node)
{
    (void)q;
    (void)md;
    (void)node;
}

void dpdk_queue_partition_closed(struct dpdk_queue *q, void *cookie)
{
    (void)q;
    (void)cookie;
}

bool dpdk_queue_busy(const struct dpdk_queue *q)
{
    (void)q;
    return false;
}

void dpdk_queue_stats(const struct dpdk_queue *q, struct dpdk_stats *out)
{
    (void)q;
    memset(out, 0, sizeof(*out));
}

const struct duty_cycle *dpdk_queue_append_latency(const struct dpdk_queue *q)
{
    (void)q;
    return NULL;
}

void dpdk_stats_format(const struct dpdk_stats *st, char *buf, size_t len)
{
    (void)st;
    snprintf(buf, len, "no DPDK");
}
