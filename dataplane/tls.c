/* tls.c - OpenSSL's server side over memory BIOs (tls.h).
 *
 * Owns: the SSL_CTX built from the ssl.* settings, and per connection an
 * SSL object whose read and write BIOs are memory BIOs. Never: reads or
 * writes a socket, blocks, or allocates per record beyond what OpenSSL's
 * BIOs do.
 *
 * OpenSSL is the field's TLS library (Debian's libssl3); nothing of TLS is
 * written here but the plumbing between its buffers and the shard's. */
#include "dataplane/tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_ctx {
    SSL_CTX *ssl;
    char key_password[CONFIG_SECRET_MAX];
};

struct tls_conn {
    SSL *ssl;
    BIO *in, *out;             /* owned by ssl */
    char error[160];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_get_error();
    if (e && n > 0 && (size_t)n + 3 < errlen) {
        err[n] = ':';
        err[n + 1] = ' ';
        ERR_error_string_n(e, err + n + 2, errlen - (size_t)n - 2);
    }
    ERR_clear_error();
}

static int password_cb(char *buf, int size, int rwflag, void *u)
{
    const struct tls_ctx *ctx = u;
    (void)rwflag;
    int n = (int)strlen(ctx->key_password);
    if (n >= size)
        return -1;
    memcpy(buf, ctx->key_password, (size_t)n);
    return n;
}

/* ssl.enabled.protocols: the lowest and highest version named. */
static void proto_range(const char *list, int *lo, int *hi)
{
    bool v12 = strstr(list, "TLSv1.2") != NULL, v13 = strstr(list, "TLSv1.3") != NULL;
    *lo = v12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    *hi = v13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

/* ssl.cipher.suites: TLS 1.3 suites (TLS_AES_*, TLS_CHACHA20_*) go to
 * SSL_CTX_set_ciphersuites, the others to SSL_CTX_set_cipher_list; IANA
 * names (Java's, as Kafka configs carry them) are mapped to OpenSSL's. */
static int set_ciphers(SSL_CTX *ssl, const char *list, char *err, size_t errlen)
{
    char v13[CONFIG_VALUE_MAX] = "", v12[CONFIG_VALUE_MAX] = "";
    size_t n13 = 0, n12 = 0;
    if (!*list)
        return 0;
    for (const char *p = list; *p;) {
        char name[128];
        p += strspn(p, " \t");
        size_t n = strcspn(p, ", \t");
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
        p += n;
        p += strspn(p, ", \t");
        if (!name[0])
            continue;
        if (strncmp(name, "TLS_AES_", 8) == 0 || strncmp(name, "TLS_CHACHA20_", 13) == 0) {
            n13 += (size_t)snprintf(v13 + n13, sizeof v13 - n13, "%s%s", n13 ? ":" : "", name);
            continue;
        }
        const char *o = OPENSSL_cipher_name(name);
        if (!o || strcmp(o, "(NONE)") == 0)
            o = name;
        n12 += (size_t)snprintf(v12 + n12, sizeof v12 - n12, "%s%s", n12 ? ":" : "", o);
    }
    if (n13 > 0 && !SSL_CTX_set_ciphersuites(ssl, v13)) {
        seterr(err, errlen, "ssl.cipher.suites: OpenSSL knows none of '%s'", v13);
        return -EINVAL;
    }
    if (n12 > 0 && !SSL_CTX_set_cipher_list(ssl, v12)) {
        seterr(err, errlen, "ssl.cipher.suites: OpenSSL knows none of '%s'", v12);
        return -EINVAL;
    }
    if (n12 == 0) /* only TLS 1.3 suites named: no TLS 1.2 suite left */
        SSL_CTX_set_cipher_list(ssl, "");
    return 0;
}

static int load_keystore(struct tls_ctx *ctx, const struct broker_config *c, char *err,
                         size_t errlen)
{
    const char *path = c->ssl_keystore_location;
    if (c->ssl_keystore_type != STORE_PEM) {
        seterr(err, errlen, "ssl.keystore.type: only PEM is supported");
        return -EINVAL;
    }
    if (!*path) {
        seterr(err, errlen, "a TLS listener needs ssl.keystore.location");
        return -EINVAL;
    }
    snprintf(ctx->key_password, sizeof ctx->key_password, "%s", c->ssl_key_password);
    SSL_CTX_set_default_passwd_cb(ctx->ssl, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx->ssl, ctx);
    if (!SSL_CTX_use_certificate_chain_file(ctx->ssl, path)) {
        seterr(err, errlen, "ssl.keystore.location %s: no certificate chain", path);
        return -EINVAL;
    }
    if (!SSL_CTX_use_PrivateKey_file(ctx->ssl, path, SSL_FILETYPE_PEM) ||
        !SSL_CTX_check_private_key(ctx->ssl)) {
        seterr(err, errlen, "ssl.keystore.location %s: no private key matching the "
               "certificate (or a wrong ssl.key.password)", path);
        return -EINVAL;
    }
    return 0;
}

static int load_truststore(struct tls_ctx *ctx, const struct broker_config *c, char *err,
                           size_t errlen)
{
    const char *path = c->ssl_truststore_location;
    int mode = c->ssl_client_auth == CLIENT_AUTH_REQUIRED
                   ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
               : c->ssl_client_auth == CLIENT_AUTH_REQUESTED ? SSL_VERIFY_PEER
                                                             : SSL_VERIFY_NONE;
    SSL_CTX_set_verify(ctx->ssl, mode, NULL);
    if (!*path) {
        if (mode == SSL_VERIFY_NONE)
            return 0;
        seterr(err, errlen, "ssl.client.auth needs ssl.truststore.location");
        return -EINVAL;
    }
    if (c->ssl_truststore_type != STORE_PEM) {
        seterr(err, errlen, "ssl.truststore.type: only PEM is supported");
        return -EINVAL;
    }
    if (!SSL_CTX_load_verify_locations(ctx->ssl, path, NULL)) {
        seterr(err, errlen, "ssl.truststore.location %s: no CA certificate", path);
        return -EINVAL;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
    if (names)
        SSL_CTX_set_client_CA_list(ctx->ssl, names);
    return 0;
}

int tls_ctx_create(struct tls_ctx **out, const struct broker_config *c, char *err,
                   size_t errlen)
{
    struct tls_ctx *ctx = calloc(1, sizeof *ctx);
    int lo, hi, rc = -EINVAL;
    if (!ctx)
        return -ENOMEM;
    ctx->ssl = SSL_CTX_new(TLS_server_method());
    if (!ctx->ssl) {
        seterr(err, errlen, "cannot create a TLS context");
        goto fail;
    }
    proto_range(c->ssl_enabled_protocols, &lo, &hi);
    SSL_CTX_set_min_proto_version(ctx->ssl, lo);
    SSL_CTX_set_max_proto_version(ctx->ssl, hi);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_id_context(ctx->ssl, (const unsigned char *)"sluice", 6);
    if ((rc = load_keystore(ctx, c, err, errlen)) < 0 ||
        (rc = load_truststore(ctx, c, err, errlen)) < 0 ||
        (rc = set_ciphers(ctx->ssl, c->ssl_cipher_suites, err, errlen)) < 0)
        goto fail;
    *out = ctx;
    return 0;
fail:
    tls_ctx_destroy(ctx);
    return rc;
}

void tls_ctx_destroy(struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    OPENSSL_cleanse(ctx->key_password, sizeof ctx->key_password);
    free(ctx);
}

struct tls_conn *tls_conn_create(struct tls_ctx *ctx)
{
    struct tls_conn *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx->ssl);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        BIO_free(t->in);
        BIO_free(t->out);
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->in, -1); /* empty: "retry", not end of file */
    SSL_set_bio(t->ssl, t->in, t->out);
    SSL_set_accept_state(t->ssl);
    return t;
}

