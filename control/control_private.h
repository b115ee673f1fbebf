/* control_private.h - the inside of the control thread, shared by
 * control.c (loop, rings, doorbells, snapshots), admin.c (topics) and
 * admin_config.c (configs). Nothing outside control/ includes it. */
#ifndef SLUICE_CONTROL_PRIVATE_H
#define SLUICE_CONTROL_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/broker_dyn.h"
#include "control/control.h"
#include "control/ctl.h"
#include "control/md_store.h"
#include "control/users.h"
#include "numa/ring.h"

/* Messages waiting for room in a full ring, in order. */
struct ptr_fifo {
    void **v;
    size_t head, len, cap;
};

struct control_shard {
    struct spsc_ring to;       /* control -> shard */
    struct spsc_ring from;     /* shard -> control */
    void **to_slots, **from_slots;
    int doorbell;              /* the shard's eventfd */
    bool ring_bell;            /* posted since the last ring */
    bool stopped;              /* acknowledged CTL_SHUTDOWN */
    struct ptr_fifo backlog;
    uint64_t acked_epoch;      /* newest snapshot it acknowledged */
};

struct admin_op;

/* A command the control thread owns (CTL_PARTITION_*, CTL_METADATA_UPDATE,
 * CTL_SHUTDOWN), freed when the shard posts it back. */
struct ctl_cmd {
    struct ctl_msg msg;        /* first: the ring carries &msg */
    struct ctl_cmd *prev, *next; /* all commands out, freed at destroy */
    struct admin_op *op;       /* waits for the answer, or NULL */
    int item;                  /* which of op's items */
    char topic[MD_TOPIC_NAME_MAX + 1];
};

/* cleaner_stats.c: the latest compaction figures each shard reported per
 * compacted partition, shown by DescribeConfigs as the read-only topic
 * entry "sluice.cleaner.stats" when it is asked for by name. */
#define CLEANER_STATS_KEY "sluice.cleaner.stats"
struct cleaner_stats_entry;
struct cleaner_stats {
    struct cleaner_stats_entry *v;
    int n, cap;
};
void cleaner_stats_update(struct cleaner_stats *t, const struct ctl_cleaner_stats *s);
/* Formats topic's figures ("partition=P dirty.ratio=... ;" per partition)
 * into buf (at most len bytes); returns the length the whole text needs. */
size_t cleaner_stats_format(const struct cleaner_stats *t, const char *topic, char *buf,
                            size_t len);
void cleaner_stats_free(struct cleaner_stats *t);

/* part_faults.c: this node's partitions that went offline for a disk
 * fault (CTL_PARTITION_FAULT), marked in every snapshot published, and
 * shown by DescribeConfigs as the read-only topic entry
 * "sluice.partition.offline". Until the process exits (or the topic is
 * deleted): a restart brings a partition back when its log reads. */
#define PART_FAULTS_KEY "sluice.partition.offline"
struct part_fault_entry;
struct part_faults {
    struct part_fault_entry *v;
    int n, cap;
};
/* Records (or, cleared, forgets) a fault; true when anything changed. */
bool part_faults_update(struct part_faults *t, const struct ctl_partition_fault *f);
/* Sets md_partition.offline on every faulted partition of md. */
void part_faults_mark(const struct part_faults *t, struct md_snapshot *md);
/* Formats topic's faults ("partition=P since.ms=T file=... ;" each) into
 * buf (at most len bytes); returns the length the whole text needs. */
size_t part_faults_format(const struct part_faults *t, const char *topic, char *buf,
                          size_t len);
void part_faults_free(struct part_faults *t);
/* This node's registration on its way to the controller leader
 * (cluster.c): CTL_REGISTER_SEND to shard 0 and back. */
struct cluster_reg {
    struct ctl_msg msg;        /* first: the ring carries &msg */
    struct md_node self;       /* the hosts eps point into */
    char to_host[MD_HOST_MAX];
    struct ctl_endpoint eps[];
};

struct control {
    struct broker_config cfg;  /* effective: static + dynamic (dyn) */
    struct broker_dyn dyn;     /* dynamic broker configs (broker_dyn.c) */
    uint64_t dyn_seen;         /* md.dyn_applied when last applied */
    struct md_store md;
    int nshards;
    struct control_shard *shards; /* nrings: the shards, then the ops peer */
    int nrings;                /* nshards + 1 */
    struct ctl_msg *stats_pending; /* CTL_STATS being collected (stats.c) */
    struct ctl_msg *stats_queued;
    int stats_waiting;         /* shards yet to answer it */
    int doorbell;              /* ours: shards ring it */
    struct md_snapshot **snaps; /* published, oldest first */
    int nsnaps, snaps_cap;
    struct ctl_cmd *cmds;      /* commands not yet answered */
    struct admin_op *ops;      /* admin work waiting for shards */
    struct groups *groups;     /* consumer group membership (groups.c) */
    struct offsets *offsets;   /* committed offsets (offsets.c) */
    struct cleaner_stats cleaner_stats; /* compaction figures (cleaner_stats.c) */
    struct part_faults part_faults; /* partitions offline (part_faults.c) */
    struct txn_coord *txn;     /* transactions, producer ids (txn.c) */
    int recovering;            /* startup ops not finished */
    int open_err;              /* first startup failure */
    bool stopping;
    bool serving;              /* published once: shards serve clients */
    struct cluster_reg *reg_msg; /* our registration in flight, or NULL */
    int64_t reg_next_ms;       /* monotonic: when to try registering again */
    int32_t known_controller;  /* the quorum leader the last snapshot named */
    int64_t rebalance_next_ms; /* monotonic: preferred leaders checked (cluster.c) */
    struct users users;        /* SCRAM credentials (users.c) */
    int64_t fd_claimed;        /* partitions being opened (fd_budget.c) */
};

