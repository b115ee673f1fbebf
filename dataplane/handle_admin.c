/* handle_admin.c - CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
 *
 * Each handler copies what the control thread needs from the decoded
 * request into rq->ctl (C strings copied into the request arena: the
 * decoded kstr views are not NUL-terminated), carves an answer arena and
 * posts it; the *_done callback, run on this shard when the answer comes
 * back, builds the Kafka response in the request arena and sends it.
 * Requests for topics are answered after the control thread published
 * the new metadata, which this shard has then already taken (its ring is
 * FIFO), so a client that creates a topic can use it at once.
 *
 * Never: decides anything about topics or configs; that is the control
 * thread's (control/admin*.c). Handlers only refuse what the control
 * messages cannot express (unknown ids). */
#include "dataplane/shard_private.h"
#include "dataplane/authz.h"
#include "dataplane/kafka/msg_admin.h"
#include "storage/kerr.h"

#include <errno.h>
#include <string.h>

#define CONFIG_DESC_ROOM (sizeof(struct config_desc) + 48)  /* + value */
/* sluice.cleaner.stats: one line of figures per partition of a compacted
 * topic, reserved up to a bound (the control thread leaves the entry out
 * when its text does not fit) */
#define CLEANER_STATS_ROOM_PER_PARTITION 192
#define CLEANER_STATS_ROOM_MAX (16u << 10)


static struct kstr kstr_or_null(const char *s)
{
    return s ? kstr_c(s) : KSTR_NULL;
}

/* Carves the answer arena (smaller if the request arena is short; the
 * control thread then answers what fits) and posts rq->ctl. */
static int post(struct request *rq, size_t arena, request_ctl_done done)
{
    size_t left = rq->arena.cap - rq->arena.len;

    if (request_ctl_arena(rq, arena) < 0 &&
        (left < 4096 || request_ctl_arena(rq, left / 2) < 0))
        return -ENOMEM;
    return request_post_ctl(rq, done);
}

static void respond(struct request *rq, const void *resp, bool ok)
{
    if (!ok || request_respond(rq, resp) < 0)
        conn_close(rq->conn, "cannot build an admin response");
}

static void ctl_begin(struct request *rq, enum ctl_op op)
{
    memset(&rq->ctl, 0, sizeof rq->ctl);
    rq->ctl.op = op;
}

/* --- CreateTopics ----------------------------------------------------------- */

static int copy_configs(struct request *rq, const struct kafka_create_topics_topic *t,
                        struct ctl_topic_spec *sp)
{
    sp->nconfigs = request_count(t->configs.n);
    if (!(sp->configs = request_alloc(rq, sizeof(*sp->configs) * (size_t)sp->nconfigs)))
        return -ENOMEM;
    for (int k = 0; k < sp->nconfigs; k++)
        if (request_cstr(rq, t->configs.v[k].name, &sp->configs[k].name) < 0 ||
            request_cstr(rq, t->configs.v[k].value, &sp->configs[k].value) < 0)
            return -ENOMEM;
    return 0;
}

/* The partitions' broker lists, viewed in the decoded request. */
static int copy_assignments(struct request *rq, const struct kafka_create_topics_topic *t,
                            struct ctl_topic_spec *sp)
{
    struct ctl_assignment *as;

    sp->nassignments = request_count(t->assignments.n);
    if (sp->nassignments == 0)
        return 0;
    if (!(as = request_alloc(rq, sizeof(*as) * (size_t)sp->nassignments)))
        return -ENOMEM;
    for (int k = 0; k < sp->nassignments; k++)
        as[k] = (struct ctl_assignment){
            .partition = t->assignments.v[k].partition_index,
            .nbrokers = request_count(t->assignments.v[k].broker_ids.n),
            .brokers = t->assignments.v[k].broker_ids.v};
    sp->assignments = as;
    return 0;
}

static void create_topics_done(struct request *rq, struct ctl_msg *m);

