/* acls.c - the broker's ACLs as metadata: kept in md_store (s->acls),
 * committed to the metadata log with the topics (an "acls" block of
 * md_file.c's text, replaced whole, so every node of a cluster has the
 * same), and handed to shards inside each metadata snapshot
 * (md_store_snapshot builds the indexed acl_snapshot, security/acl.h).
 *
 * CreateAcls and DeleteAcls (CTL_ACLS_CREATE, CTL_ACLS_DELETE) change
 * the store, commit (md_store_commit: durable before the answer), publish
 * a snapshot to every shard, then answer: the shard that asked reads the
 * new snapshot before the answer (one FIFO ring). DescribeAcls is answered
 * by the shard from its snapshot. Kafka's rules: creating a binding that
 * exists is a success; a DeleteAcls filter lists what it removed; a node
 * that does not lead the metadata quorum answers NOT_CONTROLLER.
 *
 * Never: touches a socket, wire bytes, a ring other than through
 * control_post, or writes a file itself (the metadata log does). */
#include "control/control_private.h"
#include "control/md_store.h"
#include "security/acl.h"
#include "storage/kerr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the store ---------------------------------------------------------------- */

void md_acl_free(struct acl_binding *b)
{
    free((void *)b->name);
    free((void *)b->principal);
    free((void *)b->host);
}

void md_acls_clear(struct md_store *s)
{
    for (int i = 0; i < s->nacls; i++)
        md_acl_free(&s->acls[i]);
    free(s->acls);
    s->acls = NULL;
    s->nacls = s->acls_cap = 0;
}

void md_acls_replace(struct md_store *s, struct acl_binding *v, int n)
{
    md_acls_clear(s);
    s->acls = v;
    s->nacls = s->acls_cap = n;
}

static int acl_copy(struct acl_binding *out, const struct acl_binding *b)
{
    *out = *b;
    out->name = strdup(b->name);
    out->principal = strdup(b->principal);
    out->host = strdup(b->host);
    if (out->name && out->principal && out->host)
        return 0;
    md_acl_free(out);
    return -ENOMEM;
}

static int acl_find(const struct md_store *s, const struct acl_binding *b)
{
    for (int i = 0; i < s->nacls; i++)
        if (acl_binding_cmp(&s->acls[i], b) == 0)
            return i;
    return -1;
}

/* --- the text ----------------------------------------------------------------- */

void md_acls_text(FILE *f, const struct md_store *s)
{
    char name[3 * ACL_NAME_MAX + 1], principal[3 * ACL_PRINCIPAL_MAX + 1];
    char host[3 * ACL_HOST_MAX + 1];

    fputs("acls\n", f);
    for (int i = 0; i < s->nacls; i++) {
        const struct acl_binding *b = &s->acls[i];
        acl_text_escape(b->name, name, sizeof name);
        acl_text_escape(b->principal, principal, sizeof principal);
        acl_text_escape(b->host, host, sizeof host);
        fprintf(f, "acl %s %s %s %s %s %s %s\n", acl_resource_type_name(b->resource_type),
                acl_pattern_type_name(b->pattern_type), acl_permission_name(b->permission),
                acl_operation_name(b->operation), host, principal, name);
    }
    fputs("end\n", f);
}

int md_acl_parse(char *line, struct acl_binding *out, char *why, size_t len)
{
    char *field[7], *save = NULL;
    int n = 0;

    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == 7) {
            snprintf(why, len, "an acl line has 7 fields");
            return -EINVAL;
        }
        field[n++] = t;
    }
    if (n != 7) {
        snprintf(why, len, "an acl line has 7 fields, this one %d", n);
        return -EINVAL;
    }
    for (int i = 4; i < 7; i++)
        if (acl_text_unescape(field[i]) < 0) {
            snprintf(why, len, "bad %%XX escape in '%.64s'", field[i]);
            return -EINVAL;
        }
    struct acl_binding b = {
        .resource_type = (int8_t)acl_resource_type_parse(field[0]),
        .pattern_type = (int8_t)acl_pattern_type_parse(field[1]),
        .permission = (int8_t)acl_permission_parse(field[2]),
        .operation = (int8_t)acl_operation_parse(field[3]),
        .host = field[4], .principal = field[5], .name = field[6],
    };
    if (acl_binding_check(&b, why, len) != 0)
        return -EINVAL;
    return acl_copy(out, &b);
}

/* --- CreateAcls and DeleteAcls ---------------------------------------------------- */

static void fail_all(struct ctl_acls *a, int16_t error, const char *message)
{
    for (int i = 0; i < a->n; i++)
        if (!a->results[i].error) {
            a->results[i].error = error;
            a->results[i].message = message;
            a->results[i].nmatches = 0;
        }
}

/* Commits and publishes, or gives back what commit refused: the old
 * bindings (old, taken back) replace the new ones. 0 or -1. */
static int commit(struct control *c, struct acl_binding *old, int nold, struct ctl_acls *a)
{
    struct md_store *s = &c->md;
    char why[512];

    s->acls_dirty = true;
    if (md_store_commit(s, why, sizeof why) < 0) {
        control_log("ACLs not changed: %s", why);
        md_acls_replace(s, old, nold);
        s->acls_dirty = false;
        fail_all(a, KERR_KAFKA_STORAGE_ERROR, "The metadata log refused the change");
        return -1;
    }
    for (int i = 0; i < nold; i++)
        md_acl_free(&old[i]);
    free(old);
    if (control_publish(c) < 0)
        control_log("out of memory: shards keep the previous ACLs");
    return 0;
}

