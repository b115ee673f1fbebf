/* test_powercut.c - nothing reported durable is lost at a power cut
 * (tests/lib/crashsim.h; SQLite's crash tests are the model).
 *
 * A broker's storage in one process: the metadata (its raft log is left
 * out of the simulation: libraft writes it itself) and its topics, a
 * log per partition (flush policies always, interval and os; small
 * segments so they roll; retention by size), the shard's write-ahead
 * journal that the "always" logs commit through (storage/journal.h: a
 * small one, so checkpoints move its tail and it wraps), the offsets log.
 * A random
 * workload - appends, group commits on an io_uring, topic creation and
 * deletion as the control thread does them (admin.c's protocol),
 * config changes, offset commits, retention, clean close and reopen, a
 * follower's truncation of its tail or of everything - runs
 * until the power goes off at a random storage call. The files are then
 * rewritten as a disk may have kept them (or, one round in four, the
 * process alone dies and the page cache survives, as with SIGKILL), and
 * everything is reopened as at start-up (the journal replayed first, as
 * sluiced does it), where:
 *   - the metadata opens and holds the topics of the last commit;
 *   - a topic marked for deletion is finished off, and no partition
 *     directory of a topic that is not live holds records;
 *   - each log is a chain of valid batches with contiguous offsets, each
 *     byte for byte the batch appended at its offset, holding everything
 *     below the largest log_synced_end() seen before the cut (acks=all
 *     waits for that with flush "always"), from a start offset no later
 *     than retention had moved it; timestamps are found by the time index;
 *   - every offset commit that was answered reads back (or a later one
 *     that was in flight).
 * A cut may land in recovery too: the reopen is then cut and redone.
 * Power cuts: SLUICE_POWERCUT_ROUNDS (1000; one round in four ends in a
 * process kill instead, and those come on top); seed: SLUICE_POWERCUT_SEED. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "control/md_store.h"
#include "control/offsets.h"
#include "storage/journal.h"
#include "storage/sys.h"
#include "storage_fixture.h"
#include "tests/lib/crashsim.h"
#include "tests/lib/powercut_run.h"

#define TOPICS 5
#define PARTS 2
#define GROUPS 3
#define NOW0 1700000000000ll
#define JOURNAL_BYTES (128u << 10) /* small: it wraps within a round (more often
                                      than 256 KiB once producer snapshots
                                      take their share of a round's calls) */

struct bmodel {
    int64_t base;
    int32_t records;
    int64_t ts;            /* of its first record */
    uint8_t *bytes;        /* as on disk (the log assigns in place) */
    size_t len;
    bool present;          /* found by the last check */
};

struct pmodel {
    struct log *log;
    struct bmodel *b;
    int nb, cap;
    int64_t synced;        /* max log_synced_end() seen: must survive */
    int64_t start_max;     /* the start offset retention moved it to */
};

struct tmodel {
    char name[16];
    struct md_live *l;     /* NULL: not in the store */
    struct pmodel p[PARTS];
};

struct omodel {
    char key[48];          /* "group|topic|partition" */
    int64_t acked;         /* -1: none */
    int64_t pending[8];    /* commits not yet answered */
    int npending;
};

struct world {
    char *dir;
    struct broker_config bcfg;
    struct md_store md;
    bool md_open;
    struct offsets *o;
    struct journal *j;     /* the shard's, for the "always" logs */
    struct io_uring ring;
    struct tmodel t[TOPICS];
    struct omodel om[GROUPS * TOPICS * PARTS];
    int nom;
    char md_saved[4096], md_trying[4096];
    bool trying;           /* a save was cut: either state may be on disk */
    int64_t now, seq;
    uint64_t rng;
    int answers;
    /* figures */
    int64_t md_opens, appended, verified, gaps, commits, creates, deletes, retained, reopens, recut;
    int64_t truncated;     /* follower truncations that returned */
    int64_t jnl_replayed;  /* batches the journal put back after cuts */
    uint64_t jnl_commits, jnl_checkpoints;
};

static uint64_t rnd(struct world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* SLUICE_POWERCUT_TRACE=1: every operation on stdout, to follow a failure. */
static bool tracing;
#define TRACE(...)                       \
    do {                                 \
        if (tracing)                     \
            printf(__VA_ARGS__);         \
    } while (0)

static bool cut(void)
{
    return crashsim_is_cut();
}

/* --- metadata: a canonical text of the store, to compare ------------------ */

static void md_describe(const struct md_store *s, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < s->ntopics; i++) {
        const struct md_live *l = s->topics[i];
        char cfg[1024] = "";
        if (l->state == MD_CREATING)
            continue;
        topic_config_serialize(&l->t.config, cfg, sizeof(cfg));
        n += (size_t)snprintf(out + n, len - n, "%s %s %d [%s]\n", l->t.name,
                              l->state == MD_LIVE ? "live" : "deleting", l->nplaced, cfg);
    }
}

