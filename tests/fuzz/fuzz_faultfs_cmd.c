/* fuzz_faultfs_cmd.c - libFuzzer target for faultfs's control lines
 * (tests/lib/faultfs/faultfs_cmd.h): the test tool's parser must accept
 * only well-formed commands, give every refusal a reason, never read
 * outside its input, and yield a rule that matching can use. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/faultfs/faultfs_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: ASan catches a read one past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct faultfs_cmd cmd;
    const char *why = NULL;
    int rc = faultfs_cmd_parse(buf, size, &cmd, &why);
    if (rc < 0 && !why)
        abort(); /* every refusal says why */
    if (rc == 0 && cmd.verb == FAULTFS_ARM) {
        const struct faultfs_rule *r = &cmd.rule;
        size_t glen = strnlen(r->glob, sizeof(r->glob));
        if (r->ops == 0 || (r->ops & ~7u) || r->err <= 0 || r->err > 4095 || glen == 0 ||
            glen == sizeof(r->glob) || r->glob[0] == '/')
            abort();
        static const char *const paths[] = { "t-0/00000000000000000000.log", "a", "" };
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            int err = faultfs_rule_match(r, FAULTFS_OP_READ, paths[i], 0, 4096);
            if (err != 0 && err != r->err)
                abort();
        }
    }
    free(buf);
    return 0;
}
