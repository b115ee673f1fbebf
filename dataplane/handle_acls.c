/* handle_acls.c - DescribeAcls, CreateAcls and DeleteAcls.
 *
 * Without authorizer.class.name every one of them is answered with
 * SECURITY_DISABLED ("No Authorizer is configured"), as Kafka does, one
 * result per creation and per filter. With it: DescribeAcls is answered
 * here from the shard's ACL snapshot (DESCRIBE on the cluster, checked by
 * authz_request); CreateAcls and DeleteAcls need ALTER on the cluster,
 * are checked here (a bad binding or filter is INVALID_REQUEST) and go to
 * the control thread (control/acls.c), which commits them to the
 * metadata log and publishes a new snapshot before it answers.
 *
 * Never: decides what is stored; it only checks shapes and copies. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_security.h"

#include <errno.h>
#include <string.h>

#define NO_AUTHORIZER "No Authorizer is configured on the broker"
#define KERR_INVALID_REQUEST_ 42

static struct kstr kstr_or_null(const char *s)
{
    return s ? kstr_c(s) : KSTR_NULL;
}

static const char *arena_copy(struct request *rq, const char *why)
{
    const char *out = NULL;
    return request_cstr(rq, kstr_c(why), &out) < 0 ? "invalid" : out;
}

/* The decoded filter's strings as C strings in the arena (NULL: any). */
static int filter_of(struct request *rq, const struct kafka_acl_filter *in, struct acl_filter *out)
{
    *out = (struct acl_filter){ .resource_type = in->resource_type,
                                .pattern_type = in->pattern_type,
                                .operation = in->operation,
                                .permission = in->permission_type };
    if (request_cstr(rq, in->resource_name, &out->name) < 0 ||
        request_cstr(rq, in->principal, &out->principal) < 0 ||
        request_cstr(rq, in->host, &out->host) < 0)
        return -ENOMEM;
    return 0;
}

/* --- DescribeAcls ----------------------------------------------------------- */

static bool same_resource(const struct acl_binding *a, const struct acl_binding *b)
{
    return a->resource_type == b->resource_type && a->pattern_type == b->pattern_type &&
           strcmp(a->name, b->name) == 0;
}

int handle_describe_acls(struct request *rq)
{
    const struct kafka_acl_filter *req = rq->body;
    struct kafka_describe_acls_resp *resp = request_alloc(rq, sizeof *resp);
    struct acl_filter f;
    char why[128];
    if (!resp)
        return -ENOMEM;
    if (!authz_enabled(rq)) {
        resp->error_code = KERR_SECURITY_DISABLED;
        resp->error_message = kstr_c(NO_AUTHORIZER);
        return request_respond(rq, resp);
    }
    if (filter_of(rq, req, &f) < 0)
        return -ENOMEM;
    if ((resp->error_code = (int16_t)acl_filter_check(&f, why, sizeof why))) {
        resp->error_message = kstr_c(arena_copy(rq, why));
        return request_respond(rq, resp);
    }
    const struct acl_snapshot *a = rq->shard->md->acls;
    int nres = 0;
    const struct acl_binding *prev = NULL;
    for (int i = 0; i < a->n; i++)
        if (acl_filter_matches(&f, &a->v[i])) {
            nres += !prev || !same_resource(prev, &a->v[i]);
            prev = &a->v[i];
        }
    if (request_arena_reserve(rq, (sizeof(struct kafka_acl_resource) +
                                   sizeof(struct kafka_acl_description)) * (size_t)a->n +
                                      1024) < 0 ||
        !(resp->resources.v = request_alloc(rq, sizeof *resp->resources.v * (size_t)nres)))
        return -ENOMEM;
    prev = NULL;
    struct kafka_acl_resource *r = NULL;
    for (int i = 0; i < a->n; i++) {
        const struct acl_binding *b = &a->v[i];
        if (!acl_filter_matches(&f, b))
            continue;
        if (!prev || !same_resource(prev, b)) {
            r = &resp->resources.v[resp->resources.n++];
            *r = (struct kafka_acl_resource){ .resource_type = b->resource_type,
                                              .resource_name = kstr_c(b->name),
                                              .pattern_type = b->pattern_type };
            int k = 0;      /* the run's matches, for the array's size */
            for (int j = i; j < a->n && same_resource(b, &a->v[j]); j++)
                k += acl_filter_matches(&f, &a->v[j]);
            if (!(r->acls.v = request_alloc(rq, sizeof *r->acls.v * (size_t)k)))
                return -ENOMEM;
        }
        r->acls.v[r->acls.n++] = (struct kafka_acl_description){
            .principal = kstr_c(b->principal), .host = kstr_c(b->host),
            .operation = b->operation, .permission_type = b->permission };
        prev = b;
    }
    return request_respond(rq, resp);
}

/* --- CreateAcls and DeleteAcls ------------------------------------------------ */

static int post(struct request *rq, enum ctl_op op, request_ctl_done done)
{
    rq->ctl.op = op;
    size_t left = rq->arena.cap - rq->arena.len;
    if (request_ctl_arena(rq, left / 2) < 0)
        return -ENOMEM;
    return request_post_ctl(rq, done);
}