/* A metadata commit (md_log.c). The raft log it goes to is written by
 * libraft through libuv, not through storage_sys, so the simulation leaves
 * it alone (crashsim_exclude): a commit that returned is durable, as
 * raft_uv's own fsyncs make it; none is attempted once the power is off. */
static int md_save(struct world *w)
{
    char why[512];
    if (cut())
        return -EIO;
    md_describe(&w->md, w->md_trying, sizeof(w->md_trying));
    int rc = md_store_commit(&w->md, why, sizeof(why));
    TRACE("md save: %d (%d bytes)\n", rc, (int)strlen(w->md_trying));
    if (rc == 0)
        memcpy(w->md_saved, w->md_trying, sizeof(w->md_saved));
    else
        w->trying = true;
    return rc;
}

/* --- logs ------------------------------------------------------------------ */

static struct tmodel *topic_named(struct world *w, const char *name)
{
    for (int i = 0; i < TOPICS; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return &w->t[i];
    return NULL;
}

static void note_synced(struct world *w)
{
    if (cut())
        return;
    for (int i = 0; i < TOPICS; i++)
        for (int p = 0; p < PARTS; p++) {
            struct pmodel *pm = &w->t[i].p[p];
            if (pm->log && !log_error(pm->log) && log_synced_end(pm->log) > pm->synced) {
                pm->synced = log_synced_end(pm->log);
                TRACE("synced %s-%d to %" PRId64 "\n", w->t[i].name, p, pm->synced);
            }
        }
}

/* Reaps what the ring completed (all of it: the simulated syncs are
 * no-ops that complete at once). */
static void reap(struct world *w)
{
    fixture_reap_ready(&w->ring);
    note_synced(w);
}

/* One group commit over every open log; the completions are reaped now
 * or, sometimes, at the next turn (a sync in flight at the cut). */
static void turn(struct world *w)
{
    for (int i = 0; i < TOPICS; i++)
        for (int p = 0; p < PARTS; p++)
            if (w->t[i].p[p].log && !log_error(w->t[i].p[p].log))
                log_flush_submit(w->t[i].p[p].log, &w->ring, w->now);
    if (w->j)
        journal_submit(w->j, &w->ring); /* the turn's commit */
    if (rnd(w) % 4)
        reap(w);
    else
        io_uring_submit(&w->ring);
}

static void drain_log(struct world *w, struct log *log)
{
    for (int i = 0; i < 1000 && ((log_flush_pending(log) && !log_error(log)) || log_busy(log));
         i++) {
        if (!log_error(log))
            log_flush_submit(log, &w->ring, w->now);
        if (w->j)
            journal_submit(w->j, &w->ring);
        reap(w);
    }
    reap(w);
}

static void model_push(struct pmodel *pm, const struct bmodel *b)
{
    if (pm->nb == pm->cap) {
        pm->cap = pm->cap ? pm->cap * 2 : 64;
        pm->b = realloc(pm->b, (size_t)pm->cap * sizeof(*pm->b));
        assert_non_null(pm->b);
    }
    pm->b[pm->nb++] = *b;
}

static void model_free(struct pmodel *pm)
{
    for (int i = 0; i < pm->nb; i++)
        free(pm->b[i].bytes);
    free(pm->b);
    memset(pm, 0, sizeof(*pm));
}

static void do_append(struct world *w, struct tmodel *t, int p)
{
    struct pmodel *pm = &t->p[p];
    uint8_t buf[8192];
    int records = 1 + (int)(rnd(w) % 5);
    size_t vlen = 16 + rnd(w) % 600;
    int64_t ts = NOW0 + w->seq * 10;
    size_t len = fixture_batch(buf, sizeof(buf), records, vlen, ts, w->seq);
    struct bmodel b = { .records = records, .ts = ts, .len = len, .bytes = malloc(len) };
    struct log_append_result res;
    assert_non_null(b.bytes);
    memcpy(b.bytes, buf, len);
    int rc = log_append(pm->log, b.bytes, len, w->now, &res);
    if (rc == -EAGAIN) {
        drain_log(w, pm->log);
        rc = cut() ? -EIO : log_append(pm->log, b.bytes, len, w->now, &res);
    }
    if (rc != 0) {
        assert_true(rc < 0); /* never a rejected batch */
        free(b.bytes);
        return;
    }
    b.base = res.base_offset;
    TRACE("append %s-%d at %" PRId64 " +%d (%zu bytes)\n", t->name, p, b.base, records, len);
    model_push(pm, &b);
    w->seq++;
    w->appended++;
}

static const char *const policies[] = { "always", "interval", "os" };

static void topic_config(struct world *w, struct topic_config *tc)
{
    char err[256], v[32];
    topic_config_from_broker(&w->bcfg, tc);
    int pol = (int)(rnd(w) % 3);
    assert_int_equal(topic_config_set(tc, "sluice.flush.policy", policies[pol], err, sizeof(err)), 0);
    snprintf(v, sizeof(v), "%d", 4096 + (int)(rnd(w) % 4) * 4096);
    assert_int_equal(topic_config_set(tc, "segment.bytes", v, err, sizeof(err)), 0);
    snprintf(v, sizeof(v), "%d", 16384 + (int)(rnd(w) % 4) * 16384);
    assert_int_equal(topic_config_set(tc, "retention.bytes", v, err, sizeof(err)), 0);
    assert_int_equal(topic_config_set(tc, "index.interval.bytes", "512", err, sizeof(err)), 0);
    if (pol == 1) {
        snprintf(v, sizeof(v), "%d", 1 + (int)(rnd(w) % 20));
        assert_int_equal(topic_config_set(tc, "flush.messages", v, err, sizeof(err)), 0);
        assert_int_equal(topic_config_set(tc, "flush.ms", "1500", err, sizeof(err)), 0);
    }
}

static void log_cfg(const struct md_live *l, struct log_config *lc)
{
    topic_config_to_log(&l->t.config, lc);
    lc->retention_ms = -1;
}

static int open_partition(struct world *w, struct tmodel *t, int p)
{
    struct log_config lc;
    log_cfg(t->l, &lc);
    int rc = log_open(&t->p[p].log, w->dir, t->name, p, &lc, w->now);
    if (rc == 0)
        log_set_journal(t->p[p].log, w->j); /* used with "always" only */
    return rc;
}

static void close_partition(struct world *w, struct pmodel *pm)
{
    if (!pm->log)
        return;
    drain_log(w, pm->log);
    log_close(pm->log); /* after a cut it fails, and frees */
    pm->log = NULL;
}

/* CreateTopics as admin.c does it: placed (CREATING, not in the file),
 * every partition opened, then LIVE and saved. */
static void do_create(struct world *w)
{
    struct tmodel *t = NULL;
    for (int i = 0; i < TOPICS && !t; i++)
        if (!w->t[i].l)
            t = &w->t[i];
    if (!t)
        return;
    struct topic_config tc;
    topic_config(w, &tc);
    assert_int_equal(md_store_add(&w->md, t->name, PARTS, 1, &tc, &t->l), 0);
    for (int p = 0; p < PARTS; p++) {
        int rc = open_partition(w, t, p);
        if (rc < 0) {
            assert_true(cut());
            return;
        }
        t->p[p].start_max = 0;
    }
    t->l->state = MD_LIVE;
    t->l->t.npartitions = t->l->nplaced;
    TRACE("create %s (%s)\n", t->name, policies[t->l->t.config.flush_policy]);
    md_save(w);
    w->creates++;
}

/* DeleteTopics: marked and saved, every partition closed and removed,
 * then forgotten and saved. */
static void do_delete(struct world *w, struct tmodel *t)
{
    t->l->state = MD_DELETING;
    TRACE("delete %s\n", t->name);
    if (md_save(w) < 0)
        return;
    /* Saved as deleting: a restart finishes the delete, the data goes. */
    for (int p = 0; p < PARTS; p++) {
        close_partition(w, &t->p[p]);
        model_free(&t->p[p]);
    }
    for (int p = 0; p < PARTS; p++)
        if (cut() || log_remove(w->dir, t->name, p) < 0)
            return;
    md_store_remove(&w->md, t->l);
    t->l = NULL;
    md_save(w);
    w->deletes++;
}

/* AlterConfigs of retention.bytes and segment.bytes. */
static void do_alter(struct world *w, struct tmodel *t)
{
    char err[256], v[32];
    snprintf(v, sizeof(v), "%d", 16384 + (int)(rnd(w) % 4) * 16384);
    assert_int_equal(topic_config_set(&t->l->t.config, "retention.bytes", v, err, sizeof(err)), 0);
    snprintf(v, sizeof(v), "%d", 4096 + (int)(rnd(w) % 4) * 4096);
    assert_int_equal(topic_config_set(&t->l->t.config, "segment.bytes", v, err, sizeof(err)), 0);
    if (md_save(w) < 0)
        return;
    struct log_config lc;
    log_cfg(t->l, &lc);
    for (int p = 0; p < PARTS; p++)
        if (t->p[p].log)
            log_set_config(t->p[p].log, &lc);
}

static void do_retention(struct world *w, struct pmodel *pm)
{
    if (log_flush_pending(pm->log))
        return;
    if (log_enforce_retention(pm->log, w->now) > 0) {
        w->retained++;
        TRACE("retention: start %" PRId64 "\n", log_start_offset(pm->log));
    }
    /* Even a cut deletion has moved the start in memory: the files may
     * stay or go, so the recovered start may be anywhere up to here. */
    if (log_start_offset(pm->log) > pm->start_max)
        pm->start_max = log_start_offset(pm->log);
}

static void do_reopen(struct world *w, struct tmodel *t, int p)
{
    TRACE("reopen %s-%d\n", t->name, p);
    close_partition(w, &t->p[p]);
    if (!cut() && open_partition(w, t, p) == 0)
        w->reopens++;
    note_synced(w);
}

/* Drops the model's batches based at or past end. */
static void model_cut(struct pmodel *pm, int64_t end)
{
    while (pm->nb > 0 && pm->b[pm->nb - 1].base >= end)
        free(pm->b[--pm->nb].bytes);
}

/* A follower's truncation (log_replica.c), as replication does it when a
 * new leader lacks its tail: once the log is idle, a cut at a random
 * offset (the batch holding it goes too), or one time in four the whole
 * log emptied to start past its end (a follower behind its leader's log
 * start). Once it returned, what was cut never comes back - not from the
 * segments, not from the journal's records of it, even when new batches
 * reuse those offsets - and what was kept all survives; a cut during it
 * may leave either side of it. */
static void do_truncate(struct world *w, struct tmodel *t, int p)
{
    struct pmodel *pm = &t->p[p];
    struct log *log = pm->log;
    int64_t start = log_start_offset(log), end = log_end_offset(log);
    bool fully = rnd(w) % 4 == 0;
    int64_t at = fully ? end + (int64_t)(rnd(w) % 50)
                       : start + (int64_t)(rnd(w) % (uint64_t)(end - start + 1));
    /* At the start, log_truncate empties the log as log_truncate_fully. */
    bool emptied = fully || at <= start;
    /* What must survive even if the cut lands in it: the batches wholly
     * below at (the one holding it goes too; nothing, for an emptied
     * log). */
    int64_t keep = 0;
    for (int i = 0; i < pm->nb && !emptied; i++)
        if (pm->b[i].base + pm->b[i].records <= at && pm->b[i].base + pm->b[i].records > keep)
            keep = pm->b[i].base + pm->b[i].records;
    int rc = -EBUSY;
    for (int i = 0; i < 1000 && rc == -EBUSY && !cut(); i++) {
        rc = fully ? log_truncate_fully(log, at, w->now) : log_truncate(log, at, w->now);
        if (rc == -EBUSY) {
            if (!log_error(log))
                log_flush_submit(log, &w->ring, w->now);
            if (w->j)
                journal_submit(w->j, &w->ring);
            reap(w);
        }
    }
    TRACE("truncate%s %s-%d at %" PRId64 " (%" PRId64 "..%" PRId64 "): %d\n",
          fully ? " fully" : "", t->name, p, at, start, end, rc);
    if (rc == 0 && !fully && at >= end)
        return; /* nothing to cut: nothing done */
    if (rc == 0) {
        /* What is kept was synced before the cut. */
        int64_t now_end = log_end_offset(log);
        model_cut(pm, fully ? INT64_MIN : now_end);
        pm->synced = now_end;
        if (fully)
            pm->start_max = at;
        w->truncated++;
        return;
    }
    /* Cut during it (or failed with the disk): either side may be found,
     * and of a log being emptied any of its segments (their unlinks are
     * synced together): it may start at any of them, or at at. A
     * follower cut off like that truncates again after its restart (its
     * leader epochs are cut last), to the same point. */
    if (pm->synced > keep)
        pm->synced = keep;
    if (emptied && (at > end ? at : end) > pm->start_max)
        pm->start_max = at > end ? at : end;
}

/* --- offsets --------------------------------------------------------------- */

struct commit_msg {
    struct ctl_msg m;
    struct ctl_offset_topic t;
    struct ctl_offset_partition p;
    uint8_t arena[4096];
};

static void on_answer(void *ctx, struct ctl_msg *m)
{
    (void)m;
    ((struct world *)ctx)->answers++;
}

static struct omodel *om_get(struct world *w, const char *g, const char *t, int32_t p)
{
    char key[48];
    snprintf(key, sizeof(key), "%s|%s|%d", g, t, p);
    for (int i = 0; i < w->nom; i++)
        if (strcmp(w->om[i].key, key) == 0)
            return &w->om[i];
    struct omodel *o = &w->om[w->nom++];
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->acked = -1;
    return o;
}

static void do_commit(struct world *w)
{
    static const char *const groups[GROUPS] = { "ga", "gb", "gc" };
    struct commit_msg x;
    const char *g = groups[rnd(w) % GROUPS];
    const char *topic = w->t[rnd(w) % TOPICS].name;
    int32_t p = (int32_t)(rnd(w) % PARTS);
    int64_t off = (int64_t)(rnd(w) % 100000);
    memset(&x, 0, sizeof(x));
    x.m.op = CTL_OFFSET_COMMIT;
    x.m.arena = (struct ctl_arena){ .buf = x.arena, .cap = sizeof(x.arena) };
    x.m.u.offsets = (struct ctl_offsets){ .group_id = g, .member_id = "", .generation = -1,
                                          .retention_ms = -1, .ntopics = 1, .topics = &x.t };
    x.t = (struct ctl_offset_topic){ .name = topic, .npartitions = 1, .partitions = &x.p };
    x.p = (struct ctl_offset_partition){ .partition = p, .offset = off, .leader_epoch = 1,
                                         .metadata_len = -1 };
    struct omodel *om = om_get(w, g, topic, p);
    w->answers = 0;
    offsets_request(w->o, &x.m, w->now);
    assert_true(om->npending < 8);
    om->pending[om->npending++] = off;
    int rc = offsets_flush(w->o);
    if (rc == 0 && !cut()) {
        assert_int_equal(w->answers, 1);
        assert_int_equal(x.p.error, 0);
        om->acked = off;
        om->npending = 0;
        w->commits++;
    }
}

/* --- start-up, as sluiced does it, and the checks -------------------------- */

static void check_offsets(struct world *w)
{
    for (int i = 0; i < w->nom; i++) {
        struct omodel *om = &w->om[i];
        char g[16], t[16];
        int32_t p;
        struct offsets_entry e;
        assert_int_equal(sscanf(om->key, "%15[^|]|%15[^|]|%d", g, t, &p), 3);
        int64_t got = offsets_get(w->o, g, t, p, &e) == 0 ? e.offset : -1;
        bool ok = got == om->acked;
        for (int k = 0; k < om->npending && !ok; k++)
            ok = got == om->pending[k];
        if (!ok)
            fail_msg("offsets %s: %" PRId64 " after the cut, %" PRId64 " acked (cut at %s)",
                     om->key, got, om->acked, crashsim_cut_where());
        om->acked = got;
        om->npending = 0;
    }
}

static struct bmodel *model_at(struct pmodel *pm, int64_t base)
{
    int lo = 0, hi = pm->nb;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pm->b[mid].base < base)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pm->nb && pm->b[lo].base == base ? &pm->b[lo] : NULL;
}

