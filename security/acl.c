/* acl.c - Kafka's ACL semantics (acl.h): names, checks, filters, the
 * snapshot and the authorisation rule.
 *
 * The index: a snapshot's bindings are sorted by (resource type, pattern
 * type, name, ...), so the bindings of one resource pattern are one run,
 * found by binary search. A LITERAL name and "*" are one search each. The
 * PREFIXED patterns that begin a name N are found by walking down from the
 * greatest PREFIXED name <= N: a name P there that is a prefix of N
 * applies; one that is not shares only its first L bytes with N, and no
 * prefix of N longer than L can lie between P and N (it would sort after
 * P), so the walk jumps to the greatest name <= N[0..L). Each step either
 * finds an applying pattern or shortens L, so a check costs a few binary
 * searches whatever the number of ACLs. */
#include "security/acl.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const char *const res_names[] = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
    "DELEGATION_TOKEN", "USER",
};
static const char *const pat_names[] = { "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED" };
static const char *const op_names[] = {
    "UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
    "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
    "CREATE_TOKENS", "DESCRIBE_TOKENS",
};
static const char *const perm_names[] = { "UNKNOWN", "ANY", "DENY", "ALLOW" };

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_of(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "UNKNOWN";
}

static int parse_of(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *acl_resource_type_name(int v) { return name_of(res_names, COUNT(res_names), v); }
const char *acl_pattern_type_name(int v) { return name_of(pat_names, COUNT(pat_names), v); }
const char *acl_operation_name(int v) { return name_of(op_names, COUNT(op_names), v); }
const char *acl_permission_name(int v) { return name_of(perm_names, COUNT(perm_names), v); }
int acl_resource_type_parse(const char *s) { return parse_of(res_names, COUNT(res_names), s); }
int acl_pattern_type_parse(const char *s) { return parse_of(pat_names, COUNT(pat_names), s); }
int acl_operation_parse(const char *s) { return parse_of(op_names, COUNT(op_names), s); }
int acl_permission_parse(const char *s) { return parse_of(perm_names, COUNT(perm_names), s); }

int acl_binding_cmp(const struct acl_binding *a, const struct acl_binding *b)
{
    int d;
    if ((d = a->resource_type - b->resource_type) || (d = a->pattern_type - b->pattern_type) ||
        (d = strcmp(a->name, b->name)) || (d = strcmp(a->principal, b->principal)) ||
        (d = strcmp(a->host, b->host)) || (d = a->operation - b->operation))
        return d;
    return a->permission - b->permission;
}

/* --- checks and filters ---------------------------------------------------- */

#define ERR_INVALID_REQUEST 42

static int invalid(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return ERR_INVALID_REQUEST;
}

/* "Type:name", both parts non-empty (Kafka's KafkaPrincipal form). */
static bool principal_ok(const char *p)
{
    const char *colon = p ? strchr(p, ':') : NULL;
    return colon && colon > p && colon[1] && strlen(p) < ACL_PRINCIPAL_MAX;
}

int acl_binding_check(const struct acl_binding *b, char *why, size_t len)
{
    if (b->resource_type <= ACL_RES_ANY || b->resource_type > ACL_RES_USER)
        return invalid(why, len, "Invalid resource type");
    if (b->pattern_type != ACL_PAT_LITERAL && b->pattern_type != ACL_PAT_PREFIXED)
        return invalid(why, len, "Invalid pattern type: it must be LITERAL or PREFIXED");
    if (b->operation <= ACL_OP_ANY || b->operation > ACL_OP_DESCRIBE_TOKENS)
        return invalid(why, len, "Invalid operation");
    if (b->permission != ACL_PERM_ALLOW && b->permission != ACL_PERM_DENY)
        return invalid(why, len, "Invalid permission type: it must be ALLOW or DENY");
    if (!b->name || !b->name[0])
        return invalid(why, len, "Resource name should not be empty");
    if (strlen(b->name) >= ACL_NAME_MAX)
        return invalid(why, len, "Resource name too long");
    if (b->resource_type == ACL_RES_CLUSTER && strcmp(b->name, ACL_CLUSTER_NAME) != 0)
        return invalid(why, len, "The only valid name for the CLUSTER resource is kafka-cluster");
    if (!principal_ok(b->principal))
        return invalid(why, len, "Invalid principal: it must be of the form Type:name");
    if (!b->host || !b->host[0] || strlen(b->host) >= ACL_HOST_MAX)
        return invalid(why, len, "Invalid host");
    return 0;
}

int acl_filter_check(const struct acl_filter *f, char *why, size_t len)
{
    if (f->resource_type <= ACL_RES_UNKNOWN || f->resource_type > ACL_RES_USER)
        return invalid(why, len, "Invalid resource type in the filter");
    if (f->pattern_type <= ACL_PAT_UNKNOWN || f->pattern_type > ACL_PAT_PREFIXED)
        return invalid(why, len, "Invalid pattern type in the filter");
    if (f->operation <= ACL_OP_UNKNOWN || f->operation > ACL_OP_DESCRIBE_TOKENS)
        return invalid(why, len, "Invalid operation in the filter");
    if (f->permission <= ACL_PERM_UNKNOWN || f->permission > ACL_PERM_ALLOW)
        return invalid(why, len, "Invalid permission type in the filter");
    return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool acl_filter_matches(const struct acl_filter *f, const struct acl_binding *b)
{
    if (f->resource_type != ACL_RES_ANY && f->resource_type != b->resource_type)
        return false;
    if (f->pattern_type != ACL_PAT_ANY && f->pattern_type != ACL_PAT_MATCH &&
        f->pattern_type != b->pattern_type)
        return false;
    if (f->name) {
        if (f->pattern_type == ACL_PAT_MATCH) {
            bool hit = b->pattern_type == ACL_PAT_PREFIXED
                           ? has_prefix(f->name, b->name)
                           : strcmp(f->name, b->name) == 0 || strcmp(b->name, ACL_WILDCARD) == 0;
            if (!hit)
                return false;
        } else if (strcmp(f->name, b->name) != 0) {
            return false;
        }
    }
    if (f->principal && strcmp(f->principal, b->principal) != 0)
        return false;
    if (f->host && strcmp(f->host, b->host) != 0)
        return false;
    if (f->operation != ACL_OP_ANY && f->operation != b->operation)
        return false;
    return f->permission == ACL_PERM_ANY || f->permission == b->permission;
}

/* --- the snapshot ------------------------------------------------------------ */

static int cmp_binding(const void *a, const void *b)
{
    return acl_binding_cmp(a, b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The super users of "User:a;User:b" (Kafka separates them with ';',
 * blanks around each trimmed): how many, and the bytes their copies take;
 * with out and buf, the copies too. */
static int split_super(const char *s, const char **out, char *buf, size_t *bytes)
{
    int n = 0;
    *bytes = 0;
    for (const char *p = s; p && *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        while (len && (*q == ' ' || *q == '\t'))
            q++, len--;
        while (len && (q[len - 1] == ' ' || q[len - 1] == '\t'))
            len--;
        if (len) {
            if (out) {
                memcpy(buf + *bytes, q, len);
                buf[*bytes + len] = '\0';
                out[n] = buf + *bytes;
            }
            n++;
            *bytes += len + 1;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    return n;
}

static char *copy_str(char **at, const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = memcpy(*at, s, len);
    *at += len;
    return p;
}

struct acl_snapshot *acl_snapshot_build(bool enabled, bool allow_if_none,
                                        const char *super_users,
                                        const struct acl_binding *v, int n)
{
    size_t sbytes, text = 0;
    int nsuper = split_super(super_users, NULL, NULL, &sbytes);
    for (int i = 0; i < n; i++)
        text += strlen(v[i].name) + strlen(v[i].principal) + strlen(v[i].host) + 3;
    size_t off_v = (sizeof(struct acl_snapshot) + 7) & ~(size_t)7;
    size_t off_s = off_v + sizeof(struct acl_binding) * (size_t)n;
    size_t off_t = off_s + sizeof(char *) * (size_t)nsuper;
    char *block = malloc(off_t + sbytes + text + 1);
    if (!block)
        return NULL;
    struct acl_snapshot *a = (struct acl_snapshot *)(void *)block;
    struct acl_binding *b = (struct acl_binding *)(void *)(block + off_v);
    const char **supers = (const char **)(void *)(block + off_s);
    split_super(super_users, supers, block + off_t, &sbytes);
    char *at = block + off_t + sbytes;
    for (int i = 0; i < n; i++) {
        b[i] = v[i];
        b[i].name = copy_str(&at, v[i].name);
        b[i].principal = copy_str(&at, v[i].principal);
        b[i].host = copy_str(&at, v[i].host);
    }
    qsort(b, (size_t)n, sizeof *b, cmp_binding);
    qsort(supers, (size_t)nsuper, sizeof *supers, cmp_str);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (kept == 0 || acl_binding_cmp(&b[kept - 1], &b[i]) != 0)
            b[kept++] = b[i];
    *a = (struct acl_snapshot){ .enabled = enabled, .allow_if_none = allow_if_none,
                                .nsuper = nsuper, .super_users = supers, .n = kept, .v = b };
    return a;
}

/* --- authorising -------------------------------------------------------------- */

/* Compares b's (type, pattern, name) with (type, pattern, key[0..len)). */
static int key_cmp(const struct acl_binding *b, int type, int pattern, const char *key,
                   size_t len)
{
    int d;
    if ((d = b->resource_type - type) || (d = b->pattern_type - pattern))
        return d;
    d = strncmp(b->name, key, len);
    if (d == 0 && b->name[len] != '\0')
        d = 1;
    return d;
}

/* The first binding with a key >= (or > when after) the given one. */
static int bound(const struct acl_snapshot *a, int type, int pattern, const char *key,
                 size_t len, bool after)
{
    int lo = 0, hi = a->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int d = key_cmp(&a->v[mid], type, pattern, key, len);
        if (d < 0 || (after && d == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct verdict {
    bool found;                /* some ACL applies to the resource */
    bool deny, allow;
};

static bool implies(int granted, int op)
{
    if (granted == op || granted == ACL_OP_ALL)
        return true;
    if (op == ACL_OP_DESCRIBE)
        return granted == ACL_OP_READ || granted == ACL_OP_WRITE || granted == ACL_OP_DELETE ||
               granted == ACL_OP_ALTER;
    return op == ACL_OP_DESCRIBE_CONFIGS && granted == ACL_OP_ALTER_CONFIGS;
}

/* Applies the run of bindings starting at i (one resource pattern). */
static void judge_run(const struct acl_snapshot *a, int i, const char *principal,
                      const char *host, int op, struct verdict *v)
{
    const struct acl_binding *first = &a->v[i];
    for (; i < a->n; i++) {
        const struct acl_binding *b = &a->v[i];
        if (b->resource_type != first->resource_type ||
            b->pattern_type != first->pattern_type || strcmp(b->name, first->name) != 0)
            return;
        v->found = true;
        if (strcmp(b->principal, principal) != 0 && strcmp(b->principal, "User:*") != 0)
            continue;
        if (strcmp(b->host, ACL_WILDCARD) != 0 && strcmp(b->host, host) != 0)
            continue;
        if (b->permission == ACL_PERM_DENY && (b->operation == op || b->operation == ACL_OP_ALL))
            v->deny = true;
        else if (b->permission == ACL_PERM_ALLOW && implies(b->operation, op))
            v->allow = true;
    }
}

static void judge_literal(const struct acl_snapshot *a, int type, const char *name, size_t len,
                          const char *principal, const char *host, int op, struct verdict *v)
{
    int i = bound(a, type, ACL_PAT_LITERAL, name, len, false);
    if (i < a->n && key_cmp(&a->v[i], type, ACL_PAT_LITERAL, name, len) == 0)
        judge_run(a, i, principal, host, op, v);
}

static void judge_prefixed(const struct acl_snapshot *a, int type, const char *name, size_t len,
                           const char *principal, const char *host, int op, struct verdict *v)
{
    size_t limit = len;        /* prefixes of name[0..limit] are still possible */
    while (limit > 0) {
        int i = bound(a, type, ACL_PAT_PREFIXED, name, limit, true) - 1;
        if (i < 0 || a->v[i].resource_type != type || a->v[i].pattern_type != ACL_PAT_PREFIXED)
            return;
        const char *p = a->v[i].name;
        size_t common = 0;
        while (common < limit && p[common] && p[common] == name[common])
            common++;
        if (p[common] == '\0') {               /* p is a prefix of name */
            while (i > 0 && key_cmp(&a->v[i - 1], type, ACL_PAT_PREFIXED, p, common) == 0)
                i--;
            judge_run(a, i, principal, host, op, v);
            limit = common - 1;                /* shorter prefixes next */
        } else {
            limit = common;
        }
    }
}

static bool is_super(const struct acl_snapshot *a, const char *principal)
{
    int lo = 0, hi = a->nsuper;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int d = strcmp(a->super_users[mid], principal);
        if (d == 0)
            return true;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool acl_authorize(const struct acl_snapshot *a, const char *principal, const char *host,
                   int operation, int resource_type, const char *name, size_t len)
{
    struct verdict v = {0};
    if (!a || !a->enabled)
        return true;
    if (is_super(a, principal))
        return true;
    judge_literal(a, resource_type, name, len, principal, host, operation, &v);
    judge_literal(a, resource_type, ACL_WILDCARD, 1, principal, host, operation, &v);
    judge_prefixed(a, resource_type, name, len, principal, host, operation, &v);
    if (v.deny)
        return false;
    if (v.allow)
        return true;
    return !v.found && a->allow_if_none;
}

/* --- the store's text ----------------------------------------------------------- */

size_t acl_text_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 <= cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '%' || c == 0x7f) {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int acl_text_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        *w++ = (char)(hi * 16 + lo);
        r += 2;
    }
    *w = '\0';
    return 0;
}
