/* eal.h - DPDK's EAL started from one string of arguments, as every DPDK
 * process of sluice starts it: the broker (sluice.dpdk.eal.args),
 * libsluice-send's DPDK sender and the benchmark's DPDK ends. */
#ifndef SLUICE_DPDK_EAL_H
#define SLUICE_DPDK_EAL_H

#include <stdbool.h>
#include <stddef.h>

/* Splits args at spaces and tabs (no quoting), prog as argv[0], and runs
 * rte_eal_init, once per process. EAL pins the calling thread to its main
 * lcore; keep_affinity puts the thread's own affinity back (a broker's
 * control thread, a CLI), else the pinning stays (a sender that owns its
 * core). Returns 0, or a negative errno with err saying why. */
int dpdk_eal_start(const char *prog, const char *args, bool keep_affinity, char *err,
                   size_t errlen);

#endif
