/*
 * msg_fetch.c - schema tables for Fetch and ListOffsets. Tables list fields
 * in wire order (tagged fields in tag order), as in apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_fetch.h"

/* ---- Fetch request ---- */

#define S struct kafka_fetch_replica_state
static const struct kfield fetch_replica_state_f[] = {
	KF(S, replica_id, INT32, KALL, KDEF(-1)),
	KF(S, replica_epoch, INT64, KALL, KDEF(-1)),
};
static KSCHEMA(fetch_replica_state_s, S, fetch_replica_state_f);
#undef S

#define S struct kafka_fetch_req_partition
static const struct kfield fetch_req_part_f[] = {
	KF(S, partition, INT32, KALL),
	KF(S, current_leader_epoch, INT32, KFROM(9), KDEF(-1)),
	KF(S, fetch_offset, INT64, KALL),
	KF(S, last_fetched_epoch, INT32, KFROM(12), KDEF(-1)),
	KF(S, log_start_offset, INT64, KFROM(5), KDEF(-1)),
	KF(S, partition_max_bytes, INT32, KALL),
	KF(S, replica_directory_id, UUID, KFROM(17), KTAG(0)),
};
static KSCHEMA(fetch_req_part_s, S, fetch_req_part_f);
#undef S

#define S struct kafka_fetch_req_topic
static const struct kfield fetch_req_topic_f[] = {
	KF(S, topic, STRING, KV(0, 12)),
	KF(S, topic_id, UUID, KFROM(13)),
	KF(S, partitions, ARRAY, KALL, KSUB(fetch_req_part_s)),
};
static KSCHEMA(fetch_req_topic_s, S, fetch_req_topic_f);
#undef S

#define S struct kafka_fetch_forgotten
static const struct kfield fetch_forgotten_f[] = {
	KF(S, topic, STRING, KV(7, 12)),
	KF(S, topic_id, UUID, KFROM(13)),
	KF(S, partitions, ARRAY, KFROM(7), KSUB(kafka_int32_elem)),
};
static KSCHEMA(fetch_forgotten_s, S, fetch_forgotten_f);
#undef S

#define S struct kafka_fetch_req
static const struct kfield fetch_req_f[] = {
	KF(S, cluster_id, STRING, KFROM(12), KNULL(12), KTAG(0), KDNULL),
	KF(S, replica_id, INT32, KV(0, 14), KDEF(-1)),
	KF(S, replica_state, STRUCT, KFROM(15), KTAG(1), KSUB(fetch_replica_state_s)),
	KF(S, max_wait_ms, INT32, KALL),
	KF(S, min_bytes, INT32, KALL),
	KF(S, max_bytes, INT32, KFROM(3), KDEF(0x7fffffff)),
	KF(S, isolation_level, INT8, KFROM(4)),
	KF(S, session_id, INT32, KFROM(7)),
	KF(S, session_epoch, INT32, KFROM(7), KDEF(-1)),
	KF(S, topics, ARRAY, KALL, KSUB(fetch_req_topic_s)),
	KF(S, forgotten_topics_data, ARRAY, KFROM(7), KSUB(fetch_forgotten_s)),
	KF(S, rack_id, STRING, KFROM(11)),
};
KSCHEMA(kafka_fetch_req_s, S, fetch_req_f);
#undef S

/* ---- Fetch response ---- */

#define S struct kafka_fetch_epoch_end_offset
static const struct kfield fetch_epoch_end_f[] = {
	KF(S, epoch, INT32, KALL, KDEF(-1)),
	KF(S, end_offset, INT64, KALL, KDEF(-1)),
};
static KSCHEMA(fetch_epoch_end_s, S, fetch_epoch_end_f);
#undef S

#define S struct kafka_fetch_snapshot_id
static const struct kfield fetch_snapshot_f[] = {
	KF(S, end_offset, INT64, KALL, KDEF(-1)),
	KF(S, epoch, INT32, KALL, KDEF(-1)),
};
static KSCHEMA(fetch_snapshot_s, S, fetch_snapshot_f);
#undef S

#define S struct kafka_fetch_aborted_txn
static const struct kfield fetch_aborted_f[] = {
	KF(S, producer_id, INT64, KALL),
	KF(S, first_offset, INT64, KALL),
};
static KSCHEMA(fetch_aborted_s, S, fetch_aborted_f);
#undef S

