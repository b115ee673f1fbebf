/* console.c - the web console on the ops listener: the page and its files
 * (embedded in the binary at build time: console_files.c, made by
 * embed.py from ops/console/ and the vendored uPlot), and the JSON the
 * page polls.
 *
 *   /                      the console (one page; JS switches views)
 *   /static/NAME           its files
 *   /api/overview          cluster, shards (cores, partitions, loop-turn
 *                          and fsync latency), totals, histograms
 *   /api/topics            topics and partitions: offsets, sizes, counters
 *   /api/topic?name=T      a topic's configs (DescribeConfigs' answer)
 *   /api/groups            groups: state, members, assignments, lag
 *   /api/tail?topic=T&partition=P[&offset=O][&max=N]  records (tail.c)
 *
 * Read-only: every answer comes from CTL_STATS and the describe/list
 * requests a shard would send for a client (control/ctl.h).
 * Never: changes anything, or holds o->msg across two handlers. */
#include "ops/ops_private.h"
#include "ops/console_files.h"
#include "ops/decode.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASK_MS 5000

static int reply_json(struct MHD_Connection *conn, struct sbuf *b)
{
    return ops_reply(conn, MHD_HTTP_OK, "application/json", b);
}

static int reply_error(struct MHD_Connection *conn, unsigned status, const char *what, int rc)
{
    struct sbuf b = { 0 };
    sbuf_printf(&b, "{\"error\":");
    sbuf_json_str(&b, what);
    sbuf_printf(&b, ",\"reason\":");
    sbuf_json_str(&b, rc ? strerror(-rc) : "");
    sbuf_printf(&b, "}");
    return ops_reply(conn, status, "application/json", &b);
}

/* The upper bound (seconds) of the bucket holding quantile q. */
static double hist_quantile(const struct hist *h, double q)
{
    uint64_t total = hist_total(h), cum = 0;
    if (!h->b || total == 0)
        return 0;
    for (int i = 0; i < h->b->n; i++) {
        cum += h->count[i];
        if ((double)cum >= q * (double)total)
            return (double)h->b->le[i] * h->b->scale;
    }
    return (double)h->max * h->b->scale;
}

static void json_hist(struct sbuf *b, const char *name, const struct hist *h)
{
    sbuf_printf(b, "\"%s\":{\"le\":[", name);
    for (int i = 0; h->b && i < h->b->n; i++)
        sbuf_printf(b, "%s%.9g", i ? "," : "", (double)h->b->le[i] * h->b->scale);
    sbuf_printf(b, "],\"counts\":[");
    for (int i = 0; h->b && i <= h->b->n; i++)
        sbuf_printf(b, "%s%" PRIu64, i ? "," : "", h->count[i]);
    sbuf_printf(b, "],\"sum\":%.9g,\"max\":%.9g,\"p50\":%.9g,\"p99\":%.9g}",
                h->b ? (double)h->sum * h->b->scale : 0.0,
                h->b ? (double)h->max * h->b->scale : 0.0, hist_quantile(h, 0.5),
                hist_quantile(h, 0.99));
}

static int serve_overview(struct ops *o, struct MHD_Connection *conn)
{
    const struct ctl_stats *st;
    int rc = ops_collect(o, &st);
    if (rc < 0)
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer", rc);
    struct sbuf b = { 0 };
    sbuf_printf(&b, "{\"cluster_id\":");
    sbuf_json_str(&b, st->cluster_id);
    sbuf_printf(&b, ",\"topics\":%d,\"partitions\":%d,\"groups_with_offsets\":%d,\"shards\":[",
                st->ntopics, st->nparts, st->nlags);
    for (int i = 0; i < st->nshards; i++) {
        const struct shard_metrics *m = &st->shards[i];
        int nparts = 0;
        uint64_t req = 0, in = 0, out = 0;
        for (int k = 0; k < st->nparts; k++)
            nparts += st->parts[k].shard == i;
        for (int k = 0; k < METRICS_API_KEYS; k++) {
            req += m->api[k].requests;
            in += m->api[k].bytes_in;
            out += m->api[k].bytes_out;
        }
        sbuf_printf(&b, "%s{\"shard\":%d,\"core\":%d,\"port\":%d,\"partitions\":%d,"
                        "\"connections\":%" PRIu64 ",\"requests\":%" PRIu64
                        ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                        ",\"produce_requests\":%" PRIu64 ",\"fetch_requests\":%" PRIu64
                        ",\"turns\":%" PRIu64 ",\"ring_to_shard\":%u,\"ring_to_control\":%u,",
                    i ? "," : "", i, m->core, st->ports[i], nparts, m->conns_open, req, in, out,
                    m->api[0].requests, m->api[1].requests, m->turns, st->rings[i].to_shard,
                    st->rings[i].from_shard);
        json_hist(&b, "turn", &m->turn_ns);
        sbuf_put(&b, ",", 1);
        json_hist(&b, "fsync", &m->flush.fsync_ns);
        sbuf_put(&b, ",", 1);
        json_hist(&b, "produce", &m->produce_ns);
        sbuf_put(&b, ",", 1);
        json_hist(&b, "fetch", &m->fetch_ns);
        sbuf_put(&b, "}", 1);
    }
    uint64_t records = 0;
    for (int k = 0; k < st->nparts; k++)
        records += st->parts[k].m.records_in;
    sbuf_printf(&b, "],\"records_appended\":%" PRIu64 "}", records);
    return reply_json(conn, &b);
}

