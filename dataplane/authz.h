/* authz.h - authorising a request on its shard: the connection's
 * principal and host checked against the ACL snapshot inside the shard's
 * current metadata snapshot (security/acl.h), with no lock and no
 * allocation. Handlers call these where Kafka's KafkaApis authorises;
 * without authorizer.class.name every check allows (one branch).
 *
 * A denial is counted (sluice_authorization_denied_total) and logged,
 * at most one line a second per shard with the count of those not
 * logged: "authorization denied principal=... host=... operation=...
 * resource=TOPIC:name". */
#ifndef SLUICE_DATAPLANE_AUTHZ_H
#define SLUICE_DATAPLANE_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "dataplane/kafka/schema.h"
#include "security/acl.h"

struct request;

/* Kafka's authorisation errors. */
enum authz_error {
    KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    KERR_GROUP_AUTHORIZATION_FAILED = 30,
    KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    KERR_SECURITY_DISABLED = 54,
};

/* An authorizer is configured (the ACL APIs work). */
bool authz_enabled(const struct request *rq);
/* May rq's principal do op on (type, name[0..len))? */
bool authz_allow(struct request *rq, int op, int type, const char *name, size_t len);
/* The same, without counting or logging a denial (Metadata hiding a
 * topic, ListGroups leaving a group out: no error is returned). */
bool authz_quiet(const struct request *rq, int op, int type, const char *name, size_t len);

static inline bool authz_topic(struct request *rq, int op, struct kstr name)
{
    return authz_allow(rq, op, ACL_RES_TOPIC, name.p, name.len > 0 ? (size_t)name.len : 0);
}

static inline bool authz_cluster(struct request *rq, int op)
{
    return authz_allow(rq, op, ACL_RES_CLUSTER, ACL_CLUSTER_NAME, sizeof ACL_CLUSTER_NAME - 1);
}

bool authz_group(struct request *rq, int op, struct kstr group);
bool authz_txn_id(struct request *rq, int op, struct kstr id);

/* Kafka: CREATE on the cluster, or on the topic (CreateTopics, Metadata's
 * auto-creation). */
bool authz_may_create_topic(struct request *rq, struct kstr name);
/* DescribeConfigs/AlterConfigs of a resource (CTL_RESOURCE_TOPIC 2: the
 * topic; BROKER 4: the cluster) with op: 0, or TOPIC_ or
 * CLUSTER_AUTHORIZATION_FAILED. */
int16_t authz_config_resource(struct request *rq, int8_t type, struct kstr name, int op);

/* The error for one partition of topic in a Produce (WRITE; and WRITE on
 * its transactional id), Fetch (READ; CLUSTER_ACTION for a follower),
 * ListOffsets or OffsetForLeaderEpoch (DESCRIBE) or DeleteRecords
 * (DELETE): 0 when allowed. Called first by each handler's route, so an
 * unauthorised topic is never told to exist (Kafka's order). */
int16_t authz_partition(struct request *rq, struct kstr topic);

/* Handles rq at once when its API is authorised as a whole and rq may
 * not: answers the API's error and returns true. Called by
 * request_dispatch before the handler. */
bool authz_request(struct request *rq);

#endif