/* The files of a partition, for a failure message. */
static const char *listing(struct world *w, const char *topic, int p)
{
    static char out[2048];
    char dir[512];
    size_t n = 0;
    snprintf(dir, sizeof(dir), "%s/%s-%d", w->dir, topic, p);
    DIR *d = opendir(dir);
    struct dirent *de;
    out[0] = '\0';
    while (d && (de = readdir(d)) && n < sizeof(out) - 128) {
        char f[1024];
        struct stat st;
        snprintf(f, sizeof(f), "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.' && stat(f, &st) == 0)
            n += (size_t)snprintf(out + n, sizeof(out) - n, " %s:%lld", de->d_name,
                                  (long long)st.st_size);
    }
    if (d)
        closedir(d);
    return out;
}

/* Whether the model holds a batch based in [lo, hi). */
static bool model_any_in(struct pmodel *pm, int64_t lo, int64_t hi)
{
    for (int i = 0; i < pm->nb; i++)
        if (pm->b[i].base >= lo && pm->b[i].base < hi)
            return true;
    return false;
}

/* The recovered log against what was appended and what was synced. */
static void check_log(struct world *w, struct tmodel *t, int p)
{
    struct pmodel *pm = &t->p[p];
    struct log *log = pm->log;
    static uint8_t got[16384];
    int64_t start = log_start_offset(log), end = log_end_offset(log);
    const char *where = crashsim_cut_where();
    if (start > pm->start_max)
        fail_msg("%s-%d: starts at %" PRId64 ", retention only reached %" PRId64 " (cut at %s)",
                 t->name, p, start, pm->start_max, where);
    if (end < pm->synced)
        fail_msg("%s-%d: ends at %" PRId64 " but %" PRId64 " had been synced (cut at %s); "
                 "files:%s", t->name, p, end, pm->synced, where, listing(w, t->name, p));
    for (int i = 0; i < pm->nb; i++)
        pm->b[i].present = false;
    for (int64_t off = start; off < end;) {
        struct log_range r[2];
        struct batch_header h;
        int n = log_read(log, off, 1, r, 2);
        /* Unsynced batches may go, whole segments of them with flush "os"
         * or "interval" (sealed, not yet synced, at the cut): a gap is
         * allowed where no batch appended below log_synced_end() was -
         * those offsets are never reused; a synced batch in it is loss. */
        if (n == 0 && !model_any_in(pm, off, end < pm->synced ? end : pm->synced)) {
            w->gaps++;
            break;
        }
        if (n != 1)
            fail_msg("%s-%d: no batch at %" PRId64 " (log %" PRId64 "..%" PRId64 ", synced %"
                     PRId64 ", cut at %s); files:%s", t->name, p, off, start, end, pm->synced,
                     where, listing(w, t->name, p));
        assert_true(r[0].len <= sizeof(got));
        assert_int_equal(pread(r[0].fd, got, r[0].len, (off_t)r[0].pos), (ssize_t)r[0].len);
        batch_header_decode(got, &h);
        if (h.base_offset > off &&
            !model_any_in(pm, off, h.base_offset < pm->synced ? h.base_offset : pm->synced)) {
            w->gaps++;
            off = h.base_offset;
        }
        struct bmodel *b = model_at(pm, off);
        if (h.base_offset != off || batch_validate(got, r[0].len, 0) != 0 || !b ||
            b->len != r[0].len || memcmp(b->bytes, got, b->len) != 0)
            fail_msg("%s-%d: the batch at %" PRId64 " is not the one appended there: read "
                     "%u bytes at position %" PRIu64 " (base %" PRId64 "), appended %zu, synced %"
                     PRId64 " (cut at %s); files:%s", t->name, p, off, r[0].len, r[0].pos,
                     h.base_offset, b ? b->len : 0, pm->synced, where, listing(w, t->name, p));
        b->present = true;
        off = batch_last_offset(&h) + 1;
        w->verified++;
    }
    /* What the cut took is gone from the model; the rest is the log now. */
    int keep = 0;
    for (int i = 0; i < pm->nb; i++) {
        if (pm->b[i].present)
            pm->b[keep++] = pm->b[i];
        else
            free(pm->b[i].bytes);
    }
    pm->nb = keep;
    /* The time index, rebuilt or trusted, finds a batch by its timestamp. */
    for (int k = 0; k < 3 && pm->nb > 0; k++) {
        struct bmodel *b = &pm->b[rnd(w) % (uint64_t)pm->nb];
        int64_t off = -1, ts;
        int rc = log_offset_for_timestamp(log, b->ts, &off, &ts);
        if (rc != 0 || off != b->base)
            fail_msg("%s-%d: timestamp %" PRId64 " found at %" PRId64 " (%d), not at %" PRId64
                     " (cut at %s); files:%s", t->name, p, b->ts, off, rc, b->base, where,
                     listing(w, t->name, p));
    }
    pm->synced = log_synced_end(log);
    pm->start_max = start;
    TRACE("recovered %s-%d: %" PRId64 "..%" PRId64 "\n", t->name, p, start, end);
}

/* No record may be left in a partition directory no live topic owns: a
 * topic created again under that name would find it. */
static void check_orphans(struct world *w)
{
    DIR *d = opendir(w->dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d))) {
        char name[64], path[512];
        int p;
        const char *dash = strrchr(de->d_name, '-');
        if (!dash || de->d_name[0] == '.' || strcmp(de->d_name, "__sluice") == 0 ||
            strcmp(de->d_name, "__journal") == 0)
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(dash - de->d_name), de->d_name);
        p = atoi(dash + 1);
        struct tmodel *t = topic_named(w, name);
        if (t && t->l && t->l->state == MD_LIVE && p < PARTS)
            continue;
        snprintf(path, sizeof(path), "%s/%s", w->dir, de->d_name);
        DIR *pd = opendir(path);
        struct dirent *se;
        assert_non_null(pd);
        while ((se = readdir(pd))) {
            struct stat st;
            char f[1024];
            snprintf(f, sizeof(f), "%s/%s", path, se->d_name);
            size_t n = strlen(se->d_name);
            if (n > 4 && strcmp(se->d_name + n - 4, ".log") == 0 && stat(f, &st) == 0 &&
                st.st_size > 0)
                fail_msg("%s: %lld bytes of records left by a topic that is not live "
                         "(cut at %s)", f, (long long)st.st_size, crashsim_cut_where());
        }
        closedir(pd);
    }
    closedir(d);
}

