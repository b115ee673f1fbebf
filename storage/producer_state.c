/* producer_state.c - per-partition producer state (see producer_state.h).
 *
 * The table: open addressing with linear probing, at most half full,
 * deletion by backward shift (no tombstones), so a lookup touches one or
 * two cache lines. The transaction queue: a ring in order of first
 * offset, which is the order transactions open in (appends are in offset
 * order); completion marks an entry in place and the head is popped once
 * its marker is durable. */
#include "storage/producer_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PS_MIN_CAP 16u
#define PS_MIN_TXNS 8u

static uint32_t pid_hash(int64_t pid)
{
    uint64_t x = (uint64_t)pid;
    x ^= x >> 33; /* murmur3's finaliser: producer ids are sequential */
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

void producer_state_init(struct producer_state *ps)
{
    memset(ps, 0, sizeof(*ps));
}

void producer_state_free(struct producer_state *ps)
{
    free(ps->tab);
    free(ps->txns);
    producer_state_init(ps);
}

void producer_state_clear(struct producer_state *ps)
{
    for (uint32_t i = 0; i < ps->cap; i++)
        ps->tab[i].pid = -1;
    ps->count = 0;
    ps->txn_head = 0;
    ps->txn_count = 0;
}

static struct producer_entry *slot_of(const struct producer_state *ps, int64_t pid)
{
    if (ps->cap == 0)
        return NULL;
    uint32_t mask = ps->cap - 1;
    for (uint32_t i = pid_hash(pid) & mask;; i = (i + 1) & mask) {
        struct producer_entry *e = &ps->tab[i];
        if (e->pid == pid || e->pid < 0)
            return e;
    }
}

struct producer_entry *producer_state_find(const struct producer_state *ps, int64_t pid)
{
    struct producer_entry *e = slot_of(ps, pid);
    return e && e->pid == pid ? e : NULL;
}

static int grow(struct producer_state *ps)
{
    uint32_t ncap = ps->cap ? ps->cap * 2 : PS_MIN_CAP;
    struct producer_entry *nt = malloc(sizeof(*nt) * ncap);
    if (!nt)
        return -ENOMEM;
    for (uint32_t i = 0; i < ncap; i++)
        nt[i].pid = -1;
    struct producer_state old = *ps;
    ps->tab = nt;
    ps->cap = ncap;
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.tab[i].pid >= 0)
            *slot_of(ps, old.tab[i].pid) = old.tab[i];
    free(old.tab);
    return 0;
}

static void entry_reset(struct producer_entry *e, int64_t pid)
{
    memset(e, 0, sizeof(*e));
    e->pid = pid;
    e->epoch = PRODUCER_NO_EPOCH;
    e->coordinator_epoch = -1;
    e->last_timestamp = -1;
    e->txn_first_offset = -1;
}

struct producer_entry *producer_state_get(struct producer_state *ps, int64_t pid)
{
    struct producer_entry *e = producer_state_find(ps, pid);
    if (e)
        return e;
    if ((ps->count + 1) * 2 > ps->cap && grow(ps) < 0)
        return NULL;
    if (!(e = slot_of(ps, pid)))
        return NULL;
    entry_reset(e, pid);
    ps->count++;
    return e;
}

void producer_state_remove(struct producer_state *ps, int64_t pid)
{
    struct producer_entry *e = producer_state_find(ps, pid);
    if (!e)
        return;
    uint32_t mask = ps->cap - 1, hole = (uint32_t)(e - ps->tab);
    /* Backward shift: move later members of the cluster into the hole
     * when their home slot is at or before it. */
    for (uint32_t i = (hole + 1) & mask; ps->tab[i].pid >= 0; i = (i + 1) & mask) {
        uint32_t home = pid_hash(ps->tab[i].pid) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            ps->tab[hole] = ps->tab[i];
            hole = i;
        }
    }
    ps->tab[hole].pid = -1;
    ps->count--;
}

int32_t producer_last_seq(int32_t first_seq, int32_t last_offset_delta)
{
    /* In 64 bits: a damaged or hostile batch may carry a negative delta
     * (INT32_MAX - delta would overflow). Past INT32_MAX it wraps to 0. */
    int64_t last = (int64_t)first_seq + last_offset_delta;
    if (last > INT32_MAX)
        last -= (int64_t)INT32_MAX + 1;
    return (int32_t)last;
}

const struct producer_batch *producer_entry_last(const struct producer_entry *e)
{
    if (e->nbatches == 0)
        return NULL;
    return &e->batches[(e->head + e->nbatches - 1) % PRODUCER_BATCHES_KEPT];
}