void tls_conn_destroy(struct tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

int tls_conn_feed(struct tls_conn *t, const void *p, size_t n)
{
    return n == 0 || BIO_write(t->in, p, (int)n) == (int)n ? 0 : -ENOMEM;
}

static void conn_error(struct tls_conn *t, const char *what)
{
    unsigned long e = ERR_get_error();
    if (e) {
        char buf[120];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(t->error, sizeof t->error, "TLS %s: %s", what, buf);
    } else {
        snprintf(t->error, sizeof t->error, "TLS %s failed", what);
    }
    ERR_clear_error();
}

int tls_conn_read(struct tls_conn *t, void *out, size_t cap)
{
    if (cap == 0)
        return 0;
    int n = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    switch (SSL_get_error(t->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return -ECONNRESET;
    default:
        conn_error(t, SSL_is_init_finished(t->ssl) ? "record" : "handshake");
        return -EPROTO;
    }
}

bool tls_conn_has_input(const struct tls_conn *t)
{
    return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->in) > 0;
}

int tls_conn_write(struct tls_conn *t, const void *p, size_t n)
{
    while (n > 0) {
        int k = SSL_write(t->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
        if (k <= 0) {
            conn_error(t, "write");
            return -EPROTO;
        }
        p = (const char *)p + k;
        n -= (size_t)k;
    }
    return 0;
}

size_t tls_conn_pending(const struct tls_conn *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t tls_conn_take(struct tls_conn *t, void *out, size_t cap)
{
    size_t have = BIO_ctrl_pending(t->out);
    if (have == 0 || cap == 0)
        return 0;
    int n = BIO_read(t->out, out, (int)(have < cap ? have : cap));
    return n > 0 ? (size_t)n : 0;
}

bool tls_conn_established(const struct tls_conn *t)
{
    return SSL_is_init_finished(t->ssl);
}

const char *tls_conn_error(const struct tls_conn *t)
{
    return t->error[0] ? t->error : "TLS failed";
}

void tls_conn_peer_name(const struct tls_conn *t, char *out, size_t len)
{
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    snprintf(out, len, "ANONYMOUS");
    if (!cert)
        return;
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, out, (int)len - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
    X509_free(cert);
}
