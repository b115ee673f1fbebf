/* crashsim.c - the power-loss simulation over storage_sys (see crashsim.h).
 *
 * Owns: a model of the tree under root in two views - current (what the
 * process sees, always equal to the real tree) and durable (what a disk
 * holds) - the unsynced file and directory changes between them, and the
 * descriptors opened through the table. Never: used by the broker; it is
 * linked into tests only.
 *
 * Model:
 *   sfile      one inode: its durable bytes and the data changes since its
 *              last sync (writes, truncations, extensions), in order
 *   pmap       path -> sfile (or a directory); one for each view
 *   dir ops    creates, unlinks, renames, mkdirs, rmdirs not yet made
 *              durable by an fsync of their directory, in order
 * A file fsync/fdatasync folds the file's changes into its durable bytes;
 * a directory fsync applies that directory's changes to the durable view.
 * A power cut applies a random subset of what is left (SQLite's test6.c
 * does the same over its VFS). */
#include "tests/lib/crashsim.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/io.h"
#include "storage/sys.h"

#define SECTOR 512
#define NBUCKETS 4096
#define FD_MAX 65536
#define STACK_DEPTH 8

/* --- the model ------------------------------------------------------------ */

enum data_kind { D_WRITE, D_TRUNC, D_EXTEND };

struct data_op {
    int kind;
    uint64_t seq;
    uint64_t off;          /* D_TRUNC, D_EXTEND: the size */
    size_t len;
    uint8_t *data;
};

struct sfile {
    struct sfile *all_next;
    uint8_t *disk;
    size_t disk_len;
    struct data_op *ops;
    int nops, capops;
    uint64_t next_seq;
    struct timespec mtime;  /* of the real file when the power went off */
    uint8_t *final;         /* content after the cut */
    size_t final_len;
    bool final_done;
    bool in_place;          /* the real file already holds final */
};

struct pentry {
    struct pentry *next;
    char *path;
    struct sfile *f;        /* NULL: a directory */
};

struct pmap {
    struct pentry *b[NBUCKETS];
};

enum dir_kind { DIR_CREATE, DIR_UNLINK, DIR_RENAME, DIR_MKDIR, DIR_RMDIR };

struct dir_op {
    int kind;
    char *parent;          /* the directory whose fsync makes it durable */
    char *path;
    char *to;              /* DIR_RENAME */
    struct sfile *f;
};

struct fdent {
    bool used, dir;
    struct sfile *f;
    char *path;
    dev_t dev;
    ino_t ino;
};

struct ring_sync {
    struct io_op op;
    struct io_op *orig;
    struct sfile *f;
    uint64_t seq;           /* covers the changes before it */
};

struct hashset {
    uint64_t *v;
    size_t cap, n;
};

static struct {
    bool installed;
    struct storage_syscalls real;
    char root[PATH_MAX];
    size_t rootlen;
    char exclude[4][PATH_MAX]; /* subtrees left to the real file system */
    int nexclude;
    uint64_t rng;
    struct sfile *files;
    struct pmap cur, dur;
    struct dir_op *dops;
    int ndops, capdops;
    struct fdent *fds;
    bool cut;
    int ring_inflight;      /* simulated ring syncs and writes not yet completed */
    uint64_t calls, arm_at;
    char where[512];
    char bypass[512];       /* the first call that escaped the model */
    struct hashset sites, points;
    struct crashsim_stats st;
} S;

/* CRASHSIM_TRACE=1: every modelled call on stdout, to follow a failure. */
static bool tracing;
#define SIMTRACE(...)                       \
    do {                                    \
        if (tracing)                        \
            printf("crashsim: " __VA_ARGS__); \
    } while (0)

static uint64_t rnd(void)
{
    uint64_t x = S.rng; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    S.rng = x;
    return x * 2685821657736338717ull;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "crashsim: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);
    strcpy(p, s);
    return p;
}

static void note_bypass(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note_bypass(const char *fmt, ...)
{
    va_list ap;
    if (S.bypass[0])
        return;
    va_start(ap, fmt);
    vsnprintf(S.bypass, sizeof(S.bypass), fmt, ap);
    va_end(ap);
}

static bool hashset_add(struct hashset *h, uint64_t v)
{
    if (v == 0)
        v = 1;
    if (h->n * 2 >= h->cap) {
        struct hashset n = { calloc(h->cap ? h->cap * 2 : 1024, sizeof(uint64_t)),
                             h->cap ? h->cap * 2 : 1024, 0 };
        if (!n.v)
            abort();
        for (size_t i = 0; i < h->cap; i++)
            if (h->v[i])
                hashset_add(&n, h->v[i]);
        free(h->v);
        *h = n;
    }
    size_t i = (size_t)(v * 0x9e3779b97f4a7c15ull) & (h->cap - 1);
    while (h->v[i] && h->v[i] != v)
        i = (i + 1) & (h->cap - 1);
    if (h->v[i])
        return false;
    h->v[i] = v;
    h->n++;
    return true;
}

static uint32_t path_hash(const char *p)
{
    uint32_t h = 2166136261u;
    while (*p)
        h = (h ^ (uint8_t)*p++) * 16777619u;
    return h & (NBUCKETS - 1);
}

static struct pentry *pmap_get(struct pmap *m, const char *path)
{
    for (struct pentry *e = m->b[path_hash(path)]; e; e = e->next)
        if (strcmp(e->path, path) == 0)
            return e;
    return NULL;
}

static void pmap_put(struct pmap *m, const char *path, struct sfile *f)
{
    struct pentry *e = pmap_get(m, path);
    if (!e) {
        e = xmalloc(sizeof(*e));
        e->path = xstrdup(path);
        e->next = m->b[path_hash(path)];
        m->b[path_hash(path)] = e;
    }
    e->f = f;
}

static void pmap_del(struct pmap *m, const char *path)
{
    for (struct pentry **pp = &m->b[path_hash(path)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->path, path) == 0) {
            struct pentry *e = *pp;
            *pp = e->next;
            free(e->path);
            free(e);
            return;
        }
    }
}

