/* md_store.h - the live metadata, owned by the control thread alone:
 * topics, the placement of their partitions on shards, the cluster id and
 * the brokers (one per shard) clients are told about.
 *
 * metadata.c keeps it in memory and builds the immutable snapshots shards
 * read (metadata.h); md_log.c commits its changes to the metadata log
 * (canonical raft, control/quorum.c) and applies what others committed;
 * md_file.c is the text of entries and snapshots. Shards never include
 * this header.
 *
 * Life of a topic:
 *   md_store_add()          MD_CREATING   partitions placed, being opened;
 *                                         in no snapshot, not in the file
 *   (every shard opened)    MD_LIVE       in snapshots and in the file
 *   (DeleteTopics)          MD_DELETING   in the file, marked; in no
 *                                         snapshot; the name stays taken
 *   md_store_remove()       gone          once every shard removed its logs
 * A live topic may have more partitions placed (nplaced) than clients see
 * (t.npartitions) while CreatePartitions opens the new ones. */
#ifndef SLUICE_MD_STORE_H
#define SLUICE_MD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control/config.h"
#include "control/metadata.h"

#define MD_PARTITIONS_MAX 100000   /* per topic: a sanity bound */

enum md_state {
    MD_CREATING,
    MD_LIVE,
    MD_DELETING,
};

struct md_live {
    struct md_topic t;         /* partitions[0..nplaced) are placed */
    int32_t nplaced;
    int32_t cap;               /* of t.partitions */
    int state;                 /* enum md_state */
    bool busy;                 /* partitions being added or rolled back */
    bool touched;              /* changed by an applied entry */
    bool committed;            /* in the metadata log ... */
    uint32_t crc;              /* ... with this text (md_text_build) */
    uint32_t pending_crc;      /* the text the last build saw */
};

/* A node of the cluster (md_nodes.c): its brokers, one per shard. */
struct md_node_broker {
    char host[MD_HOST_MAX];
    int32_t port;
};

struct md_node {
    int32_t id;                /* node.id */
    int32_t nshards;
    char rack[CONFIG_RACK_MAX]; /* "" none */
    bool fenced;               /* out of the cluster: not in Metadata */
    struct md_node_broker *brokers;
    bool committed;
    uint32_t crc, pending_crc; /* as for topics */
};

/* A partition of a removed topic that a shard of this node holds: its
 * directory goes once the removal is applied here (md_log.c). */
struct md_drop {
    char topic[MD_TOPIC_NAME_MAX + 1];
    int32_t partition;
    int32_t shard;
};

/* A committed topic removed since the last commit. */
struct md_tomb {
    char name[MD_TOPIC_NAME_MAX + 1];
    uint8_t id[16];
};

struct quorum;
struct acl_binding;

/* Dynamic broker configs (control/broker_dyn.c) travel in the metadata
 * log with the topics: one layer of key=value per scope, in a
 * "broker-configs" block that replaces both layers when an entry or a
 * snapshot carries it. md_file.c only carries the text; broker_dyn.c
 * validates and applies it. */
#define MD_DYN_SCOPES 2        /* 0: cluster-wide default, 1: per broker */

struct md_dyn_entry {
    char *key, *value;         /* malloc'ed */
};

struct md_store {
    const struct broker_config *cfg;
    char *dir;                 /* DATA/__sluice */
    char *path;                /* DATA/__sluice/metadata */
    int lock_fd;               /* flock'ed: one broker per data dir */
    int32_t node_id;           /* node.id: brokers are md_broker_id(node, i) */
    int nshards;
    int32_t *load;             /* partitions placed on each shard */
    struct md_broker *brokers; /* nshards: what clients are told */
    bool advertised_port;      /* advertised.listeners fixes the ports */
    struct md_live **topics;   /* sorted by name */
    int32_t ntopics, cap;
    char cluster_id[32];
    uint64_t epoch;            /* of the newest snapshot */
    struct quorum *quorum;     /* the metadata log (md_log.c) */
    bool cluster_committed;    /* the log holds the cluster id */
    struct md_tomb *tombs;     /* removed, not yet committed */
    int32_t ntombs, tombs_cap;
    struct md_node *nodes;     /* registered nodes, by id (md_nodes.c) */
    int32_t nnodes, nodes_cap;
    bool applied;              /* entries of others applied since the
                                  control thread last looked */
    struct md_drop *drops;     /* local partitions of removed topics */
    int32_t ndrops, drops_cap;
    struct md_dyn_entry *dyn[MD_DYN_SCOPES];   /* dynamic broker configs */
    int ndyn[MD_DYN_SCOPES];
    bool dyn_dirty;            /* changed since the last commit */
    uint64_t dyn_applied;      /* blocks applied from the log, counted */
    struct acl_binding *acls;  /* ACLs (control/acls.c): strings malloc'ed */
    int nacls, acls_cap;
    bool acls_dirty;           /* changed since the last commit */
};

