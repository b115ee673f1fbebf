/* test_groups.c - consumer group membership (control/groups.c) driven
 * directly, with an injected clock and no sockets or threads: requests are
 * built as a shard would post them, answers collected from the answer
 * callback. Joins and leader election, SyncGroup waits, heartbeats during
 * a rebalance, session expiry, leave (also batch), static members,
 * MEMBER_ID_REQUIRED, error codes, protocol selection, the initial
 * rebalance delay, Delete/List/DescribeGroups and commit checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/groups.h"

#define SESSION 10000
#define REBALANCE 30000

struct req {
    struct ctl_msg m;          /* first */
    int answered;
    struct ctl_group_protocol protos[4];
    struct ctl_group_member mem[8];
    const char *ids[8];
    int16_t errs[8];
    struct ctl_described_group dg[8];
    char member_id[160];
    uint8_t arena[1 << 14];
};

struct t {
    struct broker_config cfg;
    struct groups *g;
    int64_t now;
    int answers;
    int stored_deleted;        /* groups_store stand-in */
    const char *stored_group;
};

static void on_answer(void *ctx, struct ctl_msg *m)
{
    struct t *t = ctx;
    struct req *r = (struct req *)(void *)m;

    r->answered++;
    t->answers++;
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);

    assert_non_null(t);
    assert_int_equal(broker_config_defaults(&t->cfg), 0);
    t->cfg.group_initial_rebalance_delay_ms = 0;
    t->g = groups_create(&t->cfg, on_answer, t);
    assert_non_null(t->g);
    t->now = 1000000;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;

    groups_destroy(t->g);
    free(t);
    return 0;
}

static struct req *new_req(enum ctl_op op)
{
    struct req *r = calloc(1, sizeof *r);

    assert_non_null(r);
    r->m.op = op;
    r->m.arena = (struct ctl_arena){r->arena, 0, sizeof r->arena};
    return r;
}

/* A JoinGroup with protocols "a,b" style list and metadata = member tag. */
static struct req *join_ex(struct t *t, const char *group, const char *member,
                           const char *instance, const char *protocols, const char *meta,
                           bool v4)
{
    struct req *r = new_req(CTL_JOIN_GROUP);
    struct ctl_join_group *j = &r->m.u.join_group;
    char *list = strdup(protocols), *save = NULL;
    int n = 0;

    snprintf(r->member_id, sizeof r->member_id, "%s", member ? member : "");
    j->group_id = group;
    j->member_id = r->member_id;
    j->instance_id = instance;
    j->protocol_type = "consumer";
    j->client_id = "test";
    j->client_host = "/127.0.0.1";
    j->session_timeout_ms = SESSION;
    j->rebalance_timeout_ms = REBALANCE;
    j->require_known_member = v4;
    for (char *p = strtok_r(list, ",", &save); p && n < 4; p = strtok_r(NULL, ",", &save)) {
        r->protos[n].name = strdup(p);
        r->protos[n].metadata = (struct ctl_bytes){(const uint8_t *)meta, (int32_t)strlen(meta)};
        n++;
    }
    free(list);
    j->nprotocols = n;
    j->protocols = r->protos;
    groups_request(t->g, &r->m, t->now);
    return r;
}

static struct req *join(struct t *t, const char *group, const char *member, const char *meta)
{
    return join_ex(t, group, member, NULL, "range", meta, false);
}

static void req_free(struct req *r)
{
    for (int i = 0; i < 4; i++)
        free((void *)r->protos[i].name);
    free(r);
}

static struct req *sync_ex(struct t *t, const char *group, const char *member,
                           const char *instance, int32_t gen, int nassign,
                           const char *const *assign_members, const char *const *assign)
{
    struct req *r = new_req(CTL_SYNC_GROUP);
    struct ctl_sync_group *s = &r->m.u.sync_group;

    s->group_id = group;
    s->member_id = member;
    s->instance_id = instance;
    s->generation = gen;
    s->nassignments = nassign;
    s->assignments = r->mem;
    for (int i = 0; i < nassign; i++) {
        r->mem[i].member_id = assign_members[i];
        r->mem[i].assignment = (struct ctl_bytes){(const uint8_t *)assign[i],
                                                  (int32_t)strlen(assign[i])};
    }
    groups_request(t->g, &r->m, t->now);
    return r;
}

