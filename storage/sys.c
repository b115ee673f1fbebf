/* sys.c - the storage engine's system call table (see sys.h). */
#include "storage/sys.h"

#include <liburing.h>
#include <unistd.h>

static void prep_fdatasync(struct io_uring_sqe *sqe, int fd)
{
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
}

struct storage_syscalls storage_sys = {
    .pwritev = pwritev,
    .fdatasync = fdatasync,
    .prep_fdatasync = prep_fdatasync,
};
