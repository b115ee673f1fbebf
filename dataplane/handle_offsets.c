/* handle_offsets.c - OffsetCommit (v2-7), OffsetFetch (v1-7) and
 * OffsetDelete (v0): decoded requests to CTL_OFFSET_* messages and back.
 *
 * Each handler copies the group and topic names into NUL-terminated
 * strings in the request arena (metadata is passed as a view: the frame
 * stays valid until the answer), posts the message and builds the
 * response when it comes back. A commit or a delete comes back only once
 * its records are fdatasync'ed (control/offsets.h).
 *
 * An OffsetFetch answer (metadata strings; every partition of the group
 * when topics is null) may not fit the answer arena: the control thread
 * then says how much would (need), and the request asks again, at most
 * twice more, with an arena that big.
 *
 * Never: decides anything about offsets; that is control/offsets.c. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KERR_COORDINATOR_NOT_AVAILABLE 15
#define FETCH_RETRIES 2


static void ctl_begin(struct request *rq, enum ctl_op op)
{
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = op;
}

/* Carves an answer arena of len bytes (less if the request arena is
 * short), or one on the heap freed with the request. */
static int answer_arena(struct request *rq, size_t len)
{
    struct request_priv *p = rq->priv;
    size_t left = rq->arena.cap - rq->arena.len;

    if (request_ctl_arena(rq, len) == 0)
        return 0;
    if (!p->heap && len > left / 2) {
        if (!(p->heap = malloc(len)))
            return -ENOMEM;
        rq->ctl.arena = (struct ctl_arena){.buf = p->heap, .len = 0, .cap = len};
        return 0;
    }
    if (left < 1024)
        return -ENOMEM;
    return request_ctl_arena(rq, left / 2);
}

