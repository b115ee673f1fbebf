/*
 * msg_metadata.h - cluster-discovery messages as C structs: ApiVersions (18),
 * Metadata (3), DescribeCluster (60), DescribeTopicPartitions (75) and
 * SaslHandshake (17). Field names and
 * versions follow apache/kafka's message JSON; tables in msg_metadata.c.
 */
#ifndef SLUICE_KAFKA_MSG_METADATA_H
#define SLUICE_KAFKA_MSG_METADATA_H

#include "dataplane/kafka/schema.h"

/* ---- ApiVersions, v0-4 (flexible 3+; response header is always v0) ---- */
struct kafka_api_versions_req {
	struct kstr client_software_name;       /* v3+ */
	struct kstr client_software_version;    /* v3+ */
};

struct kafka_api_version {
	int16_t api_key;
	int16_t min_version;
	int16_t max_version;
};

struct kafka_supported_feature {
	struct kstr name;
	int16_t min_version;
	int16_t max_version;
};

struct kafka_finalized_feature {
	struct kstr name;
	int16_t max_version_level;
	int16_t min_version_level;
};

struct kafka_api_versions_resp {
	int16_t error_code;
	KARRAY(struct kafka_api_version) api_keys;
	int32_t throttle_time_ms;       /* v1+ */
	KARRAY(struct kafka_supported_feature) supported_features;  /* v3+ tag 0 */
	int64_t finalized_features_epoch;       /* v3+ tag 1, default -1 */
	KARRAY(struct kafka_finalized_feature) finalized_features;  /* v3+ tag 2 */
	bool zk_migration_ready;        /* v3+ tag 3 */
};

/* ---- Metadata, v0-12 (flexible 9+) ---- */
struct kafka_metadata_req_topic {
	struct kuuid topic_id;          /* v10+ */
	struct kstr name;               /* nullable v10+ */
};

struct kafka_metadata_req {
	/* v0: empty = all topics; v1+: null (n == -1) = all, empty = none */
	KARRAY(struct kafka_metadata_req_topic) topics;
	bool allow_auto_topic_creation;         /* v4+, default true */
	bool include_cluster_authorized_operations;     /* v8-10 */
	bool include_topic_authorized_operations;       /* v8+ */
};

struct kafka_metadata_broker {
	int32_t node_id;
	struct kstr host;
	int32_t port;
	struct kstr rack;               /* v1+, nullable */
};

struct kafka_metadata_partition {
	int16_t error_code;
	int32_t partition_index;
	int32_t leader_id;
	int32_t leader_epoch;           /* v7+, default -1 */
	KARRAY(int32_t) replica_nodes;
	KARRAY(int32_t) isr_nodes;
	KARRAY(int32_t) offline_replicas;       /* v5+ */
};

struct kafka_metadata_topic {
	int16_t error_code;
	struct kstr name;               /* nullable v12+ */
	struct kuuid topic_id;          /* v10+ */
	bool is_internal;               /* v1+ */
	KARRAY(struct kafka_metadata_partition) partitions;
	int32_t topic_authorized_operations;    /* v8+, default INT32_MIN */
};

struct kafka_metadata_resp {
	int32_t throttle_time_ms;       /* v3+ */
	KARRAY(struct kafka_metadata_broker) brokers;
	struct kstr cluster_id;         /* v2+, nullable */
	int32_t controller_id;          /* v1+, default -1 */
	KARRAY(struct kafka_metadata_topic) topics;
	int32_t cluster_authorized_operations;  /* v8-10, default INT32_MIN */
};

/* ---- DescribeCluster, v0-1 (flexible 0+) ---- */
struct kafka_describe_cluster_req {
	bool include_cluster_authorized_operations;
	int8_t endpoint_type;           /* v1+, default 1 */
};

struct kafka_describe_cluster_broker {
	int32_t broker_id;
	struct kstr host;
	int32_t port;
	struct kstr rack;               /* nullable */
};

struct kafka_describe_cluster_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	int8_t endpoint_type;           /* v1+, default 1 */
	struct kstr cluster_id;
	int32_t controller_id;          /* default -1 */
	KARRAY(struct kafka_describe_cluster_broker) brokers;
	int32_t cluster_authorized_operations;  /* default INT32_MIN */
};

/* ---- DescribeTopicPartitions (75), v0 (flexible) ---- */
struct kafka_dtp_cursor {
	struct kstr topic_name;
	int32_t partition_index;
};

struct kafka_dtp_req_topic {
	struct kstr name;
};

struct kafka_dtp_req {
	KARRAY(struct kafka_dtp_req_topic) topics;     /* empty: every topic */
	int32_t response_partition_limit;       /* default 2000 */
	KARRAY(struct kafka_dtp_cursor) cursor;         /* nullable struct */
};

struct kafka_dtp_partition {
	int16_t error_code;
	int32_t partition_index;
	int32_t leader_id;
	int32_t leader_epoch;           /* default -1 */
	KARRAY(int32_t) replica_nodes;
	KARRAY(int32_t) isr_nodes;
	KARRAY(int32_t) eligible_leader_replicas;       /* nullable */
	KARRAY(int32_t) last_known_elr;                 /* nullable */
	KARRAY(int32_t) offline_replicas;
};

struct kafka_dtp_topic {
	int16_t error_code;
	struct kstr name;               /* nullable */
	struct kuuid topic_id;
	bool is_internal;
	KARRAY(struct kafka_dtp_partition) partitions;
	int32_t topic_authorized_operations;    /* default INT32_MIN */
};

struct kafka_dtp_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_dtp_topic) topics;
	KARRAY(struct kafka_dtp_cursor) next_cursor;    /* nullable struct */
};

/* ---- SaslHandshake, v0-1 (never flexible) ---- */
struct kafka_sasl_handshake_req {
	struct kstr mechanism;
};

struct kafka_sasl_handshake_resp {
	int16_t error_code;
	KARRAY(struct kstr) mechanisms;
};

extern const struct kschema kafka_api_versions_req_s, kafka_api_versions_resp_s;
extern const struct kschema kafka_metadata_req_s, kafka_metadata_resp_s;
extern const struct kschema kafka_describe_cluster_req_s, kafka_describe_cluster_resp_s;
extern const struct kschema kafka_sasl_handshake_req_s, kafka_sasl_handshake_resp_s;
extern const struct kschema kafka_dtp_req_s, kafka_dtp_resp_s;

#endif