static void json_part(struct sbuf *b, const struct part_report *p)
{
    sbuf_printf(b, "{\"partition\":%d,\"shard\":%d,\"log_start\":%" PRId64 ",\"log_end\":%" PRId64
                   ",\"high_watermark\":%" PRId64 ",\"segments\":%d,\"size_bytes\":%" PRIu64
                   ",\"records_in\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                   ",\"offline\":%s}",
                p->partition, p->shard, p->log_start, p->log_end, p->high_watermark, p->segments,
                p->size_bytes, p->m.records_in, p->m.bytes_in, p->m.bytes_out,
                p->error ? "true" : "false");
}

static int serve_topics(struct ops *o, struct MHD_Connection *conn)
{
    const struct ctl_stats *st;
    int rc = ops_collect(o, &st);
    if (rc < 0)
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer", rc);
    struct sbuf b = { 0 };
    sbuf_printf(&b, "{\"topics\":[");
    for (int t = 0; t < st->ntopics; t++) {
        const struct topic_report *tr = &st->topics[t];
        sbuf_printf(&b, "%s{\"name\":", t ? "," : "");
        sbuf_json_str(&b, tr->name);
        sbuf_printf(&b, ",\"id\":\"%s\",\"partition_count\":%d,\"partitions\":[", tr->id,
                    tr->partitions);
        int n = 0;
        for (int k = 0; k < st->nparts; k++)
            if (strcmp(st->parts[k].topic, tr->name) == 0) {
                if (n++)
                    sbuf_put(&b, ",", 1);
                json_part(&b, &st->parts[k]);
            }
        sbuf_printf(&b, "]}");
    }
    sbuf_printf(&b, "]}");
    return reply_json(conn, &b);
}

static int serve_topic(struct ops *o, struct MHD_Connection *conn, const char *name)
{
    if (!name || !*name)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "name= is required", 0);
    if (!ops_idle(o, ASK_MS))
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", -EBUSY);
    struct ctl_config_resource res = { .type = CTL_RESOURCE_TOPIC, .name = name, .nkeys = -1 };
    memset(&o->msg, 0, sizeof(o->msg));
    o->msg.op = CTL_DESCRIBE_CONFIGS;
    o->msg.u.configs = (struct ctl_configs){ .nresources = 1, .resources = &res };
    int rc = ops_ask(o, ASK_MS);
    if (rc < 0)
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer", rc);
    struct sbuf b = { 0 };
    sbuf_printf(&b, "{\"name\":");
    sbuf_json_str(&b, name);
    sbuf_printf(&b, ",\"error\":%d,\"configs\":[", res.error);
    for (int i = 0; i < res.nresults; i++) {
        const struct config_desc *d = &res.results[i];
        sbuf_printf(&b, "%s{\"name\":", i ? "," : "");
        sbuf_json_str(&b, d->name);
        sbuf_printf(&b, ",\"value\":");
        if (d->value)
            sbuf_json_str(&b, d->sensitive ? "(sensitive)" : d->value);
        else
            sbuf_printf(&b, "null");
        sbuf_printf(&b, ",\"source\":%d,\"default\":%s}", d->source,
                    d->is_default ? "true" : "false");
    }
    sbuf_printf(&b, "]}");
    return reply_json(conn, &b);
}

