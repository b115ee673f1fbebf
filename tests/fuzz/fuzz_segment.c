/* fuzz_segment.c - libFuzzer target for segment recovery at start-up
 * (storage/recover.c, segment.c, index.c behind log_open): whatever the
 * .log and .index files of a partition hold, the log opens, serves only
 * valid batches, and appends after what it kept.
 *
 * Input: byte 0 are flags - bit 0 fixes every batch's CRC (so recovery
 * gets past the checksum), bit 1 leaves a clean-shutdown marker (indexes
 * trusted), bit 2 writes a recovery point of 5 (the first segment
 * trusted). The rest is the first segment's .log (base offset 0); after a
 * "\xfe\xfe" marker comes a second segment's .log (base offset 5), and
 * after a "\xfd\xfd" marker the first segment's .index. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/log.h"
#include "fuzz_util.h"

#define NOW 1700000000000ll

static size_t split(const uint8_t *p, size_t n, const char *mark)
{
    const uint8_t *m = n >= 2 ? memmem(p, n, mark, 2) : NULL;
    return m ? (size_t)(m - p) : n;
}

/* Every batch the log serves is whole and at increasing offsets, and
 * its CRC holds unless recovery was told to trust the files (a clean-
 * shutdown marker or a recovery point: then, as in Kafka, sealed bytes
 * are not read again at start, and a garbled trusted file is served as
 * it is - the client's CRC check catches it). */
static void check_reads(struct log *log, bool trusted)
{
    static uint8_t buf[1 << 20];
    int64_t off = log_start_offset(log), end = log_end_offset(log);
    while (off < end) {
        struct log_range r[4];
        int n = log_read(log, off, 1, r, 4);
        if (n < 0 && trusted)
            break; /* garbled where trusted: the fetch gets the error */
        if (n < 0)
            abort();
        if (n == 0)
            break; /* a gap to the end (an empty sealed segment) */
        if (r[0].len > sizeof(buf) || pread(r[0].fd, buf, r[0].len, (off_t)r[0].pos) != r[0].len)
            abort();
        struct batch_header h;
        batch_header_decode(buf, &h);
        if (trusted && (batch_size(&h) > r[0].len || batch_last_offset(&h) < off))
            break;
        if (batch_size(&h) > r[0].len || batch_last_offset(&h) < off ||
            (!trusted && !batch_crc_ok(buf, batch_size(&h))))
            abort();
        off = batch_last_offset(&h) + 1;
    }
    int64_t o, ts;
    log_offset_for_timestamp(log, NOW, &o, &ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20))
        return 0;
    uint8_t flags = data[0];
    uint8_t *rest = malloc(size);
    if (!rest)
        abort();
    memcpy(rest, data + 1, size - 1);
    size_t n = size - 1;
    size_t ixat = split(rest, n, "\xfd\xfd");
    size_t s1 = split(rest, ixat, "\xfe\xfe");
    if (flags & 1) {
        fuzz_fix_batch_crcs(rest, s1);
        if (s1 + 2 < ixat)
            fuzz_fix_batch_crcs(rest + s1 + 2, ixat - s1 - 2);
    }

    const char *dir = fuzz_scratch();
    char pdir[128], path[192];
    snprintf(pdir, sizeof(pdir), "%s/t-0", dir);
    if (mkdir(pdir, 0755) < 0)
        abort();
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", pdir);
    fuzz_write_file(path, rest, s1);
    if (s1 < ixat) {
        snprintf(path, sizeof(path), "%s/00000000000000000005.log", pdir);
        fuzz_write_file(path, rest + s1 + 2, ixat - s1 - 2);
    }
    if (ixat < n) {
        snprintf(path, sizeof(path), "%s/00000000000000000000.index", pdir);
        fuzz_write_file(path, rest + ixat + 2, n - ixat - 2);
    }
    if (flags & 2) {
        snprintf(path, sizeof(path), "%s/clean-shutdown", pdir);
        fuzz_write_file(path, NULL, 0);
    }
    if (flags & 4) {
        snprintf(path, sizeof(path), "%s/recovery-point", pdir);
        fuzz_write_file(path, (const uint8_t *)"5\n", 2);
    }
    free(rest);

    struct log_config cfg;
    struct log *log;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 1 << 16;
    cfg.index_interval_bytes = 64;
    if (log_open(&log, dir, "t", 0, &cfg, NOW) < 0)
        abort(); /* recovery cuts what is bad; it does not refuse to start */
    bool trusted = flags & 6;
    check_reads(log, trusted);
    int64_t end = log_end_offset(log);

    /* Appending after what recovery kept works, and survives a reopen. */
    uint8_t batch[256];
    struct batch_builder b;
    struct log_append_result res;
    batch_builder_init(&b, batch, sizeof(batch), NOW);
    batch_builder_add(&b, NOW, "k", 1, "v", 1, NULL, 0);
    size_t blen = batch_builder_finish(&b, 0);
    if (log_append(log, batch, blen, NOW, &res) != 0 || res.base_offset != end)
        abort();
    if (log_close(log) != 0)
        abort();
    if (log_open(&log, dir, "t", 0, &cfg, NOW) < 0 || log_end_offset(log) != end + 1)
        abort();
    check_reads(log, trusted);
    if (log_close(log) != 0)
        abort();
    return 0;
}
