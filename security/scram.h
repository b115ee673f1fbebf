/* scram.h - the arithmetic of SCRAM (RFC 5802, RFC 7677) for
 * SCRAM-SHA-256 and SCRAM-SHA-512, as Kafka uses it: keys from a salted
 * password, a client proof checked against a stored key, the server's
 * signature, base64 and the attribute syntax of SCRAM messages.
 *
 * Shared by the control thread (credentials: control/users.c) and the
 * shards (the SASL exchange: dataplane/sasl.c). Never: allocates, keeps
 * state, or touches a socket or a file. OpenSSL does the hashing; nothing
 * of a hash or HMAC is written here. */
#ifndef SLUICE_SECURITY_SCRAM_H
#define SLUICE_SECURITY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_MAX 64          /* SHA-512's output */
#define SCRAM_SALT_MAX 64
#define SCRAM_USER_MAX 256
#define SCRAM_MIN_ITERATIONS 4096 /* Kafka's bounds for a credential */
#define SCRAM_MAX_ITERATIONS 16384

/* Kafka's ScramMechanism numbers (AlterUserScramCredentials). */
enum scram_mech {
    SCRAM_UNKNOWN = 0,
    SCRAM_SHA_256 = 1,
    SCRAM_SHA_512 = 2,
};

/* One user's credential for one mechanism (what Kafka stores). */
struct scram_cred {
    char user[SCRAM_USER_MAX];
    int mech;                          /* enum scram_mech */
    int32_t iterations;
    uint8_t salt[SCRAM_SALT_MAX];
    int salt_len;
    uint8_t stored_key[SCRAM_KEY_MAX]; /* H(ClientKey) */
    uint8_t server_key[SCRAM_KEY_MAX]; /* HMAC(SaltedPassword, "Server Key") */
};

const char *scram_mech_name(int mech);       /* "SCRAM-SHA-256"; "?" */
int scram_mech_parse(const char *name);      /* enum scram_mech; SCRAM_UNKNOWN */
size_t scram_key_len(int mech);              /* 32 or 64; 0 if unknown */

/* PBKDF2 of password (Hi() of RFC 5802). Returns 0 or -EINVAL. */
int scram_salted_password(int mech, const char *password, size_t len, const uint8_t *salt,
                          int salt_len, int32_t iterations, uint8_t out[SCRAM_KEY_MAX]);
/* Fills cred's stored and server keys from a salted password. */
int scram_cred_from_salted(struct scram_cred *cred, const uint8_t *salted, size_t len);
/* True when password is the one cred was made from (SASL PLAIN checked
 * against the SCRAM credential; the comparison takes constant time). */
bool scram_password_matches(const struct scram_cred *cred, const char *password, size_t len);

/* The client's proof over auth_message checked against cred (RFC 5802
 * section 3: H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey). */
bool scram_proof_valid(const struct scram_cred *cred, const char *auth_message, size_t len,
                       const uint8_t *proof, size_t proof_len);
/* ServerSignature = HMAC(ServerKey, AuthMessage) into out; returns its length. */
size_t scram_server_signature(const struct scram_cred *cred, const char *auth_message,
                              size_t len, uint8_t out[SCRAM_KEY_MAX]);

/* Base64 (RFC 4648, padded). encode returns the text length (out needs
 * 4 * ceil(n / 3) + 1 bytes); decode returns the byte count or -EINVAL. */
size_t scram_b64_encode(const uint8_t *p, size_t n, char *out);
int scram_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* The value of attribute a ("r", "p", ...) in a SCRAM message of
 * comma-separated a=value pairs: *val, *vlen; false when absent. */
bool scram_attr(const char *msg, size_t len, char a, const char **val, size_t *vlen);
/* saslname unescaping (=2C -> ',', =3D -> '='). Returns 0 or -EINVAL. */
int scram_unescape_user(const char *s, size_t n, char *out, size_t cap);

#endif
