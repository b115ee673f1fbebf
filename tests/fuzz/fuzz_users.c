/*
 * fuzz_users.c - libFuzzer target for the SCRAM credentials file
 * (control/users.c, users_parse), read at start-up.
 *
 * Input: any bytes parsed as the file; with an odd first byte the rest gets
 * its right checksum line appended, so the parser behind the checksum is
 * reached. Whatever it accepts must hold sorted, unique (user, mechanism)
 * pairs with keys of the mechanism's length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/users.h"
#include "storage/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[1 << 16];
    struct users u = {0};
    char err[256];
    const char *in = (const char *)data;
    size_t n = size;
    if (size > 0 && (data[0] & 1) && size < sizeof text - 32) {
        memcpy(text, data + 1, size - 1);
        n = size - 1;
        if (n > 0 && text[n - 1] != '\n')
            text[n++] = '\n';
        n += (size_t)snprintf(text + n, sizeof text - n, "crc32c %08x\n", crc32c(text, n));
        in = text;
    }
    if (users_parse(&u, in, n, err, sizeof err) == 0) {
        for (int i = 0; i < u.n; i++) {
            if (scram_key_len(u.v[i].mech) == 0 || u.v[i].salt_len <= 0)
                abort();
            if (i > 0) {
                int d = strcmp(u.v[i - 1].user, u.v[i].user);
                if (d > 0 || (d == 0 && u.v[i - 1].mech >= u.v[i].mech))
                    abort();
            }
        }
    }
    users_close(&u);
    return 0;
}
