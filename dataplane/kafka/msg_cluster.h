/*
 * msg_cluster.h - the messages of replication and between sluice nodes as
 * C structs: BrokerRegistration (62), with which a node registers its
 * brokers (one per shard) with the controller leader; OffsetForLeaderEpoch
 * (23), with which a follower (or a consumer) asks where an epoch ended on
 * the leader; AlterPartition (56), with which a leader asks the controller
 * to change a partition's in-sync replicas. Field names and versions
 * follow apache/kafka's message JSON; tables in msg_cluster.c.
 */
#ifndef SLUICE_KAFKA_MSG_CLUSTER_H
#define SLUICE_KAFKA_MSG_CLUSTER_H

#include "dataplane/kafka/schema.h"

/* ---- BrokerRegistration, v0 (flexible 0+) ---- */
struct kafka_broker_registration_listener {
	struct kstr name;
	struct kstr host;
	int16_t port;                   /* uint16 on the wire */
	int16_t security_protocol;      /* 0: PLAINTEXT */
};

struct kafka_broker_registration_feature {
	struct kstr name;
	int16_t min_supported_version;
	int16_t max_supported_version;
};

struct kafka_broker_registration_req {
	int32_t broker_id;
	struct kstr cluster_id;
	struct kuuid incarnation_id;
	KARRAY(struct kafka_broker_registration_listener) listeners;
	KARRAY(struct kafka_broker_registration_feature) features;
	struct kstr rack;               /* nullable */
};

struct kafka_broker_registration_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	int64_t broker_epoch;           /* default -1 */
};

/* ---- OffsetForLeaderEpoch, v0-3 (flexible 4+) ---- */
struct kafka_ofle_req_partition {
	int32_t partition;
	int32_t current_leader_epoch;   /* v2+, default -1 */
	int32_t leader_epoch;
};

struct kafka_ofle_req_topic {
	struct kstr topic;
	KARRAY(struct kafka_ofle_req_partition) partitions;
};

struct kafka_ofle_req {
	int32_t replica_id;             /* v3+, default -2 (a consumer: -1) */
	KARRAY(struct kafka_ofle_req_topic) topics;
};

struct kafka_ofle_resp_partition {
	int16_t error_code;
	int32_t partition;
	int32_t leader_epoch;           /* v1+, default -1 */
	int64_t end_offset;             /* default -1 */
};

struct kafka_ofle_resp_topic {
	struct kstr topic;
	KARRAY(struct kafka_ofle_resp_partition) partitions;
};

struct kafka_ofle_resp {
	int32_t throttle_time_ms;       /* v2+ */
	KARRAY(struct kafka_ofle_resp_topic) topics;
};

/* ---- AlterPartition, v0-1 (flexible 0+) ---- */
struct kafka_alter_partition_req_partition {
	int32_t partition_index;
	int32_t leader_epoch;
	KARRAY(int32_t) new_isr;
	int8_t leader_recovery_state;   /* v1+ */
	int32_t partition_epoch;
};

struct kafka_alter_partition_req_topic {
	struct kstr topic_name;
	KARRAY(struct kafka_alter_partition_req_partition) partitions;
};

struct kafka_alter_partition_req {
	int32_t broker_id;
	int64_t broker_epoch;           /* default -1 */
	KARRAY(struct kafka_alter_partition_req_topic) topics;
};

struct kafka_alter_partition_resp_partition {
	int32_t partition_index;
	int16_t error_code;
	int32_t leader_id;
	int32_t leader_epoch;
	KARRAY(int32_t) isr;
	int8_t leader_recovery_state;   /* v1+ */
	int32_t partition_epoch;
};

struct kafka_alter_partition_resp_topic {
	struct kstr topic_name;
	KARRAY(struct kafka_alter_partition_resp_partition) partitions;
};

struct kafka_alter_partition_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	KARRAY(struct kafka_alter_partition_resp_topic) topics;
};

extern const struct kschema kafka_broker_registration_req_s;
/* ---- ElectLeaders, v0-2 (flexible 2+) ---- */
struct kafka_elect_leaders_req_topic {
	struct kstr topic;
	KARRAY(int32_t) partitions;
};

struct kafka_elect_leaders_req {
	int8_t election_type;           /* v1+: 0 preferred, 1 unclean */
	KARRAY(struct kafka_elect_leaders_req_topic) topic_partitions; /* null: all */
	int32_t timeout_ms;             /* default 60000 */
};

struct kafka_elect_leaders_resp_partition {
	int32_t partition_id;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
};

struct kafka_elect_leaders_resp_topic {
	struct kstr topic;
	KARRAY(struct kafka_elect_leaders_resp_partition) partition_result;
};

struct kafka_elect_leaders_resp {
	int32_t throttle_time_ms;
	int16_t error_code;             /* v1+ */
	KARRAY(struct kafka_elect_leaders_resp_topic) replica_election_results;
};

/* ---- AlterPartitionReassignments (45) and ListPartitionReassignments
 * (46), v0 (flexible) ---- */
struct kafka_reassign_req_partition {
	int32_t partition_index;
	KARRAY(int32_t) replicas;       /* null: cancel the reassignment */
};

struct kafka_reassign_req_topic {
	struct kstr name;
	KARRAY(struct kafka_reassign_req_partition) partitions;
};

struct kafka_alter_reassignments_req {
	int32_t timeout_ms;             /* default 60000 */
	KARRAY(struct kafka_reassign_req_topic) topics;
};

struct kafka_reassign_resp_partition {
	int32_t partition_index;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
};

struct kafka_reassign_resp_topic {
	struct kstr name;
	KARRAY(struct kafka_reassign_resp_partition) partitions;
};

struct kafka_alter_reassignments_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_reassign_resp_topic) responses;
};

struct kafka_list_reassignments_req_topic {
	struct kstr name;
	KARRAY(int32_t) partition_indexes;
};

struct kafka_list_reassignments_req {
	int32_t timeout_ms;             /* default 60000 */
	KARRAY(struct kafka_list_reassignments_req_topic) topics; /* null: all */
};

struct kafka_ongoing_partition {
	int32_t partition_index;
	KARRAY(int32_t) replicas;
	KARRAY(int32_t) adding_replicas;
	KARRAY(int32_t) removing_replicas;
};

struct kafka_ongoing_topic {
	struct kstr name;
	KARRAY(struct kafka_ongoing_partition) partitions;
};

struct kafka_list_reassignments_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;      /* nullable */
	KARRAY(struct kafka_ongoing_topic) topics;
};

extern const struct kschema kafka_alter_reassignments_req_s;
extern const struct kschema kafka_alter_reassignments_resp_s;
extern const struct kschema kafka_list_reassignments_req_s;
extern const struct kschema kafka_list_reassignments_resp_s;
extern const struct kschema kafka_elect_leaders_req_s;
extern const struct kschema kafka_elect_leaders_resp_s;
extern const struct kschema kafka_offset_for_leader_epoch_req_s;
extern const struct kschema kafka_offset_for_leader_epoch_resp_s;
extern const struct kschema kafka_alter_partition_req_s;
extern const struct kschema kafka_alter_partition_resp_s;
extern const struct kschema kafka_broker_registration_resp_s;

#endif
