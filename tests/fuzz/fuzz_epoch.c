/*
 * fuzz_epoch.c - libFuzzer target for the leader-epoch-checkpoint parser
 * (storage/epoch.c): any bytes; what parses must be in order (epochs and
 * offsets strictly increasing), as the cache relies on.
 */
#include <stdint.h>
#include <stdlib.h>

#include "storage/epoch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct epoch_entry *v;
    int n;

    if (epoch_parse((const char *)data, size, &v, &n) == 0) {
        for (int i = 1; i < n; i++)
            if (v[i].epoch <= v[i - 1].epoch ||
                v[i].start_offset <= v[i - 1].start_offset)
                abort();
        free(v);
    }
    return 0;
}
