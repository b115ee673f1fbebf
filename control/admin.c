/* admin.c - topics: CreateTopics, DeleteTopics, CreatePartitions, and the
 * opening of the persisted partitions at start.
 *
 * Owns: the admin operations that wait for shards (struct admin_op): the
 * partitions they opened or removed, which request to answer at the end.
 * Configs are admin_config.c's.
 *
 * Order of an operation that changes topics, so that no shard ever sees a
 * topic it cannot serve and no client hears "done" before it is durable:
 *   CreateTopics      place -> every shard opens -> persist -> publish ->
 *                     answer (the requesting shard has the new snapshot
 *                     before the answer: its ring is FIFO)
 *   CreatePartitions  the same for the new partitions
 *   DeleteTopics      mark deleting -> persist -> publish (topic gone) ->
 *                     every shard removes its logs -> forget -> persist ->
 *                     answer. The name stays taken until the logs are
 *                     gone, so a new topic never meets an old directory.
 * A shard failing to open rolls the change back (its partitions are
 * removed again) and answers KAFKA_STORAGE_ERROR; so does a failure to
 * persist.
 *
 * Never: blocks, touches a log or a socket. */
#include "control/control_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kerr.h"

enum op_kind { OP_CREATE, OP_PARTITIONS, OP_DROP, OP_RECOVER };

struct admin_item {
    char name[MD_TOPIC_NAME_MAX + 1];
    uint8_t id[16];            /* the topic, should the name be reused */
    int32_t from, to;          /* its partitions [from, to) */
    int spec;                  /* index in the request, or -1 */
    bool whole;                /* OP_DROP: the topic goes, not a range */
    int err;                   /* first negative errno a shard answered */
    int err_shard;
    int32_t err_partition;
};

struct admin_op {
    struct admin_op *next;
    enum op_kind kind;
    struct ctl_msg *req;       /* answered at the end, or NULL */
    bool startup;              /* counted in c->recovering */
    int outstanding;           /* commands not yet answered */
    int nitems;
    struct admin_item items[];
};

const char *admin_msg(struct ctl_msg *m, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    return ctl_arena_strdup(&m->arena, buf, (size_t)n);
}

/* --- operations ----------------------------------------------------------- */

static struct admin_op *op_new(enum op_kind kind, struct ctl_msg *req,
                               int maxitems)
{
    struct admin_op *op = calloc(1, sizeof *op + sizeof(struct admin_item) *
                                                     (size_t)(maxitems > 0 ? maxitems : 0));
    if (op) {
        op->kind = kind;
        op->req = req;
    }
    return op;
}

static struct admin_item *op_item(struct admin_op *op, const struct md_live *t,
                                  int32_t from, int32_t to, int spec)
{
    struct admin_item *it = &op->items[op->nitems++];

    snprintf(it->name, sizeof it->name, "%s", t->t.name);
    memcpy(it->id, t->t.id, sizeof it->id);
    it->from = from;
    it->to = to;
    it->spec = spec;
    return it;
}

/* The item's topic, unless it was deleted and its name reused. */
static struct md_live *item_topic(struct control *c, const struct admin_item *it)
{
    struct md_live *t = md_store_find(&c->md, it->name);
    return t && memcmp(t->t.id, it->id, 16) == 0 ? t : NULL;
}

/* Posts OPEN or DELETE for the item's partitions to their shards. */
static void op_post(struct control *c, struct admin_op *op, int k,
                    const struct md_live *t, enum ctl_op what)
{
    struct admin_item *it = &op->items[k];

    for (int32_t p = it->from; p < it->to; p++) {
        int shard = replication_local_shard(c, t, p);
        if (shard < 0)
            continue;           /* another node's: it opens it on apply */
        struct ctl_cmd *cmd = control_cmd(c, what, op, k, t->t.name, p);
        if (!cmd) {
            it->err = it->err ? it->err : -ENOMEM;
            continue;
        }
        if (what == CTL_PARTITION_OPEN) {
            topic_config_to_log(&t->t.config, &cmd->msg.u.partition.config);
            replication_fill_state(&c->md, t, p, &cmd->msg.u.partition.state);
        }
        op->outstanding++;
        control_post(c, shard, &cmd->msg);
    }
}

