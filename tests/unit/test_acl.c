/* test_acl.c - Kafka's ACL semantics (security/acl.c) against a simple
 * model: literal, prefixed and wildcard patterns, DENY over ALLOW, the
 * implied operations, super users, allow.everyone.if.no.acl.found,
 * principal and host wildcards, filters (ANY, MATCH), the checks
 * CreateAcls applies, and the metadata text of ACLs (control/acls.c)
 * round-tripping names with spaces and escapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/md_store.h"
#include "security/acl.h"

static struct acl_binding B(int type, int pat, const char *name, const char *principal,
                            const char *host, int op, int perm)
{
    return (struct acl_binding){ .resource_type = (int8_t)type, .pattern_type = (int8_t)pat,
                                 .name = name, .principal = principal, .host = host,
                                 .operation = (int8_t)op, .permission = (int8_t)perm };
}

static bool can(const struct acl_snapshot *a, const char *who, int op, int type,
                const char *name)
{
    return acl_authorize(a, who, "127.0.0.1", op, type, name, strlen(name));
}

static void test_literal_prefixed_wildcard(void **state)
{
    (void)state;
    struct acl_binding v[] = {
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "orders", "User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "fx.", "User:bob", "*", ACL_OP_WRITE, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "fx.eur", "User:carol", "*", ACL_OP_WRITE, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "fxa", "User:dave", "*", ACL_OP_WRITE, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", "User:erin", "*", ACL_OP_DESCRIBE, ACL_PERM_ALLOW),
        B(ACL_RES_GROUP, ACL_PAT_LITERAL, "orders", "User:bob", "*", ACL_OP_READ, ACL_PERM_ALLOW),
    };
    struct acl_snapshot *a = acl_snapshot_build(true, false, "", v, 6);
    assert_non_null(a);
    assert_true(can(a, "User:alice", ACL_OP_READ, ACL_RES_TOPIC, "orders"));
    assert_false(can(a, "User:alice", ACL_OP_READ, ACL_RES_TOPIC, "orders2"));
    assert_false(can(a, "User:alice", ACL_OP_WRITE, ACL_RES_TOPIC, "orders"));
    assert_false(can(a, "User:alice", ACL_OP_READ, ACL_RES_GROUP, "orders")); /* other type */
    /* prefixes: every one that begins the name applies, none that does not */
    assert_true(can(a, "User:bob", ACL_OP_WRITE, ACL_RES_TOPIC, "fx.eur.usd"));
    assert_true(can(a, "User:carol", ACL_OP_WRITE, ACL_RES_TOPIC, "fx.eur.usd"));
    assert_false(can(a, "User:carol", ACL_OP_WRITE, ACL_RES_TOPIC, "fx.gbp"));
    assert_false(can(a, "User:dave", ACL_OP_WRITE, ACL_RES_TOPIC, "fx.eur"));
    assert_true(can(a, "User:dave", ACL_OP_WRITE, ACL_RES_TOPIC, "fxab"));
    assert_false(can(a, "User:bob", ACL_OP_WRITE, ACL_RES_TOPIC, "fx"));
    assert_true(can(a, "User:bob", ACL_OP_WRITE, ACL_RES_TOPIC, "fx."));
    /* the literal "*" covers every topic */
    assert_true(can(a, "User:erin", ACL_OP_DESCRIBE, ACL_RES_TOPIC, "anything"));
    assert_false(can(a, "User:erin", ACL_OP_READ, ACL_RES_TOPIC, "anything"));
    free(a);
}

static void test_deny_wins_and_implications(void **state)
{
    (void)state;
    struct acl_binding v[] = {
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", "User:*", "*", ACL_OP_ALL, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "t", "User:mallory", "*", ACL_OP_WRITE, ACL_PERM_DENY),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "r", "User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "r", "User:alice", "*", ACL_OP_DESCRIBE, ACL_PERM_DENY),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "c", "User:alice", "*", ACL_OP_ALTER_CONFIGS, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "d", "User:alice", "*", ACL_OP_DELETE, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "h", "User:alice", "10.0.0.1", ACL_OP_READ, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "x", "User:alice", "*", ACL_OP_ALL, ACL_PERM_DENY),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "x", "User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW),
    };
    struct acl_snapshot *a = acl_snapshot_build(true, false, "", v, 9);
    assert_true(can(a, "User:anyone", ACL_OP_WRITE, ACL_RES_TOPIC, "t"));
    assert_true(can(a, "User:mallory", ACL_OP_READ, ACL_RES_TOPIC, "t"));
    assert_false(can(a, "User:mallory", ACL_OP_WRITE, ACL_RES_TOPIC, "t")); /* deny wins */
    /* READ implies DESCRIBE, but a DENY of DESCRIBE still refuses it */
    assert_false(can(a, "User:alice", ACL_OP_DESCRIBE, ACL_RES_TOPIC, "r"));
    assert_true(can(a, "User:alice", ACL_OP_READ, ACL_RES_TOPIC, "r"));
    assert_true(can(a, "User:alice", ACL_OP_DESCRIBE_CONFIGS, ACL_RES_TOPIC, "c"));
    assert_false(can(a, "User:alice", ACL_OP_DESCRIBE, ACL_RES_TOPIC, "c"));
    assert_true(can(a, "User:alice", ACL_OP_DESCRIBE, ACL_RES_TOPIC, "d"));
    assert_false(can(a, "User:alice", ACL_OP_READ, ACL_RES_TOPIC, "h")); /* other host */
    assert_true(acl_authorize(a, "User:alice", "10.0.0.1", ACL_OP_READ, ACL_RES_TOPIC, "h", 1));
    assert_false(can(a, "User:alice", ACL_OP_READ, ACL_RES_TOPIC, "x")); /* DENY ALL */
    free(a);
}

