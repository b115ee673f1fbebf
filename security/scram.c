/* scram.c - SCRAM's keys, proofs and message syntax over OpenSSL
 * (scram.h). */
#include "security/scram.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const EVP_MD *mech_md(int mech)
{
    return mech == SCRAM_SHA_256 ? EVP_sha256() : mech == SCRAM_SHA_512 ? EVP_sha512() : NULL;
}

const char *scram_mech_name(int mech)
{
    return mech == SCRAM_SHA_256 ? "SCRAM-SHA-256" : mech == SCRAM_SHA_512 ? "SCRAM-SHA-512"
                                                                           : "?";
}

int scram_mech_parse(const char *name)
{
    if (strcmp(name, "SCRAM-SHA-256") == 0)
        return SCRAM_SHA_256;
    if (strcmp(name, "SCRAM-SHA-512") == 0)
        return SCRAM_SHA_512;
    return SCRAM_UNKNOWN;
}

size_t scram_key_len(int mech)
{
    return mech == SCRAM_SHA_256 ? 32 : mech == SCRAM_SHA_512 ? 64 : 0;
}

static size_t hmac(int mech, const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                   uint8_t out[SCRAM_KEY_MAX])
{
    unsigned int n = 0;
    if (!HMAC(mech_md(mech), key, (int)klen, msg, mlen, out, &n))
        return 0;
    return n;
}

int scram_salted_password(int mech, const char *password, size_t len, const uint8_t *salt,
                          int salt_len, int32_t iterations, uint8_t out[SCRAM_KEY_MAX])
{
    const EVP_MD *md = mech_md(mech);
    if (!md || iterations < 1 || salt_len < 0)
        return -EINVAL;
    return PKCS5_PBKDF2_HMAC(password, (int)len, salt, salt_len, iterations, md,
                             (int)scram_key_len(mech), out) == 1 ? 0 : -EINVAL;
}

/* StoredKey and ServerKey of a salted password. */
static int keys_from_salted(int mech, const uint8_t *salted, size_t len,
                            uint8_t stored[SCRAM_KEY_MAX], uint8_t server[SCRAM_KEY_MAX])
{
    uint8_t client_key[SCRAM_KEY_MAX];
    size_t kl = scram_key_len(mech);
    if (kl == 0 || len != kl ||
        hmac(mech, salted, len, "Client Key", 10, client_key) != kl ||
        hmac(mech, salted, len, "Server Key", 10, server) != kl ||
        !EVP_Digest(client_key, kl, stored, NULL, mech_md(mech), NULL))
        return -EINVAL;
    OPENSSL_cleanse(client_key, sizeof client_key);
    return 0;
}

int scram_cred_from_salted(struct scram_cred *cred, const uint8_t *salted, size_t len)
{
    return keys_from_salted(cred->mech, salted, len, cred->stored_key, cred->server_key);
}

bool scram_password_matches(const struct scram_cred *cred, const char *password, size_t len)
{
    uint8_t salted[SCRAM_KEY_MAX], stored[SCRAM_KEY_MAX], server[SCRAM_KEY_MAX];
    size_t kl = scram_key_len(cred->mech);
    bool ok = scram_salted_password(cred->mech, password, len, cred->salt, cred->salt_len,
                                    cred->iterations, salted) == 0 &&
              keys_from_salted(cred->mech, salted, kl, stored, server) == 0 &&
              CRYPTO_memcmp(stored, cred->stored_key, kl) == 0;
    OPENSSL_cleanse(salted, sizeof salted);
    return ok;
}

bool scram_proof_valid(const struct scram_cred *cred, const char *auth_message, size_t len,
                       const uint8_t *proof, size_t proof_len)
{
    uint8_t sig[SCRAM_KEY_MAX], client_key[SCRAM_KEY_MAX], stored[SCRAM_KEY_MAX];
    size_t kl = scram_key_len(cred->mech);
    if (kl == 0 || proof_len != kl ||
        hmac(cred->mech, cred->stored_key, kl, auth_message, len, sig) != kl)
        return false;
    for (size_t i = 0; i < kl; i++)
        client_key[i] = proof[i] ^ sig[i];
    if (!EVP_Digest(client_key, kl, stored, NULL, mech_md(cred->mech), NULL))
        return false;
    return CRYPTO_memcmp(stored, cred->stored_key, kl) == 0;
}

size_t scram_server_signature(const struct scram_cred *cred, const char *auth_message,
                              size_t len, uint8_t out[SCRAM_KEY_MAX])
{
    size_t kl = scram_key_len(cred->mech);
    return hmac(cred->mech, cred->server_key, kl, auth_message, len, out);
}

size_t scram_b64_encode(const uint8_t *p, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

int scram_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    /* EVP_DecodeBlock writes 3 bytes per 4 characters, padding included */
    uint8_t tmp[3 * 256];
    if (n % 4 != 0 || n / 4 * 3 > sizeof tmp)
        return -EINVAL;
    int k = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    if (k < 0)
        return -EINVAL;
    for (size_t i = n; i > 0 && s[i - 1] == '='; i--)
        k--;
    if ((size_t)k > cap)
        return -EINVAL;
    memcpy(out, tmp, (size_t)k);
    return k;
}

bool scram_attr(const char *msg, size_t len, char a, const char **val, size_t *vlen)
{
    const char *p = msg, *end = msg + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (stop - p >= 2 && p[0] == a && p[1] == '=') {
            *val = p + 2;
            *vlen = (size_t)(stop - p - 2);
            return true;
        }
        p = comma ? comma + 1 : end;
    }
    return false;
}

int scram_unescape_user(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            if (i + 2 >= n)
                return -EINVAL;
            if (s[i + 1] == '2' && s[i + 2] == 'C')
                ch = ',';
            else if (s[i + 1] == '3' && s[i + 2] == 'D')
                ch = '=';
            else
                return -EINVAL;
            i += 2;
        } else if (ch == ',' || ch == '\0') {
            return -EINVAL;
        }
        if (o + 1 >= cap)
            return -EINVAL;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 0;
}