int handle_create_topics(struct request *rq)
{
    const struct kafka_create_topics_req *req = rq->body;
    int n = request_count(req->topics.n);
    struct ctl_topic_spec *specs = request_alloc(rq, sizeof(*specs) * (size_t)n);
    bool configs = rq->api_version >= 5;

    if (!specs)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_create_topics_topic *t = &req->topics.v[i];
        struct ctl_topic_spec *sp = &specs[i];
        if (request_cstr(rq, t->name, &sp->name) < 0 || copy_configs(rq, t, sp) < 0)
            return -ENOMEM;
        sp->num_partitions = t->num_partitions;
        sp->replication_factor = t->replication_factor;
        if (!authz_may_create_topic(rq, t->name)) {
            sp->error = KERR_TOPIC_AUTHORIZATION_FAILED;
            sp->error_message = "Authorization failed.";
        }
        if (copy_assignments(rq, t, sp) < 0)
            return -ENOMEM;
    }
    ctl_begin(rq, CTL_CREATE_TOPICS);
    rq->ctl.u.create_topics = (struct ctl_create_topics){
        .ntopics = n, .topics = specs, .validate_only = req->validate_only,
        .want_configs = configs};
    size_t room = 512 + (configs ? (size_t)topic_config_count() * CONFIG_DESC_ROOM : 0);
    return post(rq, 256 + (size_t)n * room, create_topics_done);
}

static bool created_configs(struct request *rq, struct kafka_create_topics_result *r,
                            const struct ctl_topic_spec *sp)
{
    r->configs.n = sp->nresults;
    r->configs.v = request_alloc(rq, sizeof(*r->configs.v) * (size_t)sp->nresults);
    if (!r->configs.v)
        return false;
    for (int k = 0; k < sp->nresults; k++) {
        const struct config_desc *d = &sp->results[k];
        r->configs.v[k] = (struct kafka_create_topics_config){
            .name = kstr_c(d->name), .value = kstr_or_null(d->value),
            .read_only = d->read_only, .config_source = (int8_t)d->source,
            .is_sensitive = d->sensitive};
    }
    return true;
}

static void create_topics_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_create_topics_req *req = rq->body;
    const struct ctl_create_topics *ct = &m->u.create_topics;
    struct kafka_create_topics_resp resp;
    bool ok;

    kafka_defaults(&kafka_create_topics_resp_s, &resp);
    resp.topics.n = ct->ntopics;
    ok = (resp.topics.v = request_alloc(rq, sizeof(*resp.topics.v) * (size_t)ct->ntopics));
    for (int i = 0; ok && i < ct->ntopics; i++) {
        const struct ctl_topic_spec *sp = &ct->topics[i];
        struct kafka_create_topics_result *r = &resp.topics.v[i];
        *r = (struct kafka_create_topics_result){
            .name = req->topics.v[i].name, .error_code = sp->error,
            .error_message = kstr_or_null(sp->error_message),
            .num_partitions = sp->error ? -1 : sp->out_partitions,
            .replication_factor = sp->error ? -1 : 1};
        memcpy(r->topic_id.b, sp->topic_id, sizeof r->topic_id.b);
        r->configs.n = -1;
        if (!sp->error && rq->api_version >= 5)
            ok = created_configs(rq, r, sp);
    }
    respond(rq, &resp, ok);
}

/* --- DeleteTopics ------------------------------------------------------------ */

static const struct md_topic *topic_by_id(const struct md_snapshot *md,
                                          const uint8_t id[16])
{
    static const uint8_t zero[16];

    if (!md || memcmp(id, zero, 16) == 0)
        return NULL;
    for (int32_t i = 0; i < md->ntopics; i++)
        if (memcmp(md->topics[i].id, id, 16) == 0)
            return &md->topics[i];
    return NULL;
}

static void delete_topics_done(struct request *rq, struct ctl_msg *m);

