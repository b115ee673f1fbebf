/* offsets_private.h - the inside of the offsets store, shared by
 * offsets.c (map, requests, retention) and offsets_file.c (the log).
 * Nothing but those two files and the unit test includes it. */
#ifndef SLUICE_OFFSETS_PRIVATE_H
#define SLUICE_OFFSETS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/offsets.h"

/* One log record, decoded; strings are views (not NUL-terminated). */
enum orec_type {
    OREC_COMMIT = 1,           /* (group, topic, partition) = value */
    OREC_DELETE = 2,           /* tombstone of (group, topic, partition) */
    OREC_GROUP_DELETE = 3,     /* tombstone of every entry of group */
    OREC_TXN_COMMIT = 4,       /* a commit pending in producer pid's
                                  transaction (TxnOffsetCommit) */
    OREC_TXN_END = 5,          /* pid's transaction ended: its pending
                                  commits are applied (commit) or dropped */
};

struct orec {
    int type;
    const char *group;
    size_t glen;               /* <= 65535 */
    const char *topic;
    size_t tlen;               /* <= 255 */
    int32_t partition;
    int64_t offset;
    int32_t epoch;
    int64_t commit_ms, expire_ms;
    const char *meta;
    int32_t mlen;              /* -1: null */
    int64_t pid;               /* OREC_TXN_COMMIT, OREC_TXN_END */
    bool commit;               /* OREC_TXN_END */
};

/* A commit waiting for its transaction's end (OREC_TXN_COMMIT). */
struct opending {
    struct opending *next;
    int64_t pid;
    char *group, *topic;
    int32_t partition;
    int64_t offset;
    int32_t epoch;
    char *meta;                /* NULL: null */
    int32_t mlen;
    int64_t commit_ms;
    size_t rec_bytes;
};

struct ogroup;

struct oentry {
    struct oentry *hnext;      /* hash chain */
    struct oentry *gprev, *gnext; /* the group's entries */
    struct ogroup *g;
    char *topic;
    int32_t partition;
    int32_t epoch;
    int64_t offset;
    char *meta;                /* NULL: null */
    int32_t mlen;
    int64_t commit_ms, expire_ms;
    size_t rec_bytes;          /* of its commit record, for live_bytes */
};

struct ogroup {
    struct ogroup *hnext;
    char *id;
    struct oentry *head;
    size_t n;
    int64_t empty_since;       /* last seen with members (retention) */
};

struct offsets {
    struct offsets_options opt;
    offsets_answer_fn answer;
    void *answer_ctx;
    struct groups *groups;
    const struct md_store *md;
    int64_t started_ms;
    int64_t next_check_ms;     /* of offsets_expire */
    /* the map */
    struct ogroup **gtab;
    size_t gcap, ngroups;
    struct oentry **etab;
    size_t ecap, nentries;
    int64_t live_bytes;
    /* the log */
    char *dir, *path, *tmp_path;
    int fd;
    int64_t file_bytes;
    bool failed;               /* sticky: a write or fsync failed */
    uint8_t *buf;              /* this turn's records */
    size_t buf_len, buf_cap;
    struct ctl_msg **held;     /* answered after the sync */
    int nheld, heldcap;
    struct txn_coord *txn;     /* checks TxnOffsetCommit (control/txn.c) */
    struct opending *pending;  /* transactional commits not yet ended */
};

/* offsets.c */
int offsets_apply(struct offsets *o, const struct orec *r);
void offsets_map_free(struct offsets *o);
int offsets_each_live(struct offsets *o, int (*fn)(void *ctx, const struct orec *r),
                      void *ctx);
void offsets_answer_held(struct offsets *o, bool ok);

/* offsets_file.c */
size_t orec_size(const struct orec *r);
/* Encodes r at the end of the turn's buffer. 0 or -ENOMEM. */
int offsets_buf_add(struct offsets *o, const struct orec *r);
/* Opens or creates the log and replays it into the map. */
int offsets_file_open(struct offsets *o, char *err, size_t errlen);
void offsets_file_close(struct offsets *o);

#endif