static void finish_create(struct control *c, struct admin_op *op);
static void finish_partitions(struct control *c, struct admin_op *op);
static void finish_drop(struct control *c, struct admin_op *op);
static void finish_recover(struct control *c, struct admin_op *op);

static void op_finish(struct control *c, struct admin_op *op)
{
    switch (op->kind) {
    case OP_CREATE: finish_create(c, op); break;
    case OP_PARTITIONS: finish_partitions(c, op); break;
    case OP_DROP: finish_drop(c, op); break;
    case OP_RECOVER: finish_recover(c, op); break;
    }
    if (op->startup)
        c->recovering--;
    if (op->req)
        control_post(c, op->req->shard, op->req);
    free(op);
}

/* Waits for the op's commands, or finishes it now if there are none. */
static void op_start(struct control *c, struct admin_op *op)
{
    if (op->startup)
        c->recovering++;
    if (op->outstanding == 0) {
        op_finish(c, op);
        return;
    }
    op->next = c->ops;
    c->ops = op;
}

void admin_answered(struct control *c, struct ctl_cmd *cmd)
{
    struct admin_op *op = cmd->op, **pp;
    const struct ctl_partition_cmd *pc = &cmd->msg.u.partition;

    if (pc->result < 0)
        control_log("shard %d: %s %s-%d: %s", cmd->msg.shard,
                    cmd->msg.op == CTL_PARTITION_OPEN     ? "open"
                    : cmd->msg.op == CTL_PARTITION_DELETE ? "delete"
                                                          : "reconfigure",
                    pc->topic, pc->partition, strerror(-pc->result));
    if (!op)
        return;
    struct admin_item *it = &op->items[cmd->item];
    if (pc->result < 0 && !it->err) {
        it->err = pc->result;
        it->err_shard = cmd->msg.shard;
        it->err_partition = pc->partition;
    }
    if (--op->outstanding > 0)
        return;
    for (pp = &c->ops; *pp; pp = &(*pp)->next)
        if (*pp == op) {
            *pp = op->next;
            break;
        }
    op_finish(c, op);
}

void admin_free_all(struct control *c)
{
    while (c->ops) {
        struct admin_op *op = c->ops;
        c->ops = op->next;
        free(op);
    }
}

/* Removes partitions [from, nplaced) of t again (all of them, and the
 * topic, when whole); the name or the range stays taken until done. */
static void drop_start(struct control *c, struct md_live *t, int32_t from,
                       bool whole, bool startup)
{
    struct admin_op *op = op_new(OP_DROP, NULL, 1);

    if (whole)
        t->state = MD_DELETING;
    else
        t->busy = true;
    if (!op) {
        control_log("out of memory: %s stays %s until a restart", t->t.name,
                    whole ? "marked for deletion" : "busy");
        return;
    }
    op->startup = startup;
    op_item(op, t, whole ? 0 : from, t->nplaced, -1)->whole = whole;
    op_post(c, op, 0, t, CTL_PARTITION_DELETE);
    op_start(c, op);
}

static int save(struct control *c, char *why, size_t len)
{
    int rc = md_store_commit(&c->md, why, len);

    if (rc < 0)
        control_log("%s", why);
    return rc;
}

static void publish(struct control *c)
{
    if (control_publish(c) < 0)
        control_log("out of memory: shards keep the previous metadata");
}

/* --- CreateTopics --------------------------------------------------------- */

static int32_t spec_fail(struct ctl_msg *m, struct ctl_topic_spec *sp,
                         int16_t code, const char *why)
{
    sp->error = code;
    sp->error_message = why ? admin_msg(m, "%s", why) : NULL;
    return 0;
}

/* Validates spec i into tc and *rf; returns its partition count, or 0
 * when the spec is answered already (an error, or auto-creation of a topic
 * that exists). A manual assignment is checked into shards (one per
 * partition, *rf 1). */
static int32_t create_check(struct control *c, struct ctl_msg *m, int i,
                            struct topic_config *tc, int32_t *shards, int32_t *rf)
{
    struct ctl_create_topics *ct = &m->u.create_topics;
    struct ctl_topic_spec *sp = &ct->topics[i];
    char why[512];
    struct md_live *t;
    int32_t n = sp->nassignments > 0     ? sp->nassignments
                : sp->num_partitions == -1 ? c->cfg.num_partitions
                                           : sp->num_partitions;

