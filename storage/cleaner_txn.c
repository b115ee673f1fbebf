/* cleaner_txn.c - the transactions of a clean: aborted data and the
 * markers that may go (see cleaner_txn.h; Kafka's
 * CleanedTransactionMetadata in LogCleaner.scala is the model). */
#include "storage/cleaner_txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void clean_txns_init(struct clean_txns *t, const struct aborted_txn *sorted, size_t n)
{
    memset(t, 0, sizeof(*t));
    t->aborted = sorted;
    t->naborted = n;
}

void clean_txns_free(struct clean_txns *t)
{
    free(t->open);
    memset(t, 0, sizeof(*t));
}

static int by_first_offset(const void *a, const void *b)
{
    const struct aborted_txn *x = a, *y = b;
    if (x->first_offset != y->first_offset)
        return x->first_offset < y->first_offset ? -1 : 1;
    return x->last_offset < y->last_offset ? -1 : x->last_offset > y->last_offset;
}

void clean_txns_sort(struct aborted_txn *v, size_t n)
{
    qsort(v, n, sizeof(*v), by_first_offset);
}

static struct clean_open_txn *find_open(struct clean_txns *t, int64_t pid)
{
    for (size_t i = 0; i < t->nopen; i++)
        if (t->open[i].pid == pid)
            return &t->open[i];
    return NULL;
}

static void remove_open(struct clean_txns *t, struct clean_open_txn *o)
{
    *o = t->open[--t->nopen];
}

static struct clean_open_txn *add_open(struct clean_txns *t, int64_t pid)
{
    struct clean_open_txn *o = find_open(t, pid);
    if (o)
        return o; /* a new transaction of pid replaces what was left open */
    if (t->nopen == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct clean_open_txn *p = realloc(t->open, cap * sizeof(*p));
        if (!p)
            return NULL;
        t->open = p;
        t->cap = cap;
    }
    return &t->open[t->nopen++];
}

/* Aborted transactions that began at or before offset are open from now. */
static int begin_aborted(struct clean_txns *t, int64_t offset)
{
    for (; t->next < t->naborted && t->aborted[t->next].first_offset <= offset; t->next++) {
        const struct aborted_txn *a = &t->aborted[t->next];
        struct clean_open_txn *o = add_open(t, a->pid);
        if (!o)
            return -ENOMEM;
        *o = (struct clean_open_txn){ .pid = a->pid, .entry = a, .observed = false };
    }
    return 0;
}

static int on_data(struct clean_txns *t, const struct batch_header *h,
                   enum clean_txn_fate *fate)
{
    struct clean_open_txn *o = find_open(t, h->producer_id);
    if (!o) {
        if (!(o = add_open(t, h->producer_id)))
            return -ENOMEM;
        *o = (struct clean_open_txn){ .pid = h->producer_id, .entry = NULL };
    }
    o->observed = true;
    *fate = o->entry ? CLEAN_TXN_ABORTED : CLEAN_TXN_NONE;
    return 0;
}

static void on_marker(struct clean_txns *t, const uint8_t *b, size_t len,
                      const struct batch_header *h, enum clean_txn_fate *fate,
                      const struct aborted_txn **entry)
{
    int16_t type;
    int32_t coordinator_epoch;
    if (batch_parse_marker(b, len, &type, &coordinator_epoch) < 0) {
        /* Empty (a marker an earlier clean emptied): done; a type this
         * broker does not know: kept as it is. */
        *fate = h->records_count == 0 ? CLEAN_TXN_MARKER_DONE : CLEAN_TXN_MARKER_KEEP;
        return;
    }
    /* Kept while data of its transaction was seen (whatever the marker
     * says: an index and a marker that disagree keep both). */
    struct clean_open_txn *o = find_open(t, h->producer_id);
    bool keep = o && o->observed;
    if (keep && o->entry && type == BATCH_CONTROL_ABORT)
        *entry = o->entry;
    *fate = keep ? CLEAN_TXN_MARKER_KEEP : CLEAN_TXN_MARKER_DONE;
    if (o)
        remove_open(t, o); /* the marker ends the producer's transaction */
}

int clean_txns_on_batch(struct clean_txns *t, const uint8_t *b, size_t len,
                        const struct batch_header *h, enum clean_txn_fate *fate,
                        const struct aborted_txn **entry)
{
    *fate = CLEAN_TXN_NONE;
    *entry = NULL;
    if (h->producer_id < 0 || !(h->attributes & BATCH_ATTR_TRANSACTIONAL))
        return 0;
    int rc = begin_aborted(t, batch_last_offset(h));
    if (rc < 0)
        return rc;
    /* An aborted transaction ends at its marker (the entry's last offset):
     * a batch of the producer past it is not that transaction's, even when
     * the marker itself is not seen (emptied or removed by an earlier
     * clean, or an entry that outlived it), so it never makes later data
     * of the producer count as aborted. */
    struct clean_open_txn *o = find_open(t, h->producer_id);
    if (o && o->entry && h->base_offset > o->entry->last_offset)
        remove_open(t, o);
    if (h->attributes & BATCH_ATTR_CONTROL)
        on_marker(t, b, len, h, fate, entry);
    else
        rc = on_data(t, h, fate);
    return rc;
}
