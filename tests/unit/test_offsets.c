/* test_offsets.c - control/offsets.c driven directly, without sockets or
 * rings: commit/fetch round trips, persistence, torn tails, compaction,
 * group deletion, retention with an injected clock, and a SIGKILL crash
 * test in the spirit of test_crash.c. No groups or metadata are attached
 * (offsets_set_groups/metadata NULL): every generation and every
 * partition is accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "control/offsets_private.h"
#include "control/md_store.h"
#include "storage/sys.h"
#include "storage_fixture.h"

#define NOW 1700000000000LL

struct answers {
    struct ctl_msg *v[64];
    int n;
};

static void on_answer(void *ctx, struct ctl_msg *m)
{
    struct answers *a = ctx;
    assert_true(a->n < 64);
    a->v[a->n++] = m;
}

struct fx {
    char *dir;
    struct offsets *o;
    struct answers a;
    struct offsets_options opt;
};

static void fx_open(struct fx *f, int64_t now)
{
    char err[256];
    int rc = offsets_create(&f->o, f->dir, &f->opt, on_answer, &f->a, now, err, sizeof err);
    if (rc < 0)
        fail_msg("offsets_create: %s", err);
}

static void fx_reopen(struct fx *f, int64_t now)
{
    offsets_destroy(f->o);
    fx_open(f, now);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char *base = fixture_tmpdir();
    assert_non_null(f);
    assert_non_null(base);
    f->dir = malloc(strlen(base) + 16);
    sprintf(f->dir, "%s/offsets", base);
    free(base);
    f->opt.retention_ms = 7 * 24 * 3600 * 1000LL;
    fx_open(f, NOW);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char *base = strdup(f->dir);
    offsets_destroy(f->o);
    *strrchr(base, '/') = '\0';
    fixture_rmdir(base);
    free(f->dir);
    free(f);
    return 0;
}

/* One message of one topic and n partitions, in storage the test owns. */
struct one {
    struct ctl_msg m;
    struct ctl_offset_topic t;
    struct ctl_offset_partition p[8];
    uint8_t arena[8192];
};

static struct ctl_msg *one(struct one *x, enum ctl_op op, const char *group, const char *topic,
                           int n, int64_t offset0, const char *meta)
{
    memset(x, 0, sizeof *x);
    x->m.op = op;
    x->m.arena = (struct ctl_arena){.buf = x->arena, .cap = sizeof x->arena};
    x->m.u.offsets = (struct ctl_offsets){.group_id = group, .member_id = "", .generation = -1,
                                          .retention_ms = -1, .ntopics = 1, .topics = &x->t};
    x->t = (struct ctl_offset_topic){.name = topic, .npartitions = n, .partitions = x->p};
    for (int i = 0; i < n; i++)
        x->p[i] = (struct ctl_offset_partition){
            .partition = i, .offset = offset0 + i, .leader_epoch = 3, .metadata = meta,
            .metadata_len = meta ? (int32_t)strlen(meta) : -1};
    return &x->m;
}

/* Commits and flushes: the answer comes only with the flush. */
static void commit(struct fx *f, const char *group, const char *topic, int n, int64_t off,
                   const char *meta, int64_t now)
{
    struct one x;
    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, group, topic, n, off, meta), now);
    assert_int_equal(f->a.n, 0);
    assert_int_equal(offsets_held(f->o), 1);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(f->a.n, 1);
    for (int i = 0; i < n; i++)
        assert_int_equal(x.p[i].error, 0);
}

