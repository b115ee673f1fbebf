/* handle_elect.c - ElectLeaders (43, v0-2; Kafka's kafka-leader-election
 * and Admin.electLeaders): a preferred or unclean leader election for the
 * partitions named, or for every partition when none are. Clients send it
 * to the controller (Metadata's controller id); the shard hands the list
 * to its control thread (control/replication.c, md_isr.c's rule 6), which
 * answers once the new leaders are committed; any other node answers
 * NOT_CONTROLLER.
 *
 * As Kafka: a request naming no partitions answers only for those an
 * election was tried on (ELECTION_NOT_NEEDED left out); v0 has no
 * top-level error, so NOT_CONTROLLER goes to every partition.
 *
 * Never: blocks; the control thread sees only the plain structs. */
#include "dataplane/shard_private.h"
#include "dataplane/kafka/msg_cluster.h"
#include "storage/kerr.h"

#include <errno.h>
#include <string.h>

static const char *elect_message(int16_t err)
{
    switch (err) {
    case KERR_ELECTION_NOT_NEEDED:
        return "Leader election not needed for the partition.";
    case KERR_PREFERRED_LEADER_NOT_AVAILABLE:
        return "The preferred leader is not in the ISR or its node is down.";
    case KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
        return "No replica of the partition is on a live node.";
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "The partition does not exist.";
    case KERR_NOT_CONTROLLER:
        return "This broker is not the controller.";
    case KERR_INVALID_REQUEST:
        return "Unknown election type.";
    default:
        return NULL;
    }
}

/* Whether item i goes into the answer. */
static bool answered(const struct ctl_elect_leaders *e, bool all, int i)
{
    return !all || e->items[i].error != KERR_ELECTION_NOT_NEEDED;
}

static void elect_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_elect_leaders_req *req = rq->body;
    const struct ctl_elect_leaders *e = &m->u.elect;
    struct kafka_elect_leaders_resp *resp = request_alloc(rq, sizeof *resp);
    bool all = req->topic_partitions.n < 0;
    int ntopics = 0;

    for (int i = 0; i < e->nitems; i++)
        ntopics += answered(e, all, i) &&
                   (i == 0 || strcmp(e->items[i].topic, e->items[i - 1].topic) != 0 ||
                    !answered(e, all, i - 1));
    if (!resp || !(resp->replica_election_results.v =
                       request_alloc(rq, sizeof *resp->replica_election_results.v *
                                             (size_t)ntopics))) {
        conn_close(rq->conn, "cannot answer an ElectLeaders: out of memory");
        return;
    }
    resp->error_code = e->error;
    struct kafka_elect_leaders_resp_topic *rt = NULL;
    for (int i = 0; i < e->nitems; i++) {
        const struct ctl_elect_item *it = &e->items[i];
        if (!answered(e, all, i))
            continue;
        if (!rt || strcmp(rt->topic.p, it->topic) != 0) {
            rt = &resp->replica_election_results.v[resp->replica_election_results.n++];
            rt->topic = kstr_c(it->topic);
            int np = 0;
            for (int j = i; j < e->nitems && strcmp(e->items[j].topic, it->topic) == 0; j++)
                np += answered(e, all, j);
            if (!(rt->partition_result.v =
                      request_alloc(rq, sizeof *rt->partition_result.v * (size_t)np))) {
                conn_close(rq->conn, "cannot answer an ElectLeaders: out of memory");
                return;
            }
        }
        int16_t err = rq->api_version == 0 && e->error ? e->error : it->error;
        const char *msg = elect_message(err);
        rt->partition_result.v[rt->partition_result.n++] =
            (struct kafka_elect_leaders_resp_partition){
                .partition_id = it->partition, .error_code = err,
                .error_message = kstr_c(msg)};
    }
    if (request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot encode an ElectLeaders response");
}

/* Room for n partitions of ntopics topics: the items, the names, the
 * answer (thousands of partitions outgrow the pooled arena). */
static int elect_reserve(struct request *rq, size_t n, size_t ntopics)
{
    return request_arena_reserve(
        rq, n * (sizeof(struct ctl_elect_item) + sizeof(struct kafka_elect_leaders_resp_partition) + 16) +
                ntopics * (MD_TOPIC_NAME_MAX + 1 + sizeof(struct kafka_elect_leaders_resp_topic) + 16) +
                sizeof(struct kafka_elect_leaders_resp) + 64);
}

/* Every partition of the metadata the shard knows, topic by topic. */
static int elect_all(struct request *rq, struct ctl_elect_leaders *e)
{
    const struct md_snapshot *md = rq->shard->md;
    int n = 0;

    for (int32_t t = 0; md && t < md->ntopics; t++)
        n += md->topics[t].npartitions;
    if (elect_reserve(rq, (size_t)n, md ? (size_t)md->ntopics : 0) < 0)
        return -ENOMEM;
    if (!(e->items = request_alloc(rq, sizeof *e->items * (size_t)n)))
        return -ENOMEM;
    for (int32_t t = 0; md && t < md->ntopics; t++) {
        const char *name;
        if (request_cstr(rq, kstr_c(md->topics[t].name), &name) < 0)
            return -ENOMEM;
        for (int32_t k = 0; k < md->topics[t].npartitions; k++)
            e->items[e->nitems++] = (struct ctl_elect_item){ .topic = name, .partition = k };
    }
    return 0;
}

int handle_elect_leaders(struct request *rq)
{
    const struct kafka_elect_leaders_req *req = rq->body;
    struct ctl_elect_leaders e = { .type = rq->api_version >= 1 ? req->election_type : 0 };

    if (req->topic_partitions.n < 0) {
        if (elect_all(rq, &e) < 0)
            return -ENOMEM;
    } else {
        int n = 0;
        for (int32_t t = 0; t < req->topic_partitions.n; t++)
            n += request_count(req->topic_partitions.v[t].partitions.n);
        if (elect_reserve(rq, (size_t)n, (size_t)req->topic_partitions.n) < 0)
            return -ENOMEM;
        if (!(e.items = request_alloc(rq, sizeof *e.items * (size_t)n)))
            return -ENOMEM;
        for (int32_t t = 0; t < req->topic_partitions.n; t++) {
            const struct kafka_elect_leaders_req_topic *qt = &req->topic_partitions.v[t];
            const char *name;
            if (request_cstr(rq, qt->topic, &name) < 0)
                return -ENOMEM;
            for (int32_t k = 0; k < request_count(qt->partitions.n); k++)
                e.items[e.nitems++] = (struct ctl_elect_item){ .topic = name,
                                                               .partition = qt->partitions.v[k] };
        }
    }
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = CTL_ELECT_LEADERS;
    rq->ctl.u.elect = e;
    return request_post_ctl(rq, elect_done);
}
