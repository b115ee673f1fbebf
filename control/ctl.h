/* ctl.h - the messages between shards and the control thread.
 *
 * Each shard has a pair of SPSC rings with the control thread
 * (numa/ring.h) carrying pointers to struct ctl_msg. A message is
 * owned by whoever holds it: a request a shard posts (CTL_CREATE_TOPICS,
 * ...) is answered in place by the control thread and posted back; a
 * command the control thread posts (CTL_PARTITION_OPEN, ...) is carried
 * out by the shard and posted back as its acknowledgement. Nothing else
 * is shared between the threads, and no wire bytes cross: a shard decodes
 * a Kafka request into these plain structs and encodes the answer. */
#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/metadata.h"
#include "storage/log.h"
#include "metrics/shard_metrics.h"
#include "security/acl.h"

enum ctl_op {
    /* shard -> control, answered in place */
    CTL_CREATE_TOPICS = 1,
    CTL_DELETE_TOPICS,
    CTL_CREATE_PARTITIONS,
    CTL_DESCRIBE_CONFIGS,
    CTL_ALTER_CONFIGS,
    CTL_JOIN_GROUP,           /* control/groups.c: held until the */
    CTL_SYNC_GROUP,           /* rebalance (or the leader's sync) */
    CTL_HEARTBEAT,
    CTL_LEAVE_GROUP,
    CTL_LIST_GROUPS,
    CTL_DESCRIBE_GROUPS,
    CTL_DELETE_GROUPS,
    CTL_OFFSET_COMMIT,        /* control/offsets.c: held until durable */
    CTL_OFFSET_FETCH,
    CTL_OFFSET_DELETE,        /* held until durable */
    CTL_CLEANER_STATS,        /* a log's compaction figures, for
                                 DescribeConfigs (control/cleaner_stats.c);
                                 returned to be freed */
    CTL_PARTITION_FAULT,      /* a partition went offline for a disk fault,
                                 or left (control/part_faults.c); returned
                                 to be freed */
    CTL_REGISTER_NODE,        /* control/cluster.c: a node's registration,
                                 answered once committed */
    CTL_STATS,                /* the ops thread: every shard's metrics,
                                 aggregated (control/stats.c) */
    CTL_ALTER_PARTITION,      /* control/replication.c: a leader's ISR change
                                 (AlterPartition), answered once committed;
                                 from a shard's own replicas (local) or
                                 from another node's request */
    CTL_ELECT_LEADERS,        /* control/replication.c: ElectLeaders on the
                                 controller, answered once committed */
    CTL_REASSIGN,             /* control/replication.c: AlterPartition-
                                 Reassignments, answered once committed */
    CTL_INIT_PRODUCER_ID,     /* control/txn.c: held until durable */
    CTL_ADD_PARTITIONS_TO_TXN, /* also a produce's verification */
    CTL_ADD_OFFSETS_TO_TXN,
    CTL_END_TXN,              /* held until the markers are durable */
    CTL_TXN_OFFSET_COMMIT,    /* control/offsets.c, checked by txn.c */
    CTL_LIST_TXNS,
    CTL_DESCRIBE_TXNS,
    CTL_SASL_LOOKUP,          /* control/users.c: a SCRAM credential, or a */
    CTL_USERS_DESCRIBE,       /* PLAIN password checked; credentials */
    CTL_USERS_ALTER,          /* described, altered (answered once durable) */
    CTL_ACLS_CREATE,          /* control/acls.c: CreateAcls and DeleteAcls, */
    CTL_ACLS_DELETE,          /* answered once committed and published */
    /* control -> shard, acknowledged in place */
    CTL_PARTITION_OPEN,
    CTL_PARTITION_DELETE,     /* close the log if open and remove
                                 DIR/<topic>-<partition>; an absent
                                 directory is not an error (result 0) */
    CTL_PARTITION_CONFIG,     /* a topic's configs changed */
    CTL_METADATA_UPDATE,
    CTL_SHUTDOWN,
    CTL_REGISTER_SEND,        /* to shard 0: send our registration to the
                                 controller leader (dataplane/handle_cluster.c) */
    CTL_SHARD_STATS,          /* copy the shard's counters into the arena */
    CTL_PARTITION_STATE,      /* this node's replica of a partition: its
                                 leader, epochs, replicas and ISR changed
                                 (dataplane/replica.c) */
    CTL_TXN_MARKER,           /* write a commit/abort marker; answered
                                 once it is durable (dataplane/handle_txn.c) */
    CTL_PRODUCER_ID_LIMIT,    /* producer ids below this were handed out */
};

