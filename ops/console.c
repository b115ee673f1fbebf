/* console.c - the web console: pages and JSON on the ops listener. */
#include "ops/ops_private.h"

#include <microhttpd.h>

int ops_console_route(struct ops *o, struct MHD_Connection *conn, const char *url)
{
    struct sbuf b = { 0 };
    (void)o;
    sbuf_printf(&b, "no such page: %s\n", url);
    return ops_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &b);
}
