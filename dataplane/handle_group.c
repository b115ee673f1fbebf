/* handle_group.c - JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * ListGroups, DescribeGroups and DeleteGroups on a shard.
 *
 * Each handler copies what the control thread needs into rq->ctl (C
 * strings into the request arena; protocol metadata and assignments stay
 * views into the frame, which lives until the request is answered),
 * carves an answer arena and posts it. The control thread (groups.c) may
 * hold a JoinGroup until the rebalance completes and a follower's
 * SyncGroup until the leader's: the *_done callback then runs, builds the
 * response from the answer (copied into the answer arena) and sends it.
 *
 * Never: decides anything about membership; that is control/groups.c's. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_group.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>


static struct kstr kstr_or(const char *s, const char *dflt)
{
    return kstr_c(s ? s : dflt);
}

static struct kbytes kb(struct ctl_bytes b)
{
    return (struct kbytes){b.p ? b.p : (const uint8_t *)"", b.len > 0 ? b.len : 0};
}

/* Carves the answer arena: a share of what the request arena has left
 * (the leader's JoinGroup answer carries every member's metadata). */
static int post(struct request *rq, size_t want, request_ctl_done done)
{
    size_t left = rq->arena.cap - rq->arena.len;

    if (want == 0)
        want = left / 4 * 3;
    if (request_ctl_arena(rq, want) < 0 &&
        (left < 4096 || request_ctl_arena(rq, left / 2) < 0))
        return -ENOMEM;
    return request_post_ctl(rq, done);
}

static void respond(struct request *rq, const void *resp, bool ok)
{
    if (!ok || request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot build a group response");
}

static void ctl_begin(struct request *rq, enum ctl_op op)
{
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = op;
}

/* "/a.b.c.d" as Kafka names a client host, in the request arena. */
static const char *client_host(struct request *rq)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    char *out = request_alloc(rq, sizeof ip + 1);

    if (!out)
        return "";
    if (rq->conn && getpeername(rq->conn->fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
    }
    snprintf(out, sizeof ip + 1, "/%s", ip);
    return out;
}

/* --- JoinGroup ------------------------------------------------------------- */

static void join_group_done(struct request *rq, struct ctl_msg *m);

int handle_join_group(struct request *rq)
{
    const struct kafka_join_group_req *req = rq->body;
    int n = request_count(req->protocols.n);
    struct ctl_join_group j = {
        .session_timeout_ms = req->session_timeout_ms,
        .rebalance_timeout_ms = rq->api_version >= 1 ? req->rebalance_timeout_ms : -1,
        .require_known_member = rq->api_version >= 4,
        .nprotocols = n,
        .protocols = request_alloc(rq, sizeof(*j.protocols) * (size_t)n),
        .client_host = client_host(rq)};

    if (!j.protocols || request_cstr(rq, req->group_id, &j.group_id) < 0 ||
        request_cstr(rq, req->member_id, &j.member_id) < 0 ||
        request_cstr(rq, req->group_instance_id, &j.instance_id) < 0 ||
        request_cstr(rq, rq->client_id, &j.client_id) < 0 ||
        request_cstr(rq, req->protocol_type, &j.protocol_type) < 0)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_join_group_protocol *p = &req->protocols.v[i];
        if (request_cstr(rq, p->name, &j.protocols[i].name) < 0)
            return -ENOMEM;
        if (!j.protocols[i].name)
            j.protocols[i].name = "";
        j.protocols[i].metadata = (struct ctl_bytes){p->metadata.p, p->metadata.len};
    }
    if (!j.protocol_type)
        j.protocol_type = "";
    ctl_begin(rq, CTL_JOIN_GROUP);
    rq->ctl.u.join_group = j;
    return post(rq, 0, join_group_done);
}

static void join_group_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_join_group *j = &m->u.join_group;
    struct kafka_join_group_resp resp;
    bool ok = true;

    kafka_defaults(&kafka_join_group_resp_s, &resp);
    resp.error_code = j->error;
    resp.generation_id = j->generation;
    resp.protocol_type = KSTR_NULL;
    resp.protocol_name = kstr_or(j->protocol_name, "");
    resp.leader = kstr_or(j->leader, "");
    resp.member_id = kstr_or(j->assigned_member_id, "");
    resp.members.n = j->nmembers;
    if (j->nmembers > 0) {
        resp.members.v = request_alloc(rq, sizeof(*resp.members.v) * (size_t)j->nmembers);
        ok = resp.members.v != NULL;
        for (int i = 0; ok && i < j->nmembers; i++)
            resp.members.v[i] = (struct kafka_join_group_member){
                .member_id = kstr_or(j->members[i].member_id, ""),
                .group_instance_id = kstr_c(j->members[i].instance_id),
                .metadata = kb(j->members[i].metadata)};
    }
    respond(rq, &resp, ok);
}

