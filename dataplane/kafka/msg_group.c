/*
 * msg_group.c - schema tables for the consumer-group APIs: FindCoordinator,
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * OffsetDelete, ListGroups, DescribeGroups and DeleteGroups. Tables list
 * fields in wire order, as in apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_group.h"

/* ---- shared result shapes ---- */

#define S struct kafka_partition_error
static const struct kfield part_err_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(part_err_s, S, part_err_f);
#undef S

#define S struct kafka_topic_partition_errors
static const struct kfield topic_part_err_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(part_err_s)),
};
static KSCHEMA(topic_part_err_s, S, topic_part_err_f);
#undef S

/* ---- FindCoordinator ---- */

#define S struct kafka_find_coordinator_req
static const struct kfield fc_req_f[] = {
	KF(S, key, STRING, KV(0, 3)),
	KF(S, key_type, INT8, KFROM(1)),
	KF(S, coordinator_keys, ARRAY, KFROM(4), KSUB(kafka_string_elem)),
};
KSCHEMA(kafka_find_coordinator_req_s, S, fc_req_f);
#undef S

#define S struct kafka_coordinator
static const struct kfield fc_coord_f[] = {
	KF(S, key, STRING, KALL),
	KF(S, node_id, INT32, KALL),
	KF(S, host, STRING, KALL),
	KF(S, port, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, error_message, STRING, KALL, KNULL(0)),
};
static KSCHEMA(fc_coord_s, S, fc_coord_f);
#undef S

#define S struct kafka_find_coordinator_resp
static const struct kfield fc_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, error_code, INT16, KV(0, 3)),
	KF(S, error_message, STRING, KV(1, 3), KNULL(1)),
	KF(S, node_id, INT32, KV(0, 3)),
	KF(S, host, STRING, KV(0, 3)),
	KF(S, port, INT32, KV(0, 3)),
	KF(S, coordinators, ARRAY, KFROM(4), KSUB(fc_coord_s)),
};
KSCHEMA(kafka_find_coordinator_resp_s, S, fc_resp_f);
#undef S

/* ---- JoinGroup ---- */

#define S struct kafka_join_group_protocol
static const struct kfield jg_proto_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, metadata, BYTES, KALL),
};
static KSCHEMA(jg_proto_s, S, jg_proto_f);
#undef S

#define S struct kafka_join_group_req
static const struct kfield jg_req_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, session_timeout_ms, INT32, KALL),
	KF(S, rebalance_timeout_ms, INT32, KFROM(1), KDEF(-1)),
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KFROM(5), KNULL(5), KDNULL),
	KF(S, protocol_type, STRING, KALL),
	KF(S, protocols, ARRAY, KALL, KSUB(jg_proto_s)),
	KF(S, reason, STRING, KFROM(8), KNULL(8), KDNULL),
};
KSCHEMA(kafka_join_group_req_s, S, jg_req_f);
#undef S

#define S struct kafka_join_group_member
static const struct kfield jg_member_f[] = {
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KFROM(5), KNULL(5), KDNULL),
	KF(S, metadata, BYTES, KALL),
};
static KSCHEMA(jg_member_s, S, jg_member_f);
#undef S

#define S struct kafka_join_group_resp
static const struct kfield jg_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(2)),
	KF(S, error_code, INT16, KALL),
	KF(S, generation_id, INT32, KALL, KDEF(-1)),
	KF(S, protocol_type, STRING, KFROM(7), KNULL(7), KDNULL),
	KF(S, protocol_name, STRING, KALL, KNULL(7)),
	KF(S, leader, STRING, KALL),
	KF(S, skip_assignment, BOOL, KFROM(9)),
	KF(S, member_id, STRING, KALL),
	KF(S, members, ARRAY, KALL, KSUB(jg_member_s)),
};
KSCHEMA(kafka_join_group_resp_s, S, jg_resp_f);
#undef S

/* ---- SyncGroup ---- */

#define S struct kafka_sync_group_assignment
static const struct kfield sg_assign_f[] = {
	KF(S, member_id, STRING, KALL),
	KF(S, assignment, BYTES, KALL),
};
static KSCHEMA(sg_assign_s, S, sg_assign_f);
#undef S

#define S struct kafka_sync_group_req
static const struct kfield sg_req_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, generation_id, INT32, KALL),
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KFROM(3), KNULL(3), KDNULL),
	KF(S, protocol_type, STRING, KFROM(5), KNULL(5), KDNULL),
	KF(S, protocol_name, STRING, KFROM(5), KNULL(5), KDNULL),
	KF(S, assignments, ARRAY, KALL, KSUB(sg_assign_s)),
};
KSCHEMA(kafka_sync_group_req_s, S, sg_req_f);
#undef S

#define S struct kafka_sync_group_resp
static const struct kfield sg_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, error_code, INT16, KALL),
	KF(S, protocol_type, STRING, KFROM(5), KNULL(5), KDNULL),
	KF(S, protocol_name, STRING, KFROM(5), KNULL(5), KDNULL),
	KF(S, assignment, BYTES, KALL),
};
KSCHEMA(kafka_sync_group_resp_s, S, sg_resp_f);
#undef S

