/* sasl.c - the server side of Kafka's SASL exchange on a shard (sasl.h).
 *
 * Owns: struct conn_sasl, the per-connection state: which step the
 * exchange is at, the mechanism, and for SCRAM the messages the proof is
 * computed over and the credential the control thread looked up. The
 * control thread owns the credentials (CTL_SASL_LOOKUP); a PLAIN password
 * is checked there too (PBKDF2 costs milliseconds: never on a shard's
 * loop). A SCRAM proof is checked here: two HMACs and a hash.
 *
 * SCRAM follows RFC 5802 as Kafka's ScramSaslServer does: no channel
 * binding (gs2 "n" or "y"), extensions ignored, the server nonce 24
 * random bytes appended to the client's.
 *
 * Never: stores a password, or lets a request other than ApiVersions,
 * SaslHandshake and SaslAuthenticate through before success. */
#include "dataplane/sasl.h"
#include "dataplane/shard_private.h"
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_metadata.h"
#include "dataplane/kafka/msg_security.h"
#include "security/scram.h"
#include "slog/slog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define ERR_UNSUPPORTED_SASL_MECHANISM 33
#define ERR_ILLEGAL_SASL_STATE 34
#define ERR_SASL_AUTHENTICATION_FAILED 58
#define MECH_PLAIN 0                 /* beside enum scram_mech */
#define SCRAM_MSG_MAX 1024

enum sasl_state {
    SASL_HANDSHAKE = 0,              /* waiting for SaslHandshake */
    SASL_AUTHENTICATE,               /* tokens in SaslAuthenticate (v1 handshake) */
    SASL_RAW,                        /* raw tokens (v0 handshake) */
    SASL_DONE,
    SASL_FAILED,                     /* no further request */
};

struct conn_sasl {
    uint8_t state;                   /* enum sasl_state */
    uint8_t mech;                    /* MECH_PLAIN or enum scram_mech */
    uint8_t scram_step;              /* 0: client-first next; 1: client-final */
    char principal[SCRAM_USER_MAX + 8];
    char user[SCRAM_USER_MAX];
    struct scram_cred cred;
    char gs2[64];                    /* the client-first's gs2 header */
    char nonce[192];                 /* client nonce + server nonce */
    size_t cnonce_len;               /* the client's part */
    char first_bare[SCRAM_MSG_MAX];  /* the client-first without gs2 */
    char server_first[SCRAM_MSG_MAX];
};

int conn_sasl_init(struct conn *c)
{
    c->sasl = calloc(1, sizeof *c->sasl);
    return c->sasl ? 0 : -ENOMEM;
}

void conn_sasl_destroy(struct conn *c)
{
    if (!c->sasl)
        return;
    OPENSSL_cleanse(c->sasl, sizeof *c->sasl);
    free(c->sasl);
    c->sasl = NULL;
}

bool sasl_wants_raw(const struct conn *c)
{
    return c->sasl && c->sasl->state == SASL_RAW;
}

bool sasl_allows(const struct conn *c, int16_t api_key)
{
    if (!c->sasl || c->sasl->state == SASL_DONE)
        return true;
    if (c->sasl->state == SASL_FAILED)
        return false;
    return api_key == KAFKA_API_VERSIONS || api_key == KAFKA_SASL_HANDSHAKE ||
           api_key == KAFKA_SASL_AUTHENTICATE;
}

const char *conn_principal(const struct conn *c)
{
    if (c->sasl && c->sasl->state == SASL_DONE)
        return c->sasl->principal;
    const char *tls = conn_tls_principal(c);
    return tls ? tls : "User:ANONYMOUS";
}

/* --- answers ---------------------------------------------------------------- */

/* The token back to the client: in a SaslAuthenticate response, or as a
 * raw length-prefixed frame after a v0 handshake. */
static int answer(struct request *rq, int16_t error, const char *message, const void *token,
                  size_t len)
{
    if (rq->api_key == KAFKA_SASL_AUTHENTICATE && rq->api_version >= 0) {
        struct kafka_sasl_authenticate_resp *resp = request_alloc(rq, sizeof *resp);
        if (!resp)
            return -ENOMEM;
        resp->error_code = error;
        resp->error_message = message ? kstr_c(message) : KSTR_NULL;
        resp->auth_bytes = (struct kbytes){ .p = token, .len = (int32_t)len };
        return request_respond(rq, resp);
    }
    struct out_seg *seg = request_alloc(rq, sizeof *seg);
    uint8_t *buf = request_alloc(rq, 4 + len);
    if (!seg || !buf)
        return -ENOMEM;
    buf[0] = (uint8_t)(len >> 24);
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    if (len)
        memcpy(buf + 4, token, len);
    *seg = (struct out_seg){ .p = buf, .len = (uint32_t)(4 + len) };
    return request_respond_segs(rq, seg, 1);
}