/* A copy of the store's bindings (to put back if the commit fails). */
static int save(const struct md_store *s, struct acl_binding **out)
{
    struct acl_binding *v = malloc(sizeof *v * (size_t)(s->nacls + 1));
    if (!v)
        return -ENOMEM;
    for (int i = 0; i < s->nacls; i++)
        if (acl_copy(&v[i], &s->acls[i]) < 0) {
            while (i-- > 0)
                md_acl_free(&v[i]);
            free(v);
            return -ENOMEM;
        }
    *out = v;
    return 0;
}

static int store_add(struct md_store *s, const struct acl_binding *b)
{
    if (s->nacls == s->acls_cap) {
        int cap = s->acls_cap ? s->acls_cap * 2 : 16;
        struct acl_binding *v = realloc(s->acls, sizeof *v * (size_t)cap);
        if (!v)
            return -ENOMEM;
        s->acls = v;
        s->acls_cap = cap;
    }
    if (acl_copy(&s->acls[s->nacls], b) < 0)
        return -ENOMEM;
    s->nacls++;
    return 0;
}

static void create_acls(struct control *c, struct ctl_acls *a)
{
    struct md_store *s = &c->md;
    struct acl_binding *old;
    int nold = s->nacls, added = 0;

    if (save(s, &old) < 0) {
        fail_all(a, KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    for (int i = 0; i < a->n; i++) {
        if (a->results[i].error || acl_find(s, &a->bindings[i]) >= 0)
            continue;          /* refused by the shard, or there already */
        if (store_add(s, &a->bindings[i]) < 0) {
            a->results[i].error = KERR_UNKNOWN_SERVER_ERROR;
            a->results[i].message = "out of memory";
            continue;
        }
        added++;
    }
    if (added == 0) {
        md_acls_replace(s, old, nold);
        return;
    }
    if (commit(c, old, nold, a) == 0)
        control_log("CreateAcls: %d ACL(s) added, %d in all", added, s->nacls);
}

static int copy_match(struct ctl_arena *ar, struct acl_binding *out, const struct acl_binding *b)
{
    *out = *b;
    out->name = ctl_arena_strdup(ar, b->name, strlen(b->name));
    out->principal = ctl_arena_strdup(ar, b->principal, strlen(b->principal));
    out->host = ctl_arena_strdup(ar, b->host, strlen(b->host));
    return out->name && out->principal && out->host ? 0 : -ENOMEM;
}

/* Lists in each filter's result the bindings it matches (arena copies). */
static int collect_matches(struct ctl_msg *m, const struct md_store *s, bool *gone)
{
    struct ctl_acls *a = &m->u.acls;
    for (int f = 0; f < a->n; f++) {
        struct ctl_acl_result *r = &a->results[f];
        if (r->error)
            continue;
        int k = 0;
        for (int i = 0; i < s->nacls; i++)
            k += acl_filter_matches(&a->filters[f], &s->acls[i]);
        r->matches = ctl_arena_alloc(&m->arena, sizeof *r->matches * (size_t)(k + 1));
        if (!r->matches)
            return -ENOMEM;
        for (int i = 0; i < s->nacls; i++) {
            if (!acl_filter_matches(&a->filters[f], &s->acls[i]))
                continue;
            if (copy_match(&m->arena, &r->matches[r->nmatches++], &s->acls[i]) < 0)
                return -ENOMEM;
            gone[i] = true;
        }
    }
    return 0;
}

static void delete_acls(struct control *c, struct ctl_msg *m)
{
    struct md_store *s = &c->md;
    struct ctl_acls *a = &m->u.acls;
    bool *gone = calloc((size_t)s->nacls + 1, sizeof *gone);
    struct acl_binding *old;
    int nold = s->nacls, kept = 0;

    if (!gone || collect_matches(m, s, gone) < 0) {
        free(gone);
        fail_all(a, KERR_UNKNOWN_SERVER_ERROR, "out of memory for the answer");
        return;
    }
    for (int i = 0; i < s->nacls; i++)
        kept += !gone[i];
    if (kept == s->nacls || save(s, &old) < 0) {
        if (kept != s->nacls)
            fail_all(a, KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        free(gone);
        return;
    }
    kept = 0;
    for (int i = 0; i < s->nacls; i++) {
        if (gone[i])
            md_acl_free(&s->acls[i]);
        else
            s->acls[kept++] = s->acls[i];
    }
    int removed = s->nacls - kept;
    s->nacls = kept;
    free(gone);
    if (commit(c, old, nold, a) == 0)
        control_log("DeleteAcls: %d ACL(s) removed, %d left", removed, s->nacls);
}

void acls_request(struct control *c, struct ctl_msg *m)
{
    if (!md_store_is_controller(&c->md))
        fail_all(&m->u.acls, KERR_NOT_CONTROLLER, "This node is not the controller.");
    else if (m->op == CTL_ACLS_CREATE)
        create_acls(c, &m->u.acls);
    else
        delete_acls(c, m);
    control_post(c, m->shard, m);
}
