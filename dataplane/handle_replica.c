/* handle_replica.c - the requests replication brings to a shard:
 * OffsetForLeaderEpoch (23), which a leader answers for its followers
 * (and for consumers, KIP-320) from its leader-epoch-checkpoint, and
 * AlterPartition (56), which the controller's node receives from leaders
 * of other nodes and hands to its control thread (control/replication.c).
 *
 * Never: blocks; the control thread sees only the plain structs. */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/replica.h"
#include "dataplane/kafka/msg_cluster.h"
#include "storage/kerr.h"

#include <errno.h>
#include <string.h>

/* --- OffsetForLeaderEpoch -------------------------------------------------- */

static int16_t ofle_route(struct request *rq, struct kstr topic, int32_t index,
                          struct partition **out)
{
    int16_t denied = authz_partition(rq, topic); /* first: Kafka hides what it refuses */
    *out = NULL;
    if (denied)
        return denied;
    *out = shard_partition(rq->shard, topic.p, (size_t)topic.len, index);
    if (*out)
        return partition_fault_error(*out);
    const struct md_topic *mt = rq->shard->md
        ? md_find_topic(rq->shard->md, topic.p, (size_t)topic.len) : NULL;
    return mt && index >= 0 && index < mt->npartitions ? KERR_NOT_LEADER_OR_FOLLOWER
                                                       : KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

int handle_offset_for_leader_epoch(struct request *rq)
{
    const struct kafka_ofle_req *req = rq->body;
    struct kafka_ofle_resp *resp = request_alloc(rq, sizeof *resp);
    int32_t nt = request_count(req->topics.n);

    if (!resp || !(resp->topics.v = request_alloc(rq, sizeof *resp->topics.v * (size_t)nt)))
        return -ENOMEM;
    resp->topics.n = nt;
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_ofle_req_topic *qt = &req->topics.v[t];
        struct kafka_ofle_resp_topic *at = &resp->topics.v[t];
        int32_t np = request_count(qt->partitions.n);
        at->topic = qt->topic;
        at->partitions.n = np;
        if (!(at->partitions.v = request_alloc(rq, sizeof *at->partitions.v * (size_t)np)))
            return -ENOMEM;
        for (int32_t k = 0; k < np; k++) {
            const struct kafka_ofle_req_partition *qp = &qt->partitions.v[k];
            struct kafka_ofle_resp_partition *ap = &at->partitions.v[k];
            struct partition *p;
            *ap = (struct kafka_ofle_resp_partition){.partition = qp->partition,
                                                     .leader_epoch = -1, .end_offset = -1};
            ap->error_code = ofle_route(rq, qt->topic, qp->partition, &p);
            if (ap->error_code == KERR_NONE)
                ap->error_code = replica_check_leader(p, qp->current_leader_epoch);
            if (ap->error_code == KERR_NONE)
                log_epoch_end_offset(p->log, qp->leader_epoch, &ap->leader_epoch,
                                     &ap->end_offset);
        }
    }
    return request_respond(rq, resp);
}

/* --- AlterPartition (on the controller's node) ------------------------------------ */

static void alter_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_alter_partition_req *req = rq->body;
    const struct ctl_alter_partition *a = &m->u.alter;
    struct kafka_alter_partition_resp *resp = request_alloc(rq, sizeof *resp);
    int32_t nt = request_count(req->topics.n);
    int item = 0;

    if (!resp || !(resp->topics.v = request_alloc(rq, sizeof *resp->topics.v * (size_t)nt))) {
        conn_close(rq->conn, "cannot answer an AlterPartition: out of memory");
        return;
    }
    resp->error_code = a->error;
    resp->topics.n = nt;
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_alter_partition_req_topic *qt = &req->topics.v[t];
        struct kafka_alter_partition_resp_topic *at = &resp->topics.v[t];
        int32_t np = request_count(qt->partitions.n);
        at->topic_name = qt->topic_name;
        at->partitions.n = np;
        if (!(at->partitions.v = request_alloc(rq, sizeof *at->partitions.v * (size_t)np))) {
            conn_close(rq->conn, "cannot answer an AlterPartition: out of memory");
            return;
        }
        for (int32_t k = 0; k < np; k++, item++) {
            const struct ctl_isr_change *ch = &a->items[item];
            struct kafka_alter_partition_resp_partition *ap = &at->partitions.v[k];
            *ap = (struct kafka_alter_partition_resp_partition){
                .partition_index = ch->partition, .error_code = ch->error,
                .leader_id = ch->out_leader, .leader_epoch = ch->out_leader_epoch,
                .partition_epoch = ch->out_partition_epoch};
            ap->isr.n = ch->out_nisr;
            ap->isr.v = (int32_t *)ch->out_isr;
        }
    }
    if (request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot encode an AlterPartition response");
}

int handle_alter_partition(struct request *rq)
{
    const struct kafka_alter_partition_req *req = rq->body;
    int32_t nt = request_count(req->topics.n), n = 0;

    for (int32_t t = 0; t < nt; t++)
        n += request_count(req->topics.v[t].partitions.n);
    struct ctl_isr_change *items = request_alloc(rq, sizeof *items * (size_t)n);
    if (!items)
        return -ENOMEM;
    int item = 0;
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_alter_partition_req_topic *qt = &req->topics.v[t];
        const char *name;
        if (request_cstr(rq, qt->topic_name, &name) < 0)
            return -ENOMEM;
        for (int32_t k = 0; k < request_count(qt->partitions.n); k++, item++) {
            const struct kafka_alter_partition_req_partition *qp = &qt->partitions.v[k];
            struct ctl_isr_change *ch = &items[item];
            *ch = (struct ctl_isr_change){.topic = name, .partition = qp->partition_index,
                                          .leader_epoch = qp->leader_epoch,
                                          .partition_epoch = qp->partition_epoch,
                                          .out_leader = -1};
            if (qp->new_isr.n > MD_REPLICAS_MAX)
                ch->topic = NULL;       /* refused: INVALID_REQUEST */
            for (int32_t j = 0; j < qp->new_isr.n && j < MD_REPLICAS_MAX; j++)
                ch->isr[ch->nisr++] = qp->new_isr.v[j];
        }
    }
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = CTL_ALTER_PARTITION;
    rq->ctl.u.alter = (struct ctl_alter_partition){.broker_id = req->broker_id,
                                                   .nitems = n, .items = items};
    return request_post_ctl(rq, alter_done);
}
