/* io.h - the completion convention of every io_uring user in sluice.
 *
 * Each submitted SQE carries a pointer to a struct io_op as its user_data;
 * whoever reaps the ring calls op->complete(op, cqe->res, cqe->flags). Storage submits
 * its writes and syncs this way on a ring owned by the caller (the shard),
 * so one ring drives a shard's sockets and files alike. */
#ifndef SLUICE_IO_H
#define SLUICE_IO_H

#include <liburing.h>

struct io_op {
    /* res and flags are the CQE's (flags: IORING_CQE_F_MORE, ...). */
    void (*complete)(struct io_op *op, int res, uint32_t flags);
};

/* Dispatches one completion to its io_op. */
static inline void io_op_dispatch(const struct io_uring_cqe *cqe)
{
    struct io_op *op = io_uring_cqe_get_data(cqe);
    if (op)
        op->complete(op, cqe->res, cqe->flags);
}

/* Submits what is queued, waits for at least one completion and
 * dispatches every completion ready. For tools and tests that own a ring
 * just for storage. Returns the number dispatched or a negative errno. */
int io_ring_run_once(struct io_uring *ring);

#endif
