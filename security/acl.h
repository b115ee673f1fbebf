/* acl.h - Kafka's ACLs: bindings (a resource pattern and an access
 * control entry), the filters of DescribeAcls/DeleteAcls, and the
 * immutable, indexed snapshot a shard authorises requests with.
 *
 * Semantics follow Kafka's authorizers (StandardAuthorizer, AclAuthorizer):
 *   1. A super user (super.users) may do anything.
 *   2. The ACLs that apply to a resource are the LITERAL ones of its name,
 *      the LITERAL ones of "*", and the PREFIXED ones whose name begins it.
 *   3. A matching DENY (principal or User:*, host or *, the operation or
 *      ALL) refuses, whatever ALLOWs there are.
 *   4. A matching ALLOW of the operation, of ALL, or of an operation that
 *      implies it (READ, WRITE, DELETE, ALTER imply DESCRIBE; ALTER_CONFIGS
 *      implies DESCRIBE_CONFIGS) grants.
 *   5. A resource no ACL applies to (for any principal) is granted only
 *      with allow.everyone.if.no.acl.found.
 *
 * Owned by nobody: a leaf of pure functions and immutable data. The
 * control thread builds snapshots (acl_snapshot_build) and frees them;
 * shards only read them. Never: allocates or locks on the authorise path. */
#ifndef SLUICE_SECURITY_ACL_H
#define SLUICE_SECURITY_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's numbers (org.apache.kafka.common.resource / .acl). */
enum acl_resource_type {
    ACL_RES_UNKNOWN = 0, ACL_RES_ANY = 1, ACL_RES_TOPIC = 2, ACL_RES_GROUP = 3,
    ACL_RES_CLUSTER = 4, ACL_RES_TRANSACTIONAL_ID = 5, ACL_RES_DELEGATION_TOKEN = 6,
    ACL_RES_USER = 7,
};

enum acl_pattern_type {
    ACL_PAT_UNKNOWN = 0, ACL_PAT_ANY = 1, ACL_PAT_MATCH = 2, ACL_PAT_LITERAL = 3,
    ACL_PAT_PREFIXED = 4,
};

enum acl_operation {
    ACL_OP_UNKNOWN = 0, ACL_OP_ANY = 1, ACL_OP_ALL = 2, ACL_OP_READ = 3, ACL_OP_WRITE = 4,
    ACL_OP_CREATE = 5, ACL_OP_DELETE = 6, ACL_OP_ALTER = 7, ACL_OP_DESCRIBE = 8,
    ACL_OP_CLUSTER_ACTION = 9, ACL_OP_DESCRIBE_CONFIGS = 10, ACL_OP_ALTER_CONFIGS = 11,
    ACL_OP_IDEMPOTENT_WRITE = 12, ACL_OP_CREATE_TOKENS = 13, ACL_OP_DESCRIBE_TOKENS = 14,
};

enum acl_permission {
    ACL_PERM_UNKNOWN = 0, ACL_PERM_ANY = 1, ACL_PERM_DENY = 2, ACL_PERM_ALLOW = 3,
};

#define ACL_CLUSTER_NAME "kafka-cluster"   /* the one CLUSTER resource */
#define ACL_WILDCARD "*"
#define ACL_NAME_MAX 900                    /* resource names we store (a line of
                                               the metadata text holds one ACL) */
#define ACL_PRINCIPAL_MAX 512
#define ACL_HOST_MAX 64

struct acl_binding {
    int8_t resource_type;      /* enum acl_resource_type, never ANY/UNKNOWN */
    int8_t pattern_type;       /* LITERAL or PREFIXED */
    int8_t operation;
    int8_t permission;         /* ALLOW or DENY */
    const char *name;
    const char *principal;     /* "User:alice", "User:*" */
    const char *host;          /* "*" or an IP address */
};

/* DescribeAcls/DeleteAcls: NULL strings and the ANY values match all;
 * pattern MATCH matches every pattern that applies to the name. */
struct acl_filter {
    int8_t resource_type, pattern_type, operation, permission;
    const char *name, *principal, *host;
};

struct acl_snapshot {
    bool enabled;              /* authorizer.class.name set */
    bool allow_if_none;        /* allow.everyone.if.no.acl.found */
    int nsuper;
    const char **super_users;  /* sorted */
    int n;
    const struct acl_binding *v; /* sorted by acl_binding_cmp */
};

/* Kafka's names ("TOPIC", "PREFIXED", "DESCRIBE_CONFIGS", "ALLOW") and
 * back; the name of an unknown value is "UNKNOWN", an unknown name -1. */
const char *acl_resource_type_name(int v);
const char *acl_pattern_type_name(int v);
const char *acl_operation_name(int v);
const char *acl_permission_name(int v);
int acl_resource_type_parse(const char *s);
int acl_pattern_type_parse(const char *s);
int acl_operation_parse(const char *s);
int acl_permission_parse(const char *s);

/* Total order: resource type, pattern type, name, principal, host,
 * operation, permission. */
int acl_binding_cmp(const struct acl_binding *a, const struct acl_binding *b);

/* A binding CreateAcls may store: 0, or Kafka's INVALID_REQUEST (42) with
 * why filled (resource type, pattern, operation, permission, names). */
int acl_binding_check(const struct acl_binding *b, char *why, size_t len);
/* A filter DescribeAcls/DeleteAcls accept: 0, or INVALID_REQUEST. */
int acl_filter_check(const struct acl_filter *f, char *why, size_t len);
bool acl_filter_matches(const struct acl_filter *f, const struct acl_binding *b);

/* One malloc'ed block holding copies of v[0..n) sorted, and of the super
 * users parsed from super_users ("User:a;User:b"). NULL on -ENOMEM.
 * Freed with free(). Duplicates are kept once. */
struct acl_snapshot *acl_snapshot_build(bool enabled, bool allow_if_none,
                                        const char *super_users,
                                        const struct acl_binding *v, int n);

/* May principal, connected from host, do operation on the resource
 * (type, name[0..len))? A NULL or disabled snapshot allows everything. */
bool acl_authorize(const struct acl_snapshot *a, const char *principal, const char *host,
                   int operation, int resource_type, const char *name, size_t len);

/* A field of the store's text: '%', space, control bytes and DEL as %XX,
 * into out (cap >= 3 * strlen(s) + 1). Returns the length. */
size_t acl_text_escape(const char *s, char *out, size_t cap);
/* Undoes it in place; -1 for a bad escape. */
int acl_text_unescape(char *s);

#endif
