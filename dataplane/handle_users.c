/* handle_users.c - DescribeUserScramCredentials and
 * AlterUserScramCredentials: decoded here, answered by the control thread
 * (control/users.c), which owns the credentials.
 *
 * Never: decides anything about credentials; it only copies names and
 * keys into the control message and the answer into the response. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_security.h"

#include <errno.h>
#include <string.h>

static struct kstr kstr_or_null(const char *s)
{
    return s ? kstr_c(s) : KSTR_NULL;
}

static int post(struct request *rq, enum ctl_op op, request_ctl_done done)
{
    rq->ctl.op = op;
    size_t left = rq->arena.cap - rq->arena.len;
    if (request_ctl_arena(rq, left / 2) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, done);
}

static void describe_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_users *d = &m->u.users;
    struct kafka_describe_scram_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp || !(resp->results.v = request_alloc(rq, sizeof *resp->results.v *
                                                   (size_t)d->nresults)))
        goto fail;
    resp->error_code = d->error;
    resp->error_message = kstr_or_null(d->message);
    resp->results.n = d->nresults;
    for (int i = 0; i < d->nresults; i++) {
        const struct ctl_user_result *r = &d->results[i];
        struct kafka_describe_scram_result *o = &resp->results.v[i];
        o->user = kstr_c(r->user);
        o->error_code = r->error;
        o->error_message = kstr_or_null(r->message);
        o->credential_infos.n = r->ninfos;
        o->credential_infos.v = request_alloc(rq, sizeof *o->credential_infos.v * 2);
        if (!o->credential_infos.v)
            goto fail;
        for (int k = 0; k < r->ninfos; k++)
            o->credential_infos.v[k] = (struct kafka_scram_credential_info){
                .mechanism = r->mechs[k], .iterations = r->iterations[k] };
    }
    if (request_respond(rq, resp) == 0)
        return;
fail:
    conn_close(rq->conn, "cannot build a DescribeUserScramCredentials response");
}

int handle_describe_user_scram(struct request *rq)
{
    const struct kafka_describe_scram_req *req = rq->body;
    int n = request_count(req->users.n);
    memset(&rq->ctl, 0, sizeof rq->ctl);
    struct ctl_users *d = &rq->ctl.u.users;
    d->names = request_alloc(rq, sizeof *d->names * (size_t)n);
    if (!d->names)
        return -ENOMEM;
    d->nnames = n;
    for (int i = 0; i < n; i++)
        if (request_cstr(rq, req->users.v[i].name, &d->names[i]) < 0 || !d->names[i])
            return -ENOMEM;
    return post(rq, CTL_USERS_DESCRIBE, describe_done);
}

static void alter_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_users *a = &m->u.users;
    struct kafka_alter_scram_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp || !(resp->results.v = request_alloc(rq, sizeof *resp->results.v *
                                                   (size_t)a->nresults)))
        goto fail;
    resp->results.n = a->nresults;
    for (int i = 0; i < a->nresults; i++) {
        const struct ctl_user_result *r = &a->results[i];
        resp->results.v[i] = (struct kafka_alter_scram_result){
            .user = kstr_c(r->user), .error_code = a->error ? a->error : r->error,
            .error_message = kstr_or_null(r->message) };
    }
    if (request_respond(rq, resp) == 0)
        return;
fail:
    conn_close(rq->conn, "cannot build an AlterUserScramCredentials response");
}

/* Without ALTER on the cluster: every user's result refused. */
static int alter_refused(struct request *rq)
{
    const struct kafka_alter_scram_req *req = rq->body;
    int nd = request_count(req->deletions.n), nu = request_count(req->upsertions.n);
    struct kafka_alter_scram_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp || !(resp->results.v = request_alloc(rq, sizeof *resp->results.v *
                                                   (size_t)(nd + nu))))
        return -ENOMEM;
    resp->results.n = nd + nu;
    for (int i = 0; i < nd + nu; i++)
        resp->results.v[i] = (struct kafka_alter_scram_result){
            .user = i < nd ? req->deletions.v[i].name : req->upsertions.v[i - nd].name,
            .error_code = KERR_CLUSTER_AUTHORIZATION_FAILED,
            .error_message = kstr_c("Cluster authorization failed.") };
    return request_respond(rq, resp);
}

int handle_alter_user_scram(struct request *rq)
{
    const struct kafka_alter_scram_req *req = rq->body;
    int nd = request_count(req->deletions.n), nu = request_count(req->upsertions.n);
    if (!authz_cluster(rq, ACL_OP_ALTER))
        return alter_refused(rq);
    memset(&rq->ctl, 0, sizeof rq->ctl);
    struct ctl_users *a = &rq->ctl.u.users;
    a->ops = request_alloc(rq, sizeof *a->ops * (size_t)(nd + nu));
    if (!a->ops)
        return -ENOMEM;
    a->nops = nd + nu;
    for (int i = 0; i < nd; i++) {
        struct ctl_scram_op *op = &a->ops[i];
        if (request_cstr(rq, req->deletions.v[i].name, &op->user) < 0 || !op->user)
            return -ENOMEM;
        op->mech = req->deletions.v[i].mechanism;
    }
    for (int i = 0; i < nu; i++) {
        const struct kafka_scram_upsertion *u = &req->upsertions.v[i];
        struct ctl_scram_op *op = &a->ops[nd + i];
        if (request_cstr(rq, u->name, &op->user) < 0 || !op->user)
            return -ENOMEM;
        op->mech = u->mechanism;
        op->iterations = u->iterations;
        /* copies in the arena: the control thread never reads the frame;
         * a non-NULL salted password is what makes it an upsertion */
        op->salt_len = u->salt.len > 0 ? u->salt.len : 0;
        op->salted_len = u->salted_password.len > 0 ? u->salted_password.len : 0;
        uint8_t *salt = request_alloc(rq, (size_t)op->salt_len);
        uint8_t *salted = request_alloc(rq, (size_t)op->salted_len);
        if (!salt || !salted)
            return -ENOMEM;
        if (op->salt_len)
            memcpy(salt, u->salt.p, (size_t)op->salt_len);
        if (op->salted_len)
            memcpy(salted, u->salted_password.p, (size_t)op->salted_len);
        op->salt = salt;
        op->salted = salted;
    }
    return post(rq, CTL_USERS_ALTER, alter_done);
}
