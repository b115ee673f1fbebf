/* group_join.c - the classic group protocol's state machine: JoinGroup
 * (member ids, MEMBER_ID_REQUIRED, static members, protocol selection,
 * leader election), SyncGroup, Heartbeat and LeaveGroup, as Kafka's
 * GroupCoordinator (2.x) runs them. States, invariants and the life of a
 * group are described in groups.c.
 *
 * Never: touches wire bytes or a clock of its own (now_ms is passed in). */
#include "control/groups_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Kafka's member id: client id, '-', a random UUID. */
static char *new_member_id(struct groups *gs, const char *client_id)
{
    uint8_t r[16] = {0};
    char buf[320];

    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        memcpy(r, &gs->seq, sizeof gs->seq);
    gs->seq++;
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    snprintf(buf, sizeof buf,
             "%.200s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             gp_empty(client_id) ? "member" : client_id, r[0], r[1], r[2], r[3], r[4], r[5],
             r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    return strdup(buf);
}

static bool all_support(const struct group *g, const char *name)
{
    for (const struct member *mb = g->members; mb; mb = mb->next)
        if (!gp_member_proto(mb, name))
            return false;
    return true;
}

/* Copies the request's protocols and timeouts into mb. -ENOMEM. */
static int member_update(struct member *mb, const struct ctl_join_group *j)
{
    struct proto *v = calloc((size_t)(j->nprotocols > 0 ? j->nprotocols : 1), sizeof *v);

    if (!v)
        return -ENOMEM;
    for (int i = 0; i < j->nprotocols; i++) {
        const struct ctl_group_protocol *p = &j->protocols[i];
        int32_t len = p->metadata.len > 0 ? p->metadata.len : 0;
        v[i].name = strdup(p->name ? p->name : "");
        v[i].meta = malloc((size_t)len + 1);
        v[i].len = len;
        if (!v[i].name || !v[i].meta) {
            for (int k = 0; k <= i; k++) {
                free(v[k].name);
                free(v[k].meta);
            }
            free(v);
            return -ENOMEM;
        }
        if (len)
            memcpy(v[i].meta, p->metadata.p, (size_t)len);
    }
    gp_protos_free(mb);
    mb->protocols = v;
    mb->nprotocols = j->nprotocols;
    mb->session_ms = j->session_timeout_ms;
    mb->rebalance_ms = j->rebalance_timeout_ms > 0 ? j->rebalance_timeout_ms
                                                   : j->session_timeout_ms;
    return 0;
}

/* The same protocols, in the same order, with the same metadata. */
static bool same_protocols(const struct member *mb, const struct ctl_join_group *j)
{
    if (mb->nprotocols != j->nprotocols)
        return false;
    for (int i = 0; i < j->nprotocols; i++) {
        const struct proto *p = &mb->protocols[i];
        const struct ctl_bytes *b = &j->protocols[i].metadata;
        int32_t len = b->len > 0 ? b->len : 0;
        if (!gp_eq(p->name, j->protocols[i].name) || p->len != len ||
            (len && memcmp(p->meta, b->p, (size_t)len) != 0))
            return false;
    }
    return true;
}

/* Kafka's supportsProtocols: a first member names a type and at least
 * one protocol; later ones match the type and share a protocol with
 * every member. */
static bool supports(const struct group *g, const struct ctl_join_group *j)
{
    if (g->nmembers == 0)
        return !gp_empty(j->protocol_type) && j->nprotocols > 0;
    if (!gp_eq(g->protocol_type, j->protocol_type))
        return false;
    for (int i = 0; i < j->nprotocols; i++)
        if (all_support(g, j->protocols[i].name))
            return true;
    return false;
}

/* Kafka's selectProtocol: among the protocols every member supports,
 * each member votes for the first in its own order; most votes wins, a
 * tie goes to the one the leader lists first. */
static const char *select_protocol(const struct group *g)
{
    const struct member *ld = g->leader ? g->leader : g->members;
    const char *best = NULL;
    int best_votes = -1;

    for (int i = 0; i < ld->nprotocols; i++) {
        const char *cand = ld->protocols[i].name;
        int votes = 0;
        if (!all_support(g, cand))
            continue;
        for (const struct member *mb = g->members; mb; mb = mb->next)
            for (int k = 0; k < mb->nprotocols; k++)
                if (all_support(g, mb->protocols[k].name)) {
                    votes += gp_eq(mb->protocols[k].name, cand);
                    break;
                }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best ? best : (ld->nprotocols ? ld->protocols[0].name : "");
}

/* --- answers ----------------------------------------------------------- */

static void join_fail(struct groups *gs, struct ctl_msg *m, int16_t err, const char *member_id)
{
    struct ctl_join_group *j = &m->u.join_group;
    bool ok = true;

    j->error = err;
    j->generation = -1;
    j->protocol_name = NULL;
    j->leader = "";
    j->assigned_member_id = member_id ? gp_str(m, member_id, &ok) : "";
    if (!j->assigned_member_id)
        j->assigned_member_id = "";
    j->nmembers = 0;
    j->members = NULL;
    gp_answer(gs, m);
}

/* Answers mb's held JoinGroup with the group's current generation; the
 * leader gets every member's metadata for the chosen protocol unless
 * with_members is false. leader_id overrides the leader named. */
static void join_answer(struct groups *gs, struct group *g, struct member *mb,
                        bool with_members, const char *leader_id)
{
    struct ctl_msg *m = mb->join;
    struct ctl_join_group *j = &m->u.join_group;
    bool ok = true;

    mb->join = NULL;
    gs->held--;
    j->error = 0;
    j->generation = g->generation;
    j->protocol_name = gp_str(m, g->protocol ? g->protocol : "", &ok);
    j->leader = gp_str(m, leader_id ? leader_id : g->leader ? g->leader->id : "", &ok);
    j->assigned_member_id = gp_str(m, mb->id, &ok);
    j->nmembers = 0;
    j->members = NULL;
    if (with_members && mb == g->leader && ok) {
        j->members = ctl_arena_alloc(&m->arena, sizeof(*j->members) * (size_t)g->nmembers);
        ok = j->members != NULL;
        for (struct member *o = g->members; ok && o; o = o->next) {
            struct ctl_group_member *cm = &j->members[j->nmembers++];
            const struct proto *p = gp_member_proto(o, g->protocol);
            cm->member_id = gp_str(m, o->id, &ok);
            cm->instance_id = gp_str(m, o->instance_id, &ok);
            cm->metadata = p ? gp_bytes(m, p->meta, p->len, &ok) : (struct ctl_bytes){0};
        }
    }
    if (!ok) {              /* the answer arena is too small */
        j->error = KERR_UNKNOWN;
        j->nmembers = 0;
        j->leader = j->protocol_name = j->assigned_member_id = "";
    }
    gp_answer(gs, m);
}

static void sync_answer(struct groups *gs, struct group *g, struct ctl_msg *m,
                        int16_t err, const struct member *mb)
{
    struct ctl_sync_group *s = &m->u.sync_group;
    bool ok = true;

    s->error = err;
    s->protocol_type = s->protocol_name = NULL;
    s->assignment = (struct ctl_bytes){NULL, 0};
    if (!err && mb) {
        s->protocol_type = gp_str(m, g->protocol_type, &ok);
        s->protocol_name = gp_str(m, g->protocol, &ok);
        s->assignment = gp_bytes(m, mb->assignment, mb->assignment_len, &ok);
        if (!ok)
            s->error = KERR_UNKNOWN;
    }
    gp_answer(gs, m);
}

static void release_sync(struct groups *gs, struct group *g, struct member *mb, int16_t err)
{
    struct ctl_msg *m = mb->sync;

    mb->sync = NULL;
    gs->held--;
    sync_answer(gs, g, m, err, err ? NULL : mb);
}

static void release_join_error(struct groups *gs, struct member *mb, int16_t err)
{
    struct ctl_msg *m = mb->join;

    mb->join = NULL;
    gs->held--;
    join_fail(gs, m, err, mb->id);
}

/* --- the state machine ----------------------------------------------------- */

static int32_t rebalance_timeout(const struct group *g)
{
    int32_t t = 0;

    for (const struct member *mb = g->members; mb; mb = mb->next)
        if (mb->rebalance_ms > t)
            t = mb->rebalance_ms;
    return t;
}

/* Kafka's resetAndPropagateAssignmentError. */
static void reset_assignments(struct groups *gs, struct group *g, int16_t err)
{
    for (struct member *mb = g->members; mb; mb = mb->next) {
        if (mb->sync)
            release_sync(gs, g, mb, err);
        free(mb->assignment);
        mb->assignment = NULL;
        mb->assignment_len = 0;
    }
}

static void prepare_rebalance(struct groups *gs, struct group *g, int64_t now_ms)
{
    int32_t rt = rebalance_timeout(g);

    if (g->state == G_COMPLETING)
        reset_assignments(gs, g, GERR_REBALANCE_IN_PROGRESS);
    if (g->state == G_EMPTY) {
        int32_t delay = gs->cfg->group_initial_rebalance_delay_ms;
        if (delay < 0)
            delay = 0;
        g->initial_delay = true;
        g->new_member_added = false;
        g->initial_remaining_ms = rt - delay > 0 ? rt - delay : 0;
        g->join_deadline_ms = now_ms + delay;
    } else {
        g->initial_delay = false;
        g->join_deadline_ms = now_ms + rt;
    }
    g->state = G_PREPARING;
}

static void maybe_prepare_rebalance(struct groups *gs, struct group *g, int64_t now_ms)
{
    if (g->state != G_PREPARING)
        prepare_rebalance(gs, g, now_ms);
}

static bool all_joined(const struct group *g)
{
    if (g->pending)
        return false;
    for (const struct member *mb = g->members; mb; mb = mb->next)
        if (!mb->join)
            return false;
    return true;
}

void gp_try_complete_join(struct groups *gs, struct group *g, int64_t now_ms)
{
    if (g->state == G_PREPARING && !g->initial_delay && all_joined(g))
        gp_complete_join(gs, g, now_ms);
}

/* Unlinks mb, answering what it holds with err. */
static void remove_member(struct groups *gs, struct group *g, struct member *mb, int16_t err)
{
    for (struct member **pp = &g->members; *pp; pp = &(*pp)->next)
        if (*pp == mb) {
            *pp = mb->next;
            break;
        }
    g->nmembers--;
    if (g->leader == mb)
        g->leader = g->members;
    if (mb->join)
        release_join_error(gs, mb, err);
    if (mb->sync)
        release_sync(gs, g, mb, err);
    gp_member_free(mb);
}

/* Kafka's removeMemberAndUpdateGroup. */
void gp_remove_and_update(struct groups *gs, struct group *g, struct member *mb,
                              int64_t now_ms)
{
    remove_member(gs, g, mb, GERR_UNKNOWN_MEMBER_ID);
    if (g->state == G_STABLE || g->state == G_COMPLETING)
        maybe_prepare_rebalance(gs, g, now_ms);
    else if (g->state == G_PREPARING)
        gp_try_complete_join(gs, g, now_ms);
}

void gp_complete_join(struct groups *gs, struct group *g, int64_t now_ms)
{
    struct member *mb, *next;

    g->join_deadline_ms = INT64_MAX;
    g->initial_delay = false;
    for (mb = g->members; mb; mb = next) {
        next = mb->next;
        if (!mb->join)
            remove_member(gs, g, mb, GERR_UNKNOWN_MEMBER_ID);
    }
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (g->nmembers == 0) {
        g->state = G_EMPTY;
        return;
    }
    g->protocol = strdup(select_protocol(g));
    g->state = G_COMPLETING;
    for (mb = g->members; mb; mb = mb->next) {
        mb->is_new = false;
        mb->heard_ms = now_ms;
        join_answer(gs, g, mb, true, NULL);
    }
}

static struct member *add_member(struct groups *gs, struct group *g, char *id,
                                 struct ctl_msg *m, int64_t now_ms)
{
    const struct ctl_join_group *j = &m->u.join_group;
    struct member *mb = calloc(1, sizeof *mb);

    if (!mb || member_update(mb, j) < 0 ||
        (j->instance_id && !(mb->instance_id = strdup(j->instance_id))) ||
        (j->client_id && !(mb->client_id = strdup(j->client_id))) ||
        (j->client_host && !(mb->client_host = strdup(j->client_host))) ||
        (g->nmembers == 0 && (free(g->protocol_type),
                              !(g->protocol_type = strdup(j->protocol_type))))) {
        if (mb)
            gp_member_free(mb);
        free(id);
        return NULL;
    }
    mb->id = id;
    mb->is_new = true;
    mb->heard_ms = now_ms;
    mb->join = m;
    gs->held++;
    struct member **pp = &g->members;
    while (*pp)
        pp = &(*pp)->next;
    *pp = mb;
    g->nmembers++;
    if (!g->leader)
        g->leader = mb;
    return mb;
}

static void add_member_and_rebalance(struct groups *gs, struct group *g, char *id,
                                     struct ctl_msg *m, int64_t now_ms)
{
    if (!add_member(gs, g, id, m, now_ms)) {
        join_fail(gs, m, KERR_UNKNOWN, NULL);
        return;
    }
    if (g->state == G_PREPARING && g->initial_delay)
        g->new_member_added = true;
    maybe_prepare_rebalance(gs, g, now_ms);
    gp_try_complete_join(gs, g, now_ms);
}

/* Kafka's updateMemberAndRebalance. */
static void update_and_rebalance(struct groups *gs, struct group *g, struct member *mb,
                                 struct ctl_msg *m, int64_t now_ms)
{
    if (member_update(mb, &m->u.join_group) < 0) {
        join_fail(gs, m, KERR_UNKNOWN, mb->id);
        return;
    }
    if (mb->join)           /* a retried JoinGroup replaces the old one */
        release_join_error(gs, mb, GERR_REBALANCE_IN_PROGRESS);
    mb->join = m;
    gs->held++;
    maybe_prepare_rebalance(gs, g, now_ms);
    gp_try_complete_join(gs, g, now_ms);
}

/* Kafka's updateStaticMemberAndRebalance: a static member rejoined with
 * an unknown member id; it takes over old's place under a new id, and
 * the old id is fenced. */
static void static_rejoin(struct groups *gs, struct group *g, struct member *old, char *id,
                          struct ctl_msg *m, int64_t now_ms)
{
    char *old_leader = g->leader ? strdup(g->leader->id) : NULL;

    if (old->join)
        release_join_error(gs, old, GERR_FENCED_INSTANCE_ID);
    if (old->sync)
        release_sync(gs, g, old, GERR_FENCED_INSTANCE_ID);
    if (member_update(old, &m->u.join_group) < 0) {
        free(id);
        free(old_leader);
        join_fail(gs, m, KERR_UNKNOWN, NULL);
        return;
    }
    free(old->id);
    old->id = id;
    old->heard_ms = now_ms;
    old->join = m;
    gs->held++;
    switch (g->state) {
    case G_STABLE:
        /* No rebalance: the member keeps its assignment. As Kafka 2.x, the
         * answer names the leader as it was, so a static leader coming
         * back acts as a follower and syncs its old assignment. */
        join_answer(gs, g, old, false, old_leader);
        break;
    case G_COMPLETING:
        prepare_rebalance(gs, g, now_ms);
        gp_try_complete_join(gs, g, now_ms);
        break;
    default:
        gp_try_complete_join(gs, g, now_ms);
        break;
    }
    free(old_leader);
}

void gp_join_group(struct groups *gs, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_join_group *j = &m->u.join_group;
    const struct broker_config *cfg = gs->cfg;
    struct group *g;
    struct member *mb;
    struct pending **pp;
    char *id;

    if (gp_empty(j->group_id))
        return join_fail(gs, m, GERR_INVALID_GROUP_ID, j->member_id);
    if (j->session_timeout_ms < cfg->group_min_session_timeout_ms ||
        j->session_timeout_ms > cfg->group_max_session_timeout_ms)
        return join_fail(gs, m, GERR_INVALID_SESSION_TIMEOUT, j->member_id);
    g = gp_group_find(gs, j->group_id);
    if (!g) {
        if (!gp_empty(j->member_id))
            return join_fail(gs, m, GERR_UNKNOWN_MEMBER_ID, j->member_id);
        if (!(g = gp_group_new(gs, j->group_id)))
            return join_fail(gs, m, KERR_UNKNOWN, NULL);
    }
    if (!supports(g, j))
        return join_fail(gs, m, GERR_INCONSISTENT_GROUP_PROTOCOL, j->member_id);

    if (gp_empty(j->member_id)) {                   /* doUnknownJoinGroup */
        if (!(id = new_member_id(gs, j->client_id)))
            return join_fail(gs, m, KERR_UNKNOWN, NULL);
        if (!gp_empty(j->instance_id)) {
            if ((mb = gp_member_by_instance(g, j->instance_id)))
                return static_rejoin(gs, g, mb, id, m, now_ms);
            return add_member_and_rebalance(gs, g, id, m, now_ms);
        }
        if (j->require_known_member) {
            struct pending *p = calloc(1, sizeof *p);
            if (!p) {
                free(id);
                return join_fail(gs, m, KERR_UNKNOWN, NULL);
            }
            p->id = id;
            p->deadline_ms = now_ms + j->session_timeout_ms;
            p->next = g->pending;
            g->pending = p;
            return join_fail(gs, m, GERR_MEMBER_ID_REQUIRED, id);
        }
        return add_member_and_rebalance(gs, g, id, m, now_ms);
    }

    /* doCurrentMemberJoinGroup */
    if (gp_fenced(g, j->member_id, j->instance_id))
        return join_fail(gs, m, GERR_FENCED_INSTANCE_ID, j->member_id);
    if (!(mb = gp_member_find(g, j->member_id))) {
        if (!(pp = gp_pending_find(g, j->member_id)))
            return join_fail(gs, m, GERR_UNKNOWN_MEMBER_ID, j->member_id);
        gp_pending_remove(pp);
        if (!(id = strdup(j->member_id)))
            return join_fail(gs, m, KERR_UNKNOWN, NULL);
        return add_member_and_rebalance(gs, g, id, m, now_ms);
    }
    mb->heard_ms = now_ms;
    switch (g->state) {
    case G_PREPARING:
        return update_and_rebalance(gs, g, mb, m, now_ms);
    case G_COMPLETING:
        if (!same_protocols(mb, j))
            return update_and_rebalance(gs, g, mb, m, now_ms);
        if (mb->join)
            release_join_error(gs, mb, GERR_REBALANCE_IN_PROGRESS);
        mb->join = m;
        gs->held++;
        return join_answer(gs, g, mb, true, NULL);
    case G_STABLE:
        if (mb == g->leader || !same_protocols(mb, j))
            return update_and_rebalance(gs, g, mb, m, now_ms);
        mb->join = m;
        gs->held++;
        return join_answer(gs, g, mb, false, NULL);
    case G_EMPTY:
        break;
    }
    join_fail(gs, m, GERR_UNKNOWN_MEMBER_ID, j->member_id);
}

/* The leader's assignments: stored, and every held SyncGroup answered. */
static int sync_leader(struct groups *gs, struct group *g, const struct ctl_sync_group *s)
{
    for (int i = 0; i < s->nassignments; i++) {
        const struct ctl_group_member *a = &s->assignments[i];
        struct member *mb = gp_member_find(g, a->member_id);
        int32_t len = a->assignment.len > 0 ? a->assignment.len : 0;
        uint8_t *p;
        if (!mb)
            continue;
        if (!(p = malloc((size_t)len + 1)))
            return -ENOMEM;
        if (len)
            memcpy(p, a->assignment.p, (size_t)len);
        free(mb->assignment);
        mb->assignment = p;
        mb->assignment_len = len;
    }
    g->state = G_STABLE;
    for (struct member *mb = g->members; mb; mb = mb->next)
        if (mb->sync)
            release_sync(gs, g, mb, 0);
    return 0;
}

void gp_sync_group(struct groups *gs, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_sync_group *s = &m->u.sync_group;
    struct group *g = gp_empty(s->group_id) ? NULL : gp_group_find(gs, s->group_id);
    struct member *mb;

    if (gp_empty(s->group_id))
        return sync_answer(gs, g, m, GERR_INVALID_GROUP_ID, NULL);
    if (!g)
        return sync_answer(gs, g, m, GERR_UNKNOWN_MEMBER_ID, NULL);
    if (gp_fenced(g, s->member_id, s->instance_id))
        return sync_answer(gs, g, m, GERR_FENCED_INSTANCE_ID, NULL);
    if (!(mb = gp_member_find(g, s->member_id)))
        return sync_answer(gs, g, m, GERR_UNKNOWN_MEMBER_ID, NULL);
    if (s->generation != g->generation)
        return sync_answer(gs, g, m, GERR_ILLEGAL_GENERATION, NULL);
    mb->heard_ms = now_ms;
    switch (g->state) {
    case G_EMPTY:
        return sync_answer(gs, g, m, GERR_UNKNOWN_MEMBER_ID, NULL);
    case G_PREPARING:
        return sync_answer(gs, g, m, GERR_REBALANCE_IN_PROGRESS, NULL);
    case G_COMPLETING:
        if (mb->sync)
            release_sync(gs, g, mb, GERR_REBALANCE_IN_PROGRESS);
        mb->sync = m;
        gs->held++;
        if (mb == g->leader && sync_leader(gs, g, s) < 0) {
            /* Kafka: an assignment that cannot be stored restarts the
             * rebalance. */
            reset_assignments(gs, g, KERR_UNKNOWN);
            prepare_rebalance(gs, g, now_ms);
        }
        return;
    case G_STABLE:
        return sync_answer(gs, g, m, 0, mb);
    }
}

void gp_heartbeat(struct groups *gs, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_heartbeat *h = &m->u.heartbeat;
    struct group *g = gp_empty(h->group_id) ? NULL : gp_group_find(gs, h->group_id);
    struct member *mb;

    if (gp_empty(h->group_id))
        h->error = GERR_INVALID_GROUP_ID;
    else if (!g)
        h->error = GERR_UNKNOWN_MEMBER_ID;
    else if (gp_fenced(g, h->member_id, h->instance_id))
        h->error = GERR_FENCED_INSTANCE_ID;
    else if (!(mb = gp_member_find(g, h->member_id)))
        h->error = GERR_UNKNOWN_MEMBER_ID;
    else if (h->generation != g->generation)
        h->error = GERR_ILLEGAL_GENERATION;
    else if (g->state == G_EMPTY)
        h->error = GERR_UNKNOWN_MEMBER_ID;
    else {
        mb->heard_ms = now_ms;
        h->error = g->state == G_PREPARING ? GERR_REBALANCE_IN_PROGRESS : 0;
    }
    gp_answer(gs, m);
}

void gp_leave_group(struct groups *gs, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_leave_group *l = &m->u.leave_group;
    struct group *g = gp_empty(l->group_id) ? NULL : gp_group_find(gs, l->group_id);

    l->error = gp_empty(l->group_id) ? GERR_INVALID_GROUP_ID : 0;
    for (int i = 0; i < l->nmembers; i++) {
        const char *mid = l->members[i].member_id, *iid = l->members[i].instance_id;
        struct member *mb = NULL;
        struct pending **pp;
        int16_t err = GERR_UNKNOWN_MEMBER_ID;

        if (g && !gp_empty(iid)) {
            mb = gp_member_by_instance(g, iid);
            if (mb && !gp_empty(mid) && !gp_eq(mb->id, mid)) {
                l->errors[i] = GERR_FENCED_INSTANCE_ID;
                continue;
            }
        } else if (g) {
            mb = gp_member_find(g, mid);
        }
        if (mb) {
            gp_remove_and_update(gs, g, mb, now_ms);
            err = 0;
        } else if (g && !gp_empty(mid) && (pp = gp_pending_find(g, mid))) {
            gp_pending_remove(pp);
            gp_try_complete_join(gs, g, now_ms);
            err = 0;
        }
        l->errors[i] = err;
    }
    gp_answer(gs, m);
}

