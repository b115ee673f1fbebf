/*
 * msg_txn.c - schema tables for the idempotence and transaction messages
 * (msg_txn.h). Fields in wire order, as in apache/kafka's message JSON.
 */
#include "dataplane/kafka/msg_txn.h"

/* ---- InitProducerId ---- */

#define S struct kafka_init_producer_id_req
static const struct kfield init_pid_req_f[] = {
	KF(S, transactional_id, STRING, KALL, KNULL(0)),
	KF(S, transaction_timeout_ms, INT32, KALL),
	KF(S, producer_id, INT64, KFROM(3), KDEF(-1)),
	KF(S, producer_epoch, INT16, KFROM(3), KDEF(-1)),
};
KSCHEMA(kafka_init_producer_id_req_s, S, init_pid_req_f);
#undef S

#define S struct kafka_init_producer_id_resp
static const struct kfield init_pid_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, producer_id, INT64, KALL, KDEF(-1)),
	KF(S, producer_epoch, INT16, KALL),
};
KSCHEMA(kafka_init_producer_id_resp_s, S, init_pid_resp_f);
#undef S

/* ---- AddPartitionsToTxn ---- */

#define S struct kafka_txn_topic
static const struct kfield txn_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(txn_topic_s, S, txn_topic_f);
#undef S

#define S struct kafka_add_partitions_txn
static const struct kfield apt_txn_f[] = {
	KF(S, transactional_id, STRING, KFROM(4)),
	KF(S, producer_id, INT64, KFROM(4)),
	KF(S, producer_epoch, INT16, KFROM(4)),
	KF(S, verify_only, BOOL, KFROM(4)),
	KF(S, topics, ARRAY, KFROM(4), KSUB(txn_topic_s)),
};
static KSCHEMA(apt_txn_s, S, apt_txn_f);
#undef S

#define S struct kafka_add_partitions_to_txn_req
static const struct kfield apt_req_f[] = {
	KF(S, transactions, ARRAY, KFROM(4), KSUB(apt_txn_s)),
	KF(S, v3_transactional_id, STRING, KV(0, 3)),
	KF(S, v3_producer_id, INT64, KV(0, 3)),
	KF(S, v3_producer_epoch, INT16, KV(0, 3)),
	KF(S, v3_topics, ARRAY, KV(0, 3), KSUB(txn_topic_s)),
};
KSCHEMA(kafka_add_partitions_to_txn_req_s, S, apt_req_f);
#undef S

#define S struct kafka_txn_partition_result
static const struct kfield apt_part_res_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, partition_error_code, INT16, KALL),
};
static KSCHEMA(apt_part_res_s, S, apt_part_res_f);
#undef S

#define S struct kafka_txn_topic_result
static const struct kfield apt_topic_res_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, results_by_partition, ARRAY, KALL, KSUB(apt_part_res_s)),
};
static KSCHEMA(apt_topic_res_s, S, apt_topic_res_f);
#undef S

#define S struct kafka_add_partitions_txn_result
static const struct kfield apt_txn_res_f[] = {
	KF(S, transactional_id, STRING, KFROM(4)),
	KF(S, topic_results, ARRAY, KFROM(4), KSUB(apt_topic_res_s)),
};
static KSCHEMA(apt_txn_res_s, S, apt_txn_res_f);
#undef S

#define S struct kafka_add_partitions_to_txn_resp
static const struct kfield apt_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KFROM(4)),
	KF(S, results_by_transaction, ARRAY, KFROM(4), KSUB(apt_txn_res_s)),
	KF(S, results_by_topic_v3, ARRAY, KV(0, 3), KSUB(apt_topic_res_s)),
};
KSCHEMA(kafka_add_partitions_to_txn_resp_s, S, apt_resp_f);
#undef S

/* ---- AddOffsetsToTxn ---- */

#define S struct kafka_add_offsets_to_txn_req
static const struct kfield aot_req_f[] = {
	KF(S, transactional_id, STRING, KALL),
	KF(S, producer_id, INT64, KALL),
	KF(S, producer_epoch, INT16, KALL),
	KF(S, group_id, STRING, KALL),
};
KSCHEMA(kafka_add_offsets_to_txn_req_s, S, aot_req_f);
#undef S