/* --- SyncGroup --------------------------------------------------------------- */

static void sync_group_done(struct request *rq, struct ctl_msg *m);

int handle_sync_group(struct request *rq)
{
    const struct kafka_sync_group_req *req = rq->body;
    int n = request_count(req->assignments.n);
    struct ctl_sync_group s = {
        .generation = req->generation_id, .nassignments = n,
        .assignments = request_alloc(rq, sizeof(*s.assignments) * (size_t)n)};

    if (!s.assignments || request_cstr(rq, req->group_id, &s.group_id) < 0 ||
        request_cstr(rq, req->member_id, &s.member_id) < 0 ||
        request_cstr(rq, req->group_instance_id, &s.instance_id) < 0)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_sync_group_assignment *a = &req->assignments.v[i];
        if (request_cstr(rq, a->member_id, &s.assignments[i].member_id) < 0)
            return -ENOMEM;
        s.assignments[i].assignment = (struct ctl_bytes){a->assignment.p, a->assignment.len};
    }
    ctl_begin(rq, CTL_SYNC_GROUP);
    rq->ctl.u.sync_group = s;
    return post(rq, 0, sync_group_done);
}

static void sync_group_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_sync_group *s = &m->u.sync_group;
    struct kafka_sync_group_resp resp;

    kafka_defaults(&kafka_sync_group_resp_s, &resp);
    resp.error_code = s->error;
    resp.protocol_type = kstr_c(s->protocol_type);
    resp.protocol_name = kstr_c(s->protocol_name);
    resp.assignment = kb(s->assignment);
    respond(rq, &resp, true);
}

/* --- Heartbeat ------------------------------------------------------------ */

static void heartbeat_done(struct request *rq, struct ctl_msg *m)
{
    struct kafka_error_resp resp;

    kafka_defaults(&kafka_heartbeat_resp_s, &resp);
    resp.error_code = m->u.heartbeat.error;
    respond(rq, &resp, true);
}

int handle_heartbeat(struct request *rq)
{
    const struct kafka_heartbeat_req *req = rq->body;
    struct ctl_heartbeat h = {.generation = req->generation_id};

    if (request_cstr(rq, req->group_id, &h.group_id) < 0 ||
        request_cstr(rq, req->member_id, &h.member_id) < 0 ||
        request_cstr(rq, req->group_instance_id, &h.instance_id) < 0)
        return -ENOMEM;
    ctl_begin(rq, CTL_HEARTBEAT);
    rq->ctl.u.heartbeat = h;
    return post(rq, 256, heartbeat_done);
}

/* --- LeaveGroup ------------------------------------------------------------- */

static void leave_group_done(struct request *rq, struct ctl_msg *m);

int handle_leave_group(struct request *rq)
{
    const struct kafka_leave_group_req *req = rq->body;
    bool batch = rq->api_version >= 3;
    int n = batch ? request_count(req->members.n) : 1;
    struct ctl_leave_group l = {
        .nmembers = n, .members = request_alloc(rq, sizeof(*l.members) * (size_t)n),
        .errors = request_alloc(rq, sizeof(*l.errors) * (size_t)n)};

    if (!l.members || !l.errors || request_cstr(rq, req->group_id, &l.group_id) < 0)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        struct kstr mid = batch ? req->members.v[i].member_id : req->member_id;
        if (request_cstr(rq, mid, &l.members[i].member_id) < 0 ||
            (batch && request_cstr(rq, req->members.v[i].group_instance_id,
                           &l.members[i].instance_id) < 0))
            return -ENOMEM;
    }
    ctl_begin(rq, CTL_LEAVE_GROUP);
    rq->ctl.u.leave_group = l;
    return post(rq, 256, leave_group_done);
}

