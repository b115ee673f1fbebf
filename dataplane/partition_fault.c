/* partition_fault.c - a shard's partitions that went offline for a disk
 * fault (storage/log_fault.c: Kafka's log-directory failure, one
 * partition at a time here).
 *
 *   a read or write of its log fails with EIO (or another unexpected
 *   errno): in storage (log_read, ListOffsets, the cleaner, a write or
 *   fdatasync), or here for a fetch's splice or a TLS connection's read
 *   (partition_read_failed)
 *     -> the log fails for good and calls partition_on_log_fault on the
 *        shard: p->offline is set, the shard's gauge counts it, and the
 *        control thread is told (CTL_PARTITION_FAULT), which publishes it
 *        in Metadata (KAFKA_STORAGE_ERROR, no leader) and in
 *        DescribeConfigs ("sluice.partition.offline")
 *     -> from then on Produce, Fetch, ListOffsets, OffsetForLeaderEpoch
 *        and DeleteRecords answer KAFKA_STORAGE_ERROR for it (one flag
 *        check per partition per request); every other partition serves
 *   a partition that fails to open for such an error is reported the
 *   same way (it is not served at all)
 *   deleting an offline partition clears it at the control thread
 *
 * Back online: only by a restart (as Kafka): the log then opens with a
 * full recovery (no clean-shutdown marker was left) and serves if its
 * files read.
 *
 * Never: touches the data path of partitions that are fine, or retries
 * the failed read. */
#include "dataplane/shard_private.h"
#include "slog/slog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tells the control thread; a report lost to memory pressure leaves only
 * Metadata and describe behind (the partition still refuses). */
static void post_fault(struct shard *s, const char *topic, int32_t partition, bool cleared,
                       const char *reason)
{
    size_t tl = strlen(topic) + 1, rl = strlen(reason) + 1;
    struct ctl_msg *m = calloc(1, sizeof(*m) + tl + rl);
    if (!m)
        return;
    m->op = CTL_PARTITION_FAULT;
    m->shard = s->cfg.index;
    char *text = (char *)(m + 1);
    memcpy(text, topic, tl);
    memcpy(text + tl, reason, rl);
    m->u.fault.topic = text;
    m->u.fault.reason = text + tl;
    m->u.fault.partition = partition;
    m->u.fault.cleared = cleared;
    m->u.fault.since_ms = s->now_ms;
    shard_post_ctl(s, m);
}

static void fault_reason(char *buf, size_t len, const char *file, const char *op, int err)
{
    int n = snprintf(buf, len, "file=%.380s op=%.23s errno=%d error=%.60s", file, op, -err,
                     strerror(-err));
    (void)n; /* a longer path is cut: the log line has it whole */
}

void partition_on_log_fault(void *ctx, struct log *log)
{
    struct shard *s = ctx;
    const struct log_fault *f = log_fault(log);
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *p = s->parts[b]; p; p = p->next) {
            if (p->log != log || p->offline)
                continue;
            char reason[CTL_FAULT_REASON_MAX];
            p->offline = true;
            s->metrics.partitions_offline++;
            s->metrics.storage_faults++;
            fault_reason(reason, sizeof(reason), f->file, f->op, f->err);
            slog(SLOG_ERROR, "shard",
                 "partition offline shard=%d partition=%s-%d %s (a disk fault: produce, "
                 "fetch and list offsets answer KAFKA_STORAGE_ERROR until a restart reads "
                 "its log; other partitions serve on)",
                 s->cfg.index, p->topic, p->index, reason);
            post_fault(s, p->topic, p->index, false, reason);
            return;
        }
}

bool partition_read_failed(struct shard *s, int fd, int err, const char *op)
{
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (struct partition *p = s->parts[b]; p; p = p->next)
            if (p->log && log_read_failed(p->log, fd, err, op))
                return true;
    return false;
}

void partition_open_failed(struct shard *s, struct partition *p, int err)
{
    char reason[CTL_FAULT_REASON_MAX], dir[PATH_MAX];
    if (!log_errno_is_fault(err))
        return;
    s->metrics.storage_faults++;
    snprintf(dir, sizeof(dir), "%s/%s-%d", s->cfg.data_dir, p->topic, p->index);
    fault_reason(reason, sizeof(reason), dir, "open", err);
    slog(SLOG_ERROR, "shard", "partition offline shard=%d partition=%s-%d %s",
         s->cfg.index, p->topic, p->index, reason);
    post_fault(s, p->topic, p->index, false, reason);
}

void partition_fault_forget(struct shard *s, struct partition *p)
{
    if (p->log)
        log_set_fault_handler(p->log, NULL, NULL); /* it may leave the shard's thread */
    if (p->offline) {
        p->offline = false;
        s->metrics.partitions_offline--;
    } else if (p->log) {
        return; /* served and sound: nothing to clear */
    }
    post_fault(s, p->topic, p->index, true, ""); /* offline, or failed to open */
}

void partition_fault_clear(struct shard *s, const char *topic, int32_t partition)
{
    post_fault(s, topic, partition, true, "");
}