static int serve_groups(struct ops *o, struct MHD_Connection *conn)
{
    if (!ops_idle(o, ASK_MS))
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", -EBUSY);
    memset(&o->msg, 0, sizeof(o->msg));
    o->msg.op = CTL_LIST_GROUPS;
    int rc = ops_ask(o, ASK_MS);
    if (rc < 0)
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer", rc);
    int n = o->msg.u.list_groups.ngroups;
    const char **ids = calloc((size_t)n + 1, sizeof(*ids));
    char **types = calloc((size_t)n + 1, sizeof(*types));
    struct ctl_described_group *described = calloc((size_t)n + 1, sizeof(*described));
    for (int i = 0; ids && types && i < n; i++) {
        /* strdup'ed: the next question reuses the arena they are in */
        ids[i] = strdup(o->msg.u.list_groups.groups[i].group_id);
        types[i] = strdup(o->msg.u.list_groups.groups[i].protocol_type
                              ? o->msg.u.list_groups.groups[i].protocol_type : "");
    }
    struct sbuf b = { 0 };
    if (!ids || !types || !described) {
        b.err = true;
        goto out;
    }
    memset(&o->msg, 0, sizeof(o->msg));
    o->msg.op = CTL_DESCRIBE_GROUPS;
    o->msg.u.describe_groups = (struct ctl_describe_groups){ .ngroups = n, .group_ids = ids,
                                                             .groups = described };
    if (n > 0 && (rc = ops_ask(o, ASK_MS)) < 0) {
        sbuf_free(&b);
        rc = reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the broker did not answer", rc);
        goto done;
    }
    sbuf_printf(&b, "{\"groups\":[");
    for (int i = 0; i < n; i++) {
        const struct ctl_described_group *g = &o->msg.u.describe_groups.groups[i];
        sbuf_printf(&b, "%s{\"group\":", i ? "," : "");
        sbuf_json_str(&b, ids[i]);
        sbuf_printf(&b, ",\"protocol_type\":");
        sbuf_json_str(&b, types[i]);
        sbuf_printf(&b, ",\"state\":");
        sbuf_json_str(&b, g->state ? g->state : "");
        sbuf_printf(&b, ",\"protocol\":");
        sbuf_json_str(&b, g->protocol ? g->protocol : "");
        sbuf_printf(&b, ",\"members\":[");
        for (int k = 0; k < g->nmembers; k++) {
            const struct ctl_group_member *m = &g->members[k];
            sbuf_printf(&b, "%s{\"member_id\":", k ? "," : "");
            sbuf_json_str(&b, m->member_id ? m->member_id : "");
            sbuf_printf(&b, ",\"client_id\":");
            sbuf_json_str(&b, m->client_id ? m->client_id : "");
            sbuf_printf(&b, ",\"client_host\":");
            sbuf_json_str(&b, m->client_host ? m->client_host : "");
            sbuf_printf(&b, ",\"assignment\":");
            if (strcmp(types[i], "consumer") == 0)
                ops_json_assignment(&b, m->assignment.p, m->assignment.len);
            else
                sbuf_printf(&b, "[]");
            sbuf_printf(&b, "}");
        }
        sbuf_printf(&b, "]}");
    }
    sbuf_printf(&b, "],\"lag\":[");
    /* Lag (and groups that only have committed offsets) from the stats. */
    const struct ctl_stats *st;
    if ((rc = ops_collect(o, &st)) == 0)
        for (int i = 0; i < st->nlags; i++) {
            const struct lag_report *l = &st->lags[i];
            sbuf_printf(&b, "%s{\"group\":", i ? "," : "");
            sbuf_json_str(&b, l->group);
            sbuf_printf(&b, ",\"topic\":");
            sbuf_json_str(&b, l->topic);
            sbuf_printf(&b, ",\"partition\":%d,\"committed\":%" PRId64 ",\"log_end\":%" PRId64
                            ",\"lag\":%" PRId64 "}",
                        l->partition, l->committed, l->log_end, l->lag);
        }
    sbuf_printf(&b, "]}");
out:
    rc = reply_json(conn, &b);
done:
    for (int i = 0; ids && types && i < n; i++) {
        free((void *)ids[i]);
        free(types[i]);
    }
    free(ids);
    free(types);
    free(described);
    return rc;
}

static int serve_tail(struct ops *o, struct MHD_Connection *conn)
{
    const char *topic = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "topic");
    const char *part = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "partition");
    const char *off = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "offset");
    const char *max = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "max");
    char *end;
    if (!topic || !*topic || !part)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "topic= and partition= are required", 0);
    long p = strtol(part, &end, 10);
    if (*end || p < 0 || p > INT32_MAX)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "partition= wants a number", 0);
    long long o64 = off && *off ? strtoll(off, &end, 10) : -1;
    if (off && *off && *end)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "offset= wants a number", 0);
    long m = max && *max ? strtol(max, &end, 10) : 50;
    if (m < 1 || m > 1000)
        m = 50;
    struct sbuf b = { 0 };
    int rc = ops_tail(o, topic, (int32_t)p, o64, (int)m, &b);
    if (rc < 0) {
        sbuf_free(&b);
        return reply_error(conn, rc == -ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_GATEWAY,
                           rc == -ENOENT ? "no such partition" : "fetch failed", rc);
    }
    return reply_json(conn, &b);
}

static int serve_file(struct MHD_Connection *conn, const char *name)
{
    const struct console_file *f = console_file_find(name);
    if (!f) {
        struct sbuf b = { 0 };
        sbuf_printf(&b, "no such page: %s\n", name);
        return ops_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &b);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(f->len, (void *)f->data,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
    /* Nothing may come from elsewhere: no CDN, no inline code. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
    int rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

int ops_console_route(struct ops *o, struct MHD_Connection *conn, const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return serve_file(conn, "index.html");
    if (strncmp(url, "/static/", 8) == 0)
        return serve_file(conn, url + 8);
    if (strcmp(url, "/api/overview") == 0)
        return serve_overview(o, conn);
    if (strcmp(url, "/api/topics") == 0)
        return serve_topics(o, conn);
    if (strcmp(url, "/api/topic") == 0)
        return serve_topic(o, conn,
                           MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name"));
    if (strcmp(url, "/api/groups") == 0)
        return serve_groups(o, conn);
    if (strcmp(url, "/api/tail") == 0)
        return serve_tail(o, conn);
    return serve_file(conn, url);
}
