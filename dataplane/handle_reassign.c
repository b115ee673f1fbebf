/* handle_reassign.c - AlterPartitionReassignments (45, v0) and
 * ListPartitionReassignments (46, v0): Kafka's kafka-reassign-partitions
 * and Admin.alterPartitionReassignments / listPartitionReassignments.
 *
 * Alter goes to the controller (Metadata's controller id, where Java's
 * Admin sends it): the shard hands the targets to its control thread
 * (control/replication.c, md_reassign.c's rules), which answers once the
 * change is committed; any other node answers NOT_CONTROLLER. List is
 * answered from the metadata the shard has (every node applies the same
 * log): each partition named, or every partition, with a reassignment in
 * progress, with its replicas, those being added and those being removed;
 * partitions that do not exist are left out, as Kafka does.
 *
 * Never: blocks; the control thread sees only the plain structs. */
#include "dataplane/shard_private.h"
#include "dataplane/kafka/msg_cluster.h"
#include "storage/kerr.h"

#include <errno.h>
#include <string.h>

static const char *reassign_message(int16_t err)
{
    switch (err) {
    case KERR_INVALID_REPLICA_ASSIGNMENT:
        return "The target must be 1 to 8 registered brokers, one per node, and keep a "
               "replica that is in sync.";
    case KERR_NO_REASSIGNMENT_IN_PROGRESS:
        return "No reassignment of the partition is in progress.";
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "The partition does not exist.";
    case KERR_NOT_CONTROLLER:
        return "This broker is not the controller.";
    default:
        return NULL;
    }
}

static void alter_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_alter_reassignments_req *req = rq->body;
    const struct ctl_reassign *r = &m->u.reassign;
    struct kafka_alter_reassignments_resp *resp = request_alloc(rq, sizeof *resp);
    int at = 0;

    if (!resp || !(resp->responses.v = request_alloc(rq, sizeof *resp->responses.v *
                                                             (size_t)req->topics.n + 1))) {
        conn_close(rq->conn, "cannot answer an AlterPartitionReassignments: out of memory");
        return;
    }
    resp->error_code = r->error;
    resp->error_message = kstr_c(reassign_message(r->error));
    for (int32_t t = 0; t < req->topics.n; t++) {
        const struct kafka_reassign_req_topic *qt = &req->topics.v[t];
        struct kafka_reassign_resp_topic *rt = &resp->responses.v[resp->responses.n++];
        int32_t np = request_count(qt->partitions.n);
        rt->name = qt->name;
        if (!(rt->partitions.v = request_alloc(rq, sizeof *rt->partitions.v * (size_t)np + 1))) {
            conn_close(rq->conn, "cannot answer an AlterPartitionReassignments: out of memory");
            return;
        }
        for (int32_t k = 0; k < np; k++, at++) {
            int16_t err = r->error ? r->error : r->items[at].error;
            rt->partitions.v[rt->partitions.n++] = (struct kafka_reassign_resp_partition){
                .partition_index = qt->partitions.v[k].partition_index, .error_code = err,
                .error_message = kstr_c(reassign_message(err))};
        }
    }
    if (request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot encode an AlterPartitionReassignments response");
}

int handle_alter_reassignments(struct request *rq)
{
    const struct kafka_alter_reassignments_req *req = rq->body;
    struct ctl_reassign r = {0};
    int n = 0;

    for (int32_t t = 0; t < req->topics.n; t++)
        n += request_count(req->topics.v[t].partitions.n);
    if (request_arena_reserve(rq, (size_t)n * (sizeof *r.items + sizeof(struct kafka_reassign_resp_partition) + 16) +
                                      (size_t)req->topics.n * (MD_TOPIC_NAME_MAX + 1 + sizeof(struct kafka_reassign_resp_topic) + 16) + 256) < 0 ||
        !(r.items = request_alloc(rq, sizeof *r.items * (size_t)n + 1)))
        return -ENOMEM;
    for (int32_t t = 0; t < req->topics.n; t++) {
        const struct kafka_reassign_req_topic *qt = &req->topics.v[t];
        const char *name;
        if (request_cstr(rq, qt->name, &name) < 0)
            return -ENOMEM;
        for (int32_t k = 0; k < request_count(qt->partitions.n); k++) {
            const struct kafka_reassign_req_partition *qp = &qt->partitions.v[k];
            struct ctl_reassign_item *it = &r.items[r.nitems++];
            *it = (struct ctl_reassign_item){.topic = name, .partition = qp->partition_index,
                                             .n = qp->replicas.n};
            for (int32_t i = 0; i < qp->replicas.n && i < MD_REPLICAS_MAX; i++)
                it->replicas[i] = qp->replicas.v[i];
        }
    }
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = CTL_REASSIGN;
    rq->ctl.u.reassign = r;
    return request_post_ctl(rq, alter_done);
}

/* --- ListPartitionReassignments ------------------------------------------------------- */

/* Whether the request asks about partition k of topic t (all when null). */
static bool listed(const struct kafka_list_reassignments_req *req, const struct md_topic *t,
                   int32_t k)
{
    if (req->topics.n < 0)
        return true;
    for (int32_t i = 0; i < req->topics.n; i++) {
        const struct kafka_list_reassignments_req_topic *qt = &req->topics.v[i];
        if ((size_t)qt->name.len != strlen(t->name) || memcmp(qt->name.p, t->name, (size_t)qt->name.len))
            continue;
        for (int32_t j = 0; j < request_count(qt->partition_indexes.n); j++)
            if (qt->partition_indexes.v[j] == k)
                return true;
    }
    return false;
}

static void ongoing_fill(struct kafka_ongoing_partition *out, const struct md_partition *p)
{
    *out = (struct kafka_ongoing_partition){
        .partition_index = p->index,
        .replicas = {.v = (int32_t *)p->replicas, .n = p->nreplicas},
        .adding_replicas = {.v = (int32_t *)p->adding, .n = p->nadding},
        .removing_replicas = {.v = (int32_t *)p->removing, .n = p->nremoving}};
}

int handle_list_reassignments(struct request *rq)
{
    const struct kafka_list_reassignments_req *req = rq->body;
    const struct md_snapshot *md = rq->shard->md;
    struct kafka_list_reassignments_resp *resp = request_alloc(rq, sizeof *resp);
    int32_t ntopics = md ? md->ntopics : 0, nparts = 0;

    for (int32_t t = 0; t < ntopics; t++)
        nparts += md->topics[t].npartitions;
    if (!resp || request_arena_reserve(rq, (size_t)ntopics * sizeof(struct kafka_ongoing_topic) +
                                               (size_t)nparts * sizeof(struct kafka_ongoing_partition) + 64) < 0 ||
        !(resp->topics.v = request_alloc(rq, sizeof *resp->topics.v * (size_t)ntopics + 1)))
        return -ENOMEM;
    for (int32_t t = 0; t < ntopics; t++) {
        const struct md_topic *mt = &md->topics[t];
        struct kafka_ongoing_topic *ot = NULL;
        for (int32_t k = 0; k < mt->npartitions; k++) {
            const struct md_partition *p = &mt->partitions[k];
            if ((p->nadding == 0 && p->nremoving == 0) || !listed(req, mt, k))
                continue;
            if (!ot) {
                ot = &resp->topics.v[resp->topics.n++];
                ot->name = kstr_c(mt->name);
                if (!(ot->partitions.v = request_alloc(rq, sizeof *ot->partitions.v *
                                                               (size_t)mt->npartitions)))
                    return -ENOMEM;
            }
            ongoing_fill(&ot->partitions.v[ot->partitions.n++], p);
        }
    }
    return request_respond(rq, resp);
}
