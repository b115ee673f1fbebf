/* sys.c - the storage engine's system call table and the helpers built on
 * it (see sys.h). The table holds the libc functions; only tests swap
 * them. Never: keeps state of its own, or calls libc directly for
 * anything durable. */
#include "storage/sys.h"
#include "storage/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return openat(dirfd, path, flags, mode);
}

static void sys_prep_fdatasync(struct io_uring_sqe *sqe, int fd, struct io_op *op)
{
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data(sqe, op);
}

static void sys_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov,
                            unsigned n, uint64_t offset, struct io_op *op)
{
    io_uring_prep_writev(sqe, fd, iov, n, offset);
    io_uring_sqe_set_data(sqe, op);
}

struct storage_syscalls storage_sys = {
    .open = sys_open,
    .openat = sys_openat,
    .close = close,
    .pwrite = pwrite,
    .pwritev = pwritev,
    .ftruncate = ftruncate,
    .fallocate = fallocate,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
    .rmdir = rmdir,
    .pread = pread,
    .prep_fdatasync = sys_prep_fdatasync,
    .prep_writev = sys_prep_writev,
};

int storage_pwrite_all(int fd, const void *buf, size_t len, off_t offset)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = storage_sys.pwrite(fd, p, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
        offset += n;
    }
    return 0;
}

int storage_sync_dir(const char *dir)
{
    int fd = storage_sys.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = storage_sys.fsync(fd) < 0 ? -errno : 0;
    storage_sys.close(fd);
    return rc;
}

/* The directory holding path's last component. */
static int parent_of(const char *path, char *out, size_t len)
{
    if (snprintf(out, len, "%s", path) >= (int)len)
        return -ENAMETOOLONG;
    char *slash = strrchr(out, '/');
    while (slash && slash > out && slash[1] == '\0') { /* "a/b/" */
        *slash = '\0';
        slash = strrchr(out, '/');
    }
    if (slash == out)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(out, len, ".");
    return 0;
}

int storage_mkdir(const char *dir, mode_t mode)
{
    char parent[PATH_MAX];
    int rc = storage_sys.mkdir(dir, mode);
    if (rc < 0)
        return errno == EEXIST ? 0 : -errno;
    rc = parent_of(dir, parent, sizeof(parent));
    return rc < 0 ? rc : storage_sync_dir(parent);
}

/* Empties and removes dir; depth bounds the recursion. */
static int remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        char path[PATH_MAX];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (storage_sys.unlink(path) == 0 || errno == ENOENT)
            continue;
        if (errno == EISDIR && depth > 0)
            rc = remove_tree(path, depth - 1);
        else
            rc = -errno;
    }
    closedir(d);
    if (rc == 0 && storage_sys.rmdir(dir) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

int storage_remove_dir(const char *dir)
{
    char parent[PATH_MAX];
    int rc = parent_of(dir, parent, sizeof(parent));
    if (rc < 0)
        return rc;
    /* The parent is synced even when dir is gone already: a crash may
     * have come between an earlier removal and its sync. */
    rc = remove_tree(dir, 4);
    if (rc == 0)
        rc = storage_sync_dir(parent);
    return rc == -ENOENT ? 0 : rc;
}
