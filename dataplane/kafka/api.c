/*
 * api.c - the table of Kafka APIs sluice answers, indexed by api key, and
 * the generic decode/encode entry points that pick a schema from it.
 *
 * Owns: which versions are advertised. Ranges come from the "advertise"
 * column of kafka-api-versions.md. Where that note says "or X with flexible
 * versions" (OffsetFetch, ListGroups, InitProducerId) we take the wider
 * range, since this codec speaks flexible versions; InitProducerId 3+ lets
 * librdkafka's transactional producer recover (KIP-360).
 *
 * Produce goes to v12 (Kafka 4.0): transactions v2 (KIP-890) need it, and
 * the Java client uses them only with Produce v12, EndTxn v5 and the
 * finalized feature transaction.version 2 in ApiVersions. That makes
 * kafka-python 2.0.2 infer release 2.4 (its probe is Produce v8) instead
 * of 2.3; what it sends depends only on ">= (2, 1)" and older tests, so
 * nothing it sends changes (it never sends Produce above v7). The
 * transaction APIs are advertised at every version Kafka 4.0 has; none is
 * a kafka-python probe. IncrementalAlterConfigs and DescribeCluster are
 * not in that note: we advertise all of their versions.
 * The Java client (4.x) needs more than the three clients of that note:
 * CreateTopics v5+ (the partition count and configs of a new topic, which
 * AdminClient's CreateTopicsResult reads; v7 adds its id) and ListOffsets
 * v7 (OffsetSpec.maxTimestamp()); kafka-python 2.0.2's probe for 2.2 is
 * ListOffsets v5, but its probes for newer releases (Produce v8, Fetch
 * v11) come first. DescribeTopicPartitions (KIP-966) is what the Java
 * AdminClient's describeTopics and kafka-topics.sh --describe ask first
 * (it carries the topic ids, which Metadata below v10 does not).
 */
#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_admin.h"
#include "dataplane/kafka/msg_cluster.h"
#include "dataplane/kafka/msg_fetch.h"
#include "dataplane/kafka/msg_group.h"
#include "dataplane/kafka/msg_metadata.h"
#include "dataplane/kafka/msg_produce.h"
#include "dataplane/kafka/msg_txn.h"
#include "dataplane/kafka/msg_security.h"

#include <errno.h>