/* Removes path and everything below it. */
static void pmap_del_tree(struct pmap *m, const char *path)
{
    size_t n = strlen(path);
    for (int i = 0; i < NBUCKETS; i++) {
        for (struct pentry **pp = &m->b[i]; *pp;) {
            struct pentry *e = *pp;
            if (strncmp(e->path, path, n) == 0 && (e->path[n] == '\0' || e->path[n] == '/')) {
                *pp = e->next;
                free(e->path);
                free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}

static void pmap_clear(struct pmap *m)
{
    for (int i = 0; i < NBUCKETS; i++) {
        while (m->b[i]) {
            struct pentry *e = m->b[i];
            m->b[i] = e->next;
            free(e->path);
            free(e);
        }
    }
}

static struct sfile *sfile_new(void)
{
    struct sfile *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    f->all_next = S.files;
    S.files = f;
    return f;
}

static void sfile_add_op(struct sfile *f, int kind, uint64_t off, const void *data, size_t len)
{
    if (f->nops == f->capops) {
        f->capops = f->capops ? f->capops * 2 : 16;
        f->ops = realloc(f->ops, (size_t)f->capops * sizeof(*f->ops));
        if (!f->ops)
            abort();
    }
    struct data_op *o = &f->ops[f->nops++];
    *o = (struct data_op){ .kind = kind, .seq = f->next_seq++, .off = off, .len = len };
    if (kind == D_WRITE) {
        o->data = xmalloc(len);
        if (data)
            memcpy(o->data, data, len);
        else
            memset(o->data, 0, len);
    }
}

/* Applies one change (or the part [from, to) of a write) to buf. */
static void apply_range(uint8_t **buf, size_t *len, const struct data_op *o, size_t from,
                        size_t to)
{
    uint64_t end = o->kind == D_WRITE ? o->off + to : o->off;
    if (o->kind == D_TRUNC || end > *len) {
        uint8_t *p = realloc(*buf, end ? end : 1);
        if (!p)
            abort();
        if (end > *len)
            memset(p + *len, 0, end - *len);
        *buf = p;
        *len = end;
    }
    if (o->kind == D_WRITE && to > from)
        memcpy(*buf + o->off + from, o->data + from, to - from);
}

static void apply_op(uint8_t **buf, size_t *len, const struct data_op *o)
{
    apply_range(buf, len, o, 0, o->len);
}

/* Folds the changes before seq into the durable bytes. */
static void sfile_sync(struct sfile *f, uint64_t seq)
{
    int k = 0;
    while (k < f->nops && f->ops[k].seq < seq) {
        apply_op(&f->disk, &f->disk_len, &f->ops[k]);
        free(f->ops[k].data);
        k++;
    }
    if (k > 0 && k < f->nops)
        memmove(f->ops, f->ops + k, (size_t)(f->nops - k) * sizeof(*f->ops));
    f->nops -= k;
}

static void dir_op_add(int kind, const char *path, const char *to, struct sfile *f)
{
    SIMTRACE("dir op %d %s%s%s\n", kind, path, to ? " -> " : "", to ? to : "");
    if (S.ndops == S.capdops) {
        S.capdops = S.capdops ? S.capdops * 2 : 64;
        S.dops = realloc(S.dops, (size_t)S.capdops * sizeof(*S.dops));
        if (!S.dops)
            abort();
    }
    const char *named = to ? to : path;
    char *parent = xstrdup(named);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    S.dops[S.ndops++] = (struct dir_op){ kind, parent, xstrdup(path), to ? xstrdup(to) : NULL, f };
}

static void dir_op_free(struct dir_op *d)
{
    free(d->parent);
    free(d->path);
    free(d->to);
}

static bool dur_is_dir(const char *path)
{
    struct pentry *e = pmap_get(&S.dur, path);
    return e && !e->f;
}

static bool dur_parent_ok(const char *path)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return strcmp(parent, S.root) == 0 || dur_is_dir(parent);
}

/* A directory change reaches the durable view. */
static void dir_op_apply(const struct dir_op *d)
{
    switch (d->kind) {
    case DIR_CREATE:
        if (dur_parent_ok(d->path))
            pmap_put(&S.dur, d->path, d->f);
        break;
    case DIR_UNLINK: {
        struct pentry *e = pmap_get(&S.dur, d->path);
        if (e && e->f)
            pmap_del(&S.dur, d->path);
        break;
    }
    case DIR_RENAME: {
        struct pentry *e = pmap_get(&S.dur, d->path);
        if (e && e->f == d->f)
            pmap_del(&S.dur, d->path);
        if (dur_parent_ok(d->to))
            pmap_put(&S.dur, d->to, d->f);
        break;
    }
    case DIR_MKDIR:
        if (dur_parent_ok(d->path))
            pmap_put(&S.dur, d->path, NULL);
        break;
    case DIR_RMDIR:
        pmap_del_tree(&S.dur, d->path);
        break;
    }
}

/* fsync of directory dir: its changes become durable, in order. */
static void dir_sync(const char *dir)
{
    int k = 0;
    for (int i = 0; i < S.ndops; i++) {
        if (strcmp(S.dops[i].parent, dir) == 0) {
            dir_op_apply(&S.dops[i]);
            dir_op_free(&S.dops[i]);
        } else {
            S.dops[k++] = S.dops[i];
        }
    }
    S.ndops = k;
}

/* --- paths and descriptors ---------------------------------------------- */

/* An absolute path without ".", ".." or doubled slashes. */
static int normalize(const char *base, const char *in, char *out)
{
    char tmp[PATH_MAX];
    if (in[0] == '/')
        snprintf(tmp, sizeof(tmp), "%s", in);
    else if (snprintf(tmp, sizeof(tmp), "%s/%s", base, in) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    size_t n = 0;
    for (char *save, *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        size_t l = strlen(c);
        if (n + l + 2 >= PATH_MAX)
            return -ENAMETOOLONG;
        out[n++] = '/';
        memcpy(out + n, c, l);
        n += l;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return 0;
}

static int abs_path(int dirfd, const char *in, char *out)
{
    char base[PATH_MAX];
    if (in[0] == '/' || dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof(base)))
            return -errno;
    } else {
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, base, sizeof(base) - 1);
        if (n < 0)
            return -errno;
        base[n] = '\0';
    }
    return normalize(base, in, out);
}

static bool under(const char *p, const char *dir, size_t n)
{
    return n > 0 && strncmp(p, dir, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

static bool excluded(const char *p)
{
    for (int i = 0; i < S.nexclude; i++)
        if (under(p, S.exclude[i], strlen(S.exclude[i])))
            return true;
    return false;
}

static bool under_root(const char *p)
{
    return under(p, S.root, S.rootlen) && !excluded(p);
}

static struct fdent *fd_get(int fd)
{
    if (fd < 0 || fd >= FD_MAX || !S.fds[fd].used)
        return NULL;
    return &S.fds[fd];
}

/* The tracked file behind fd, checked to still be the one opened. An
 * untracked fd of a file under root escaped the table. */
static struct fdent *fd_check(int fd, const char *call)
{
    struct fdent *e = fd_get(fd);
    struct stat st;
    if (e) {
        if (fstat(fd, &st) < 0 || st.st_ino != e->ino || st.st_dev != e->dev) {
            fprintf(stderr, "crashsim: %s on fd %d (%s): the descriptor was closed outside "
                    "storage_sys and reused\n", call, fd, e->path);
            abort();
        }
        return e;
    }
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n > 0) {
        path[n] = '\0';
        if (under_root(path))
            note_bypass("%s on fd %d (%s), which was not opened through storage_sys", call,
                        fd, path);
    }
    return NULL;
}

/* --- crash points --------------------------------------------------------- */

static uint64_t stack_hash(const char *call, void **frames, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = call; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    for (int i = 2; i < n; i++)
        h = (h ^ (uint64_t)(uintptr_t)frames[i]) * 1099511628211ull;
    return h;
}

/* Every table call starts here. True when the power is (now) off. */
static bool sim_enter(const char *call)
{
    if (S.cut)
        return true;
    void *frames[STACK_DEPTH];
    int n = backtrace(frames, STACK_DEPTH);
    uint64_t h = stack_hash(call, frames, n);
    S.calls++;
    S.st.calls++;
    if (hashset_add(&S.sites, h))
        S.st.sites++;
    if (S.arm_at && S.calls >= S.arm_at) {
        S.cut = true;
        S.arm_at = 0;
        if (hashset_add(&S.points, h))
            S.st.points++;
        /* Module offsets, for addr2line -e <module> -f <offset>. */
        int k = snprintf(S.where, sizeof(S.where), "%s", call);
        for (int i = 2; i < n && k < (int)sizeof(S.where) - 48; i++) {
            Dl_info di;
            if (dladdr(frames[i], &di) && di.dli_fname) {
                const char *base = strrchr(di.dli_fname, '/');
                k += snprintf(S.where + k, sizeof(S.where) - (size_t)k, " <- %s+%#lx",
                              base ? base + 1 : di.dli_fname,
                              (unsigned long)((char *)frames[i] - (char *)di.dli_fbase));
            } else {
                k += snprintf(S.where + k, sizeof(S.where) - (size_t)k, " <- %p", frames[i]);
            }
        }
        return true;
    }
    return false;
}

#define CUT_FAIL(call)           \
    do {                         \
        if (sim_enter(call)) {   \
            errno = EIO;         \
            return -1;           \
        }                        \
    } while (0)

/* --- the simulated table -------------------------------------------------- */

static int track_open(int fd, const char *path, int flags, bool existed)
{
    struct stat st;
    if (fd >= FD_MAX || fstat(fd, &st) < 0) {
        fprintf(stderr, "crashsim: fd %d out of range\n", fd);
        abort();
    }
    if (S.fds[fd].used) {
        fprintf(stderr, "crashsim: fd %d (%s) was closed outside storage_sys\n", fd,
                S.fds[fd].path);
        abort();
    }
    struct fdent *e = &S.fds[fd];
    *e = (struct fdent){ .used = true, .dir = S_ISDIR(st.st_mode), .path = xstrdup(path),
                         .dev = st.st_dev, .ino = st.st_ino };
    if (e->dir)
        return fd;
    struct pentry *pe = pmap_get(&S.cur, path);
    if (!existed || !pe || !pe->f) {
        if (existed)
            note_bypass("open of %s, a file made outside storage_sys", path);
        struct sfile *f = sfile_new();
        pmap_put(&S.cur, path, f);
        dir_op_add(DIR_CREATE, path, NULL, f);
        pe = pmap_get(&S.cur, path);
    }
    e->f = pe->f;
    SIMTRACE("open %s fd %d file %p%s\n", path, fd, (void *)e->f, existed ? "" : " (new)");
    if ((flags & O_TRUNC) && existed && (flags & O_ACCMODE) != O_RDONLY)
        sfile_add_op(e->f, D_TRUNC, 0, NULL, 0);
    return fd;
}

static int sim_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    char path[PATH_MAX];
    CUT_FAIL("open");
    int rc = abs_path(dirfd, name, path);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    if (!under_root(path))
        return S.real.openat(dirfd, name, flags, mode);
    if (flags & O_APPEND) {
        fprintf(stderr, "crashsim: O_APPEND (%s) is not modelled\n", path);
        abort();
    }
    struct stat st;
    bool existed = stat(path, &st) == 0;
    int fd = S.real.openat(dirfd, name, flags, mode);
    if (fd < 0)
        return fd;
    return track_open(fd, path, flags, existed);
}

static int sim_open(const char *name, int flags, mode_t mode)
{
    return sim_openat(AT_FDCWD, name, flags, mode);
}

static int sim_close(int fd)
{
    struct fdent *e = fd_get(fd);
    if (e) {
        free(e->path);
        *e = (struct fdent){ 0 };
    }
    /* No crash point: closing never loses or saves anything. */
    int rc = S.real.close(fd);
    return S.cut ? 0 : rc;
}

static void record_write(struct fdent *e, const struct iovec *iov, int iovcnt, off_t off,
                         size_t n)
{
    uint8_t *buf = xmalloc(n);
    size_t at = 0;
    for (int i = 0; i < iovcnt && at < n; i++) {
        size_t k = iov[i].iov_len < n - at ? iov[i].iov_len : n - at;
        memcpy(buf + at, iov[i].iov_base, k);
        at += k;
    }
    sfile_add_op(e->f, D_WRITE, (uint64_t)off, buf, n);
    SIMTRACE("write %s at %lld +%zu\n", e->path, (long long)off, n);
    free(buf);
}

static ssize_t sim_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    CUT_FAIL("pwritev");
    struct fdent *e = fd_check(fd, "pwritev");
    ssize_t n = S.real.pwritev(fd, iov, iovcnt, off);
    if (n > 0 && e && e->f)
        record_write(e, iov, iovcnt, off, (size_t)n);
    return n;
}

