/* ops_private.h - the inside of the ops thread, shared by ops.c (the
 * HTTP daemon, routes, the control round trip), prom.c (/metrics) and
 * console.c (the console's JSON and files). Nothing outside ops/
 * includes it. */
#ifndef SLUICE_OPS_PRIVATE_H
#define SLUICE_OPS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/ctl.h"
#include "ops/ops.h"
#include "ops/sbuf.h"

struct MHD_Daemon;

struct ops {
    struct ops_config cfg;
    char listen_host[256];
    char bootstrap_host[256];
    int listen_fd;
    int port;
    struct MHD_Daemon *daemon;
    /* The one control round trip (the HTTP thread asks one at a time). */
    struct ctl_msg msg;
    uint8_t *arena;
    size_t arena_cap;
    bool msg_out;                    /* posted, not yet answered */
};

/* ops.c: posts o->msg (op and union filled by the caller, arena set
 * here) and waits for the answer. 0, -ETIMEDOUT or -EBUSY (the previous
 * question is still out). */
int ops_ask(struct ops *o, int timeout_ms);
/* Waits until no question is out; false on timeout. Call before filling
 * o->msg. */
bool ops_idle(struct ops *o, int timeout_ms);
/* CTL_STATS, retried with a bigger arena as often as it asks. */
int ops_collect(struct ops *o, const struct ctl_stats **out);

/* console.c: the console's pages, files and JSON (GET url). */
struct MHD_Connection;
int ops_console_route(struct ops *o, struct MHD_Connection *conn, const char *url);
/* ops.c, for console.c: queue body (taken over) with status and type. */
int ops_reply(struct MHD_Connection *conn, unsigned status, const char *type, struct sbuf *body);

/* tail.c: {topic, partition, records: [...]} from offset (-1: the last
 * max records). 0, -ENOENT (no such partition) or a negative errno. */
int ops_tail(struct ops *o, const char *topic, int32_t partition, int64_t offset, int max,
             struct sbuf *b);

/* prom.c */
void ops_render_metrics(struct sbuf *b, const struct ctl_stats *st);

#endif