static void test_super_users_and_no_acl(void **state)
{
    (void)state;
    struct acl_binding v[] = {
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "owned", "User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW),
        B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "owned", "User:admin", "*", ACL_OP_ALL, ACL_PERM_DENY),
    };
    struct acl_snapshot *strict = acl_snapshot_build(true, false, " User:admin ;User:CN=ops,O=x", v, 2);
    struct acl_snapshot *open = acl_snapshot_build(true, true, "", v, 2);
    assert_int_equal(strict->nsuper, 2);
    assert_true(can(strict, "User:admin", ACL_OP_WRITE, ACL_RES_TOPIC, "owned")); /* super */
    assert_true(can(strict, "User:CN=ops,O=x", ACL_OP_ALTER, ACL_RES_CLUSTER, ACL_CLUSTER_NAME));
    assert_false(can(strict, "User:bob", ACL_OP_READ, ACL_RES_TOPIC, "free"));
    assert_true(can(open, "User:bob", ACL_OP_READ, ACL_RES_TOPIC, "free"));
    /* a resource with ACLs is closed to others even with the flag */
    assert_false(can(open, "User:bob", ACL_OP_READ, ACL_RES_TOPIC, "owned"));
    assert_true(can(NULL, "User:bob", ACL_OP_READ, ACL_RES_TOPIC, "x"));
    struct acl_snapshot *off = acl_snapshot_build(false, false, "", v, 2);
    assert_true(can(off, "User:bob", ACL_OP_READ, ACL_RES_TOPIC, "owned"));
    free(strict);
    free(open);
    free(off);
}

/* Many prefixes: the index walk agrees with a linear model. */
static void test_prefix_walk_matches_model(void **state)
{
    (void)state;
    enum { N = 200 };
    static char names[N][16];
    struct acl_binding v[N];
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        int len = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
        for (int k = 0; k < len; k++)
            names[i][k] = (char)('a' + ((seed = seed * 1103515245u + 12345u) >> 16) % 3);
        names[i][len] = '\0';
        v[i] = B(ACL_RES_TOPIC, ACL_PAT_PREFIXED, names[i], i % 2 ? "User:u" : "User:w", "*",
                 ACL_OP_READ, i % 7 == 0 ? ACL_PERM_DENY : ACL_PERM_ALLOW);
    }
    struct acl_snapshot *a = acl_snapshot_build(true, false, "", v, N);
    const char *probes[] = { "a", "ab", "abc", "abca", "cccc", "bacab", "ccab", "b" };
    for (size_t p = 0; p < sizeof probes / sizeof *probes; p++) {
        bool deny = false, allow = false;
        for (int i = 0; i < N; i++)
            if (strncmp(probes[p], names[i], strlen(names[i])) == 0 &&
                strcmp(v[i].principal, "User:u") == 0) {
                deny |= v[i].permission == ACL_PERM_DENY;
                allow |= v[i].permission == ACL_PERM_ALLOW;
            }
        assert_int_equal(can(a, "User:u", ACL_OP_READ, ACL_RES_TOPIC, probes[p]), !deny && allow);
    }
    free(a);
}

