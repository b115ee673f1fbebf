/* groups.c - consumer group membership: Kafka's classic group protocol as
 * its GroupCoordinator and GroupMetadata (2.x) run it, on the control
 * thread.
 *
 * Split: this file keeps the groups, the timers, List/Describe/
 * DeleteGroups and the interface; group_join.c the protocol's state
 * machine; groups_private.h what they share.
 *
 * Owns: struct groups, every group and member, and the JoinGroup and
 * SyncGroup messages held until a rebalance or the leader's assignment
 * completes them. Never: touches wire bytes, a socket or the clock (the
 * caller passes now_ms); committed offsets are control/offsets.c's.
 *
 * A group's life (state -> the function in group_join.c that leaves it):
 *
 *   Empty --join--> PreparingRebalance      prepare_rebalance()
 *   PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
 *                                           gp_complete_join()
 *       (or Empty if nobody is left)
 *   CompletingRebalance --leader's SyncGroup--> Stable   sync_leader()
 *   CompletingRebalance, Stable --join, leave, expiry--> PreparingRebalance
 *
 * Invariants:
 *   1. A held message is answered exactly once: held JoinGroups by
 *      gp_complete_join() or the member's removal, held SyncGroups by the
 *      leader's sync, a new rebalance (REBALANCE_IN_PROGRESS) or removal.
 *   2. A member waiting in JoinGroup or SyncGroup does not expire by its
 *      session timeout (the rebalance timeout bounds the join; a new
 *      member gets NEW_MEMBER_JOIN_TIMEOUT_MS), as Kafka's shouldKeepAlive.
 *   3. The leader, when set, is one of the members. */
#include "control/groups_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const gp_state_names[] = {
    [G_EMPTY] = "Empty", [G_PREPARING] = "PreparingRebalance",
    [G_COMPLETING] = "CompletingRebalance", [G_STABLE] = "Stable"};

/* --- small helpers -------------------------------------------------------- */

bool gp_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool gp_empty(const char *s)
{
    return !s || !*s;
}

void gp_answer(struct groups *gs, struct ctl_msg *m)
{
    gs->answer(gs->ctx, m);
}

const char *gp_str(struct ctl_msg *m, const char *s, bool *ok)
{
    char *p;

    if (!s)
        return NULL;
    if (!(p = ctl_arena_strdup(&m->arena, s, strlen(s))))
        *ok = false;
    return p;
}

struct ctl_bytes gp_bytes(struct ctl_msg *m, const uint8_t *p, int32_t len, bool *ok)
{
    struct ctl_bytes b = {NULL, len > 0 ? len : 0};
    uint8_t *q;

    if (len <= 0)
        return b;
    if (!(q = ctl_arena_alloc(&m->arena, (size_t)len))) {
        *ok = false;
        b.len = 0;
        return b;
    }
    memcpy(q, p, (size_t)len);
    b.p = q;
    return b;
}

/* --- groups and members --------------------------------------------------- */

struct group *gp_group_find(struct groups *gs, const char *id)
{
    for (struct group *g = gs->groups; g; g = g->next)
        if (gp_eq(g->id, id))
            return g;
    return NULL;
}

struct group *gp_group_new(struct groups *gs, const char *id)
{
    struct group *g = calloc(1, sizeof *g);

    if (!g || !(g->id = strdup(id))) {
        free(g);
        return NULL;
    }
    g->join_deadline_ms = INT64_MAX;
    g->next = gs->groups;
    gs->groups = g;
    return g;
}

void gp_protos_free(struct member *mb)
{
    for (int i = 0; i < mb->nprotocols; i++) {
        free(mb->protocols[i].name);
        free(mb->protocols[i].meta);
    }
    free(mb->protocols);
    mb->protocols = NULL;
    mb->nprotocols = 0;
}

void gp_member_free(struct member *mb)
{
    gp_protos_free(mb);
    free(mb->id);
    free(mb->instance_id);
    free(mb->client_id);
    free(mb->client_host);
    free(mb->assignment);
    free(mb);
}

void gp_group_free(struct group *g)
{
    while (g->members) {
        struct member *mb = g->members;
        g->members = mb->next;
        gp_member_free(mb);
    }
    while (g->pending) {
        struct pending *p = g->pending;
        g->pending = p->next;
        free(p->id);
        free(p);
    }
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g);
}

