/* sys.h - the system calls the storage engine's write path makes, routed
 * through one table so tests can make them fail (a full disk, an I/O
 * error) the way SQLite's aSyscall[] does. Production code never changes
 * the table. */
#ifndef SLUICE_STORAGE_SYS_H
#define SLUICE_STORAGE_SYS_H

#include <sys/types.h>
#include <sys/uio.h>

struct io_uring_sqe;

struct storage_syscalls {
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
    int (*fdatasync)(int fd);
    /* Prepares the asynchronous fdatasync submitted on the caller's ring. */
    void (*prep_fdatasync)(struct io_uring_sqe *sqe, int fd);
};

extern struct storage_syscalls storage_sys;

#endif
