/* topology.c - owns the hwloc topology: discovery, the order in which shards
 * take cores, thread pinning and NUMA-local allocation.
 *
 * It never decides how many shards there are or which thread runs where; it
 * answers questions about the machine and binds the caller when asked. The
 * only failure it hides is "binding not supported": memory is then handed out
 * unbound rather than not at all, because a VM without mbind must still run. */
#include "numa/topology.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <hwloc.h>

struct topology {
    hwloc_topology_t h;
    int ncores;
    hwloc_obj_t *cores;   /* by core index (hwloc logical index) */
    hwloc_obj_t *numa;    /* nearest NUMA node of each core */
    int *order;           /* the order topology_choose_cores() hands out */
};

/* The NUMA node nearest obj: the first memory child of its closest ancestor
 * that has memory (skipping memory-side caches). NULL only on odd input. */
static hwloc_obj_t nearest_numa(hwloc_obj_t obj)
{
    for (; obj; obj = obj->parent) {
        hwloc_obj_t m = obj->memory_first_child;
        while (m && m->type != HWLOC_OBJ_NUMANODE)
            m = m->memory_first_child;
        if (m)
            return m;
    }
    return NULL;
}

/* The locality domain used to spread shards: the NUMA node when there are
 * several, else the package when there are several, else one domain. */
static int domain_of(const struct topology *t, int c, int nnuma, int npkg)
{
    if (nnuma > 1 && t->numa[c])
        return (int)t->numa[c]->logical_index;
    if (npkg > 1) {
        hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(t->h, HWLOC_OBJ_PACKAGE,
                                                       t->cores[c]);
        if (p)
            return (int)p->logical_index;
    }
    return 0;
}

/* Fill t->order: the first core of each domain, then the second of each...
 * so that n shards land on as many NUMA nodes (packages) as possible. */
static int build_order(struct topology *t)
{
    int n = t->ncores, ndom = 1, k = 0, rc = -ENOMEM;
    int nnuma = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
    int npkg = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PACKAGE);
    int *dom = calloc((size_t)n, sizeof(*dom));
    int *rank = calloc((size_t)n, sizeof(*rank));
    int *seen = calloc((size_t)n, sizeof(*seen));

    if (!dom || !rank || !seen)
        goto out;
    for (int c = 0; c < n; c++) {
        dom[c] = domain_of(t, c, nnuma, npkg);
        if (dom[c] < 0 || dom[c] >= n)
            dom[c] = 0;   /* e.g. memory-only nodes numbered past n: fold */
        rank[c] = seen[dom[c]]++;   /* position of c within its domain */
        if (dom[c] + 1 > ndom)
            ndom = dom[c] + 1;
    }
    for (int r = 0; k < n; r++)
        for (int d = 0; d < ndom; d++)
            for (int c = 0; c < n; c++)
                if (dom[c] == d && rank[c] == r)
                    t->order[k++] = c;
    rc = 0;
out:
    free(dom);
    free(rank);
    free(seen);
    return rc;
}

/* Index the cores (PUs if none) of a loaded topology. */
static int index_cores(struct topology *t)
{
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    int n = hwloc_get_nbobjs_by_type(t->h, type);

    if (n <= 0) {
        type = HWLOC_OBJ_PU;
        n = hwloc_get_nbobjs_by_type(t->h, type);
    }
    if (n <= 0)
        return -ENODEV;
    t->ncores = n;
    t->cores = calloc((size_t)n, sizeof(*t->cores));
    t->numa = calloc((size_t)n, sizeof(*t->numa));
    t->order = calloc((size_t)n, sizeof(*t->order));
    if (!t->cores || !t->numa || !t->order)
        return -ENOMEM;
    for (int c = 0; c < n; c++) {
        t->cores[c] = hwloc_get_obj_by_type(t->h, type, (unsigned)c);
        if (!t->cores[c] || hwloc_bitmap_iszero(t->cores[c]->cpuset))
            return -ENODEV;
        t->numa[c] = nearest_numa(t->cores[c]);
    }
    return build_order(t);
}

static int open_common(struct topology **out, const char *synthetic)
{
    struct topology *t;
    int rc;

    *out = NULL;
    /* hwloc's advice: the major ABI of the library must match the header. */
    if ((hwloc_get_api_version() >> 16) != (HWLOC_API_VERSION >> 16))
        return -ENOTSUP;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    if (hwloc_topology_init(&t->h) < 0) {
        rc = errno ? -errno : -ENOMEM;
        free(t);
        return rc;
    }
    if (synthetic && hwloc_topology_set_synthetic(t->h, synthetic) < 0) {
        rc = -EINVAL;
        goto err;
    }
    /* Only the cores this process may run on, so `taskset -c 2-7 sluiced`
     * keeps shards off cpus 0-1. hwloc reads the process binding (on Linux
     * the union of its threads' affinities): open before pinning anything. */
    if (!synthetic && hwloc_topology_set_flags(t->h,
            HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM |
            HWLOC_TOPOLOGY_FLAG_RESTRICT_TO_CPUBINDING) < 0) {
        rc = errno ? -errno : -EINVAL;
        goto err;
    }
    if (hwloc_topology_load(t->h) < 0) {
        rc = errno ? -errno : -EIO;
        goto err;
    }
    rc = index_cores(t);
    if (rc < 0)
        goto err;
    *out = t;
    return 0;
err:
    topology_close(t);
    return rc;
}