static int64_t fetched(struct fx *f, const char *group, const char *topic, int32_t part)
{
    struct one x;
    one(&x, CTL_OFFSET_FETCH, group, topic, 1, 0, NULL);
    x.p[0].partition = part;
    f->a.n = 0;
    offsets_request(f->o, &x.m, NOW);
    assert_int_equal(f->a.n, 1);
    assert_int_equal(x.p[0].error, 0);
    return x.p[0].offset;
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct one x;

    commit(f, "g1", "t", 3, 100, "hello", NOW);
    offsets_request(f->o, one(&x, CTL_OFFSET_FETCH, "g1", "t", 4, 0, NULL), NOW);
    assert_int_equal(x.p[0].offset, 100);
    assert_int_equal(x.p[2].offset, 102);
    assert_int_equal(x.p[2].leader_epoch, 3);
    assert_int_equal(x.p[1].metadata_len, 5);
    assert_memory_equal(x.p[1].metadata, "hello", 5);
    assert_int_equal(x.p[3].offset, -1);      /* never committed */
    assert_int_equal(x.p[3].leader_epoch, -1);
    assert_int_equal(fetched(f, "nope", "t", 0), -1);
    assert_int_equal(fetched(f, "g1", "other", 0), -1);

    /* All partitions of the group (topics null). */
    commit(f, "g1", "u", 2, 7, NULL, NOW);
    offsets_request(f->o, one(&x, CTL_OFFSET_FETCH, "g1", NULL, 0, 0, NULL), NOW);
    x.m.u.offsets.ntopics = -1;
    offsets_request(f->o, &x.m, NOW);
    assert_int_equal(x.m.u.offsets.need, 0);
    assert_int_equal(x.m.u.offsets.ntopics, 2);
    int total = 0;
    for (int t = 0; t < 2; t++)
        total += x.m.u.offsets.topics[t].npartitions;
    assert_int_equal(total, 5);
    assert_string_equal(x.m.u.offsets.topics[0].name, "t");

    /* An arena too small says how much would do. */
    x.m.arena.cap = 16;
    x.m.arena.len = 0;
    x.m.u.offsets.ntopics = -1;
    offsets_request(f->o, &x.m, NOW);
    assert_true(x.m.u.offsets.need > 16);

    /* So does a fetch of named partitions whose metadata does not fit. */
    one(&x, CTL_OFFSET_FETCH, "g1", "t", 3, 0, NULL);
    x.m.arena.cap = 16;
    offsets_request(f->o, &x.m, NOW);
    assert_int_equal(x.m.u.offsets.need, 3 * (5 + 8) + 64);
}

static void test_errors(void **state)
{
    struct fx *f = *state;
    char big[OFFSETS_METADATA_MAX + 2];
    struct one x;

    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "g", "t", 2, 5, big), NOW);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(f->a.n, 1);
    assert_int_equal(x.p[0].error, 12);
    assert_int_equal(offsets_count(f->o), 0);

    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "", "t", 1, 5, NULL), NOW);
    assert_int_equal(f->a.n, 1);             /* refused at once */
    assert_int_equal(x.m.u.offsets.error, 24);
    assert_int_equal(x.p[0].error, 24);

    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_DELETE, "unknown", "t", 1, 0, NULL), NOW);
    assert_int_equal(f->a.n, 1);
    assert_int_equal(x.m.u.offsets.error, 69);
}

static void test_persist(void **state)
{
    struct fx *f = *state;
    struct offsets_entry e;

    commit(f, "g1", "t", 4, 10, "m1", NOW);
    commit(f, "g1", "t", 2, 20, NULL, NOW + 5);
    commit(f, "g2", "t", 1, 99, "", NOW);
    fx_reopen(f, NOW);
    assert_int_equal(offsets_count(f->o), 5);
    assert_int_equal(offsets_get(f->o, "g1", "t", 0, &e), 0);
    assert_int_equal(e.offset, 20);
    assert_null(e.metadata);
    assert_int_equal(e.commit_ms, NOW + 5);
    assert_int_equal(offsets_get(f->o, "g1", "t", 3, &e), 0);
    assert_int_equal(e.offset, 13);
    assert_string_equal(e.metadata, "m1");
    assert_int_equal(offsets_get(f->o, "g2", "t", 0, &e), 0);
    assert_string_equal(e.metadata, "");
}

