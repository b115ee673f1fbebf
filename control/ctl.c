/* ctl.c - the answer arena of a control message (ctl.h).
 *
 * The requester carves the arena out of its own memory; the control thread
 * fills it while answering. Bump allocation, 8-byte aligned, zeroed, never
 * freed piecewise: it lives and dies with the request. */
#include "control/ctl.h"

#include <stdint.h>
#include <string.h>

void *ctl_arena_alloc(struct ctl_arena *a, size_t n)
{
    size_t off;

    if (!a->buf)
        return NULL;
    off = a->len + (size_t)(-(uintptr_t)(a->buf + a->len) & 7); /* 8-aligned */
    if (off > a->cap || n > a->cap - off)
        return NULL;
    a->len = off + n;
    memset(a->buf + off, 0, n);
    return a->buf + off;
}

char *ctl_arena_strdup(struct ctl_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = ctl_arena_alloc(a, len + 1);

    if (p && len)
        memcpy(p, s, len);
    return p;
}