static ssize_t sim_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    CUT_FAIL("pwrite");
    struct fdent *e = fd_check(fd, "pwrite");
    ssize_t n = S.real.pwrite(fd, buf, len, off);
    if (n > 0 && e && e->f) {
        struct iovec iov = { (void *)buf, (size_t)n };
        record_write(e, &iov, 1, off, (size_t)n);
    }
    return n;
}

static int sim_ftruncate(int fd, off_t len)
{
    CUT_FAIL("ftruncate");
    struct fdent *e = fd_check(fd, "ftruncate");
    int rc = S.real.ftruncate(fd, len);
    if (rc == 0 && e && e->f)
        sfile_add_op(e->f, D_TRUNC, (uint64_t)len, NULL, 0);
    return rc;
}

static int sim_fallocate(int fd, int mode, off_t off, off_t len)
{
    CUT_FAIL("fallocate");
    struct fdent *e = fd_check(fd, "fallocate");
    int rc = S.real.fallocate(fd, mode, off, len);
    if (rc < 0 || !e || !e->f)
        return rc;
    if (mode == 0)
        sfile_add_op(e->f, D_EXTEND, (uint64_t)(off + len), NULL, 0);
    else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) ||
             mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
        struct stat st;
        fstat(fd, &st);
        if (off < st.st_size)
            sfile_add_op(e->f, D_WRITE, (uint64_t)off, NULL,
                         (size_t)(off + len > st.st_size ? st.st_size - off : len));
    } else if (mode != FALLOC_FL_KEEP_SIZE) {
        note_bypass("fallocate mode %#x on %s is not modelled", mode, e->path);
    }
    return rc;
}

