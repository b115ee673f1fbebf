/* histogram.c - the bucket tables of histogram.h. */
#include "metrics/histogram.h"
#include "metrics/shard_metrics.h"

#include <string.h>

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull

const struct hist_bounds hist_latency_ns = {
    .n = 20,
    .le = { 10 * US, 25 * US, 50 * US, 100 * US, 250 * US, 500 * US,
            1 * MS, 2500 * US, 5 * MS, 10 * MS, 25 * MS, 50 * MS, 100 * MS,
            250 * MS, 500 * MS, 1 * SEC, 2500 * MS, 5 * SEC, 10 * SEC, 30 * SEC },
    .scale = 1e-9,
};

const struct hist_bounds hist_pow2 = {
    .n = 17,
    .le = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192,
            16384, 32768, 65536 },
    .scale = 1,
};

void shard_metrics_init(struct shard_metrics *m)
{
    memset(m, 0, sizeof(*m));
    hist_init(&m->produce_ns, &hist_latency_ns);
    hist_init(&m->fetch_ns, &hist_latency_ns);
    hist_init(&m->turn_ns, &hist_latency_ns);
    hist_init(&m->flush.fsync_ns, &hist_latency_ns);
    hist_init(&m->flush.commit_records, &hist_pow2);
}
