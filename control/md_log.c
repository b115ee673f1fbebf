/* md_log.c - the metadata as a replicated log: every change the control
 * thread makes to the live metadata (md_store.h) is committed as an entry
 * of the quorum's raft log (control/quorum.c) before anyone is told, and
 * every node applies the entries it did not write itself.
 *
 * Owns: opening the quorum under DATA/__sluice/raft, the state-machine
 * callbacks (apply an entry, take and restore a snapshot, all in
 * md_file.c's text), the first entry of a new log (imported from the file
 * of a broker that predates the log, or a new cluster id), and
 * md_store_commit.
 *
 * An entry holds the topics whose text changed since the previous commit,
 * each whole, and the committed topics removed since (KRaft's TopicRecord
 * and RemoveTopicRecord, as upserts): applying entries in order on any
 * node yields the proposer's state, and so does a snapshot followed by
 * the entries after it.
 *
 * Invariants:
 *   1. md_store_commit returns 0 only once the quorum has committed the
 *      entry; on an error nothing of it is committed, and what the store
 *      still holds is committed by the next successful commit unless the
 *      caller put it back.
 *   2. The log is the only durable copy: DATA/__sluice/metadata is read
 *      once, when a log holds no metadata yet, and renamed
 *      metadata.imported after its content is committed.
 *
 * Never: touches a ring, a shard or a log of partitions. */
#include "control/md_store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/quorum.h"
#include "storage/sys.h"

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* --- the state machine ------------------------------------------------------ */

/* Everything the store holds came from the log: remember it as committed. */
static int mark_all_committed(struct md_store *s)
{
    size_t len;
    char *text = md_text_build(s, false, &len, NULL);

    if (!text)
        return -ENOMEM;
    free(text);
    md_text_committed(s);
    return 0;
}

static int on_apply(void *ctx, const char *data, size_t len)
{
    struct md_store *s = ctx;
    char err[512];
    int rc = md_text_apply(s, data, len, err, sizeof err);

    if (rc < 0) {
        fprintf(stderr, "sluice: %s\n", err);
        return rc;
    }
    s->cluster_committed = true;
    s->applied = true;
    return mark_all_committed(s);
}

static int on_snapshot(void *ctx, char **data, size_t *len)
{
    struct md_store *s = ctx;

    if (s->ntombs > 0)
        return -EBUSY;          /* a change waits for its commit */
    for (int32_t i = 0; i < s->ntopics; i++)
        if (s->topics[i]->state != MD_CREATING && !s->topics[i]->committed)
            return -EBUSY;
    *data = md_text_build(s, false, len, NULL);
    return *data ? 0 : -ENOMEM;
}

static int on_restore(void *ctx, const char *data, size_t len)
{
    struct md_store *s = ctx;
    char err[512];
    int rc;

    while (s->ntopics > 0)
        md_store_forget(s, s->topics[s->ntopics - 1]);
    s->ntombs = 0;
    if ((rc = md_text_apply(s, data, len, err, sizeof err)) < 0) {
        fprintf(stderr, "sluice: metadata snapshot: %s\n", err);
        return rc;
    }
    for (int32_t i = 0; i < s->ntopics; i++)
        s->topics[i]->touched = true;
    s->applied = true;
    s->cluster_committed = true;
    return mark_all_committed(s);
}

static const struct quorum_ops md_ops = {
    .apply = on_apply, .snapshot = on_snapshot, .restore = on_restore};

/* --- commits ------------------------------------------------------------------ */

int md_store_commit(struct md_store *s, char *err, size_t errlen)
{
    size_t len = 0;
    int n = 0, rc;
    char *text = md_text_build(s, true, &len, &n);

    if (!text) {
        seterr(err, errlen, "cannot write the metadata log: out of memory");
        return -ENOMEM;
    }
    /* The first commit carries the cluster id, topics or not. */
    rc = n > 0 || !s->cluster_committed
             ? quorum_commit(s->quorum, text, len, err, errlen)
             : 0;
    free(text);
    if (rc == 0) {
        md_text_committed(s);
        s->cluster_committed = true;
    }
    return rc;
}

bool md_store_is_controller(const struct md_store *s)
{
    return s->quorum && quorum_is_leader(s->quorum);
}

