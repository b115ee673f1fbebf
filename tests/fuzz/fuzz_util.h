/* fuzz_util.h - helpers shared by the libFuzzer targets: fixing the
 * checksums of fuzzed bytes so the parser behind them is reached, and a
 * scratch directory on tmpfs for targets that read files.
 *
 * A target is one LLVMFuzzerTestOneInput in tests/fuzz/fuzz_<name>.c. It is
 * built twice: with libFuzzer (-Dfuzz=true, clang; scripts/fuzz.sh runs it)
 * and, in every build, into tests/fuzz/replay.c's unit test, which runs it
 * over tests/fuzz/corpus/<name>/ (seeds) and tests/fuzz/regress/<name>/
 * (every input that ever crashed it: keep them there). A target must
 * abort() on any broken invariant, never just return. */
#ifndef SLUICE_FUZZ_UTIL_H
#define SLUICE_FUZZ_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/batch.h"
#include "storage/crc32c.h"

/* Gives every RecordBatch in buf[0..len) a correct CRC, walking by each
 * batch's own length field (clamped to what is left). */
static inline void fuzz_fix_batch_crcs(uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= BATCH_HEADER_SIZE) {
        uint32_t blen = be32_load(buf + off + BATCH_OFF_LENGTH);
        size_t size = (size_t)blen + BATCH_LOG_OVERHEAD;
        if (blen < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD || size > len - off)
            break;
        uint32_t crc = crc32c(buf + off + BATCH_OFF_ATTRIBUTES, size - BATCH_OFF_ATTRIBUTES);
        be32_store(buf + off + BATCH_OFF_CRC, crc);
        off += size;
    }
}

static inline int fuzz_rm_entry(const char *path, const struct stat *sb, int flag,
                                struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    return ftw->level == 0 ? 0 : remove(path);
}

static char fuzz_scratch_dir[64];

static inline void fuzz_scratch_remove(void)
{
    nftw(fuzz_scratch_dir, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rmdir(fuzz_scratch_dir);
}

/* A private scratch directory (tmpfs when there is one), emptied on each
 * call and removed at exit. The same one for the life of the process. */
static inline const char *fuzz_scratch(void)
{
    char *dir = fuzz_scratch_dir;
    if (!dir[0]) {
        atexit(fuzz_scratch_remove);
        snprintf(dir, sizeof(fuzz_scratch_dir), "/dev/shm/sluice-fuzz-%d", (int)getpid());
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            snprintf(dir, sizeof(fuzz_scratch_dir), "/tmp/sluice-fuzz-%d", (int)getpid());
            if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                abort();
        }
    }
    nftw(dir, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return dir;
}

/* Writes data to path (creating directories is the caller's). */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        abort();
}

#endif
