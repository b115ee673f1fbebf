/* sys.h - every durable system call of the storage engine and of the
 * control thread's own logs, routed through one table (SQLite's aSyscall[]).
 *
 * What goes through it: anything that creates, changes, names or syncs
 * bytes that must survive a crash - open/openat that may create or write a
 * file, close of such a descriptor, pwrite/pwritev, ftruncate, fallocate,
 * rename, unlink, mkdir, rmdir, fdatasync/fsync of files and of
 * directories, and the fdatasync submitted on a shard's io_uring. Plain
 * reads (pread, a read-only open of a file that is only read and closed,
 * opendir) need not: they change nothing on disk.
 *
 * How to use it (every new on-disk file follows these rules):
 *   - call storage_sys.open/.pwrite/.fdatasync/... instead of the libc
 *     function; they behave exactly like it (-1 and errno on failure);
 *   - a descriptor opened through storage_sys.open is closed through
 *     storage_sys.close, never close(): the crash simulation keys its
 *     bookkeeping by descriptor and checks it (it aborts on a mismatch);
 *   - after creating, renaming or unlinking a name that must persist, sync
 *     its directory with storage_sync_dir();
 *   - an fdatasync on a ring is prepared with storage_sys.prep_fdatasync,
 *     which also sets the SQE's user data to op: the table sees the
 *     completion before op does (a simulated disk counts the bytes durable
 *     only once the sync completed, as the kernel would); a write on a
 *     ring likewise with storage_sys.prep_writev (the bytes exist, unsynced,
 *     once it completed).
 *
 * Who changes the table: tests only. Production code never does.
 *   - fault injection (tests/unit/test_faults.c): replace one entry with a
 *     function that fails the Nth call (ENOSPC, EIO) or writes short;
 *   - crash simulation (tests/lib/crashsim.h, the model is SQLite's
 *     test6.c): crashsim_install() swaps in a table that passes every call
 *     through to the real file system and remembers, per file, the writes
 *     and truncations since its last fsync/fdatasync, and per directory the
 *     creates, renames, unlinks, mkdirs and rmdirs since its last fsync. At
 *     a simulated power cut (the Nth call, chosen by the test) every later
 *     call fails with EIO, and crashsim_power_cut() rewrites the files as a
 *     disk could have kept them: each unsynced write kept whole, torn at a
 *     random 512-byte boundary, or dropped, independently of the others (so
 *     unsynced writes are partly reordered), each unsynced directory change
 *     kept or lost. The test then reopens everything - recovery - and
 *     checks that what was reported durable before the cut is all there.
 *     See tests/unit/test_powercut.c for the workload and its checks.
 */
#ifndef SLUICE_STORAGE_SYS_H
#define SLUICE_STORAGE_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct io_uring_sqe;
struct io_op;

struct storage_syscalls {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t offset);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
    int (*ftruncate)(int fd, off_t length);
    int (*fallocate)(int fd, int mode, off_t offset, off_t len);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);                 /* files and directories */
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    int (*rmdir)(const char *path);
    /* Reads of segment files on the serving path (batch headers, a
     * ListOffsets scan): not durable, here so that tests can fail them
     * (tests/unit/test_log_fault.c); crashsim passes them through. */
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t offset);
    /* Prepares an asynchronous fdatasync of fd on the caller's ring and
     * sets the SQE's user data to op (whose complete() gets the result). */
    void (*prep_fdatasync)(struct io_uring_sqe *sqe, int fd, struct io_op *op);
    /* Prepares an asynchronous pwritev of iov (n entries, which stay valid
     * until it completes) at offset on the caller's ring, with user data
     * op, as prep_fdatasync does. A short write completes short. */
    void (*prep_writev)(struct io_uring_sqe *sqe, int fd, const struct iovec *iov, unsigned n,
                        uint64_t offset, struct io_op *op);
};

extern struct storage_syscalls storage_sys;

/* Helpers built on the table (so they are simulated and failed alike).
 * Each returns 0 or a negative errno. */

/* Writes all of buf at offset, retrying short writes and EINTR. */
int storage_pwrite_all(int fd, const void *buf, size_t len, off_t offset);

/* fsync of the directory dir: makes the names created, renamed or
 * removed in it durable. */
int storage_sync_dir(const char *dir);

/* mkdir that succeeds when dir exists. A directory it makes is durable:
 * its parent is synced, or a power cut could take the new directory and
 * everything in it. */
int storage_mkdir(const char *dir, mode_t mode);

/* Removes dir and everything in it, then syncs dir's parent so that the
 * removal survives a power cut (also when dir was gone already: an earlier
 * removal may not have been synced). A missing dir is not an error. */
int storage_remove_dir(const char *dir);

#endif