static const char *arena_str(struct request *rq, const char *s)
{
    size_t n = strlen(s);
    char *p = request_alloc(rq, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* The exchange failed: the client is told (raw tokens have no way to say
 * it: the connection closes), the reason is logged, and the connection
 * takes no further request. */
static int fail(struct request *rq, const char *why)
{
    struct conn *c = rq->conn;
    struct conn_sasl *x = c->sasl;
    char msg[SCRAM_USER_MAX + 160];
    snprintf(msg, sizeof msg, "Authentication failed during authentication due to invalid "
             "credentials with SASL mechanism %s",
             x->mech == MECH_PLAIN ? "PLAIN" : scram_mech_name(x->mech));
    slog(SLOG_WARN, "shard", "SASL authentication failed shard=%d conn=%u user=\"%s\" "
         "mechanism=%s reason=\"%s\"", c->shard->cfg.index, c->id, x->user,
         x->mech == MECH_PLAIN ? "PLAIN" : scram_mech_name(x->mech), why);
    bool raw = x->state == SASL_RAW;
    x->state = SASL_FAILED;
    if (raw) {
        request_respond_none(rq); /* done, so the close releases it */
        conn_close(c, NULL);
        return 0;
    }
    return answer(rq, ERR_SASL_AUTHENTICATION_FAILED, arena_str(rq, msg), NULL, 0);
}

static int succeed(struct request *rq, const void *token, size_t len)
{
    struct conn_sasl *x = rq->conn->sasl;
    x->state = SASL_DONE;
    snprintf(x->principal, sizeof x->principal, "User:%s", x->user);
    return answer(rq, 0, NULL, token, len);
}

/* --- the control thread's lookup ---------------------------------------------- */

static void lookup_done(struct request *rq, struct ctl_msg *m);

static int lookup(struct request *rq, const char *password, size_t plen)
{
    struct conn_sasl *x = rq->conn->sasl;
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = CTL_SASL_LOOKUP;
    rq->ctl.u.sasl = (struct ctl_sasl){
        .user = x->user, .mech = x->mech, .password = password, .password_len = plen,
        .cred = x->mech == MECH_PLAIN ? NULL : &x->cred,
    };
    if (request_ctl_arena(rq, 64) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, lookup_done);
}

static int scram_server_first(struct request *rq);

static void lookup_done(struct request *rq, struct ctl_msg *m)
{
    int rc; /* runs only while the connection is there (shard.c) */
    if (m->u.sasl.error)
        rc = fail(rq, "unknown user or wrong password");
    else if (rq->conn->sasl->mech == MECH_PLAIN)
        rc = succeed(rq, NULL, 0);
    else
        rc = scram_server_first(rq);
    if (rc < 0) {
        request_respond_none(rq);
        conn_close(rq->conn, "cannot answer a SASL token");
    }
}

/* --- PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd -------------------------- */

static int plain_token(struct request *rq, const uint8_t *p, size_t n)
{
    struct conn_sasl *x = rq->conn->sasl;
    const uint8_t *end = p + n, *a = memchr(p, 0, n);
    const uint8_t *u = a ? a + 1 : NULL, *b = u ? memchr(u, 0, (size_t)(end - u)) : NULL;
    if (!b)
        return fail(rq, "a PLAIN token is authzid NUL user NUL password");
    size_t ulen = (size_t)(b - u), alen = (size_t)(a - p);
    if (ulen == 0 || ulen >= sizeof x->user)
        return fail(rq, "an empty or too long user name");
    memcpy(x->user, u, ulen);
    x->user[ulen] = '\0';
    if (alen && (alen != ulen || memcmp(p, u, ulen) != 0))
        return fail(rq, "an authorization id that is not the user name");
    size_t plen = (size_t)(end - b - 1);
    char *password = request_alloc(rq, plen + 1);
    if (!password)
        return -ENOMEM;
    memcpy(password, b + 1, plen);
    return lookup(rq, password, plen);
}

/* --- SCRAM ------------------------------------------------------------------- */

/* client-first: gs2-header ("n,," or "y,," with an optional a=authzid)
 * then "n=user,r=nonce[,ext]". */
static int scram_client_first(struct request *rq, const char *msg, size_t n)
{
    struct conn_sasl *x = rq->conn->sasl;
    const char *c1 = memchr(msg, ',', n), *c2 = c1 ? memchr(c1 + 1, ',', n - (size_t)(c1 + 1 - msg)) : NULL;
    if (!c2 || (msg[0] != 'n' && msg[0] != 'y') || c1 != msg + 1)
        return fail(rq, msg[0] == 'p' ? "channel binding is not supported"
                                      : "not a SCRAM client-first message");
    size_t gs2 = (size_t)(c2 + 1 - msg), bare = n - gs2;
    const char *v;
    size_t vlen;
    if (gs2 >= sizeof x->gs2 || bare >= sizeof x->first_bare)
        return fail(rq, "a SCRAM client-first message too long");
    memcpy(x->gs2, msg, gs2);
    x->gs2[gs2] = '\0';
    memcpy(x->first_bare, msg + gs2, bare);
    x->first_bare[bare] = '\0';
    if (!scram_attr(x->first_bare, bare, 'n', &v, &vlen) || x->first_bare[0] != 'n' ||
        scram_unescape_user(v, vlen, x->user, sizeof x->user) < 0 || !x->user[0])
        return fail(rq, "no user name in the SCRAM client-first message");
    if (gs2 > 3) { /* a=authzid: only the user itself (Kafka's rule) */
        char authz[SCRAM_USER_MAX];
        if (msg[2] != 'a' || msg[3] != '=' ||
            scram_unescape_user(msg + 4, gs2 - 5, authz, sizeof authz) < 0 ||
            strcmp(authz, x->user) != 0)
            return fail(rq, "an authorization id that is not the user name");
    }
    if (!scram_attr(x->first_bare, bare, 'r', &v, &vlen) || vlen == 0 ||
        vlen + 33 > sizeof x->nonce)
        return fail(rq, "no usable nonce in the SCRAM client-first message");
    memcpy(x->nonce, v, vlen);
    x->cnonce_len = vlen;
    uint8_t rnd[24];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return -EIO;
    scram_b64_encode(rnd, sizeof rnd, x->nonce + vlen);
    return lookup(rq, NULL, 0);
}

static int scram_server_first(struct request *rq)
{
    struct conn_sasl *x = rq->conn->sasl;
    char salt[4 * SCRAM_SALT_MAX / 3 + 8];
    scram_b64_encode(x->cred.salt, (size_t)x->cred.salt_len, salt);
    int n = snprintf(x->server_first, sizeof x->server_first, "r=%s,s=%s,i=%d", x->nonce,
                     salt, x->cred.iterations);
    x->scram_step = 1;
    return answer(rq, 0, NULL, x->server_first, (size_t)n);
}

/* The client-final's nonce: the server's (client's + server's part), or,
 * from librdkafka before 2.6.1, the client's part once more in front of it
 * (librdkafka#4895; Kafka 3.8.1 accepts it too, so those clients keep
 * working: the proof is over the nonce as the client sent it). */
static bool nonce_ok(const struct conn_sasl *x, const char *v, size_t vlen)
{
    size_t n = strlen(x->nonce), cn = x->cnonce_len;
    if (vlen == n)
        return memcmp(v, x->nonce, n) == 0;
    return vlen == n + cn && memcmp(v, x->nonce, cn) == 0 && memcmp(v + cn, x->nonce, n) == 0;
}

/* client-final: "c=<base64 gs2>,r=<nonce>[,ext],p=<base64 proof>" */
static int scram_client_final(struct request *rq, const char *msg, size_t n)
{
    struct conn_sasl *x = rq->conn->sasl;
    const char *v, *p_at = NULL;
    size_t vlen;
    char gs2_b64[sizeof x->gs2 * 2];
    uint8_t proof[SCRAM_KEY_MAX + 4];
    for (size_t i = 0; i + 3 <= n; i++)
        if (msg[i] == ',' && msg[i + 1] == 'p' && msg[i + 2] == '=')
            p_at = msg + i;
    if (!p_at)
        return fail(rq, "no proof in the SCRAM client-final message");
    size_t without = (size_t)(p_at - msg);
    scram_b64_encode((const uint8_t *)x->gs2, strlen(x->gs2), gs2_b64);
    if (!scram_attr(msg, without, 'c', &v, &vlen) || vlen != strlen(gs2_b64) ||
        memcmp(v, gs2_b64, vlen) != 0)
        return fail(rq, "channel binding data that is not the gs2 header");
    if (!scram_attr(msg, without, 'r', &v, &vlen) || !nonce_ok(x, v, vlen))
        return fail(rq, "a nonce that is not the server's");
    int plen = scram_b64_decode(p_at + 3, n - without - 3, proof, sizeof proof);
    size_t alen = strlen(x->first_bare) + strlen(x->server_first) + without + 2;
    char *auth = request_alloc(rq, alen + 1);
    if (!auth)
        return -ENOMEM;
    snprintf(auth, alen + 1, "%s,%s,%.*s", x->first_bare, x->server_first, (int)without, msg);
    if (plen < 0 || !scram_proof_valid(&x->cred, auth, alen, proof, (size_t)plen))
        return fail(rq, "unknown user or wrong password");
    uint8_t sig[SCRAM_KEY_MAX];
    size_t slen = scram_server_signature(&x->cred, auth, alen, sig);
    char *final = request_alloc(rq, 4 * SCRAM_KEY_MAX / 3 + 8);
    if (!final)
        return -ENOMEM;
    final[0] = 'v';
    final[1] = '=';
    size_t flen = 2 + scram_b64_encode(sig, slen, final + 2);
    return succeed(rq, final, flen);
}

/* One token of the exchange, framed or raw. */
static int sasl_token(struct request *rq, const uint8_t *p, size_t n)
{
    struct conn_sasl *x = rq->conn->sasl;
    if (x->mech == MECH_PLAIN)
        return plain_token(rq, p, n);
    if (n >= SCRAM_MSG_MAX || memchr(p, 0, n))
        return fail(rq, "a SCRAM message too long or holding a NUL");
    return x->scram_step == 0 ? scram_client_first(rq, (const char *)p, n)
                              : scram_client_final(rq, (const char *)p, n);
}

int sasl_raw_token(struct request *rq, const uint8_t *frame, uint32_t len)
{
    rq->api_key = KAFKA_SASL_AUTHENTICATE;
    rq->api_version = -1; /* answered raw (answer()) */
    int rc = sasl_token(rq, frame, len);
    if (rc < 0 && rq->conn)
        conn_close(rq->conn, "cannot answer a SASL token");
    return rc;
}

/* --- the handlers ------------------------------------------------------------ */

static bool mechanism_enabled(const struct request *rq, const char *mech, size_t n)
{
    const char *list = rq->shard->cfg.broker->sasl_enabled_mechanisms;
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && memcmp(p, mech, n) == 0)
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

static int enabled_list(struct request *rq, struct kafka_sasl_handshake_resp *resp)
{
    const char *list = rq->shard->cfg.broker->sasl_enabled_mechanisms;
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    resp->mechanisms.v = request_alloc(rq, sizeof(struct kstr) * (size_t)n);
    if (!resp->mechanisms.v)
        return -ENOMEM;
    resp->mechanisms.n = 0;
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        resp->mechanisms.v[resp->mechanisms.n++] = (struct kstr){ .p = p, .len = (int32_t)k };
        p += k + (p[k] == ',');
    }
    return 0;
}

int handle_sasl_handshake(struct request *rq)
{
    const struct kafka_sasl_handshake_req *req = rq->body;
    struct kafka_sasl_handshake_resp *resp = request_alloc(rq, sizeof *resp);
    struct conn_sasl *x = rq->conn ? rq->conn->sasl : NULL;
    if (!resp || enabled_list(rq, resp) < 0)
        return -ENOMEM;
    char mech[32];
    snprintf(mech, sizeof mech, "%.*s", req->mechanism.len > 0 ? (int)req->mechanism.len : 0,
             req->mechanism.p);
    if (!x || x->state != SASL_HANDSHAKE) {
        /* not a SASL listener, or a second handshake */
        resp->error_code = ERR_ILLEGAL_SASL_STATE;
        return request_respond(rq, resp);
    }
    if (!mechanism_enabled(rq, mech, strlen(mech))) {
        resp->error_code = ERR_UNSUPPORTED_SASL_MECHANISM;
        return request_respond(rq, resp);
    }
    x->mech = strcmp(mech, "PLAIN") == 0 ? MECH_PLAIN : (uint8_t)scram_mech_parse(mech);
    x->state = rq->api_version == 0 ? SASL_RAW : SASL_AUTHENTICATE;
    resp->error_code = 0;
    return request_respond(rq, resp);
}

int handle_sasl_authenticate(struct request *rq)
{
    const struct kafka_sasl_authenticate_req *req = rq->body;
    struct conn_sasl *x = rq->conn ? rq->conn->sasl : NULL;
    if (!x || x->state != SASL_AUTHENTICATE)
        return answer(rq, ERR_ILLEGAL_SASL_STATE, "SaslAuthenticate before SaslHandshake, on "
                      "a listener without SASL, or after authentication", NULL, 0);
    return sasl_token(rq, req->auth_bytes.p ? req->auth_bytes.p : (const uint8_t *)"",
                      req->auth_bytes.len > 0 ? (size_t)req->auth_bytes.len : 0);
}