/* control.c, for the admin files */
void control_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A command for shard's partition of topic (may be NULL), owned by the
 * control thread until answered; NULL on -ENOMEM. */
struct ctl_cmd *control_cmd(struct control *c, enum ctl_op op,
                            struct admin_op *owner, int item,
                            const char *topic, int32_t partition);
/* Posts m to shard (queued while its ring is full); rings its doorbell
 * at the end of the turn. */
void control_post(struct control *c, int shard, struct ctl_msg *m);

/* admin.c, for control.c and admin_config.c */
/* A message for m's answer, formatted into m's arena (NULL if full). */
const char *admin_msg(struct ctl_msg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void admin_request(struct control *c, struct ctl_msg *m);
/* acls.c: CreateAcls and DeleteAcls, answered once committed. */
void acls_request(struct control *c, struct ctl_msg *m);
void admin_answered(struct control *c, struct ctl_cmd *cmd);
int admin_recover(struct control *c);
void admin_free_all(struct control *c);

/* cluster.c */
void cluster_do_work(struct control *c);
/* What applied entries (or the controller's own commits: md.applied) mean
 * here: shards open and learn them, then the snapshot is published. */
void cluster_apply(struct control *c);
void cluster_register_request(struct control *c, struct ctl_msg *m);
void cluster_register_sent(struct control *c, struct ctl_msg *m);
/* stats.c */
void stats_request(struct control *c, struct ctl_msg *m);
void stats_answered(struct control *c, struct ctl_cmd *cmd);
/* control_txn.c */
int control_txn_open(struct control *c, const char *data_dir);
void control_txn_request(struct control *c, struct ctl_msg *m);
void control_txn_answered(struct control *c, struct ctl_cmd *cmd);
void control_txn_turn(struct control *c);
int control_txn_timeout(struct control *c, int timeout_ms);
void control_txn_resume(struct control *c);
int64_t control_txn_now_ms(void);

/* replication.c */
/* The state this node's replica of t's partition p runs with. */
void replication_fill_state(const struct md_store *s, const struct md_live *t, int32_t p,
                            struct ctl_replica_state *out);
/* The shard holding this node's replica of it, -1 when none. */
int replication_local_shard(const struct control *c, const struct md_live *t, int32_t p);
/* Tells that shard the partition's state (CTL_PARTITION_STATE). */
void replication_post_state(struct control *c, const struct md_live *t, int32_t p);
void replication_alter_request(struct control *c, struct ctl_msg *m);
/* ElectLeaders on the controller (md_isr_elect per item), answered once
 * committed. */
void replication_elect_leaders(struct control *c, struct ctl_msg *m);
void replication_reassign(struct control *c, struct ctl_msg *m);
/* The controller, after nodes were fenced or registered: elections and ISR
 * removals (md_isr.c); returns the topics changed. Commit after it, then
 * replication_committed. */
int replication_elect(struct control *c, const char *why);
void replication_committed(struct control *c);
/* admin_assign.c: a manual assignment checked into brokers[] (broker
 * ids; one entry per partition, or per added partition); 0 or a Kafka
 * error code with *msg in m's arena. */
int16_t admin_assign_topic(const struct control *c, struct ctl_msg *m,
                           const struct ctl_topic_spec *sp, int32_t *brokers,
                           const char **msg);
int16_t admin_assign_partitions(const struct control *c, struct ctl_msg *m,
                                const struct ctl_assignment *as, int n,
                                int32_t added, int32_t *brokers, const char **msg);

/* admin_config.c */
void admin_describe_configs(struct control *c, struct ctl_msg *m);
void admin_alter_configs(struct control *c, struct ctl_msg *m);
/* The configs of tc (only keys[0..nkeys) if nkeys > 0), with their
 * values copied into a; 0 or -ENOSPC. */
int admin_describe_topic(struct ctl_arena *a, const struct topic_config *tc,
                         int nkeys, const char *const *keys,
                         struct config_desc **out, int *nout);
/* Topics take the broker's current values for what they do not set; with
 * post, changed partitions are told and a snapshot published. */
void admin_rebase_topics(struct control *c, bool post);
/* After the metadata log applied dynamic broker configs. */
void admin_dyn_applied(struct control *c, bool post);
/* Sends the topic's log config to every shard owning one of its
 * partitions (CTL_PARTITION_CONFIG). */
void admin_post_config(struct control *c, const struct md_live *t);

#endif