void gp_group_remove(struct groups *gs, struct group *g)
{
    for (struct group **pp = &gs->groups; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    gp_group_free(g);
}

struct member *gp_member_find(struct group *g, const char *id)
{
    for (struct member *mb = g ? g->members : NULL; mb; mb = mb->next)
        if (gp_eq(mb->id, id))
            return mb;
    return NULL;
}

struct member *gp_member_by_instance(struct group *g, const char *iid)
{
    if (gp_empty(iid))
        return NULL;
    for (struct member *mb = g ? g->members : NULL; mb; mb = mb->next)
        if (gp_eq(mb->instance_id, iid))
            return mb;
    return NULL;
}

/* Kafka's isStaticMemberFenced: the instance id belongs to another member. */
bool gp_fenced(struct group *g, const char *member_id, const char *iid)
{
    struct member *owner = gp_member_by_instance(g, iid);

    return owner && !gp_eq(owner->id, member_id);
}

struct pending **gp_pending_find(struct group *g, const char *id)
{
    for (struct pending **pp = &g->pending; *pp; pp = &(*pp)->next)
        if (gp_eq((*pp)->id, id))
            return pp;
    return NULL;
}

void gp_pending_remove(struct pending **pp)
{
    struct pending *p = *pp;

    *pp = p->next;
    free(p->id);
    free(p);
}

const struct proto *gp_member_proto(const struct member *mb, const char *name)
{
    for (int i = 0; i < mb->nprotocols; i++)
        if (gp_eq(mb->protocols[i].name, name))
            return &mb->protocols[i];
    return NULL;
}

/* --- ListGroups, DescribeGroups, DeleteGroups ------------------------------ */

struct names {
    char **v;
    int n, cap;
    bool nomem;
};

static void names_add(void *ctx, const char *id)
{
    struct names *ns = ctx;

    if (ns->n == ns->cap) {
        int cap = ns->cap ? ns->cap * 2 : 32;
        char **v = realloc(ns->v, sizeof(*v) * (size_t)cap);
        if (!v) {
            ns->nomem = true;
            return;
        }
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(id)))
        ns->nomem = true;
    else
        ns->n++;
}

