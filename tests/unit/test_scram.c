/* test_scram.c - SCRAM's arithmetic against RFC 7677's SCRAM-SHA-256
 * example, PLAIN passwords checked against a credential, and the
 * credential store (control/users.c): Kafka's rules for alterations, the
 * file surviving a reopen, a damaged file refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/ctl.h"
#include "control/users.h"
#include "security/scram.h"

/* RFC 7677 section 3 */
#define RFC_BARE "n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SFIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_FINAL_WO "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_VERIFIER "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_cred(struct scram_cred *c)
{
    uint8_t salted[SCRAM_KEY_MAX];
    memset(c, 0, sizeof *c);
    snprintf(c->user, sizeof c->user, "user");
    c->mech = SCRAM_SHA_256;
    c->iterations = 4096;
    c->salt_len = scram_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, c->salt, sizeof c->salt);
    assert_int_equal(c->salt_len, 16);
    assert_int_equal(scram_salted_password(c->mech, "pencil", 6, c->salt, c->salt_len, 4096,
                                           salted), 0);
    assert_int_equal(scram_cred_from_salted(c, salted, 32), 0);
}

static void test_rfc7677(void **state)
{
    (void)state;
    struct scram_cred c;
    uint8_t proof[64], sig[64];
    char b64[128];
    const char *auth = RFC_BARE "," RFC_SFIRST "," RFC_FINAL_WO;
    rfc_cred(&c);
    int n = scram_b64_decode(RFC_PROOF, strlen(RFC_PROOF), proof, sizeof proof);
    assert_int_equal(n, 32);
    assert_true(scram_proof_valid(&c, auth, strlen(auth), proof, (size_t)n));
    size_t k = scram_server_signature(&c, auth, strlen(auth), sig);
    assert_int_equal(k, 32);
    scram_b64_encode(sig, k, b64);
    assert_string_equal(b64, RFC_VERIFIER);
    proof[0] ^= 1;
    assert_false(scram_proof_valid(&c, auth, strlen(auth), proof, (size_t)n));
    assert_false(scram_proof_valid(&c, auth, strlen(auth), proof, 31));
    assert_true(scram_password_matches(&c, "pencil", 6));
    assert_false(scram_password_matches(&c, "pencil ", 7));
}

