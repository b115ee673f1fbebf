/* crc32c.c - Kafka's CRC32C over isa-l's crc32_iscsi (see crc32c.h). */
#include "storage/crc32c.h"

#include <isa-l/crc.h>

uint32_t crc32c(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t crc = 0xFFFFFFFFu;

    /* crc32_iscsi takes an int length: feed huge buffers in 1 GiB steps. */
    while (len > 0) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        crc = crc32_iscsi((unsigned char *)p, (int)n, crc);
        p += n;
        len -= n;
    }
    return crc ^ 0xFFFFFFFFu;
}