static void test_torn_tail(void **state)
{
    struct fx *f = *state;
    char path[512];
    struct stat st;
    int fd;

    commit(f, "g", "t", 1, 1, NULL, NOW);
    commit(f, "g", "t", 1, 2, NULL, NOW);
    snprintf(path, sizeof path, "%s/offsets.log", f->dir);
    assert_int_equal(stat(path, &st), 0);
    int64_t good = st.st_size;
    commit(f, "g", "t", 1, 3, NULL, NOW);
    offsets_destroy(f->o);
    f->o = NULL;
    /* Tear the last record: keep a few bytes of it, then garbage. */
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, good + 11), 0);
    assert_int_equal(pwrite(fd, "zz", 2, good + 5), 2);
    close(fd);
    fx_open(f, NOW);
    assert_int_equal(fetched(f, "g", "t", 0), 2);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, good);       /* cut back */
    /* Appends after the cut replay. */
    commit(f, "g", "t", 1, 4, NULL, NOW);
    fx_reopen(f, NOW);
    assert_int_equal(fetched(f, "g", "t", 0), 4);
}

static void test_compaction(void **state)
{
    struct fx *f = *state;
    struct offsets_entry e;

    offsets_destroy(f->o);
    f->opt.compact_min_bytes = 4096;
    f->opt.compact_ratio = 4;
    fx_open(f, NOW);
    for (int i = 0; i < 400; i++)
        commit(f, i % 2 ? "a" : "b", "topic", 3, i, "meta", NOW + i);
    /* 6 live entries; the file never grew past a few times that. */
    assert_int_equal(offsets_count(f->o), 6);
    assert_true(offsets_file_bytes(f->o) <= 4096 + 16 + 4 * offsets_live_bytes(f->o) + 1024);
    assert_int_equal(offsets_compact(f->o), 0);
    assert_int_equal(offsets_file_bytes(f->o), 16 + offsets_live_bytes(f->o));
    fx_reopen(f, NOW);
    assert_int_equal(offsets_count(f->o), 6);
    assert_int_equal(offsets_get(f->o, "a", "topic", 2, &e), 0);
    assert_int_equal(e.offset, 399 + 2);
    assert_int_equal(offsets_get(f->o, "b", "topic", 0, &e), 0);
    assert_int_equal(e.offset, 398);
    assert_string_equal(e.metadata, "meta");
}

static void count_group(void *ctx, const char *id)
{
    (void)id;
    (*(int *)ctx)++;
}

static void test_delete(void **state)
{
    struct fx *f = *state;
    struct one x;
    int n = 0;

    commit(f, "g1", "t", 3, 1, NULL, NOW);
    commit(f, "g2", "t", 2, 1, NULL, NOW);
    assert_int_equal(offsets_list_groups(f->o, count_group, &n), 2);
    assert_int_equal(n, 2);
    /* OffsetDelete of one partition: held, answered at the flush. */
    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_DELETE, "g1", "t", 1, 0, NULL), NOW);
    assert_int_equal(f->a.n, 0);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(f->a.n, 1);
    assert_int_equal(x.m.u.offsets.error, 0);
    assert_int_equal(fetched(f, "g1", "t", 0), -1);
    assert_int_equal(fetched(f, "g1", "t", 1), 2);
    /* DeleteGroups' part. */
    assert_int_equal(offsets_delete_group(f->o, "g2"), 0);
    assert_int_equal(offsets_delete_group(f->o, "g2"), 69);
    fx_reopen(f, NOW);
    assert_int_equal(fetched(f, "g2", "t", 0), -1);
    assert_int_equal(fetched(f, "g1", "t", 0), -1);
    assert_int_equal(fetched(f, "g1", "t", 2), 3);
    assert_int_equal(offsets_count(f->o), 2);
}

