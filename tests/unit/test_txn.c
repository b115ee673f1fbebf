/* test_txn.c - the transaction coordinator (control/txn.c) driven
 * directly, with the offsets store beside it: producer ids never reused
 * across restarts, the transactional state machine and its errors as
 * Kafka gives them (fencing by epoch, CONCURRENT_TRANSACTIONS, KIP-360),
 * markers to shards acknowledged before EndTxn is answered, transactions
 * v2 epoch bumps, timeouts, a crash between PrepareCommit and the markers,
 * and transactional offsets visible only after the commit. Markers are
 * acknowledged by the test as a shard would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "control/offsets.h"
#include "control/txn_private.h"
#include "storage_fixture.h"

#define NOW 1700000000000LL
#define KERR_PRODUCER_FENCED 90
#define KERR_CONCURRENT_TRANSACTIONS 51
#define KERR_INVALID_PRODUCER_ID_MAPPING 49
#define KERR_INVALID_TXN_STATE 48
#define KERR_INVALID_TRANSACTION_TIMEOUT 50
#define KERR_TRANSACTION_ABORTABLE 120
#define KERR_UNSTABLE_OFFSET_COMMIT 88

struct fx {
    char *dir;
    struct txn_coord *t;
    struct offsets *o;
    struct ctl_msg *answered[64];
    int nanswered;
    struct ctl_txn_marker markers[64];
    int nmarkers;
    int64_t announced;
};

static void on_answer(void *ctx, struct ctl_msg *m)
{
    struct fx *f = ctx;
    assert_true(f->nanswered < 64);
    f->answered[f->nanswered++] = m;
}

static void on_offsets_answer(void *ctx, struct ctl_msg *m)
{
    on_answer(ctx, m);
}

static int on_marker(void *ctx, int shard, const struct ctl_txn_marker *mk)
{
    struct fx *f = ctx;
    (void)shard;
    assert_true(f->nmarkers < 64);
    f->markers[f->nmarkers++] = *mk;
    return 0;
}

static void on_announce(void *ctx, int64_t limit)
{
    ((struct fx *)ctx)->announced = limit;
}

static int32_t fx_node_id;

static void fx_open(struct fx *f, int64_t now)
{
    char err[256], dir[512];
    struct txn_options opt = { .node_id = fx_node_id, .max_timeout_ms = 900000,
                               .abort_interval_ms = 1000,
                               .id_expiration_ms = 7 * 24 * 3600 * 1000LL,
                               .expire_interval_ms = 3600000 };
    struct txn_env env = { f, on_answer, on_marker, on_announce };
    struct offsets_options oo = { .retention_ms = 7 * 24 * 3600 * 1000LL };
    snprintf(dir, sizeof dir, "%s/offsets", f->dir);
    assert_int_equal(offsets_create(&f->o, dir, &oo, on_offsets_answer, f, now, err, sizeof err), 0);
    snprintf(dir, sizeof dir, "%s/transactions", f->dir);
    if (txn_create(&f->t, dir, &opt, &env, now, err, sizeof err) < 0)
        fail_msg("txn_create: %s", err);
    txn_set_offsets(f->t, f->o);
    offsets_set_txn(f->o, f->t);
}

static void fx_close(struct fx *f)
{
    txn_destroy(f->t);
    offsets_destroy(f->o);
    f->t = NULL;
    f->o = NULL;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->dir = fixture_tmpdir();
    fx_open(f, NOW);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->t)
        fx_close(f);
    fixture_rmdir(f->dir);
    free(f);
    return 0;
}

/* A request and its answer arena, owned by the test. */
struct msg {
    struct ctl_msg m;
    struct ctl_txn_partition parts[8];
    uint8_t arena[4096];
};

static struct msg *msg_new(enum ctl_op op)
{
    struct msg *x = calloc(1, sizeof *x);
    x->m.op = op;
    x->m.arena = (struct ctl_arena){ x->arena, 0, sizeof x->arena };
    return x;
}

/* Runs the request and the end of the turn; returns how many answers. */
static int turn(struct fx *f, struct msg *x, int64_t now)
{
    f->nanswered = 0;
    if (x)
        txn_request(f->t, &x->m, now);
    txn_flush(f->t, now);
    offsets_flush(f->o);
    return f->nanswered;
}

static struct msg *init_pid(struct fx *f, const char *id, int64_t pid, int16_t epoch)
{
    struct msg *x = msg_new(CTL_INIT_PRODUCER_ID);
    x->m.u.init_pid = (struct ctl_init_pid){ .txn_id = id, .timeout_ms = 60000, .pid = pid,
                                             .epoch = epoch };
    assert_int_equal(turn(f, x, NOW), 1);
    return x;
}

