/*
 * msg_produce.h - Produce (0) messages as C structs (InitProducerId is in
 * msg_txn.h),
 * plus small structs several responses share (leader/epoch, node endpoint).
 * Field names and versions follow apache/kafka's message JSON; the tables
 * that describe them to the codec live in msg_produce.c.
 */
#ifndef SLUICE_KAFKA_MSG_PRODUCE_H
#define SLUICE_KAFKA_MSG_PRODUCE_H

#include "dataplane/kafka/schema.h"

struct kafka_leader_epoch {             /* LeaderIdAndEpoch */
	int32_t leader_id;              /* default -1 */
	int32_t leader_epoch;           /* default -1 */
};

struct kafka_node_endpoint {            /* NodeEndpoint (tagged, v10+/v16+) */
	int32_t node_id;
	struct kstr host;
	int32_t port;
	struct kstr rack;               /* nullable */
};

extern const struct kschema kafka_leader_epoch_s, kafka_node_endpoint_s;

/* ---- Produce request, v0-12 (flexible 9+; v12: KIP-890, same fields) ---- */
struct kafka_produce_req_partition {
	int32_t index;
	struct kbytes records;          /* RecordBatch bytes, a view; nullable */
};

struct kafka_produce_req_topic {
	struct kstr name;
	KARRAY(struct kafka_produce_req_partition) partitions;
};

struct kafka_produce_req {
	struct kstr transactional_id;   /* v3+, nullable */
	int16_t acks;
	int32_t timeout_ms;
	KARRAY(struct kafka_produce_req_topic) topics;
};

/* ---- Produce response ---- */
struct kafka_produce_record_error {
	int32_t batch_index;
	struct kstr message;            /* nullable */
};

struct kafka_produce_resp_partition {
	int32_t index;
	int16_t error_code;
	int64_t base_offset;
	int64_t log_append_time_ms;     /* v2+, default -1 */
	int64_t log_start_offset;       /* v5+, default -1 */
	KARRAY(struct kafka_produce_record_error) record_errors;   /* v8+ */
	struct kstr error_message;      /* v8+, nullable */
	struct kafka_leader_epoch current_leader;       /* v10+ tag 0 */
};

struct kafka_produce_resp_topic {
	struct kstr name;
	KARRAY(struct kafka_produce_resp_partition) partitions;
};

struct kafka_produce_resp {
	KARRAY(struct kafka_produce_resp_topic) responses;
	int32_t throttle_time_ms;       /* v1+ */
	KARRAY(struct kafka_node_endpoint) node_endpoints;  /* v10+ tag 0 */
};

extern const struct kschema kafka_produce_req_s, kafka_produce_resp_s;
/* For kafka_defaults() on partitions a handler fills in. */
extern const struct kschema kafka_produce_resp_partition_s;

#endif