static void test_retention(void **state)
{
    struct fx *f = *state;
    int64_t day = 24 * 3600 * 1000LL;
    struct one x;

    offsets_destroy(f->o);
    f->opt.retention_ms = day;
    fx_open(f, NOW);
    commit(f, "old", "t", 1, 5, NULL, NOW);
    commit(f, "new", "t", 1, 6, NULL, NOW + day / 2);
    /* An explicit retention (OffsetCommit v2-4): one hour. */
    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "v2", "t", 1, 7, NULL), NOW);
    x.m.u.offsets.retention_ms = 3600 * 1000;
    offsets_request(f->o, &x.m, NOW);
    assert_int_equal(offsets_flush(f->o), 0);

    assert_int_equal(offsets_expire(f->o, NOW + day - 1), 1);     /* v2 */
    /* Only right after a flush: tombstones never overtake a commit. */
    assert_int_equal(offsets_expire(f->o, NOW + day), 0);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(offsets_expire(f->o, NOW + day), 1);         /* old */
    assert_int_equal(offsets_flush(f->o), 0);                     /* tombstones */
    assert_int_equal(fetched(f, "old", "t", 0), -1);
    assert_int_equal(fetched(f, "new", "t", 0), 6);
    fx_reopen(f, NOW + day);
    assert_int_equal(fetched(f, "old", "t", 0), -1);
    assert_int_equal(fetched(f, "v2", "t", 0), -1);
    /* After a restart, retention counts from the restart at the earliest. */
    assert_int_equal(offsets_expire(f->o, NOW + day * 3 / 2), 0);
    assert_int_equal(offsets_expire(f->o, NOW + 2 * day), 1);
    assert_int_equal(offsets_count(f->o), 0);
}

/* With the live metadata attached: commits to partitions that do not
 * exist fail with UNKNOWN_TOPIC_OR_PARTITION, and the offsets of a topic
 * being deleted go at the next retention check. */
static void test_metadata(void **state)
{
    struct fx *f = *state;
    struct broker_config cfg;
    struct topic_config tc;
    struct md_store md = {.lock_fd = -1};
    struct md_live *t;
    char err[256], *mdir = fixture_tmpdir();
    struct one x;

    assert_int_equal(broker_config_defaults(&cfg), 0);
    if (md_store_open(&md, &cfg, mdir, 1, err, sizeof err) < 0)
        fail_msg("md_store_open: %s", err);
    topic_config_from_broker(&cfg, &tc);
    assert_int_equal(md_store_add(&md, "t", 2, 1, &tc, &t), 0);
    t->state = MD_LIVE;
    t->t.npartitions = 2;
    offsets_set_metadata(f->o, &md);

    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "g", "t", 3, 10, NULL), NOW);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(x.p[0].error, 0);
    assert_int_equal(x.p[1].error, 0);
    assert_int_equal(x.p[2].error, 3);
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "g", "nope", 1, 10, NULL), NOW);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(x.p[0].error, 3);
    assert_int_equal(offsets_count(f->o), 2);

    assert_int_equal(offsets_expire(f->o, NOW), 0);
    t->state = MD_DELETING;
    assert_int_equal(offsets_expire(f->o, NOW + 1), 2);
    assert_int_equal(offsets_flush(f->o), 0);
    assert_int_equal(offsets_count(f->o), 0);
    offsets_set_metadata(f->o, NULL);
    md_store_close(&md);
    fixture_rmdir(mdir);
}

static int fail_sync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

/* A failed fdatasync: the turn's commits fail, are not applied, and the
 * log stays read-only (sticky) until a restart, which replays only what
 * was durable before. */
static void test_sync_failure(void **state)
{
    struct fx *f = *state;
    int (*saved)(int) = storage_sys.fdatasync;
    struct one x;

    commit(f, "g", "t", 1, 1, NULL, NOW);
    storage_sys.fdatasync = fail_sync;
    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "g", "t", 1, 2, NULL), NOW);
    assert_true(offsets_flush(f->o) < 0);
    storage_sys.fdatasync = saved;
    assert_int_equal(f->a.n, 1);
    assert_int_equal(x.p[0].error, 15);
    assert_int_equal(fetched(f, "g", "t", 0), 1);
    f->a.n = 0;
    offsets_request(f->o, one(&x, CTL_OFFSET_COMMIT, "g", "t", 1, 3, NULL), NOW);
    assert_int_equal(f->a.n, 1);            /* sticky: refused at once */
    assert_int_equal(x.p[0].error, 15);
    assert_int_equal(offsets_delete_group(f->o, "g"), 15);
    fx_reopen(f, NOW);
    assert_true(fetched(f, "g", "t", 0) >= 1);  /* 2 may have reached the disk */
    commit(f, "g", "t", 1, 4, NULL, NOW);
    assert_int_equal(fetched(f, "g", "t", 0), 4);
}