static bool in_sequence(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

void producer_state_check(const struct producer_state *ps, const struct batch_header *h,
                          struct producer_check *out)
{
    const struct producer_entry *e = producer_state_find(ps, h->producer_id);
    int32_t first = h->base_sequence;
    int32_t last = producer_last_seq(first, h->last_offset_delta);

    memset(out, 0, sizeof(*out));
    out->verdict = PRODUCER_APPEND;
    if (!e || e->epoch == PRODUCER_NO_EPOCH)
        goto txn; /* nothing known: any sequence goes */
    if (h->producer_epoch == e->epoch) {
        for (int i = 0; i < e->nbatches; i++) {
            const struct producer_batch *b = &e->batches[(e->head + i) % PRODUCER_BATCHES_KEPT];
            if (b->first_seq == first && b->last_seq == last) {
                out->verdict = PRODUCER_DUPLICATE;
                out->dup_first_offset = b->first_offset;
                out->dup_last_offset = b->last_offset;
                out->dup_timestamp = b->timestamp;
                return;
            }
        }
    }
    if (h->producer_epoch < e->epoch) {
        out->error = PRODUCER_ERR_INVALID_PRODUCER_EPOCH;
        goto reject;
    }
    if (h->producer_epoch != e->epoch) {
        if (first != 0) {
            out->error = PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE;
            goto reject;
        }
    } else {
        /* An epoch with no batch kept (a marker moved the producer to
         * it) starts at sequence 0, as in Kafka. */
        const struct producer_batch *lb = producer_entry_last(e);
        if (!in_sequence(lb ? lb->last_seq : PRODUCER_NO_SEQUENCE, first)) {
            out->error = PRODUCER_ERR_OUT_OF_ORDER_SEQUENCE;
            goto reject;
        }
    }
txn:
    if (e && e->txn_first_offset >= 0 && !(h->attributes & BATCH_ATTR_TRANSACTIONAL)) {
        out->error = PRODUCER_ERR_INVALID_TXN_STATE;
        goto reject;
    }
    return;
reject:
    out->verdict = PRODUCER_REJECT;
}

/* Moves e to epoch, dropping its kept batches when it changes. */
static void entry_set_epoch(struct producer_entry *e, int16_t epoch)
{
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->nbatches = 0;
        e->head = 0;
    }
}

static int txn_grow(struct producer_state *ps)
{
    uint32_t ncap = ps->txn_cap ? ps->txn_cap * 2 : PS_MIN_TXNS;
    struct producer_txn *nt = malloc(sizeof(*nt) * ncap);
    if (!nt)
        return -ENOMEM;
    for (uint32_t i = 0; i < ps->txn_count; i++)
        nt[i] = ps->txns[(ps->txn_head + i) & (ps->txn_cap - 1)];
    free(ps->txns);
    ps->txns = nt;
    ps->txn_cap = ncap;
    ps->txn_head = 0;
    return 0;
}

static int txn_push(struct producer_state *ps, int64_t pid, int64_t first_offset)
{
    if (ps->txn_count == ps->txn_cap && txn_grow(ps) < 0)
        return -ENOMEM;
    /* Keep the ring sorted by first offset: appends come in order, a
     * snapshot's entries may not. */
    uint32_t mask = ps->txn_cap - 1, n = ps->txn_count;
    while (n > 0 && ps->txns[(ps->txn_head + n - 1) & mask].first_offset > first_offset) {
        ps->txns[(ps->txn_head + n) & mask] = ps->txns[(ps->txn_head + n - 1) & mask];
        n--;
    }
    ps->txns[(ps->txn_head + n) & mask] = (struct producer_txn){ pid, first_offset, -1 };
    ps->txn_count++;
    return 0;
}

int producer_state_apply(struct producer_state *ps, const struct batch_header *h)
{
    struct producer_entry *e = producer_state_get(ps, h->producer_id);
    if (!e)
        return -ENOMEM;
    entry_set_epoch(e, h->producer_epoch);
    struct producer_batch b = {
        .first_seq = h->base_sequence,
        .last_seq = producer_last_seq(h->base_sequence, h->last_offset_delta),
        .first_offset = h->base_offset,
        .last_offset = batch_last_offset(h),
        .timestamp = h->max_timestamp,
    };
    if (e->nbatches == PRODUCER_BATCHES_KEPT) {
        e->head = (uint8_t)((e->head + 1) % PRODUCER_BATCHES_KEPT);
        e->nbatches--;
    }
    e->batches[(e->head + e->nbatches) % PRODUCER_BATCHES_KEPT] = b;
    e->nbatches++;
    e->last_timestamp = h->max_timestamp;
    if ((h->attributes & BATCH_ATTR_TRANSACTIONAL) && e->txn_first_offset < 0) {
        if (txn_push(ps, e->pid, h->base_offset) < 0)
            return -ENOMEM;
        e->txn_first_offset = h->base_offset;
    }
    return 0;
}

/* The LSO right after a transaction completed: the first offset of the
 * oldest other transaction still open, else one past the marker (Kafka's
 * ProducerStateManager.lastStableOffset). */