int handle_delete_topics(struct request *rq)
{
    const struct kafka_delete_topics_req *req = rq->body;
    bool by_state = rq->api_version >= 6;       /* v6: names or ids */
    int n = request_count(by_state ? req->topics.n : req->topic_names.n);
    const char **names = request_alloc(rq, sizeof(*names) * (size_t)n);
    int16_t *errors = request_alloc(rq, sizeof(*errors) * (size_t)n);
    uint8_t (*ids)[16] = request_alloc(rq, 16 * (size_t)n);

    if (!names || !errors || !ids)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        struct kstr name = by_state ? req->topics.v[i].name : req->topic_names.v[i];
        const struct md_topic *t;
        if (by_state && name.len < 0) {
            const uint8_t *id = req->topics.v[i].topic_id.b;
            memcpy(ids[i], id, 16);
            if ((t = topic_by_id(request_metadata(rq), id)))
                name = kstr_c(t->name);    /* copied below: snapshots go */
            else
                errors[i] = KERR_UNKNOWN_TOPIC_ID;
        }
        if (request_cstr(rq, name, &names[i]) < 0)
            return -ENOMEM;
        if (!errors[i] && !authz_topic(rq, ACL_OP_DELETE, name))
            errors[i] = KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    ctl_begin(rq, CTL_DELETE_TOPICS);
    rq->ctl.u.delete_topics = (struct ctl_delete_topics){
        .ntopics = n, .names = names, .errors = errors, .topic_ids = ids};
    return post(rq, 256, delete_topics_done);
}

static void delete_topics_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_delete_topics *dt = &m->u.delete_topics;
    struct kafka_delete_topics_resp resp;
    bool ok;

    kafka_defaults(&kafka_delete_topics_resp_s, &resp);
    resp.responses.n = dt->ntopics;
    ok = (resp.responses.v = request_alloc(rq, sizeof(*resp.responses.v) * (size_t)dt->ntopics));
    for (int i = 0; ok && i < dt->ntopics; i++) {
        struct kafka_delete_topics_result *r = &resp.responses.v[i];
        *r = (struct kafka_delete_topics_result){
            .name = kstr_or_null(dt->names[i]), .error_code = dt->errors[i],
            .error_message = KSTR_NULL};
        memcpy(r->topic_id.b, dt->topic_ids[i], sizeof r->topic_id.b);
        if (!dt->names[i] && rq->api_version < 6)
            r->name = KSTR_LIT("");             /* not nullable before v6 */
    }
    respond(rq, &resp, ok);
}

/* --- CreatePartitions ------------------------------------------------------- */

static void create_partitions_done(struct request *rq, struct ctl_msg *m);

int handle_create_partitions(struct request *rq)
{
    const struct kafka_create_partitions_req *req = rq->body;
    int n = request_count(req->topics.n);
    struct ctl_create_partitions cp = {
        .ntopics = n, .validate_only = req->validate_only,
        .names = request_alloc(rq, sizeof(*cp.names) * (size_t)n),
        .counts = request_alloc(rq, sizeof(*cp.counts) * (size_t)n),
        .errors = request_alloc(rq, sizeof(*cp.errors) * (size_t)n),
        .error_messages = request_alloc(rq, sizeof(*cp.error_messages) * (size_t)n),
        .nassignments = request_alloc(rq, sizeof(*cp.nassignments) * (size_t)n),
        .assignments = request_alloc(rq, sizeof(*cp.assignments) * (size_t)n)};

    if (!cp.names || !cp.counts || !cp.errors || !cp.error_messages ||
        !cp.nassignments || !cp.assignments)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_create_partitions_topic *t = &req->topics.v[i];
        struct ctl_assignment *as = NULL;
        if (request_cstr(rq, t->name, &cp.names[i]) < 0)
            return -ENOMEM;
        cp.counts[i] = t->count;
        if (!authz_topic(rq, ACL_OP_ALTER, t->name))
            cp.errors[i] = KERR_TOPIC_AUTHORIZATION_FAILED;
        cp.nassignments[i] = t->assignments.n < 0 ? -1 : t->assignments.n;
        if (t->assignments.n > 0 &&
            !(as = request_alloc(rq, sizeof(*as) * (size_t)t->assignments.n)))
            return -ENOMEM;
        for (int k = 0; k < t->assignments.n; k++)
            as[k] = (struct ctl_assignment){
                .partition = -1,
                .nbrokers = request_count(t->assignments.v[k].broker_ids.n),
                .brokers = t->assignments.v[k].broker_ids.v};
        cp.assignments[i] = as;
    }
    ctl_begin(rq, CTL_CREATE_PARTITIONS);
    rq->ctl.u.create_partitions = cp;
    return post(rq, 256 + (size_t)n * 320, create_partitions_done);
}

