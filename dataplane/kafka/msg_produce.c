/*
 * msg_produce.c - schema tables for Produce, and the
 * shared LeaderIdAndEpoch / NodeEndpoint structs. Tables list fields in
 * wire order (tagged fields in tag order), as in apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_produce.h"

#define S struct kafka_leader_epoch
static const struct kfield leader_epoch_f[] = {
	KF(S, leader_id, INT32, KALL, KDEF(-1)),
	KF(S, leader_epoch, INT32, KALL, KDEF(-1)),
};
KSCHEMA(kafka_leader_epoch_s, S, leader_epoch_f);
#undef S

#define S struct kafka_node_endpoint
static const struct kfield node_endpoint_f[] = {
	KF(S, node_id, INT32, KALL),
	KF(S, host, STRING, KALL),
	KF(S, port, INT32, KALL),
	KF(S, rack, STRING, KALL, KNULL(0), KDNULL),
};
KSCHEMA(kafka_node_endpoint_s, S, node_endpoint_f);
#undef S

/* ---- Produce request ---- */

#define S struct kafka_produce_req_partition
static const struct kfield produce_req_part_f[] = {
	KF(S, index, INT32, KALL),
	KF(S, records, RECORDS, KALL, KNULL(0)),
};
static KSCHEMA(produce_req_part_s, S, produce_req_part_f);
#undef S

#define S struct kafka_produce_req_topic
static const struct kfield produce_req_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(produce_req_part_s)),
};
static KSCHEMA(produce_req_topic_s, S, produce_req_topic_f);
#undef S

#define S struct kafka_produce_req
static const struct kfield produce_req_f[] = {
	KF(S, transactional_id, STRING, KFROM(3), KNULL(3), KDNULL),
	KF(S, acks, INT16, KALL),
	KF(S, timeout_ms, INT32, KALL),
	KF(S, topics, ARRAY, KALL, KSUB(produce_req_topic_s)),
};
KSCHEMA(kafka_produce_req_s, S, produce_req_f);
#undef S

/* ---- Produce response ---- */

#define S struct kafka_produce_record_error
static const struct kfield produce_rec_err_f[] = {
	KF(S, batch_index, INT32, KFROM(8)),
	KF(S, message, STRING, KFROM(8), KNULL(8), KDNULL),
};
static KSCHEMA(produce_rec_err_s, S, produce_rec_err_f);
#undef S

#define S struct kafka_produce_resp_partition
static const struct kfield produce_resp_part_f[] = {
	KF(S, index, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, base_offset, INT64, KALL),
	KF(S, log_append_time_ms, INT64, KFROM(2), KDEF(-1)),
	KF(S, log_start_offset, INT64, KFROM(5), KDEF(-1)),
	KF(S, record_errors, ARRAY, KFROM(8), KSUB(produce_rec_err_s)),
	KF(S, error_message, STRING, KFROM(8), KNULL(8), KDNULL),
	KF(S, current_leader, STRUCT, KFROM(10), KTAG(0), KSUB(kafka_leader_epoch_s)),
};
KSCHEMA(kafka_produce_resp_partition_s, S, produce_resp_part_f);
#undef S

#define S struct kafka_produce_resp_topic
static const struct kfield produce_resp_topic_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, partitions, ARRAY, KALL, KSUB(kafka_produce_resp_partition_s)),
};
static KSCHEMA(produce_resp_topic_s, S, produce_resp_topic_f);
#undef S

#define S struct kafka_produce_resp
static const struct kfield produce_resp_f[] = {
	KF(S, responses, ARRAY, KALL, KSUB(produce_resp_topic_s)),
	KF(S, throttle_time_ms, INT32, KFROM(1)),
	KF(S, node_endpoints, ARRAY, KFROM(10), KTAG(0), KSUB(kafka_node_endpoint_s)),
};
KSCHEMA(kafka_produce_resp_s, S, produce_resp_f);
#undef S
