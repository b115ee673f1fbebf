/* io.c - running a storage-only io_uring (tools and tests; see io.h). */
#include "storage/io.h"

int io_ring_run_once(struct io_uring *ring)
{
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait(ring, 1);
    if (rc < 0)
        return rc;
    int n = 0;
    while (io_uring_peek_cqe(ring, &cqe) == 0) {
        io_op_dispatch(cqe);
        io_uring_cqe_seen(ring, cqe);
        n++;
    }
    return n;
}