/* Everything the process had open goes (the power went off, or it died). */
/* The store holds nothing but what was committed: no topic half created,
 * no change made and not committed. */
static bool md_clean(struct world *w)
{
    char now[4096];
    for (int32_t i = 0; i < w->md.ntopics; i++)
        if (w->md.topics[i]->state == MD_CREATING || w->md.topics[i]->busy)
            return false;
    md_describe(&w->md, now, sizeof(now));
    return strcmp(now, w->md_saved) == 0;
}

/* keep_md: the metadata store stays open across the cut, which loses
 * nothing of it (its raft log is outside the simulation); opening raft
 * costs ~0.1 s, so only one start in eight reopens a clean store. */
static void teardown_world(struct world *w, bool keep_md)
{
    for (int i = 0; i < 100; i++)
        reap(w);
    for (int i = 0; i < TOPICS; i++)
        for (int p = 0; p < PARTS; p++)
            close_partition(w, &w->t[i].p[p]);
    for (int i = 0; i < 100 && w->j && journal_busy(w->j); i++)
        reap(w);
    if (w->j) {
        struct journal_stats js;
        journal_get_stats(w->j, &js);
        w->jnl_commits += js.commits;
        w->jnl_checkpoints += js.checkpoints;
    }
    journal_close(w->j);
    w->j = NULL;
    if (w->o)
        offsets_destroy(w->o);
    w->o = NULL;
    if (w->md_open && !(keep_md && md_clean(w))) {
        md_store_close(&w->md);
        w->md_open = false;
    }
    for (int i = 0; i < TOPICS; i++)
        w->t[i].l = NULL;
}