static void respond(struct request *rq, const void *resp, bool ok)
{
    if (!ok || request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot build an offsets response");
}

/* The partitions' error codes of a commit or delete answer, by topic as
 * asked. */
static bool topic_errors(struct request *rq, const struct ctl_offsets *c,
                         struct kafka_topic_partition_errors **out, int32_t *n)
{
    struct kafka_topic_partition_errors *v = request_alloc(rq, sizeof(*v) * (size_t)c->ntopics);

    *out = v;
    *n = c->ntopics;
    for (int t = 0; v && t < c->ntopics; t++) {
        const struct ctl_offset_topic *ot = &c->topics[t];
        v[t].name = kstr_c(ot->name ? ot->name : "");
        v[t].partitions.n = ot->npartitions;
        if (!(v[t].partitions.v = request_alloc(rq, sizeof(*v[t].partitions.v) *
                                                (size_t)ot->npartitions)))
            return false;
        for (int k = 0; k < ot->npartitions; k++)
            v[t].partitions.v[k] = (struct kafka_partition_error){
                .partition_index = ot->partitions[k].partition,
                .error_code = ot->partitions[k].error};
    }
    return v != NULL;
}

/* --- OffsetCommit ------------------------------------------------------------ */

static void offset_commit_done(struct request *rq, struct ctl_msg *m)
{
    struct kafka_offset_commit_resp resp;
    bool ok;

    kafka_defaults(&kafka_offset_commit_resp_s, &resp);
    ok = topic_errors(rq, &m->u.offsets, &resp.topics.v, &resp.topics.n);
    respond(rq, &resp, ok);
}

int handle_offset_commit(struct request *rq)
{
    const struct kafka_offset_commit_req *req = rq->body;
    int nt = request_count(req->topics.n);
    struct ctl_offset_topic *ts = request_alloc(rq, sizeof(*ts) * (size_t)nt);
    struct ctl_offsets c = {.generation = req->generation_id_or_member_epoch,
                            .retention_ms = rq->api_version <= 4 ? req->retention_time_ms : -1,
                            .ntopics = nt, .topics = ts};

    if (!ts || request_cstr(rq, req->group_id, &c.group_id) < 0 ||
        request_cstr(rq, req->member_id, &c.member_id) < 0 ||
        request_cstr(rq, req->group_instance_id, &c.instance_id) < 0)
        return -ENOMEM;
    for (int t = 0; t < nt; t++) {
        const struct kafka_offset_commit_req_topic *rt = &req->topics.v[t];
        int n = request_count(rt->partitions.n);
        if (request_cstr(rq, rt->name, &ts[t].name) < 0 ||
            !(ts[t].partitions = request_alloc(rq, sizeof(*ts[t].partitions) * (size_t)n)))
            return -ENOMEM;
        ts[t].npartitions = n;
        bool denied = !authz_topic(rq, ACL_OP_READ, rt->name);  /* the group's: authz.c */
        for (int k = 0; k < n; k++) {
            const struct kafka_offset_commit_req_partition *rp = &rt->partitions.v[k];
            ts[t].partitions[k] = (struct ctl_offset_partition){
                .partition = rp->partition_index, .offset = rp->committed_offset,
                .leader_epoch = rq->api_version >= 6 ? rp->committed_leader_epoch : -1,
                .metadata = rp->committed_metadata.len >= 0 ? rp->committed_metadata.p : NULL,
                .metadata_len = rp->committed_metadata.len >= 0 ? rp->committed_metadata.len : -1,
                .error = denied ? KERR_TOPIC_AUTHORIZATION_FAILED : 0};
        }
    }
    ctl_begin(rq, CTL_OFFSET_COMMIT);
    rq->ctl.u.offsets = c;
    if (answer_arena(rq, 256) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, offset_commit_done);
}

/* --- OffsetFetch ----------------------------------------------------------------- */

static void offset_fetch_done(struct request *rq, struct ctl_msg *m);

/* The fetch message from the request: partitions asked, or ntopics -1
 * for all. */
static int fetch_post(struct request *rq)
{
    const struct kafka_offset_fetch_req *req = rq->body;
    bool all = req->topics.n < 0;
    int nt = request_count(req->topics.n);
    size_t room = 1024;
    struct ctl_offsets c = {.ntopics = all ? -1 : nt};

    if (request_cstr(rq, req->group_id, &c.group_id) < 0)
        return -ENOMEM;
    if (!all) {
        if (!(c.topics = request_alloc(rq, sizeof(*c.topics) * (size_t)nt)))
            return -ENOMEM;
        for (int t = 0; t < nt; t++) {
            const struct kafka_offset_fetch_req_topic *rt = &req->topics.v[t];
            int n = request_count(rt->partition_indexes.n);
            if (request_cstr(rq, rt->name, &c.topics[t].name) < 0 ||
                !(c.topics[t].partitions = request_alloc(rq, sizeof(*c.topics[t].partitions) *
                                                         (size_t)n)))
                return -ENOMEM;
            c.topics[t].npartitions = n;
            room += 64 * (size_t)n;
            bool denied = !authz_topic(rq, ACL_OP_DESCRIBE, rt->name);
            for (int k = 0; k < n; k++) {
                c.topics[t].partitions[k].partition = rt->partition_indexes.v[k];
                c.topics[t].partitions[k].error = denied ? KERR_TOPIC_AUTHORIZATION_FAILED : 0;
            }
        }
    } else {
        room = 16384;
    }
    ctl_begin(rq, CTL_OFFSET_FETCH);
    rq->ctl.u.offsets = c;
    if (answer_arena(rq, room) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, offset_fetch_done);
}

/* OffsetFetch of a group it may not DESCRIBE: GROUP_AUTHORIZATION_FAILED
 * (per partition before v2, which has no top-level error). */
static int offset_fetch_refused(struct request *rq)
{
    const struct kafka_offset_fetch_req *req = rq->body;
    struct kafka_offset_fetch_resp resp;
    int nt = request_count(req->topics.n);

    kafka_defaults(&kafka_offset_fetch_resp_s, &resp);
    resp.error_code = KERR_GROUP_AUTHORIZATION_FAILED;
    resp.topics.n = nt;
    if (!(resp.topics.v = request_alloc(rq, sizeof(*resp.topics.v) * (size_t)nt)))
        return -ENOMEM;
    for (int t = 0; t < nt; t++) {
        const struct kafka_offset_fetch_req_topic *rt = &req->topics.v[t];
        int n = request_count(rt->partition_indexes.n);
        resp.topics.v[t].name = rt->name;
        resp.topics.v[t].partitions.n = n;
        resp.topics.v[t].partitions.v = request_alloc(
            rq, sizeof(struct kafka_offset_fetch_partition) * (size_t)n);
        if (!resp.topics.v[t].partitions.v)
            return -ENOMEM;
        for (int k = 0; k < n; k++)
            resp.topics.v[t].partitions.v[k] = (struct kafka_offset_fetch_partition){
                .partition_index = rt->partition_indexes.v[k], .committed_offset = -1,
                .committed_leader_epoch = -1, .metadata = {"", 0},
                .error_code = KERR_GROUP_AUTHORIZATION_FAILED};
    }
    return request_respond(rq, &resp);
}

int handle_offset_fetch(struct request *rq)
{
    struct request_priv *p = rq->priv;
    const struct kafka_offset_fetch_req *req = rq->body;

    if (!authz_group(rq, ACL_OP_DESCRIBE, req->group_id))
        return offset_fetch_refused(rq);
    p->state = NULL;           /* retries so far, as a count */
    return fetch_post(rq);
}

static void offset_fetch_done(struct request *rq, struct ctl_msg *m)
{
    struct request_priv *p = rq->priv;
    const struct ctl_offsets *c = &m->u.offsets;
    struct kafka_offset_fetch_resp resp;
    uintptr_t tries = (uintptr_t)p->state;
    bool ok = true;

    if (c->need > 0 && tries < FETCH_RETRIES) {
        /* Again with a bigger arena; the names and partitions asked stay. */
        const struct kafka_offset_fetch_req *req = rq->body;
        struct ctl_offsets again = *c;    /* c is rq->ctl's: cleared below */
        size_t need = c->need;
        p->state = (void *)(tries + 1);
        again.need = 0;
        again.error = 0;
        if (req->topics.n < 0) {
            again.ntopics = -1;
            again.topics = NULL;
        }
        ctl_begin(rq, CTL_OFFSET_FETCH);
        rq->ctl.u.offsets = again;
        if (answer_arena(rq, need) < 0 || request_post_ctl(rq, offset_fetch_done) < 0)
            conn_close(rq->conn, "no memory for an OffsetFetch answer");
        return;
    }
    kafka_defaults(&kafka_offset_fetch_resp_s, &resp);
    resp.error_code = c->need > 0 ? KERR_COORDINATOR_NOT_AVAILABLE : c->error;
    resp.topics.n = c->ntopics > 0 ? c->ntopics : 0;
    ok = (resp.topics.v = request_alloc(rq, sizeof(*resp.topics.v) * (size_t)resp.topics.n));
    const struct kafka_offset_fetch_req *req = rq->body;
    int32_t nt = resp.topics.n;
    resp.topics.n = 0;
    for (int t = 0; ok && t < nt; t++) {
        const struct ctl_offset_topic *ot = &c->topics[t];
        if (req->topics.n < 0 && ot->name &&
            !authz_quiet(rq, ACL_OP_DESCRIBE, ACL_RES_TOPIC, ot->name, strlen(ot->name)))
            continue;          /* every topic asked: those it may see */
        struct kafka_offset_fetch_resp_topic *rt = &resp.topics.v[resp.topics.n++];
        rt->name = kstr_c(ot->name ? ot->name : "");
        rt->partitions.n = ot->npartitions;
        if (!(rt->partitions.v = request_alloc(rq, sizeof(*rt->partitions.v) *
                                               (size_t)ot->npartitions))) {
            ok = false;
            break;
        }
        for (int k = 0; k < ot->npartitions; k++) {
            const struct ctl_offset_partition *op = &ot->partitions[k];
            rt->partitions.v[k] = (struct kafka_offset_fetch_partition){
                .partition_index = op->partition, .committed_offset = op->offset,
                .committed_leader_epoch = op->leader_epoch,
                .metadata = {op->metadata ? op->metadata : "",
                             op->metadata ? op->metadata_len : 0},
                .error_code = op->error ? op->error : (rq->api_version < 2 ? c->error : 0)};
        }
    }
    respond(rq, &resp, ok);
}

/* --- OffsetDelete ------------------------------------------------------------------ */

static void offset_delete_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_offsets *c = &m->u.offsets;
    struct kafka_offset_delete_resp resp;
    bool ok = true;

    kafka_defaults(&kafka_offset_delete_resp_s, &resp);
    resp.error_code = c->error;
    if (c->error == 0)
        ok = topic_errors(rq, c, &resp.topics.v, &resp.topics.n);
    else
        resp.topics.n = 0;
    respond(rq, &resp, ok);
}

