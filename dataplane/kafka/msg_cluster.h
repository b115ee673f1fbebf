/*
 * msg_cluster.h - the messages between sluice nodes as C structs:
 * BrokerRegistration (62), with which a node registers its brokers (one
 * per shard) with the controller leader. Field names and versions follow
 * apache/kafka's message JSON; tables in msg_cluster.c.
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

extern const struct kschema kafka_broker_registration_req_s;
extern const struct kschema kafka_broker_registration_resp_s;

#endif