static void create_partitions_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_create_partitions_req *req = rq->body;
    const struct ctl_create_partitions *cp = &m->u.create_partitions;
    struct kafka_create_partitions_resp resp;
    bool ok;

    kafka_defaults(&kafka_create_partitions_resp_s, &resp);
    resp.results.n = cp->ntopics;
    ok = (resp.results.v = request_alloc(rq, sizeof(*resp.results.v) * (size_t)cp->ntopics));
    for (int i = 0; ok && i < cp->ntopics; i++)
        resp.results.v[i] = (struct kafka_topic_error){
            .name = req->topics.v[i].name, .error_code = cp->errors[i],
            .error_message = kstr_or_null(cp->error_messages[i])};
    respond(rq, &resp, ok);
}

/* --- DescribeConfigs ---------------------------------------------------------- */

static void describe_configs_done(struct request *rq, struct ctl_msg *m);

/* What a compacted topic's sluice.cleaner.stats entry may need (Connect's
 * offsets topic has 25 partitions: ~4 KiB of figures); nothing for the
 * others, so that describing every topic (sarama's ListTopics) stays small. */
static size_t cleaner_stats_room(struct request *rq, const char *topic)
{
    const struct md_topic *t = topic ? md_find_topic(rq->shard->md, topic, strlen(topic))
                                     : NULL;
    if (!t || !(t->config.cleanup_policy & CLEANUP_COMPACT))
        return 0;
    size_t room = (size_t)t->npartitions * CLEANER_STATS_ROOM_PER_PARTITION;
    return room < CLEANER_STATS_ROOM_MAX ? room : CLEANER_STATS_ROOM_MAX;
}

int handle_describe_configs(struct request *rq)
{
    const struct kafka_describe_configs_req *req = rq->body;
    int n = request_count(req->resources.n);
    struct ctl_config_resource *res = request_alloc(rq, sizeof(*res) * (size_t)n);
    size_t room = 1024;

    if (!res)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_describe_configs_resource *s = &req->resources.v[i];
        struct ctl_config_resource *r = &res[i];
        int all = s->resource_type == CTL_RESOURCE_BROKER ? broker_config_count()
                                                          : topic_config_count();
        r->type = s->resource_type;
        r->nkeys = s->configuration_keys.n > 0 ? s->configuration_keys.n : -1;
        r->error = authz_config_resource(rq, s->resource_type, s->resource_name,
                                         ACL_OP_DESCRIBE_CONFIGS);
        if (request_cstr(rq, s->resource_name, &r->name) < 0 ||
            !(r->keys = request_alloc(rq, sizeof(*r->keys) * (size_t)request_count(r->nkeys))))
            return -ENOMEM;
        for (int k = 0; k < r->nkeys; k++)
            if (request_cstr(rq, s->configuration_keys.v[k], &r->keys[k]) < 0)
                return -ENOMEM;
        room += 256 + (size_t)(r->nkeys > 0 && r->nkeys < all ? r->nkeys : all) *
                          CONFIG_DESC_ROOM;
        if (r->type == CTL_RESOURCE_BROKER)
            room += 2048;                   /* listeners, log.dirs */
        else
            room += cleaner_stats_room(rq, r->name);
    }
    if (req->include_synonyms)      /* up to 4 layers per key, 3 keys */
        room += room * 2;
    /* the answer, then the response's entries built beside it: every
     * topic described at once (sarama's ListTopics) outgrows the pooled
     * arena on a broker with a few dozen topics */
    if (request_arena_reserve(rq, 3 * room + sizeof(struct kafka_describe_configs_result) *
                                                 (size_t)n) < 0)
        return -ENOMEM;
    ctl_begin(rq, CTL_DESCRIBE_CONFIGS);
    rq->ctl.u.configs = (struct ctl_configs){.nresources = n, .resources = res,
                                             .synonyms = req->include_synonyms};
    return post(rq, room, describe_configs_done);
}

