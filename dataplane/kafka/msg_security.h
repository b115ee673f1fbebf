/*
 * msg_security.h - authentication and authorisation messages as C
 * structs: SaslAuthenticate (36), DescribeUserScramCredentials (50),
 * AlterUserScramCredentials (51), DescribeAcls (29), CreateAcls (30) and
 * DeleteAcls (31). Field names and versions follow apache/kafka's message JSON; tables
 * in msg_security.c. (SaslHandshake is in msg_metadata.h.)
 */
#ifndef SLUICE_KAFKA_MSG_SECURITY_H
#define SLUICE_KAFKA_MSG_SECURITY_H

#include "dataplane/kafka/schema.h"

/* ---- SaslAuthenticate, v0-2 (flexible 2+) ---- */
struct kafka_sasl_authenticate_req {
	struct kbytes auth_bytes;
};

struct kafka_sasl_authenticate_resp {
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	struct kbytes auth_bytes;
	int64_t session_lifetime_ms;    /* v1+ */
};

/* ---- DescribeUserScramCredentials, v0 (flexible) ---- */
struct kafka_user_name {
	struct kstr name;
};

struct kafka_describe_scram_req {
	KARRAY(struct kafka_user_name) users;   /* nullable: every user */
};

struct kafka_scram_credential_info {
	int8_t mechanism;               /* 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 */
	int32_t iterations;
};

struct kafka_describe_scram_result {
	struct kstr user;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_scram_credential_info) credential_infos;
};

struct kafka_describe_scram_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_describe_scram_result) results;
};

/* ---- AlterUserScramCredentials, v0 (flexible) ---- */
struct kafka_scram_deletion {
	struct kstr name;
	int8_t mechanism;
};

struct kafka_scram_upsertion {
	struct kstr name;
	int8_t mechanism;
	int32_t iterations;
	struct kbytes salt;
	struct kbytes salted_password;
};

struct kafka_alter_scram_req {
	KARRAY(struct kafka_scram_deletion) deletions;
	KARRAY(struct kafka_scram_upsertion) upsertions;
};

struct kafka_alter_scram_result {
	struct kstr user;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
};

struct kafka_alter_scram_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_alter_scram_result) results;
};

/* ---- ACLs: DescribeAcls, CreateAcls, DeleteAcls, v0-2 (flexible 2+) ---- */
struct kafka_acl_filter {               /* DescribeAcls' request, DeleteAcls' filters */
	int8_t resource_type;
	struct kstr resource_name;      /* nullable: any */
	int8_t pattern_type;            /* v1+, default 3 (LITERAL) */
	struct kstr principal;          /* nullable: any */
	struct kstr host;               /* nullable: any */
	int8_t operation;
	int8_t permission_type;
};

struct kafka_acl_description {
	struct kstr principal;
	struct kstr host;
	int8_t operation;
	int8_t permission_type;
};

struct kafka_acl_resource {
	int8_t resource_type;
	struct kstr resource_name;
	int8_t pattern_type;            /* v1+, default 3 */
	KARRAY(struct kafka_acl_description) acls;
};

struct kafka_describe_acls_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_acl_resource) resources;
};

/* A creation has a filter's fields and layout (its strings are never
 * null on the wire; a null one is refused by the handler). */
struct kafka_create_acls_req {
	KARRAY(struct kafka_acl_filter) creations;
};

struct kafka_acl_result {
	int16_t error_code;
	struct kstr error_message;      /* nullable */
};

struct kafka_create_acls_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_acl_result) results;
};

struct kafka_delete_acls_req {
	KARRAY(struct kafka_acl_filter) filters;
};

struct kafka_acl_match {
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	int8_t resource_type;
	struct kstr resource_name;
	int8_t pattern_type;            /* v1+, default 3 */
	struct kstr principal;
	struct kstr host;
	int8_t operation;
	int8_t permission_type;
};

struct kafka_acl_filter_result {
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_acl_match) matching_acls;
};

struct kafka_delete_acls_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_acl_filter_result) filter_results;
};

extern const struct kschema kafka_describe_acls_req_s, kafka_describe_acls_resp_s;
extern const struct kschema kafka_create_acls_req_s, kafka_create_acls_resp_s;
extern const struct kschema kafka_delete_acls_req_s, kafka_delete_acls_resp_s;
extern const struct kschema kafka_sasl_authenticate_req_s, kafka_sasl_authenticate_resp_s;
extern const struct kschema kafka_describe_scram_req_s, kafka_describe_scram_resp_s;
extern const struct kschema kafka_alter_scram_req_s, kafka_alter_scram_resp_s;

#endif
