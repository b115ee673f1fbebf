/* faultfs.c - a FUSE file system for tests that makes disk operations fail
 * on purpose: a passthrough over a backing directory that answers reads,
 * writes or fsyncs of the files matching a rule with an errno (EIO by
 * default), armed and disarmed while it runs.
 *
 *   faultfs BACKING MOUNTPOINT CONTROL_SOCKET
 *
 * prints "faultfs ready" once mounted, serves until SIGTERM/SIGINT, then
 * unmounts. The test talks to it over the UNIX socket CONTROL_SOCKET, one
 * command line and one answer line at a time (faultfs_cmd.h):
 *   arm read EIO feed-0/0*.log    -> "ok invalidated=N"
 *   stats                        -> "ok reads=... failed_reads=..."
 *   disarm                       -> "ok"
 *
 * Why hand-written: the kernel's own fault injection for block devices
 * (dm-error, dm-flakey, scsi_debug) is not built into these machines'
 * kernel, and no Debian package ships a file system that injects errors
 * (fuse3 and its examples pass everything through; fusepy-based tools are
 * not packaged). This is the smallest passthrough that can: libfuse3's
 * high-level API does every protocol step, this file only forwards each
 * call to the backing directory and asks the rule first.
 *
 * The page cache out of the way: a file's pages cached by the kernel would
 * answer reads without asking this daemon. Arming a rule therefore drops
 * the kernel's cached pages of every matching file (fuse_invalidate_path),
 * and a matching file opened while armed is opened with direct_io. Failed
 * reads cache nothing, so every read of an armed file - read(2), pread,
 * sendfile, splice, io_uring - reaches read_cb below; `stats` counts them.
 *
 * Never: used by the broker itself; it is a test tool (tests/lib/). */
#define FUSE_USE_VERSION 31
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "faultfs_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

static int backing_fd = -1;
static struct fuse *fs;
static pthread_mutex_t rule_lock = PTHREAD_MUTEX_INITIALIZER;
static struct faultfs_rule rule; /* ops == 0: disarmed */

static atomic_ullong n_reads, n_writes, n_fsyncs;
static atomic_ullong n_failed_reads, n_failed_writes, n_failed_fsyncs;

/* "/a/b" -> "a/b", "/" -> "." (relative to backing_fd). */
static const char *rel(const char *path)
{
    return path[1] ? path + 1 : ".";
}

/* 0, or the errno the armed rule gives op on path over [off, off + len). */
static int rule_check(unsigned op, const char *path, uint64_t off, uint64_t len)
{
    pthread_mutex_lock(&rule_lock);
    int err = rule.ops ? faultfs_rule_match(&rule, op, rel(path), off, len) : 0;
    pthread_mutex_unlock(&rule_lock);
    return err;
}

static int getattr_cb(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    int rc = fi ? fstat((int)fi->fh, st) : fstatat(backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
    return rc < 0 ? -errno : 0;
}

static int readdir_cb(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    (void)flags;
    int fd = openat(backing_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st = { .st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type) };
        if (fill(buf, e->d_name, &st, 0, 0))
            break;
    }
    closedir(d);
    return 0;
}

static int mkdir_cb(const char *path, mode_t mode)
{
    return mkdirat(backing_fd, rel(path), mode) < 0 ? -errno : 0;
}

static int unlink_cb(const char *path)
{
    return unlinkat(backing_fd, rel(path), 0) < 0 ? -errno : 0;
}