/* Every result the same error (no authorizer, not authorised). */
static int refuse_all(struct request *rq, int n, int16_t error, const char *message, bool create)
{
    if (create) {
        struct kafka_create_acls_resp *resp = request_alloc(rq, sizeof *resp);
        if (!resp || !(resp->results.v = request_alloc(rq, sizeof *resp->results.v * (size_t)n)))
            return -ENOMEM;
        resp->results.n = n;
        for (int i = 0; i < n; i++)
            resp->results.v[i] = (struct kafka_acl_result){
                .error_code = error, .error_message = kstr_or_null(message) };
        return request_respond(rq, resp);
    }
    struct kafka_delete_acls_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp ||
        !(resp->filter_results.v = request_alloc(rq, sizeof *resp->filter_results.v * (size_t)n)))
        return -ENOMEM;
    resp->filter_results.n = n;
    for (int i = 0; i < n; i++)
        resp->filter_results.v[i] = (struct kafka_acl_filter_result){
            .error_code = error, .error_message = kstr_or_null(message) };
    return request_respond(rq, resp);
}

/* 0 when the request may go on; otherwise it was answered (1) or failed. */
static int gate(struct request *rq, int n, bool create)
{
    if (!authz_enabled(rq))
        return refuse_all(rq, n, KERR_SECURITY_DISABLED, NO_AUTHORIZER, create) < 0 ? -ENOMEM : 1;
    if (!authz_cluster(rq, ACL_OP_ALTER))
        return refuse_all(rq, n, KERR_CLUSTER_AUTHORIZATION_FAILED,
                          "Cluster authorization failed.", create) < 0 ? -ENOMEM : 1;
    return 0;
}

static struct ctl_acl_result *results_for(struct request *rq, int n)
{
    struct ctl_acls *a = &rq->ctl.u.acls;
    a->n = n;
    a->results = request_alloc(rq, sizeof *a->results * (size_t)n);
    return a->results;
}

static void create_answer(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_acls *a = &m->u.acls;
    struct kafka_create_acls_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp || !(resp->results.v = request_alloc(rq, sizeof *resp->results.v * (size_t)a->n))) {
        conn_close(rq->conn, "cannot build a CreateAcls response");
        return;
    }
    resp->results.n = a->n;
    for (int i = 0; i < a->n; i++)
        resp->results.v[i] = (struct kafka_acl_result){
            .error_code = a->results[i].error,
            .error_message = kstr_or_null(a->results[i].message) };
    if (request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot build a CreateAcls response");
}

int handle_create_acls(struct request *rq)
{
    const struct kafka_create_acls_req *req = rq->body;
    int n = request_count(req->creations.n), rc;
    if ((rc = gate(rq, n, true)) != 0)
        return rc < 0 ? rc : 0;
    memset(&rq->ctl, 0, sizeof rq->ctl);
    struct ctl_acls *a = &rq->ctl.u.acls;
    struct ctl_acl_result *res = results_for(rq, n);
    a->bindings = request_alloc(rq, sizeof *a->bindings * (size_t)n);
    if (!res || !a->bindings)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_acl_filter *c = &req->creations.v[i];
        struct acl_filter f;
        char why[128];
        if (filter_of(rq, c, &f) < 0)
            return -ENOMEM;
        a->bindings[i] = (struct acl_binding){
            .resource_type = c->resource_type, .pattern_type = c->pattern_type,
            .operation = c->operation, .permission = c->permission_type,
            .name = f.name, .principal = f.principal, .host = f.host };
        if ((res[i].error = (int16_t)acl_binding_check(&a->bindings[i], why, sizeof why)))
            res[i].message = arena_copy(rq, why);
    }
    return post(rq, CTL_ACLS_CREATE, create_answer);
}

static void delete_answer(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_acls *a = &m->u.acls;
    struct kafka_delete_acls_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp ||
        !(resp->filter_results.v = request_alloc(rq, sizeof *resp->filter_results.v * (size_t)a->n)))
        goto fail;
    resp->filter_results.n = a->n;
    for (int i = 0; i < a->n; i++) {
        const struct ctl_acl_result *r = &a->results[i];
        struct kafka_acl_filter_result *o = &resp->filter_results.v[i];
        o->error_code = r->error;
        o->error_message = kstr_or_null(r->message);
        o->matching_acls.n = r->nmatches;
        if (!(o->matching_acls.v = request_alloc(rq, sizeof *o->matching_acls.v *
                                                         (size_t)r->nmatches)))
            goto fail;
        for (int k = 0; k < r->nmatches; k++) {
            const struct acl_binding *b = &r->matches[k];
            o->matching_acls.v[k] = (struct kafka_acl_match){
                .resource_type = b->resource_type, .resource_name = kstr_c(b->name),
                .pattern_type = b->pattern_type, .principal = kstr_c(b->principal),
                .host = kstr_c(b->host), .operation = b->operation,
                .permission_type = b->permission };
        }
    }
    if (request_respond(rq, resp) == 0)
        return;
fail:
    conn_close(rq->conn, "cannot build a DeleteAcls response");
}

int handle_delete_acls(struct request *rq)
{
    const struct kafka_delete_acls_req *req = rq->body;
    int n = request_count(req->filters.n), rc;
    if ((rc = gate(rq, n, false)) != 0)
        return rc < 0 ? rc : 0;
    memset(&rq->ctl, 0, sizeof rq->ctl);
    struct ctl_acls *a = &rq->ctl.u.acls;
    struct ctl_acl_result *res = results_for(rq, n);
    a->filters = request_alloc(rq, sizeof *a->filters * (size_t)n);
    if (!res || !a->filters)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        char why[128];
        if (filter_of(rq, &req->filters.v[i], &a->filters[i]) < 0)
            return -ENOMEM;
        if ((res[i].error = (int16_t)acl_filter_check(&a->filters[i], why, sizeof why)))
            res[i].message = arena_copy(rq, why);
    }
    return post(rq, CTL_ACLS_DELETE, delete_answer);
}