    if (md_name_check(sp->name, why, sizeof why) < 0)
        return spec_fail(m, sp, KERR_INVALID_TOPIC_EXCEPTION, why);
    if (ct->auto_create && !c->cfg.auto_create_topics_enable)
        return spec_fail(m, sp, KERR_UNKNOWN_TOPIC_OR_PARTITION,
                         "auto.create.topics.enable is false");
    if ((t = md_store_find(&c->md, sp->name))) {
        if (ct->auto_create && t->state == MD_LIVE) {
            memcpy(sp->topic_id, t->t.id, 16);
            sp->out_partitions = t->t.npartitions;
            return 0;
        }
        snprintf(why, sizeof why, t->state == MD_DELETING
                 ? "Topic '%s' is marked for deletion."
                 : "Topic '%s' already exists.", sp->name);
        return spec_fail(m, sp, KERR_TOPIC_ALREADY_EXISTS, why);
    }
    if ((t = md_store_collision(&c->md, sp->name))) {
        snprintf(why, sizeof why, "Topic '%s' collides with existing topic: "
                 "%s", sp->name, t->t.name);
        return spec_fail(m, sp, KERR_INVALID_TOPIC_EXCEPTION, why);
    }
    if (n <= 0 || n > MD_PARTITIONS_MAX) {
        snprintf(why, sizeof why, "Number of partitions %d is invalid: "
                 "1..%d, or -1 for num.partitions.", n, MD_PARTITIONS_MAX);
        return spec_fail(m, sp, KERR_INVALID_PARTITIONS, why);
    }
    *rf = sp->replication_factor == -1 ? c->cfg.default_replication_factor
                                        : sp->replication_factor;
    if (sp->nassignments > 0) {
        const char *msg = NULL;
        int16_t err = admin_assign_topic(c, m, sp, shards, &msg);
        if (err) {
            sp->error = err;
            sp->error_message = msg;
            return 0;
        }
        *rf = 1;
    } else if (*rf < 1 || *rf > MD_REPLICAS_MAX) {
        snprintf(why, sizeof why, "Replication factor must be larger than 0 and "
                 "at most %d, or -1 to use the default value.", MD_REPLICAS_MAX);
        return spec_fail(m, sp, KERR_INVALID_REPLICATION_FACTOR, why);
    } else if (*rf > md_place_nodes(&c->md)) {
        /* Kafka's words; a sluice node is what a Kafka broker is here. */
        snprintf(why, sizeof why, "Unable to replicate the partition %d time(s): "
                 "The target replication factor of %d cannot be reached because "
                 "only %d broker(s) are registered.", *rf, *rf,
                 md_place_nodes(&c->md));
        return spec_fail(m, sp, KERR_INVALID_REPLICATION_FACTOR, why);
    }
    topic_config_from_broker(&c->cfg, tc);
    for (int k = 0; k < sp->nconfigs; k++) {
        const struct ctl_config_entry *e = &sp->configs[k];
        if (!e->name || !e->value) {
            snprintf(why, sizeof why, "Null value not supported for topic "
                     "config '%s'.", e->name ? e->name : "(null)");
            return spec_fail(m, sp, KERR_INVALID_CONFIG, why);
        }
        if (topic_config_set(tc, e->name, e->value, why, sizeof why) < 0)
            return spec_fail(m, sp, KERR_INVALID_CONFIG, why);
    }
    return n;
}

/* Every spec whose name appears twice is refused, as Kafka does. */
static void create_dups(struct ctl_msg *m)
{
    struct ctl_create_topics *ct = &m->u.create_topics;

    for (int i = 0; i < ct->ntopics; i++)
        for (int j = 0; j < i; j++) {
            struct ctl_topic_spec *a = &ct->topics[i], *b = &ct->topics[j];
            if (!a->name || !b->name || strcmp(a->name, b->name) != 0)
                continue;
            for (int k = 0; k < 2; k++) {
                struct ctl_topic_spec *s = k ? b : a;
                if (s->error == 0)
                    spec_fail(m, s, KERR_INVALID_REQUEST,
                              "Duplicate topic name in the request.");
            }
        }
}

