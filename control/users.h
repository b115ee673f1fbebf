/* users.h - the SCRAM credentials of the broker's users (Kafka's
 * UserScramCredentials), owned by the control thread: looked up for the
 * shards' SASL exchanges (CTL_SASL_LOOKUP), described and altered through
 * DescribeUserScramCredentials / AlterUserScramCredentials
 * (CTL_USERS_DESCRIBE, CTL_USERS_ALTER).
 *
 * Kept in DATA/__sluice/scram-credentials, rewritten whole (a new file,
 * fsynced, renamed over the old one, the directory fsynced, all through
 * storage_sys) before an alteration is answered. Only the salted keys are
 * stored (StoredKey, ServerKey), never a password. In a cluster each node
 * keeps its own file: credentials are not yet replicated through the
 * metadata log (README "Security"). */
#ifndef SLUICE_CONTROL_USERS_H
#define SLUICE_CONTROL_USERS_H

#include <stddef.h>

#include "security/scram.h"

struct ctl_msg;

struct users {
    char path[4096];
    int n, cap;
    struct scram_cred *v;      /* sorted by (user, mech) */
};

/* Loads dir/scram-credentials (absent: no users). Returns 0 or a negative
 * errno with err saying why (a damaged file is an error, never ignored). */
int users_open(struct users *u, const char *dir, char *err, size_t errlen);
void users_close(struct users *u);

const struct scram_cred *users_find(const struct users *u, const char *user, int mech);

/* Answers m (CTL_SASL_LOOKUP, CTL_USERS_DESCRIBE, CTL_USERS_ALTER) in
 * place; the caller posts it back. */
void users_request(struct users *u, struct ctl_msg *m);

/* The file's text parsed into u (for tests and the fuzz target). */
int users_parse(struct users *u, const char *text, size_t len, char *err, size_t errlen);

#endif
