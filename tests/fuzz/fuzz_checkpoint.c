/* fuzz_checkpoint.c - libFuzzer target for the checkpoint files read at
 * start-up (log-start-offset-checkpoint, cleaner-offset-checkpoint):
 * checkpoint_parse must accept only the exact format and never read
 * outside its input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/log_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: ASan catches a read one past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    int64_t off = -1;
    if (checkpoint_parse(buf, size, &off) == 0 && off < 0)
        abort(); /* a parsed offset is never negative */
    free(buf);
    return 0;
}