static void leave_group_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_leave_group_req *req = rq->body;
    const struct ctl_leave_group *l = &m->u.leave_group;
    struct kafka_leave_group_resp resp;
    bool ok = true;

    kafka_defaults(&kafka_leave_group_resp_s, &resp);
    resp.error_code = l->error;
    if (rq->api_version < 3) {
        if (!resp.error_code && l->nmembers > 0)
            resp.error_code = l->errors[0];
    } else {
        resp.members.n = l->nmembers;
        resp.members.v = request_alloc(rq, sizeof(*resp.members.v) * (size_t)l->nmembers);
        ok = resp.members.v != NULL;
        for (int i = 0; ok && i < l->nmembers; i++)
            resp.members.v[i] = (struct kafka_leave_group_member_resp){
                .member_id = req->members.v[i].member_id,
                .group_instance_id = req->members.v[i].group_instance_id,
                .error_code = l->errors[i]};
    }
    respond(rq, &resp, ok);
}

/* --- ListGroups ------------------------------------------------------------- */

static void list_groups_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_list_groups *l = &m->u.list_groups;
    struct kafka_list_groups_resp resp;
    bool ok = true;

    kafka_defaults(&kafka_list_groups_resp_s, &resp);
    resp.error_code = l->error;
    resp.groups.n = 0;
    resp.groups.v = request_alloc(rq, sizeof(*resp.groups.v) * (size_t)l->ngroups);
    ok = resp.groups.v != NULL;
    /* Kafka lists every group to DESCRIBE on the cluster, else the groups
     * the principal may DESCRIBE */
    bool every = authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_CLUSTER, ACL_CLUSTER_NAME,
                             sizeof ACL_CLUSTER_NAME - 1);
    for (int i = 0; ok && i < l->ngroups; i++) {
        const char *id = l->groups[i].group_id ? l->groups[i].group_id : "";
        if (!every && !authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_GROUP, id, strlen(id)))
            continue;
        resp.groups.v[resp.groups.n++] = (struct kafka_listed_group){
            .group_id = kstr_or(l->groups[i].group_id, ""),
            .protocol_type = kstr_or(l->groups[i].protocol_type, ""),
            .group_state = kstr_or(l->groups[i].state, ""),
            .group_type = KSTR_LIT("classic")};
    }
    respond(rq, &resp, ok);
}

int handle_list_groups(struct request *rq)
{
    const struct kafka_list_groups_req *req = rq->body;
    const struct md_snapshot *md = request_metadata(rq);
    int n = rq->api_version >= 4 ? request_count(req->states_filter.n) : 0;
    struct ctl_list_groups l = {.nstates = n,
                                .states = request_alloc(rq, sizeof(*l.states) * (size_t)n)};

    if (!l.states)
        return -ENOMEM;
    /* As a Kafka broker lists only the groups it coordinates: every group's
     * coordinator is the first broker (FindCoordinator), so the other
     * shards answer an empty list, and clients that ask every broker
     * (librdkafka's rd_kafka_list_groups) see each group once. */
    if (md && md->nbrokers > 0 && rq->shard->cfg.broker_id != md->brokers[0].node_id) {
        struct kafka_list_groups_resp resp;
        kafka_defaults(&kafka_list_groups_resp_s, &resp);
        resp.groups.n = 0;
        return request_respond(rq, &resp);
    }
    for (int i = 0; i < n; i++)
        if (request_cstr(rq, req->states_filter.v[i], &l.states[i]) < 0)
            return -ENOMEM;
    ctl_begin(rq, CTL_LIST_GROUPS);
    rq->ctl.u.list_groups = l;
    return post(rq, 0, list_groups_done);
}

/* --- DescribeGroups ---------------------------------------------------------- */

static void describe_groups_done(struct request *rq, struct ctl_msg *m);

int handle_describe_groups(struct request *rq)
{
    const struct kafka_describe_groups_req *req = rq->body;
    int n = request_count(req->groups.n);
    struct ctl_describe_groups d = {
        .ngroups = n, .group_ids = request_alloc(rq, sizeof(*d.group_ids) * (size_t)n),
        .groups = request_alloc(rq, sizeof(*d.groups) * (size_t)n)};

    if (!d.group_ids || !d.groups)
        return -ENOMEM;
    for (int i = 0; i < n; i++)
        if (request_cstr(rq, req->groups.v[i], &d.group_ids[i]) < 0)
            return -ENOMEM;
    ctl_begin(rq, CTL_DESCRIBE_GROUPS);
    rq->ctl.u.describe_groups = d;
    return post(rq, 0, describe_groups_done);
}