static int sim_sync(int fd, const char *call)
{
    CUT_FAIL(call);
    struct fdent *e = fd_check(fd, call);
    if (!e)
        return strcmp(call, "fsync") == 0 ? S.real.fsync(fd) : S.real.fdatasync(fd);
    /* The simulated disk needs no real sync: the test runs at page-cache
     * speed and the model decides what a power cut keeps. */
    SIMTRACE("%s %s\n", call, e->path);
    if (e->dir)
        dir_sync(e->path);
    else
        sfile_sync(e->f, UINT64_MAX);
    return 0;
}

static int sim_fsync(int fd)
{
    return sim_sync(fd, "fsync");
}

static int sim_fdatasync(int fd)
{
    return sim_sync(fd, "fdatasync");
}

static int two_paths(const char *a, const char *b, char *pa, char *pb)
{
    int rc = abs_path(AT_FDCWD, a, pa);
    if (rc == 0)
        rc = abs_path(AT_FDCWD, b, pb);
    return rc;
}

static int sim_rename(const char *from, const char *to)
{
    char pf[PATH_MAX], pt[PATH_MAX];
    CUT_FAIL("rename");
    if (two_paths(from, to, pf, pt) < 0 || (!under_root(pf) && !under_root(pt)))
        return S.real.rename(from, to);
    int rc = S.real.rename(from, to);
    if (rc < 0)
        return rc;
    struct pentry *e = pmap_get(&S.cur, pf);
    if (!under_root(pf) || !under_root(pt) || !e || !e->f) {
        note_bypass("rename %s -> %s is not modelled (a directory, or across the root)", pf,
                    pt);
        return rc;
    }
    struct sfile *f = e->f;
    pmap_del(&S.cur, pf);
    pmap_put(&S.cur, pt, f);
    dir_op_add(DIR_RENAME, pf, pt, f);
    return rc;
}