static void test_syntax(void **state)
{
    (void)state;
    const char *v;
    size_t n;
    char user[16];
    uint8_t out[4];
    assert_true(scram_attr(RFC_SFIRST, strlen(RFC_SFIRST), 'i', &v, &n));
    assert_int_equal(n, 4);
    assert_memory_equal(v, "4096", 4);
    assert_false(scram_attr(RFC_SFIRST, strlen(RFC_SFIRST), 'p', &v, &n));
    assert_int_equal(scram_unescape_user("a=2Cb=3Dc", 9, user, sizeof user), 0);
    assert_string_equal(user, "a,b=c");
    assert_int_equal(scram_unescape_user("a=2", 3, user, sizeof user), -EINVAL);
    assert_int_equal(scram_unescape_user("a,b", 3, user, sizeof user), -EINVAL);
    assert_int_equal(scram_b64_decode("QUJD", 4, out, 3), 3);
    assert_int_equal(scram_b64_decode("QUJD", 4, out, 2), -EINVAL);
    assert_int_equal(scram_b64_decode("QUJ", 3, out, sizeof out), -EINVAL);
    assert_int_equal(scram_mech_parse("SCRAM-SHA-512"), SCRAM_SHA_512);
    assert_int_equal(scram_mech_parse("PLAIN"), SCRAM_UNKNOWN);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-test-scram-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t arena_buf[16384];

static struct ctl_msg *msg(enum ctl_op op)
{
    static struct ctl_msg m;
    memset(&m, 0, sizeof m);
    m.op = op;
    m.arena = (struct ctl_arena){ .buf = arena_buf, .cap = sizeof arena_buf };
    return &m;
}

static int16_t alter_one(struct users *u, const char *user, int mech, int32_t iter,
                         const char *password, bool del)
{
    static uint8_t salt[16] = "0123456789abcdef", salted[SCRAM_KEY_MAX];
    struct ctl_scram_op op = { .user = user, .mech = (int8_t)mech, .iterations = iter };
    if (!del) {
        size_t kl = scram_key_len(mech) ? scram_key_len(mech) : 32;
        if (scram_key_len(mech))
            scram_salted_password(mech, password, strlen(password), salt, 16, iter, salted);
        op.salt = salt;
        op.salt_len = 16;
        op.salted = salted;
        op.salted_len = (int32_t)kl;
    }
    struct ctl_msg *m = msg(CTL_USERS_ALTER);
    m->u.users = (struct ctl_users){ .nops = 1, .ops = &op };
    users_request(u, m);
    assert_int_equal(m->u.users.nresults, 1);
    return m->u.users.results[0].error;
}

static int16_t plain(struct users *u, const char *user, const char *password)
{
    struct ctl_msg *m = msg(CTL_SASL_LOOKUP);
    m->u.sasl = (struct ctl_sasl){ .user = user, .password = password,
                                   .password_len = strlen(password) };
    users_request(u, m);
    return m->u.sasl.error;
}

static void test_store(void **state)
{
    (void)state;
    struct users u;
    char err[256];
    assert_int_equal(users_open(&u, tmpdir, err, sizeof err), 0);
    assert_int_equal(alter_one(&u, "alice", SCRAM_SHA_256, 4096, "pw1", false), 0);
    assert_int_equal(alter_one(&u, "alice", SCRAM_SHA_512, 4096, "pw1", false), 0);
    assert_int_equal(alter_one(&u, "bob", SCRAM_SHA_512, 100, "pw", false), 93);
    assert_int_equal(alter_one(&u, "bob", SCRAM_SHA_512, 20000, "pw", false), 93);
    assert_int_equal(alter_one(&u, "bob", 7, 4096, "pw", false), 33);
    assert_int_equal(alter_one(&u, "bob", SCRAM_SHA_256, 4096, NULL, true), 91);
    assert_int_equal(alter_one(&u, "", SCRAM_SHA_256, 4096, "pw", false), 93);
    assert_int_equal(alter_one(&u, "eve\nscram", SCRAM_SHA_256, 4096, "pw", false), 93);
    assert_int_equal(plain(&u, "alice", "pw1"), 0);
    assert_int_equal(plain(&u, "alice", "pw2"), 58);
    assert_int_equal(plain(&u, "bob", "pw"), 58);
    users_close(&u);

    /* reopened: the same credentials */
    assert_int_equal(users_open(&u, tmpdir, err, sizeof err), 0);
    assert_int_equal(u.n, 2);
    assert_non_null(users_find(&u, "alice", SCRAM_SHA_256));
    assert_int_equal(plain(&u, "alice", "pw1"), 0);
    assert_int_equal(alter_one(&u, "alice", SCRAM_SHA_256, 0, NULL, true), 0);
    assert_null(users_find(&u, "alice", SCRAM_SHA_256));
    users_close(&u);

    /* a damaged file is an error, not an empty store */
    char path[128];
    snprintf(path, sizeof path, "%s/scram-credentials", tmpdir);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, 60, SEEK_SET);
    fputc('#', f);
    fclose(f);
    assert_int_equal(users_open(&u, tmpdir, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "line"));
}

static void test_parse_rejects(void **state)
{
    (void)state;
    struct users u = {0};
    char err[256];
    const char *no_crc = "format 1\n";
    assert_int_equal(users_parse(&u, no_crc, strlen(no_crc), err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "crc32c"));
    const char *no_format = "scram SCRAM-SHA-256 4096 AA== AA== AA== x\n";
    assert_int_equal(users_parse(&u, no_format, strlen(no_format), err, sizeof err), -EINVAL);
    users_close(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7677),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test_setup_teardown(test_store, setup_dir, remove_dir),
        cmocka_unit_test(test_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