#define S struct kafka_txn_error_resp
static const struct kfield txn_err_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
};
KSCHEMA(kafka_add_offsets_to_txn_resp_s, S, txn_err_resp_f);
#undef S

/* ---- EndTxn ---- */

#define S struct kafka_end_txn_req
static const struct kfield end_req_f[] = {
	KF(S, transactional_id, STRING, KALL),
	KF(S, producer_id, INT64, KALL),
	KF(S, producer_epoch, INT16, KALL),
	KF(S, committed, BOOL, KALL),
};
KSCHEMA(kafka_end_txn_req_s, S, end_req_f);
#undef S

#define S struct kafka_end_txn_resp
static const struct kfield end_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, producer_id, INT64, KFROM(5), KDEF(-1)),
	KF(S, producer_epoch, INT16, KFROM(5), KDEF(-1)),
};
KSCHEMA(kafka_end_txn_resp_s, S, end_resp_f);
#undef S

/* ---- WriteTxnMarkers ---- */

#define S struct kafka_marker_topic
static const struct kfield mk_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partition_indexes, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(mk_topic_s, S, mk_topic_f);
#undef S

#define S struct kafka_writable_marker
static const struct kfield mk_f[] = {
	KF(S, producer_id, INT64, KALL),
	KF(S, producer_epoch, INT16, KALL),
	KF(S, transaction_result, BOOL, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(mk_topic_s)),
	KF(S, coordinator_epoch, INT32, KALL),
};
static KSCHEMA(mk_s, S, mk_f);
#undef S

#define S struct kafka_write_txn_markers_req
static const struct kfield wtm_req_f[] = {
	KF(S, markers, ARRAY, KALL, KSUB(mk_s)),
};
KSCHEMA(kafka_write_txn_markers_req_s, S, wtm_req_f);
#undef S

#define S struct kafka_partition_error_result
static const struct kfield mk_part_res_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(mk_part_res_s, S, mk_part_res_f);
#undef S

#define S struct kafka_marker_topic_result
static const struct kfield mk_topic_res_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(mk_part_res_s)),
};
static KSCHEMA(mk_topic_res_s, S, mk_topic_res_f);
#undef S

#define S struct kafka_marker_result
static const struct kfield mk_res_f[] = {
	KF(S, producer_id, INT64, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(mk_topic_res_s)),
};
static KSCHEMA(mk_res_s, S, mk_res_f);
#undef S

#define S struct kafka_write_txn_markers_resp
static const struct kfield wtm_resp_f[] = {
	KF(S, markers, ARRAY, KALL, KSUB(mk_res_s)),
};
KSCHEMA(kafka_write_txn_markers_resp_s, S, wtm_resp_f);
#undef S

/* ---- TxnOffsetCommit ---- */

#define S struct kafka_txn_commit_partition
static const struct kfield toc_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, committed_offset, INT64, KALL),
	KF(S, committed_leader_epoch, INT32, KFROM(2), KDEF(-1)),
	KF(S, committed_metadata, STRING, KALL, KNULL(0)),
};
static KSCHEMA(toc_part_s, S, toc_part_f);
#undef S

#define S struct kafka_txn_commit_topic
static const struct kfield toc_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(toc_part_s)),
};
static KSCHEMA(toc_topic_s, S, toc_topic_f);
#undef S

#define S struct kafka_txn_offset_commit_req
static const struct kfield toc_req_f[] = {
	KF(S, transactional_id, STRING, KALL),
	KF(S, group_id, STRING, KALL),
	KF(S, producer_id, INT64, KALL),
	KF(S, producer_epoch, INT16, KALL),
	KF(S, generation_id, INT32, KFROM(3), KDEF(-1)),
	KF(S, member_id, STRING, KFROM(3)),
	KF(S, group_instance_id, STRING, KFROM(3), KNULL(3), KDNULL),
	KF(S, topics, ARRAY, KALL, KSUB(toc_topic_s)),
};
KSCHEMA(kafka_txn_offset_commit_req_s, S, toc_req_f);
#undef S