static bool described(struct request *rq, struct kafka_described_group *r,
                      const struct ctl_described_group *d)
{
    r->members.n = d->nmembers;
    r->members.v = request_alloc(rq, sizeof(*r->members.v) * (size_t)d->nmembers);
    if (!r->members.v)
        return false;
    for (int k = 0; k < d->nmembers; k++) {
        const struct ctl_group_member *cm = &d->members[k];
        r->members.v[k] = (struct kafka_described_member){
            .member_id = kstr_or(cm->member_id, ""),
            .group_instance_id = kstr_c(cm->instance_id),
            .client_id = kstr_or(cm->client_id, ""),
            .client_host = kstr_or(cm->client_host, ""),
            .member_metadata = kb(cm->metadata),
            .member_assignment = kb(cm->assignment)};
    }
    return true;
}

static void describe_groups_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_describe_groups_req *req = rq->body;
    const struct ctl_describe_groups *d = &m->u.describe_groups;
    struct kafka_describe_groups_resp resp;
    bool ok;

    kafka_defaults(&kafka_describe_groups_resp_s, &resp);
    resp.groups.n = d->ngroups;
    ok = (resp.groups.v = request_alloc(rq, sizeof(*resp.groups.v) * (size_t)d->ngroups));
    for (int i = 0; ok && i < d->ngroups; i++) {
        const struct ctl_described_group *g = &d->groups[i];
        struct kafka_described_group *r = &resp.groups.v[i];
        *r = (struct kafka_described_group){
            .error_code = g->error, .group_id = req->groups.v[i],
            .group_state = kstr_or(g->state, ""),
            .protocol_type = kstr_or(g->protocol_type, ""),
            .protocol_data = kstr_or(g->protocol, ""),
            .authorized_operations = INT32_MIN};
        if (!authz_group(rq, ACL_OP_DESCRIBE, req->groups.v[i])) {
            *r = (struct kafka_described_group){
                .error_code = KERR_GROUP_AUTHORIZATION_FAILED, .group_id = req->groups.v[i],
                .group_state = KSTR_LIT(""), .protocol_type = KSTR_LIT(""),
                .protocol_data = KSTR_LIT(""), .authorized_operations = INT32_MIN};
            continue;
        }
        ok = described(rq, r, g);
    }
    respond(rq, &resp, ok);
}

/* --- DeleteGroups ------------------------------------------------------------- */

static void delete_groups_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_delete_groups_req *req = rq->body;
    const struct ctl_delete_groups *dl = &m->u.delete_groups;
    struct kafka_delete_groups_resp resp;
    bool ok;

    kafka_defaults(&kafka_delete_groups_resp_s, &resp);
    resp.results.n = dl->ngroups;
    ok = (resp.results.v = request_alloc(rq, sizeof(*resp.results.v) * (size_t)dl->ngroups));
    for (int i = 0; ok && i < dl->ngroups; i++)
        resp.results.v[i] = (struct kafka_group_error){
            .group_id = req->groups_names.v[i],
            .error_code = authz_quiet(rq, ACL_OP_DELETE, ACL_RES_GROUP, req->groups_names.v[i].p,
                                      (size_t)request_count(req->groups_names.v[i].len))
                              ? dl->errors[i] : KERR_GROUP_AUTHORIZATION_FAILED};
    respond(rq, &resp, ok);
}

int handle_delete_groups(struct request *rq)
{
    const struct kafka_delete_groups_req *req = rq->body;
    int n = request_count(req->groups_names.n);
    struct ctl_delete_groups dl = {
        .ngroups = n, .group_ids = request_alloc(rq, sizeof(*dl.group_ids) * (size_t)n),
        .errors = request_alloc(rq, sizeof(*dl.errors) * (size_t)n)};

    if (!dl.group_ids || !dl.errors)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        if (request_cstr(rq, req->groups_names.v[i], &dl.group_ids[i]) < 0)
            return -ENOMEM;
        if (!authz_group(rq, ACL_OP_DELETE, req->groups_names.v[i]))
            dl.group_ids[i] = "";   /* not deleted; answered as refused */
    }
    ctl_begin(rq, CTL_DELETE_GROUPS);
    rq->ctl.u.delete_groups = dl;
    return post(rq, 256, delete_groups_done);
}
