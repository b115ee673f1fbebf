/* journal_seed.c - writes seed inputs for fuzz_journal: small journal
 * files (two header slots and a 64 KiB region) holding valid records of
 * real batches, a padding record, a record of an earlier lap and a torn
 * one, so the fuzzer starts from the format rather than from noise.
 *
 *   ./build-fuzz/tests/fuzz/journal_seed DIR   (then fuzz_journal DIR) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch_build.h"
#include "storage/journal_private.h"

#define REGION (64u << 10)

static uint8_t file[JOURNAL_HEADER_BYTES + REGION];

/* A record of one real batch of n records at LSN lsn; returns its length. */
static uint32_t put_batches(uint8_t *p, uint64_t lsn, int64_t base, int n)
{
    uint8_t batch[4096];
    struct batch_builder b;
    batch_builder_init(&b, batch, sizeof(batch), 1700000000000);
    for (int i = 0; i < n; i++)
        batch_builder_add(&b, 1700000000000 + i, "k", 1, "value", 5, NULL, 0);
    size_t blen = batch_builder_finish(&b, 0);
    be64_store(batch + BATCH_OFF_BASE_OFFSET, (uint64_t)base);
    const char *name = "feed-0";
    uint32_t len = (uint32_t)((JREC_HEADER + strlen(name) + blen + 7) & ~7u);
    jrec_put_header(p, len, JREC_BATCHES, (uint16_t)strlen(name), 0x1234, base, base + n,
                    (uint32_t)blen);
    memcpy(p + JREC_HEADER, name, strlen(name));
    memcpy(p + JREC_HEADER + strlen(name), batch, blen);
    jrec_seal(p, lsn);
    return len;
}

static int write_seed(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file, 1, sizeof(file), f) != sizeof(file) || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: journal_seed DIR\n");
        return 2;
    }
    uint8_t *region = file + JOURNAL_HEADER_BYTES;
    jhdr_put(file, 3, 0, REGION);
    jhdr_put(file + JOURNAL_BLOCK, 2, 0, REGION);
    uint64_t lsn = 0;
    for (int i = 0; i < 3; i++)
        lsn += put_batches(region + lsn, lsn, i * 4, 4);
    uint32_t pad = (uint32_t)(JOURNAL_BLOCK - lsn % JOURNAL_BLOCK);
    jrec_put_header(region + lsn, pad, JREC_PAD, 0, 0, 0, 0, 0);
    jrec_seal(region + lsn, lsn);
    lsn += pad;
    put_batches(region + lsn, lsn + REGION, 12, 2); /* of the next lap: ends the scan */
    if (write_seed(argv[1], "valid") < 0)
        return 1;
    region[100] ^= 0x10; /* a torn first record */
    if (write_seed(argv[1], "torn") < 0)
        return 1;
    return 0;
}