static int16_t add_parts(struct fx *f, const char *id, int64_t pid, int16_t epoch, int n,
                         bool implicitly)
{
    struct msg *x = msg_new(CTL_ADD_PARTITIONS_TO_TXN);
    x->m.u.add_partitions = (struct ctl_add_partitions){
        .txn_id = id, .pid = pid, .epoch = epoch, .npartitions = n, .partitions = x->parts,
        .add_implicitly = implicitly };
    for (int i = 0; i < n; i++)
        x->parts[i] = (struct ctl_txn_partition){ "out", i, 0 };
    assert_int_equal(turn(f, x, NOW), 1);
    int16_t e = x->m.u.add_partitions.error ? x->m.u.add_partitions.error : x->parts[0].error;
    free(x);
    return e;
}

/* Sends EndTxn and acknowledges every marker it produced, as shards do. */
static struct msg *end_txn(struct fx *f, const char *id, int64_t pid, int16_t epoch, bool commit,
                           bool tv2, int *nmarkers)
{
    struct msg *x = msg_new(CTL_END_TXN);
    x->m.u.end_txn = (struct ctl_end_txn){ .txn_id = id, .pid = pid, .epoch = epoch,
                                           .commit = commit, .tv2 = tv2 };
    f->nmarkers = 0;
    int answered = turn(f, x, NOW);
    *nmarkers = f->nmarkers;
    if (answered == 1)
        return x; /* refused, or nothing to mark */
    assert_int_equal(answered, 0); /* held until the markers are durable */
    f->nanswered = 0;
    for (int i = 0; i < *nmarkers; i++) {
        assert_int_equal(f->markers[i].commit, commit);
        txn_marker_done(f->t, &f->markers[i], NOW);
    }
    assert_int_equal(f->nanswered, 1);
    return x;
}

static void test_producer_ids_never_reused(void **state)
{
    struct fx *f = *state;
    int64_t seen = -1;
    for (int i = 0; i < 1500; i++) {
        struct msg *x = msg_new(CTL_INIT_PRODUCER_ID);
        turn(f, x, NOW);
        assert_int_equal(x->m.u.init_pid.error, 0);
        assert_true(x->m.u.init_pid.out_pid > seen);
        assert_int_equal(x->m.u.init_pid.out_epoch, 0);
        seen = x->m.u.init_pid.out_pid;
        free(x);
    }
    assert_true(f->announced > seen); /* shards heard of every id handed out */
    /* a restart (or a crash: nothing else is written) starts past them */
    fx_close(f);
    fx_open(f, NOW);
    struct msg *x = msg_new(CTL_INIT_PRODUCER_ID);
    turn(f, x, NOW);
    assert_true(x->m.u.init_pid.out_pid > seen);
    free(x);
}

/* Each node hands out ids of its own range, across restarts too. */
static void test_producer_ids_per_node(void **state)
{
    struct fx *f = *state;
    fx_close(f);
    fx_node_id = 3;
    fx_open(f, NOW);
    int64_t first = -1, last = -1;
    for (int i = 0; i < 3; i++) {
        struct msg *x = msg_new(CTL_INIT_PRODUCER_ID);
        turn(f, x, NOW);
        assert_int_equal(x->m.u.init_pid.error, 0);
        last = x->m.u.init_pid.out_pid;
        if (first < 0)
            first = last;
        free(x);
    }
    assert_int_equal(first, ctl_pid_base(3));
    assert_int_equal(ctl_pid_node(last), 3);
    fx_close(f);
    fx_open(f, NOW);
    struct msg *x = msg_new(CTL_INIT_PRODUCER_ID);
    turn(f, x, NOW);
    assert_true(x->m.u.init_pid.out_pid > last);
    assert_int_equal(ctl_pid_node(x->m.u.init_pid.out_pid), 3);
    free(x);
    fx_node_id = 0;
}

