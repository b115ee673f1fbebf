/* udp_fixture.h - native UDP produce datagrams for the unit tests: a real
 * RecordBatch v2 of an idempotent producer behind a PRODUCE header
 * (dataplane/dpdk/udp_wire.h). */
#ifndef SLUICE_UDP_FIXTURE_H
#define SLUICE_UDP_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "dataplane/dpdk/udp_wire.h"
#include "storage/batch_build.h"

/* A datagram for topic/partition from producer pid (epoch) with records
 * seq .. seq+n-1, values "r<seq+i>". Returns its length (0: no room). */
static inline size_t udp_fixture_produce(uint8_t *buf, size_t cap, const char *topic,
                                         int32_t partition, int64_t pid, int16_t epoch,
                                         int32_t seq, int n, int64_t ts)
{
    size_t h = udp_wire_put_produce_header(buf, cap, topic, strlen(topic), partition, pid,
                                           epoch, seq);
    if (h == 0)
        return 0;
    struct batch_builder b;
    batch_builder_init(&b, buf + h, cap - h, ts);
    batch_builder_set_producer(&b, pid, epoch, seq);
    for (int i = 0; i < n; i++) {
        char v[32];
        int vl = snprintf(v, sizeof(v), "r%lld", (long long)seq + i);
        if (batch_builder_add(&b, ts, NULL, 0, v, (size_t)vl, NULL, 0) < 0)
            return 0;
    }
    size_t blen = batch_builder_finish(&b, 0);
    return blen ? h + blen : 0;
}

#endif