static int16_t heartbeat(struct t *t, const char *group, const char *member,
                         const char *instance, int32_t gen)
{
    struct req *r = new_req(CTL_HEARTBEAT);
    int16_t err;

    r->m.u.heartbeat = (struct ctl_heartbeat){group, member, instance, gen, -99};
    groups_request(t->g, &r->m, t->now);
    assert_int_equal(r->answered, 1);
    err = r->m.u.heartbeat.error;
    free(r);
    return err;
}

static int16_t leave(struct t *t, const char *group, const char *member, const char *instance)
{
    struct req *r = new_req(CTL_LEAVE_GROUP);
    int16_t err;

    r->mem[0].member_id = member;
    r->mem[0].instance_id = instance;
    r->m.u.leave_group = (struct ctl_leave_group){
        .group_id = group, .nmembers = 1, .members = r->mem, .errors = r->errs};
    groups_request(t->g, &r->m, t->now);
    assert_int_equal(r->answered, 1);
    err = r->errs[0];
    free(r);
    return err;
}

static bool bytes_eq(struct ctl_bytes b, const char *s)
{
    return b.len == (int32_t)strlen(s) && memcmp(b.p, s, (size_t)b.len) == 0;
}

/* One member joins a group that holds no one: it leads generation 1. */
static struct req *join_one(struct t *t, const char *group, char *id_out, size_t len)
{
    struct req *r = join(t, group, "", "m1");

    assert_int_equal(r->answered, 1);
    assert_int_equal(r->m.u.join_group.error, 0);
    snprintf(id_out, len, "%s", r->m.u.join_group.assigned_member_id);
    return r;
}

/* --- tests -------------------------------------------------------------- */

static void test_single_member_leads(void **state)
{
    struct t *t = *state;
    char id[160];
    struct req *r = join_one(t, "g", id, sizeof id);
    const struct ctl_join_group *j = &r->m.u.join_group;

    assert_int_equal(j->generation, 1);
    assert_string_equal(j->leader, id);
    assert_string_equal(j->protocol_name, "range");
    assert_int_equal(j->nmembers, 1);
    assert_true(bytes_eq(j->members[0].metadata, "m1"));
    assert_string_equal(groups_state(t->g, "g"), "CompletingRebalance");

    const char *ms[] = {id}, *as[] = {"A1"};
    struct req *s = sync_ex(t, "g", id, NULL, 1, 1, ms, as);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->m.u.sync_group.error, 0);
    assert_true(bytes_eq(s->m.u.sync_group.assignment, "A1"));
    assert_string_equal(groups_state(t->g, "g"), "Stable");
    assert_int_equal(heartbeat(t, "g", id, NULL, 1), 0);
    assert_int_equal(groups_held(t->g), 0);
    req_free(r);
    free(s);
}

/* Three members: the leader gets everyone's metadata; followers' SyncGroup
 * waits for the leader and gets its own assignment. */
