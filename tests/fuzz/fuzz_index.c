/* fuzz_index.c - libFuzzer target for a segment's .index and .timeindex
 * files (storage/index.c) as they are loaded at start-up.
 *
 * Input: the .index bytes, then (after the first 0xff 0x00 marker, or
 * the same bytes) the .timeindex bytes. Invariants: what loads is strictly
 * increasing (as the loader promises), the files are cut to what was
 * kept, and lookups answer an entry's position or 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/index.h"
#include "fuzz_util.h"

static void check_index(const char *path)
{
    struct offset_index ix;
    struct stat st;
    if (offset_index_open(&ix, path, 1) < 0)
        abort();
    for (uint32_t i = 1; i < ix.count; i++)
        if (ix.entries[i].rel_offset <= ix.entries[i - 1].rel_offset ||
            ix.entries[i].position <= ix.entries[i - 1].position)
            abort();
    if (stat(path, &st) < 0 || (size_t)st.st_size != (size_t)ix.count * INDEX_ENTRY_SIZE)
        abort();
    for (uint32_t i = 0; i < ix.count; i++) {
        uint32_t pos = offset_index_lookup(&ix, ix.entries[i].rel_offset);
        if (pos != ix.entries[i].position)
            abort();
    }
    offset_index_lookup(&ix, UINT32_MAX);
    if (ix.count > 0)
        offset_index_truncate_position(&ix, ix.entries[ix.count / 2].position);
    offset_index_close(&ix);
}

static void check_timeindex(const char *path)
{
    struct time_index ti;
    struct stat st;
    if (time_index_open(&ti, path, 1) < 0)
        abort();
    for (uint32_t i = 1; i < ti.count; i++)
        if (ti.entries[i].timestamp <= ti.entries[i - 1].timestamp ||
            ti.entries[i].rel_offset < ti.entries[i - 1].rel_offset)
            abort();
    if (stat(path, &st) < 0 || (size_t)st.st_size != (size_t)ti.count * TIMEINDEX_ENTRY_SIZE)
        abort();
    for (uint32_t i = 0; i < ti.count; i++)
        time_index_lookup(&ti, ti.entries[i].timestamp);
    time_index_lookup(&ti, INT64_MIN);
    time_index_lookup(&ti, INT64_MAX);
    if (ti.count > 0)
        time_index_truncate_offset(&ti, ti.entries[ti.count / 2].rel_offset);
    time_index_close(&ti);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 20))
        return 0;
    const uint8_t *mark = size > 1 ? memmem(data, size, "\xff\x00", 2) : NULL;
    size_t ilen = mark ? (size_t)(mark - data) : size;
    const uint8_t *t = mark ? mark + 2 : data;
    size_t tlen = mark ? size - ilen - 2 : size;
    const char *dir = fuzz_scratch();
    char ipath[128], tpath[128];
    snprintf(ipath, sizeof(ipath), "%s/00000000000000000000.index", dir);
    snprintf(tpath, sizeof(tpath), "%s/00000000000000000000.timeindex", dir);
    fuzz_write_file(ipath, data, ilen);
    fuzz_write_file(tpath, t, tlen);
    check_index(ipath);
    check_timeindex(tpath);
    return 0;
}