/* Kafka error codes admin answers carry, beyond storage/kerr.h. */
enum ctl_kafka_error {
    KERR_INVALID_TOPIC_EXCEPTION = 17,
    KERR_NOT_ENOUGH_REPLICAS = 19,
    KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    KERR_TOPIC_ALREADY_EXISTS = 36,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_REPLICATION_FACTOR = 38,
    KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    KERR_INVALID_CONFIG = 40,
    KERR_NOT_CONTROLLER = 41,
    KERR_INVALID_REQUEST = 42,
    KERR_POLICY_VIOLATION = 44,
    KERR_REASSIGNMENT_IN_PROGRESS = 60,
    KERR_TOPIC_DELETION_DISABLED = 73,
    KERR_FENCED_LEADER_EPOCH = 74,
    KERR_UNKNOWN_LEADER_EPOCH = 75,
    KERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    KERR_ELECTION_NOT_NEEDED = 84,
    KERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
    KERR_UNKNOWN_TOPIC_ID = 100,
    KERR_INCONSISTENT_CLUSTER_ID = 104,
    KERR_INELIGIBLE_REPLICA = 107,
    KERR_INVALID_UPDATE_VERSION = 108,
};

/* Results and strings a control answer needs live in an arena the
 * requester provides with the message (no malloc crossing threads). */
struct ctl_arena {
    uint8_t *buf;
    size_t len, cap;
};

void *ctl_arena_alloc(struct ctl_arena *a, size_t n); /* zeroed; NULL if full */
char *ctl_arena_strdup(struct ctl_arena *a, const char *s, size_t len);

struct ctl_config_entry {
    const char *name;
    const char *value;         /* NULL: null value */
    int8_t op;                 /* IncrementalAlterConfigs: 0 SET, 1 DELETE,
                                  2 APPEND, 3 SUBTRACT; AlterConfigs: 0 */
};

/* A manual replica assignment of one partition: the node ids (a shard is
 * a broker to clients) it should live on, as the request gave them. */
struct ctl_assignment {
    int32_t partition;         /* CreateTopics: its index; else unused */
    int nbrokers;
    const int32_t *brokers;    /* a view of the decoded request */
};

struct ctl_topic_spec {
    const char *name;
    int32_t num_partitions;    /* -1: num.partitions */
    int16_t replication_factor; /* -1: default; anything but 1 is refused */
    int nassignments;          /* 0: placed by sluice */
    const struct ctl_assignment *assignments;
    int nconfigs;
    struct ctl_config_entry *configs;
    /* answer */
    int16_t error;             /* Kafka error code; a spec the shard already
                                  failed (error != 0) is left untouched */
    const char *error_message; /* NULL or in the arena */
    uint8_t topic_id[16];
    int32_t out_partitions;
    int nresults;              /* the topic's configs, when want_configs */
    struct config_desc *results; /* values in the arena */
};

struct ctl_create_topics {
    int ntopics;
    struct ctl_topic_spec *topics;
    bool validate_only;
    bool auto_create;          /* from Metadata/Produce auto-creation */
    bool want_configs;         /* CreateTopics v5+: answer every config */
};

struct ctl_delete_topics {
    int ntopics;
    const char **names;        /* NULL, or errors[i] != 0: skipped */
    int16_t *errors;           /* answer, ntopics entries */
    uint8_t (*topic_ids)[16];  /* answer if not NULL: the deleted ids */
};

struct ctl_create_partitions {
    int ntopics;
    const char **names;
    int32_t *counts;           /* new total per topic; entries whose
                                  errors[i] the shard set are skipped */
    int *nassignments;         /* per topic: -1 none, else one per new
                                  partition expected */
    const struct ctl_assignment **assignments;
    bool validate_only;
    int16_t *errors;           /* answer */
    const char **error_messages; /* answer, NULL or in the arena */
};

enum ctl_resource_type {
    CTL_RESOURCE_TOPIC = 2,
    CTL_RESOURCE_BROKER = 4,
};

struct ctl_config_resource {
    int8_t type;               /* enum ctl_resource_type */
    const char *name;
    int nkeys;                 /* -1 (or 0): all */
    const char **keys;
    int nconfigs;              /* AlterConfigs input */
    struct ctl_config_entry *configs;
    /* answer */
    int16_t error;
    const char *error_message;
    int nresults;              /* DescribeConfigs */
    struct config_desc *results;
};

