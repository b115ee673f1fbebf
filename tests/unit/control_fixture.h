/* control_fixture.h - the test side of the control thread's rings: two
 * fake shards that carry out what the control thread sends them (opening,
 * deleting and reconfiguring partitions in a table, taking snapshots,
 * collecting answers), and requests built as a shard would post them. No
 * threads and no sockets: the test turns both sides with run(). Include
 * it after <cmocka.h>. */
#ifndef SLUICE_CONTROL_FIXTURE_H
#define SLUICE_CONTROL_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/control.h"
#include "control/ctl.h"
#include "numa/ring.h"
#include "storage/crc32c.h"

#define NSHARDS 2
#define MAXP 4096

/* --- two fake shards ---------------------------------------------------- */

struct part {
    char topic[64];
    int32_t p;
    int shard;
    bool open;
    struct log_config cfg;
};

struct fake {
    char dir[64];
    struct broker_config cfg;
    struct control *c;
    struct spsc_ring *to_shard[NSHARDS], *to_ctl[NSHARDS];
    int ctl_bell;
    const struct md_snapshot *md[NSHARDS];
    bool hold_acks;             /* shards take commands but never answer */
    bool hold_deletes;          /* ... only deletes */
    const char *fail_topic;     /* opens of it fail with -EIO (or fail_errno) ... */
    int fail_errno;
    int32_t fail_from;          /* ... from this partition on */
    struct part parts[MAXP];
    int nparts, opens[NSHARDS], deletes, configs;
    struct ctl_msg *answer;     /* the last request answered */
    const struct md_snapshot *answer_md; /* what its shard had then */
};

struct req {
    struct ctl_msg m;
    uint8_t arena[1 << 16];
};

static inline struct part *part_find(struct fake *f, const char *t, int32_t p)
{
    for (int i = 0; i < f->nparts; i++)
        if (f->parts[i].p == p && strcmp(f->parts[i].topic, t) == 0)
            return &f->parts[i];
    return NULL;
}

/* CTL_SHARD_STATS as a shard answers it: its open partitions, each with
 * log end 100 + partition (all of it durable), and counters that say
 * which shard sent them (api[0].requests = shard + 1). */
static inline void fake_stats(struct fake *f, int i, struct ctl_msg *m)
{
    struct ctl_shard_stats *st = &m->u.shard_stats;
    int n = 0;

    for (int k = 0; k < f->nparts; k++)
        n += f->parts[k].open && f->parts[k].shard == i;
    st->metrics = ctl_arena_alloc(&m->arena, sizeof *st->metrics);
    st->parts = ctl_arena_alloc(&m->arena, sizeof *st->parts * (size_t)n + 1);
    if (!st->metrics || !st->parts) {
        st->need = m->arena.cap * 2;
        return;
    }
    shard_metrics_init(st->metrics);
    st->metrics->api[0].requests = (uint64_t)i + 1;
    hist_record(&st->metrics->flush.fsync_ns, 1000 * (uint64_t)(i + 1));
    for (int k = 0; k < f->nparts; k++) {
        struct part *p = &f->parts[k];
        if (!p->open || p->shard != i)
            continue;
        struct part_report *r = &st->parts[st->nparts++];
        *r = (struct part_report){ .partition = p->p, .shard = i,
                                   .log_end = 100 + p->p, .high_watermark = 100 + p->p,
                                   .segments = 1 };
        r->m.records_in = (uint64_t)(100 + p->p);
        r->topic = ctl_arena_strdup(&m->arena, p->topic, strlen(p->topic));
        assert_non_null(r->topic);
    }
}

static inline void shard_cmd(struct fake *f, int i, struct ctl_msg *m)
{
    struct ctl_partition_cmd *pc = &m->u.partition;
    struct part *p = NULL;

    if (m->op == CTL_PARTITION_OPEN || m->op == CTL_PARTITION_DELETE ||
        m->op == CTL_PARTITION_CONFIG) {
        if (!(p = part_find(f, pc->topic, pc->partition))) {
            assert_true(f->nparts < MAXP);
            p = &f->parts[f->nparts++];
            snprintf(p->topic, sizeof p->topic, "%s", pc->topic);
            p->p = pc->partition;
        }
        pc->result = 0;
    }
    switch (m->op) {
    case CTL_PARTITION_OPEN:
        if (f->fail_topic && strcmp(pc->topic, f->fail_topic) == 0 &&
            pc->partition >= f->fail_from) {
            pc->result = f->fail_errno ? f->fail_errno : -EIO;
            break;
        }
        p->open = true;
        p->shard = i;
        p->cfg = pc->config;
        f->opens[i]++;
        break;
    case CTL_PARTITION_DELETE:
        p->open = false;
        f->deletes++;
        break;
    case CTL_PARTITION_CONFIG:
        assert_int_equal(p->shard, i);
        p->cfg = pc->config;
        f->configs++;
        break;
    case CTL_METADATA_UPDATE:
        f->md[i] = m->u.metadata;
        break;
    case CTL_SHARD_STATS:
        fake_stats(f, i, m);
        break;
    default:
        break;
    }
}

