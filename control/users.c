/* users.c - the SCRAM credential store and its control messages
 * (users.h).
 *
 * The file, text so an operator can read what is there (never a
 * password):
 *
 *   # sluice SCRAM credentials: written by the broker, do not edit
 *   format 1
 *   scram <mechanism> <iterations> <salt> <StoredKey> <ServerKey> <user>
 *   ...                             (base64; the user name ends the line)
 *   crc32c <8 hex digits>           of every byte before this line
 *
 * Kafka's rules for AlterUserScramCredentials (ScramControlManager): one
 * result per user; a user whose operations are not all valid has none of
 * them applied; iterations in 4096..16384; deleting a credential that does
 * not exist is RESOURCE_NOT_FOUND; a (user, mechanism) named twice in one
 * request is DUPLICATE_RESOURCE.
 *
 * Never: sees a password beyond a PLAIN check (the key derived from it is
 * wiped), touches a ring or a socket. */
#include "control/users.h"
#include "control/ctl.h"
#include "storage/crc32c.h"
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USERS_FILE "scram-credentials"
#define USERS_FORMAT 1

/* Kafka error codes of these APIs */
#define ERR_UNKNOWN_SERVER -1
#define ERR_UNSUPPORTED_SASL_MECHANISM 33
#define ERR_SASL_AUTHENTICATION_FAILED 58
#define ERR_RESOURCE_NOT_FOUND 91
#define ERR_DUPLICATE_RESOURCE 92
#define ERR_UNACCEPTABLE_CREDENTIAL 93

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static int cred_cmp(const char *user, int mech, const struct scram_cred *c)
{
    int d = strcmp(user, c->user);
    return d ? d : mech - c->mech;
}

/* Index of (user, mech), or -(insertion point) - 1. */
static int find_at(const struct users *u, const char *user, int mech)
{
    int lo = 0, hi = u->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int d = cred_cmp(user, mech, &u->v[mid]);
        if (d == 0)
            return mid;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -lo - 1;
}

const struct scram_cred *users_find(const struct users *u, const char *user, int mech)
{
    int i = find_at(u, user, mech);
    return i >= 0 ? &u->v[i] : NULL;
}

static int users_put(struct users *u, const struct scram_cred *c)
{
    int i = find_at(u, c->user, c->mech);
    if (i >= 0) {
        u->v[i] = *c;
        return 0;
    }
    i = -i - 1;
    if (u->n == u->cap) {
        int cap = u->cap ? u->cap * 2 : 8;
        struct scram_cred *v = realloc(u->v, sizeof *v * (size_t)cap);
        if (!v)
            return -ENOMEM;
        u->v = v;
        u->cap = cap;
    }
    if (i < u->n)
        memmove(&u->v[i + 1], &u->v[i], sizeof *u->v * (size_t)(u->n - i));
    u->v[i] = *c;
    u->n++;
    return 0;
}

static void users_drop(struct users *u, int i)
{
    memmove(&u->v[i], &u->v[i + 1], sizeof *u->v * (size_t)(u->n - i - 1));
    u->n--;
}

/* --- the file ------------------------------------------------------------- */

static int parse_line(struct users *u, const char *line, size_t n, char *err, size_t errlen,
                      int lineno)
{
    char mech[32], salt[128], stored[128], server[128];
    int32_t iter;
    int used = 0;
    struct scram_cred c = {0};
    char buf[1024];
    if (n >= sizeof buf)
        goto bad;
    memcpy(buf, line, n);
    buf[n] = '\0';
    if (sscanf(buf, "scram %31s %d %127s %127s %127s %n", mech, &iter, salt, stored, server,
               &used) != 5 || used == 0 || !buf[used])
        goto bad;
    snprintf(c.user, sizeof c.user, "%s", buf + used);
    c.mech = scram_mech_parse(mech);
    c.iterations = iter;
    size_t kl = scram_key_len(c.mech);
    if (kl == 0 || iter < 1 ||
        (c.salt_len = scram_b64_decode(salt, strlen(salt), c.salt, sizeof c.salt)) <= 0 ||
        scram_b64_decode(stored, strlen(stored), c.stored_key, sizeof c.stored_key) !=
            (int)kl ||
        scram_b64_decode(server, strlen(server), c.server_key, sizeof c.server_key) !=
            (int)kl)
        goto bad;
    if (users_find(u, c.user, c.mech)) {
        seterr(err, errlen, "line %d: %s of user '%s' twice", lineno, mech, c.user);
        return -EINVAL;
    }
    return users_put(u, &c);
bad:
    seterr(err, errlen, "line %d: not 'scram MECHANISM ITERATIONS SALT STORED SERVER USER'",
           lineno);
    return -EINVAL;
}