struct ctl_configs {
    int nresources;
    struct ctl_config_resource *resources;
    bool incremental;          /* IncrementalAlterConfigs */
    bool validate_only;
    bool synonyms;             /* DescribeConfigs include_synonyms */
};

/* A partition as this node's replica of it needs to know it: who leads
 * (the shard leads when leader == broker), the epochs, the replicas and
 * the in-sync ones (md_partition's), and min.insync.replicas. */
struct ctl_replica_state {
    int32_t broker;            /* this node's replica: its shard's broker id */
    int32_t leader;            /* -1: none */
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t nreplicas, nisr;
    int32_t replicas[MD_REPLICAS_MAX];
    int32_t isr[MD_REPLICAS_MAX];
    int32_t min_insync;
};

struct ctl_partition_cmd {
    const char *topic;
    int32_t partition;
    struct log_config config;
    struct ctl_replica_state state; /* OPEN and STATE */
    int result;                /* 0 or negative errno, set by the shard */
};

/* --- consumer groups (control/groups.c) --- */

struct ctl_bytes {
    const uint8_t *p;
    int32_t len;               /* -1: null */
};

struct ctl_group_protocol {
    const char *name;
    struct ctl_bytes metadata;
};

/* A member as an answer lists it (JoinGroup's leader, DescribeGroups), or
 * an input (SyncGroup's assignments, LeaveGroup's members). */
struct ctl_group_member {
    const char *member_id;
    const char *instance_id;   /* NULL: not static */
    const char *client_id;
    const char *client_host;
    struct ctl_bytes metadata;
    struct ctl_bytes assignment;
};

struct ctl_join_group {
    const char *group_id, *member_id, *instance_id, *protocol_type;
    const char *client_id, *client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    bool require_known_member; /* v4+: MEMBER_ID_REQUIRED round trip */
    int nprotocols;
    struct ctl_group_protocol *protocols;
    /* answer, strings and bytes in the arena */
    int16_t error;
    int32_t generation;
    const char *protocol_name, *leader, *assigned_member_id;
    int nmembers;              /* the leader's answer only */
    struct ctl_group_member *members;
};

struct ctl_sync_group {
    const char *group_id, *member_id, *instance_id;
    int32_t generation;
    int nassignments;          /* the leader's */
    struct ctl_group_member *assignments;
    /* answer */
    int16_t error;
    const char *protocol_type, *protocol_name;
    struct ctl_bytes assignment;
};

struct ctl_heartbeat {
    const char *group_id, *member_id, *instance_id;
    int32_t generation;
    int16_t error;             /* answer */
};

struct ctl_leave_group {
    const char *group_id;
    int nmembers;              /* v0-2: one, instance_id NULL */
    struct ctl_group_member *members;
    int16_t *errors;           /* answer, nmembers entries */
    int16_t error;             /* answer, top level */
};

struct ctl_listed_group {
    const char *group_id, *protocol_type, *state;
};

struct ctl_list_groups {
    int nstates;               /* v4 filter; 0: all */
    const char **states;
    /* answer, in the arena */
    int16_t error;
    int ngroups;
    struct ctl_listed_group *groups;
};

struct ctl_described_group {
    int16_t error;
    const char *state, *protocol_type, *protocol;
    int nmembers;
    struct ctl_group_member *members;
};

struct ctl_describe_groups {
    int ngroups;
    const char **group_ids;
    struct ctl_described_group *groups; /* answer, ngroups entries */
};

struct ctl_delete_groups {
    int ngroups;
    const char **group_ids;
    int16_t *errors;           /* answer, ngroups entries */
};

/* --- committed offsets (control/offsets.c) --- */

struct ctl_offset_partition {
    int32_t partition;
    int64_t offset;            /* commit: input; fetch: answer, -1 none */
    int32_t leader_epoch;      /* -1: none */
    const char *metadata;      /* NULL: null; fetch: answer, in the arena */
    int32_t metadata_len;
    int16_t error;             /* answer; one the shard set is skipped */
};

struct ctl_offset_topic {
    const char *name;
    int npartitions;
    struct ctl_offset_partition *partitions;
};

/* OffsetCommit, OffsetFetch and OffsetDelete. A fetch with ntopics -1
 * asks for every partition the group has offsets for: the answer's
 * topics are then in the arena (need > 0: the arena was too small, ask
 * again with need bytes). */