int handle_offset_delete(struct request *rq)
{
    const struct kafka_offset_delete_req *req = rq->body;
    int nt = request_count(req->topics.n);
    struct ctl_offset_topic *ts = request_alloc(rq, sizeof(*ts) * (size_t)nt);
    struct ctl_offsets c = {.ntopics = nt, .topics = ts};

    if (!ts || request_cstr(rq, req->group_id, &c.group_id) < 0)
        return -ENOMEM;
    for (int t = 0; t < nt; t++) {
        const struct kafka_offset_delete_topic *rt = &req->topics.v[t];
        int n = request_count(rt->partitions.n);
        if (request_cstr(rq, rt->name, &ts[t].name) < 0 ||
            !(ts[t].partitions = request_alloc(rq, sizeof(*ts[t].partitions) * (size_t)n)))
            return -ENOMEM;
        ts[t].npartitions = n;
        bool denied = !authz_topic(rq, ACL_OP_READ, rt->name);
        for (int k = 0; k < n; k++) {
            ts[t].partitions[k].partition = rt->partitions.v[k].partition_index;
            ts[t].partitions[k].error = denied ? KERR_TOPIC_AUTHORIZATION_FAILED : 0;
        }
    }
    ctl_begin(rq, CTL_OFFSET_DELETE);
    rq->ctl.u.offsets = c;
    if (answer_arena(rq, 256) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, offset_delete_done);
}
