/* config_net.c - the network settings that are addresses or rules: those
 * of the DPDK receive path and of the listeners' security (protocol map,
 * TLS versions, SASL mechanisms, advertised hosts), their checks (run by
 * config.c's tables when a value is set) and their parsed forms
 * (topic_config_to_capture, config_listener_protocol).
 *
 * Never: opens anything or allocates; the text forms stay the stored and
 * described ones, so DescribeConfigs shows what the user wrote. */
#include "control/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A dotted quad, whole string, into host order. */
static int parse_quad(const char *s, size_t n, uint32_t *out)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -EINVAL;
    *out = ntohl(a.s_addr);
    return 0;
}

/* A decimal number in [min, max], whole string. */
static int parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    long v = strtol(s, &end, 10);
    if (*end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int config_parse_ipv4_cidr(const char *s, uint32_t *addr, int *prefix)
{
    if (!*s)
        return -ENOENT;
    const char *slash = strchr(s, '/');
    long n = 24;
    if (parse_quad(s, slash ? (size_t)(slash - s) : strlen(s), addr) < 0 ||
        (slash && parse_num(slash + 1, 1, 32, &n) < 0))
        return -EINVAL;
    *prefix = (int)n;
    return 0;
}

int config_parse_ipv4_port(const char *s, uint32_t *addr, uint16_t *port)
{
    if (!*s)
        return -ENOENT;
    const char *colon = strchr(s, ':');
    long p;
    if (!colon || parse_quad(s, (size_t)(colon - s), addr) < 0 ||
        parse_num(colon + 1, 1, 65535, &p) < 0)
        return -EINVAL;
    *port = (uint16_t)p;
    return 0;
}

int config_check_ipv4_cidr(const char *s)
{
    uint32_t a;
    int p;
    return !*s || config_parse_ipv4_cidr(s, &a, &p) == 0 ? 0 : -EINVAL;
}

int config_check_multicast(const char *s)
{
    uint32_t a;
    if (!*s)
        return 0;
    return parse_quad(s, strlen(s), &a) == 0 && (a >> 28) == 0xe ? 0 : -EINVAL;
}

int config_check_ipv4_port(const char *s)
{
    uint32_t a;
    uint16_t p;
    return !*s || config_parse_ipv4_port(s, &a, &p) == 0 ? 0 : -EINVAL;
}

/* "none", "moldudp64" or "OFFSET:WIDTH:be|le". */
static int parse_sequence(const char *s, struct capture_config *c)
{
    c->seq = CAPTURE_SEQ_NONE;
    if (strcmp(s, "none") == 0)
        return 0;
    if (strcmp(s, "moldudp64") == 0) {
        c->seq = CAPTURE_SEQ_MOLDUDP64;
        return 0;
    }
    char buf[32], *w, *e;
    long off, width;
    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    if (!(w = strchr(buf, ':')) || !(e = strchr(w + 1, ':')))
        return -EINVAL;
    *w++ = '\0';
    *e++ = '\0';
    if (parse_num(buf, 0, 1400, &off) < 0 || parse_num(w, 1, 8, &width) < 0 ||
        (width & (width - 1)) != 0 || (strcmp(e, "be") != 0 && strcmp(e, "le") != 0))
        return -EINVAL;
    c->seq = CAPTURE_SEQ_FIELD;
    c->seq_offset = (uint16_t)off;
    c->seq_width = (uint8_t)width;
    c->seq_little_endian = strcmp(e, "le") == 0;
    return 0;
}

int config_check_capture_sequence(const char *s)
{
    struct capture_config c;
    return parse_sequence(s, &c);
}

void topic_config_to_capture(const struct topic_config *t, struct capture_config *out)
{
    memset(out, 0, sizeof(*out));
    out->port = (uint16_t)t->capture_port;
    if (t->capture_group[0])
        parse_quad(t->capture_group, strlen(t->capture_group), &out->group);
    parse_sequence(t->capture_sequence, out);
    config_parse_ipv4_port(t->capture_retransmit, &out->retransmit_ip, &out->retransmit_port);
    out->hold_ms = t->capture_hold_ms;
}

/* --- security settings ---------------------------------------------------- */

static const char *const protocol_names[] = {
    [PROTOCOL_PLAINTEXT] = "PLAINTEXT",
    [PROTOCOL_SSL] = "SSL",
    [PROTOCOL_SASL_PLAINTEXT] = "SASL_PLAINTEXT",
    [PROTOCOL_SASL_SSL] = "SASL_SSL",
};

const char *config_protocol_name(int protocol)
{
    if (protocol < 0 || protocol > PROTOCOL_SASL_SSL)
        return "?";
    return protocol_names[protocol];
}

static int protocol_parse(const char *s, size_t n)
{
    for (int i = 0; i <= PROTOCOL_SASL_SSL; i++)
        if (strlen(protocol_names[i]) == n && memcmp(protocol_names[i], s, n) == 0)
            return i;
    return -EINVAL;
}

/* Calls fn on each comma-separated entry of list (already normalised by
 * config.c: no blanks, no empty entries); stops at the first non-zero. */
static int each_item(const char *list, int (*fn)(void *ctx, const char *s, size_t n),
                     void *ctx)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int rc = fn(ctx, p, n);
        if (rc != 0)
            return rc;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

struct map_find {
    const char *name;
    int protocol;
};

static int map_entry(void *ctx, const char *s, size_t n)
{
    struct map_find *f = ctx;
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return -EINVAL;
    int proto = protocol_parse(colon + 1, n - (size_t)(colon + 1 - s));
    if (proto < 0)
        return -EINVAL;
    size_t nl = (size_t)(colon - s);
    if (f && strlen(f->name) == nl && memcmp(f->name, s, nl) == 0) {
        f->protocol = proto;
        return 1;
    }
    return 0;
}

int config_check_protocol_map(const char *s)
{
    return each_item(s, map_entry, NULL) < 0 ? -EINVAL : 0;
}

int config_listener_protocol(const char *map, const char *name)
{
    struct map_find f = { .name = name, .protocol = -ENOENT };
    if (each_item(map, map_entry, &f) < 0)
        return -EINVAL;
    return f.protocol;
}

static int name_in(void *ctx, const char *s, size_t n)
{
    for (const char *const *v = ctx; *v; v++)
        if (strlen(*v) == n && memcmp(*v, s, n) == 0)
            return 0;
    return -EINVAL;
}

int config_check_tls_protocols(const char *s)
{
    static const char *const ok[] = { "TLSv1.2", "TLSv1.3", NULL };
    return *s && each_item(s, name_in, (void *)ok) == 0 ? 0 : -EINVAL;
}

int config_check_sasl_mechanisms(const char *s)
{
    static const char *const ok[] = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL };
    return *s && each_item(s, name_in, (void *)ok) == 0 ? 0 : -EINVAL;
}