/* ---- Heartbeat ---- */

#define S struct kafka_heartbeat_req
static const struct kfield hb_req_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, generation_id, INT32, KALL),
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KFROM(3), KNULL(3), KDNULL),
};
KSCHEMA(kafka_heartbeat_req_s, S, hb_req_f);
#undef S

#define S struct kafka_error_resp
static const struct kfield hb_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, error_code, INT16, KALL),
};
KSCHEMA(kafka_heartbeat_resp_s, S, hb_resp_f);
#undef S

/* ---- LeaveGroup ---- */

#define S struct kafka_leave_group_member
static const struct kfield lg_member_f[] = {
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KALL, KNULL(3), KDNULL),
	KF(S, reason, STRING, KFROM(5), KNULL(5), KDNULL),
};
static KSCHEMA(lg_member_s, S, lg_member_f);
#undef S

#define S struct kafka_leave_group_req
static const struct kfield lg_req_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, member_id, STRING, KV(0, 2)),
	KF(S, members, ARRAY, KFROM(3), KSUB(lg_member_s)),
};
KSCHEMA(kafka_leave_group_req_s, S, lg_req_f);
#undef S

#define S struct kafka_leave_group_member_resp
static const struct kfield lg_mresp_f[] = {
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KALL, KNULL(3)),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(lg_mresp_s, S, lg_mresp_f);
#undef S

#define S struct kafka_leave_group_resp
static const struct kfield lg_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, error_code, INT16, KALL),
	KF(S, members, ARRAY, KFROM(3), KSUB(lg_mresp_s)),
};
KSCHEMA(kafka_leave_group_resp_s, S, lg_resp_f);
#undef S

/* ---- OffsetCommit ---- */

#define S struct kafka_offset_commit_req_partition
static const struct kfield oc_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, committed_offset, INT64, KALL),
	KF(S, committed_leader_epoch, INT32, KFROM(6), KDEF(-1)),
	KF(S, commit_timestamp, INT64, KV(1, 1), KDEF(-1)),
	KF(S, committed_metadata, STRING, KALL, KNULL(0)),
};
static KSCHEMA(oc_part_s, S, oc_part_f);
#undef S

#define S struct kafka_offset_commit_req_topic
static const struct kfield oc_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(oc_part_s)),
};
static KSCHEMA(oc_topic_s, S, oc_topic_f);
#undef S

#define S struct kafka_offset_commit_req
static const struct kfield oc_req_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, generation_id_or_member_epoch, INT32, KFROM(1), KDEF(-1)),
	KF(S, member_id, STRING, KFROM(1)),
	KF(S, group_instance_id, STRING, KFROM(7), KNULL(7), KDNULL),
	KF(S, retention_time_ms, INT64, KV(2, 4), KDEF(-1)),
	KF(S, topics, ARRAY, KALL, KSUB(oc_topic_s)),
};
KSCHEMA(kafka_offset_commit_req_s, S, oc_req_f);
#undef S

#define S struct kafka_offset_commit_resp
static const struct kfield oc_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(3)),
	KF(S, topics, ARRAY, KALL, KSUB(topic_part_err_s)),
};
KSCHEMA(kafka_offset_commit_resp_s, S, oc_resp_f);
#undef S

/* ---- OffsetFetch ---- */

#define S struct kafka_offset_fetch_req_topic
static const struct kfield of_req_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partition_indexes, ARRAY, KALL, KSUB(kafka_int32_elem)),
};
static KSCHEMA(of_req_topic_s, S, of_req_topic_f);
#undef S

#define S struct kafka_offset_fetch_req_group
static const struct kfield of_req_group_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, member_id, STRING, KFROM(9), KNULL(9), KDNULL),
	KF(S, member_epoch, INT32, KFROM(9), KDEF(-1)),
	KF(S, topics, ARRAY, KALL, KNULL(8), KSUB(of_req_topic_s)),
};
static KSCHEMA(of_req_group_s, S, of_req_group_f);
#undef S

#define S struct kafka_offset_fetch_req
static const struct kfield of_req_f[] = {
	KF(S, group_id, STRING, KV(0, 7)),
	KF(S, topics, ARRAY, KV(0, 7), KNULL(2), KSUB(of_req_topic_s)),
	KF(S, groups, ARRAY, KFROM(8), KSUB(of_req_group_s)),
	KF(S, require_stable, BOOL, KFROM(7)),
};
KSCHEMA(kafka_offset_fetch_req_s, S, of_req_f);
#undef S

/* The partition shape is shared: leader epoch is v5-7 in topics, v8+ in groups. */
#define S struct kafka_offset_fetch_partition
static const struct kfield of_part_f[] = {
	KF(S, partition_index, INT32, KALL),
	KF(S, committed_offset, INT64, KALL),
	KF(S, committed_leader_epoch, INT32, KFROM(5), KDEF(-1)),
	KF(S, metadata, STRING, KALL, KNULL(0)),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(of_part_s, S, of_part_f);
#undef S

#define S struct kafka_offset_fetch_resp_topic
static const struct kfield of_resp_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(of_part_s)),
};
static KSCHEMA(of_resp_topic_s, S, of_resp_topic_f);
#undef S

