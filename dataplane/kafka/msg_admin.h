/*
 * msg_admin.h - topic and config admin messages as C structs: CreateTopics
 * (19), DeleteTopics (20), CreatePartitions (37), DescribeConfigs (32),
 * AlterConfigs (33), IncrementalAlterConfigs (44) and DeleteRecords (21). Field names and
 * versions follow apache/kafka's message JSON; tables in msg_admin.c.
 */
#ifndef SLUICE_KAFKA_MSG_ADMIN_H
#define SLUICE_KAFKA_MSG_ADMIN_H

#include "dataplane/kafka/schema.h"

/* ---- CreateTopics, v0-7 (flexible 5+) ---- */
struct kafka_create_topics_assignment {
	int32_t partition_index;
	KARRAY(int32_t) broker_ids;
};

struct kafka_config_kv {                /* name + nullable value */
	struct kstr name;
	struct kstr value;
};

struct kafka_create_topics_topic {
	struct kstr name;
	int32_t num_partitions;         /* -1: broker default */
	int16_t replication_factor;     /* -1: broker default */
	KARRAY(struct kafka_create_topics_assignment) assignments;
	KARRAY(struct kafka_config_kv) configs;
};

struct kafka_create_topics_req {
	KARRAY(struct kafka_create_topics_topic) topics;
	int32_t timeout_ms;             /* default 60000 */
	bool validate_only;             /* v1+ */
};

struct kafka_create_topics_config {
	struct kstr name;
	struct kstr value;              /* nullable */
	bool read_only;
	int8_t config_source;           /* default -1 */
	bool is_sensitive;
};

struct kafka_create_topics_result {
	struct kstr name;
	struct kuuid topic_id;          /* v7+ */
	int16_t error_code;
	struct kstr error_message;      /* v1+, nullable */
	int16_t topic_config_error_code;        /* v5+ tag 0 */
	int32_t num_partitions;         /* v5+, default -1 */
	int16_t replication_factor;     /* v5+, default -1 */
	KARRAY(struct kafka_create_topics_config) configs;  /* v5+, nullable */
};

struct kafka_create_topics_resp {
	int32_t throttle_time_ms;       /* v2+ */
	KARRAY(struct kafka_create_topics_result) topics;
};

/* ---- DeleteTopics, v0-6 (flexible 4+) ---- */
struct kafka_delete_topics_state {
	struct kstr name;               /* nullable */
	struct kuuid topic_id;
};

struct kafka_delete_topics_req {
	KARRAY(struct kafka_delete_topics_state) topics;        /* v6+ */
	KARRAY(struct kstr) topic_names;        /* v0-5 */
	int32_t timeout_ms;
};

struct kafka_delete_topics_result {
	struct kstr name;               /* nullable v6+ */
	struct kuuid topic_id;          /* v6+ */
	int16_t error_code;
	struct kstr error_message;      /* v5+, nullable */
};

struct kafka_delete_topics_resp {
	int32_t throttle_time_ms;       /* v1+ */
	KARRAY(struct kafka_delete_topics_result) responses;
};

/* ---- CreatePartitions, v0-3 (flexible 2+) ---- */
struct kafka_create_partitions_assignment {
	KARRAY(int32_t) broker_ids;
};

struct kafka_create_partitions_topic {
	struct kstr name;
	int32_t count;
	KARRAY(struct kafka_create_partitions_assignment) assignments; /* nullable */
};

struct kafka_create_partitions_req {
	KARRAY(struct kafka_create_partitions_topic) topics;
	int32_t timeout_ms;
	bool validate_only;
};

struct kafka_topic_error {              /* name + error, shared by results */
	struct kstr name;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
};

struct kafka_create_partitions_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_topic_error) results;
};

/* ---- DescribeConfigs, v0-4 (flexible 4+) ---- */
struct kafka_describe_configs_resource {
	int8_t resource_type;           /* 2 topic, 4 broker, 8 broker logger */
	struct kstr resource_name;
	KARRAY(struct kstr) configuration_keys; /* nullable: null = all */
};