static void create_topics(struct control *c, struct ctl_msg *m)
{
    struct ctl_create_topics *ct = &m->u.create_topics;
    struct admin_op *op = op_new(OP_CREATE, m, ct->ntopics);
    struct topic_config tc;

    if (!op) {
        for (int i = 0; i < ct->ntopics; i++)
            if (!ct->topics[i].error)
                ct->topics[i].error = KERR_UNKNOWN_SERVER_ERROR;
        control_post(c, m->shard, m);
        return;
    }
    create_dups(m);
    for (int i = 0; i < ct->ntopics; i++) {
        struct ctl_topic_spec *sp = &ct->topics[i];
        struct md_live *t;
        int32_t n, rf = 1, *shards = NULL;
        if (sp->error)
            continue;
        if (sp->nassignments > 0 &&
            !(shards = malloc(sizeof(*shards) * (size_t)sp->nassignments))) {
            spec_fail(m, sp, KERR_UNKNOWN_SERVER_ERROR, "out of memory");
            continue;
        }
        n = create_check(c, m, i, &tc, shards, &rf);
        if (n == 0 || ct->validate_only) {
            if (n && ct->want_configs)
                admin_describe_topic(&m->arena, &tc, 0, NULL, &sp->results,
                                     &sp->nresults);
            sp->out_partitions = n ? n : sp->out_partitions;
            free(shards);
            continue;
        }
        sp->out_partitions = n;
        int rc = shards ? md_store_add_on(&c->md, sp->name, n, &tc, shards, &t)
                        : md_store_add(&c->md, sp->name, n, rf, &tc, &t);
        free(shards);
        if (rc < 0) {
            spec_fail(m, sp, KERR_UNKNOWN_SERVER_ERROR, "out of memory");
            continue;
        }
        memcpy(sp->topic_id, t->t.id, 16);
        op_item(op, t, 0, n, i);
        op_post(c, op, op->nitems - 1, t, CTL_PARTITION_OPEN);
    }
    op_start(c, op);
}

static void finish_create(struct control *c, struct admin_op *op)
{
    struct ctl_msg *m = op->req;
    struct ctl_create_topics *ct = &m->u.create_topics;
    char why[512];
    int live = 0;

    for (int k = 0; k < op->nitems; k++) {
        struct admin_item *it = &op->items[k];
        struct ctl_topic_spec *sp = &ct->topics[it->spec];
        struct md_live *t = item_topic(c, it);
        if (!t)
            continue;
        if (it->err) {
            snprintf(why, sizeof why, "shard %d could not open partition %d: "
                     "%s", it->err_shard, it->err_partition, strerror(-it->err));
            spec_fail(m, sp, KERR_KAFKA_STORAGE_ERROR, why);
            drop_start(c, t, 0, true, false);
            continue;
        }
        t->state = MD_LIVE;
        t->t.npartitions = t->nplaced;
        live++;
    }
    if (live && save(c, why, sizeof why) < 0) {
        for (int k = 0; k < op->nitems; k++) {
            struct admin_item *it = &op->items[k];
            struct md_live *t = item_topic(c, it);
            if (it->err || !t)
                continue;
            spec_fail(m, &ct->topics[it->spec], KERR_KAFKA_STORAGE_ERROR, why);
            t->t.npartitions = 0;
            drop_start(c, t, 0, true, false);
        }
        live = 0;
    }
    if (live)
        publish(c);
    for (int k = 0; k < op->nitems && ct->want_configs; k++) {
        struct ctl_topic_spec *sp = &ct->topics[op->items[k].spec];
        struct md_live *t = item_topic(c, &op->items[k]);
        if (!sp->error && t)
            admin_describe_topic(&m->arena, &t->t.config, 0, NULL,
                                 &sp->results, &sp->nresults);
    }
}

/* --- DeleteTopics ----------------------------------------------------------- */

