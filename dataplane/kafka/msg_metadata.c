/*
 * msg_metadata.c - schema tables for ApiVersions, Metadata, DescribeCluster
 * and SaslHandshake. Tables list fields in wire order (tagged fields in tag
 * order), as in apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_metadata.h"

/* ---- ApiVersions ---- */

#define S struct kafka_api_versions_req
static const struct kfield av_req_f[] = {
	KF(S, client_software_name, STRING, KFROM(3)),
	KF(S, client_software_version, STRING, KFROM(3)),
};
KSCHEMA(kafka_api_versions_req_s, S, av_req_f);
#undef S

#define S struct kafka_api_version
static const struct kfield av_key_f[] = {
	KF(S, api_key, INT16, KALL),
	KF(S, min_version, INT16, KALL),
	KF(S, max_version, INT16, KALL),
};
static KSCHEMA(av_key_s, S, av_key_f);
#undef S

#define S struct kafka_supported_feature
static const struct kfield av_sfeat_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, min_version, INT16, KALL),
	KF(S, max_version, INT16, KALL),
};
static KSCHEMA(av_sfeat_s, S, av_sfeat_f);
#undef S

#define S struct kafka_finalized_feature
static const struct kfield av_ffeat_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, max_version_level, INT16, KALL),
	KF(S, min_version_level, INT16, KALL),
};
static KSCHEMA(av_ffeat_s, S, av_ffeat_f);
#undef S

#define S struct kafka_api_versions_resp
static const struct kfield av_resp_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, api_keys, ARRAY, KALL, KSUB(av_key_s)),
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, supported_features, ARRAY, KFROM(3), KTAG(0), KSUB(av_sfeat_s)),
	KF(S, finalized_features_epoch, INT64, KFROM(3), KTAG(1), KDEF(-1)),
	KF(S, finalized_features, ARRAY, KFROM(3), KTAG(2), KSUB(av_ffeat_s)),
	KF(S, zk_migration_ready, BOOL, KFROM(3), KTAG(3)),
};
KSCHEMA(kafka_api_versions_resp_s, S, av_resp_f);
#undef S

/* ---- Metadata request ---- */

#define S struct kafka_metadata_req_topic
static const struct kfield md_req_topic_f[] = {
	KF(S, topic_id, UUID, KFROM(10)),
	KF(S, name, STRING, KALL, KNULL(10)),
};
static KSCHEMA(md_req_topic_s, S, md_req_topic_f);
#undef S

#define S struct kafka_metadata_req
static const struct kfield md_req_f[] = {
	KF(S, topics, ARRAY, KALL, KNULL(1), KSUB(md_req_topic_s)),
	KF(S, allow_auto_topic_creation, BOOL, KFROM(4), KDEF(1)),
	KF(S, include_cluster_authorized_operations, BOOL, KV(8, 10)),
	KF(S, include_topic_authorized_operations, BOOL, KFROM(8)),
};
KSCHEMA(kafka_metadata_req_s, S, md_req_f);
#undef S

/* ---- Metadata response ---- */

#define S struct kafka_metadata_broker
static const struct kfield md_broker_f[] = {
	KF(S, node_id, INT32, KALL),
	KF(S, host, STRING, KALL),
	KF(S, port, INT32, KALL),
	KF(S, rack, STRING, KFROM(1), KNULL(1), KDNULL),
};
static KSCHEMA(md_broker_s, S, md_broker_f);
#undef S

#define S struct kafka_metadata_partition
static const struct kfield md_part_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, partition_index, INT32, KALL),
	KF(S, leader_id, INT32, KALL),
	KF(S, leader_epoch, INT32, KFROM(7), KDEF(-1)),
	KF(S, replica_nodes, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, isr_nodes, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, offline_replicas, ARRAY, KFROM(5), KSUB(kafka_int32_elem)),
};
static KSCHEMA(md_part_s, S, md_part_f);
#undef S

#define S struct kafka_metadata_topic
static const struct kfield md_topic_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, name, STRING, KALL, KNULL(12)),
	KF(S, topic_id, UUID, KFROM(10)),
	KF(S, is_internal, BOOL, KFROM(1)),
	KF(S, partitions, ARRAY, KALL, KSUB(md_part_s)),
	KF(S, topic_authorized_operations, INT32, KFROM(8), KDEF(INT32_MIN)),
};
static KSCHEMA(md_topic_s, S, md_topic_f);
#undef S