static void names_free(struct names *ns)
{
    for (int i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

/* Groups that only have committed offsets. */
static void stored_groups(struct groups *gs, struct names *ns)
{
    if (gs->store.list_groups)
        gs->store.list_groups(gs->store.ctx, names_add, ns);
}

static bool state_wanted(const struct ctl_list_groups *l, const char *state)
{
    if (l->nstates <= 0)
        return true;
    for (int i = 0; i < l->nstates; i++)
        if (l->states[i] && strcasecmp(l->states[i], state) == 0)
            return true;
    return false;
}

static void list_groups(struct groups *gs, struct ctl_msg *m)
{
    struct ctl_list_groups *l = &m->u.list_groups;
    struct names ns = {0};
    int max = 0;
    bool ok = true;

    stored_groups(gs, &ns);
    for (struct group *g = gs->groups; g; g = g->next)
        max++;
    max += ns.n;
    l->error = 0;
    l->ngroups = 0;
    l->groups = ctl_arena_alloc(&m->arena, sizeof(*l->groups) * (size_t)(max ? max : 1));
    ok = l->groups != NULL;
    for (struct group *g = gs->groups; ok && g; g = g->next) {
        const char *st = gp_state_names[g->state];
        if (!state_wanted(l, st))
            continue;
        struct ctl_listed_group *lg = &l->groups[l->ngroups++];
        lg->group_id = gp_str(m, g->id, &ok);
        lg->protocol_type = gp_str(m, g->protocol_type ? g->protocol_type : "", &ok);
        lg->state = st;
    }
    for (int i = 0; ok && i < ns.n; i++) {
        if (gp_group_find(gs, ns.v[i]) || !state_wanted(l, "Empty"))
            continue;
        struct ctl_listed_group *lg = &l->groups[l->ngroups++];
        lg->group_id = gp_str(m, ns.v[i], &ok);
        lg->protocol_type = "consumer";
        lg->state = "Empty";
    }
    if (!ok) {
        l->error = KERR_UNKNOWN;
        l->ngroups = 0;
    }
    names_free(&ns);
    gp_answer(gs, m);
}

static bool stored(struct names *ns, const char *id)
{
    for (int i = 0; i < ns->n; i++)
        if (gp_eq(ns->v[i], id))
            return true;
    return false;
}

static void describe_one(struct ctl_msg *m, struct ctl_described_group *d,
                         const struct group *g, bool *ok)
{
    bool stable = g->state == G_STABLE;

    d->state = gp_state_names[g->state];
    d->protocol_type = gp_str(m, g->protocol_type ? g->protocol_type : "", ok);
    d->protocol = gp_str(m, stable && g->protocol ? g->protocol : "", ok);
    d->members = ctl_arena_alloc(&m->arena, sizeof(*d->members) *
                                 (size_t)(g->nmembers ? g->nmembers : 1));
    if (!d->members) {
        *ok = false;
        return;
    }
    for (const struct member *mb = g->members; *ok && mb; mb = mb->next) {
        struct ctl_group_member *cm = &d->members[d->nmembers++];
        cm->member_id = gp_str(m, mb->id, ok);
        cm->instance_id = gp_str(m, mb->instance_id, ok);
        cm->client_id = gp_str(m, mb->client_id ? mb->client_id : "", ok);
        cm->client_host = gp_str(m, mb->client_host ? mb->client_host : "", ok);
        if (stable) {       /* Kafka's summary(): metadata only when Stable */
            const struct proto *p = gp_member_proto(mb, g->protocol);
            if (p)
                cm->metadata = gp_bytes(m, p->meta, p->len, ok);
            cm->assignment = gp_bytes(m, mb->assignment, mb->assignment_len, ok);
        }
    }
}

static void describe_groups(struct groups *gs, struct ctl_msg *m)
{
    struct ctl_describe_groups *dg = &m->u.describe_groups;
    struct names ns = {0};
    bool listed = false;

    for (int i = 0; i < dg->ngroups; i++) {
        struct ctl_described_group *d = &dg->groups[i];
        const struct group *g = dg->group_ids[i] ? gp_group_find(gs, dg->group_ids[i]) : NULL;
        bool ok = true;
        *d = (struct ctl_described_group){0};
        if (!dg->group_ids[i]) {
            d->error = GERR_INVALID_GROUP_ID;
            continue;
        }
        if (g) {
            describe_one(m, d, g, &ok);
            if (!ok)
                *d = (struct ctl_described_group){.error = KERR_UNKNOWN};
            continue;
        }
        if (!listed) {
            stored_groups(gs, &ns);
            listed = true;
        }
        /* Kafka: an unknown group is described as Dead, without error. */
        d->state = stored(&ns, dg->group_ids[i]) ? "Empty" : "Dead";
        d->protocol_type = stored(&ns, dg->group_ids[i]) ? "consumer" : "";
        d->protocol = "";
    }
    names_free(&ns);
    gp_answer(gs, m);
}

static void delete_groups(struct groups *gs, struct ctl_msg *m)
{
    struct ctl_delete_groups *dl = &m->u.delete_groups;

    for (int i = 0; i < dl->ngroups; i++) {
        const char *id = dl->group_ids[i];
        struct group *g = gp_empty(id) ? NULL : gp_group_find(gs, id);
        int rc = GERR_GROUP_ID_NOT_FOUND;

        if (gp_empty(id)) {
            dl->errors[i] = GERR_INVALID_GROUP_ID;
            continue;
        }
        if (g && g->nmembers > 0) {
            dl->errors[i] = GERR_NON_EMPTY_GROUP;
            continue;
        }
        if (gs->store.delete_group)
            rc = gs->store.delete_group(gs->store.ctx, id);
        if (g) {
            gp_group_remove(gs, g);
            if (rc == GERR_GROUP_ID_NOT_FOUND)
                rc = 0;
        }
        dl->errors[i] = (int16_t)(rc < 0 ? KERR_UNKNOWN : rc);
    }
    gp_answer(gs, m);
}

/* --- timers ---------------------------------------------------------------- */

static int64_t member_deadline(const struct member *mb)
{
    if (mb->join)
        return mb->is_new ? mb->heard_ms + NEW_MEMBER_JOIN_TIMEOUT_MS : INT64_MAX;
    if (mb->sync)
        return INT64_MAX;
    return mb->heard_ms + mb->session_ms;
}

static void on_join_deadline(struct groups *gs, struct group *g, int64_t now_ms)
{
    if (g->initial_delay && g->new_member_added && g->initial_remaining_ms > 0) {
        /* Kafka's InitialDelayedJoin: members still arrive; wait again. */
        int32_t delay = gs->cfg->group_initial_rebalance_delay_ms;
        if (delay > g->initial_remaining_ms)
            delay = g->initial_remaining_ms;
        g->initial_remaining_ms -= delay;
        g->new_member_added = false;
        g->join_deadline_ms = now_ms + delay;
        return;
    }
    gp_complete_join(gs, g, now_ms);
}

void groups_tick(struct groups *gs, int64_t now_ms)
{
    for (struct group *g = gs->groups; g; g = g->next) {
        if (g->join_deadline_ms <= now_ms)
            on_join_deadline(gs, g, now_ms);
        for (struct pending **pp = &g->pending; *pp;) {
            if ((*pp)->deadline_ms <= now_ms) {
                gp_pending_remove(pp);
                gp_try_complete_join(gs, g, now_ms);
                pp = &g->pending;          /* the list may have changed */
            } else {
                pp = &(*pp)->next;
            }
        }
again:
        for (struct member *mb = g->members; mb; mb = mb->next)
            if (member_deadline(mb) <= now_ms) {
                gp_remove_and_update(gs, g, mb, now_ms);
                goto again;
            }
    }
}

int64_t groups_next_deadline(const struct groups *gs)
{
    int64_t t = INT64_MAX;

    for (const struct group *g = gs->groups; g; g = g->next) {
        if (g->join_deadline_ms < t)
            t = g->join_deadline_ms;
        for (const struct pending *p = g->pending; p; p = p->next)
            if (p->deadline_ms < t)
                t = p->deadline_ms;
        for (const struct member *mb = g->members; mb; mb = mb->next) {
            int64_t d = member_deadline(mb);
            if (d < t)
                t = d;
        }
    }
    return t;
}

/* --- the interface --------------------------------------------------------- */

void groups_request(struct groups *gs, struct ctl_msg *m, int64_t now_ms)
{
    switch (m->op) {
    case CTL_JOIN_GROUP:
        gp_join_group(gs, m, now_ms);
        break;
    case CTL_SYNC_GROUP:
        gp_sync_group(gs, m, now_ms);
        break;
    case CTL_HEARTBEAT:
        gp_heartbeat(gs, m, now_ms);
        break;
    case CTL_LEAVE_GROUP:
        gp_leave_group(gs, m, now_ms);
        break;
    case CTL_LIST_GROUPS:
        list_groups(gs, m);
        break;
    case CTL_DESCRIBE_GROUPS:
        describe_groups(gs, m);
        break;
    case CTL_DELETE_GROUPS:
        delete_groups(gs, m);
        break;
    default:
        gp_answer(gs, m);
        break;
    }
    /* A deadline the request set may already be due (a zero
     * group.initial.rebalance.delay.ms). */
    if (groups_next_deadline(gs) <= now_ms)
        groups_tick(gs, now_ms);
}

int groups_check_commit(struct groups *gs, const char *group_id, const char *member_id,
                        const char *instance_id, int32_t generation)
{
    struct group *g = gp_group_find(gs, group_id);

    if (!g)
        return generation < 0 ? 0 : GERR_ILLEGAL_GENERATION;
    if (gp_fenced(g, member_id, instance_id))
        return GERR_FENCED_INSTANCE_ID;
    if (generation < 0 && g->state == G_EMPTY)
        return 0;
    if (!gp_member_find(g, member_id))
        return GERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return GERR_ILLEGAL_GENERATION;
    if (g->state == G_COMPLETING)
        return GERR_REBALANCE_IN_PROGRESS;
    return 0;
}

bool groups_has_members(struct groups *gs, const char *group_id)
{
    struct group *g = gp_group_find(gs, group_id);

    return g && g->nmembers > 0;
}

const char *groups_state(struct groups *gs, const char *group_id)
{
    struct group *g = gp_group_find(gs, group_id);

    return g ? gp_state_names[g->state] : NULL;
}

struct groups *groups_create(const struct broker_config *cfg, groups_answer_fn fn, void *ctx)
{
    struct groups *gs = calloc(1, sizeof *gs);

    if (!gs)
        return NULL;
    gs->cfg = cfg;
    gs->answer = fn;
    gs->ctx = ctx;
    return gs;
}

void groups_set_store(struct groups *gs, const struct groups_store *s)
{
    gs->store = *s;
}

int groups_held(const struct groups *gs)
{
    return gs->held;
}

void groups_destroy(struct groups *gs)
{
    if (!gs)
        return;
    while (gs->groups) {
        struct group *g = gs->groups;
        gs->groups = g->next;
        gp_group_free(g);
    }
    free(gs);
}

