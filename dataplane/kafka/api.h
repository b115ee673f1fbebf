/*
 * api.h - the Kafka APIs sluice speaks: key, name, advertised version
 * range, first flexible version and the request/response schemas.
 *
 * The advertised ranges follow /work/shared/kafka-api-versions.md
 * ("advertise" column, widened to the flexible versions where the note says
 * so) and stay consistent with one Kafka release (2.3 as kafka-python
 * infers it from Fetch v11 without Produce v8 or DescribeAcls v2).
 */
#ifndef SLUICE_KAFKA_API_H
#define SLUICE_KAFKA_API_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/kafka/codec.h"

struct kschema;
struct kafka_arena;

enum kafka_api_key {
	KAFKA_PRODUCE = 0,
	KAFKA_FETCH = 1,
	KAFKA_LIST_OFFSETS = 2,
	KAFKA_METADATA = 3,
	KAFKA_OFFSET_COMMIT = 8,
	KAFKA_OFFSET_FETCH = 9,
	KAFKA_FIND_COORDINATOR = 10,
	KAFKA_JOIN_GROUP = 11,
	KAFKA_HEARTBEAT = 12,
	KAFKA_LEAVE_GROUP = 13,
	KAFKA_SYNC_GROUP = 14,
	KAFKA_DESCRIBE_GROUPS = 15,
	KAFKA_LIST_GROUPS = 16,
	KAFKA_SASL_HANDSHAKE = 17,
	KAFKA_API_VERSIONS = 18,
	KAFKA_CREATE_TOPICS = 19,
	KAFKA_DELETE_TOPICS = 20,
	KAFKA_DELETE_RECORDS = 21,
	KAFKA_INIT_PRODUCER_ID = 22,
	KAFKA_OFFSET_FOR_LEADER_EPOCH = 23,
	KAFKA_ADD_PARTITIONS_TO_TXN = 24,
	KAFKA_ADD_OFFSETS_TO_TXN = 25,
	KAFKA_END_TXN = 26,
	KAFKA_WRITE_TXN_MARKERS = 27,
	KAFKA_TXN_OFFSET_COMMIT = 28,
	KAFKA_DESCRIBE_ACLS = 29,
	KAFKA_CREATE_ACLS = 30,
	KAFKA_DELETE_ACLS = 31,
	KAFKA_DESCRIBE_CONFIGS = 32,
	KAFKA_ALTER_CONFIGS = 33,
	KAFKA_SASL_AUTHENTICATE = 36,
	KAFKA_CREATE_PARTITIONS = 37,
	KAFKA_DELETE_GROUPS = 42,
	KAFKA_ELECT_LEADERS = 43,
	KAFKA_INCREMENTAL_ALTER_CONFIGS = 44,
	KAFKA_ALTER_PARTITION_REASSIGNMENTS = 45,
	KAFKA_LIST_PARTITION_REASSIGNMENTS = 46,
	KAFKA_OFFSET_DELETE = 47,
	KAFKA_DESCRIBE_USER_SCRAM_CREDENTIALS = 50,
	KAFKA_ALTER_USER_SCRAM_CREDENTIALS = 51,
	KAFKA_ALTER_PARTITION = 56,
	KAFKA_DESCRIBE_CLUSTER = 60,
	KAFKA_DESCRIBE_PRODUCERS = 61,
	KAFKA_BROKER_REGISTRATION = 62,
	KAFKA_DESCRIBE_TRANSACTIONS = 65,
	KAFKA_LIST_TRANSACTIONS = 66,
	KAFKA_DESCRIBE_TOPIC_PARTITIONS = 75,
	KAFKA_API_KEY_MAX = 75,
};

/* Kafka error codes the codec layer itself produces. */
#define KAFKA_ERR_NONE 0
#define KAFKA_ERR_CORRUPT_MESSAGE 2
#define KAFKA_ERR_UNSUPPORTED_VERSION 35
#define KAFKA_ERR_INVALID_REQUEST 42

#define KAFKA_NOT_FLEXIBLE 0x7fff

struct kafka_api {
	int16_t key;
	const char *name;
	int16_t min, max;       /* advertised in ApiVersions */
	int16_t flex;           /* first flexible version; KAFKA_NOT_FLEXIBLE */
	int16_t schema_max;     /* highest version the schemas describe */
	const struct kschema *req, *resp;
};

const struct kafka_api *kafka_api_find(int16_t key);     /* NULL if unknown */
bool kafka_api_is_flexible(int16_t key, int16_t version);
bool kafka_api_supported(int16_t key, int16_t version);  /* advertised */
/* Iterate: *i starts at 0; returns NULL at the end. */
const struct kafka_api *kafka_api_next(int *i);

/*
 * Decode the body of request (key, version) from r into a struct allocated
 * from the arena (*out). Any version the schemas describe is accepted; the
 * caller checks kafka_api_supported(). Trailing bytes are left in r.
 * Returns 0, -EBADMSG, -ENOMEM or -ENOTSUP (unknown key or version).
 */
int kafka_request_decode(struct kreader *r, int16_t key, int16_t version,
			 struct kafka_arena *a, void **out);
int kafka_response_decode(struct kreader *r, int16_t key, int16_t version,
			  struct kafka_arena *a, void **out);
int kafka_request_encode(struct kwriter *w, int16_t key, int16_t version, const void *req);
int kafka_response_encode(struct kwriter *w, int16_t key, int16_t version, const void *resp);

/*
 * A whole ApiVersions response frame (length, header v0, body) listing the
 * table: only the keys served() accepts when served is not NULL, since a
 * broker advertises only what it answers. A request version above our max
 * gets the v0 body with error UNSUPPORTED_VERSION (35) and the full list,
 * as Kafka does (KIP-511).
 */
int kafka_api_versions_reply(struct kwriter *w, int32_t correlation_id,
			     int16_t req_version, int32_t throttle_ms,
			     bool (*served)(int16_t key));

#endif
