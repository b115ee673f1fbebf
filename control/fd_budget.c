/* fd_budget.c - whether this process has the file descriptors for more
 * partitions (issue 13), so that a CreateTopics or CreatePartitions that
 * would run it out is refused up front, with Kafka's POLICY_VIOLATION (what
 * Kafka answers a creation its limits refuse) and a message saying what is
 * needed, instead of failing part-way with EMFILE.
 *
 * What a partition holds (storage/segment.c, log_jobs.c): one descriptor,
 * its active segment's .log; one more while the active segment fills (the
 * pre-created next segment); one per sealed segment. The check: the
 * descriptors open now (/proc/self/fd) + those claimed by creations still
 * opening + FD_BUDGET_PER_PARTITION per new partition of this node + a
 * reserve (connections, the pre-created segments of filling partitions,
 * sealed segments to come, cleaners, peers) must stay within the soft
 * RLIMIT_NOFILE, which sluiced raised at start (server/main.c).
 *
 * Never: opens a log's files, or blocks beyond one readdir of
 * /proc/self/fd per creation (about a millisecond at 20,000). */
#include "control/control_private.h"
#include "control/fd_budget.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>

/* Descriptors open in this process, or -1 when /proc cannot tell. */
static int64_t fd_count_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int64_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int64_t fd_budget_reserve(int64_t limit)
{
    int64_t r = limit / 100 * FD_BUDGET_RESERVE_PERCENT;
    return r > FD_BUDGET_RESERVE_MIN ? r : FD_BUDGET_RESERVE_MIN;
}

int64_t fd_budget_local(const struct control *c, int64_t partitions, int32_t rf)
{
    int32_t nodes = md_place_nodes(&c->md);
    if (nodes <= 1)
        return partitions;
    int64_t r = rf < nodes ? rf : nodes; /* replicas spread over the nodes */
    return (partitions * r + nodes - 1) / nodes;
}

int16_t fd_budget_claim(struct control *c, int64_t n, bool validate_only, int64_t *op_claim,
                        char *why, size_t len)
{
    struct rlimit rl;
    if (n <= 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    int64_t open = fd_count_open();
    if (open < 0)
        return 0; /* no /proc: not checked (opens fail with EMFILE instead) */
    int64_t limit = (int64_t)rl.rlim_cur, reserve = fd_budget_reserve(limit);
    int64_t need = n * FD_BUDGET_PER_PARTITION;
    if (open + c->fd_claimed + need + reserve > limit) {
        snprintf(why, len,
                 "Not enough file descriptors for %" PRId64 " more partition(s) on this broker: "
                 "%" PRId64 " open, %" PRId64 " claimed by creations in progress, %d per "
                 "partition (one more while its segment fills and per sealed segment), %" PRId64
                 " kept in reserve, open files limit %" PRId64 ". Raise the limit "
                 "(LimitNOFILE= in the systemd unit, ulimit -n) and restart sluiced.",
                 n, open, c->fd_claimed, FD_BUDGET_PER_PARTITION, reserve, limit);
        return KERR_POLICY_VIOLATION;
    }
    if (!validate_only) {
        c->fd_claimed += n;
        *op_claim += n;
    }
    return 0;
}

void fd_budget_release(struct control *c, int64_t n)
{
    c->fd_claimed -= n;
}