static void describe_entry(const struct kafka_describe_configs_req *req,
                           struct kafka_describe_configs_entry *e,
                           struct kafka_describe_configs_synonym *syn,
                           const struct config_desc *d)
{
    *e = (struct kafka_describe_configs_entry){
        .name = kstr_c(d->name), .value = kstr_or_null(d->value),
        .read_only = d->read_only, .is_default = d->is_default,
        .config_source = (int8_t)d->source, .is_sensitive = d->sensitive,
        .config_type = (int8_t)d->type,
        .documentation = req->include_documentation ? kstr_or_null(d->doc)
                                                    : KSTR_NULL};
    /* Synonyms in order of precedence; the value's own source first. */
    if (!req->include_synonyms)
        return;
    if (d->nsynonyms == 0) {
        *syn = (struct kafka_describe_configs_synonym){
            .name = e->name, .value = e->value, .source = (int8_t)d->source};
        e->synonyms.v = syn;
        e->synonyms.n = 1;
        return;
    }
    for (int k = 0; k < d->nsynonyms; k++)
        syn[k] = (struct kafka_describe_configs_synonym){
            .name = kstr_c(d->synonyms[k].name),
            .value = kstr_or_null(d->synonyms[k].value),
            .source = (int8_t)d->synonyms[k].source};
    e->synonyms.v = syn;
    e->synonyms.n = d->nsynonyms;
}

static void describe_configs_done(struct request *rq, struct ctl_msg *m)
{
    const struct kafka_describe_configs_req *req = rq->body;
    const struct ctl_configs *cc = &m->u.configs;
    struct kafka_describe_configs_resp resp;
    bool ok;

    kafka_defaults(&kafka_describe_configs_resp_s, &resp);
    resp.results.n = cc->nresources;
    ok = (resp.results.v = request_alloc(rq, sizeof(*resp.results.v) * (size_t)cc->nresources));
    for (int i = 0; ok && i < cc->nresources; i++) {
        const struct ctl_config_resource *r = &cc->resources[i];
        struct kafka_describe_configs_result *out = &resp.results.v[i];
        int ne = r->error ? 0 : r->nresults, nsyn = 0;
        for (int k = 0; k < ne; k++)
            nsyn += r->results[k].nsynonyms > 0 ? r->results[k].nsynonyms : 1;
        struct kafka_describe_configs_synonym *syn =
            request_alloc(rq, sizeof(*syn) * (size_t)nsyn);
        *out = (struct kafka_describe_configs_result){
            .error_code = r->error, .error_message = kstr_or_null(r->error_message),
            .resource_type = req->resources.v[i].resource_type,
            .resource_name = req->resources.v[i].resource_name};
        out->configs.n = ne;
        ok = syn && (out->configs.v = request_alloc(rq, sizeof(*out->configs.v) * (size_t)ne));
        for (int k = 0; ok && k < ne; k++) {
            describe_entry(req, &out->configs.v[k], syn, &r->results[k]);
            syn += r->results[k].nsynonyms > 0 ? r->results[k].nsynonyms : 1;
        }
    }
    respond(rq, &resp, ok);
}

/* --- AlterConfigs and IncrementalAlterConfigs --------------------------------- */