/* Opens DATA/__sluice (created if missing), locks it and opens the
 * metadata log (md_log_open): the committed metadata is in s when it
 * returns. Returns 0, or a negative errno with err saying why (a damaged
 * log or old metadata file is -EINVAL, a data dir used by another broker
 * -EBUSY). */
int md_store_open(struct md_store *s, const struct broker_config *cfg,
                  const char *data_dir, int nshards, char *err, size_t errlen);
void md_store_close(struct md_store *s);

/* Kafka's rules: 1..249 of [a-zA-Z0-9._-], not "." or "..". 0 or -EINVAL
 * with the reason in err. */
int md_name_check(const char *name, char *err, size_t errlen);

/* Any state; NULL when absent. */
struct md_live *md_store_find(const struct md_store *s, const char *name);
/* A topic, other than name itself, whose name equals name once '.' and
 * '_' are taken as one (Kafka refuses such pairs: their metrics clash). */
struct md_live *md_store_collision(const struct md_store *s,
                                   const char *name);

/* Adds name (not present) in MD_CREATING with npartitions placed with rf
 * replicas each, a new random id and config cfg. 0, -ENOMEM, or -EINVAL
 * when rf nodes are not there. */
int md_store_add(struct md_store *s, const char *name, int32_t npartitions,
                 int32_t rf, const struct topic_config *cfg, struct md_live **out);
/* The same with partition i placed on broker brokers[i] alone (see
 * md_store_place_on). */
int md_store_add_on(struct md_store *s, const char *name, int32_t npartitions,
                    const struct topic_config *cfg, const int32_t *brokers,
                    struct md_live **out);
/* Inserts t (built by the caller, e.g. from the file) in name order and
 * takes it over. 0 or -EEXIST, -ENOMEM (then t is still the caller's). */
int md_store_insert(struct md_store *s, struct md_live *t);
/* --- md_place.c: placement --------------------------------------------- */

/* Places partitions nplaced..count-1 with rf replicas each (md_place.c's
 * rule). 0, -ENOMEM, or -EINVAL when fewer than rf nodes can hold them. */
int md_store_place(struct md_store *s, struct md_live *t, int32_t count, int32_t rf);
/* Places partition nplaced+i on broker brokers[i], its one replica (a
 * manual assignment the caller checked: every id a shard of a registered
 * node). 0 or -ENOMEM. */
int md_store_place_on(struct md_store *s, struct md_live *t, int32_t count,
                      const int32_t *brokers);
/* Frees both layers of dynamic broker configs. */
void md_store_dyn_clear(struct md_store *s);
/* Forgets the placement of partitions count..nplaced-1. */
void md_store_unplace(struct md_store *s, struct md_live *t, int32_t count);
/* How many nodes may hold a replica of a new partition (1 when alone). */
int32_t md_place_nodes(const struct md_store *s);
/* Removes t; a committed one is remembered for the next commit. */
void md_store_remove(struct md_store *s, struct md_live *t);
/* Notes the partitions of t this node holds for removal (s->drops). */
int md_store_drops_add(struct md_store *s, const struct md_live *t);
/* Removes t without a trace (what applying a committed remove does). */
void md_store_forget(struct md_store *s, struct md_live *t);
/* Notes for removal the replicas this node held in old and holds no more
 * in now (the same topic, reassigned). */
int md_store_drops_moved(struct md_store *s, const struct md_live *old, const struct md_live *now);
/* The same for one partition of topic, as it was and is now. */
int md_store_drop_moved(struct md_store *s, const char *topic, const struct md_partition *was,
                        const struct md_partition *now);

/* The port shard i really listens on (when listeners asked for port 0,
 * or advertised.listeners did not fix it). */
void md_store_set_port(struct md_store *s, int shard, int port);

/* A deep copy of the live topics, brokers and cluster id, in one block,
 * with the next epoch. NULL on -ENOMEM. Freed with md_snapshot_free. */
struct md_snapshot *md_store_snapshot(struct md_store *s);
void md_snapshot_free(const struct md_snapshot *md);

/* Topic ids and the cluster id as Kafka prints them: 22 characters of
 * URL-safe base64. */
#define MD_ID_TEXT 23
void md_id_text(const uint8_t id[16], char out[MD_ID_TEXT]);
int md_id_parse(const char *text, size_t len, uint8_t id[16]);
int md_random_id(uint8_t id[16]);

/* --- md_file.c: the text of entries and snapshots ------------------------ */

/* The text of every topic (delta false: a snapshot), or of those changed
 * since the last commit and the removes (delta true: an entry; *nchanged
 * says how many). Malloc'ed; NULL on -ENOMEM. */
char *md_text_build(struct md_store *s, bool delta, size_t *len,
                    int *nchanged);
/* The text the last md_text_build saw is now committed. */
void md_text_committed(struct md_store *s);
/* Applies an entry or a snapshot: its topics replace those of the same
 * name, its removes remove. 0 or a negative errno with err ("WHERE:LINE:
 * what"; -EINVAL for any text that does not check out). */
int md_text_apply(struct md_store *s, const char *text, size_t len,
                  char *err, size_t errlen);
