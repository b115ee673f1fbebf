/* config_net.c - the settings of the DPDK receive path that are addresses
 * or rules: their checks (run by config.c's tables when a value is set)
 * and their parsed forms (topic_config_to_capture).
 *
 * Never: opens anything or allocates; the text forms stay the stored and
 * described ones, so DescribeConfigs shows what the user wrote. */
#include "control/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