static void alter_configs_done(struct request *rq, struct ctl_msg *m)
{
    const struct ctl_configs *cc = &m->u.configs;
    struct kafka_alter_configs_resp resp;
    bool ok;

    kafka_defaults(&kafka_alter_configs_resp_s, &resp);
    resp.responses.n = cc->nresources;
    ok = (resp.responses.v = request_alloc(rq, sizeof(*resp.responses.v) * (size_t)cc->nresources));
    for (int i = 0; ok && i < cc->nresources; i++) {
        const struct ctl_config_resource *r = &cc->resources[i];
        resp.responses.v[i] = (struct kafka_alter_configs_result){
            .error_code = r->error, .error_message = kstr_or_null(r->error_message),
            .resource_type = r->type, .resource_name = kstr_or_null(r->name)};
        if (!r->name)
            resp.responses.v[i].resource_name = KSTR_LIT("");
    }
    respond(rq, &resp, ok);
}

static int alter_post(struct request *rq, struct ctl_config_resource *res, int n,
                      bool incremental, bool validate_only)
{
    ctl_begin(rq, CTL_ALTER_CONFIGS);
    rq->ctl.u.configs = (struct ctl_configs){
        .nresources = n, .resources = res, .incremental = incremental,
        .validate_only = validate_only};
    return post(rq, 256 + (size_t)n * 640, alter_configs_done);
}

int handle_alter_configs(struct request *rq)
{
    const struct kafka_alter_configs_req *req = rq->body;
    int n = request_count(req->resources.n);
    struct ctl_config_resource *res = request_alloc(rq, sizeof(*res) * (size_t)n);

    if (!res)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_alter_configs_resource *s = &req->resources.v[i];
        struct ctl_config_resource *r = &res[i];
        r->type = s->resource_type;
        r->error = authz_config_resource(rq, s->resource_type, s->resource_name,
                                         ACL_OP_ALTER_CONFIGS);
        r->nkeys = -1;
        r->nconfigs = request_count(s->configs.n);
        if (request_cstr(rq, s->resource_name, &r->name) < 0 ||
            !(r->configs = request_alloc(rq, sizeof(*r->configs) * (size_t)r->nconfigs)))
            return -ENOMEM;
        for (int k = 0; k < r->nconfigs; k++)
            if (request_cstr(rq, s->configs.v[k].name, &r->configs[k].name) < 0 ||
                request_cstr(rq, s->configs.v[k].value, &r->configs[k].value) < 0)
                return -ENOMEM;
    }
    return alter_post(rq, res, n, false, req->validate_only);
}

int handle_incremental_alter_configs(struct request *rq)
{
    const struct kafka_incr_alter_configs_req *req = rq->body;
    int n = request_count(req->resources.n);
    struct ctl_config_resource *res = request_alloc(rq, sizeof(*res) * (size_t)n);

    if (!res)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct kafka_incr_alter_configs_resource *s = &req->resources.v[i];
        struct ctl_config_resource *r = &res[i];
        r->type = s->resource_type;
        r->error = authz_config_resource(rq, s->resource_type, s->resource_name,
                                         ACL_OP_ALTER_CONFIGS);
        r->nkeys = -1;
        r->nconfigs = request_count(s->configs.n);
        if (request_cstr(rq, s->resource_name, &r->name) < 0 ||
            !(r->configs = request_alloc(rq, sizeof(*r->configs) * (size_t)r->nconfigs)))
            return -ENOMEM;
        for (int k = 0; k < r->nconfigs; k++) {
            const struct kafka_incr_alter_config *e = &s->configs.v[k];
            r->configs[k].op = e->config_operation;
            if (request_cstr(rq, e->name, &r->configs[k].name) < 0 ||
                request_cstr(rq, e->value, &r->configs[k].value) < 0)
                return -ENOMEM;
        }
    }
    return alter_post(rq, res, n, true, req->validate_only);
}