int32_t md_store_controller(const struct md_store *s)
{
    uint64_t id = s->quorum ? quorum_leader(s->quorum) : 0;
    return id == 0 ? -1 : (int32_t)(id - 1);
}

/* --- opening -------------------------------------------------------------------- */

/* Several voters: turns raft's loop until a leader is there and this node
 * has applied what is committed; the first leader of a new cluster writes
 * its cluster id. A node that never reaches a quorum keeps waiting (and
 * says so): it has no metadata to serve. */
static int md_log_join(struct md_store *s, char *err, size_t errlen)
{
    uint8_t cid[16];
    int rounds = 0, rc;

    while (!s->cluster_committed || !quorum_ready(s->quorum)) {
        if (quorum_ready(s->quorum) && quorum_is_leader(s->quorum) &&
            !s->cluster_committed) {
            if ((rc = md_random_id(cid)) < 0) {
                seterr(err, errlen, "getrandom: %s", strerror(-rc));
                return rc;
            }
            md_id_text(cid, s->cluster_id);
            if ((rc = md_store_commit(s, err, errlen)) < 0) {
                s->cluster_id[0] = '\0';
                fprintf(stderr, "sluice: %s; trying again\n", err);
            }
            continue;
        }
        quorum_wait(s->quorum, 100);
        if (++rounds % 50 == 0)
            fprintf(stderr, "sluice: waiting for the metadata quorum (%d "
                    "voters; leader: %d)\n", quorum_voters(s->quorum),
                    md_store_controller(s));
    }
    return 0;
}

/* A log without metadata: the old file's, or a new cluster. */
static int md_log_first(struct md_store *s, bool *imported, char *err,
                        size_t errlen)
{
    uint8_t cid[16];
    int rc = md_file_load(s, err, errlen);

    if (rc < 0)
        return rc;
    *imported = rc == 0;
    if (rc == 1) {
        if ((rc = md_random_id(cid)) < 0) {
            seterr(err, errlen, "getrandom: %s", strerror(-rc));
            return rc;
        }
        md_id_text(cid, s->cluster_id);
    }
    return md_store_commit(s, err, errlen);
}

int md_log_open(struct md_store *s, char *err, size_t errlen)
{
    char dir[4096], old[4096 + 16];
    bool imported = false;
    struct stat st;
    int rc, moved;

    if (snprintf(dir, sizeof dir, "%s/raft", s->dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    if ((rc = storage_mkdir(dir, 0755)) < 0) {
        seterr(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return rc;
    }
    if ((rc = quorum_open(&s->quorum, s->cfg, dir, &md_ops, s, err,
                          errlen)) < 0)
        return rc;
    if (quorum_voters(s->quorum) > 1) {
        if ((rc = md_log_join(s, err, errlen)) < 0)
            return rc;
    } else if (!s->cluster_id[0] &&
               (rc = md_log_first(s, &imported, err, errlen)) < 0) {
        return rc;
    }
    if (md_store_is_controller(s) && (moved = md_store_replace(s)) > 0) {
        fprintf(stderr, "sluice: %d partition(s) were on shards that no "
                "longer exist; placed again on shards 0..%d\n", moved,
                s->nshards - 1);
        if ((rc = md_store_commit(s, err, errlen)) < 0)
            return rc;
    }
    /* What the replay applied is opened by the start-up recovery
     * (admin_recover), not by cluster.c's reconcile. */
    s->applied = false;
    s->ndrops = 0;
    for (int32_t i = 0; i < s->ntopics; i++)
        s->topics[i]->touched = false;
    /* Invariant 2: the old file has done its job once the log has it. */
    snprintf(old, sizeof old, "%s.imported", s->path);
    if (stat(s->path, &st) == 0) {
        rc = storage_sys.rename(s->path, old) < 0 ? -errno
                                                  : storage_sync_dir(s->dir);
        if (rc < 0) {
            seterr(err, errlen, "cannot rename %s: %s", s->path,
                   strerror(-rc));
            return rc;
        }
    }
    if (imported)
        fprintf(stderr, "sluice: %s imported into the metadata log\n",
                s->path);
    return 0;
}

void md_log_close(struct md_store *s)
{
    quorum_close(s->quorum);
    s->quorum = NULL;
}