static void test_commit_and_fencing(void **state)
{
    struct fx *f = *state;
    int nm;
    struct msg *a = init_pid(f, "app", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    assert_int_equal(a->m.u.init_pid.error, 0);
    assert_int_equal(a->m.u.init_pid.out_epoch, 0);
    assert_int_equal(add_parts(f, "app", pid, 0, 3, false), 0);
    /* wrong producer id, wrong epoch */
    assert_int_equal(add_parts(f, "app", pid + 1, 0, 1, false), KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(add_parts(f, "app", pid, 3, 1, false), KERR_PRODUCER_FENCED);
    struct msg *e = end_txn(f, "app", pid, 0, true, false, &nm);
    assert_int_equal(nm, 3);
    assert_int_equal(e->m.u.end_txn.error, 0);
    assert_int_equal(f->markers[0].epoch, 0);
    /* a retried EndTxn of a completed commit: OK again; an abort: no */
    free(end_txn(f, "app", pid, 0, true, false, &nm));
    struct msg *bad = end_txn(f, "app", pid, 0, false, false, &nm);
    assert_int_equal(bad->m.u.end_txn.error, KERR_INVALID_TXN_STATE);
    /* a second instance with the same id fences the first (epoch 1) */
    struct msg *b = init_pid(f, "app", -1, -1);
    assert_int_equal(b->m.u.init_pid.out_pid, pid);
    assert_int_equal(b->m.u.init_pid.out_epoch, 1);
    assert_int_equal(add_parts(f, "app", pid, 0, 1, false), KERR_PRODUCER_FENCED);
    /* it was idle: an ongoing transaction of the new instance, then a
     * third instance: CONCURRENT_TRANSACTIONS while the old one aborts */
    assert_int_equal(add_parts(f, "app", pid, 1, 2, false), 0);
    f->nmarkers = 0;
    struct msg *c = init_pid(f, "app", -1, -1);
    assert_int_equal(c->m.u.init_pid.error, KERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(f->nmarkers, 2);
    assert_false(f->markers[0].commit);
    assert_int_equal(f->markers[0].epoch, 2); /* the fenced epoch */
    for (int i = 0; i < 2; i++)
        txn_marker_done(f->t, &f->markers[i], NOW);
    struct msg *d = init_pid(f, "app", -1, -1);
    assert_int_equal(d->m.u.init_pid.error, 0);
    assert_int_equal(d->m.u.init_pid.out_epoch, 3);
    /* everything survives a restart */
    fx_close(f);
    fx_open(f, NOW);
    assert_int_equal(add_parts(f, "app", pid, 2, 1, false), KERR_PRODUCER_FENCED);
    assert_int_equal(add_parts(f, "app", pid, 3, 1, false), 0);
    free(a), free(b), free(c), free(d), free(e), free(bad);
}

static void test_kip360_and_timeout_limit(void **state)
{
    struct fx *f = *state;
    struct msg *a = init_pid(f, "k", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    /* the producer says which id and epoch it had: bumped */
    struct msg *b = init_pid(f, "k", pid, 0);
    assert_int_equal(b->m.u.init_pid.error, 0);
    assert_int_equal(b->m.u.init_pid.out_epoch, 1);
    /* the retry of that bump (it never got the answer): the same epoch */
    struct msg *c = init_pid(f, "k", pid, 0);
    assert_int_equal(c->m.u.init_pid.out_epoch, 1);
    /* an epoch that is neither: fenced */
    struct msg *d = init_pid(f, "k", pid, 7);
    assert_int_equal(d->m.u.init_pid.error, KERR_PRODUCER_FENCED);
    struct msg *e = msg_new(CTL_INIT_PRODUCER_ID);
    e->m.u.init_pid = (struct ctl_init_pid){ .txn_id = "k", .timeout_ms = 900001, .pid = -1,
                                             .epoch = -1 };
    turn(f, e, NOW);
    assert_int_equal(e->m.u.init_pid.error, KERR_INVALID_TRANSACTION_TIMEOUT);
    free(a), free(b), free(c), free(d), free(e);
}

static void test_v2_epoch_bump_and_verify(void **state)
{
    struct fx *f = *state;
    int nm;
    struct msg *a = init_pid(f, "v2", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    /* a produce's verification (v1): not in the transaction */
    struct msg *v = msg_new(CTL_ADD_PARTITIONS_TO_TXN);
    v->m.u.add_partitions = (struct ctl_add_partitions){
        .txn_id = "v2", .pid = pid, .epoch = 0, .npartitions = 1, .partitions = v->parts,
        .verify_only = true };
    v->parts[0] = (struct ctl_txn_partition){ "out", 0, 0 };
    turn(f, v, NOW);
    assert_int_equal(v->parts[0].error, KERR_TRANSACTION_ABORTABLE);
    /* Produce v12 adds it itself; EndTxn v5 bumps the epoch */
    assert_int_equal(add_parts(f, "v2", pid, 0, 2, true), 0);
    struct msg *e = end_txn(f, "v2", pid, 0, true, true, &nm);
    assert_int_equal(nm, 2);
    assert_int_equal(f->markers[0].epoch, 1); /* markers carry the new epoch */
    assert_int_equal(e->m.u.end_txn.out_pid, pid);
    assert_int_equal(e->m.u.end_txn.out_epoch, 1);
    /* the old epoch is fenced; a retry of the EndTxn is answered alike */
    assert_int_equal(add_parts(f, "v2", pid, 0, 1, true), KERR_PRODUCER_FENCED);
    struct msg *r = end_txn(f, "v2", pid, 0, true, true, &nm);
    assert_int_equal(r->m.u.end_txn.error, 0);
    assert_int_equal(r->m.u.end_txn.out_epoch, 1);
    assert_int_equal(add_parts(f, "v2", pid, 1, 1, true), 0);
    free(a), free(v), free(e), free(r);
}

/* v2: the Java client drops the batches it had not sent when it aborts, so
 * an abort may end a transaction the coordinator never saw (Kafka's
 * endTransaction: Empty or Complete* with the current epoch bumps it, no
 * markers); a commit of nothing is refused; a retry gets the same answer. */
static void test_v2_abort_of_an_empty_transaction(void **state)
{
    struct fx *f = *state;
    int nm;
    struct msg *a = init_pid(f, "empty", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    struct msg *e0 = end_txn(f, "empty", pid, 0, false, true, &nm); /* right after init */
    assert_int_equal(e0->m.u.end_txn.error, 0);
    assert_int_equal(nm, 0);
    assert_int_equal(e0->m.u.end_txn.out_epoch, 1);
    assert_int_equal(add_parts(f, "empty", pid, 1, 2, true), 0);
    struct msg *c = end_txn(f, "empty", pid, 1, true, true, &nm);
    assert_int_equal(c->m.u.end_txn.error, 0);
    assert_int_equal(nm, 2);
    assert_int_equal(c->m.u.end_txn.out_epoch, 2);
    /* the next transaction: nothing produced, aborted with epoch 2 */
    struct msg *e = end_txn(f, "empty", pid, 2, false, true, &nm);
    assert_int_equal(e->m.u.end_txn.error, 0);
    assert_int_equal(nm, 0);
    assert_int_equal(e->m.u.end_txn.out_pid, pid);
    assert_int_equal(e->m.u.end_txn.out_epoch, 3);
    struct msg *r = end_txn(f, "empty", pid, 2, false, true, &nm); /* its retry */
    assert_int_equal(r->m.u.end_txn.error, 0);
    assert_int_equal(r->m.u.end_txn.out_epoch, 3);
    struct msg *k = end_txn(f, "empty", pid, 3, true, true, &nm); /* commit of nothing */
    assert_int_equal(k->m.u.end_txn.error, KERR_INVALID_TXN_STATE);
    struct msg *z = end_txn(f, "empty", pid, 1, false, true, &nm); /* two epochs back */
    assert_int_equal(z->m.u.end_txn.error, KERR_PRODUCER_FENCED);
    assert_int_equal(add_parts(f, "empty", pid, 3, 1, true), 0);
    free(a), free(e0), free(c), free(e), free(r), free(k), free(z);
}

static void test_timeout_aborts_and_fences(void **state)
{
    struct fx *f = *state;
    struct msg *a = init_pid(f, "slow", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    assert_int_equal(add_parts(f, "slow", pid, 0, 1, false), 0);
    f->nmarkers = 0;
    txn_tick(f->t, NOW + 30000); /* under the 60 s timeout */
    turn(f, NULL, NOW + 30000);
    assert_int_equal(f->nmarkers, 0);
    txn_tick(f->t, NOW + 61000);
    turn(f, NULL, NOW + 61000);
    assert_int_equal(f->nmarkers, 1);
    assert_false(f->markers[0].commit);
    assert_int_equal(f->markers[0].epoch, 1);
    txn_marker_done(f->t, &f->markers[0], NOW + 61000);
    /* the timed-out producer is fenced */
    int nm;
    struct msg *e = end_txn(f, "slow", pid, 0, true, false, &nm);
    assert_int_equal(e->m.u.end_txn.error, KERR_PRODUCER_FENCED);
    free(a), free(e);
}

static void test_crash_before_markers(void **state)
{
    struct fx *f = *state;
    struct msg *a = init_pid(f, "cr", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    assert_int_equal(add_parts(f, "cr", pid, 0, 2, false), 0);
    struct msg *x = msg_new(CTL_END_TXN);
    x->m.u.end_txn = (struct ctl_end_txn){ .txn_id = "cr", .pid = pid, .epoch = 0, .commit = true };
    assert_int_equal(turn(f, x, NOW), 0); /* PrepareCommit is durable */
    /* "crash" before any marker was acknowledged */
    fx_close(f);
    fx_open(f, NOW);
    f->nmarkers = 0;
    txn_resume(f->t, NOW);
    assert_int_equal(f->nmarkers, 2);
    assert_true(f->markers[0].commit);
    /* until they are durable, the id is busy */
    assert_int_equal(add_parts(f, "cr", pid, 0, 1, false), KERR_CONCURRENT_TRANSACTIONS);
    for (int i = 0; i < 2; i++)
        txn_marker_done(f->t, &f->markers[i], NOW);
    assert_int_equal(add_parts(f, "cr", pid, 0, 1, false), 0);
    free(a), free(x);
}

struct commit_msg {
    struct ctl_msg m;
    struct ctl_offset_topic t;
    struct ctl_offset_partition p;
    uint8_t arena[1024];
};

static struct commit_msg *offset_msg(enum ctl_op op, const char *txn, int64_t pid, int64_t off)
{
    struct commit_msg *c = calloc(1, sizeof *c);
    c->m.op = op;
    c->m.arena = (struct ctl_arena){ c->arena, 0, sizeof c->arena };
    c->p = (struct ctl_offset_partition){ .partition = 0, .offset = off, .leader_epoch = -1 };
    c->t = (struct ctl_offset_topic){ "in", 1, &c->p };
    c->m.u.offsets = (struct ctl_offsets){ .group_id = "g", .generation = -1, .retention_ms = -1,
                                           .ntopics = 1, .topics = &c->t, .txn_id = txn,
                                           .pid = pid, .epoch = 0, .require_stable = true };
    return c;
}

static int64_t fetch_offset(struct fx *f, int16_t *err)
{
    struct commit_msg *q = offset_msg(CTL_OFFSET_FETCH, NULL, -1, 0);
    f->nanswered = 0;
    offsets_request(f->o, &q->m, NOW);
    assert_int_equal(f->nanswered, 1);
    *err = q->p.error;
    int64_t off = q->p.offset;
    free(q);
    return off;
}

static void test_offsets_visible_at_commit(void **state)
{
    struct fx *f = *state;
    int16_t err;
    int nm;
    struct msg *a = init_pid(f, "ctp", -1, -1);
    int64_t pid = a->m.u.init_pid.out_pid;
    /* without AddOffsetsToTxn first, a v1 commit is refused */
    struct commit_msg *c = offset_msg(CTL_TXN_OFFSET_COMMIT, "ctp", pid, 42);
    f->nanswered = 0;
    offsets_request(f->o, &c->m, NOW);
    assert_int_equal(c->p.error, KERR_INVALID_TXN_STATE);
    free(c);
    struct msg *ao = msg_new(CTL_ADD_OFFSETS_TO_TXN);
    ao->m.u.add_offsets = (struct ctl_add_offsets){ "ctp", "g", pid, 0, 0 };
    turn(f, ao, NOW);
    assert_int_equal(ao->m.u.add_offsets.error, 0);
    c = offset_msg(CTL_TXN_OFFSET_COMMIT, "ctp", pid, 42);
    f->nanswered = 0;
    offsets_request(f->o, &c->m, NOW);
    offsets_flush(f->o);
    assert_int_equal(f->nanswered, 1);
    assert_int_equal(c->p.error, 0);
    /* pending: not visible, UNSTABLE for require_stable */
    fetch_offset(f, &err);
    assert_int_equal(err, KERR_UNSTABLE_OFFSET_COMMIT);
    assert_int_equal(offsets_pending_count(f->o), 1);
    /* survives a restart, still pending */
    fx_close(f);
    fx_open(f, NOW);
    assert_int_equal(offsets_pending_count(f->o), 1);
    struct msg *e = end_txn(f, "ctp", pid, 0, true, false, &nm);
    assert_int_equal(e->m.u.end_txn.error, 0);
    assert_int_equal(nm, 0); /* only a group: its marker is the offsets log's */
    assert_int_equal(fetch_offset(f, &err), 42);
    assert_int_equal(err, 0);
    fx_close(f);
    fx_open(f, NOW);
    assert_int_equal(fetch_offset(f, &err), 42);
    assert_int_equal(offsets_pending_count(f->o), 0);
    free(a), free(ao), free(c), free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_producer_ids_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_ids_per_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_and_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kip360_and_timeout_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_epoch_bump_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_abort_of_an_empty_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_aborts_and_fences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_before_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_visible_at_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
