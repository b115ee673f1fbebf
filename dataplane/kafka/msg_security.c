/*
 * msg_security.c - schema tables of msg_security.h, from apache/kafka's
 * SaslAuthenticate*.json, {Describe,Alter}UserScramCredentials*.json and
 * {Describe,Create,Delete}Acls*.json.
 */
#include "dataplane/kafka/msg_security.h"

#include <stddef.h>

/* ---- SaslAuthenticate ---- */

#define S struct kafka_sasl_authenticate_req
static const struct kfield sa_req_f[] = {
	KF(S, auth_bytes, BYTES, KALL),
};
KSCHEMA(kafka_sasl_authenticate_req_s, S, sa_req_f);
#undef S

#define S struct kafka_sasl_authenticate_resp
static const struct kfield sa_resp_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, auth_bytes, BYTES, KALL),
	KF(S, session_lifetime_ms, INT64, KFROM(1)),
};
KSCHEMA(kafka_sasl_authenticate_resp_s, S, sa_resp_f);
#undef S

/* ---- DescribeUserScramCredentials ---- */

#define S struct kafka_user_name
static const struct kfield user_name_f[] = {
	KF(S, name, STRING, KALL),
};
static KSCHEMA(user_name_s, S, user_name_f);
#undef S

#define S struct kafka_describe_scram_req
static const struct kfield ds_req_f[] = {
	KF(S, users, ARRAY, KALL, KNULL(0), KSUB(user_name_s)),
};
KSCHEMA(kafka_describe_scram_req_s, S, ds_req_f);
#undef S

#define S struct kafka_scram_credential_info
static const struct kfield cred_info_f[] = {
	KF(S, mechanism, INT8, KALL),
	KF(S, iterations, INT32, KALL),
};
static KSCHEMA(cred_info_s, S, cred_info_f);
#undef S

#define S struct kafka_describe_scram_result
static const struct kfield ds_result_f[] = {
	KF(S, user, STRING, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, credential_infos, ARRAY, KALL, KSUB(cred_info_s)),
};
static KSCHEMA(ds_result_s, S, ds_result_f);
#undef S

#define S struct kafka_describe_scram_resp
static const struct kfield ds_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, results, ARRAY, KALL, KSUB(ds_result_s)),
};
KSCHEMA(kafka_describe_scram_resp_s, S, ds_resp_f);
#undef S

/* ---- AlterUserScramCredentials ---- */

#define S struct kafka_scram_deletion
static const struct kfield deletion_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, mechanism, INT8, KALL),
};
static KSCHEMA(deletion_s, S, deletion_f);
#undef S

#define S struct kafka_scram_upsertion
static const struct kfield upsertion_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, mechanism, INT8, KALL),
	KF(S, iterations, INT32, KALL),
	KF(S, salt, BYTES, KALL),
	KF(S, salted_password, BYTES, KALL),
};
static KSCHEMA(upsertion_s, S, upsertion_f);
#undef S

#define S struct kafka_alter_scram_req
static const struct kfield as_req_f[] = {
	KF(S, deletions, ARRAY, KALL, KSUB(deletion_s)),
	KF(S, upsertions, ARRAY, KALL, KSUB(upsertion_s)),
};
KSCHEMA(kafka_alter_scram_req_s, S, as_req_f);
#undef S

#define S struct kafka_alter_scram_result
static const struct kfield as_result_f[] = {
	KF(S, user, STRING, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
};
static KSCHEMA(as_result_s, S, as_result_f);
#undef S

#define S struct kafka_alter_scram_resp
static const struct kfield as_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, results, ARRAY, KALL, KSUB(as_result_s)),
};
KSCHEMA(kafka_alter_scram_resp_s, S, as_resp_f);
#undef S

/* ---- ACLs ---- */

#define S struct kafka_acl_filter
static const struct kfield acl_filter_f[] = {
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL, KNULL(0)),
	KF(S, pattern_type, INT8, KFROM(1), KDEF(3)),
	KF(S, principal, STRING, KALL, KNULL(0)),
	KF(S, host, STRING, KALL, KNULL(0)),
	KF(S, operation, INT8, KALL),
	KF(S, permission_type, INT8, KALL),
};
KSCHEMA(kafka_describe_acls_req_s, S, acl_filter_f);
static KSCHEMA(acl_filter_s, S, acl_filter_f);
#undef S

#define S struct kafka_acl_description
static const struct kfield acl_desc_f[] = {
	KF(S, principal, STRING, KALL),
	KF(S, host, STRING, KALL),
	KF(S, operation, INT8, KALL),
	KF(S, permission_type, INT8, KALL),
};
static KSCHEMA(acl_desc_s, S, acl_desc_f);
#undef S

#define S struct kafka_acl_resource
static const struct kfield acl_resource_f[] = {
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
	KF(S, pattern_type, INT8, KFROM(1), KDEF(3)),
	KF(S, acls, ARRAY, KALL, KSUB(acl_desc_s)),
};
static KSCHEMA(acl_resource_s, S, acl_resource_f);
#undef S

#define S struct kafka_describe_acls_resp
static const struct kfield da_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, resources, ARRAY, KALL, KSUB(acl_resource_s)),
};
KSCHEMA(kafka_describe_acls_resp_s, S, da_resp_f);
#undef S

#define S struct kafka_create_acls_req
static const struct kfield ca_req_f[] = {
	KF(S, creations, ARRAY, KALL, KSUB(acl_filter_s)),
};
KSCHEMA(kafka_create_acls_req_s, S, ca_req_f);
#undef S

#define S struct kafka_acl_result
static const struct kfield acl_result_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
};
static KSCHEMA(acl_result_s, S, acl_result_f);
#undef S

#define S struct kafka_create_acls_resp
static const struct kfield ca_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, results, ARRAY, KALL, KSUB(acl_result_s)),
};
KSCHEMA(kafka_create_acls_resp_s, S, ca_resp_f);
#undef S

#define S struct kafka_delete_acls_req
static const struct kfield dl_req_f[] = {
	KF(S, filters, ARRAY, KALL, KSUB(acl_filter_s)),
};
KSCHEMA(kafka_delete_acls_req_s, S, dl_req_f);
#undef S

#define S struct kafka_acl_match
static const struct kfield acl_match_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
	KF(S, pattern_type, INT8, KFROM(1), KDEF(3)),
	KF(S, principal, STRING, KALL),
	KF(S, host, STRING, KALL),
	KF(S, operation, INT8, KALL),
	KF(S, permission_type, INT8, KALL),
};
static KSCHEMA(acl_match_s, S, acl_match_f);
#undef S

#define S struct kafka_acl_filter_result
static const struct kfield acl_fr_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, matching_acls, ARRAY, KALL, KSUB(acl_match_s)),
};
static KSCHEMA(acl_fr_s, S, acl_fr_f);
#undef S

#define S struct kafka_delete_acls_resp
static const struct kfield dl_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, filter_results, ARRAY, KALL, KSUB(acl_fr_s)),
};
KSCHEMA(kafka_delete_acls_resp_s, S, dl_resp_f);
#undef S
