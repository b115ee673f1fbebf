/* cleaner_recover.c - what a clean interrupted by a crash leaves, put
 * right before a log's segments are loaded (Kafka's LogLoader rules for
 * .cleaned, .swap and .deleted files; the invariants are in cleaner.h).
 *
 *   <base>.{log,index,timeindex}.cleaned   never committed (S1): deleted
 *   *.deleted                              (Kafka's async deletes): deleted
 *   <base>.log.swap                        committed (S2): every segment
 *       whose base lies in (base, end of the swap's batches) is deleted,
 *       the swap renamed to <base>.log over the old first segment, and the
 *       indexes dropped so recovery rebuilds them (the .txnindex too: the
 *       producer state replay after a swap rebuilds every one, and an old
 *       segment's left under the first's name is emptied by it); the
 *       directory fsync'ed.
 *   <base>.{index,timeindex,txnindex}.swap with no <base>.log.swap: a
 *       rename of the segment's files was cut part way (to .swap, or from
 *       .swap to the final names, the .log already moved). The index
 *       files of base may then belong to another version of the segment
 *       than its .log: they and the orphans are deleted, and rebuilt; the
 *       .txnindex (which may be the old first segment's, without the
 *       aborted transactions of those merged into it) is completed by the
 *       producer state replay of a full re-read, as after a swap.
 * A swap whose own file is damaged cannot have been committed (it was
 * fsync'ed before it was named .swap); its batches are still read only up
 * to the first that does not frame, which bounds what is deleted. */
#include "storage/log_private.h"
#include "storage/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n > m && strcmp(name + n - m, suffix) == 0;
}

/* The 20-digit base of "<base><rest>", or -1. */
static int64_t name_base(const char *name, const char *rest)
{
    if (strlen(name) != 20 + strlen(rest) || strcmp(name + 20, rest) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

/* One past the last offset of the swap file's batches (base if none). */
static int64_t swap_end(const char *path, int64_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return base;
    int64_t end = base;
    uint64_t pos = 0;
    uint8_t hdr[BATCH_HEADER_SIZE];
    while (pread(fd, hdr, sizeof(hdr), (off_t)pos) == (ssize_t)sizeof(hdr)) {
        struct batch_header h;
        batch_header_decode(hdr, &h);
        if (h.length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD || h.magic != BATCH_MAGIC ||
            h.last_offset_delta < 0 || h.base_offset < end)
            break;
        end = batch_last_offset(&h) + 1;
        pos += batch_size(&h);
    }
    close(fd);
    return end;
}

static void remove_segment_files(const char *dir, int64_t base, const char *suffix)
{
    static const char *const exts[] = { ".log", ".index", ".timeindex", ".txnindex" };
    for (int i = 0; i < 4; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%020" PRId64 "%s%s", dir, base, exts[i], suffix);
        storage_sys.unlink(path);
    }
}

/* Completes the committed swap of base; the segment list is in bases. */
static int complete_swap(const char *dir, int64_t base, const int64_t *bases, int n)
{
    char swap[PATH_MAX], log[PATH_MAX];
    snprintf(swap, sizeof(swap), "%s/%020" PRId64 ".log.swap", dir, base);
    snprintf(log, sizeof(log), "%s/%020" PRId64 ".log", dir, base);
    int64_t end = swap_end(swap, base);
    for (int i = 0; i < n; i++)
        if (bases[i] > base && bases[i] < end)
            remove_segment_files(dir, bases[i], "");
    fprintf(stderr, "storage: %s: completing the swap of a clean at %" PRId64 "\n", dir, base);
    if (storage_sys.rename(swap, log) < 0)
        return -errno;
    remove_segment_files(dir, base, ".swap");  /* its indexes: rebuilt */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".index", dir, base);
    storage_sys.unlink(path);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".timeindex", dir, base);
    storage_sys.unlink(path);
    return 0;
}

/* Index files named .swap whose .log is not: see the top comment. */
static int remove_orphan_indexes(const char *dir, const int64_t *orphans, int no,
                                 const int64_t *swaps, int ns)
{
    int removed = 0;
    for (int i = 0; i < no; i++) {
        bool swapping = false;
        for (int k = 0; k < ns; k++)
            swapping |= swaps[k] == orphans[i];
        if (swapping)
            continue; /* complete_swap drops them */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%020" PRId64 ".index", dir, orphans[i]);
        storage_sys.unlink(path);
        snprintf(path, sizeof(path), "%s/%020" PRId64 ".timeindex", dir, orphans[i]);
        storage_sys.unlink(path);
        remove_segment_files(dir, orphans[i], ".swap");
        fprintf(stderr, "storage: %s: indexes of %" PRId64 " left half renamed: rebuilt\n", dir,
                orphans[i]);
        removed++;
    }
    return removed;
}

int log_recover_swaps(const char *dir, bool *swapped)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int64_t *bases = NULL, swaps[64], orphans[64];
    int nb = 0, capb = 0, ns = 0, no = 0, rc = 0, removed = 0, n;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t b;
        if ((b = name_base(de->d_name, ".index.swap")) >= 0 ||
            (b = name_base(de->d_name, ".timeindex.swap")) >= 0 ||
            (b = name_base(de->d_name, ".txnindex.swap")) >= 0) {
            if (no < (int)(sizeof(orphans) / sizeof(orphans[0])))
                orphans[no++] = b; /* twice when both are there: harmless */
        } else if (has_suffix(de->d_name, ".cleaned") || has_suffix(de->d_name, ".deleted")) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            if (storage_sys.unlink(path) == 0)
                removed++;
        } else if ((b = name_base(de->d_name, ".log.swap")) >= 0) {
            if (ns < (int)(sizeof(swaps) / sizeof(swaps[0])))
                swaps[ns++] = b; /* at most one per group of one clean */
        } else if ((b = name_base(de->d_name, ".log")) >= 0) {
            if (nb == capb) {
                capb = capb ? capb * 2 : 256;
                int64_t *p = realloc(bases, (size_t)capb * sizeof(*p));
                if (!p) {
                    rc = -ENOMEM;
                    break;
                }
                bases = p;
            }
            bases[nb++] = b;
        }
    }
    closedir(d);
    *swapped = false;
    if (rc == 0 && (n = remove_orphan_indexes(dir, orphans, no, swaps, ns)) > 0) {
        removed += n;
        *swapped = true; /* every segment re-read: base's .txnindex too */
    }
    for (int i = 0; rc == 0 && i < ns; i++) {
        rc = complete_swap(dir, swaps[i], bases, nb);
        *swapped = true;
    }
    free(bases);
    if (rc == 0 && (ns > 0 || removed > 0))
        rc = storage_sync_dir(dir);
    return rc;
}
