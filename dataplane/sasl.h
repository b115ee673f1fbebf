/* sasl.h - SASL on a connection of a SASL_PLAINTEXT or SASL_SSL listener
 * (Kafka's SaslServerAuthenticator): SaslHandshake, then the mechanism's
 * tokens in SaslAuthenticate requests (after a v1 handshake) or as raw
 * length-prefixed frames (after a v0 handshake, as kafka-python sends
 * them). PLAIN and SCRAM-SHA-256/512; every password is checked against
 * the user's SCRAM credential (control/users.c), the one store.
 *
 * Until the exchange succeeds a connection may send only ApiVersions,
 * SaslHandshake and SaslAuthenticate; anything else closes it, as in
 * Kafka. A failed exchange answers SASL_AUTHENTICATION_FAILED and the
 * connection takes no further request. */
#ifndef SLUICE_DATAPLANE_SASL_H
#define SLUICE_DATAPLANE_SASL_H

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct request;

int conn_sasl_init(struct conn *c);
void conn_sasl_destroy(struct conn *c);

/* True when c's next frame is a raw SASL token (after a v0 handshake):
 * request_dispatch hands it to sasl_raw_token instead of decoding it. */
bool sasl_wants_raw(const struct conn *c);
int sasl_raw_token(struct request *rq, const uint8_t *frame, uint32_t len);
/* False when api_key may not be sent yet on c (not authenticated). */
bool sasl_allows(const struct conn *c, int16_t api_key);

/* "User:<name>": the SASL user, else the TLS client certificate's subject,
 * else User:ANONYMOUS. */
const char *conn_principal(const struct conn *c);

#endif