/* Start-up: the metadata, deletes finished, offsets, every live log.
 * Returns false when the power went off during it. */
static bool start(struct world *w)
{
    char err[512], now[4096];
    int rc = 0;
    if (!w->md_open) {
        rc = md_store_open(&w->md, &w->bcfg, w->dir, 1, err, sizeof(err));
        if (cut())
            return false;
        if (rc < 0)
            fail_msg("metadata does not open after the cut at %s: %s", crashsim_cut_where(), err);
        w->md_open = true;
        w->md_opens++;
    }
    md_describe(&w->md, now, sizeof(now));
    if (strcmp(now, w->md_saved) != 0 && !(w->trying && strcmp(now, w->md_trying) == 0)) {
        printf("metadata now:\n%s\nlast saved:\n%s\n%s:\n%s\n", now, w->md_saved,
               w->trying ? "being saved at the cut" : "no save was cut", w->md_trying);
        fail_msg("the metadata after the cut at %s is neither the last saved nor the one "
                 "being saved (both printed above)", crashsim_cut_where());
    }
    memcpy(w->md_saved, now, sizeof(now));
    w->trying = false;
    for (int i = 0; i < TOPICS; i++)
        w->t[i].l = md_store_find(&w->md, w->t[i].name);
    for (int i = 0; i < TOPICS; i++) {
        struct tmodel *t = &w->t[i];
        if (!t->l || t->l->state != MD_DELETING)
            continue;
        for (int p = 0; p < PARTS; p++)
            if (log_remove(w->dir, t->name, p) < 0)
                return false;
        md_store_remove(&w->md, t->l);
        t->l = NULL;
        if (md_save(w) < 0)
            return false;
    }
    struct offsets_options oo = { .retention_ms = 7 * 24 * 3600 * 1000ll, .compact_ratio = 2,
                                  .compact_min_bytes = 2048 };
    char odir[512];
    snprintf(odir, sizeof(odir), "%s/__sluice/offsets", w->dir);
    rc = offsets_create(&w->o, odir, &oo, on_answer, w, w->now, err, sizeof(err));
    if (cut())
        return false;
    if (rc < 0)
        fail_msg("offsets do not open after the cut at %s: %s", crashsim_cut_where(), err);
    check_offsets(w);
    /* As sluiced starts: the journal put back into the logs before any
     * opens, then opened empty for the new run. */
    rc = journal_replay_dir(w->dir);
    if (cut())
        return false;
    if (rc < 0)
        fail_msg("the journal does not replay after the cut at %s: %d", crashsim_cut_where(), rc);
    w->jnl_replayed += rc;
    rc = journal_open(&w->j, w->dir, 0, JOURNAL_BYTES);
    if (cut())
        return false;
    if (rc < 0)
        fail_msg("the journal does not open after the cut at %s: %d", crashsim_cut_where(), rc);
    for (int i = 0; i < TOPICS; i++) {
        struct tmodel *t = &w->t[i];
        for (int p = 0; p < PARTS && t->l; p++) {
            if (open_partition(w, t, p) < 0) {
                assert_true(cut());
                return false;
            }
        }
    }
    check_orphans(w);
    for (int i = 0; i < TOPICS; i++)
        for (int p = 0; p < PARTS; p++)
            if (w->t[i].p[p].log)
                check_log(w, &w->t[i], p);
            else
                model_free(&w->t[i].p[p]); /* deleted: a new topic starts empty */
    return true;
}