int config_check_authorizer(const char *s)
{
    static const char *const ok[] = {
        "", "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "kafka.security.authorizer.AclAuthorizer", NULL };
    for (int i = 0; ok[i]; i++)
        if (strcmp(s, ok[i]) == 0)
            return 0;
    return -EINVAL;
}

void config_advertised_host(const char *host, bool explicit_adv, char *out, size_t len)
{
    bool wild = !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;

    if (explicit_adv && !host[0] && gethostname(out, len) == 0) {
        out[len - 1] = '\0';
        return;
    }
    if (wild || (!explicit_adv && (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0)))
        host = "localhost";
    snprintf(out, len, "%s", host);
}

/* Entries of list named name: how many, and the k-th into out (k < 0: none). */
static int named_entries(const char *list, const char *name, int k, struct config_listener *out)
{
    struct config_listener l;
    int n = 0;
    for (int i = 0; config_listener_get(list, i, &l) == 0; i++) {
        if (name && strcmp(l.name, name) != 0)
            continue;
        if (n++ == k)
            *out = l;
    }
    return n;
}

int config_advertised_entry(const struct broker_config *c, const char *name, int nshards,
                            int shard, struct config_listener *out, bool *per_shard)
{
    const char *list = c->advertised_listeners[0] ? c->advertised_listeners : c->listeners;
    int n = named_entries(list, name, -1, out);
    if (n == 0 && name) {
        struct config_listener first;
        /* advertised.listeners without this name: the first listener keeps
         * the old rule (every entry is its), any other its own address */
        if (config_listener_get(c->listeners, 0, &first) == 0 && strcmp(first.name, name) == 0)
            return config_advertised_entry(c, NULL, nshards, shard, out, per_shard);
        list = c->listeners;
        n = named_entries(list, name, -1, out);
    }
    if (n == 0)
        return -ENOENT;
    *per_shard = n == nshards && n > 1;
    named_entries(list, name, *per_shard ? shard : 0, out);
    return 0;
}