int topology_open(struct topology **out)
{
    return open_common(out, NULL);
}

int topology_open_synthetic(struct topology **out, const char *desc)
{
    if (!desc) {
        *out = NULL;
        return -EINVAL;
    }
    return open_common(out, desc);
}

void topology_close(struct topology *t)
{
    if (!t)
        return;
    free(t->cores);
    free(t->numa);
    free(t->order);
    hwloc_topology_destroy(t->h);
    free(t);
}

int topology_core_count(const struct topology *t)
{
    return t->ncores;
}

int topology_choose_cores(const struct topology *t, int nshards, int *cores_out)
{
    if (nshards < 1 || !cores_out)
        return -EINVAL;
    for (int i = 0; i < nshards; i++)
        cores_out[i] = t->order[i % t->ncores];
    return nshards < t->ncores ? nshards : t->ncores;
}

int topology_choose_cores_near(const struct topology *t, int nshards, int os_node,
                               int *cores_out)
{
    if (nshards < 1 || !cores_out)
        return -EINVAL;
    int k = 0;
    /* t->order, first the cores of os_node, then the others. */
    for (int pass = 0; pass < 2 && k < t->ncores; pass++) {
        for (int i = 0; i < t->ncores && k < nshards; i++) {
            int c = t->order[i];
            bool near = t->numa[c] && (int)t->numa[c]->os_index == os_node;
            if (near == (pass == 0))
                cores_out[k++] = c;
        }
    }
    for (int i = k; i < nshards; i++)
        cores_out[i] = cores_out[i % t->ncores];
    return nshards < t->ncores ? nshards : t->ncores;
}

static int valid(const struct topology *t, int core)
{
    return core >= 0 && core < t->ncores;
}

int topology_pin_thread(const struct topology *t, int core)
{
    hwloc_bitmap_t set;
    int rc = 0;

    if (!valid(t, core))
        return -EINVAL;
    set = hwloc_bitmap_dup(t->cores[core]->cpuset);
    if (!set)
        return -ENOMEM;
    /* One PU, not the whole core: the scheduler must not move the shard
     * between hyperthreads (hwloc keeps the first PU). */
    hwloc_bitmap_singlify(set);
    if (hwloc_set_cpubind(t->h, set, HWLOC_CPUBIND_THREAD) < 0)
        rc = errno ? -errno : -EINVAL;
    hwloc_bitmap_free(set);
    return rc;
}

int topology_core_cpu(const struct topology *t, int core)
{
    if (!valid(t, core))
        return -EINVAL;
    return hwloc_bitmap_first(t->cores[core]->cpuset);
}

int topology_numa_node_of(const struct topology *t, int core)
{
    if (!valid(t, core))
        return -EINVAL;
    return t->numa[core] ? (int)t->numa[core]->logical_index : 0;
}

void *topology_alloc_local(const struct topology *t, int core, size_t len)
{
    void *p;

    if (!valid(t, core) || len == 0) {
        errno = EINVAL;
        return NULL;
    }
    /* Not HWLOC_MEMBIND_STRICT, on purpose: hwloc then binds with Linux's
     * MPOL_PREFERRED_MANY (MPOL_BIND only when strict), so the pages come
     * from the local node while it has free memory and from another node
     * after, rather than the OOM killer; and when mbind
     * is missing or refused hwloc returns the pages unbound instead of NULL.
     * Nothing is touched here: the first write faults pages in per policy. */
    if (t->numa[core]) {
        p = hwloc_alloc_membind(t->h, len, t->numa[core]->nodeset,
                                HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET);
        if (p || errno == ENOMEM)
            return p;
    }
    return hwloc_alloc(t->h, len);   /* e.g. EINVAL from an odd nodeset */
}

void topology_free(const struct topology *t, void *p, size_t len)
{
    if (p)
        hwloc_free(t->h, p, len);
}

static const char *plural(int n)
{
    return n == 1 ? "" : "s";
}

void topology_describe(const struct topology *t, char *buf, size_t len)
{
    int npkg = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PACKAGE);
    int nnuma = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
    int npu = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PU);
    const struct hwloc_topology_support *s = hwloc_topology_get_support(t->h);
    int membind = s && s->membind->alloc_membind && s->membind->bind_membind;

    if (!buf || len == 0)
        return;
    snprintf(buf, len, "%d package%s, %d NUMA node%s, %d core%s, %d PU%s, membind %s",
             npkg, plural(npkg), nnuma, plural(nnuma), t->ncores, plural(t->ncores),
             npu, plural(npu), membind ? "yes" : "no");
}
