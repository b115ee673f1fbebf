/*
 * msg_cluster.c - schema tables for BrokerRegistration, OffsetForLeaderEpoch
 * and AlterPartition. Tables list fields in wire order, as in
 * apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_cluster.h"

#define S struct kafka_broker_registration_listener
static const struct kfield br_listener_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, host, STRING, KALL),
	KF(S, port, INT16, KALL),
	KF(S, security_protocol, INT16, KALL),
};
static KSCHEMA(br_listener_s, S, br_listener_f);
#undef S

#define S struct kafka_broker_registration_feature
static const struct kfield br_feature_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, min_supported_version, INT16, KALL),
	KF(S, max_supported_version, INT16, KALL),
};
static KSCHEMA(br_feature_s, S, br_feature_f);
#undef S

#define S struct kafka_broker_registration_req
static const struct kfield br_req_f[] = {
	KF(S, broker_id, INT32, KALL),
	KF(S, cluster_id, STRING, KALL),
	KF(S, incarnation_id, UUID, KALL),
	KF(S, listeners, ARRAY, KALL, KSUB(br_listener_s)),
	KF(S, features, ARRAY, KALL, KSUB(br_feature_s)),
	KF(S, rack, STRING, KALL, KNULL(0), KDNULL),
};
KSCHEMA(kafka_broker_registration_req_s, S, br_req_f);
#undef S

#define S struct kafka_broker_registration_resp
static const struct kfield br_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, broker_epoch, INT64, KALL, KDEF(-1)),
};
KSCHEMA(kafka_broker_registration_resp_s, S, br_resp_f);
#undef S

/* ---- OffsetForLeaderEpoch ---- */

#define S struct kafka_ofle_req_partition
static const struct kfield ofle_req_part_f[] = {
	KF(S, partition, INT32, KALL),
	KF(S, current_leader_epoch, INT32, KFROM(2), KDEF(-1)),
	KF(S, leader_epoch, INT32, KALL),
};
static KSCHEMA(ofle_req_part_s, S, ofle_req_part_f);
#undef S

#define S struct kafka_ofle_req_topic
static const struct kfield ofle_req_topic_f[] = {
	KF(S, topic, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(ofle_req_part_s)),
};
static KSCHEMA(ofle_req_topic_s, S, ofle_req_topic_f);
#undef S

#define S struct kafka_ofle_req
static const struct kfield ofle_req_f[] = {
	KF(S, replica_id, INT32, KFROM(3), KDEF(-2)),
	KF(S, topics, ARRAY, KALL, KSUB(ofle_req_topic_s)),
};
KSCHEMA(kafka_offset_for_leader_epoch_req_s, S, ofle_req_f);
#undef S

#define S struct kafka_ofle_resp_partition
static const struct kfield ofle_resp_part_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, partition, INT32, KALL),
	KF(S, leader_epoch, INT32, KFROM(1), KDEF(-1)),
	KF(S, end_offset, INT64, KALL, KDEF(-1)),
};
static KSCHEMA(ofle_resp_part_s, S, ofle_resp_part_f);
#undef S

#define S struct kafka_ofle_resp_topic
static const struct kfield ofle_resp_topic_f[] = {
	KF(S, topic, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(ofle_resp_part_s)),
};
static KSCHEMA(ofle_resp_topic_s, S, ofle_resp_topic_f);
#undef S

#define S struct kafka_ofle_resp
static const struct kfield ofle_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(2)),
	KF(S, topics, ARRAY, KALL, KSUB(ofle_resp_topic_s)),
};
KSCHEMA(kafka_offset_for_leader_epoch_resp_s, S, ofle_resp_f);
#undef S

/* ---- AlterPartition ---- */

#define S struct kafka_alter_partition_req_partition
static const struct kfield ap_req_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, leader_epoch, INT32, KALL),
	KF(S, new_isr, ARRAY, KV(0, 2), KSUB(kafka_int32_elem)),
	KF(S, leader_recovery_state, INT8, KFROM(1)),
	KF(S, partition_epoch, INT32, KALL),
};
static KSCHEMA(ap_req_part_s, S, ap_req_part_f);
#undef S

#define S struct kafka_alter_partition_req_topic
static const struct kfield ap_req_topic_f[] = {
	KF(S, topic_name, STRING, KV(0, 1)),
	KF(S, partitions, ARRAY, KALL, KSUB(ap_req_part_s)),
};
static KSCHEMA(ap_req_topic_s, S, ap_req_topic_f);
#undef S

#define S struct kafka_alter_partition_req
static const struct kfield ap_req_f[] = {
	KF(S, broker_id, INT32, KALL),
	KF(S, broker_epoch, INT64, KALL, KDEF(-1)),
	KF(S, topics, ARRAY, KALL, KSUB(ap_req_topic_s)),
};
KSCHEMA(kafka_alter_partition_req_s, S, ap_req_f);
#undef S

#define S struct kafka_alter_partition_resp_partition
static const struct kfield ap_resp_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, leader_id, INT32, KALL),
	KF(S, leader_epoch, INT32, KALL),
	KF(S, isr, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, leader_recovery_state, INT8, KFROM(1)),
	KF(S, partition_epoch, INT32, KALL),
};
static KSCHEMA(ap_resp_part_s, S, ap_resp_part_f);
#undef S