#define S struct kafka_txn_offset_commit_resp
static const struct kfield toc_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(mk_topic_res_s)),
};
KSCHEMA(kafka_txn_offset_commit_resp_s, S, toc_resp_f);
#undef S

/* ---- DescribeProducers ---- */

#define S struct kafka_describe_producers_req
static const struct kfield dp_req_f[] = {
	KF(S, topics, ARRAY, KALL, KSUB(mk_topic_s)),
};
KSCHEMA(kafka_describe_producers_req_s, S, dp_req_f);
#undef S

#define S struct kafka_producer_state
static const struct kfield dp_state_f[] = {
	KF(S, producer_id, INT64, KALL),
	KF(S, producer_epoch, INT32, KALL),
	KF(S, last_sequence, INT32, KALL, KDEF(-1)),
	KF(S, last_timestamp, INT64, KALL, KDEF(-1)),
	KF(S, coordinator_epoch, INT32, KALL),
	KF(S, current_txn_start_offset, INT64, KALL, KDEF(-1)),
};
static KSCHEMA(dp_state_s, S, dp_state_f);
#undef S

#define S struct kafka_producers_partition
static const struct kfield dp_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0), KDNULL),
	KF(S, active_producers, ARRAY, KALL, KSUB(dp_state_s)),
};
static KSCHEMA(dp_part_s, S, dp_part_f);
#undef S

#define S struct kafka_producers_topic
static const struct kfield dp_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(dp_part_s)),
};
static KSCHEMA(dp_topic_s, S, dp_topic_f);
#undef S

#define S struct kafka_describe_producers_resp
static const struct kfield dp_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(dp_topic_s)),
};
KSCHEMA(kafka_describe_producers_resp_s, S, dp_resp_f);
#undef S

/* ---- ListTransactions ---- */

#define S struct kafka_list_transactions_req
static const struct kfield lt_req_f[] = {
	KF(S, state_filters, ARRAY, KALL, KSUB(kafka_string_elem)),
	KF(S, producer_id_filters, ARRAY, KALL, KSUB(kafka_int64_elem)),
	KF(S, duration_filter, INT64, KFROM(1), KDEF(-1)),
};
KSCHEMA(kafka_list_transactions_req_s, S, lt_req_f);
#undef S

#define S struct kafka_listed_txn
static const struct kfield lt_txn_f[] = {
	KF(S, transactional_id, STRING, KALL),
	KF(S, producer_id, INT64, KALL),
	KF(S, transaction_state, STRING, KALL),
};
static KSCHEMA(lt_txn_s, S, lt_txn_f);
#undef S

#define S struct kafka_list_transactions_resp
static const struct kfield lt_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, unknown_state_filters, ARRAY, KALL, KSUB(kafka_string_elem)),
	KF(S, transaction_states, ARRAY, KALL, KSUB(lt_txn_s)),
};
KSCHEMA(kafka_list_transactions_resp_s, S, lt_resp_f);
#undef S

/* ---- DescribeTransactions ---- */

#define S struct kafka_describe_transactions_req
static const struct kfield dt_req_f[] = {
	KF(S, transactional_ids, ARRAY, KALL, KSUB(kafka_string_elem)),
};
KSCHEMA(kafka_describe_transactions_req_s, S, dt_req_f);
#undef S

#define S struct kafka_txn_topic_data
static const struct kfield dt_topic_f[] = {
	KF(S, topic, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(dt_topic_s, S, dt_topic_f);
#undef S

#define S struct kafka_described_txn
static const struct kfield dt_txn_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, transactional_id, STRING, KALL),
	KF(S, transaction_state, STRING, KALL),
	KF(S, transaction_timeout_ms, INT32, KALL),
	KF(S, transaction_start_time_ms, INT64, KALL),
	KF(S, producer_id, INT64, KALL),
	KF(S, producer_epoch, INT16, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(dt_topic_s)),
};
static KSCHEMA(dt_txn_s, S, dt_txn_f);
#undef S

#define S struct kafka_describe_transactions_resp
static const struct kfield dt_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, transaction_states, ARRAY, KALL, KSUB(dt_txn_s)),
};
KSCHEMA(kafka_describe_transactions_resp_s, S, dt_resp_f);
#undef S
