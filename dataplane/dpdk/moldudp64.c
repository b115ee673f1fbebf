/* moldudp64.c - MoldUDP64 packets (see moldudp64.h). */
#include "dataplane/dpdk/moldudp64.h"

#include <errno.h>
#include <string.h>

#include "storage/batch.h"

int mold_parse(const uint8_t *p, size_t len, struct mold_header *h)
{
    if (len < MOLD_HEADER_LEN)
        return -EINVAL;
    memcpy(h->session, p, MOLD_SESSION_LEN);
    h->seq = be64_load(p + 10);
    h->count = be16_load(p + 18);
    h->messages = h->count == MOLD_END_OF_SESSION ? 0 : h->count;
    size_t off = MOLD_HEADER_LEN;
    for (uint16_t i = 0; i < h->messages; i++) {
        if (off + 2 > len)
            return -EBADMSG;
        off += 2 + be16_load(p + off);
        if (off > len)
            return -EBADMSG;
    }
    return off == len ? 0 : -EBADMSG;
}

void mold_put_request(uint8_t out[MOLD_HEADER_LEN], const char session[MOLD_SESSION_LEN],
                      uint64_t seq, uint16_t count)
{
    memcpy(out, session, MOLD_SESSION_LEN);
    be64_store(out + 10, seq);
    be16_store(out + 18, count);
}

size_t mold_put_packet(uint8_t *out, size_t cap, const char session[MOLD_SESSION_LEN],
                       uint64_t seq, const uint8_t *const *msgs, const uint16_t *lens,
                       uint16_t count)
{
    size_t off = MOLD_HEADER_LEN;
    if (cap < off)
        return 0;
    mold_put_request(out, session, seq, count);
    for (uint16_t i = 0; i < count && count != MOLD_END_OF_SESSION; i++) {
        if (off + 2 + (size_t)lens[i] > cap)
            return 0;
        be16_store(out + off, lens[i]);
        memcpy(out + off + 2, msgs[i], lens[i]);
        off += 2 + (size_t)lens[i];
    }
    return off;
}
