/* part_faults.c - this node's partitions that went offline for a disk
 * fault (storage/log_fault.c), as their shards reported them
 * (CTL_PARTITION_FAULT): marked offline in every metadata snapshot the
 * control thread publishes, so that Metadata from any shard answers
 * KAFKA_STORAGE_ERROR with no leader for them, and listed with the reason
 * by DescribeConfigs' read-only topic entry "sluice.partition.offline",
 * which `sluice topics describe` shows.
 *
 * Kept in memory only: a restart forgets them, and a partition whose log
 * opens again serves again (Kafka brings a failed log directory back the
 * same way). An offline partition that is deleted leaves the table (its
 * shard clears it), so a topic created again under the name starts online.
 * A table the control thread alone touches; never on any data path. */
#include "control/control_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct part_fault_entry {
    char *topic;
    int32_t partition;
    int64_t since_ms;
    char reason[CTL_FAULT_REASON_MAX];
};

static int find(const struct part_faults *t, const char *topic, int32_t partition)
{
    for (int i = 0; i < t->n; i++)
        if (t->v[i].partition == partition && strcmp(t->v[i].topic, topic) == 0)
            return i;
    return -1;
}

bool part_faults_update(struct part_faults *t, const struct ctl_partition_fault *f)
{
    if (!f->topic)
        return false;
    int i = find(t, f->topic, f->partition);
    if (f->cleared) {
        if (i < 0)
            return false;
        free(t->v[i].topic);
        t->v[i] = t->v[--t->n];
        return true;
    }
    if (i >= 0)
        return false; /* the first fault stays the reason */
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        struct part_fault_entry *v = realloc(t->v, (size_t)cap * sizeof(*v));
        if (!v)
            return false;
        t->v = v;
        t->cap = cap;
    }
    char *name = strdup(f->topic);
    if (!name)
        return false;
    struct part_fault_entry *e = &t->v[t->n++];
    e->topic = name;
    e->partition = f->partition;
    e->since_ms = f->since_ms;
    snprintf(e->reason, sizeof(e->reason), "%s", f->reason ? f->reason : "");
    return true;
}

void part_faults_mark(const struct part_faults *t, struct md_snapshot *md)
{
    for (int i = 0; i < t->n; i++) {
        const struct md_topic *mt = md_find_topic(md, t->v[i].topic, strlen(t->v[i].topic));
        if (!mt)
            continue;
        for (int32_t k = 0; k < mt->npartitions; k++)
            if (mt->partitions[k].index == t->v[i].partition)
                mt->partitions[k].offline = 1; /* the snapshot is ours until posted */
    }
}

size_t part_faults_format(const struct part_faults *t, const char *topic, char *buf,
                          size_t len)
{
    size_t o = 0;
    if (len > 0)
        buf[0] = '\0';
    for (int i = 0; i < t->n; i++) {
        const struct part_fault_entry *e = &t->v[i];
        if (strcmp(e->topic, topic) != 0)
            continue;
        int k = snprintf(o < len ? buf + o : NULL, o < len ? len - o : 0,
                         "%spartition=%" PRId32 " since.ms=%" PRId64 " %s", o ? "; " : "",
                         e->partition, e->since_ms, e->reason);
        if (k > 0)
            o += (size_t)k;
    }
    return o;
}

void part_faults_free(struct part_faults *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->v[i].topic);
    free(t->v);
    memset(t, 0, sizeof(*t));
}