#define S struct kafka_alter_partition_resp_topic
static const struct kfield ap_resp_topic_f[] = {
	KF(S, topic_name, STRING, KV(0, 1)),
	KF(S, partitions, ARRAY, KALL, KSUB(ap_resp_part_s)),
};
static KSCHEMA(ap_resp_topic_s, S, ap_resp_topic_f);
#undef S

#define S struct kafka_alter_partition_resp
static const struct kfield ap_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(ap_resp_topic_s)),
};
KSCHEMA(kafka_alter_partition_resp_s, S, ap_resp_f);
#undef S

/* ---- ElectLeaders ---- */

#define S struct kafka_elect_leaders_req_topic
static const struct kfield el_req_topic_f[] = {
	KF(S, topic, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(el_req_topic_s, S, el_req_topic_f);
#undef S

#define S struct kafka_elect_leaders_req
static const struct kfield el_req_f[] = {
	KF(S, election_type, INT8, KFROM(1)),
	KF(S, topic_partitions, ARRAY, KALL, KNULL(0), KSUB(el_req_topic_s)),
	KF(S, timeout_ms, INT32, KALL, KDEF(60000)),
};
KSCHEMA(kafka_elect_leaders_req_s, S, el_req_f);
#undef S

#define S struct kafka_elect_leaders_resp_partition
static const struct kfield el_resp_part_f[] = {
	KF(S, partition_id, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
};
static KSCHEMA(el_resp_part_s, S, el_resp_part_f);
#undef S

#define S struct kafka_elect_leaders_resp_topic
static const struct kfield el_resp_topic_f[] = {
	KF(S, topic, STRING, KALL),
	KF(S, partition_result, ARRAY, KALL, KSUB(el_resp_part_s)),
};
static KSCHEMA(el_resp_topic_s, S, el_resp_topic_f);
#undef S

#define S struct kafka_elect_leaders_resp
static const struct kfield el_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KFROM(1)),
	KF(S, replica_election_results, ARRAY, KALL, KSUB(el_resp_topic_s)),
};
KSCHEMA(kafka_elect_leaders_resp_s, S, el_resp_f);
#undef S

/* ---- AlterPartitionReassignments / ListPartitionReassignments v0 ---- */

#define S struct kafka_reassign_req_partition
static const struct kfield ra_req_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, replicas, ARRAY, KALL, KNULL(0), KSUB(kafka_int32_elem)),
};
static KSCHEMA(ra_req_part_s, S, ra_req_part_f);
#undef S

#define S struct kafka_reassign_req_topic
static const struct kfield ra_req_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(ra_req_part_s)),
};
static KSCHEMA(ra_req_topic_s, S, ra_req_topic_f);
#undef S

#define S struct kafka_alter_reassignments_req
static const struct kfield ra_req_f[] = {
	KF(S, timeout_ms, INT32, KALL, KDEF(60000)),
	KF(S, topics, ARRAY, KALL, KSUB(ra_req_topic_s)),
};
KSCHEMA(kafka_alter_reassignments_req_s, S, ra_req_f);
#undef S

#define S struct kafka_reassign_resp_partition
static const struct kfield ra_resp_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
};
static KSCHEMA(ra_resp_part_s, S, ra_resp_part_f);
#undef S

#define S struct kafka_reassign_resp_topic
static const struct kfield ra_resp_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(ra_resp_part_s)),
};
static KSCHEMA(ra_resp_topic_s, S, ra_resp_topic_f);
#undef S

#define S struct kafka_alter_reassignments_resp
static const struct kfield ra_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, responses, ARRAY, KALL, KSUB(ra_resp_topic_s)),
};
KSCHEMA(kafka_alter_reassignments_resp_s, S, ra_resp_f);
#undef S

#define S struct kafka_list_reassignments_req_topic
static const struct kfield rl_req_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partition_indexes, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(rl_req_topic_s, S, rl_req_topic_f);
#undef S

#define S struct kafka_list_reassignments_req
static const struct kfield rl_req_f[] = {
	KF(S, timeout_ms, INT32, KALL, KDEF(60000)),
	KF(S, topics, ARRAY, KALL, KNULL(0), KSUB(rl_req_topic_s)),
};
KSCHEMA(kafka_list_reassignments_req_s, S, rl_req_f);
#undef S

#define S struct kafka_ongoing_partition
static const struct kfield rl_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, replicas, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, adding_replicas, ARRAY, KALL, KSUB(kafka_int32_elem)),
	KF(S, removing_replicas, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(rl_part_s, S, rl_part_f);
#undef S

#define S struct kafka_ongoing_topic
static const struct kfield rl_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(rl_part_s)),
};
static KSCHEMA(rl_topic_s, S, rl_topic_f);
#undef S

#define S struct kafka_list_reassignments_resp
static const struct kfield rl_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, topics, ARRAY, KALL, KSUB(rl_topic_s)),
};
KSCHEMA(kafka_list_reassignments_resp_s, S, rl_resp_f);
#undef S
