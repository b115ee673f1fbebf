/*
 * msg_txn.h - idempotence and transaction messages as C structs:
 * InitProducerId (22), AddPartitionsToTxn (24), AddOffsetsToTxn (25),
 * EndTxn (26), WriteTxnMarkers (27), TxnOffsetCommit (28),
 * DescribeProducers (61), DescribeTransactions (65), ListTransactions
 * (66). Field names and versions follow apache/kafka's message JSON
 * (Kafka 4.0: AddPartitionsToTxn v5, EndTxn v5 and TxnOffsetCommit v5 are
 * transactions v2, KIP-890); the tables are in msg_txn.c.
 */
#ifndef SLUICE_KAFKA_MSG_TXN_H
#define SLUICE_KAFKA_MSG_TXN_H

#include "dataplane/kafka/schema.h"

/* ---- InitProducerId, v0-5 (flexible 2+) ---- */
struct kafka_init_producer_id_req {
	struct kstr transactional_id;   /* nullable */
	int32_t transaction_timeout_ms;
	int64_t producer_id;            /* v3+, default -1 */
	int16_t producer_epoch;         /* v3+, default -1 */
};

struct kafka_init_producer_id_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	int64_t producer_id;            /* default -1 */
	int16_t producer_epoch;
};

/* ---- AddPartitionsToTxn, v0-5 (flexible 3+) ---- */
struct kafka_txn_topic {                /* AddPartitionsToTxnTopic */
	struct kstr name;
	KARRAY(int32_t) partitions;
};

struct kafka_add_partitions_txn {       /* v4+: one of several */
	struct kstr transactional_id;
	int64_t producer_id;
	int16_t producer_epoch;
	bool verify_only;
	KARRAY(struct kafka_txn_topic) topics;
};

struct kafka_add_partitions_to_txn_req {
	KARRAY(struct kafka_add_partitions_txn) transactions;   /* v4+ */
	struct kstr v3_transactional_id;        /* v0-3 */
	int64_t v3_producer_id;
	int16_t v3_producer_epoch;
	KARRAY(struct kafka_txn_topic) v3_topics;
};

struct kafka_txn_partition_result {
	int32_t partition_index;
	int16_t partition_error_code;
};

struct kafka_txn_topic_result {
	struct kstr name;
	KARRAY(struct kafka_txn_partition_result) results_by_partition;
};

struct kafka_add_partitions_txn_result {        /* v4+ */
	struct kstr transactional_id;
	KARRAY(struct kafka_txn_topic_result) topic_results;
};

struct kafka_add_partitions_to_txn_resp {
	int32_t throttle_time_ms;
	int16_t error_code;                     /* v4+ */
	KARRAY(struct kafka_add_partitions_txn_result) results_by_transaction;  /* v4+ */
	KARRAY(struct kafka_txn_topic_result) results_by_topic_v3;              /* v0-3 */
};

/* ---- AddOffsetsToTxn, v0-4 (flexible 3+) ---- */
struct kafka_add_offsets_to_txn_req {
	struct kstr transactional_id;
	int64_t producer_id;
	int16_t producer_epoch;
	struct kstr group_id;
};

struct kafka_txn_error_resp {           /* AddOffsetsToTxn response */
	int32_t throttle_time_ms;
	int16_t error_code;
};

/* ---- EndTxn, v0-5 (flexible 3+) ---- */
struct kafka_end_txn_req {
	struct kstr transactional_id;
	int64_t producer_id;
	int16_t producer_epoch;
	bool committed;
};

struct kafka_end_txn_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	int64_t producer_id;            /* v5+, default -1 */
	int16_t producer_epoch;         /* v5+, default -1 */
};

/* ---- WriteTxnMarkers, v0-1 (flexible 1+) ---- */
struct kafka_marker_topic {
	struct kstr name;
	KARRAY(int32_t) partition_indexes;
};

struct kafka_writable_marker {
	int64_t producer_id;
	int16_t producer_epoch;
	bool transaction_result;        /* true: commit */
	KARRAY(struct kafka_marker_topic) topics;
	int32_t coordinator_epoch;
};

struct kafka_write_txn_markers_req {
	KARRAY(struct kafka_writable_marker) markers;
};