struct kafka_describe_configs_req {
	KARRAY(struct kafka_describe_configs_resource) resources;
	bool include_synonyms;          /* v1+ */
	bool include_documentation;     /* v3+ */
};

struct kafka_describe_configs_synonym {
	struct kstr name;
	struct kstr value;              /* nullable */
	int8_t source;
};

struct kafka_describe_configs_entry {
	struct kstr name;
	struct kstr value;              /* nullable */
	bool read_only;
	bool is_default;                /* v0 only */
	int8_t config_source;           /* v1+, default -1 */
	bool is_sensitive;
	KARRAY(struct kafka_describe_configs_synonym) synonyms;  /* v1+ */
	int8_t config_type;             /* v3+ */
	struct kstr documentation;      /* v3+, nullable */
};

struct kafka_describe_configs_result {
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	int8_t resource_type;
	struct kstr resource_name;
	KARRAY(struct kafka_describe_configs_entry) configs;
};

struct kafka_describe_configs_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_describe_configs_result) results;
};

/* ---- AlterConfigs, v0-2 (flexible 2+) ---- */
struct kafka_alter_configs_resource {
	int8_t resource_type;
	struct kstr resource_name;
	KARRAY(struct kafka_config_kv) configs;
};

struct kafka_alter_configs_req {
	KARRAY(struct kafka_alter_configs_resource) resources;
	bool validate_only;
};

struct kafka_alter_configs_result {
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	int8_t resource_type;
	struct kstr resource_name;
};

/* AlterConfigs and IncrementalAlterConfigs responses have the same shape. */
struct kafka_alter_configs_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_alter_configs_result) responses;
};

/* ---- IncrementalAlterConfigs, v0-1 (flexible 1+) ---- */
struct kafka_incr_alter_config {
	struct kstr name;
	int8_t config_operation;        /* 0 set, 1 delete, 2 append, 3 subtract */
	struct kstr value;              /* nullable */
};

struct kafka_incr_alter_configs_resource {
	int8_t resource_type;
	struct kstr resource_name;
	KARRAY(struct kafka_incr_alter_config) configs;
};

struct kafka_incr_alter_configs_req {
	KARRAY(struct kafka_incr_alter_configs_resource) resources;
	bool validate_only;
};

/* ---- DeleteRecords, v0-2 (flexible 2+) ---- */
struct kafka_delete_records_partition {
	int32_t partition_index;
	int64_t offset;                 /* -1: the high watermark */
};

struct kafka_delete_records_topic {
	struct kstr name;
	KARRAY(struct kafka_delete_records_partition) partitions;
};

struct kafka_delete_records_req {
	KARRAY(struct kafka_delete_records_topic) topics;
	int32_t timeout_ms;
};

struct kafka_delete_records_partition_result {
	int32_t partition_index;
	int64_t low_watermark;
	int16_t error_code;
};

struct kafka_delete_records_topic_result {
	struct kstr name;
	KARRAY(struct kafka_delete_records_partition_result) partitions;
};

struct kafka_delete_records_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_delete_records_topic_result) topics;
};

extern const struct kschema kafka_create_topics_req_s, kafka_create_topics_resp_s;
extern const struct kschema kafka_delete_records_req_s, kafka_delete_records_resp_s;
extern const struct kschema kafka_delete_topics_req_s, kafka_delete_topics_resp_s;
extern const struct kschema kafka_create_partitions_req_s, kafka_create_partitions_resp_s;
extern const struct kschema kafka_describe_configs_req_s, kafka_describe_configs_resp_s;
extern const struct kschema kafka_alter_configs_req_s, kafka_alter_configs_resp_s;
extern const struct kschema kafka_incr_alter_configs_req_s;
#define kafka_incr_alter_configs_resp_s kafka_alter_configs_resp_s

#endif