struct ctl_offsets {
    const char *group_id, *member_id, *instance_id;  /* commit: ids */
    const char *txn_id;        /* TxnOffsetCommit: the transaction, */
    int64_t pid;               /* its producer and epoch */
    int16_t epoch;
    bool txn_implicit;         /* TxnOffsetCommit v5+: adds the group */
    bool require_stable;       /* OffsetFetch v7+: pending ones answer
                                  UNSTABLE_OFFSET_COMMIT */
    int32_t generation;        /* commit: -1 for a simple consumer */
    int64_t retention_ms;      /* commit v2-4; -1: the broker's */
    int ntopics;
    struct ctl_offset_topic *topics;
    /* answer */
    int16_t error;             /* top level: every partition has it too */
    size_t need;
};

/* The topic name is in the message's arena (the message is the shard's
 * malloc, freed when it comes back). */
struct ctl_cleaner_stats {
    const char *topic;
    int32_t partition;
    struct log_clean_info info;
};

/* A partition of the sending shard went offline for a disk fault
 * (storage/log_fault.c), or, cleared, an offline one was deleted. The
 * topic name and the reason are in the message's own allocation, as for
 * cleaner stats. */
#define CTL_FAULT_REASON_MAX 512
struct ctl_partition_fault {
    const char *topic;
    const char *reason;        /* "file=... op=... errno=N error=..." */
    int32_t partition;
    bool cleared;
    int64_t since_ms;          /* wall clock */
};

/* --- the cluster (control/cluster.c) --- */

struct ctl_endpoint {
    const char *host;
    int32_t port;
};

/* A node's brokers as it registers them (BrokerRegistration). REGISTER_NODE
 * comes from the shard that decoded it; REGISTER_SEND goes to shard 0 with
 * the controller leader's address, and comes back with the answer. */
struct ctl_register {
    int32_t node_id;
    int32_t nshards;
    const char *cluster_id;
    const char *rack;          /* NULL: none */
    struct ctl_endpoint *brokers; /* nshards */
    const char *to_host;       /* REGISTER_SEND: the leader's shard 0 */
    int32_t to_port;
    /* answer */
    int16_t error;             /* Kafka error code */
    int result;                /* REGISTER_SEND: 0 or a negative errno */
};

/* --- SASL and SCRAM credentials (control/users.c, dataplane/sasl.c) --- */

struct scram_cred;

/* CTL_SASL_LOOKUP: for SCRAM (mech: enum scram_mech) the credential of
 * (user, mech) is copied into *cred; for PLAIN (mech 0) password is
 * checked against the user's credential. error: 0 or
 * SASL_AUTHENTICATION_FAILED (58). */
struct ctl_sasl {
    const char *user;
    int mech;
    const char *password;      /* PLAIN */
    size_t password_len;
    struct scram_cred *cred;   /* SCRAM: the requester's memory */
    int16_t error;
};

/* One deletion (salted NULL) or upsertion of AlterUserScramCredentials. */
struct ctl_scram_op {
    const char *user;
    int8_t mech;
    int32_t iterations;
    const uint8_t *salt;
    int32_t salt_len;
    const uint8_t *salted;     /* the salted password (PBKDF2) */
    int32_t salted_len;
};

struct ctl_user_result {
    const char *user;
    int16_t error;
    const char *message;       /* NULL: none */
    int ninfos;                /* describe: the user's credentials */
    int8_t mechs[2];
    int32_t iterations[2];
};

/* CTL_USERS_DESCRIBE (names; none: every user) and CTL_USERS_ALTER (ops):
 * results, one per user, in the arena. */
struct ctl_users {
    int nnames;
    const char **names;
    int nops;
    struct ctl_scram_op *ops;
    int nresults;
    struct ctl_user_result *results;
    int16_t error;             /* the whole request's */
    const char *message;
};

/* CTL_ACLS_CREATE (bindings, one error per binding) and CTL_ACLS_DELETE
 * (filters, one result per filter: the bindings it removed, copied into
 * the arena). The shard checked every binding and filter (acl_*_check);
 * those it refused carry their error already and are skipped. */
struct ctl_acl_result {
    int16_t error;
    const char *message;       /* NULL: none */
    int nmatches;              /* delete: what the filter removed */
    struct acl_binding *matches;
};

struct ctl_acls {
    int n;
    struct acl_binding *bindings;   /* create */
    struct acl_filter *filters;     /* delete */
    struct ctl_acl_result *results; /* n of them */
};