static int sim_unlink(const char *name)
{
    char path[PATH_MAX];
    CUT_FAIL("unlink");
    if (abs_path(AT_FDCWD, name, path) < 0 || !under_root(path))
        return S.real.unlink(name);
    int rc = S.real.unlink(name);
    if (rc == 0) {
        pmap_del(&S.cur, path);
        dir_op_add(DIR_UNLINK, path, NULL, NULL);
    }
    return rc;
}

static int sim_mkdir(const char *name, mode_t mode)
{
    char path[PATH_MAX];
    CUT_FAIL("mkdir");
    if (abs_path(AT_FDCWD, name, path) < 0 || !under_root(path))
        return S.real.mkdir(name, mode);
    int rc = S.real.mkdir(name, mode);
    if (rc == 0) {
        pmap_put(&S.cur, path, NULL);
        dir_op_add(DIR_MKDIR, path, NULL, NULL);
    }
    return rc;
}

static int sim_rmdir(const char *name)
{
    char path[PATH_MAX];
    CUT_FAIL("rmdir");
    if (abs_path(AT_FDCWD, name, path) < 0 || !under_root(path))
        return S.real.rmdir(name);
    int rc = S.real.rmdir(name);
    if (rc == 0) {
        pmap_del_tree(&S.cur, path);
        dir_op_add(DIR_RMDIR, path, NULL, NULL);
    }
    return rc;
}

static void on_ring_sync(struct io_op *op, int res, uint32_t flags)
{
    struct ring_sync *w = (struct ring_sync *)op;
    struct io_op *orig = w->orig;
    if (S.cut)
        res = -EIO; /* the power went off before it completed */
    else if (res >= 0 && w->f)
        sfile_sync(w->f, w->seq);
    SIMTRACE("ring sync of file %p done: %d\n", (void *)w->f, res);
    free(w);
    S.ring_inflight--;
    orig->complete(orig, res, flags);
}

static void sim_prep_fdatasync(struct io_uring_sqe *sqe, int fd, struct io_op *op)
{
    struct ring_sync *w = xmalloc(sizeof(*w));
    *w = (struct ring_sync){ .op.complete = on_ring_sync, .orig = op };
    if (!sim_enter("ring fdatasync")) {
        struct fdent *e = fd_check(fd, "ring fdatasync");
        if (!e) {
            free(w);
            S.real.prep_fdatasync(sqe, fd, op);
            return;
        }
        w->f = e->f;
        w->seq = e->f ? e->f->next_seq : 0;
    }
    /* A no-op stands for the sync: it completes on the ring, later, like
     * the real one, and the model counts the bytes durable then. */
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, &w->op);
    S.ring_inflight++;
}

