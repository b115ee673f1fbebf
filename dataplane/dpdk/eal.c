/* eal.c - DPDK's EAL started from a string of arguments (see eal.h). */
#include "dataplane/dpdk/eal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#define EAL_ARGS_MAX 64

static bool eal_done; /* rte_eal_init may run once per process */

int dpdk_eal_start(const char *prog, const char *args, bool keep_affinity, char *err,
                   size_t errlen)
{
    static char buf[4096];
    char *argv[EAL_ARGS_MAX + 1];
    int argc = 0;
    if (eal_done) {
        snprintf(err, errlen, "the DPDK EAL was already initialised");
        return -EALREADY;
    }
    if (snprintf(buf, sizeof(buf), "%s", args ? args : "") >= (int)sizeof(buf)) {
        snprintf(err, errlen, "DPDK EAL arguments longer than %zu bytes", sizeof(buf) - 1);
        return -E2BIG;
    }
    argv[argc++] = (char *)prog;
    for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t;
         t = strtok_r(NULL, " \t", &save)) {
        if (argc == EAL_ARGS_MAX) {
            snprintf(err, errlen, "more than %d DPDK EAL arguments", EAL_ARGS_MAX - 1);
            return -E2BIG;
        }
        argv[argc++] = t;
    }
    argv[argc] = NULL;
    cpu_set_t saved;
    bool have_saved = keep_affinity &&
                      pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
    int rc = rte_eal_init(argc, argv);
    if (have_saved)
        pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    if (rc < 0) {
        snprintf(err, errlen, "DPDK EAL init failed (%s): %s", args ? args : "",
                 rte_strerror(rte_errno));
        return -(rte_errno ? rte_errno : EINVAL);
    }
    eal_done = true;
    return 0;
}