/* Refuses every name given twice in names[0..n). */
static void name_dups(const char **names, int n, int16_t *errors)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (names[i] && names[j] && strcmp(names[i], names[j]) == 0) {
                if (!errors[i])
                    errors[i] = KERR_INVALID_REQUEST;
                if (!errors[j])
                    errors[j] = KERR_INVALID_REQUEST;
            }
}

static void delete_topics(struct control *c, struct ctl_msg *m)
{
    struct ctl_delete_topics *dt = &m->u.delete_topics;
    struct admin_op *op = op_new(OP_DROP, m, dt->ntopics);
    char why[512];

    name_dups(dt->names, dt->ntopics, dt->errors);
    for (int i = 0; i < dt->ntopics; i++) {
        struct md_live *t;
        if (!dt->names[i] || dt->errors[i])
            continue;
        if (!op) {
            dt->errors[i] = KERR_UNKNOWN_SERVER_ERROR;
        } else if (!c->cfg.delete_topic_enable) {
            dt->errors[i] = KERR_TOPIC_DELETION_DISABLED;
        } else if (!(t = md_store_find(&c->md, dt->names[i])) ||
                   t->state != MD_LIVE) {
            dt->errors[i] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            if (dt->topic_ids)
                memcpy(dt->topic_ids[i], t->t.id, 16);
            t->state = MD_DELETING;
            op_item(op, t, 0, t->nplaced, i)->whole = true;
        }
    }
    if (!op) {
        control_post(c, m->shard, m);
        return;
    }
    if (op->nitems > 0 && save(c, why, sizeof why) < 0) {
        for (int k = 0; k < op->nitems; k++) {
            struct md_live *t = item_topic(c, &op->items[k]);
            if (t)
                t->state = MD_LIVE;
            dt->errors[op->items[k].spec] = KERR_KAFKA_STORAGE_ERROR;
        }
        op->nitems = 0;
    }
    if (op->nitems > 0)
        publish(c);         /* before the deletes: shards stop serving */
    for (int k = 0; k < op->nitems; k++)
        op_post(c, op, k, item_topic(c, &op->items[k]), CTL_PARTITION_DELETE);
    op_start(c, op);
}

static void finish_drop(struct control *c, struct admin_op *op)
{
    char why[512];
    int removed = 0;

    for (int k = 0; k < op->nitems; k++) {
        struct admin_item *it = &op->items[k];
        struct md_live *t = item_topic(c, it);
        if (!t)
            continue;
        if (!it->whole) {
            md_store_unplace(&c->md, t, it->from);
            t->busy = false;
        } else if (it->err) {
            control_log("%s stays marked for deletion: shard %d could not "
                        "remove partition %d", t->t.name, it->err_shard,
                        it->err_partition);
            if (op->req)
                op->req->u.delete_topics.errors[it->spec] =
                    KERR_KAFKA_STORAGE_ERROR;
        } else {
            md_store_remove(&c->md, t);
            removed++;
        }
    }
    /* On failure the file still marks them: a restart finishes. */
    if (removed)
        save(c, why, sizeof why);
}

/* --- CreatePartitions ------------------------------------------------------- */

static void cp_msg(struct ctl_create_partitions *cp, int i, const char *msg)
{
    if (cp->error_messages)
        cp->error_messages[i] = msg;
}