/* --- metrics (control/stats.c, dataplane/shard_stats.c) --- */

/* CTL_SHARD_STATS: the shard copies its counters and one report per open
 * partition into the message's arena (need > 0: it was too small). */
struct ctl_shard_stats {
    struct shard_metrics *metrics;
    int nparts;
    struct part_report *parts;
    size_t need;
};

/* How full the rings between one shard and the control thread are. */
struct ring_report {
    uint32_t to_shard, from_shard;   /* pointers queued in each ring */
    uint32_t capacity;
    uint32_t backlog;                /* waiting for room in to_shard */
};

/* A group's committed offset against the partition's log end. */
struct lag_report {
    const char *group, *topic;       /* in the arena */
    int32_t partition;
    int64_t committed;
    int64_t log_end;                 /* -1: the partition is not open */
    int64_t lag;                     /* log_end - committed, >= 0 */
};

struct topic_report {
    const char *name;
    char id[24];                     /* Kafka's base64 text */
    int32_t partitions;
};

/* CTL_STATS: everything /metrics and the console show, in the arena;
 * parts sorted by (topic, partition). need > 0: ask again with that. */
struct ctl_stats {
    int nshards;
    struct shard_metrics *shards;
    struct ring_report *rings;
    int32_t *ports;                  /* nshards: where each shard listens */
    int nparts;
    struct part_report *parts;
    int nlags;
    struct lag_report *lags;
    int ntopics;
    struct topic_report *topics;
    char cluster_id[32];
    size_t need;
};

/* --- replication (control/replication.c) --- */

/* One partition's ISR change as its leader asks it (AlterPartition). */
struct ctl_isr_change {
    const char *topic;
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;   /* the one the leader knows: stale is refused */
    int32_t nisr;
    int32_t isr[MD_REPLICAS_MAX];
    /* answer: the partition as it is now */
    int16_t error;
    int32_t out_leader, out_leader_epoch, out_partition_epoch, out_nisr;
    int32_t out_isr[MD_REPLICAS_MAX];
};

struct ctl_alter_partition {
    int32_t broker_id;         /* the leader asking */
    bool local;                /* a shard's own replicas (cookie: theirs), not
                                  a request of another node */
    int nitems;
    struct ctl_isr_change *items;
    int16_t error;             /* answer, top level (NOT_CONTROLLER) */
};

/* ElectLeaders: one item per partition asked (the shard lists every
 * replicated partition when the request names none). */
struct ctl_elect_item {
    const char *topic;
    int32_t partition;
    int16_t error;             /* answer: NONE, ELECTION_NOT_NEEDED, ... */
};

struct ctl_elect_leaders {
    int8_t type;               /* 0 preferred, 1 unclean (Kafka's ElectionType) */
    int nitems;
    struct ctl_elect_item *items;
    int16_t error;             /* answer, top level (NOT_CONTROLLER) */
};

/* AlterPartitionReassignments: a target for each partition (n brokers,
 * more than MD_REPLICAS_MAX only counted) or a cancel (n = -1). */
struct ctl_reassign_item {
    const char *topic;
    int32_t partition;
    int32_t n;
    int32_t replicas[MD_REPLICAS_MAX];
    int16_t error;             /* answer: NONE, INVALID_REPLICA_ASSIGNMENT, ... */
};

struct ctl_reassign {
    int nitems;
    struct ctl_reassign_item *items;
    int16_t error;             /* answer, top level (NOT_CONTROLLER) */
};

/* --- idempotent producers and transactions (control/txn.c) ---
 * Errors are Kafka codes; strings are the requester's (request arena).
 *
 * Producer ids: every node hands out ids of its own range, [node.id << 40,
 * (node.id + 1) << 40), so an idempotent producer's InitProducerId may go
 * to any node (Java's goes to the least loaded one) and no id is ever
 * handed out twice in a cluster. Kafka allocates blocks through its
 * controller; a range per node needs no round trip and node.id is at most
 * 2147482 (config.c), so the ranges fit an int64. */

#define CTL_PID_NODE_SHIFT 40

static inline int32_t ctl_pid_node(int64_t pid)
{
    return (int32_t)(pid >> CTL_PID_NODE_SHIFT);
}

static inline int64_t ctl_pid_base(int32_t node_id)
{
    return (int64_t)node_id << CTL_PID_NODE_SHIFT;
}