static void step(struct world *w)
{
    struct tmodel *t = &w->t[rnd(w) % TOPICS];
    int p = (int)(rnd(w) % PARTS), r = (int)(rnd(w) % 100);
    bool live = t->l && t->l->state == MD_LIVE && t->p[p].log;
    w->now += (int64_t)(rnd(w) % 400);
    if (r < 60 && live)
        do_append(w, t, p);
    else if (r < 64)
        do_create(w);
    else if (r < 65 && live)
        do_delete(w, t);
    else if (r < 68 && live)
        do_alter(w, t);
    else if (r < 80)
        do_commit(w);
    else if (r < 92 && live)
        do_retention(w, &t->p[p]);
    else if (r < 95 && live)
        do_reopen(w, t, p);
    else if (r < 97 && live)
        do_truncate(w, t, p);
    if (!cut())
        turn(w);
}

static void power_off(struct world *w, bool kill_only)
{
    char err[512];
    crashsim_cut_now();
    teardown_world(w, rnd(w) % 8 != 0);
    TRACE("%s at %s\n", kill_only ? "process killed" : "power cut", crashsim_cut_where());
    int rc = kill_only ? crashsim_restart(err, sizeof(err)) : crashsim_power_cut(err, sizeof(err));
    if (rc < 0)
        fail_msg("%s (cut at %s)", err, crashsim_cut_where());
}

