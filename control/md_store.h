/* md_store.h - the live metadata, owned by the control thread alone:
 * topics, the placement of their partitions on shards, the cluster id and
 * the brokers (one per shard) clients are told about.
 *
 * metadata.c keeps it in memory and builds the immutable snapshots shards
 * read (metadata.h); md_file.c persists it in DATA/__sluice/metadata.
 * Shards never include this header.
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
};

struct md_store {
    const struct broker_config *cfg;
    char *dir;                 /* DATA/__sluice */
    char *path;                /* DATA/__sluice/metadata */
    int lock_fd;               /* flock'ed: one broker per data dir */
    int nshards;
    int32_t *load;             /* partitions placed on each shard */
    struct md_broker *brokers; /* nshards: what clients are told */
    bool advertised_port;      /* advertised.listeners fixes the ports */
    struct md_live **topics;   /* sorted by name */
    int32_t ntopics, cap;
    char cluster_id[32];
    uint64_t epoch;            /* of the newest snapshot */
};

/* Opens DATA/__sluice (created if missing), locks it and loads the file;
 * without a file, starts empty with a new cluster id and writes one.
 * Returns 0, or a negative errno with err saying why (a damaged file is
 * -EINVAL, a data dir used by another broker -EBUSY). */
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

/* Adds name (not present) in MD_CREATING with npartitions placed, a new
 * random id and config cfg. 0 or -ENOMEM. */
int md_store_add(struct md_store *s, const char *name, int32_t npartitions,
                 const struct topic_config *cfg, struct md_live **out);
/* Inserts t (built by the caller, e.g. from the file) in name order and
 * takes it over. 0 or -EEXIST, -ENOMEM (then t is still the caller's). */
int md_store_insert(struct md_store *s, struct md_live *t);
/* Places partitions nplaced..count-1 on the least loaded shards. */
int md_store_place(struct md_store *s, struct md_live *t, int32_t count);
/* Forgets the placement of partitions count..nplaced-1. */
void md_store_unplace(struct md_store *s, struct md_live *t, int32_t count);
void md_store_remove(struct md_store *s, struct md_live *t);

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

/* md_file.c. load: 0, 1 when there is no file yet, or a negative errno
 * with err ("PATH:LINE: what"). save: write a temporary file, fsync,
 * rename over the old one, fsync the directory; 0 or a negative errno. */
int md_file_load(struct md_store *s, char *err, size_t errlen);
int md_file_save(const struct md_store *s, char *err, size_t errlen);

#endif