/* A write on a ring (storage_sys.prep_writev) is done, and recorded, when
 * it is prepared: the kernel may do it at any time between submission and
 * completion, and this is one of those times. A no-op carries its result
 * to the completion; after a cut the completion says -EIO. A write whose
 * result was short never happens here (a regular file's pwritev is whole),
 * so no link ever needs breaking. */
struct ring_write {
    struct io_op op;
    struct io_op *orig;
    int res;
};

static void on_ring_write(struct io_op *op, int res, uint32_t flags)
{
    struct ring_write *w = (struct ring_write *)op;
    struct io_op *orig = w->orig;
    res = S.cut ? -EIO : w->res;
    free(w);
    S.ring_inflight--;
    orig->complete(orig, res, flags);
}

static void sim_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov, unsigned n,
                            uint64_t off, struct io_op *op)
{
    struct ring_write *w = xmalloc(sizeof(*w));
    *w = (struct ring_write){ .op.complete = on_ring_write, .orig = op, .res = -EIO };
    if (!sim_enter("ring writev")) {
        struct fdent *e = fd_check(fd, "ring writev");
        ssize_t k = S.real.pwritev(fd, iov, (int)n, (off_t)off);
        w->res = k < 0 ? -errno : (int)k;
        if (k > 0 && e && e->f)
            record_write(e, iov, (int)n, (off_t)off, (size_t)k);
    }
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, &w->op);
    S.ring_inflight++;
}

/* --- install, scan, the power cut ----------------------------------------- */

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    *len = (size_t)st.st_size;
    *out = xmalloc(*len);
    size_t got = 0;
    while (got < *len) {
        ssize_t n = pread(fd, *out + got, *len - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return 0;
}

/* Takes the real tree under dir as durable and current. */
static int scan(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) < 0 || excluded(path))
            continue;
        if (S_ISDIR(st.st_mode)) {
            pmap_put(&S.cur, path, NULL);
            pmap_put(&S.dur, path, NULL);
            rc = scan(path);
        } else if (S_ISREG(st.st_mode)) {
            struct sfile *f = sfile_new();
            if ((rc = read_whole(path, &f->disk, &f->disk_len)) < 0)
                break;
            pmap_put(&S.cur, path, f);
            pmap_put(&S.dur, path, f);
        }
    }
    closedir(d);
    return rc;
}

static void model_free(void)
{
    pmap_clear(&S.cur);
    pmap_clear(&S.dur);
    for (int i = 0; i < S.ndops; i++)
        dir_op_free(&S.dops[i]);
    S.ndops = 0;
    while (S.files) {
        struct sfile *f = S.files;
        S.files = f->all_next;
        for (int i = 0; i < f->nops; i++)
            free(f->ops[i].data);
        free(f->ops);
        free(f->disk);
        free(f->final);
        free(f);
    }
}

int crashsim_install(const char *root, uint64_t seed)
{
    if (S.installed)
        return -EBUSY;
    char real[PATH_MAX];
    if (!realpath(root, real))
        return -errno;
    memset(&S, 0, sizeof(S));
    S.fds = calloc(FD_MAX, sizeof(*S.fds));
    if (!S.fds)
        return -ENOMEM;
    snprintf(S.root, sizeof(S.root), "%s", real);
    S.rootlen = strlen(S.root);
    S.rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    int rc = scan(S.root);
    if (rc < 0) {
        model_free();
        free(S.fds);
        return rc;
    }
    S.real = storage_sys;
    storage_sys = (struct storage_syscalls){
        .open = sim_open, .openat = sim_openat, .close = sim_close,
        .pwrite = sim_pwrite, .pwritev = sim_pwritev, .ftruncate = sim_ftruncate,
        .fallocate = sim_fallocate, .fdatasync = sim_fdatasync, .fsync = sim_fsync,
        .rename = sim_rename, .unlink = sim_unlink, .mkdir = sim_mkdir, .rmdir = sim_rmdir,
        .prep_fdatasync = sim_prep_fdatasync, .prep_writev = sim_prep_writev,
        .pread = S.real.pread,
    };
    S.installed = true;
    tracing = getenv("CRASHSIM_TRACE") != NULL;
    return 0;
}

void crashsim_uninstall(void)
{
    if (!S.installed)
        return;
    storage_sys = S.real;
    model_free();
    free(S.dops);
    for (int i = 0; i < FD_MAX; i++)
        free(S.fds[i].path);
    free(S.fds);
    free(S.sites.v);
    free(S.points.v);
    S.installed = false;
}

int crashsim_exclude(const char *dir)
{
    char abs[PATH_MAX];
    int rc = abs_path(AT_FDCWD, dir, abs);
    if (rc < 0)
        return rc;
    if (S.nexclude == 4)
        return -ENOSPC;
    snprintf(S.exclude[S.nexclude], sizeof(S.exclude[0]), "%s", abs);
    /* What the model holds of it now is dropped: it was never simulated. */
    pmap_del_tree(&S.cur, S.exclude[S.nexclude]);
    pmap_del_tree(&S.dur, S.exclude[S.nexclude]);
    S.nexclude++;
    return 0;
}