#define S struct kafka_offset_fetch_resp_group
static const struct kfield of_resp_group_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(of_resp_topic_s)),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(of_resp_group_s, S, of_resp_group_f);
#undef S

#define S struct kafka_offset_fetch_resp
static const struct kfield of_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(3)),
	KF(S, topics, ARRAY, KV(0, 7), KSUB(of_resp_topic_s)),
	KF(S, error_code, INT16, KV(2, 7)),
	KF(S, groups, ARRAY, KFROM(8), KSUB(of_resp_group_s)),
};
KSCHEMA(kafka_offset_fetch_resp_s, S, of_resp_f);
#undef S

/* ---- OffsetDelete ---- */

#define S struct kafka_partition_index
static const struct kfield od_part_f[] = {
	KF(S, partition_index, INT32, KALL),
};
static KSCHEMA(od_part_s, S, od_part_f);
#undef S

#define S struct kafka_offset_delete_topic
static const struct kfield od_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(od_part_s)),
};
static KSCHEMA(od_topic_s, S, od_topic_f);
#undef S

#define S struct kafka_offset_delete_req
static const struct kfield od_req_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(od_topic_s)),
};
KSCHEMA(kafka_offset_delete_req_s, S, od_req_f);
#undef S

#define S struct kafka_offset_delete_resp
static const struct kfield od_resp_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(topic_part_err_s)),
};
KSCHEMA(kafka_offset_delete_resp_s, S, od_resp_f);
#undef S

/* ---- ListGroups ---- */

#define S struct kafka_list_groups_req
static const struct kfield lsg_req_f[] = {
	KF(S, states_filter, ARRAY, KFROM(4), KSUB(kafka_string_elem)),
	KF(S, types_filter, ARRAY, KFROM(5), KSUB(kafka_string_elem)),
};
KSCHEMA(kafka_list_groups_req_s, S, lsg_req_f);
#undef S

#define S struct kafka_listed_group
static const struct kfield lsg_group_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, protocol_type, STRING, KALL),
	KF(S, group_state, STRING, KFROM(4)),
	KF(S, group_type, STRING, KFROM(5)),
};
static KSCHEMA(lsg_group_s, S, lsg_group_f);
#undef S

#define S struct kafka_list_groups_resp
static const struct kfield lsg_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, error_code, INT16, KALL),
	KF(S, groups, ARRAY, KALL, KSUB(lsg_group_s)),
};
KSCHEMA(kafka_list_groups_resp_s, S, lsg_resp_f);
#undef S

/* ---- DescribeGroups ---- */

#define S struct kafka_describe_groups_req
static const struct kfield dg_req_f[] = {
	KF(S, groups, ARRAY, KALL, KSUB(kafka_string_elem)),
	KF(S, include_authorized_operations, BOOL, KFROM(3)),
};
KSCHEMA(kafka_describe_groups_req_s, S, dg_req_f);
#undef S

#define S struct kafka_described_member
static const struct kfield dg_member_f[] = {
	KF(S, member_id, STRING, KALL),
	KF(S, group_instance_id, STRING, KFROM(4), KNULL(4), KDNULL),
	KF(S, client_id, STRING, KALL),
	KF(S, client_host, STRING, KALL),
	KF(S, member_metadata, BYTES, KALL),
	KF(S, member_assignment, BYTES, KALL),
};
static KSCHEMA(dg_member_s, S, dg_member_f);
#undef S

#define S struct kafka_described_group
static const struct kfield dg_group_f[] = {
	KF(S, error_code, INT16, KALL),
	KF(S, group_id, STRING, KALL),
	KF(S, group_state, STRING, KALL),
	KF(S, protocol_type, STRING, KALL),
	KF(S, protocol_data, STRING, KALL),
	KF(S, members, ARRAY, KALL, KSUB(dg_member_s)),
	KF(S, authorized_operations, INT32, KFROM(3), KDEF(INT32_MIN)),
};
static KSCHEMA(dg_group_s, S, dg_group_f);
#undef S

#define S struct kafka_describe_groups_resp
static const struct kfield dg_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, groups, ARRAY, KALL, KSUB(dg_group_s)),
};
KSCHEMA(kafka_describe_groups_resp_s, S, dg_resp_f);
#undef S

/* ---- DeleteGroups ---- */

#define S struct kafka_delete_groups_req
static const struct kfield dlg_req_f[] = {
	KF(S, groups_names, ARRAY, KALL, KSUB(kafka_string_elem)),
};
KSCHEMA(kafka_delete_groups_req_s, S, dlg_req_f);
#undef S

#define S struct kafka_group_error
static const struct kfield dlg_result_f[] = {
	KF(S, group_id, STRING, KALL),
	KF(S, error_code, INT16, KALL),
};
static KSCHEMA(dlg_result_s, S, dlg_result_f);
#undef S

#define S struct kafka_delete_groups_resp
static const struct kfield dlg_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, results, ARRAY, KALL, KSUB(dlg_result_s)),
};
KSCHEMA(kafka_delete_groups_resp_s, S, dlg_resp_f);
#undef S