#define S struct kafka_metadata_resp
static const struct kfield md_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(3)),
	KF(S, brokers, ARRAY, KALL, KSUB(md_broker_s)),
	KF(S, cluster_id, STRING, KFROM(2), KNULL(2), KDNULL),
	KF(S, controller_id, INT32, KFROM(1), KDEF(-1)),
	KF(S, topics, ARRAY, KALL, KSUB(md_topic_s)),
	KF(S, cluster_authorized_operations, INT32, KV(8, 10), KDEF(INT32_MIN)),
};
KSCHEMA(kafka_metadata_resp_s, S, md_resp_f);
#undef S

/* ---- DescribeCluster ---- */

#define S struct kafka_describe_cluster_req
static const struct kfield dc_req_f[] = {
	KF(S, include_cluster_authorized_operations, BOOL, KALL),
	KF(S, endpoint_type, INT8, KFROM(1), KDEF(1)),
};
KSCHEMA(kafka_describe_cluster_req_s, S, dc_req_f);
#undef S

#define S struct kafka_describe_cluster_broker
static const struct kfield dc_broker_f[] = {
	KF(S, broker_id, INT32, KALL),
	KF(S, host, STRING, KALL),
	KF(S, port, INT32, KALL),
	KF(S, rack, STRING, KALL, KNULL(0), KDNULL),
};
static KSCHEMA(dc_broker_s, S, dc_broker_f);
#undef S

#define S struct kafka_describe_cluster_resp
static const struct kfield dc_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, endpoint_type, INT8, KFROM(1), KDEF(1)),
	KF(S, cluster_id, STRING, KALL),
	KF(S, controller_id, INT32, KALL, KDEF(-1)),
	KF(S, brokers, ARRAY, KALL, KSUB(dc_broker_s)),
	KF(S, cluster_authorized_operations, INT32, KALL, KDEF(INT32_MIN)),
};
KSCHEMA(kafka_describe_cluster_resp_s, S, dc_resp_f);
#undef S

/* ---- SaslHandshake ---- */

#define S struct kafka_sasl_handshake_req
static const struct kfield sh_req_f[] = {
	KF(S, mechanism, STRING, KALL),
};
KSCHEMA(kafka_sasl_handshake_req_s, S, sh_req_f);
#undef S

#define S struct kafka_sasl_handshake_resp
static const struct kfield sh_resp_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, mechanisms, ARRAY, KALL, KSUB(kafka_string_elem)),
};
KSCHEMA(kafka_sasl_handshake_resp_s, S, sh_resp_f);
#undef S

/* ---- DescribeTopicPartitions ---- */

#define S struct kafka_dtp_cursor
static const struct kfield dtp_cursor_f[] = {
	KF(S, topic_name, STRING, KALL),
	KF(S, partition_index, INT32, KALL),
};
static KSCHEMA(dtp_cursor_s, S, dtp_cursor_f);
#undef S

#define S struct kafka_dtp_req_topic
static const struct kfield dtp_req_topic_f[] = {
	KF(S, name, STRING, KALL),
};
static KSCHEMA(dtp_req_topic_s, S, dtp_req_topic_f);
#undef S

#define S struct kafka_dtp_req
static const struct kfield dtp_req_f[] = {
	KF(S, topics, ARRAY, KALL, KSUB(dtp_req_topic_s)),
	KF(S, response_partition_limit, INT32, KALL, KDEF(2000)),
	KF(S, cursor, NSTRUCT, KALL, KNULL(0), KSUB(dtp_cursor_s)),
};
KSCHEMA(kafka_dtp_req_s, S, dtp_req_f);
#undef S

#define S struct kafka_dtp_partition
static const struct kfield dtp_part_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, partition_index, INT32, KALL),
	KF(S, leader_id, INT32, KALL),
	KF(S, leader_epoch, INT32, KALL, KDEF(-1)),
	KF(S, replica_nodes, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, isr_nodes, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, eligible_leader_replicas, ARRAY, KALL, KNULL(0), KSUB(kafka_int32_elem)),
	KF(S, last_known_elr, ARRAY, KALL, KNULL(0), KSUB(kafka_int32_elem)),
	KF(S, offline_replicas, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(dtp_part_s, S, dtp_part_f);
#undef S

#define S struct kafka_dtp_topic
static const struct kfield dtp_topic_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, name, STRING, KALL, KNULL(0)),
	KF(S, topic_id, UUID, KALL),
	KF(S, is_internal, BOOL, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(dtp_part_s)),
	KF(S, topic_authorized_operations, INT32, KALL, KDEF(INT32_MIN)),
};
static KSCHEMA(dtp_topic_s, S, dtp_topic_f);
#undef S

#define S struct kafka_dtp_resp
static const struct kfield dtp_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(dtp_topic_s)),
	KF(S, next_cursor, NSTRUCT, KALL, KNULL(0), KSUB(dtp_cursor_s)),
};
KSCHEMA(kafka_dtp_resp_s, S, dtp_resp_f);
#undef S