void crashsim_arm(uint64_t n)
{
    S.arm_at = n ? S.calls + n : 0;
}

void crashsim_cut_now(void)
{
    if (!S.cut) {
        S.cut = true;
        snprintf(S.where, sizeof(S.where), "between calls (idle)");
        if (hashset_add(&S.points, 1))
            S.st.points++;
    }
}

bool crashsim_is_cut(void)
{
    return S.cut;
}

uint64_t crashsim_calls(void)
{
    return S.calls;
}

const char *crashsim_cut_where(void)
{
    return S.where;
}

void crashsim_get_stats(struct crashsim_stats *out)
{
    *out = S.st;
}

/* The current bytes of f: durable ones and every change since. */
static void current_content(const struct sfile *f, uint8_t **out, size_t *len)
{
    *len = f->disk_len;
    *out = xmalloc(*len);
    if (*len)
        memcpy(*out, f->disk, *len);
    for (int i = 0; i < f->nops; i++)
        apply_op(out, len, &f->ops[i]);
}

/* The real tree under dir must be the model's current view. */
static int verify_tree(const char *dir, size_t *count, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "crashsim: cannot read %s", dir);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) < 0 || excluded(path))
            continue;
        struct pentry *e = pmap_get(&S.cur, path);
        (*count)++;
        if (!e || (e->f == NULL) != (S_ISDIR(st.st_mode) != 0)) {
            snprintf(err, errlen, "crashsim: %s was made outside storage_sys", path);
            rc = -1;
        } else if (!e->f) {
            rc = verify_tree(path, count, err, errlen);
        } else {
            uint8_t *want, *got;
            size_t wl, gl;
            current_content(e->f, &want, &wl);
            if (read_whole(path, &got, &gl) < 0 || gl != wl || memcmp(got, want, wl) != 0) {
                snprintf(err, errlen, "crashsim: %s was written outside storage_sys "
                         "(%zu bytes on disk, %zu through the table)", path, gl, wl);
                rc = -1;
            }
            e->f->mtime = st.st_mtim;
            free(want);
            free(got);
        }
    }
    closedir(d);
    return rc;
}

enum fate_mode { KEEP_ALL, DROP_ALL, RANDOM };

/* What the disk kept of f: its durable bytes, then each unsynced change
 * kept, dropped or (a write) torn at a sector boundary. */
static void decide_content(struct sfile *f, int mode)
{
    if (f->final_done)
        return;
    f->final_done = true;
    f->final_len = f->disk_len;
    f->final = xmalloc(f->final_len);
    if (f->final_len)
        memcpy(f->final, f->disk, f->final_len);
    for (int i = 0; i < f->nops; i++) {
        const struct data_op *o = &f->ops[i];
        uint64_t r = mode == RANDOM ? rnd() % 10 : mode == KEEP_ALL ? 0 : 9;
        if (o->kind != D_WRITE) {
            if (r < 5)
                apply_op(&f->final, &f->final_len, o);
            continue;
        }
        /* Sector boundaries strictly inside the write. */
        uint64_t first = (o->off / SECTOR + 1) * SECTOR, end = o->off + o->len;
        uint64_t nb = first < end ? (end - 1 - first) / SECTOR + 1 : 0;
        if (r < 4) {
            apply_op(&f->final, &f->final_len, o);
            S.st.kept++;
        } else if (r < 7 && nb > 0) {
            size_t cut = (size_t)(first + (rnd() % nb) * SECTOR - o->off);
            if (rnd() % 3)
                apply_range(&f->final, &f->final_len, o, 0, cut);      /* head reached disk */
            else
                apply_range(&f->final, &f->final_len, o, cut, o->len); /* tail did */
            S.st.torn++;
        } else {
            S.st.dropped++;
        }
    }
}

static int cmp_entry(const void *a, const void *b)
{
    const struct pentry *x = *(struct pentry *const *)a, *y = *(struct pentry *const *)b;
    return strcmp(x->path, y->path); /* parents sort before children */
}

/* The entries of m, sorted by path. */
static struct pentry **sorted(struct pmap *m, size_t *n)
{
    size_t k = 0;
    *n = 0;
    for (int i = 0; i < NBUCKETS; i++)
        for (struct pentry *e = m->b[i]; e; e = e->next)
            (*n)++;
    struct pentry **v = xmalloc(*n * sizeof(*v));
    for (int i = 0; i < NBUCKETS; i++)
        for (struct pentry *e = m->b[i]; e; e = e->next)
            v[k++] = e;
    qsort(v, *n, sizeof(*v), cmp_entry);
    return v;
}

/* The real file at cur's path already holds what the disk kept. */
static bool unchanged(const struct pentry *cur, const struct pentry *dur)
{
    if (!dur || dur->f != cur->f || !dur_parent_ok(cur->path))
        return false;
    uint8_t *now;
    size_t len;
    current_content(cur->f, &now, &len);
    bool same = len == cur->f->final_len && (len == 0 || memcmp(now, cur->f->final, len) == 0);
    free(now);
    return same;
}

