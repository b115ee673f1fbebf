/* handle_delete_records.c - DeleteRecords (API 21): moves each asked
 * partition's log start offset up (storage/log_start.c) and answers its
 * new low watermark once the log-start-offset-checkpoint holding it is
 * durable (written and fsync'ed on the shard's cleaner thread), so an
 * acknowledged deletion is never undone by a crash.
 *
 * Errors as Kafka gives them: a partition led elsewhere is
 * NOT_LEADER_OR_FOLLOWER, an unknown one UNKNOWN_TOPIC_OR_PARTITION, an
 * offset past the high watermark OFFSET_OUT_OF_RANGE, a failed log or a
 * failed checkpoint KAFKA_STORAGE_ERROR. */
#include "dataplane/kafka/msg_admin.h"
#include "dataplane/shard_cleaner.h"
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "storage/kerr.h"

#include <errno.h>

struct dr_part {
    int16_t error;
    int64_t low_watermark;
    volatile int persisted;      /* 0 pending, 1 durable, < 0 failed */
};

struct dr_state {
    struct dr_part *parts;
    int nparts;
};

static int16_t dr_route(struct request *rq, struct kstr topic, int32_t index,
                        struct partition **out)
{
    int16_t denied = authz_partition(rq, topic); /* first: Kafka hides what it refuses */
    *out = NULL;
    if (denied)
        return denied;
    *out = shard_partition(rq->shard, topic.p, (size_t)topic.len, index);
    if (*out)
        return log_error((*out)->log) ? KERR_KAFKA_STORAGE_ERROR : KERR_NONE;
    const struct md_topic *mt = rq->shard->md
        ? md_find_topic(rq->shard->md, topic.p, (size_t)topic.len) : NULL;
    if (mt && index >= 0 && index < mt->npartitions)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

static void dr_one(struct request *rq, struct kstr topic,
                   const struct kafka_delete_records_partition *rp, struct dr_part *dp)
{
    struct partition *p;
    dp->low_watermark = -1;
    dp->persisted = 1;
    if ((dp->error = dr_route(rq, topic, rp->partition_index, &p)) != KERR_NONE)
        return;
    if (log_delete_records(p->log, rp->offset, &dp->low_watermark) < 0) {
        dp->error = KERR_OFFSET_OUT_OF_RANGE;
        return;
    }
    dp->persisted = 0;
    if (shard_cleaner_persist_start(rq->shard, p, dp->low_watermark, &dp->persisted) < 0) {
        dp->persisted = -ENOMEM;
    }
}

static int dr_respond(struct request *rq, const struct dr_state *st)
{
    const struct kafka_delete_records_req *req = rq->body;
    struct kafka_delete_records_resp *resp = request_alloc(rq, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    resp->topics.n = req->topics.n > 0 ? req->topics.n : 0;
    resp->topics.v = request_alloc(rq, sizeof(*resp->topics.v) * (size_t)resp->topics.n);
    if (!resp->topics.v)
        return -ENOMEM;
    int k = 0;
    for (int32_t ti = 0; ti < resp->topics.n; ti++) {
        const struct kafka_delete_records_topic *t = &req->topics.v[ti];
        struct kafka_delete_records_topic_result *rt = &resp->topics.v[ti];
        rt->name = t->name;
        rt->partitions.n = request_count(t->partitions.n);
        rt->partitions.v = request_alloc(rq, sizeof(*rt->partitions.v) *
                                                 (size_t)rt->partitions.n);
        if (!rt->partitions.v)
            return -ENOMEM;
        for (int32_t pi = 0; pi < rt->partitions.n; pi++, k++) {
            const struct dr_part *dp = &st->parts[k];
            int16_t err = dp->error;
            if (!err && dp->persisted < 0)
                err = KERR_KAFKA_STORAGE_ERROR;
            rt->partitions.v[pi] = (struct kafka_delete_records_partition_result){
                .partition_index = t->partitions.v[pi].partition_index,
                .low_watermark = err ? -1 : dp->low_watermark,
                .error_code = err};
        }
    }
    return request_respond(rq, resp);
}

static int dr_poll(struct request *rq)
{
    struct dr_state *st = ((struct request_priv *)rq->priv)->state;
    for (int k = 0; k < st->nparts; k++)
        if (st->parts[k].persisted == 0)
            return 0; /* the thread still writes into this request */
    if (!rq->conn) {
        request_release(rq);
        return 1;
    }
    if (dr_respond(rq, st) < 0)
        conn_close(rq->conn, "cannot encode a DeleteRecords response");
    return 1;
}

int handle_delete_records(struct request *rq)
{
    const struct kafka_delete_records_req *req = rq->body;
    struct dr_state *st = request_alloc(rq, sizeof(*st));
    if (!st)
        return -ENOMEM;
    for (int32_t ti = 0; ti < req->topics.n; ti++)
        st->nparts += request_count(req->topics.v[ti].partitions.n);
    st->parts = request_alloc(rq, sizeof(*st->parts) * (size_t)st->nparts);
    if (!st->parts)
        return -ENOMEM;
    int k = 0;
    for (int32_t ti = 0; ti < req->topics.n; ti++) {
        const struct kafka_delete_records_topic *t = &req->topics.v[ti];
        for (int32_t pi = 0; pi < request_count(t->partitions.n); pi++, k++)
            dr_one(rq, t->name, &t->partitions.v[pi], &st->parts[k]);
    }
    ((struct request_priv *)rq->priv)->state = st;
    if (dr_poll(rq))
        return 0;
    request_wait(rq, dr_poll, INT64_MAX);
    return 0;
}
