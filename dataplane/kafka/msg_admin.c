/*
 * msg_admin.c - schema tables for CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, AlterConfigs and
 * IncrementalAlterConfigs. Tables list fields in wire order (tagged fields
 * in tag order), as in apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_admin.h"

#define S struct kafka_config_kv
static const struct kfield config_kv_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, value, STRING, KALL, KNULL(0)),
};
static KSCHEMA(config_kv_s, S, config_kv_f);
#undef S

/* ---- CreateTopics ---- */

#define S struct kafka_create_topics_assignment
static const struct kfield ct_assign_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, broker_ids, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(ct_assign_s, S, ct_assign_f);
#undef S

#define S struct kafka_create_topics_topic
static const struct kfield ct_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, num_partitions, INT32, KALL),
	KF(S, replication_factor, INT16, KALL),
	KF(S, assignments, ARRAY, KALL, KSUB(ct_assign_s)),
	KF(S, configs, ARRAY, KALL, KSUB(config_kv_s)),
};
static KSCHEMA(ct_topic_s, S, ct_topic_f);
#undef S

#define S struct kafka_create_topics_req
static const struct kfield ct_req_f[] = {
	KF(S, topics, ARRAY, KALL, KSUB(ct_topic_s)),
	KF(S, timeout_ms, INT32, KALL, KDEF(60000)),
	KF(S, validate_only, BOOL, KFROM(1)),
};
KSCHEMA(kafka_create_topics_req_s, S, ct_req_f);
#undef S

#define S struct kafka_create_topics_config
static const struct kfield ct_config_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, value, STRING, KALL, KNULL(0)),
	KF(S, read_only, BOOL, KALL),
	KF(S, config_source, INT8, KALL, KDEF(-1)),
	KF(S, is_sensitive, BOOL, KALL),
};
static KSCHEMA(ct_config_s, S, ct_config_f);
#undef S

#define S struct kafka_create_topics_result
static const struct kfield ct_result_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, topic_id, UUID, KFROM(7)),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KFROM(1), KNULL(0)),
	KF(S, topic_config_error_code, INT16, KFROM(5), KTAG(0)),
	KF(S, num_partitions, INT32, KFROM(5), KDEF(-1)),
	KF(S, replication_factor, INT16, KFROM(5), KDEF(-1)),
	KF(S, configs, ARRAY, KFROM(5), KNULL(5), KSUB(ct_config_s)),
};
static KSCHEMA(ct_result_s, S, ct_result_f);
#undef S

#define S struct kafka_create_topics_resp
static const struct kfield ct_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(2)),
	KF(S, topics, ARRAY, KALL, KSUB(ct_result_s)),
};
KSCHEMA(kafka_create_topics_resp_s, S, ct_resp_f);
#undef S

/* ---- DeleteTopics ---- */

#define S struct kafka_delete_topics_state
static const struct kfield dt_state_f[] = {
	KF(S, name, STRING, KALL, KNULL(6), KDNULL),
	KF(S, topic_id, UUID, KALL),
};
static KSCHEMA(dt_state_s, S, dt_state_f);
#undef S

#define S struct kafka_delete_topics_req
static const struct kfield dt_req_f[] = {
	KF(S, topics, ARRAY, KFROM(6), KSUB(dt_state_s)),
	KF(S, topic_names, ARRAY, KV(0, 5), KSUB(kafka_string_elem)),
	KF(S, timeout_ms, INT32, KALL),
};
KSCHEMA(kafka_delete_topics_req_s, S, dt_req_f);
#undef S

#define S struct kafka_delete_topics_result
static const struct kfield dt_result_f[] = {
	KF(S, name, STRING, KALL, KNULL(6)),
	KF(S, topic_id, UUID, KFROM(6)),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KFROM(5), KNULL(5), KDNULL),
};
static KSCHEMA(dt_result_s, S, dt_result_f);
#undef S

#define S struct kafka_delete_topics_resp
static const struct kfield dt_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, responses, ARRAY, KALL, KSUB(dt_result_s)),
};
KSCHEMA(kafka_delete_topics_resp_s, S, dt_resp_f);
#undef S

/* ---- CreatePartitions ---- */

#define S struct kafka_create_partitions_assignment
static const struct kfield cp_assign_f[] = {
	KF(S, broker_ids, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(cp_assign_s, S, cp_assign_f);
#undef S

#define S struct kafka_create_partitions_topic
static const struct kfield cp_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, count, INT32, KALL),
	KF(S, assignments, ARRAY, KALL, KNULL(0), KSUB(cp_assign_s)),
};
static KSCHEMA(cp_topic_s, S, cp_topic_f);
#undef S

#define S struct kafka_create_partitions_req
static const struct kfield cp_req_f[] = {
	KF(S, topics, ARRAY, KALL, KSUB(cp_topic_s)),
	KF(S, timeout_ms, INT32, KALL),
	KF(S, validate_only, BOOL, KALL),
};
KSCHEMA(kafka_create_partitions_req_s, S, cp_req_f);
#undef S

#define S struct kafka_topic_error
static const struct kfield topic_error_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
};
static KSCHEMA(topic_error_s, S, topic_error_f);
#undef S

#define S struct kafka_create_partitions_resp
static const struct kfield cp_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, results, ARRAY, KALL, KSUB(topic_error_s)),
};
KSCHEMA(kafka_create_partitions_resp_s, S, cp_resp_f);
#undef S

/* ---- DescribeConfigs ---- */