/* The file a broker wrote before the metadata log, DATA/__sluice/metadata,
 * read strictly into an empty store: 0, 1 when there is none, or a
 * negative errno with err. */
int md_file_load(struct md_store *s, char *err, size_t errlen);
/* Places partitions noted on shards that no longer exist (fewer shards
 * than before) on the least loaded of today's; returns how many. */
int md_store_replace(struct md_store *s);

/* --- control/acls.c: the ACLs, an "acls" block of the text ------------- */

/* The block (snapshots always; entries when the ACLs changed). */
void md_acls_text(FILE *f, const struct md_store *s);
/* One "acl ..." line (its text, without "acl ") into out, strings
 * malloc'ed. 0, -EINVAL with why, or -ENOMEM. */
int md_acl_parse(char *line, struct acl_binding *out, char *why, size_t len);
/* Replaces the store's ACLs with v[0..n) (taken over). */
void md_acls_replace(struct md_store *s, struct acl_binding *v, int n);
void md_acl_free(struct acl_binding *b);
void md_acls_clear(struct md_store *s);

/* --- md_nodes.c: the nodes ------------------------------------------------- */

struct md_node *md_node_find(const struct md_store *s, int32_t id);
/* Registers n (copied): 1 if that changed the table, 0 if n was there
 * already, or a negative errno. */
int md_node_put(struct md_store *s, const struct md_node *n);
bool md_node_equal(const struct md_node *a, const struct md_node *b);
/* 1 if that changed the table, 0 otherwise. */
int md_node_fence(struct md_store *s, int32_t id, bool fenced);
void md_nodes_free(struct md_store *s);
/* This node's record as it would register now (brokers malloc'ed). */
int md_node_self(const struct md_store *s, struct md_node *out);
/* The brokers clients are told about: every unfenced node's shards (this
 * node's alone until it is registered). */
int32_t md_nodes_broker_count(const struct md_store *s);
void md_nodes_brokers(const struct md_store *s, struct md_broker *out);
/* Another node than this one is registered and unfenced. */
bool md_nodes_others(const struct md_store *s);

/* --- md_isr.c: leaders and ISRs ------------------------------------------ */

struct ctl_isr_change;
/* A node is fenced (unknown nodes of a cluster count as fenced). */
bool md_node_is_fenced(const struct md_store *s, int32_t node);
/* Elections and ISR removals for fenced nodes; new leaders for partitions
 * without one. Both return the topics they changed (marked touched). */
int md_isr_on_fence(struct md_store *s);
int md_isr_on_unfence(struct md_store *s);
/* A leader's (broker's) AlterPartition for one partition: applied or a
 * Kafka error; ch's answer fields get the partition as it is. */
int16_t md_isr_alter(struct md_store *s, int32_t broker, struct ctl_isr_change *ch);
/* Preferred leader elections (rule 5) for every broker whose preferred
 * partitions another replica leads in more than pct percent of them;
 * returns the topics changed (marked touched). */
int md_isr_rebalance(struct md_store *s, int32_t pct);
/* ElectLeaders for partition p of topic (rule 6): type 0 preferred, 1
 * unclean. NONE (elected, topic marked touched), ELECTION_NOT_NEEDED,
 * PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE,
 * UNKNOWN_TOPIC_OR_PARTITION or INVALID_REQUEST. */
int16_t md_isr_elect(struct md_store *s, const char *topic, int32_t p, int8_t type);

/* --- md_reassign.c: partition reassignment ------------------------------- */

/* A reassignment is in progress for p. */
bool md_reassigning(const struct md_partition *p);
/* AlterPartitionReassignments for partition p of topic: target (n
 * brokers), or n < 0 to cancel (rules 7-9). NONE (started, completed or
 * cancelled; topic marked touched), UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_REPLICA_ASSIGNMENT or NO_REASSIGNMENT_IN_PROGRESS. */
int16_t md_reassign(struct md_store *s, const char *topic, int32_t p, const int32_t *target,
                    int32_t n);
/* Completes p's reassignment if every target replica is in its ISR
 * (rule 8); true if it did. */
bool md_reassign_complete(struct md_store *s, struct md_partition *p);

/* --- md_log.c: the metadata log ------------------------------------------ */

/* Opens the quorum under DATA/__sluice/raft and replays it into s; a log
 * that holds no metadata yet starts from the old metadata file (then
 * renamed metadata.imported) or from nothing with a new cluster id. */
int md_log_open(struct md_store *s, char *err, size_t errlen);
void md_log_close(struct md_store *s);
/* Commits every change made to s since the last commit (topics added,
 * changed or removed) as one entry, waiting until the quorum has it.
 * 0, or a negative errno with err: then nothing of it is committed and
 * the caller puts its change back. */
int md_store_commit(struct md_store *s, char *err, size_t errlen);
/* This node leads the metadata quorum (and so may change the metadata). */
bool md_store_is_controller(const struct md_store *s);
/* The node id of the controller leader, -1 when none is known. */
int32_t md_store_controller(const struct md_store *s);

#endif