static void test_power_cuts_lose_nothing_durable(void **state)
{
    (void)state;
    static struct world w;
    uint64_t rounds = powercut_env_u64("SLUICE_POWERCUT_ROUNDS", 1000);
    uint64_t seed = powercut_env_u64("SLUICE_POWERCUT_SEED", 20261203);
    tracing = powercut_env_u64("SLUICE_POWERCUT_TRACE", 0) != 0;
    memset(&w, 0, sizeof(w));
    /* The simulated disk needs no real one: tmpfs when there is one, so
     * the rewrites after each cut cost no disk writes. */
    char shm[] = "/dev/shm/sluice-powercut-XXXXXX";
    w.dir = mkdtemp(shm) ? strdup(shm) : fixture_tmpdir();
    assert_non_null(w.dir);
    w.rng = seed;
    w.now = NOW0;
    assert_int_equal(broker_config_defaults(&w.bcfg), 0);
    for (int i = 0; i < TOPICS; i++)
        snprintf(w.t[i].name, sizeof(w.t[i].name), "t%d", i);
    assert_int_equal(io_uring_queue_init(256, &w.ring, 0), 0);
    char raft[600], lock[600];
    snprintf(raft, sizeof(raft), "%s/__sluice/raft", w.dir);
    snprintf(lock, sizeof(lock), "%s/__sluice/lock", w.dir);
    assert_int_equal(crashsim_install(w.dir, seed), 0);
    assert_int_equal(crashsim_exclude(raft), 0);
    assert_int_equal(crashsim_exclude(lock), 0); /* held across kept starts */
    /* The first start makes an empty data dir; its save is the baseline. */
    assert_true(start(&w));
    md_describe(&w.md, w.md_saved, sizeof(w.md_saved));

    assert_true(powercut_stderr_to_file(w.dir));

    struct crashsim_stats st = { 0 };
    for (uint64_t round = 0; st.cuts < rounds; round++) {
        TRACE("--- round %" PRIu64 "\n", round);
        crashsim_arm(1 + rnd(&w) % 400);
        for (int i = 0; i < 2000 && !cut(); i++)
            step(&w);
        power_off(&w, rnd(&w) % 4 == 0);
        /* One start in four is cut too: recovery must survive its own
         * crash. */
        if (rnd(&w) % 4 == 0)
            crashsim_arm(1 + rnd(&w) % 80);
        while (!start(&w)) { /* the power went off during start-up */
            w.recut++;
            power_off(&w, rnd(&w) % 4 == 0);
        }
        crashsim_arm(0);
        crashsim_get_stats(&st);
    }
    teardown_world(&w, false);
    powercut_stderr_back(false);

    crashsim_get_stats(&st);
    print_message("powercut: %" PRIu64 " power cuts + %" PRIu64 " process kills (%" PRId64
                  " during recovery), %" PRIu64 " distinct crash points of %" PRIu64
                  " call stacks seen, %" PRIu64 " storage calls\n",
                  st.cuts, st.kills, w.recut, st.points, st.sites, st.calls);
    print_message("powercut: unsynced writes kept %" PRIu64 ", torn %" PRIu64 ", dropped %" PRIu64
                  "; directory changes kept %" PRIu64 ", lost %" PRIu64 "\n",
                  st.kept, st.torn, st.dropped, st.dir_kept, st.dir_lost);
    print_message("powercut: %" PRId64 " batches appended, %" PRId64 " verified after cuts "
                  "(%" PRId64 " gaps of never-synced offsets), %" PRId64 " offset commits, %"
                  PRId64 " topics created, %" PRId64 " deleted, %" PRId64 " retention passes, %"
                  PRId64 " clean reopens, %" PRId64 " truncations, %" PRId64
                  " metadata reopens\n", w.appended,
                  w.verified, w.gaps, w.commits, w.creates, w.deletes, w.retained, w.reopens,
                  w.truncated, w.md_opens);
    print_message("powercut: journal: %" PRIu64 " commits synced, %" PRIu64 " checkpoints, %"
                  PRId64 " batches put back by replays after cuts\n", w.jnl_commits,
                  w.jnl_checkpoints, w.jnl_replayed);
    assert_true(st.cuts >= rounds);
    /* The journal was on the path: committed, checkpointed (the default
     * rounds move its tail several times), and replayed into logs the cuts
     * had left short, each then checked as above. */
    assert_true(w.jnl_commits > 0 && w.jnl_replayed > 0);
    assert_true(w.truncated > 0);
    assert_true(w.jnl_checkpoints > 0 || rounds < 1000);
    crashsim_uninstall();
    io_uring_queue_exit(&w.ring);
    for (int i = 0; i < TOPICS; i++)
        for (int p = 0; p < PARTS; p++)
            model_free(&w.t[i].p[p]);
    fixture_rmdir(w.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_cuts_lose_nothing_durable),
    };
    int rc = cmocka_run_group_tests_name("powercut", tests, NULL, NULL);
    powercut_stderr_back(rc != 0);
    return rc;
}