static int16_t partitions_check(struct control *c, struct ctl_msg *m, int i,
                                const char **msg, struct md_live **out)
{
    struct ctl_create_partitions *cp = &m->u.create_partitions;
    struct md_live *t = md_store_find(&c->md, cp->names[i]);
    int32_t n = cp->counts[i], cur;

    if (!t || t->state != MD_LIVE) {
        *msg = admin_msg(m, "The topic '%s' does not exist.", cp->names[i]);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (t->busy) {
        *msg = admin_msg(m, "Partitions of '%s' are being changed; retry.",
                         t->t.name);
        return KERR_REASSIGNMENT_IN_PROGRESS;
    }
    cur = t->t.npartitions;
    if (n <= cur || n > MD_PARTITIONS_MAX) {
        *msg = n == cur ? admin_msg(m, "Topic already has %d partitions.", cur)
               : n < cur ? admin_msg(m, "Topic currently has %d partitions, "
                                     "which is higher than the requested %d.",
                                     cur, n)
                         : admin_msg(m, "At most %d partitions per topic.",
                                     MD_PARTITIONS_MAX);
        return KERR_INVALID_PARTITIONS;
    }
    *out = t;
    return 0;
}

static void create_partitions(struct control *c, struct ctl_msg *m)
{
    struct ctl_create_partitions *cp = &m->u.create_partitions;
    struct admin_op *op = op_new(OP_PARTITIONS, m, cp->ntopics);

    name_dups(cp->names, cp->ntopics, cp->errors);
    for (int i = 0; i < cp->ntopics; i++) {
        struct md_live *t = NULL;
        const char *msg = NULL;
        if (cp->errors[i] == KERR_INVALID_REQUEST && cp->error_messages &&
            !cp->error_messages[i])
            cp_msg(cp, i, "Duplicate topic in the request.");
        if (!cp->names[i] || cp->errors[i])
            continue;
        if (!op) {
            cp->errors[i] = KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        cp->errors[i] = partitions_check(c, m, i, &msg, &t);
        int32_t from = t ? t->t.npartitions : 0, *shards = NULL;
        if (!cp->errors[i] && cp->nassignments && cp->nassignments[i] >= 0) {
            if (!(shards = malloc(sizeof(*shards) * (size_t)(cp->counts[i] - from + 1))))
                cp->errors[i] = KERR_UNKNOWN_SERVER_ERROR;
            else
                cp->errors[i] = admin_assign_partitions(
                    c, m, cp->assignments[i], cp->nassignments[i],
                    cp->counts[i] - from, shards, &msg);
        }
        cp_msg(cp, i, msg);
        if (cp->errors[i] || cp->validate_only) {
            free(shards);
            continue;
        }
        int32_t rf = t->nplaced > 0 ? t->t.partitions[0].nreplicas : 1;
        if (shards && rf != 1) {
            cp->errors[i] = KERR_INVALID_REPLICA_ASSIGNMENT;
            cp_msg(cp, i, admin_msg(m, "The manual partition assignment places one "
                   "replica, but the topic's partitions have %d.", rf));
            free(shards);
            continue;
        }
        int rc = shards ? md_store_place_on(&c->md, t, cp->counts[i], shards)
                        : md_store_place(&c->md, t, cp->counts[i], rf);
        free(shards);
        if (rc < 0) {
            cp->errors[i] = rc == -EINVAL ? KERR_INVALID_REPLICATION_FACTOR
                                          : KERR_UNKNOWN_SERVER_ERROR;
            if (rc == -EINVAL)
                cp_msg(cp, i, admin_msg(m, "The topic's replication factor of %d "
                       "cannot be reached: only %d node(s) are registered.", rf,
                       md_place_nodes(&c->md)));
            continue;
        }
        t->busy = true;
        op_item(op, t, from, cp->counts[i], i);
        op_post(c, op, op->nitems - 1, t, CTL_PARTITION_OPEN);
    }
    if (op)
        op_start(c, op);
    else
        control_post(c, m->shard, m);
}

static void finish_partitions(struct control *c, struct admin_op *op)
{
    struct ctl_msg *m = op->req;
    struct ctl_create_partitions *cp = &m->u.create_partitions;
    char why[512];
    int grown = 0;

    for (int k = 0; k < op->nitems; k++) {
        struct admin_item *it = &op->items[k];
        struct md_live *t = item_topic(c, it);
        if (!t || t->state != MD_LIVE) {
            cp->errors[it->spec] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            it->err = it->err ? it->err : -ENOENT;
        } else if (it->err) {
            cp->errors[it->spec] = KERR_KAFKA_STORAGE_ERROR;
            cp_msg(cp, it->spec, admin_msg(m, "shard %d could not open "
                   "partition %d: %s", it->err_shard, it->err_partition,
                   strerror(-it->err)));
            drop_start(c, t, it->from, false, false);
        } else {
            t->t.npartitions = it->to;
            t->busy = false;
            grown++;
        }
    }
    if (grown && save(c, why, sizeof why) < 0) {
        for (int k = 0; k < op->nitems; k++) {
            struct admin_item *it = &op->items[k];
            struct md_live *t = item_topic(c, it);
            if (it->err || !t)
                continue;
            cp->errors[it->spec] = KERR_KAFKA_STORAGE_ERROR;
            cp_msg(cp, it->spec, admin_msg(m, "%s", why));
            t->t.npartitions = it->from;
            drop_start(c, t, it->from, false, false);
        }
        grown = 0;
    }
    if (grown)
        publish(c);
}

/* --- start: open what the file holds --------------------------------------- */

int admin_recover(struct control *c)
{
    struct admin_op *op = op_new(OP_RECOVER, NULL, c->md.ntopics);

    if (!op)
        return -ENOMEM;
    op->startup = true;
    for (int32_t i = 0; i < c->md.ntopics; i++) {
        struct md_live *t = c->md.topics[i];
        if (t->state == MD_DELETING) {
            drop_start(c, t, 0, true, true);
            continue;
        }
        op_item(op, t, 0, t->t.npartitions, -1);
        op_post(c, op, op->nitems - 1, t, CTL_PARTITION_OPEN);
    }
    op_start(c, op);
    return 0;
}

/* A partition whose log cannot be read (a disk fault) does not stop the
 * start: its shard reported it offline (dataplane/partition_fault.c) and
 * the broker serves the rest, as Kafka does with a failed log directory.
 * Any other failure to open does. */
static void finish_recover(struct control *c, struct admin_op *op)
{
    for (int k = 0; k < op->nitems; k++) {
        const struct admin_item *it = &op->items[k];
        if (!it->err)
            continue;
        if (log_errno_is_fault(it->err)) {
            control_log("%s-%d on shard %d stays offline: its log cannot be read (%s)",
                        it->name, it->err_partition, it->err_shard, strerror(-it->err));
            continue;
        }
        control_log("cannot open %s-%d on shard %d: %s", it->name,
                    it->err_partition, it->err_shard, strerror(-it->err));
        if (!c->open_err)
            c->open_err = -EIO;
    }
}

/* --- dispatch ------------------------------------------------------------- */

/* A node that does not lead the metadata quorum changes nothing: the
 * client hears NOT_CONTROLLER and asks the controller Metadata names. */
static bool admin_refused(struct control *c, struct ctl_msg *m)
{
    if (md_store_is_controller(&c->md) || m->op == CTL_DESCRIBE_CONFIGS)
        return false;
    switch (m->op) {
    case CTL_CREATE_TOPICS:
        for (int i = 0; i < m->u.create_topics.ntopics; i++)
            if (!m->u.create_topics.topics[i].error)
                spec_fail(m, &m->u.create_topics.topics[i],
                          m->u.create_topics.auto_create
                              ? KERR_LEADER_NOT_AVAILABLE
                              : KERR_NOT_CONTROLLER,
                          "This node is not the controller.");
        break;
    case CTL_DELETE_TOPICS:
        for (int i = 0; i < m->u.delete_topics.ntopics; i++)
            if (!m->u.delete_topics.errors[i])
                m->u.delete_topics.errors[i] = KERR_NOT_CONTROLLER;
        break;
    case CTL_CREATE_PARTITIONS:
        for (int i = 0; i < m->u.create_partitions.ntopics; i++)
            if (!m->u.create_partitions.errors[i])
                m->u.create_partitions.errors[i] = KERR_NOT_CONTROLLER;
        break;
    case CTL_ALTER_CONFIGS:
        for (int i = 0; i < m->u.configs.nresources; i++)
            if (!m->u.configs.resources[i].error)
                m->u.configs.resources[i].error = KERR_NOT_CONTROLLER;
        break;
    default:
        return false;
    }
    control_post(c, m->shard, m);
    return true;
}

void admin_request(struct control *c, struct ctl_msg *m)
{
    if (admin_refused(c, m))
        return;
    switch (m->op) {
    case CTL_CREATE_TOPICS: create_topics(c, m); break;
    case CTL_DELETE_TOPICS: delete_topics(c, m); break;
    case CTL_CREATE_PARTITIONS: create_partitions(c, m); break;
    case CTL_DESCRIBE_CONFIGS: admin_describe_configs(c, m); break;
    case CTL_ALTER_CONFIGS: admin_alter_configs(c, m); break;
    default: control_post(c, m->shard, m); break;
    }
}