struct ctl_init_pid {
    const char *txn_id;        /* NULL: an idempotent producer */
    int32_t timeout_ms;
    int64_t pid;               /* v3+ (KIP-360): the producer's current, or -1 */
    int16_t epoch;
    /* answer */
    int16_t error;
    int64_t out_pid;
    int16_t out_epoch;
};

struct ctl_txn_partition {
    const char *topic;
    int32_t partition;
    int16_t error;             /* answer; one the shard set is skipped */
};

/* AddPartitionsToTxn from a client, or a shard verifying a transactional
 * produce (KIP-890): verify_only asks "are these in the transaction?"
 * (transactions v1), add_implicitly adds them (v2: Produce v12). */
struct ctl_add_partitions {
    const char *txn_id;
    int64_t pid;
    int16_t epoch;
    bool verify_only, add_implicitly;
    int16_t client_version;    /* the request's version (TV1 below v4) */
    int npartitions;
    struct ctl_txn_partition *partitions;
    int16_t error;             /* answer: every partition has it too */
};

struct ctl_add_offsets {
    const char *txn_id, *group_id;
    int64_t pid;
    int16_t epoch;
    int16_t error;             /* answer */
};

struct ctl_end_txn {
    const char *txn_id;
    int64_t pid;
    int16_t epoch;
    bool commit;
    bool tv2;                  /* EndTxn v5+: the epoch is bumped */
    /* answer */
    int16_t error;
    int64_t out_pid;
    int16_t out_epoch;
};

/* One marker a shard writes for the coordinator (or WriteTxnMarkers). */
struct ctl_txn_marker {
    const char *topic;
    int32_t partition;
    int64_t pid;
    int16_t epoch;
    int32_t coordinator_epoch;
    bool commit;
    void *owner;               /* the coordinator's transaction */
    /* the shard's, while it waits for the marker to be durable */
    struct ctl_msg *next_waiting;
    int64_t offset;
    /* answer: 0, a Kafka code, or a negative errno (retry) */
    int result;
};

struct ctl_txn_state {
    const char *txn_id;
    int64_t pid;
    int16_t epoch;
    const char *state;         /* Kafka's names: Empty, Ongoing, ... */
    int32_t timeout_ms;
    int64_t start_ms;          /* -1: none */
    int npartitions;
    struct ctl_txn_partition *partitions;
    int16_t error;
};

/* ListTransactions (filters) and DescribeTransactions (txn ids); the
 * answers are in the arena (need > 0: ask again with that much). */
struct ctl_list_txns {
    int nstates;
    const char **states;
    int npids;
    const int64_t *pids;
    int64_t min_duration_ms;   /* -1: any */
    int nids;                  /* DescribeTransactions */
    const char **ids;
    /* answer */
    int16_t error;
    int ntxns;
    struct ctl_txn_state *txns;
    int nunknown;              /* state filters we do not know */
    const char **unknown;
    size_t need;
};

struct ctl_msg {
    enum ctl_op op;
    int shard;                 /* the shard it came from or goes to */
    void *cookie;              /* the requester's, returned untouched */
    struct ctl_arena arena;
    union {
        struct ctl_create_topics create_topics;
        struct ctl_delete_topics delete_topics;
        struct ctl_create_partitions create_partitions;
        struct ctl_configs configs;
        struct ctl_partition_cmd partition;
        const struct md_snapshot *metadata;
        struct ctl_join_group join_group;
        struct ctl_sync_group sync_group;
        struct ctl_heartbeat heartbeat;
        struct ctl_leave_group leave_group;
        struct ctl_list_groups list_groups;
        struct ctl_describe_groups describe_groups;
        struct ctl_delete_groups delete_groups;
        struct ctl_offsets offsets;
        struct ctl_cleaner_stats cleaner_stats;
        struct ctl_partition_fault fault;
        struct ctl_register reg;
        struct ctl_shard_stats shard_stats;
        struct ctl_stats stats;
        struct ctl_alter_partition alter;
        struct ctl_elect_leaders elect;
        struct ctl_reassign reassign;
        struct ctl_init_pid init_pid;
        struct ctl_add_partitions add_partitions;
        struct ctl_add_offsets add_offsets;
        struct ctl_end_txn end_txn;
        struct ctl_txn_marker marker;
        struct ctl_list_txns list_txns;
        int64_t pid_limit;
        struct ctl_sasl sasl;
        struct ctl_users users;
        struct ctl_acls acls;
    } u;
};

#endif