/* Carries out what shard i was sent; 1 if anything. */
static inline int shard_step(struct fake *f, int i)
{
    void *p;
    int n = 0;

    while (spsc_ring_dequeue(f->to_shard[i], &p) == 0) {
        struct ctl_msg *m = p;
        n = 1;
        if (m->op < CTL_PARTITION_OPEN) {       /* an answer to us */
            f->answer = m;
            f->answer_md = f->md[i];
            continue;
        }
        shard_cmd(f, i, m);
        if (f->hold_acks || (f->hold_deletes && m->op == CTL_PARTITION_DELETE))
            continue;                   /* leaked on purpose: control frees */
        assert_int_equal(spsc_ring_enqueue(f->to_ctl[i], m), 0);
        assert_int_equal(eventfd_write(f->ctl_bell, 1), 0);
    }
    return n;
}

/* Turns shards and control until nothing moves. */
static inline void run(struct fake *f)
{
    for (int k = 0; k < 10000; k++) {
        int moved = 0;
        for (int i = 0; i < NSHARDS; i++)
            moved |= shard_step(f, i);
        int rc = control_poll_once(f->c, 0);
        assert_true(rc >= 0);
        if (!moved && rc == 0)
            return;
    }
    fail_msg("the control thread never settled");
}

static inline int start(struct fake *f)
{
    int rc = control_create(&f->c, &f->cfg, f->dir, NSHARDS);

    if (rc < 0)
        return rc;
    for (int i = 0; i < NSHARDS; i++) {
        control_shard_endpoints(f->c, i, &f->to_shard[i], &f->to_ctl[i], NULL,
                                &f->ctl_bell);
        f->md[i] = NULL;
    }
    f->nparts = 0;
    memset(f->opens, 0, sizeof f->opens);
    f->deletes = f->configs = 0;
    assert_int_equal(control_open_partitions_start(f->c), 0);
    run(f);
    if ((rc = control_opening(f->c)) < 0)
        return rc;
    assert_int_equal(rc, 0);
    assert_int_equal(control_publish(f->c), 0);
    run(f);
    return 0;
}

static inline void stop(struct fake *f)
{
    assert_int_equal(control_shutdown_start(f->c), 0);
    run(f);
    assert_true(control_shutdown_done(f->c));
    control_destroy(f->c);
    f->c = NULL;
}