static int rmdir_cb(const char *path)
{
    return unlinkat(backing_fd, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int rename_cb(const char *from, const char *to, unsigned flags)
{
    return renameat2(backing_fd, rel(from), backing_fd, rel(to), flags) < 0 ? -errno : 0;
}

static int truncate_cb(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (fi)
        return ftruncate((int)fi->fh, size) < 0 ? -errno : 0;
    int fd = openat(backing_fd, rel(path), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = ftruncate(fd, size) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int chmod_cb(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    return fchmodat(backing_fd, rel(path), mode, 0) < 0 ? -errno : 0;
}

static int utimens_cb(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    (void)fi;
    return utimensat(backing_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* A file matching an armed read rule bypasses the page cache. */
static void open_mode(const char *path, struct fuse_file_info *fi)
{
    fi->keep_cache = 0;
    fi->direct_io = rule_check(FAULTFS_OP_READ | FAULTFS_OP_WRITE, path, UINT64_MAX / 4, 1) != 0;
}

static int open_cb(const char *path, struct fuse_file_info *fi)
{
    int fd = openat(backing_fd, rel(path), (fi->flags & ~O_NOFOLLOW) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    open_mode(path, fi);
    return 0;
}

static int create_cb(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int fd = openat(backing_fd, rel(path), fi->flags | O_CREAT | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    open_mode(path, fi);
    return 0;
}

static int read_cb(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    atomic_fetch_add(&n_reads, 1);
    int err = rule_check(FAULTFS_OP_READ, path, (uint64_t)off, size);
    if (err) {
        atomic_fetch_add(&n_failed_reads, 1);
        return -err;
    }
    ssize_t n = pread((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int write_cb(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    atomic_fetch_add(&n_writes, 1);
    int err = rule_check(FAULTFS_OP_WRITE, path, (uint64_t)off, size);
    if (err) {
        atomic_fetch_add(&n_failed_writes, 1);
        return -err;
    }
    ssize_t n = pwrite((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int statfs_cb(const char *path, struct statvfs *st)
{
    (void)path;
    return fstatvfs(backing_fd, st) < 0 ? -errno : 0;
}

static int release_cb(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int fsync_cb(const char *path, int datasync, struct fuse_file_info *fi)
{
    atomic_fetch_add(&n_fsyncs, 1);
    int err = rule_check(FAULTFS_OP_FSYNC, path, 0, 0);
    if (err) {
        atomic_fetch_add(&n_failed_fsyncs, 1);
        return -err;
    }
    int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
    return rc < 0 ? -errno : 0;
}

static int fsyncdir_cb(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    (void)fi;
    int err = rule_check(FAULTFS_OP_FSYNC, path, 0, 0);
    if (err)
        return -err;
    int fd = openat(backing_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int fallocate_cb(const char *path, int mode, off_t off, off_t len,
                        struct fuse_file_info *fi)
{
    (void)path;
    return fallocate((int)fi->fh, mode, off, len) < 0 ? -errno : 0;
}

static void *init_cb(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 1;
    cfg->kernel_cache = 0;
    cfg->direct_io = 0;
    return NULL;
}

static const struct fuse_operations faultfs_ops = {
    .init = init_cb,
    .getattr = getattr_cb,
    .readdir = readdir_cb,
    .mkdir = mkdir_cb,
    .unlink = unlink_cb,
    .rmdir = rmdir_cb,
    .rename = rename_cb,
    .truncate = truncate_cb,
    .chmod = chmod_cb,
    .utimens = utimens_cb,
    .open = open_cb,
    .create = create_cb,
    .read = read_cb,
    .write = write_cb,
    .statfs = statfs_cb,
    .release = release_cb,
    .fsync = fsync_cb,
    .fsyncdir = fsyncdir_cb,
    .fallocate = fallocate_cb,
};

/* --- the control socket ------------------------------------------------- */

/* Drops the kernel's cached pages of every file under dir (relative path
 * prefix) that the rule matches. Returns how many were invalidated. */
static int invalidate_matching(const struct faultfs_rule *r, const char *dir, int depth)
{
    int fd = openat(backing_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || depth > 16) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char relpath[PATH_MAX], abspath[PATH_MAX + 1];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(relpath, sizeof(relpath), "%s%s%s", strcmp(dir, ".") ? dir : "",
                     strcmp(dir, ".") ? "/" : "", e->d_name) >= (int)sizeof(relpath))
            continue;
        if (e->d_type == DT_DIR) {
            n += invalidate_matching(r, relpath, depth + 1);
            continue;
        }
        if (faultfs_rule_match(r, r->ops, relpath, UINT64_MAX / 4, 1) == 0)
            continue;
        snprintf(abspath, sizeof(abspath), "/%s", relpath);
        if (fuse_invalidate_path(fs, abspath) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void answer(int fd, const char *line, size_t len, char *out, size_t outlen)
{
    struct faultfs_cmd cmd;
    const char *why;
    if (faultfs_cmd_parse(line, len, &cmd, &why) < 0) {
        snprintf(out, outlen, "error %s\n", why);
        return;
    }
    (void)fd;
    switch (cmd.verb) {
    case FAULTFS_ARM:
        pthread_mutex_lock(&rule_lock);
        rule = cmd.rule;
        pthread_mutex_unlock(&rule_lock);
        snprintf(out, outlen, "ok invalidated=%d\n", invalidate_matching(&cmd.rule, ".", 0));
        break;
    case FAULTFS_DISARM:
        pthread_mutex_lock(&rule_lock);
        memset(&rule, 0, sizeof(rule));
        pthread_mutex_unlock(&rule_lock);
        snprintf(out, outlen, "ok\n");
        break;
    case FAULTFS_STATS:
        snprintf(out, outlen,
                 "ok reads=%llu failed_reads=%llu writes=%llu failed_writes=%llu "
                 "fsyncs=%llu failed_fsyncs=%llu\n",
                 atomic_load(&n_reads), atomic_load(&n_failed_reads), atomic_load(&n_writes),
                 atomic_load(&n_failed_writes), atomic_load(&n_fsyncs),
                 atomic_load(&n_failed_fsyncs));
        break;
    }
}

/* One client: lines in, one answer line each, until it hangs up. */
static void serve_client(int fd)
{
    char buf[2048], out[256];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            size_t len = (size_t)(nl - buf) + 1;
            answer(fd, buf, len, out, sizeof(out));
            if (write(fd, out, strlen(out)) < 0)
                return;
            memmove(buf, buf + len, have - len);
            have -= len;
        }
        if (have == sizeof(buf))
            return; /* a line longer than any command */
    }
}

static void *control_main(void *arg)
{
    int lfd = *(int *)arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        serve_client(fd);
        close(fd);
    }
}

static int control_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "faultfs: control socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        fprintf(stderr, "faultfs: control socket %s: %s\n", path, strerror(errno));
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: faultfs BACKING MOUNTPOINT CONTROL_SOCKET\n");
        return 2;
    }
    backing_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (backing_fd < 0) {
        fprintf(stderr, "faultfs: backing directory %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (access("/dev/fuse", R_OK | W_OK) < 0) {
        fprintf(stderr, "faultfs: cannot mount: /dev/fuse: %s (FUSE is needed for the "
                        "read-error tests)\n", strerror(errno));
        return 1;
    }
    umask(0);
    char *fargv[] = { argv[0], "-o", "fsname=faultfs,subtype=faultfs", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    fs = fuse_new(&args, &faultfs_ops, sizeof(faultfs_ops), NULL);
    if (!fs) {
        fprintf(stderr, "faultfs: fuse_new failed\n");
        return 1;
    }
    if (fuse_mount(fs, argv[2]) != 0) {
        fprintf(stderr, "faultfs: cannot mount on %s (is /dev/fuse usable? are we root?)\n",
                argv[2]);
        fuse_destroy(fs);
        return 1;
    }
    struct fuse_session *se = fuse_get_session(fs);
    int lfd = control_listen(argv[3]);
    pthread_t control;
    if (lfd < 0 || fuse_set_signal_handlers(se) != 0 ||
        pthread_create(&control, NULL, control_main, &lfd) != 0) {
        fuse_unmount(fs);
        fuse_destroy(fs);
        return 1;
    }
    pthread_detach(control);
    printf("faultfs ready mount=%s backing=%s control=%s\n", argv[2], argv[1], argv[3]);
    fflush(stdout);
    int rc = fuse_loop_mt(fs, 0);
    fuse_remove_signal_handlers(se);
    fuse_unmount(fs);
    fuse_destroy(fs);
    unlink(argv[3]);
    return rc < 0 ? 1 : 0;
}
