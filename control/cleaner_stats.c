/* cleaner_stats.c - the compaction figures of every compacted partition,
 * as the shards that own them last reported them (CTL_CLEANER_STATS), for
 * DescribeConfigs' read-only "sluice.cleaner.stats" topic entry, which
 * `sluice topics describe` shows. A table the control thread alone
 * touches; never on any data path. */
#include "control/control_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cleaner_stats_entry {
    char *topic;
    int32_t partition;
    struct log_clean_info info;
};

void cleaner_stats_update(struct cleaner_stats *t, const struct ctl_cleaner_stats *s)
{
    if (!s->topic)
        return;
    for (int i = 0; i < t->n; i++)
        if (t->v[i].partition == s->partition && strcmp(t->v[i].topic, s->topic) == 0) {
            t->v[i].info = s->info;
            return;
        }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        struct cleaner_stats_entry *v = realloc(t->v, (size_t)cap * sizeof(*v));
        if (!v)
            return;
        t->v = v;
        t->cap = cap;
    }
    char *name = strdup(s->topic);
    if (!name)
        return;
    t->v[t->n++] = (struct cleaner_stats_entry){ name, s->partition, s->info };
}

/* Like snprintf: writes at most len bytes (NUL included) and returns the
 * length the whole text needs, so that a caller sizes its buffer to a
 * compacted topic of any partition count (Connect's offsets topic has 25). */
size_t cleaner_stats_format(const struct cleaner_stats *t, const char *topic, char *buf,
                            size_t len)
{
    size_t o = 0;
    if (len > 0)
        buf[0] = '\0';
    for (int i = 0; i < t->n; i++) {
        const struct cleaner_stats_entry *e = &t->v[i];
        if (strcmp(e->topic, topic) != 0)
            continue;
        int k = snprintf(o < len ? buf + o : NULL, o < len ? len - o : 0,
                         "%spartition=%" PRId32 " dirty.ratio=%.3f last.clean.ms=%" PRId64
                         " cleans=%" PRId64 " bytes.cleaned=%" PRIu64 " bytes.written=%" PRIu64
                         " records.removed=%" PRId64 " time.ms=%" PRId64 " error=%d",
                         o ? "; " : "", e->partition, e->info.dirty_ratio,
                         e->info.last_clean_ms, e->info.cleans, e->info.bytes_read,
                         e->info.bytes_written, e->info.records_removed,
                         e->info.clean_ns / 1000000, e->info.last_error);
        if (k > 0)
            o += (size_t)k;
    }
    return o;
}

void cleaner_stats_free(struct cleaner_stats *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->v[i].topic);
    free(t->v);
    memset(t, 0, sizeof(*t));
}