static void test_three_members(void **state)
{
    struct t *t = *state;
    char id1[160], id2[160], id3[160];
    struct req *r1 = join_one(t, "g", id1, sizeof id1);
    const char *m1[] = {id1}, *a1[] = {"A"};
    struct req *s1 = sync_ex(t, "g", id1, NULL, 1, 1, m1, a1);

    assert_int_equal(s1->m.u.sync_group.error, 0);
    /* A second member: PreparingRebalance until the first rejoins. */
    struct req *r2 = join(t, "g", "", "m2");
    assert_int_equal(r2->answered, 0);
    assert_string_equal(groups_state(t->g, "g"), "PreparingRebalance");
    assert_int_equal(heartbeat(t, "g", id1, NULL, 1), GERR_REBALANCE_IN_PROGRESS);
    struct req *r3 = join(t, "g", "", "m3");
    assert_int_equal(r3->answered, 0);
    req_free(r1);
    r1 = join(t, "g", id1, "m1");
    /* Everyone has joined: generation 2. */
    assert_int_equal(r1->answered, 1);
    assert_int_equal(r2->answered, 1);
    assert_int_equal(r3->answered, 1);
    assert_int_equal(r1->m.u.join_group.generation, 2);
    assert_string_equal(r1->m.u.join_group.leader, id1);
    assert_string_equal(r2->m.u.join_group.leader, id1);
    assert_int_equal(r1->m.u.join_group.nmembers, 3);
    assert_int_equal(r2->m.u.join_group.nmembers, 0);
    assert_int_equal(r3->m.u.join_group.nmembers, 0);
    snprintf(id2, sizeof id2, "%s", r2->m.u.join_group.assigned_member_id);
    snprintf(id3, sizeof id3, "%s", r3->m.u.join_group.assigned_member_id);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        const struct ctl_group_member *cm = &r1->m.u.join_group.members[i];
        if (strcmp(cm->member_id, id2) == 0) {
            assert_true(bytes_eq(cm->metadata, "m2"));
            seen |= 2;
        } else if (strcmp(cm->member_id, id3) == 0) {
            assert_true(bytes_eq(cm->metadata, "m3"));
            seen |= 4;
        } else if (strcmp(cm->member_id, id1) == 0) {
            seen |= 1;
        }
    }
    assert_int_equal(seen, 7);
    /* Heartbeats in CompletingRebalance are fine. */
    assert_int_equal(heartbeat(t, "g", id2, NULL, 2), 0);
    /* Followers wait for the leader. */
    struct req *s2 = sync_ex(t, "g", id2, NULL, 2, 0, NULL, NULL);
    struct req *s3 = sync_ex(t, "g", id3, NULL, 2, 0, NULL, NULL);
    assert_int_equal(s2->answered, 0);
    assert_int_equal(s3->answered, 0);
    assert_int_equal(groups_held(t->g), 2);
    assert_int_equal(groups_check_commit(t->g, "g", id2, NULL, 2),
                     GERR_REBALANCE_IN_PROGRESS);
    const char *ms[] = {id1, id2, id3}, *as[] = {"P0", "P1", "P2"};
    struct req *sl = sync_ex(t, "g", id1, NULL, 2, 3, ms, as);
    assert_int_equal(sl->answered, 1);
    assert_int_equal(s2->answered, 1);
    assert_int_equal(s3->answered, 1);
    assert_true(bytes_eq(sl->m.u.sync_group.assignment, "P0"));
    assert_true(bytes_eq(s2->m.u.sync_group.assignment, "P1"));
    assert_true(bytes_eq(s3->m.u.sync_group.assignment, "P2"));
    assert_string_equal(s2->m.u.sync_group.protocol_name, "range");
    assert_string_equal(groups_state(t->g, "g"), "Stable");
    assert_int_equal(groups_check_commit(t->g, "g", id2, NULL, 2), 0);
    assert_int_equal(groups_check_commit(t->g, "g", id2, NULL, 1), GERR_ILLEGAL_GENERATION);
    assert_int_equal(groups_check_commit(t->g, "g", "nobody", NULL, 2),
                     GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(groups_check_commit(t->g, "g", "", NULL, -1), GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(groups_held(t->g), 0);

    /* Describe: Stable, with metadata and assignments. */
    struct req *d = new_req(CTL_DESCRIBE_GROUPS);
    d->ids[0] = "g";
    d->ids[1] = "nope";
    d->m.u.describe_groups = (struct ctl_describe_groups){2, d->ids, d->dg};
    groups_request(t->g, &d->m, t->now);
    assert_int_equal(d->answered, 1);
    assert_string_equal(d->dg[0].state, "Stable");
    assert_string_equal(d->dg[0].protocol, "range");
    assert_int_equal(d->dg[0].nmembers, 3);
    assert_string_equal(d->dg[1].state, "Dead");
    free(d);

    req_free(r1);
    req_free(r2);
    req_free(r3);
    free(s1);
    free(s2);
    free(s3);
    free(sl);
}

/* A member that stops heartbeating is removed after session.timeout.ms
 * and the group rebalances without it. */
static void test_session_expiry(void **state)
{
    struct t *t = *state;
    char id1[160], id2[160];
    struct req *r1 = join_one(t, "g", id1, sizeof id1);
    const char *m1[] = {id1}, *a1[] = {"A"};
    free(sync_ex(t, "g", id1, NULL, 1, 1, m1, a1));
    struct req *r2 = join(t, "g", "", "m2");
    req_free(r1);
    r1 = join(t, "g", id1, "m1");
    assert_int_equal(r2->answered, 1);
    snprintf(id2, sizeof id2, "%s", r2->m.u.join_group.assigned_member_id);
    const char *ms[] = {id1, id2}, *as[] = {"A", "B"};
    free(sync_ex(t, "g", id1, NULL, 2, 2, ms, as));
    free(sync_ex(t, "g", id2, NULL, 2, 0, NULL, NULL));
    assert_string_equal(groups_state(t->g, "g"), "Stable");

    /* id1 keeps heartbeating, id2 goes silent. */
    for (int i = 0; i < 4; i++) {
        t->now += 2000;
        groups_tick(t->g, t->now);
        assert_int_equal(heartbeat(t, "g", id1, NULL, 2), 0);
    }
    assert_true(groups_next_deadline(t->g) <= t->now + SESSION);
    t->now += 2001;                             /* 10 s since id2's last word */
    groups_tick(t->g, t->now);
    assert_string_equal(groups_state(t->g, "g"), "PreparingRebalance");
    assert_int_equal(heartbeat(t, "g", id2, NULL, 2), GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(t, "g", id1, NULL, 2), GERR_REBALANCE_IN_PROGRESS);
    req_free(r1);
    r1 = join(t, "g", id1, "m1");
    assert_int_equal(r1->answered, 1);
    assert_int_equal(r1->m.u.join_group.generation, 3);
    assert_int_equal(r1->m.u.join_group.nmembers, 1);
    req_free(r1);
    req_free(r2);
}

/* A member that does not rejoin within the rebalance timeout is dropped. */
static void test_rebalance_timeout(void **state)
{
    struct t *t = *state;
    char id1[160];
    struct req *r1 = join_one(t, "g", id1, sizeof id1);
    const char *m1[] = {id1}, *a1[] = {"A"};
    free(sync_ex(t, "g", id1, NULL, 1, 1, m1, a1));
    struct req *r2 = join(t, "g", "", "m2");

    for (int i = 0; i < 5; i++) {               /* id1 heartbeats, never rejoins */
        t->now += 5000;
        groups_tick(t->g, t->now);
        assert_int_equal(heartbeat(t, "g", id1, NULL, 1), GERR_REBALANCE_IN_PROGRESS);
    }
    assert_int_equal(r2->answered, 0);
    t->now += 5000;
    groups_tick(t->g, t->now);
    assert_int_equal(r2->answered, 1);
    assert_int_equal(r2->m.u.join_group.generation, 2);
    assert_string_equal(r2->m.u.join_group.leader, r2->m.u.join_group.assigned_member_id);
    assert_int_equal(r2->m.u.join_group.nmembers, 1);
    assert_int_equal(heartbeat(t, "g", id1, NULL, 1), GERR_UNKNOWN_MEMBER_ID);
    req_free(r1);
    req_free(r2);
}

static void test_leave(void **state)
{
    struct t *t = *state;
    char id1[160], id2[160];
    struct req *r1 = join_one(t, "g", id1, sizeof id1);
    const char *m1[] = {id1}, *a1[] = {"A"};
    free(sync_ex(t, "g", id1, NULL, 1, 1, m1, a1));
    struct req *r2 = join(t, "g", "", "m2");
    req_free(r1);
    r1 = join(t, "g", id1, "m1");
    snprintf(id2, sizeof id2, "%s", r2->m.u.join_group.assigned_member_id);
    const char *ms[] = {id1, id2}, *as[] = {"A", "B"};
    free(sync_ex(t, "g", id1, NULL, 2, 2, ms, as));

    assert_int_equal(leave(t, "g", "nobody", NULL), GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(leave(t, "g", id1, NULL), 0);
    assert_string_equal(groups_state(t->g, "g"), "PreparingRebalance");
    /* The leader left: id2 rejoins alone and leads. */
    req_free(r2);
    r2 = join(t, "g", id2, "m2");
    assert_int_equal(r2->answered, 1);
    assert_int_equal(r2->m.u.join_group.generation, 3);
    assert_string_equal(r2->m.u.join_group.leader, id2);
    assert_int_equal(leave(t, "g", id2, NULL), 0);
    assert_false(groups_has_members(t->g, "g"));
    assert_string_equal(groups_state(t->g, "g"), "Empty");
    assert_int_equal(groups_check_commit(t->g, "g", "", NULL, -1), 0);
    assert_int_equal(leave(t, "nogroup", "x", NULL), GERR_UNKNOWN_MEMBER_ID);
    req_free(r1);
    req_free(r2);
}

/* A static member coming back with a new member id keeps its assignment
 * without a rebalance; the old member id is fenced. */
static void test_static_member(void **state)
{
    struct t *t = *state;
    struct req *r1 = join_ex(t, "g", "", "inst-1", "range", "m1", true);
    char id1[160], id1b[160];

    /* Static members skip MEMBER_ID_REQUIRED. */
    assert_int_equal(r1->answered, 1);
    assert_int_equal(r1->m.u.join_group.error, 0);
    snprintf(id1, sizeof id1, "%s", r1->m.u.join_group.assigned_member_id);
    const char *m1[] = {id1}, *a1[] = {"KEEP"};
    free(sync_ex(t, "g", id1, "inst-1", 1, 1, m1, a1));
    assert_string_equal(groups_state(t->g, "g"), "Stable");

    /* Restarted: same instance id, no member id. */
    struct req *r2 = join_ex(t, "g", "", "inst-1", "range", "m1", true);
    assert_int_equal(r2->answered, 1);
    assert_int_equal(r2->m.u.join_group.error, 0);
    assert_int_equal(r2->m.u.join_group.generation, 1);
    assert_int_equal(r2->m.u.join_group.nmembers, 0);
    snprintf(id1b, sizeof id1b, "%s", r2->m.u.join_group.assigned_member_id);
    assert_string_not_equal(id1, id1b);
    assert_string_equal(groups_state(t->g, "g"), "Stable");
    struct req *s = sync_ex(t, "g", id1b, "inst-1", 1, 0, NULL, NULL);
    assert_int_equal(s->m.u.sync_group.error, 0);
    assert_true(bytes_eq(s->m.u.sync_group.assignment, "KEEP"));
    free(s);
    /* The old id is fenced. */
    assert_int_equal(heartbeat(t, "g", id1, "inst-1", 1), GERR_FENCED_INSTANCE_ID);
    assert_int_equal(groups_check_commit(t->g, "g", id1, "inst-1", 1), GERR_FENCED_INSTANCE_ID);
    assert_int_equal(heartbeat(t, "g", id1b, "inst-1", 1), 0);
    assert_int_equal(leave(t, "g", id1, "inst-1"), GERR_FENCED_INSTANCE_ID);
    /* Batch leave by instance id alone. */
    assert_int_equal(leave(t, "g", "", "inst-1"), 0);
    assert_false(groups_has_members(t->g, "g"));
    req_free(r1);
    req_free(r2);
}

static void test_member_id_required(void **state)
{
    struct t *t = *state;
    struct req *r1 = join_ex(t, "g", "", NULL, "range", "m1", true);
    char id[160];

    assert_int_equal(r1->answered, 1);
    assert_int_equal(r1->m.u.join_group.error, GERR_MEMBER_ID_REQUIRED);
    snprintf(id, sizeof id, "%s", r1->m.u.join_group.assigned_member_id);
    assert_true(strlen(id) > 10);
    struct req *r2 = join_ex(t, "g", id, NULL, "range", "m1", true);
    assert_int_equal(r2->answered, 1);
    assert_int_equal(r2->m.u.join_group.error, 0);
    assert_string_equal(r2->m.u.join_group.assigned_member_id, id);
    assert_string_equal(r2->m.u.join_group.leader, id);
    /* A pending member that never comes back expires. */
    struct req *r3 = join_ex(t, "h", "", NULL, "range", "m1", true);
    assert_int_equal(r3->m.u.join_group.error, GERR_MEMBER_ID_REQUIRED);
    t->now += SESSION + 1;
    groups_tick(t->g, t->now);
    struct req *r4 = join_ex(t, "h", r3->m.u.join_group.assigned_member_id, NULL, "range",
                             "m1", true);
    assert_int_equal(r4->m.u.join_group.error, GERR_UNKNOWN_MEMBER_ID);
    req_free(r1);
    req_free(r2);
    req_free(r3);
    req_free(r4);
}

static void test_errors(void **state)
{
    struct t *t = *state;
    char id[160];
    struct req *r = join(t, "", "", "m");

    assert_int_equal(r->m.u.join_group.error, GERR_INVALID_GROUP_ID);
    req_free(r);
    r = join(t, "g", "ghost", "m");
    assert_int_equal(r->m.u.join_group.error, GERR_UNKNOWN_MEMBER_ID);
    req_free(r);
    r = new_req(CTL_JOIN_GROUP);
    req_free(r);
    r = join_ex(t, "g", "", NULL, "range", "m", false);
    req_free(r);
    r = join_one(t, "g2", id, sizeof id);
    /* Session timeout out of bounds. */
    struct req *bad = new_req(CTL_JOIN_GROUP);
    bad->m.u.join_group = r->m.u.join_group;
    bad->m.u.join_group.group_id = "g3";
    bad->m.u.join_group.member_id = "";
    bad->m.u.join_group.session_timeout_ms = 10;
    groups_request(t->g, &bad->m, t->now);
    assert_int_equal(bad->m.u.join_group.error, GERR_INVALID_SESSION_TIMEOUT);
    free(bad);
    /* Protocol type or names that do not match. */
    struct req *inc = join_ex(t, "g2", "", NULL, "roundrobin", "m", false);
    assert_int_equal(inc->m.u.join_group.error, GERR_INCONSISTENT_GROUP_PROTOCOL);
    req_free(inc);
    /* Wrong generation / unknown member. */
    struct req *s = sync_ex(t, "g2", id, NULL, 7, 0, NULL, NULL);
    assert_int_equal(s->m.u.sync_group.error, GERR_ILLEGAL_GENERATION);
    free(s);
    s = sync_ex(t, "g2", "ghost", NULL, 1, 0, NULL, NULL);
    assert_int_equal(s->m.u.sync_group.error, GERR_UNKNOWN_MEMBER_ID);
    free(s);
    assert_int_equal(heartbeat(t, "g2", id, NULL, 7), GERR_ILLEGAL_GENERATION);
    assert_int_equal(heartbeat(t, "g2", "ghost", NULL, 1), GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(t, "nogroup", "x", NULL, 1), GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(groups_check_commit(t->g, "nogroup", "", NULL, -1), 0);
    assert_int_equal(groups_check_commit(t->g, "nogroup", "x", NULL, 3),
                     GERR_ILLEGAL_GENERATION);
    assert_null(groups_state(t->g, "nogroup"));
    req_free(r);
}

/* Every member votes for its first protocol all support; ties go to the
 * leader's order. */
static void test_protocol_selection(void **state)
{
    struct t *t = *state;
    struct req *a, *b, *c;

    t->cfg.group_initial_rebalance_delay_ms = 100;
    a = join_ex(t, "g", "", NULL, "cooperative-sticky,range,roundrobin", "a", false);
    b = join_ex(t, "g", "", NULL, "roundrobin,range", "b", false);
    c = join_ex(t, "g", "", NULL, "range,roundrobin,cooperative-sticky", "c", false);
    assert_int_equal(a->answered + b->answered + c->answered, 0);
    t->now += 100;                  /* b and c arrived: the delay restarts */
    groups_tick(t->g, t->now);
    assert_int_equal(a->answered + b->answered + c->answered, 0);
    t->now += 100;
    groups_tick(t->g, t->now);
    assert_int_equal(a->answered + b->answered + c->answered, 3);
    /* Candidates: range, roundrobin. a votes range, b roundrobin, c range. */
    assert_string_equal(a->m.u.join_group.protocol_name, "range");
    assert_string_equal(b->m.u.join_group.protocol_name, "range");
    assert_int_equal(a->m.u.join_group.nmembers, 3);
    req_free(a);
    req_free(b);
    req_free(c);

    /* A tie: the leader's preference wins. */
    a = join_ex(t, "h", "", NULL, "roundrobin,range", "a", false);
    b = join_ex(t, "h", "", NULL, "range,roundrobin", "b", false);
    for (int i = 0; i < 2; i++) {
        t->now += 100;
        groups_tick(t->g, t->now);
    }
    assert_string_equal(a->m.u.join_group.leader, a->m.u.join_group.assigned_member_id);
    assert_string_equal(b->m.u.join_group.protocol_name, "roundrobin");
    req_free(a);
    req_free(b);
}

/* group.initial.rebalance.delay.ms: a new group waits, and each new
 * member extends the wait up to the rebalance timeout. */
static void test_initial_delay(void **state)
{
    struct t *t = *state;
    struct req *a, *b;

    t->cfg.group_initial_rebalance_delay_ms = 3000;
    a = join(t, "g", "", "a");
    assert_int_equal(a->answered, 0);
    assert_int_equal(groups_next_deadline(t->g), t->now + 3000);
    t->now += 2000;
    b = join(t, "g", "", "b");
    t->now += 1000;
    groups_tick(t->g, t->now);
    assert_int_equal(a->answered, 0);       /* b arrived: wait again */
    t->now += 3000;
    groups_tick(t->g, t->now);
    assert_int_equal(a->answered, 1);
    assert_int_equal(b->answered, 1);
    assert_int_equal(a->m.u.join_group.generation, 1);
    req_free(a);
    req_free(b);
}

static int store_delete(void *ctx, const char *id)
{
    struct t *t = ctx;

    if (t->stored_group && strcmp(id, t->stored_group) == 0) {
        t->stored_deleted++;
        t->stored_group = NULL;
        return 0;
    }
    return GERR_GROUP_ID_NOT_FOUND;
}

static int store_list(void *ctx, void (*fn)(void *, const char *), void *fnctx)
{
    struct t *t = ctx;

    if (t->stored_group)
        fn(fnctx, t->stored_group);
    return t->stored_group ? 1 : 0;
}

static void test_delete_list(void **state)
{
    struct t *t = *state;
    char id[160];
    struct groups_store st = {t, store_delete, store_list};
    struct req *r = join_one(t, "busy", id, sizeof id);

    groups_set_store(t->g, &st);
    t->stored_group = "offsets-only";
    struct req *l = new_req(CTL_LIST_GROUPS);
    l->m.u.list_groups = (struct ctl_list_groups){0};
    groups_request(t->g, &l->m, t->now);
    assert_int_equal(l->answered, 1);
    assert_int_equal(l->m.u.list_groups.ngroups, 2);
    free(l);
    l = new_req(CTL_LIST_GROUPS);
    l->ids[0] = "Empty";
    l->m.u.list_groups = (struct ctl_list_groups){.nstates = 1, .states = l->ids};
    groups_request(t->g, &l->m, t->now);
    assert_int_equal(l->m.u.list_groups.ngroups, 1);
    assert_string_equal(l->m.u.list_groups.groups[0].group_id, "offsets-only");
    assert_string_equal(l->m.u.list_groups.groups[0].protocol_type, "consumer");
    free(l);

    struct req *d = new_req(CTL_DELETE_GROUPS);
    d->ids[0] = "busy";
    d->ids[1] = "offsets-only";
    d->ids[2] = "nothing";
    d->ids[3] = "";
    d->m.u.delete_groups = (struct ctl_delete_groups){4, d->ids, d->errs};
    groups_request(t->g, &d->m, t->now);
    assert_int_equal(d->answered, 1);
    assert_int_equal(d->errs[0], GERR_NON_EMPTY_GROUP);
    assert_int_equal(d->errs[1], 0);
    assert_int_equal(d->errs[2], GERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(d->errs[3], GERR_INVALID_GROUP_ID);
    assert_int_equal(t->stored_deleted, 1);
    free(d);
    assert_int_equal(leave(t, "busy", id, NULL), 0);
    d = new_req(CTL_DELETE_GROUPS);
    d->ids[0] = "busy";
    d->m.u.delete_groups = (struct ctl_delete_groups){1, d->ids, d->errs};
    groups_request(t->g, &d->m, t->now);
    assert_int_equal(d->errs[0], 0);
    assert_null(groups_state(t->g, "busy"));
    free(d);
    req_free(r);
}

/* A rejoin during CompletingRebalance answers held followers' syncs with
 * REBALANCE_IN_PROGRESS. */
static void test_rebalance_cancels_sync(void **state)
{
    struct t *t = *state;
    char id1[160], id2[160];
    struct req *r1 = join_one(t, "g", id1, sizeof id1);
    const char *m1[] = {id1}, *a1[] = {"A"};
    free(sync_ex(t, "g", id1, NULL, 1, 1, m1, a1));
    struct req *r2 = join(t, "g", "", "m2");
    req_free(r1);
    r1 = join(t, "g", id1, "m1");
    snprintf(id2, sizeof id2, "%s", r2->m.u.join_group.assigned_member_id);
    struct req *s2 = sync_ex(t, "g", id2, NULL, 2, 0, NULL, NULL);
    assert_int_equal(s2->answered, 0);
    /* The leader rejoins with other metadata instead of syncing. */
    struct req *r1b = join(t, "g", id1, "m1-changed");
    assert_int_equal(s2->answered, 1);
    assert_int_equal(s2->m.u.sync_group.error, GERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(r1b->answered, 0);
    req_free(r2);
    r2 = join(t, "g", id2, "m2");
    assert_int_equal(r1b->answered, 1);
    assert_int_equal(r1b->m.u.join_group.generation, 3);
    req_free(r1);
    req_free(r1b);
    req_free(r2);
    free(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_member_leads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_id_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initial_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_cancels_sync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
