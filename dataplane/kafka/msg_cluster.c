/*
 * msg_cluster.c - schema tables for BrokerRegistration. Tables list fields
 * in wire order, as in apache/kafka's JSON.
 */
#include "dataplane/kafka/msg_cluster.h"

#define S struct kafka_broker_registration_listener
static const struct kfield br_listener_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, host, STRING, KALL),
	KF(S, port, INT16, KALL),
	KF(S, security_protocol, INT16, KALL),
};
static KSCHEMA(br_listener_s, S, br_listener_f);
#undef S

#define S struct kafka_broker_registration_feature
static const struct kfield br_feature_f[] = {
	KF(S, name, STRING, KALL),
	KF(S, min_supported_version, INT16, KALL),
	KF(S, max_supported_version, INT16, KALL),
};
static KSCHEMA(br_feature_s, S, br_feature_f);
#undef S

#define S struct kafka_broker_registration_req
static const struct kfield br_req_f[] = {
	KF(S, broker_id, INT32, KALL),
	KF(S, cluster_id, STRING, KALL),
	KF(S, incarnation_id, UUID, KALL),
	KF(S, listeners, ARRAY, KALL, KSUB(br_listener_s)),
	KF(S, features, ARRAY, KALL, KSUB(br_feature_s)),
	KF(S, rack, STRING, KALL, KNULL(0), KDNULL),
};
KSCHEMA(kafka_broker_registration_req_s, S, br_req_f);
#undef S

#define S struct kafka_broker_registration_resp
static const struct kfield br_resp_f[] = {
	KF(S, throttle_time_ms, INT32, KALL),
	KF(S, error_code, INT16, KALL),
	KF(S, broker_epoch, INT64, KALL, KDEF(-1)),
};
KSCHEMA(kafka_broker_registration_resp_s, S, br_resp_f);
#undef S