int users_parse(struct users *u, const char *text, size_t len, char *err, size_t errlen)
{
    const char *end = text + len, *crc_line = NULL;
    int lineno = 0;
    bool format = false;
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (crc_line) {
            seterr(err, errlen, "line %d: text after the crc32c line", lineno);
            return -EINVAL;
        }
        if (n == 0 || p[0] == '#') {
            /* blank or comment */
        } else if (n > 7 && memcmp(p, "crc32c ", 7) == 0) {
            crc_line = p;
            char hex[16] = "";
            memcpy(hex, p + 7, n - 7 < 15 ? n - 7 : 15);
            char *e;
            unsigned long want = strtoul(hex, &e, 16);
            if (*e || n - 7 != 8 || crc32c(text, (size_t)(p - text)) != (uint32_t)want) {
                seterr(err, errlen, "line %d: checksum does not match", lineno);
                return -EINVAL;
            }
        } else if (n == 8 && memcmp(p, "format 1", 8) == 0) {
            format = true;
        } else if (!format) {
            seterr(err, errlen, "line %d: no 'format %d' line first", lineno, USERS_FORMAT);
            return -EINVAL;
        } else if (parse_line(u, p, n, err, errlen, lineno) < 0) {
            return -EINVAL;
        }
        p = nl ? nl + 1 : end;
    }
    if (len > 0 && !crc_line) {
        seterr(err, errlen, "no crc32c line (a torn write?)");
        return -EINVAL;
    }
    return 0;
}

int users_open(struct users *u, const char *dir, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (snprintf(u->path, sizeof u->path, "%s/%s", dir, USERS_FILE) >= (int)sizeof u->path) {
        seterr(err, errlen, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    FILE *f = fopen(u->path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        seterr(err, errlen, "%s: %s", u->path, strerror(errno));
        return -errno;
    }
    char *text = NULL;
    size_t cap = 0, len = 0, k;
    char buf[4096];
    int rc = 0;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + k > cap) {
            cap = (len + k) * 2;
            char *t = realloc(text, cap);
            if (!t) {
                rc = -ENOMEM;
                break;
            }
            text = t;
        }
        memcpy(text + len, buf, k);
        len += k;
    }
    fclose(f);
    if (rc == 0) {
        char why[256];
        if ((rc = users_parse(u, text, len, why, sizeof why)) < 0)
            seterr(err, errlen, "%s: %s", u->path, why);
    }
    free(text);
    if (rc < 0)
        users_close(u);
    return rc;
}

void users_close(struct users *u)
{
    free(u->v);
    u->v = NULL;
    u->n = u->cap = 0;
}

/* The whole text of u into a malloc'd buffer. */
static char *users_text(const struct users *u, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    fprintf(f, "# sluice SCRAM credentials: written by the broker, do not edit\nformat %d\n",
            USERS_FORMAT);
    for (int i = 0; i < u->n; i++) {
        const struct scram_cred *c = &u->v[i];
        char salt[4 * SCRAM_SALT_MAX / 3 + 8], stored[4 * SCRAM_KEY_MAX / 3 + 8],
            server[4 * SCRAM_KEY_MAX / 3 + 8];
        size_t kl = scram_key_len(c->mech);
        scram_b64_encode(c->salt, (size_t)c->salt_len, salt);
        scram_b64_encode(c->stored_key, kl, stored);
        scram_b64_encode(c->server_key, kl, server);
        fprintf(f, "scram %s %d %s %s %s %s\n", scram_mech_name(c->mech), c->iterations, salt,
                stored, server, c->user);
    }
    fflush(f);
    fprintf(f, "crc32c %08x\n", crc32c(text, *len));
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Replaces the file with u's text: durable once this returns 0. */
static int users_save(const struct users *u)
{
    char tmp[sizeof u->path + 8], dir[sizeof u->path];
    size_t len;
    char *text = users_text(u, &len);
    if (!text)
        return -ENOMEM;
    snprintf(tmp, sizeof tmp, "%s.tmp", u->path);
    snprintf(dir, sizeof dir, "%s", u->path);
    *strrchr(dir, '/') = '\0';
    int rc = 0, fd = storage_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
    } else {
        if ((rc = storage_pwrite_all(fd, text, len, 0)) == 0 && storage_sys.fsync(fd) < 0)
            rc = -errno;
        storage_sys.close(fd);
        if (rc == 0 && storage_sys.rename(tmp, u->path) < 0)
            rc = -errno;
        if (rc == 0)
            rc = storage_sync_dir(dir);
    }
    free(text);
    return rc;
}