#define S struct kafka_fetch_resp_partition
static const struct kfield fetch_resp_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, high_watermark, INT64, KALL),
	KF(S, last_stable_offset, INT64, KFROM(4), KDEF(-1)),
	KF(S, log_start_offset, INT64, KFROM(5), KDEF(-1)),
	KF(S, diverging_epoch, STRUCT, KFROM(12), KTAG(0), KSUB(fetch_epoch_end_s)),
	KF(S, current_leader, STRUCT, KFROM(12), KTAG(1), KSUB(kafka_leader_epoch_s)),
	KF(S, snapshot_id, STRUCT, KFROM(12), KTAG(2), KSUB(fetch_snapshot_s)),
	KF(S, aborted_transactions, ARRAY, KFROM(4), KNULL(4), KSUB(fetch_aborted_s)),
	KF(S, preferred_read_replica, INT32, KFROM(11), KDEF(-1)),
	KF(S, records, RECORDS, KALL, KNULL(0)),
};
KSCHEMA(kafka_fetch_resp_partition_s, S, fetch_resp_part_f);
#undef S

#define S struct kafka_fetch_resp_topic
static const struct kfield fetch_resp_topic_f[] = {
	KF(S, topic, STRING, KV(0, 12)),
	KF(S, topic_id, UUID, KFROM(13)),
	KF(S, partitions, ARRAY, KALL, KSUB(kafka_fetch_resp_partition_s)),
};
static KSCHEMA(fetch_resp_topic_s, S, fetch_resp_topic_f);
#undef S

#define S struct kafka_fetch_resp
static const struct kfield fetch_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, error_code, INT16, KFROM(7)),
	KF(S, session_id, INT32, KFROM(7)),
	KF(S, responses, ARRAY, KALL, KSUB(fetch_resp_topic_s)),
	KF(S, node_endpoints, ARRAY, KFROM(16), KTAG(0), KSUB(kafka_node_endpoint_s)),
};
KSCHEMA(kafka_fetch_resp_s, S, fetch_resp_f);
#undef S

/* ---- ListOffsets request ---- */

#define S struct kafka_list_offsets_req_partition
static const struct kfield lo_req_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, current_leader_epoch, INT32, KFROM(4), KDEF(-1)),
	KF(S, timestamp, INT64, KALL),
	KF(S, max_num_offsets, INT32, KV(0, 0), KDEF(1)),
};
static KSCHEMA(lo_req_part_s, S, lo_req_part_f);
#undef S

#define S struct kafka_list_offsets_req_topic
static const struct kfield lo_req_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(lo_req_part_s)),
};
static KSCHEMA(lo_req_topic_s, S, lo_req_topic_f);
#undef S

#define S struct kafka_list_offsets_req
static const struct kfield lo_req_f[] = {
	KF(S, replica_id, INT32, KALL),
	KF(S, isolation_level, INT8, KFROM(2)),
	KF(S, topics, ARRAY, KALL, KSUB(lo_req_topic_s)),
	KF(S, timeout_ms, INT32, KFROM(10)),
};
KSCHEMA(kafka_list_offsets_req_s, S, lo_req_f);
#undef S

/* ---- ListOffsets response ---- */

#define S struct kafka_list_offsets_resp_partition
static const struct kfield lo_resp_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, old_style_offsets, ARRAY, KV(0, 0), KSUB(kafka_int64_elem)),
	KF(S, timestamp, INT64, KFROM(1), KDEF(-1)),
	KF(S, offset, INT64, KFROM(1), KDEF(-1)),
	KF(S, leader_epoch, INT32, KFROM(4), KDEF(-1)),
};
static KSCHEMA(lo_resp_part_s, S, lo_resp_part_f);
#undef S

#define S struct kafka_list_offsets_resp_topic
static const struct kfield lo_resp_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(lo_resp_part_s)),
};
static KSCHEMA(lo_resp_topic_s, S, lo_resp_topic_f);
#undef S

#define S struct kafka_list_offsets_resp
static const struct kfield lo_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(2)),
	KF(S, topics, ARRAY, KALL, KSUB(lo_resp_topic_s)),
};
KSCHEMA(kafka_list_offsets_resp_s, S, lo_resp_f);
#undef S
