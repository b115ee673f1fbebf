/* topology.h - the machine as the shards see it: cores, NUMA nodes, pinning,
 * NUMA-local memory. Wraps hwloc; nothing else in sluice includes <hwloc.h>.
 *
 * A "core" here is a dense index 0..topology_core_count()-1 in hwloc's logical
 * order of physical cores (of PUs when the machine reports no cores). It is not
 * an OS cpu number; topology_core_cpu() gives that for logs and checks.
 *
 * Threads: open and close from one thread. Between them every function is a
 * read of the loaded topology and may be called from any thread at once
 * (hwloc allows concurrent readers). Errors are negative errno. */
#ifndef SLUICE_NUMA_TOPOLOGY_H
#define SLUICE_NUMA_TOPOLOGY_H

#include <stddef.h>

struct topology;

/* Discover this machine, restricted to the cpus the process may run on (its
 * affinity at this call, e.g. from taskset or a cgroup). Call before pinning. */
int topology_open(struct topology **out);
/* A made-up machine in hwloc's synthetic syntax, e.g. "pack:2 numa:1 core:4
 * pu:2": for tests of core choice. Pinning and binding on it do nothing. */
int topology_open_synthetic(struct topology **out, const char *desc);
void topology_close(struct topology *t);

/* Physical cores (PUs when no cores are reported); always >= 1. */
int topology_core_count(const struct topology *t);

/* One core per shard, spread round-robin over NUMA nodes (over packages on a
 * single-node machine), then in logical order within each. With more shards
 * than cores the order repeats: cores_out[i] == cores_out[i % ncores].
 * Returns the number of distinct cores used, so a result < nshards says
 * cores are shared; -EINVAL if nshards < 1. */
int topology_choose_cores(const struct topology *t, int nshards, int *cores_out);

/* The same, but the cores of NUMA node os_node (an OS node number, as
 * DPDK's socket ids are) come first: shards near a NIC. */
int topology_choose_cores_near(const struct topology *t, int nshards, int os_node,
                               int *cores_out);

/* Bind the calling thread to one PU of the core (the first; see
 * topology_core_cpu). 0, -EINVAL for a bad core, or -errno from hwloc. */
int topology_pin_thread(const struct topology *t, int core);

/* OS cpu number of the PU topology_pin_thread() binds to, or -EINVAL. */
int topology_core_cpu(const struct topology *t, int core);

/* Logical index of the NUMA node nearest the core, or -EINVAL. */
int topology_numa_node_of(const struct topology *t, int core);

/* len bytes, page aligned, whose pages come from the core's NUMA node when
 * the OS allows it (preferred, not strict: a full node spills to another
 * rather than failing); without mbind the memory is still returned, unbound.
 * NULL (errno ENOMEM or EINVAL) only when no memory can be had at all.
 * Release with topology_free() and the same len. */
void *topology_alloc_local(const struct topology *t, int core, size_t len);
void topology_free(const struct topology *t, void *p, size_t len);

/* One line for the start-up log, e.g.
 * "1 package, 1 NUMA node, 2 cores, 2 PUs, membind yes". */
void topology_describe(const struct topology *t, char *buf, size_t len);

#endif