static int64_t lso_after(const struct producer_state *ps, int64_t pid, int64_t marker)
{
    uint32_t mask = ps->txn_cap - 1;
    for (uint32_t i = 0; i < ps->txn_count; i++) {
        const struct producer_txn *t = &ps->txns[(ps->txn_head + i) & mask];
        if (t->pid != pid && t->marker_offset < 0)
            return t->first_offset;
    }
    return marker + 1;
}

int producer_state_reserve(struct producer_state *ps, int64_t pid, bool txn)
{
    if (!producer_state_get(ps, pid))
        return -ENOMEM;
    if (!txn || ps->txn_count < ps->txn_cap)
        return 0;
    return txn_grow(ps);
}

int producer_state_check_marker(const struct producer_state *ps, int64_t pid, int16_t epoch,
                                int32_t coordinator_epoch)
{
    const struct producer_entry *e = producer_state_find(ps, pid);
    if (e && epoch < e->epoch)
        return PRODUCER_ERR_INVALID_PRODUCER_EPOCH;
    if (e && coordinator_epoch < e->coordinator_epoch)
        return PRODUCER_ERR_COORDINATOR_FENCED;
    return 0;
}

int producer_state_end_txn(struct producer_state *ps, int64_t pid, int16_t epoch,
                           int32_t coordinator_epoch, int64_t offset, int64_t timestamp,
                           bool commit, struct producer_completed_txn *done)
{
    struct producer_entry *e = producer_state_get(ps, pid);
    if (!e)
        return -ENOMEM;
    int rc = 0;
    if (e->txn_first_offset >= 0) {
        uint32_t mask = ps->txn_cap - 1;
        for (uint32_t i = 0; i < ps->txn_count; i++) {
            struct producer_txn *t = &ps->txns[(ps->txn_head + i) & mask];
            if (t->pid == pid && t->marker_offset < 0) {
                t->marker_offset = offset;
                break;
            }
        }
        *done = (struct producer_completed_txn){
            .pid = pid, .first_offset = e->txn_first_offset, .marker_offset = offset,
            .last_stable_offset = lso_after(ps, pid, offset), .aborted = !commit };
        rc = 1;
    }
    entry_set_epoch(e, epoch);
    e->coordinator_epoch = coordinator_epoch;
    e->last_timestamp = timestamp;
    e->txn_first_offset = -1;
    e->verify_guard = 0;
    return rc;
}

int64_t producer_state_lso(struct producer_state *ps, int64_t durable_end)
{
    uint32_t mask = ps->txn_cap - 1;
    while (ps->txn_count > 0) {
        const struct producer_txn *t = &ps->txns[ps->txn_head & mask];
        if (t->marker_offset < 0 || t->marker_offset >= durable_end)
            return t->first_offset < durable_end ? t->first_offset : durable_end;
        ps->txn_head = (ps->txn_head + 1) & mask;
        ps->txn_count--;
    }
    return durable_end;
}

int64_t producer_state_stable_end(const struct producer_state *ps, int64_t durable_end)
{
    uint32_t mask = ps->txn_cap - 1;
    for (uint32_t i = 0; i < ps->txn_count; i++) {
        const struct producer_txn *t = &ps->txns[(ps->txn_head + i) & mask];
        if (t->marker_offset < 0 || t->marker_offset >= durable_end)
            return t->first_offset < durable_end ? t->first_offset : durable_end;
    }
    return durable_end;
}

int64_t producer_state_first_open_txn(const struct producer_state *ps)
{
    uint32_t mask = ps->txn_cap - 1;
    for (uint32_t i = 0; i < ps->txn_count; i++) {
        const struct producer_txn *t = &ps->txns[(ps->txn_head + i) & mask];
        if (t->marker_offset < 0)
            return t->first_offset;
    }
    return -1;
}

int producer_state_expire(struct producer_state *ps, int64_t now_ms, int64_t expiration_ms)
{
    int n = 0;
    for (uint32_t i = 0; i < ps->cap;) {
        const struct producer_entry *e = &ps->tab[i];
        if (e->pid >= 0 && e->txn_first_offset < 0 && e->verify_guard == 0 &&
            now_ms - e->last_timestamp >= expiration_ms) {
            producer_state_remove(ps, e->pid);
            n++;
            continue; /* the shift may have moved another entry here */
        }
        i++;
    }
    return n;
}

void producer_state_each(const struct producer_state *ps,
                         void (*fn)(void *ctx, const struct producer_entry *e), void *ctx)
{
    for (uint32_t i = 0; i < ps->cap; i++)
        if (ps->tab[i].pid >= 0)
            fn(ctx, &ps->tab[i]);
}

int producer_state_load(struct producer_state *ps, const struct producer_entry *in)
{
    struct producer_entry *e = producer_state_get(ps, in->pid);
    if (!e)
        return -ENOMEM;
    *e = *in;
    e->verify_guard = 0;
    if (e->txn_first_offset >= 0 && txn_push(ps, e->pid, e->txn_first_offset) < 0)
        return -ENOMEM;
    return 0;
}