static void test_filters_and_checks(void **state)
{
    (void)state;
    struct acl_binding lit = B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "orders", "User:a", "*",
                               ACL_OP_READ, ACL_PERM_ALLOW);
    struct acl_binding wild = B(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", "User:a", "*",
                                ACL_OP_READ, ACL_PERM_ALLOW);
    struct acl_binding pre = B(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "ord", "User:a", "*",
                               ACL_OP_READ, ACL_PERM_ALLOW);
    struct acl_filter any = { ACL_RES_ANY, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY, NULL, NULL, NULL };
    struct acl_filter match = { ACL_RES_TOPIC, ACL_PAT_MATCH, ACL_OP_ANY, ACL_PERM_ANY,
                                "orders", NULL, NULL };
    struct acl_filter exact = { ACL_RES_TOPIC, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY,
                                "orders", NULL, NULL };
    struct acl_filter deny = { ACL_RES_TOPIC, ACL_PAT_LITERAL, ACL_OP_ANY, ACL_PERM_DENY,
                               NULL, NULL, NULL };
    assert_true(acl_filter_matches(&any, &lit) && acl_filter_matches(&any, &pre));
    assert_true(acl_filter_matches(&match, &lit) && acl_filter_matches(&match, &wild) &&
                acl_filter_matches(&match, &pre));
    assert_true(acl_filter_matches(&exact, &lit));
    assert_false(acl_filter_matches(&exact, &wild) || acl_filter_matches(&exact, &pre));
    assert_false(acl_filter_matches(&deny, &lit));
    char why[128];
    struct acl_filter bad = any;
    bad.pattern_type = ACL_PAT_UNKNOWN;
    assert_int_equal(acl_filter_check(&bad, why, sizeof why), 42);
    assert_int_equal(acl_filter_check(&any, why, sizeof why), 0);
    assert_int_equal(acl_binding_check(&lit, why, sizeof why), 0);
    struct acl_binding b = lit;
    b.pattern_type = ACL_PAT_MATCH;
    assert_int_equal(acl_binding_check(&b, why, sizeof why), 42);
    b = lit;
    b.operation = ACL_OP_ANY;
    assert_int_equal(acl_binding_check(&b, why, sizeof why), 42);
    b = lit;
    b.principal = "alice";
    assert_int_equal(acl_binding_check(&b, why, sizeof why), 42);
    b = lit;
    b.resource_type = ACL_RES_CLUSTER;
    assert_int_equal(acl_binding_check(&b, why, sizeof why), 42);
    b.name = ACL_CLUSTER_NAME;
    assert_int_equal(acl_binding_check(&b, why, sizeof why), 0);
    b = lit;
    b.name = "";
    assert_int_equal(acl_binding_check(&b, why, sizeof why), 42);
}

static void test_text_round_trip(void **state)
{
    (void)state;
    struct md_store s = {0};
    struct acl_binding *v = calloc(2, sizeof *v);
    v[0] = B(ACL_RES_GROUP, ACL_PAT_PREFIXED, strdup("my group%1"), strdup("User:CN=Ann Lee,O=x"),
             strdup("*"), ACL_OP_READ, ACL_PERM_ALLOW);
    v[1] = B(ACL_RES_TRANSACTIONAL_ID, ACL_PAT_LITERAL, strdup("tx\t1"), strdup("User:bob"),
             strdup("::1"), ACL_OP_WRITE, ACL_PERM_DENY);
    md_acls_replace(&s, v, 2);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    md_acls_text(f, &s);
    fclose(f);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    assert_string_equal(line, "acls");
    for (int i = 0; i < 2; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        assert_int_equal(strncmp(line, "acl ", 4), 0);
        struct acl_binding got;
        char why[128];
        assert_int_equal(md_acl_parse(line + 4, &got, why, sizeof why), 0);
        assert_int_equal(acl_binding_cmp(&got, &s.acls[i]), 0);
        md_acl_free(&got);
    }
    assert_string_equal(strtok_r(NULL, "\n", &save), "end");
    free(text);
    char why[128];
    struct acl_binding got;
    char bad1[] = "TOPIC LITERAL ALLOW READ * User:a";
    char bad2[] = "TOPIC LITERAL ALLOW READ * User:a t%zz";
    char bad3[] = "TOPIC MATCH ALLOW READ * User:a t";
    char bad4[] = "TOPIC LITERAL ALLOW READ * User:a t%00";
    assert_int_equal(md_acl_parse(bad1, &got, why, sizeof why), -EINVAL);
    assert_int_equal(md_acl_parse(bad2, &got, why, sizeof why), -EINVAL);
    assert_int_equal(md_acl_parse(bad3, &got, why, sizeof why), -EINVAL);
    assert_int_equal(md_acl_parse(bad4, &got, why, sizeof why), -EINVAL);
    md_acls_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_prefixed_wildcard),
        cmocka_unit_test(test_deny_wins_and_implications),
        cmocka_unit_test(test_super_users_and_no_acl),
        cmocka_unit_test(test_prefix_walk_matches_model),
        cmocka_unit_test(test_filters_and_checks),
        cmocka_unit_test(test_text_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
