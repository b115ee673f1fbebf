/* fuzz_offsets.c - libFuzzer target for the committed-offsets log
 * (control/offsets_file.c), as it is read at start-up.
 *
 * Input: the file's bytes. The first byte picks help for the fuzzer: bit 0
 * puts a valid header in front, bit 1 fixes the CRC of every record (by
 * each record's own length), so the record decoder is reached. The log is
 * opened (replayed, a torn tail cut) from a scratch directory. Invariants:
 * what opens compacts, and the compacted log replays to the same map. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/offsets.h"
#include "storage/crc32c.h"
#include "fuzz_util.h"

static void on_answer(void *ctx, struct ctl_msg *m)
{
    (void)ctx;
    (void)m;
}

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static struct offsets *open_log(const char *dir)
{
    struct offsets_options opt = { .retention_ms = 7 * 24 * 3600 * 1000ll };
    struct offsets *o;
    char err[256];
    return offsets_create(&o, dir, &opt, on_answer, NULL, 1700000000000ll, err, sizeof(err)) == 0
               ? o
               : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20))
        return 0;
    uint8_t *buf = malloc(size + 16);
    size_t len = 0;
    if (!buf)
        abort();
    if (data[0] & 1) {
        memcpy(buf, "SLUICEOF", 8);
        put32le(buf + 8, 1);
        put32le(buf + 12, crc32c(buf, 12));
        len = 16;
    }
    memcpy(buf + len, data + 1, size - 1);
    len += size - 1;
    if (data[0] & 2) {
        for (size_t at = 16; at + 8 <= len;) {
            uint32_t rl = get32le(buf + at + 4);
            if (rl > len - at - 8)
                break;
            put32le(buf + at, crc32c(buf + at + 4, rl + 4));
            at += 8 + rl;
        }
    }
    const char *scratch = fuzz_scratch();
    char dir[128], path[160];
    snprintf(dir, sizeof(dir), "%s/offsets", scratch);
    snprintf(path, sizeof(path), "%s/offsets.log", dir);
    if (mkdir(dir, 0755) < 0)
        abort();
    fuzz_write_file(path, buf, len);
    free(buf);

    struct offsets *o = open_log(dir);
    if (!o)
        return 0;
    size_t n = offsets_count(o);
    int64_t live = offsets_live_bytes(o);
    if (offsets_compact(o) < 0)
        abort(); /* what replayed, compacts */
    offsets_destroy(o);
    o = open_log(dir);
    if (!o || offsets_count(o) != n || offsets_live_bytes(o) != live) {
        fprintf(stderr, "fuzz_offsets: %zu entries / %lld live bytes, after compaction %zu / %lld\n",
                n, (long long)live, o ? offsets_count(o) : 0,
                o ? (long long)offsets_live_bytes(o) : -1ll);
        abort(); /* and replays to the same map */
    }
    offsets_destroy(o);
    return 0;
}
