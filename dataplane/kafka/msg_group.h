/*
 * msg_group.h - consumer-group messages as C structs: FindCoordinator (10),
 * JoinGroup (11), Heartbeat (12), LeaveGroup (13), SyncGroup (14),
 * DescribeGroups (15), ListGroups (16), OffsetCommit (8), OffsetFetch (9),
 * DeleteGroups (42) and OffsetDelete (47). Field names and versions follow
 * apache/kafka's message JSON; tables in msg_group.c.
 */
#ifndef SLUICE_KAFKA_MSG_GROUP_H
#define SLUICE_KAFKA_MSG_GROUP_H

#include "dataplane/kafka/schema.h"

/* ---- FindCoordinator, v0-6 (flexible 3+) ---- */
struct kafka_find_coordinator_req {
	struct kstr key;                /* v0-3 */
	int8_t key_type;                /* v1+: 0 group, 1 transaction */
	KARRAY(struct kstr) coordinator_keys;   /* v4+ */
};

struct kafka_coordinator {
	struct kstr key;
	int32_t node_id;
	struct kstr host;
	int32_t port;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
};

struct kafka_find_coordinator_resp {
	int32_t throttle_time_ms;       /* v1+ */
	int16_t error_code;             /* v0-3 */
	struct kstr error_message;      /* v1-3, nullable */
	int32_t node_id;                /* v0-3 */
	struct kstr host;               /* v0-3 */
	int32_t port;                   /* v0-3 */
	KARRAY(struct kafka_coordinator) coordinators;  /* v4+ */
};

/* ---- JoinGroup, v0-9 (flexible 6+) ---- */
struct kafka_join_group_protocol {
	struct kstr name;
	struct kbytes metadata;
};

struct kafka_join_group_req {
	struct kstr group_id;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;   /* v1+, default -1 */
	struct kstr member_id;
	struct kstr group_instance_id;  /* v5+, nullable */
	struct kstr protocol_type;
	KARRAY(struct kafka_join_group_protocol) protocols;
	struct kstr reason;             /* v8+, nullable */
};

struct kafka_join_group_member {
	struct kstr member_id;
	struct kstr group_instance_id;  /* v5+, nullable */
	struct kbytes metadata;
};

struct kafka_join_group_resp {
	int32_t throttle_time_ms;       /* v2+ */
	int16_t error_code;
	int32_t generation_id;          /* default -1 */
	struct kstr protocol_type;      /* v7+, nullable */
	struct kstr protocol_name;      /* nullable v7+ */
	struct kstr leader;
	bool skip_assignment;           /* v9+ */
	struct kstr member_id;
	KARRAY(struct kafka_join_group_member) members;
};

/* ---- SyncGroup, v0-5 (flexible 4+) ---- */
struct kafka_sync_group_assignment {
	struct kstr member_id;
	struct kbytes assignment;
};

struct kafka_sync_group_req {
	struct kstr group_id;
	int32_t generation_id;
	struct kstr member_id;
	struct kstr group_instance_id;  /* v3+, nullable */
	struct kstr protocol_type;      /* v5+, nullable */
	struct kstr protocol_name;      /* v5+, nullable */
	KARRAY(struct kafka_sync_group_assignment) assignments;
};

struct kafka_sync_group_resp {
	int32_t throttle_time_ms;       /* v1+ */
	int16_t error_code;
	struct kstr protocol_type;      /* v5+, nullable */
	struct kstr protocol_name;      /* v5+, nullable */
	struct kbytes assignment;
};

/* ---- Heartbeat, v0-4 (flexible 4+) ---- */
struct kafka_heartbeat_req {
	struct kstr group_id;
	int32_t generation_id;
	struct kstr member_id;
	struct kstr group_instance_id;  /* v3+, nullable */
};

struct kafka_error_resp {               /* Heartbeat response */
	int32_t throttle_time_ms;       /* v1+ */
	int16_t error_code;
};

/* ---- LeaveGroup, v0-5 (flexible 4+) ---- */
struct kafka_leave_group_member {
	struct kstr member_id;
	struct kstr group_instance_id;  /* nullable */
	struct kstr reason;             /* v5+, nullable */
};

struct kafka_leave_group_req {
	struct kstr group_id;
	struct kstr member_id;          /* v0-2 */
	KARRAY(struct kafka_leave_group_member) members;        /* v3+ */
};

struct kafka_leave_group_member_resp {
	struct kstr member_id;
	struct kstr group_instance_id;  /* nullable */
	int16_t error_code;
};

struct kafka_leave_group_resp {
	int32_t throttle_time_ms;       /* v1+ */
	int16_t error_code;
	KARRAY(struct kafka_leave_group_member_resp) members;   /* v3+ */
};

/* ---- OffsetCommit, v0-9 (flexible 8+) ---- */
struct kafka_offset_commit_req_partition {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v6+, default -1 */
	int64_t commit_timestamp;       /* v1 only, default -1 */
	struct kstr committed_metadata; /* nullable */
};

struct kafka_offset_commit_req_topic {
	struct kstr name;
	KARRAY(struct kafka_offset_commit_req_partition) partitions;
};

struct kafka_offset_commit_req {
	struct kstr group_id;
	int32_t generation_id_or_member_epoch;  /* v1+, default -1 */
	struct kstr member_id;          /* v1+ */
	struct kstr group_instance_id;  /* v7+, nullable */
	int64_t retention_time_ms;      /* v2-4, default -1 */
	KARRAY(struct kafka_offset_commit_req_topic) topics;
};