#define NF KAFKA_NOT_FLEXIBLE
#define API(k, nm, lo, hi, fl, smax, s)                                      \
	[k] = { k, nm, lo, hi, fl, smax, &kafka_##s##_req_s, &kafka_##s##_resp_s }

static const struct kafka_api apis[KAFKA_API_KEY_MAX + 1] = {
	/* key                            name       min max flex schema max */
	API(KAFKA_PRODUCE, "Produce", 3, 12, 9, 12, produce),
	API(KAFKA_FETCH, "Fetch", 4, 11, 12, 17, fetch),
	API(KAFKA_LIST_OFFSETS, "ListOffsets", 1, 7, 6, 10, list_offsets),
	API(KAFKA_METADATA, "Metadata", 0, 6, 9, 12, metadata),
	API(KAFKA_OFFSET_COMMIT, "OffsetCommit", 2, 7, 8, 9, offset_commit),
	API(KAFKA_OFFSET_FETCH, "OffsetFetch", 1, 7, 6, 9, offset_fetch),
	API(KAFKA_FIND_COORDINATOR, "FindCoordinator", 0, 2, 3, 6, find_coordinator),
	API(KAFKA_JOIN_GROUP, "JoinGroup", 0, 5, 6, 9, join_group),
	API(KAFKA_HEARTBEAT, "Heartbeat", 0, 3, 4, 4, heartbeat),
	API(KAFKA_LEAVE_GROUP, "LeaveGroup", 0, 3, 4, 5, leave_group),
	API(KAFKA_SYNC_GROUP, "SyncGroup", 0, 3, 4, 5, sync_group),
	API(KAFKA_DESCRIBE_GROUPS, "DescribeGroups", 0, 4, 5, 5, describe_groups),
	API(KAFKA_LIST_GROUPS, "ListGroups", 0, 4, 3, 5, list_groups),
	API(KAFKA_SASL_HANDSHAKE, "SaslHandshake", 0, 1, NF, 1, sasl_handshake),
	API(KAFKA_API_VERSIONS, "ApiVersions", 0, 3, 3, 4, api_versions),
	API(KAFKA_CREATE_TOPICS, "CreateTopics", 0, 7, 5, 7, create_topics),
	API(KAFKA_DELETE_TOPICS, "DeleteTopics", 0, 3, 4, 6, delete_topics),
	API(KAFKA_DELETE_RECORDS, "DeleteRecords", 0, 1, 2, 2, delete_records),
	API(KAFKA_INIT_PRODUCER_ID, "InitProducerId", 0, 5, 2, 5, init_producer_id),
	/* replication (dataplane/handle_replica.c); Kafka 2.3 had v0-3 */
	API(KAFKA_OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch", 0, 3, 4, 3,
	    offset_for_leader_epoch),
	API(KAFKA_ADD_PARTITIONS_TO_TXN, "AddPartitionsToTxn", 0, 5, 3, 5, add_partitions_to_txn),
	API(KAFKA_ADD_OFFSETS_TO_TXN, "AddOffsetsToTxn", 0, 4, 3, 4, add_offsets_to_txn),
	API(KAFKA_END_TXN, "EndTxn", 0, 5, 3, 5, end_txn),
	API(KAFKA_WRITE_TXN_MARKERS, "WriteTxnMarkers", 0, 1, 1, 1, write_txn_markers),
	API(KAFKA_TXN_OFFSET_COMMIT, "TxnOffsetCommit", 0, 5, 3, 5, txn_offset_commit),
	API(KAFKA_DESCRIBE_ACLS, "DescribeAcls", 0, 1, 2, 2, describe_acls),
	API(KAFKA_CREATE_ACLS, "CreateAcls", 0, 1, 2, 2, create_acls),
	API(KAFKA_DELETE_ACLS, "DeleteAcls", 0, 1, 2, 2, delete_acls),
	API(KAFKA_DESCRIBE_CONFIGS, "DescribeConfigs", 0, 2, 4, 4, describe_configs),
	API(KAFKA_ALTER_CONFIGS, "AlterConfigs", 0, 1, 2, 2, alter_configs),
	API(KAFKA_SASL_AUTHENTICATE, "SaslAuthenticate", 0, 1, 2, 2, sasl_authenticate),
	API(KAFKA_CREATE_PARTITIONS, "CreatePartitions", 0, 1, 2, 3, create_partitions),
	API(KAFKA_DELETE_GROUPS, "DeleteGroups", 0, 1, 2, 2, delete_groups),
	/* replication (dataplane/handle_replica.c): on the controller */
	API(KAFKA_ELECT_LEADERS, "ElectLeaders", 0, 2, 2, 2, elect_leaders),
	API(KAFKA_INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs", 0, 1, 1, 1,
	    incr_alter_configs),
	/* replication (dataplane/handle_reassign.c): on the controller, v0 as
	 * Kafka 3.x; Kafka 4.1's v1 only adds allowReplicationFactorChange */
	API(KAFKA_ALTER_PARTITION_REASSIGNMENTS, "AlterPartitionReassignments", 0, 0, 0, 0,
	    alter_reassignments),
	API(KAFKA_LIST_PARTITION_REASSIGNMENTS, "ListPartitionReassignments", 0, 0, 0, 0,
	    list_reassignments),
	API(KAFKA_OFFSET_DELETE, "OffsetDelete", 0, 0, NF, 0, offset_delete),
	API(KAFKA_DESCRIBE_USER_SCRAM_CREDENTIALS, "DescribeUserScramCredentials", 0, 0, 0, 0,
	    describe_scram),
	API(KAFKA_ALTER_USER_SCRAM_CREDENTIALS, "AlterUserScramCredentials", 0, 0, 0, 0,
	    alter_scram),
	API(KAFKA_DESCRIBE_CLUSTER, "DescribeCluster", 0, 1, 0, 1, describe_cluster),
	API(KAFKA_DESCRIBE_PRODUCERS, "DescribeProducers", 0, 0, 0, 0, describe_producers),
	/* between sluice nodes (dataplane/handle_cluster.c) */
	API(KAFKA_ALTER_PARTITION, "AlterPartition", 0, 1, 0, 1, alter_partition),
	API(KAFKA_BROKER_REGISTRATION, "BrokerRegistration", 0, 0, 0, 0,
	    broker_registration),
	API(KAFKA_DESCRIBE_TRANSACTIONS, "DescribeTransactions", 0, 0, 0, 0, describe_transactions),
	API(KAFKA_LIST_TRANSACTIONS, "ListTransactions", 0, 1, 0, 1, list_transactions),
	API(KAFKA_DESCRIBE_TOPIC_PARTITIONS, "DescribeTopicPartitions", 0, 0, 0, 0, dtp),
};

const struct kafka_api *kafka_api_find(int16_t key)
{
	if (key < 0 || key > KAFKA_API_KEY_MAX || !apis[key].name)
		return NULL;
	return &apis[key];
}

const struct kafka_api *kafka_api_next(int *i)
{
	while (*i >= 0 && *i <= KAFKA_API_KEY_MAX) {
		const struct kafka_api *a = &apis[(*i)++];
		if (a->name)
			return a;
	}
	return NULL;
}

bool kafka_api_is_flexible(int16_t key, int16_t version)
{
	const struct kafka_api *a = kafka_api_find(key);
	return a && version >= a->flex;
}

bool kafka_api_supported(int16_t key, int16_t version)
{
	const struct kafka_api *a = kafka_api_find(key);
	return a && version >= a->min && version <= a->max;
}

static const struct kafka_api *api_for(int16_t key, int16_t version)
{
	const struct kafka_api *a = kafka_api_find(key);

	if (!a || version < 0 || version > a->schema_max)
		return NULL;
	return a;
}

static int decode(struct kreader *r, int16_t key, int16_t version, bool resp,
		  struct kafka_arena *ar, void **out)
{
	const struct kafka_api *a = api_for(key, version);
	const struct kschema *s;

	*out = NULL;
	if (!a)
		return -ENOTSUP;
	s = resp ? a->resp : a->req;
	*out = kafka_arena_alloc(ar, s->size);
	if (!*out)
		return -ENOMEM;
	return kafka_decode(r, s, version, version >= a->flex, ar, *out);
}

int kafka_request_decode(struct kreader *r, int16_t key, int16_t version,
			 struct kafka_arena *a, void **out)
{
	return decode(r, key, version, false, a, out);
}

int kafka_response_decode(struct kreader *r, int16_t key, int16_t version,
			  struct kafka_arena *a, void **out)
{
	return decode(r, key, version, true, a, out);
}

static int encode(struct kwriter *w, int16_t key, int16_t version, bool resp,
		  const void *obj)
{
	const struct kafka_api *a = api_for(key, version);

	if (!a)
		return -ENOTSUP;
	return kafka_encode(w, resp ? a->resp : a->req, version, version >= a->flex, obj);
}

int kafka_request_encode(struct kwriter *w, int16_t key, int16_t version, const void *req)
{
	return encode(w, key, version, false, req);
}

int kafka_response_encode(struct kwriter *w, int16_t key, int16_t version, const void *resp)
{
	return encode(w, key, version, true, resp);
}

#define TXN_VERSION { "transaction.version", sizeof("transaction.version") - 1 }

int kafka_api_versions_reply(struct kwriter *w, int32_t correlation_id,
			     int16_t req_version, int32_t throttle_ms,
			     bool (*served)(int16_t key))
{
	struct kafka_api_version keys[KAFKA_API_KEY_MAX + 1];
	struct kafka_api_versions_resp resp;
	const struct kafka_api *a;
	int i = 0, n = 0;

	kafka_defaults(&kafka_api_versions_resp_s, &resp);
	while ((a = kafka_api_next(&i)))
		if (!served || served(a->key))
			keys[n++] = (struct kafka_api_version){ a->key, a->min, a->max };
	resp.api_keys.v = keys;
	resp.api_keys.n = n;
	resp.throttle_time_ms = throttle_ms;
	/* Transactions v2 (KIP-890) are on: clients that know them (Java 4.x)
	 * use them, the others use v1 (KIP-584's finalized features). */
	static const struct kafka_supported_feature sf[] = { { TXN_VERSION, 0, 2 } };
	static const struct kafka_finalized_feature ff[] = { { TXN_VERSION, 2, 2 } };
	resp.supported_features.v = (struct kafka_supported_feature *)sf;
	resp.supported_features.n = 1;
	resp.finalized_features.v = (struct kafka_finalized_feature *)ff;
	resp.finalized_features.n = 1;
	resp.finalized_features_epoch = 1;
	if (!kafka_api_supported(KAFKA_API_VERSIONS, req_version)) {
		resp.error_code = KAFKA_ERR_UNSUPPORTED_VERSION;
		req_version = 0;        /* the one body every client can read */
	}

	struct kafka_frame f = kafka_response_begin(w, KAFKA_API_VERSIONS, req_version,
						    correlation_id);
	kafka_response_encode(w, KAFKA_API_VERSIONS, req_version, &resp);
	return kafka_response_end(w, f);
}
