/* ring.h - a single-producer/single-consumer ring of pointers, the only way
 * sluice's threads talk to each other (one ring per direction per thread pair).
 *
 * Contract, carried by the spsc_ prefix: exactly one thread ever enqueues and
 * exactly one thread ever dequeues. Neither side blocks, allocates, or copies
 * what the pointers point to; ownership of an object passes with its pointer.
 *
 * Layout (DPDK rte_ring, liburing): capacity is a power of two; tail (next
 * slot to write) and head (next slot to read) run freely over all of unsigned
 * and are masked only to index, so tail - head is the count even across the
 * wrap at UINT_MAX and all capacity slots are usable. The read-only fields,
 * the producer's fields and the consumer's fields sit on three separate cache
 * lines; each side keeps a private copy of the other's index and reloads it
 * (one shared cache-line read) only when the copy says full or empty.
 *
 * Memory order: the producer writes slots, then release-stores tail; the
 * consumer acquire-loads tail, reads slots, then release-stores head; the
 * producer acquire-loads head before writing over those slots again. The
 * slots themselves are plain memory, ordered by those two pairs.
 *
 * The struct is aligned to 64 bytes: embed it or use aligned_alloc().
 *
 * Why numa/: the ring is how a thread on one core hands work to a thread on
 * another (shards and the control thread alike), so it lives with the
 * topology and pinning that place those threads, in the one folder every
 * other may depend on (DESIGN.md: everything -> numa). In dataplane/ it
 * made control/ include the dataplane, against the layering. */
#ifndef SLUICE_NUMA_RING_H
#define SLUICE_NUMA_RING_H

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define SPSC_CACHE_LINE 64

struct spsc_ring {
    /* read-only after init: shared clean by both sides */
    alignas(SPSC_CACHE_LINE) void **slots;
    unsigned mask;                /* capacity - 1 */

    /* producer's line: written by the producer only */
    alignas(SPSC_CACHE_LINE) _Atomic unsigned tail;
    unsigned head_cache;          /* the producer's last view of head */

    /* consumer's line: written by the consumer only */
    alignas(SPSC_CACHE_LINE) _Atomic unsigned head;
    unsigned tail_cache;          /* the consumer's last view of tail */
};

/* slots: capacity pointers owned by the caller, outliving the ring.
 * 0, or -EINVAL unless capacity is a power of two (1 .. 2^31). Call before
 * either thread starts (thread creation publishes the initial state). */
static inline int spsc_ring_init(struct spsc_ring *r, void **slots, unsigned capacity)
{
    if (!r || !slots || capacity == 0 || (capacity & (capacity - 1)) != 0)
        return -EINVAL;
    r->slots = slots;
    r->mask = capacity - 1;
    atomic_init(&r->tail, 0);
    r->head_cache = 0;
    atomic_init(&r->head, 0);
    r->tail_cache = 0;
    return 0;
}

static inline unsigned spsc_ring_capacity(const struct spsc_ring *r)
{
    return r->mask + 1;
}

/* Producer only. Enqueues up to n pointers in order; returns how many went
 * in (0 when full). */
static inline unsigned spsc_ring_enqueue_burst(struct spsc_ring *r, void *const *objs,
                                               unsigned n)
{
    /* relaxed: only this thread writes tail */
    unsigned tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    unsigned cap = r->mask + 1;
    unsigned free_slots = cap - (tail - r->head_cache);

    if (n == 0)
        return 0;
    if (free_slots < n) {
        /* acquire: pairs with the release store of head in
         * spsc_ring_dequeue_burst(), so the consumer's reads of the slots it
         * gave back happen before we overwrite them */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        free_slots = cap - (tail - r->head_cache);
        if (n > free_slots)
            n = free_slots;
        if (n == 0)
            return 0;
    }
    unsigned idx = tail & r->mask;
    unsigned first = cap - idx < n ? cap - idx : n;   /* up to the array's end */
    memcpy(&r->slots[idx], objs, first * sizeof(void *));
    memcpy(&r->slots[0], objs + first, (n - first) * sizeof(void *));
    /* release: pairs with the acquire load of tail in spsc_ring_dequeue_burst(),
     * so the slot writes above are visible before the new tail is */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

/* Consumer only. Dequeues up to n pointers in FIFO order into objs; returns
 * how many (0 when empty). */
static inline unsigned spsc_ring_dequeue_burst(struct spsc_ring *r, void **objs,
                                               unsigned n)
{
    /* relaxed: only this thread writes head */
    unsigned head = atomic_load_explicit(&r->head, memory_order_relaxed);
    unsigned avail = r->tail_cache - head;

    if (n == 0)
        return 0;
    if (avail < n) {
        /* acquire: pairs with the release store of tail in
         * spsc_ring_enqueue_burst(), so the producer's slot writes are
         * visible before we read the slots */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->tail_cache - head;
        if (n > avail)
            n = avail;
        if (n == 0)
            return 0;
    }
    unsigned cap = r->mask + 1;
    unsigned idx = head & r->mask;
    unsigned first = cap - idx < n ? cap - idx : n;
    memcpy(objs, &r->slots[idx], first * sizeof(void *));
    memcpy(objs + first, &r->slots[0], (n - first) * sizeof(void *));
    /* release: pairs with the acquire load of head in spsc_ring_enqueue_burst(),
     * so our slot reads above complete before the producer may reuse them */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

/* Producer only. 0, or -ENOBUFS when full. */
static inline int spsc_ring_enqueue(struct spsc_ring *r, void *obj)
{
    return spsc_ring_enqueue_burst(r, &obj, 1) ? 0 : -ENOBUFS;
}

/* Consumer only. 0 and *obj set, or -EAGAIN when empty. */
static inline int spsc_ring_dequeue(struct spsc_ring *r, void **obj)
{
    return spsc_ring_dequeue_burst(r, obj, 1) ? 0 : -EAGAIN;
}

/* Pointers in the ring: an upper bound when the producer asks, a lower bound
 * when the consumer asks (the other side moves it one way only meanwhile),
 * a snapshot clamped to capacity from any other thread. A hint for batching
 * and metrics: never read slots on its strength; dequeue does its own
 * acquire. */
static inline unsigned spsc_ring_count(const struct spsc_ring *r)
{
    /* acquire: pairs with the release store of head in
     * spsc_ring_dequeue_burst(), so the tail loaded next is at least the tail
     * the consumer had seen when it stored this head: tail - head never
     * underflows */
    unsigned head = atomic_load_explicit(&r->head, memory_order_acquire);
    /* relaxed: only a number is wanted, no slot is read */
    unsigned tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    unsigned n = tail - head;

    return n > r->mask + 1 ? r->mask + 1 : n;
}

static inline bool spsc_ring_empty(const struct spsc_ring *r)
{
    return spsc_ring_count(r) == 0;
}

#endif