/* --- SASL lookups ----------------------------------------------------------- */

static void sasl_lookup(struct users *u, struct ctl_sasl *s)
{
    s->error = ERR_SASL_AUTHENTICATION_FAILED;
    if (s->mech != 0) {
        const struct scram_cred *c = users_find(u, s->user, s->mech);
        if (c && s->cred) {
            *s->cred = *c;
            s->error = 0;
        }
        return;
    }
    /* PLAIN: the password against the user's strongest credential */
    const struct scram_cred *c = users_find(u, s->user, SCRAM_SHA_512);
    if (!c)
        c = users_find(u, s->user, SCRAM_SHA_256);
    if (c && scram_password_matches(c, s->password, s->password_len))
        s->error = 0;
}

/* --- DescribeUserScramCredentials ------------------------------------------ */

static void fill_infos(const struct users *u, struct ctl_user_result *r)
{
    for (int mech = SCRAM_SHA_256; mech <= SCRAM_SHA_512; mech++) {
        const struct scram_cred *c = users_find(u, r->user, mech);
        if (c) {
            r->mechs[r->ninfos] = (int8_t)mech;
            r->iterations[r->ninfos++] = c->iterations;
        }
    }
}

static void describe(struct users *u, struct ctl_msg *m)
{
    struct ctl_users *d = &m->u.users;
    int n = 0;
    if (d->nnames == 0) { /* every user, once */
        for (int i = 0; i < u->n; i++)
            n += i == 0 || strcmp(u->v[i].user, u->v[i - 1].user) != 0;
    } else {
        n = d->nnames;
    }
    d->results = ctl_arena_alloc(&m->arena, sizeof *d->results * (size_t)(n ? n : 1));
    if (!d->results) {
        d->error = ERR_UNKNOWN_SERVER;
        d->message = "the answer does not fit";
        return;
    }
    d->nresults = 0;
    for (int i = 0; d->nnames == 0 && i < u->n; i++) {
        if (i > 0 && strcmp(u->v[i].user, u->v[i - 1].user) == 0)
            continue;
        struct ctl_user_result *r = &d->results[d->nresults++];
        r->user = u->v[i].user;
        fill_infos(u, r);
    }
    for (int i = 0; i < d->nnames; i++) {
        struct ctl_user_result *r = &d->results[d->nresults++];
        r->user = d->names[i];
        for (int j = 0; j < i; j++)
            if (strcmp(d->names[j], d->names[i]) == 0) {
                r->error = ERR_DUPLICATE_RESOURCE;
                r->message = "Cannot describe SCRAM credentials for the same user twice in "
                             "a single request";
            }
        if (!r->error)
            fill_infos(u, r);
        if (!r->error && r->ninfos == 0) {
            r->error = ERR_RESOURCE_NOT_FOUND;
            r->message = "Attempt to describe a user credential that does not exist";
        }
    }
}

/* --- AlterUserScramCredentials ---------------------------------------------- */

static bool user_name_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return *s != '\0' && strlen(s) < SCRAM_USER_MAX;
}