struct kafka_partition_error {          /* partition index + error code */
	int32_t partition_index;
	int16_t error_code;
};

struct kafka_topic_partition_errors {
	struct kstr name;
	KARRAY(struct kafka_partition_error) partitions;
};

struct kafka_offset_commit_resp {
	int32_t throttle_time_ms;       /* v3+ */
	KARRAY(struct kafka_topic_partition_errors) topics;
};

/* ---- OffsetFetch, v0-9 (flexible 6+) ---- */
struct kafka_offset_fetch_req_topic {
	struct kstr name;
	KARRAY(int32_t) partition_indexes;
};

struct kafka_offset_fetch_req_group {   /* v8+ */
	struct kstr group_id;
	struct kstr member_id;          /* v9+, nullable */
	int32_t member_epoch;           /* v9+, default -1 */
	KARRAY(struct kafka_offset_fetch_req_topic) topics;     /* nullable */
};

struct kafka_offset_fetch_req {
	struct kstr group_id;           /* v0-7 */
	KARRAY(struct kafka_offset_fetch_req_topic) topics;     /* v0-7, null v2+ = all */
	KARRAY(struct kafka_offset_fetch_req_group) groups;     /* v8+ */
	bool require_stable;            /* v7+ */
};

struct kafka_offset_fetch_partition {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v5+, default -1 */
	struct kstr metadata;           /* nullable */
	int16_t error_code;
};

struct kafka_offset_fetch_resp_topic {
	struct kstr name;
	KARRAY(struct kafka_offset_fetch_partition) partitions;
};

struct kafka_offset_fetch_resp_group {  /* v8+ */
	struct kstr group_id;
	KARRAY(struct kafka_offset_fetch_resp_topic) topics;
	int16_t error_code;
};

struct kafka_offset_fetch_resp {
	int32_t throttle_time_ms;       /* v3+ */
	KARRAY(struct kafka_offset_fetch_resp_topic) topics;    /* v0-7 */
	int16_t error_code;             /* v2-7 */
	KARRAY(struct kafka_offset_fetch_resp_group) groups;    /* v8+ */
};

/* ---- OffsetDelete, v0 ---- */
struct kafka_partition_index {
	int32_t partition_index;
};

struct kafka_offset_delete_topic {
	struct kstr name;
	KARRAY(struct kafka_partition_index) partitions;
};

struct kafka_offset_delete_req {
	struct kstr group_id;
	KARRAY(struct kafka_offset_delete_topic) topics;
};

struct kafka_offset_delete_resp {
	int16_t error_code;
	int32_t throttle_time_ms;
	KARRAY(struct kafka_topic_partition_errors) topics;
};

/* ---- ListGroups, v0-5 (flexible 3+) ---- */
struct kafka_list_groups_req {
	KARRAY(struct kstr) states_filter;      /* v4+ */
	KARRAY(struct kstr) types_filter;       /* v5+ */
};

struct kafka_listed_group {
	struct kstr group_id;
	struct kstr protocol_type;
	struct kstr group_state;        /* v4+ */
	struct kstr group_type;         /* v5+ */
};

struct kafka_list_groups_resp {
	int32_t throttle_time_ms;       /* v1+ */
	int16_t error_code;
	KARRAY(struct kafka_listed_group) groups;
};

/* ---- DescribeGroups, v0-5 (flexible 5+) ---- */
struct kafka_describe_groups_req {
	KARRAY(struct kstr) groups;
	bool include_authorized_operations;     /* v3+ */
};

struct kafka_described_member {
	struct kstr member_id;
	struct kstr group_instance_id;  /* v4+, nullable */
	struct kstr client_id;
	struct kstr client_host;
	struct kbytes member_metadata;
	struct kbytes member_assignment;
};

struct kafka_described_group {
	int16_t error_code;
	struct kstr group_id;
	struct kstr group_state;
	struct kstr protocol_type;
	struct kstr protocol_data;
	KARRAY(struct kafka_described_member) members;
	int32_t authorized_operations;  /* v3+, default INT32_MIN */
};

struct kafka_describe_groups_resp {
	int32_t throttle_time_ms;       /* v1+ */
	KARRAY(struct kafka_described_group) groups;
};

/* ---- DeleteGroups, v0-2 (flexible 2+) ---- */
struct kafka_delete_groups_req {
	KARRAY(struct kstr) groups_names;
};

struct kafka_group_error {
	struct kstr group_id;
	int16_t error_code;
};

struct kafka_delete_groups_resp {
	int32_t throttle_time_ms;
	KARRAY(struct kafka_group_error) results;
};

extern const struct kschema kafka_find_coordinator_req_s, kafka_find_coordinator_resp_s;
extern const struct kschema kafka_join_group_req_s, kafka_join_group_resp_s;
extern const struct kschema kafka_sync_group_req_s, kafka_sync_group_resp_s;
extern const struct kschema kafka_heartbeat_req_s, kafka_heartbeat_resp_s;
extern const struct kschema kafka_leave_group_req_s, kafka_leave_group_resp_s;
extern const struct kschema kafka_offset_commit_req_s, kafka_offset_commit_resp_s;
extern const struct kschema kafka_offset_fetch_req_s, kafka_offset_fetch_resp_s;
extern const struct kschema kafka_offset_delete_req_s, kafka_offset_delete_resp_s;
extern const struct kschema kafka_list_groups_req_s, kafka_list_groups_resp_s;
extern const struct kschema kafka_describe_groups_req_s, kafka_describe_groups_resp_s;
extern const struct kschema kafka_delete_groups_req_s, kafka_delete_groups_resp_s;

#endif