static inline int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline int setup(void **state)
{
    struct fake *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-test-control-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    broker_config_defaults(&f->cfg);
    assert_int_equal(broker_config_set(&f->cfg, "listeners",
                                       "PLAINTEXT://0.0.0.0:9092", NULL, 0), 0);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fake *f = *state;

    if (f->c)
        control_destroy(f->c);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static inline struct fake *started(void **state)
{
    struct fake *f = *state;
    assert_int_equal(start(f), 0);
    return f;
}

/* --- requests, as a shard would post them ---------------------------------- */

static inline struct req *req_new(enum ctl_op op)
{
    struct req *r = calloc(1, sizeof *r);

    assert_non_null(r);
    r->m.op = op;
    r->m.arena = (struct ctl_arena){.buf = r->arena, .cap = sizeof r->arena};
    return r;
}

static inline void call(struct fake *f, int shard, struct req *r)
{
    f->answer = NULL;
    assert_int_equal(spsc_ring_enqueue(f->to_ctl[shard], &r->m), 0);
    assert_int_equal(eventfd_write(f->ctl_bell, 1), 0);
    run(f);
    assert_ptr_equal(f->answer, &r->m);
}

/* CreateTopics of one topic; returns the answered spec (in r). */
static inline struct ctl_topic_spec *create_ex(struct fake *f, struct req **rp,
                                        const char *name, int32_t np,
                                        int16_t rf, const char *const *cfg,
                                        bool validate_only, bool auto_create)
{
    struct req *r = req_new(CTL_CREATE_TOPICS);
    struct ctl_topic_spec *sp = ctl_arena_alloc(&r->m.arena, sizeof *sp);
    int n = 0;

    while (cfg && cfg[2 * n])
        n++;
    sp->name = name;
    sp->num_partitions = np;
    sp->replication_factor = rf;
    sp->nconfigs = n;
    sp->configs = ctl_arena_alloc(&r->m.arena, sizeof(*sp->configs) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        sp->configs[i] = (struct ctl_config_entry){cfg[2 * i], cfg[2 * i + 1], 0};
    r->m.u.create_topics = (struct ctl_create_topics){
        .ntopics = 1, .topics = sp, .validate_only = validate_only,
        .auto_create = auto_create, .want_configs = true};
    call(f, 0, r);
    *rp = r;
    return sp;
}

static inline int16_t create(struct fake *f, const char *name, int32_t np,
                      const char *const *cfg)
{
    struct req *r;
    int16_t e = create_ex(f, &r, name, np, -1, cfg, false, false)->error;
    free(r);
    return e;
}

static inline int16_t delete_topic(struct fake *f, const char *name)
{
    struct req *r = req_new(CTL_DELETE_TOPICS);
    static const char *names[1];
    static int16_t errors[1];
    static uint8_t ids[1][16];

    names[0] = name;
    errors[0] = 0;
    r->m.u.delete_topics = (struct ctl_delete_topics){
        .ntopics = 1, .names = names, .errors = errors, .topic_ids = ids};
    call(f, 1, r);
    free(r);
    return errors[0];
}

static inline int16_t grow(struct fake *f, const char *name, int32_t count,
                    bool validate_only)
{
    struct req *r = req_new(CTL_CREATE_PARTITIONS);
    const char *names[1] = {name}, *msgs[1] = {NULL};
    int32_t counts[1] = {count};
    int16_t errors[1] = {0};

    r->m.u.create_partitions = (struct ctl_create_partitions){
        .ntopics = 1, .names = names, .counts = counts,
        .validate_only = validate_only, .errors = errors,
        .error_messages = msgs};
    call(f, 0, r);
    if (errors[0])
        assert_non_null(msgs[0]);
    free(r);
    return errors[0];
}

/* One resource of a config request; keys/cfg NULL-terminated. */
static inline struct req *configs(struct fake *f, enum ctl_op op, int8_t type,
                           const char *name, const char *const *keys,
                           const struct ctl_config_entry *cfg, bool incremental,
                           bool validate_only)
{
    struct req *r = req_new(op);
    struct ctl_config_resource *res = ctl_arena_alloc(&r->m.arena, sizeof *res);
    int nk = 0, nc = 0;

    while (keys && keys[nk])
        nk++;
    while (cfg && cfg[nc].name)
        nc++;
    *res = (struct ctl_config_resource){
        .type = type, .name = name, .nkeys = keys ? nk : -1,
        .keys = (const char **)keys, .nconfigs = nc,
        .configs = (struct ctl_config_entry *)cfg};
    r->m.u.configs = (struct ctl_configs){
        .nresources = 1, .resources = res, .incremental = incremental,
        .validate_only = validate_only};
    call(f, 0, r);
    return r;
}

static inline const struct config_desc *desc_of(const struct ctl_config_resource *r,
                                         const char *key)
{
    for (int i = 0; i < r->nresults; i++)
        if (strcmp(r->results[i].name, key) == 0)
            return &r->results[i];
    return NULL;
}

/* The value of key on topic, as DescribeConfigs says. */
static inline const char *topic_value(struct fake *f, const char *topic,
                               const char *key, int *source)
{
    static char buf[256];
    const char *keys[] = {key, NULL};
    struct req *r = configs(f, CTL_DESCRIBE_CONFIGS, CTL_RESOURCE_TOPIC, topic,
                            keys, NULL, false, false);
    struct ctl_config_resource *res = r->m.u.configs.resources;

    assert_int_equal(res->error, 0);
    assert_int_equal(res->nresults, 1);
    snprintf(buf, sizeof buf, "%s", res->results[0].value);
    if (source)
        *source = res->results[0].source;
    free(r);
    return buf;
}

static inline int16_t alter(struct fake *f, const char *topic,
                     const struct ctl_config_entry *cfg, bool incremental)
{
    struct req *r = configs(f, CTL_ALTER_CONFIGS, CTL_RESOURCE_TOPIC, topic,
                            NULL, cfg, incremental, false);
    int16_t e = r->m.u.configs.resources[0].error;
    free(r);
    return e;
}

/* --- files under the data dir ------------------------------------------- */

static inline void write_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static inline size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    assert_true(n > 0);
    close(fd);
    buf[n] = '\0';
    return (size_t)n;
}

/* Writes body followed by its valid checksum line. */
static inline void write_signed(const char *path, const char *body)
{
    char text[4096];
    int n = snprintf(text, sizeof text, "%scrc32c %08x\n", body,
                     crc32c(body, strlen(body)));
    write_file(path, text, (size_t)n);
}

#endif