/* Why op cannot be applied to u (NULL: it can); *code its Kafka error. */
static const char *op_problem(const struct users *u, const struct ctl_users *a, int k,
                              int16_t *code)
{
    const struct ctl_scram_op *op = &a->ops[k];
    *code = ERR_UNACCEPTABLE_CREDENTIAL;
    if (!user_name_ok(op->user))
        return "Username must not be empty or hold control characters";
    if (scram_key_len(op->mech) == 0) {
        *code = ERR_UNSUPPORTED_SASL_MECHANISM;
        return "Unknown SCRAM mechanism";
    }
    for (int j = 0; j < k; j++)
        if (a->ops[j].mech == op->mech && strcmp(a->ops[j].user, op->user) == 0) {
            *code = ERR_DUPLICATE_RESOURCE;
            return "A user credential cannot be altered twice in the same request";
        }
    if (!op->salted) {
        if (!users_find(u, op->user, op->mech)) {
            *code = ERR_RESOURCE_NOT_FOUND;
            return "Attempt to delete a user credential that does not exist";
        }
        return NULL;
    }
    if (op->iterations < SCRAM_MIN_ITERATIONS)
        return "Too few iterations";
    if (op->iterations > SCRAM_MAX_ITERATIONS)
        return "Too many iterations";
    if (op->salt_len <= 0 || op->salt_len > SCRAM_SALT_MAX)
        return "The salt must be 1 to 64 bytes";
    if ((size_t)op->salted_len != scram_key_len(op->mech))
        return "The salted password does not have the mechanism's length";
    return NULL;
}

static int op_apply(struct users *u, const struct ctl_scram_op *op)
{
    if (!op->salted) {
        users_drop(u, find_at(u, op->user, op->mech));
        return 0;
    }
    struct scram_cred c = {.mech = op->mech, .iterations = op->iterations,
                           .salt_len = op->salt_len};
    snprintf(c.user, sizeof c.user, "%s", op->user);
    memcpy(c.salt, op->salt, (size_t)op->salt_len);
    if (scram_cred_from_salted(&c, op->salted, (size_t)op->salted_len) < 0)
        return -EINVAL;
    return users_put(u, &c);
}

static void alter(struct users *u, struct ctl_msg *m)
{
    struct ctl_users *a = &m->u.users;
    struct users old = *u;
    old.v = malloc(sizeof *u->v * (size_t)(u->cap ? u->cap : 1));
    a->results = ctl_arena_alloc(&m->arena, sizeof *a->results * (size_t)(a->nops ? a->nops : 1));
    if (!old.v || !a->results) {
        free(old.v);
        a->error = ERR_UNKNOWN_SERVER;
        return;
    }
    if (u->n > 0)
        memcpy(old.v, u->v, sizeof *u->v * (size_t)u->n);
    a->nresults = 0;
    for (int k = 0; k < a->nops; k++) {
        int seen = 0;
        for (int j = 0; j < k; j++)
            seen |= strcmp(a->ops[j].user, a->ops[k].user) == 0;
        if (seen)
            continue;
        struct ctl_user_result *r = &a->results[a->nresults++];
        r->user = a->ops[k].user;
        for (int j = k; j < a->nops && !r->error; j++) {
            int16_t code;
            const char *why = strcmp(a->ops[j].user, r->user) == 0 ? op_problem(u, a, j, &code)
                                                                    : NULL;
            if (why) {
                r->error = code;
                r->message = why;
            }
        }
        for (int j = k; j < a->nops && !r->error; j++)
            if (strcmp(a->ops[j].user, r->user) == 0 && op_apply(u, &a->ops[j]) < 0) {
                r->error = ERR_UNKNOWN_SERVER;
                r->message = "out of memory";
            }
    }
    int rc = users_save(u);
    if (rc < 0) {
        /* nothing is applied that is not durable */
        free(u->v);
        *u = old;
        for (int i = 0; i < a->nresults; i++)
            if (!a->results[i].error) {
                a->results[i].error = ERR_UNKNOWN_SERVER;
                a->results[i].message = "cannot write the credentials file";
            }
        return;
    }
    free(old.v);
}

void users_request(struct users *u, struct ctl_msg *m)
{
    switch (m->op) {
    case CTL_SASL_LOOKUP:
        sasl_lookup(u, &m->u.sasl);
        break;
    case CTL_USERS_DESCRIBE:
        describe(u, m);
        break;
    case CTL_USERS_ALTER:
        alter(u, m);
        break;
    default:
        break;
    }
}
