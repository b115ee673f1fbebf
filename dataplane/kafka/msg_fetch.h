/*
 * msg_fetch.h - Fetch (1) and ListOffsets (2) messages as C structs.
 * Field names and versions follow apache/kafka's message JSON; the tables
 * live in msg_fetch.c. A fetch response partition whose records view has
 * p == NULL and len > 0 is encoded as a hole to splice from a file (see
 * schema.h).
 */
#ifndef SLUICE_KAFKA_MSG_FETCH_H
#define SLUICE_KAFKA_MSG_FETCH_H

#include "dataplane/kafka/msg_produce.h"

/* ---- Fetch request, v0-17 (flexible 12+) ---- */
struct kafka_fetch_req_partition {
	int32_t partition;
	int32_t current_leader_epoch;   /* v9+, default -1 */
	int64_t fetch_offset;
	int32_t last_fetched_epoch;     /* v12+, default -1 */
	int64_t log_start_offset;       /* v5+, default -1 */
	int32_t partition_max_bytes;
	struct kuuid replica_directory_id;      /* v17+ tag 0 */
};

struct kafka_fetch_req_topic {
	struct kstr topic;              /* v0-12 */
	struct kuuid topic_id;          /* v13+ */
	KARRAY(struct kafka_fetch_req_partition) partitions;
};

struct kafka_fetch_forgotten {
	struct kstr topic;              /* v7-12 */
	struct kuuid topic_id;          /* v13+ */
	KARRAY(int32_t) partitions;
};

struct kafka_fetch_replica_state {
	int32_t replica_id;             /* default -1 */
	int64_t replica_epoch;          /* default -1 */
};

struct kafka_fetch_req {
	struct kstr cluster_id;         /* v12+ tag 0, nullable, default null */
	int32_t replica_id;             /* v0-14, default -1 */
	struct kafka_fetch_replica_state replica_state;  /* v15+ tag 1 */
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;              /* v3+, default 0x7fffffff */
	int8_t isolation_level;         /* v4+ */
	int32_t session_id;             /* v7+ */
	int32_t session_epoch;          /* v7+, default -1 */
	KARRAY(struct kafka_fetch_req_topic) topics;
	KARRAY(struct kafka_fetch_forgotten) forgotten_topics_data;     /* v7+ */
	struct kstr rack_id;            /* v11+ */
};

/* ---- Fetch response ---- */
struct kafka_fetch_epoch_end_offset {
	int32_t epoch;                  /* default -1 */
	int64_t end_offset;             /* default -1 */
};

struct kafka_fetch_snapshot_id {
	int64_t end_offset;             /* default -1 */
	int32_t epoch;                  /* default -1 */
};

struct kafka_fetch_aborted_txn {
	int64_t producer_id;
	int64_t first_offset;
};

struct kafka_fetch_resp_partition {
	int32_t partition_index;
	int16_t error_code;
	int64_t high_watermark;
	int64_t last_stable_offset;     /* v4+, default -1 */
	int64_t log_start_offset;       /* v5+, default -1 */
	struct kafka_fetch_epoch_end_offset diverging_epoch;    /* v12+ tag 0 */
	struct kafka_leader_epoch current_leader;               /* v12+ tag 1 */
	struct kafka_fetch_snapshot_id snapshot_id;             /* v12+ tag 2 */
	KARRAY(struct kafka_fetch_aborted_txn) aborted_transactions; /* v4+, nullable */
	int32_t preferred_read_replica; /* v11+, default -1 */
	struct kbytes records;          /* nullable; p == NULL, len > 0: hole */
};

struct kafka_fetch_resp_topic {
	struct kstr topic;              /* v0-12 */
	struct kuuid topic_id;          /* v13+ */
	KARRAY(struct kafka_fetch_resp_partition) partitions;
};

struct kafka_fetch_resp {
	int32_t throttle_time_ms;       /* v1+ */
	int16_t error_code;             /* v7+ */
	int32_t session_id;             /* v7+ */
	KARRAY(struct kafka_fetch_resp_topic) responses;
	KARRAY(struct kafka_node_endpoint) node_endpoints;      /* v16+ tag 0 */
};

/* ---- ListOffsets, v0-10 (flexible 6+) ---- */
struct kafka_list_offsets_req_partition {
	int32_t partition_index;
	int32_t current_leader_epoch;   /* v4+, default -1 */
	int64_t timestamp;              /* -1 latest, -2 earliest */
	int32_t max_num_offsets;        /* v0 only, default 1 */
};

struct kafka_list_offsets_req_topic {
	struct kstr name;
	KARRAY(struct kafka_list_offsets_req_partition) partitions;
};

struct kafka_list_offsets_req {
	int32_t replica_id;
	int8_t isolation_level;         /* v2+ */
	KARRAY(struct kafka_list_offsets_req_topic) topics;
	int32_t timeout_ms;             /* v10+ */
};

struct kafka_list_offsets_resp_partition {
	int32_t partition_index;
	int16_t error_code;
	KARRAY(int64_t) old_style_offsets;      /* v0 only */
	int64_t timestamp;              /* v1+, default -1 */
	int64_t offset;                 /* v1+, default -1 */
	int32_t leader_epoch;           /* v4+, default -1 */
};

struct kafka_list_offsets_resp_topic {
	struct kstr name;
	KARRAY(struct kafka_list_offsets_resp_partition) partitions;
};

struct kafka_list_offsets_resp {
	int32_t throttle_time_ms;       /* v2+ */
	KARRAY(struct kafka_list_offsets_resp_topic) topics;
};

extern const struct kschema kafka_fetch_req_s, kafka_fetch_resp_s;
extern const struct kschema kafka_list_offsets_req_s, kafka_list_offsets_resp_s;
/* For kafka_defaults() on partitions a handler fills in. */
extern const struct kschema kafka_fetch_resp_partition_s;

#endif
