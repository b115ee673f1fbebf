/* handle_acls.c - DescribeAcls, CreateAcls and DeleteAcls.
 *
 * sluice has no authorizer yet: as a Kafka broker without
 * authorizer.class.name does, every one of them is answered with
 * SECURITY_DISABLED ("No Authorizer is configured"), one result per
 * creation and per filter, so admin tools report it clearly
 * (README "Security"). */
#include "dataplane/shard_private.h"
#include "dataplane/kafka/msg_security.h"

#include <errno.h>

#define ERR_SECURITY_DISABLED 54
#define NO_AUTHORIZER "No Authorizer is configured on the broker"

int handle_describe_acls(struct request *rq)
{
    struct kafka_describe_acls_resp *resp = request_alloc(rq, sizeof *resp);
    if (!resp)
        return -ENOMEM;
    resp->error_code = ERR_SECURITY_DISABLED;
    resp->error_message = kstr_c(NO_AUTHORIZER);
    return request_respond(rq, resp);
}

int handle_create_acls(struct request *rq)
{
    const struct kafka_create_acls_req *req = rq->body;
    struct kafka_create_acls_resp *resp = request_alloc(rq, sizeof *resp);
    int n = request_count(req->creations.n);
    if (!resp || !(resp->results.v = request_alloc(rq, sizeof *resp->results.v * (size_t)n)))
        return -ENOMEM;
    resp->results.n = n;
    for (int i = 0; i < n; i++)
        resp->results.v[i] = (struct kafka_acl_result){
            .error_code = ERR_SECURITY_DISABLED, .error_message = kstr_c(NO_AUTHORIZER) };
    return request_respond(rq, resp);
}

int handle_delete_acls(struct request *rq)
{
    const struct kafka_delete_acls_req *req = rq->body;
    struct kafka_delete_acls_resp *resp = request_alloc(rq, sizeof *resp);
    int n = request_count(req->filters.n);
    if (!resp ||
        !(resp->filter_results.v = request_alloc(rq, sizeof *resp->filter_results.v * (size_t)n)))
        return -ENOMEM;
    resp->filter_results.n = n;
    for (int i = 0; i < n; i++)
        resp->filter_results.v[i] = (struct kafka_acl_filter_result){
            .error_code = ERR_SECURITY_DISABLED, .error_message = kstr_c(NO_AUTHORIZER) };
    return request_respond(rq, resp);
}