/* Makes the real tree under root the durable view, rewriting only the
 * files the cut changed. */
static int rewrite_tree(char *err, size_t errlen)
{
    size_t nc, nd;
    struct pentry **cur = sorted(&S.cur, &nc), **dur = sorted(&S.dur, &nd);
    int rc = 0;
    for (size_t i = 0; i < nc; i++) {
        struct pentry *d = pmap_get(&S.dur, cur[i]->path);
        if (cur[i]->f && unchanged(cur[i], d))
            d->f->in_place = true;
        else if (cur[i]->f && unlink(cur[i]->path) < 0)
            rc = -1;
    }
    for (size_t i = nc; i-- > 0;) /* children first */
        if (!cur[i]->f && !(dur_is_dir(cur[i]->path) && dur_parent_ok(cur[i]->path)) &&
            rmdir(cur[i]->path) < 0)
            rc = -1;
    for (size_t i = 0; i < nd && rc == 0; i++) {
        struct pentry *d = dur[i];
        struct stat st;
        if (!dur_parent_ok(d->path))
            continue; /* its directory did not survive */
        if (!d->f) {
            if (stat(d->path, &st) < 0 && mkdir(d->path, 0755) < 0)
                rc = -1;
            continue;
        }
        struct pentry *c = pmap_get(&S.cur, d->path);
        if (c && c->f == d->f && d->f->in_place)
            continue;
        int fd = open(d->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || (d->f->final_len && pwrite(fd, d->f->final, d->f->final_len, 0) !=
                                                  (ssize_t)d->f->final_len)) {
            rc = -1;
        } else if (d->f->mtime.tv_sec) {
            struct timespec t[2] = { d->f->mtime, d->f->mtime };
            futimens(fd, t);
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc < 0)
        snprintf(err, errlen, "crashsim: cannot rewrite %s: %s", S.root, strerror(errno));
    free(cur);
    free(dur);
    return rc;
}

/* The process is gone: its descriptors must be closed, nothing may have
 * escaped the table, and no ring sync may still be out. 0 or -1. */
static int check_dead(char *err, size_t errlen)
{
    crashsim_cut_now();
    err[0] = '\0';
    int leaks = 0;
    for (int fd = 0; fd < FD_MAX; fd++) {
        if (!S.fds[fd].used)
            continue;
        if (leaks++ == 0)
            snprintf(err, errlen, "crashsim: still open at the power cut: fd %d (%s)", fd,
                     S.fds[fd].path);
        free(S.fds[fd].path);
        S.real.close(fd);
        S.fds[fd] = (struct fdent){ 0 };
    }
    if (leaks)
        return -1;
    if (S.ring_inflight) {
        snprintf(err, errlen, "crashsim: %d ring syncs still in flight at the power cut "
                 "(reap the ring first)", S.ring_inflight);
        return -1;
    }
    if (S.bypass[0]) {
        snprintf(err, errlen, "crashsim: %s", S.bypass);
        return -1;
    }
    size_t count = 0, expect = 0;
    if (verify_tree(S.root, &count, err, errlen) < 0)
        return -1;
    for (int i = 0; i < NBUCKETS; i++)
        for (struct pentry *e = S.cur.b[i]; e; e = e->next)
            expect++;
    if (count != expect) {
        snprintf(err, errlen, "crashsim: %zu names in the model, %zu on disk: something was "
                 "removed outside storage_sys", expect, count);
        return -1;
    }
    return 0;
}

int crashsim_restart(char *err, size_t errlen)
{
    if (check_dead(err, errlen) < 0)
        return -1;
    S.cut = false;
    S.arm_at = 0;
    S.st.kills++;
    return 0;
}

int crashsim_power_cut(char *err, size_t errlen)
{
    if (check_dead(err, errlen) < 0)
        return -1;
    int mode = (int)(rnd() % 4);
    mode = mode == 0 ? KEEP_ALL : mode == 1 ? DROP_ALL : RANDOM;
    for (int i = 0; i < S.ndops; i++) {
        bool keep = mode == KEEP_ALL || (mode == RANDOM && rnd() % 2);
        if (keep)
            dir_op_apply(&S.dops[i]);
        if (keep)
            S.st.dir_kept++;
        else
            S.st.dir_lost++;
    }
    /* In path order, so that a seed replays the same fates. */
    size_t n;
    struct pentry **v = sorted(&S.dur, &n);
    for (size_t i = 0; i < n; i++)
        if (v[i]->f)
            decide_content(v[i]->f, mode);
    free(v);
    if (rewrite_tree(err, errlen) < 0)
        return -1;
    model_free();
    if (scan(S.root) < 0) {
        snprintf(err, errlen, "crashsim: cannot rescan %s", S.root);
        return -1;
    }
    S.cut = false;
    S.arm_at = 0;
    S.st.cuts++;
    return 0;
}