#define S struct kafka_describe_configs_resource
static const struct kfield dcf_res_f[] = {
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
	KF(S, configuration_keys, ARRAY, KALL, KNULL(0), KSUB(kafka_string_elem)),
};
static KSCHEMA(dcf_res_s, S, dcf_res_f);
#undef S

#define S struct kafka_describe_configs_req
static const struct kfield dcf_req_f[] = {
	KF(S, resources, ARRAY, KALL, KSUB(dcf_res_s)),
	KF(S, include_synonyms, BOOL, KFROM(1)),
	KF(S, include_documentation, BOOL, KFROM(3)),
};
KSCHEMA(kafka_describe_configs_req_s, S, dcf_req_f);
#undef S

#define S struct kafka_describe_configs_synonym
static const struct kfield dcf_syn_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, value, STRING, KALL, KNULL(0)),
	KF(S, source, INT8, KALL),
};
static KSCHEMA(dcf_syn_s, S, dcf_syn_f);
#undef S

#define S struct kafka_describe_configs_entry
static const struct kfield dcf_entry_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, value, STRING, KALL, KNULL(0)),
	KF(S, read_only, BOOL, KALL),
	KF(S, is_default, BOOL, KV(0, 0)),
	KF(S, config_source, INT8, KFROM(1), KDEF(-1)),
	KF(S, is_sensitive, BOOL, KALL),
	KF(S, synonyms, ARRAY, KFROM(1), KSUB(dcf_syn_s)),
	KF(S, config_type, INT8, KFROM(3)),
	KF(S, documentation, STRING, KFROM(3), KNULL(0)),
};
static KSCHEMA(dcf_entry_s, S, dcf_entry_f);
#undef S

#define S struct kafka_describe_configs_result
static const struct kfield dcf_result_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0)),
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
	KF(S, configs, ARRAY, KALL, KSUB(dcf_entry_s)),
};
static KSCHEMA(dcf_result_s, S, dcf_result_f);
#undef S

#define S struct kafka_describe_configs_resp
static const struct kfield dcf_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, results, ARRAY, KALL, KSUB(dcf_result_s)),
};
KSCHEMA(kafka_describe_configs_resp_s, S, dcf_resp_f);
#undef S

/* ---- AlterConfigs ---- */

#define S struct kafka_alter_configs_resource
static const struct kfield ac_res_f[] = {
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
	KF(S, configs, ARRAY, KALL, KSUB(config_kv_s)),
};
static KSCHEMA(ac_res_s, S, ac_res_f);
#undef S

#define S struct kafka_alter_configs_req
static const struct kfield ac_req_f[] = {
	KF(S, resources, ARRAY, KALL, KSUB(ac_res_s)),
	KF(S, validate_only, BOOL, KALL),
};
KSCHEMA(kafka_alter_configs_req_s, S, ac_req_f);
#undef S

#define S struct kafka_alter_configs_result
static const struct kfield ac_result_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0)),
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
};
static KSCHEMA(ac_result_s, S, ac_result_f);
#undef S

#define S struct kafka_alter_configs_resp
static const struct kfield ac_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, responses, ARRAY, KALL, KSUB(ac_result_s)),
};
KSCHEMA(kafka_alter_configs_resp_s, S, ac_resp_f);
#undef S

/* ---- IncrementalAlterConfigs (response: kafka_alter_configs_resp_s) ---- */

#define S struct kafka_incr_alter_config
static const struct kfield iac_config_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, config_operation, INT8, KALL),
	KF(S, value, STRING, KALL, KNULL(0)),
};
static KSCHEMA(iac_config_s, S, iac_config_f);
#undef S

#define S struct kafka_incr_alter_configs_resource
static const struct kfield iac_res_f[] = {
	KF(S, resource_type, INT8, KALL),
	KF(S, resource_name, STRING, KALL),
	KF(S, configs, ARRAY, KALL, KSUB(iac_config_s)),
};
static KSCHEMA(iac_res_s, S, iac_res_f);
#undef S

#define S struct kafka_incr_alter_configs_req
static const struct kfield iac_req_f[] = {
	KF(S, resources, ARRAY, KALL, KSUB(iac_res_s)),
	KF(S, validate_only, BOOL, KALL),
};
KSCHEMA(kafka_incr_alter_configs_req_s, S, iac_req_f);
#undef S

/* ---- DeleteRecords ---- */

#define S struct kafka_delete_records_partition
static const struct kfield dr_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, offset, INT64, KALL),
};
static KSCHEMA(dr_part_s, S, dr_part_f);
#undef S

#define S struct kafka_delete_records_topic
static const struct kfield dr_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(dr_part_s)),
};
static KSCHEMA(dr_topic_s, S, dr_topic_f);
#undef S

#define S struct kafka_delete_records_req
static const struct kfield dr_req_f[] = {
	KF(S, topics, ARRAY, KALL, KSUB(dr_topic_s)),
	KF(S, timeout_ms, INT32, KALL),
};
KSCHEMA(kafka_delete_records_req_s, S, dr_req_f);
#undef S

#define S struct kafka_delete_records_partition_result
static const struct kfield dr_presult_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, low_watermark, INT64, KALL),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(dr_presult_s, S, dr_presult_f);
#undef S

#define S struct kafka_delete_records_topic_result
static const struct kfield dr_tresult_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(dr_presult_s)),
};
static KSCHEMA(dr_tresult_s, S, dr_tresult_f);
#undef S

#define S struct kafka_delete_records_resp
static const struct kfield dr_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(dr_tresult_s)),
};
KSCHEMA(kafka_delete_records_resp_s, S, dr_resp_f);
#undef S
