/*
 * fuzz_md_text.c - libFuzzer target for the metadata text (control/md_file.c):
 * the entries of the metadata log and its snapshots, and the old
 * DATA/__sluice/metadata file.
 *
 * Input: any bytes, applied as a metadata log entry to a store of two shards
 * (md_text_apply); with an odd first byte the rest gets its right checksum
 * line first, so the parser behind the checksum is reached. Whatever it accepts must build back into a text that
 * applies to a fresh store and gives the same text again (a snapshot taken
 * and restored is the same state). Seeds: entries as md_text_build writes
 * them (tests/unit/test_control.c makes some).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/md_store.h"
#include "storage/crc32c.h"

static struct broker_config cfg;

static void store_init(struct md_store *s, int32_t *load)
{
    memset(s, 0, sizeof *s);
    memset(load, 0, 2 * sizeof *load);
    s->cfg = &cfg;
    s->nshards = 2;
    s->load = load;
}

static void store_clear(struct md_store *s)
{
    while (s->ntopics > 0)
        md_store_forget(s, s->topics[s->ntopics - 1]);
    free(s->topics);
    free(s->tombs);
    free(s->drops);
    md_nodes_free(s);
    md_acls_clear(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_store a, b;
    int32_t la[2], lb[2];
    char err[512];
    size_t n1 = 0, n2 = 0;

    static char signed_text[1 << 16];
    const char *in = (const char *)data;

    if (!cfg.num_partitions)
        broker_config_defaults(&cfg);
    if (size > 0 && (data[0] & 1) && size < sizeof signed_text - 32) {
        memcpy(signed_text, data + 1, size - 1);
        size = size - 1 + (size_t)snprintf(signed_text + size - 1, 32,
                                           "crc32c %08x\n",
                                           crc32c(data + 1, size - 1));
        in = signed_text;
    }
    store_init(&a, la);
    if (md_text_apply(&a, in, size, err, sizeof err) == 0) {
        md_store_replace(&a);
        char *t1 = md_text_build(&a, false, &n1, NULL);
        store_init(&b, lb);
        if (t1 && md_text_apply(&b, t1, n1, err, sizeof err) != 0)
            abort();                        /* our own text must apply */
        char *t2 = t1 ? md_text_build(&b, false, &n2, NULL) : NULL;
        if (t1 && (!t2 || n1 != n2 || memcmp(t1, t2, n1) != 0))
            abort();                        /* and read back the same */
        free(t1);
        free(t2);
        store_clear(&b);
    }
    store_clear(&a);
    return 0;
}