struct kafka_partition_error_result {
	int32_t partition_index;
	int16_t error_code;
};

struct kafka_marker_topic_result {
	struct kstr name;
	KARRAY(struct kafka_partition_error_result) partitions;
};

struct kafka_marker_result {
	int64_t producer_id;
	KARRAY(struct kafka_marker_topic_result) topics;
};

struct kafka_write_txn_markers_resp {
	KARRAY(struct kafka_marker_result) markers;
};

/* ---- TxnOffsetCommit, v0-5 (flexible 3+) ---- */
struct kafka_txn_commit_partition {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v2+, default -1 */
	struct kstr committed_metadata; /* nullable */
};

struct kafka_txn_commit_topic {
	struct kstr name;
	KARRAY(struct kafka_txn_commit_partition) partitions;
};

struct kafka_txn_offset_commit_req {
	struct kstr transactional_id;
	struct kstr group_id;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t generation_id;          /* v3+, default -1 */
	struct kstr member_id;          /* v3+, default "" */
	struct kstr group_instance_id;  /* v3+, nullable */
	KARRAY(struct kafka_txn_commit_topic) topics;
};

struct kafka_txn_offset_commit_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_marker_topic_result) topics;
};

/* ---- DescribeProducers, v0 (flexible) ---- */
struct kafka_describe_producers_req {
	KARRAY(struct kafka_marker_topic) topics;       /* name + partition_indexes */
};

struct kafka_producer_state {
	int64_t producer_id;
	int32_t producer_epoch;
	int32_t last_sequence;          /* default -1 */
	int64_t last_timestamp;         /* default -1 */
	int32_t coordinator_epoch;
	int64_t current_txn_start_offset;       /* default -1 */
};

struct kafka_producers_partition {
	int32_t partition_index;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_producer_state) active_producers;
};

struct kafka_producers_topic {
	struct kstr name;
	KARRAY(struct kafka_producers_partition) partitions;
};

struct kafka_describe_producers_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_producers_topic) topics;
};

/* ---- ListTransactions, v0-1 (flexible) ---- */
struct kafka_list_transactions_req {
	KARRAY(struct kstr) state_filters;
	KARRAY(int64_t) producer_id_filters;
	int64_t duration_filter;        /* v1+, default -1 */
};

struct kafka_listed_txn {
	struct kstr transactional_id;
	int64_t producer_id;
	struct kstr transaction_state;
};

struct kafka_list_transactions_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	KARRAY(struct kstr) unknown_state_filters;
	KARRAY(struct kafka_listed_txn) transaction_states;
};

/* ---- DescribeTransactions, v0 (flexible) ---- */
struct kafka_describe_transactions_req {
	KARRAY(struct kstr) transactional_ids;
};

struct kafka_txn_topic_data {
	struct kstr topic;
	KARRAY(int32_t) partitions;
};

struct kafka_described_txn {
	int16_t error_code;
	struct kstr transactional_id;
	struct kstr transaction_state;
	int32_t transaction_timeout_ms;
	int64_t transaction_start_time_ms;
	int64_t producer_id;
	int16_t producer_epoch;
	KARRAY(struct kafka_txn_topic_data) topics;
};

struct kafka_describe_transactions_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_described_txn) transaction_states;
};

extern const struct kschema kafka_init_producer_id_req_s, kafka_init_producer_id_resp_s;
extern const struct kschema kafka_add_partitions_to_txn_req_s, kafka_add_partitions_to_txn_resp_s;
extern const struct kschema kafka_add_offsets_to_txn_req_s, kafka_add_offsets_to_txn_resp_s;
extern const struct kschema kafka_end_txn_req_s, kafka_end_txn_resp_s;
extern const struct kschema kafka_write_txn_markers_req_s, kafka_write_txn_markers_resp_s;
extern const struct kschema kafka_txn_offset_commit_req_s, kafka_txn_offset_commit_resp_s;
extern const struct kschema kafka_describe_producers_req_s, kafka_describe_producers_resp_s;
extern const struct kschema kafka_list_transactions_req_s, kafka_list_transactions_resp_s;
extern const struct kschema kafka_describe_transactions_req_s,
	kafka_describe_transactions_resp_s;

#endif