/* --- crash ------------------------------------------------------------------------- */

/* The child: commits (group "c", partition i % 4, offset i) in turns of a
 * few, and writes i on the pipe once the turn's flush answered it. */
static void crash_child(const char *dir, int wfd, unsigned seed)
{
    struct offsets_options opt = {.retention_ms = -1, .compact_min_bytes = 8192};
    struct answers a = {0};
    struct offsets *o;
    char err[256];
    static struct one x[8];

    if (offsets_create(&o, dir, &opt, on_answer, &a, NOW, err, sizeof err) < 0)
        _exit(2);
    srand(seed);
    for (int64_t i = 0;; ) {
        int k = 1 + rand() % 8;
        a.n = 0;
        for (int j = 0; j < k; j++, i++) {
            one(&x[j], CTL_OFFSET_COMMIT, "c", "topic", 1, i, "m");
            x[j].p[0].partition = (int32_t)(i % 4);
            offsets_request(o, &x[j].m, NOW);
        }
        if (offsets_flush(o) < 0)
            _exit(3);
        for (int j = 0; j < a.n; j++) {
            int64_t v = ((struct one *)(void *)a.v[j])->p[0].offset;
            if (write(wfd, &v, sizeof v) != sizeof v)
                _exit(4);
        }
    }
}

static void test_crash(void **state)
{
    struct fx *f = *state;

    offsets_destroy(f->o);
    f->o = NULL;
    srand(777);
    for (int round = 0; round < 24; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(f->dir, p[1], (unsigned)round);
        }
        close(p[1]);
        int want = 1 + rand() % 300, seen = 0;
        int64_t last[4] = {-1, -1, -1, -1}, v;
        while (seen < want && read(p[0], &v, sizeof v) == sizeof v) {
            last[v % 4] = v > last[v % 4] ? v : last[v % 4];
            seen++;
        }
        kill(pid, SIGKILL);
        while (read(p[0], &v, sizeof v) == sizeof v)   /* reported: durable too */
            last[v % 4] = v > last[v % 4] ? v : last[v % 4];
        int status;
        waitpid(pid, &status, 0);
        close(p[0]);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        char path[512];
        snprintf(path, sizeof path, "%s/offsets.log", f->dir);
        if (round % 2) {
            /* A power cut would also leave part of an unacknowledged
             * write: add a torn record's worth of junk. */
            uint8_t junk[64];
            int fd = open(path, O_WRONLY | O_APPEND);
            size_t n = 1 + (size_t)(rand() % (int)sizeof junk);
            assert_true(fd >= 0);
            for (size_t k = 0; k < n; k++)
                junk[k] = (uint8_t)rand();
            assert_int_equal(write(fd, junk, n), (ssize_t)n);
            close(fd);
        }
        fx_open(f, NOW);
        for (int32_t part = 0; part < 4; part++) {
            struct offsets_entry e;
            if (last[part] < 0)
                continue;
            assert_int_equal(offsets_get(f->o, "c", "topic", part, &e), 0);
            /* Every acknowledged commit is there; later unacknowledged
             * ones of the same partition may be too. */
            assert_true(e.offset >= last[part]);
            assert_int_equal(e.offset % 4, part);
        }
        offsets_destroy(f->o);
        f->o = NULL;
        /* Each round restarts the offsets from 0: start from a clean log. */
        unlink(path);
    }
    fx_open(f, NOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
