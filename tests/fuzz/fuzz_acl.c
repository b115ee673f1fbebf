/*
 * fuzz_acl.c - libFuzzer target for the ACLs: the "acl ..." lines of the
 * metadata text that a broker reads at start-up (control/acls.c's
 * md_acl_parse) and the indexed snapshot a shard authorises with
 * (security/acl.c), checked against a plain linear reading of Kafka's
 * rules.
 *
 * Input: lines. "acl <type> <pattern> <permission> <operation> <host>
 * <principal> <name>" adds a binding if it parses; "q <principal> <host>
 * <operation> <type> <name>" (fields %XX-escaped) is a question. The
 * snapshot must answer every question as the model does; every parsed
 * binding must write back (md_acls_text) to a line that parses to the
 * same binding. Seeds: tests/fuzz/corpus/fuzz_acl/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/md_store.h"
#include "security/acl.h"

#define MAX_BINDINGS 64
#define MAX_QUESTIONS 32

struct question {
    char principal[ACL_PRINCIPAL_MAX], host[ACL_HOST_MAX], name[ACL_NAME_MAX];
    int op, type;
};

static bool model(const struct acl_binding *v, int n, bool allow_if_none,
                  const struct question *q)
{
    bool found = false, deny = false, allow = false;
    if (strcmp(q->principal, "User:root") == 0)
        return true;
    for (int i = 0; i < n; i++) {
        const struct acl_binding *b = &v[i];
        if (b->resource_type != q->type)
            continue;
        bool applies = b->pattern_type == ACL_PAT_LITERAL
                           ? strcmp(b->name, q->name) == 0 || strcmp(b->name, "*") == 0
                           : strncmp(q->name, b->name, strlen(b->name)) == 0;
        if (!applies)
            continue;
        found = true;
        if (strcmp(b->principal, q->principal) != 0 && strcmp(b->principal, "User:*") != 0)
            continue;
        if (strcmp(b->host, "*") != 0 && strcmp(b->host, q->host) != 0)
            continue;
        bool op = b->operation == q->op || b->operation == ACL_OP_ALL;
        bool implied = op ||
            (q->op == ACL_OP_DESCRIBE &&
             (b->operation == ACL_OP_READ || b->operation == ACL_OP_WRITE ||
              b->operation == ACL_OP_DELETE || b->operation == ACL_OP_ALTER)) ||
            (q->op == ACL_OP_DESCRIBE_CONFIGS && b->operation == ACL_OP_ALTER_CONFIGS);
        if (b->permission == ACL_PERM_DENY && op)
            deny = true;
        if (b->permission == ACL_PERM_ALLOW && implied)
            allow = true;
    }
    return deny ? false : allow ? true : !found && allow_if_none;
}

static bool copy_field(char *out, size_t cap, const char *tok)
{
    if (!tok || strlen(tok) >= cap)
        return false;
    strcpy(out, tok);
    return acl_text_unescape(out) == 0;
}

static bool parse_question(char *line, struct question *q)
{
    char *save = NULL;
    char *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = strtok_r(i ? NULL : line, " ", &save);
    if (!f[4] || !copy_field(q->principal, sizeof q->principal, f[0]) ||
        !copy_field(q->host, sizeof q->host, f[1]) ||
        !copy_field(q->name, sizeof q->name, f[4]))
        return false;
    q->op = acl_operation_parse(f[2]);
    q->type = acl_resource_type_parse(f[3]);
    return q->op >= 0 && q->type >= 0;
}

static void check_text(struct acl_binding *v, int n)
{
    struct md_store s = {0};
    char *text = NULL, *save = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    s.acls = v;
    s.nacls = n;
    md_acls_text(f, &s);
    fclose(f);
    char *line = strtok_r(text, "\n", &save);          /* "acls" */
    for (int i = 0; i < n; i++) {
        struct acl_binding got;
        char why[128];
        line = strtok_r(NULL, "\n", &save);
        if (!line || strncmp(line, "acl ", 4) != 0 ||
            md_acl_parse(line + 4, &got, why, sizeof why) != 0)
            abort();                                    /* our own line must parse */
        if (acl_binding_cmp(&got, &v[i]) != 0)
            abort();                                    /* to the same binding */
        md_acl_free(&got);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct question qs[MAX_QUESTIONS];
    struct acl_binding v[MAX_BINDINGS];
    int n = 0, nq = 0;
    char *buf = malloc(size + 1), *save = NULL;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char why[128];
        if (strncmp(line, "acl ", 4) == 0 && n < MAX_BINDINGS) {
            if (md_acl_parse(line + 4, &v[n], why, sizeof why) == 0)
                n++;
        } else if (strncmp(line, "q ", 2) == 0 && nq < MAX_QUESTIONS) {
            nq += parse_question(line + 2, &qs[nq]);
        }
    }
    bool allow_if_none = size & 1;
    struct acl_snapshot *a = acl_snapshot_build(true, allow_if_none, "User:root;User:x", v, n);
    for (int i = 0; a && i < nq; i++)
        if (acl_authorize(a, qs[i].principal, qs[i].host, qs[i].op, qs[i].type, qs[i].name,
                          strlen(qs[i].name)) != model(v, n, allow_if_none, &qs[i]))
            abort();                                    /* the index disagrees */
    check_text(v, n);
    free(a);
    for (int i = 0; i < n; i++)
        md_acl_free(&v[i]);
    free(buf);
    return 0;
}
