/* tls.h - TLS with OpenSSL over memory buffers: the server context of the
 * SSL and SASL_SSL listeners and one engine per connection.
 *
 * The engine never touches a socket: ciphertext received by the shard's
 * io_uring is fed in (tls_conn_feed), plaintext comes out (tls_conn_read);
 * plaintext to send goes in (tls_conn_write) and ciphertext comes out
 * (tls_conn_take) for the shard to send. So the shard loop never blocks
 * on a handshake or a record (conn_tls.c drives it). The handshake runs
 * inside tls_conn_read; its records come out of tls_conn_take like any.
 *
 * kTLS (the kernel's TLS, which would keep fetches zero-copy) is not used:
 * this machine's kernel offers no "tls" TCP ULP (setsockopt TCP_ULP gives
 * ENOENT), see README "Security". */
#ifndef SLUICE_DATAPLANE_TLS_H
#define SLUICE_DATAPLANE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "control/config.h"

struct tls_ctx;
struct tls_conn;

/* The server context from ssl.keystore.* (PEM: key and certificate chain),
 * ssl.truststore.* (PEM CAs), ssl.client.auth, ssl.enabled.protocols and
 * ssl.cipher.suites. Returns 0 or a negative errno with err saying why. */
int tls_ctx_create(struct tls_ctx **out, const struct broker_config *c, char *err,
                   size_t errlen);
void tls_ctx_destroy(struct tls_ctx *ctx);

struct tls_conn *tls_conn_create(struct tls_ctx *ctx);
void tls_conn_destroy(struct tls_conn *t);

/* Ciphertext from the peer. Returns 0 or -ENOMEM. */
int tls_conn_feed(struct tls_conn *t, const void *p, size_t n);
/* Plaintext into out: bytes (> 0), 0 when more ciphertext is needed, or
 * -EPROTO (a failed handshake or a bad record: tls_conn_error says why)
 * or -ECONNRESET (the peer closed the session). */
int tls_conn_read(struct tls_conn *t, void *out, size_t cap);
/* True when fed ciphertext may still hold plaintext for tls_conn_read. */
bool tls_conn_has_input(const struct tls_conn *t);
/* Encrypts n bytes (after the handshake). Returns 0 or -EPROTO. */
int tls_conn_write(struct tls_conn *t, const void *p, size_t n);
/* Ciphertext waiting to be sent: copies up to cap into out and returns
 * how many bytes. */
size_t tls_conn_take(struct tls_conn *t, void *out, size_t cap);
size_t tls_conn_pending(const struct tls_conn *t);
bool tls_conn_established(const struct tls_conn *t);
const char *tls_conn_error(const struct tls_conn *t);
/* The client certificate's subject as Kafka's principal name ("CN=alice,
 * OU=..."; RFC 2253 order), or "ANONYMOUS" without one. */
void tls_conn_peer_name(const struct tls_conn *t, char *out, size_t len);

#endif
