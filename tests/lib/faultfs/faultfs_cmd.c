/* faultfs_cmd.c - parsing faultfs's control lines and matching its rule
 * (faultfs_cmd.h). No I/O, no allocation: safe to fuzz. */
#include "faultfs_cmd.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <string.h>

struct cursor {
    const char *p, *end;
};

/* The next space-separated word: its start and length (0 at the end). */
static size_t next_word(struct cursor *c, const char **word)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
    *word = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    return (size_t)(c->p - *word);
}

static bool word_is(const char *w, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(w, lit, n) == 0;
}

static int parse_ops(const char *w, size_t n, unsigned *ops)
{
    *ops = 0;
    while (n > 0) {
        const char *comma = memchr(w, ',', n);
        size_t k = comma ? (size_t)(comma - w) : n;
        if (word_is(w, k, "read"))
            *ops |= FAULTFS_OP_READ;
        else if (word_is(w, k, "write"))
            *ops |= FAULTFS_OP_WRITE;
        else if (word_is(w, k, "fsync"))
            *ops |= FAULTFS_OP_FSYNC;
        else
            return -EINVAL;
        w += k;
        n -= k;
        if (n > 0) { /* the comma */
            w++;
            n--;
            if (n == 0)
                return -EINVAL;
        }
    }
    return *ops ? 0 : -EINVAL;
}

static int parse_u64(const char *w, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(w[i] - '0');
    }
    if (v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_errno(const char *w, size_t n, int *err)
{
    static const struct { const char *name; int err; } names[] = {
        { "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS }, { "ENXIO", ENXIO },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (word_is(w, n, names[i].name)) {
            *err = names[i].err;
            return 0;
        }
    uint64_t v;
    if (parse_u64(w, n, 4095, &v) < 0 || v == 0)
        return -EINVAL;
    *err = (int)v;
    return 0;
}

static int parse_arm(struct cursor *c, struct faultfs_rule *r, const char **why)
{
    const char *w;
    size_t n = next_word(c, &w);
    if (parse_ops(w, n, &r->ops) < 0) {
        *why = "OPS must be read, write and/or fsync, comma-separated";
        return -EINVAL;
    }
    n = next_word(c, &w);
    if (parse_errno(w, n, &r->err) < 0) {
        *why = "ERRNO must be EIO, ENOSPC, EROFS, ENXIO or 1..4095";
        return -EINVAL;
    }
    n = next_word(c, &w);
    if (n == 0 || n >= sizeof(r->glob) || w[0] == '/' || memchr(w, '\0', n)) {
        *why = "GLOB must be a relative pattern of 1..511 bytes";
        return -EINVAL;
    }
    memcpy(r->glob, w, n);
    r->glob[n] = '\0';
    r->from = 0;
    n = next_word(c, &w);
    if (n > 0) {
        if (n <= 5 || memcmp(w, "from=", 5) != 0 ||
            parse_u64(w + 5, n - 5, UINT64_MAX / 2, &r->from) < 0) {
            *why = "expected from=OFFSET after GLOB";
            return -EINVAL;
        }
        n = next_word(c, &w);
    }
    if (n > 0) {
        *why = "unexpected words after the rule";
        return -EINVAL;
    }
    return 0;
}

int faultfs_cmd_parse(const char *line, size_t len, struct faultfs_cmd *out,
                      const char **why)
{
    struct cursor c = { line, line + len };
    const char *w;
    memset(out, 0, sizeof(*out));
    *why = NULL;
    while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
        c.end--;
    size_t n = next_word(&c, &w);
    if (word_is(w, n, "arm")) {
        out->verb = FAULTFS_ARM;
        return parse_arm(&c, &out->rule, why);
    }
    if (word_is(w, n, "disarm") || word_is(w, n, "stats")) {
        out->verb = word_is(w, n, "stats") ? FAULTFS_STATS : FAULTFS_DISARM;
        if (next_word(&c, &w) == 0)
            return 0;
        *why = "this command takes no argument";
        return -EINVAL;
    }
    *why = "expected arm, disarm or stats";
    return -EINVAL;
}

int faultfs_rule_match(const struct faultfs_rule *rule, unsigned op, const char *path,
                       uint64_t off, uint64_t len)
{
    if (!(rule->ops & op))
        return 0;
    if (op != FAULTFS_OP_FSYNC && off + len <= rule->from)
        return 0;
    return fnmatch(rule->glob, path, 0) == 0 ? rule->err : 0;
}
