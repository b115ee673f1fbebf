/* metadata.c - the live metadata of the control thread (md_store.h) and
 * the immutable snapshots shards read (metadata.h).
 *
 * Owns: topic names and ids, the placement of partitions on shards, the
 * brokers clients are told about (one per shard), the cluster id, and deep
 * copies of all of it into snapshots. The file is md_file.c's.
 *
 * Never: touches a ring, a socket or a log; a snapshot is never written
 * after md_store_snapshot returns it.
 *
 * Placement is md_place.c's. */
#include "control/md_store.h"
#include "storage/sys.h"
#include "security/acl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* --- snapshots: what shards read ---------------------------------------- */

const struct md_topic *md_find_topic(const struct md_snapshot *md,
                                     const char *name, size_t len)
{
    int32_t lo = 0, hi = md ? md->ntopics : 0;

    if (!name || len == 0 || len > MD_TOPIC_NAME_MAX || memchr(name, 0, len))
        return NULL;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        const char *n = md->topics[mid].name;
        int c = strncmp(n, name, len);
        if (c == 0 && n[len] != '\0')
            c = 1;                          /* n is longer: after name */
        if (c == 0)
            return &md->topics[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

struct md_snapshot *md_store_snapshot(struct md_store *s)
{
    int32_t ntopics = 0;
    size_t nparts = 0;

    for (int32_t i = 0; i < s->ntopics; i++) {
        if (s->topics[i]->state != MD_LIVE)
            continue;
        ntopics++;
        nparts += (size_t)s->topics[i]->t.npartitions;
    }
    _Static_assert(alignof(struct md_snapshot) <= 8 &&
                   alignof(struct md_broker) <= 8 &&
                   alignof(struct md_topic) <= 8 &&
                   alignof(struct md_partition) <= 8, "one 8-aligned block");
    size_t off_b = align8(sizeof(struct md_snapshot));
    int32_t nbrokers = md_nodes_broker_count(s);
    size_t off_t = off_b + align8(sizeof(struct md_broker) * (size_t)nbrokers);
    size_t off_p = off_t + align8(sizeof(struct md_topic) * (size_t)ntopics);
    size_t size = off_p + sizeof(struct md_partition) * nparts;
    const struct broker_config *cfg = s->cfg;
    struct acl_snapshot *acls = acl_snapshot_build(
        cfg && cfg->authorizer_class_name[0], cfg && cfg->allow_everyone_if_no_acl_found,
        cfg ? cfg->super_users : "", s->acls, s->nacls);
    char *block = acls ? calloc(1, size) : NULL;
    if (!block) {
        free(acls);
        return NULL;
    }

    struct md_snapshot *md = (struct md_snapshot *)(void *)block;
    md->acls = acls;
    struct md_partition *parts = (struct md_partition *)(void *)(block + off_p);
    md->epoch = ++s->epoch;
    memcpy(md->cluster_id, s->cluster_id, sizeof md->cluster_id);
    int32_t controller = md_store_controller(s);
    md->controller_id = controller < 0 ? -1 : md_broker_id(controller, 0);
    md->nbrokers = nbrokers;
    md->brokers = (struct md_broker *)(void *)(block + off_b);
    md_nodes_brokers(s, md->brokers);
    md->topics = (struct md_topic *)(void *)(block + off_t);
    for (int32_t i = 0; i < s->ntopics; i++) {
        const struct md_live *l = s->topics[i];
        if (l->state != MD_LIVE)
            continue;
        struct md_topic *t = &md->topics[md->ntopics++];
        *t = l->t;
        t->partitions = parts;
        memcpy(parts, l->t.partitions,
               sizeof(struct md_partition) * (size_t)l->t.npartitions);
        for (int32_t p = 0; p < l->t.npartitions; p++) {
            const struct md_node *n = md_node_find(s, md_broker_node(parts[p].leader));
            if (n && n->fenced && n->id != s->node_id)
                parts[p].leader = -1;       /* offline: its only replica */
        }
        parts += l->t.npartitions;
    }
    return md;
}

void md_snapshot_free(const struct md_snapshot *md)
{
    if (md)
        free((void *)md->acls);
    free((void *)md);
}

/* --- names and ids ------------------------------------------------------ */

int md_name_check(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0) {
        seterr(err, errlen, "Topic name is illegal, it can't be empty");
        return -EINVAL;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        seterr(err, errlen, "Topic name cannot be \".\" or \"..\"");
        return -EINVAL;
    }
    if (n > MD_TOPIC_NAME_MAX) {
        seterr(err, errlen, "Topic name is illegal, it can't be longer than "
               "%d characters", MD_TOPIC_NAME_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            seterr(err, errlen, "Topic name \"%s\" is illegal, it contains a "
                   "character other than ASCII alphanumerics, '.', '_' and "
                   "'-'", name);
            return -EINVAL;
        }
    }
    return 0;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void md_id_text(const uint8_t id[16], char out[MD_ID_TEXT])
{
    uint32_t acc = 0;
    int bits = 0, o = 0;

    for (int i = 0; i < 16; i++) {
        acc = (acc << 8) | id[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    out[o++] = b64url[(acc << (6 - bits)) & 63];    /* the last 2 bits */
    out[o] = '\0';
}

int md_id_parse(const char *text, size_t len, uint8_t id[16])
{
    uint32_t acc = 0;
    int bits = 0, o = 0;

    if (len != MD_ID_TEXT - 1)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(b64url, text[i], 64);
        if (!p || text[i] == '\0')
            return -EINVAL;
        acc = (acc << 6) | (uint32_t)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < 16)
                id[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (acc & ((1u << bits) - 1)) == 0 ? 0 : -EINVAL; /* canonical */
}

/* A version 4 UUID, as Kafka's Uuid.randomUuid(): never all zeros or the
 * reserved 1, and never one whose text starts with '-' (command lines
 * would take it for an option). */
int md_random_id(uint8_t id[16])
{
    for (;;) {
        size_t got = 0;
        while (got < 16) {
            ssize_t k = getrandom(id + got, 16 - got, 0);
            if (k < 0 && errno != EINTR)
                return -errno;
            if (k > 0)
                got += (size_t)k;
        }
        id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
        id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
        if ((id[0] >> 2) != 62)             /* '-' is digit 62 */
            return 0;
    }
}

/* --- the live topics ----------------------------------------------------- */

/* Index of name in the sorted array, or -(insertion point) - 1. */
static int32_t md_index(const struct md_store *s, const char *name)
{
    int32_t lo = 0, hi = s->ntopics;

    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->topics[mid]->t.name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -lo - 1;
}

struct md_live *md_store_find(const struct md_store *s, const char *name)
{
    int32_t i = name ? md_index(s, name) : -1;
    return i >= 0 ? s->topics[i] : NULL;
}

static bool same_but_dots(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '.' ? '_' : *a, y = *b == '.' ? '_' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

struct md_live *md_store_collision(const struct md_store *s,
                                   const char *name)
{
    if (!strpbrk(name, "._"))
        return NULL;
    for (int32_t i = 0; i < s->ntopics; i++) {
        const char *n = s->topics[i]->t.name;
        if (strcmp(n, name) != 0 && same_but_dots(n, name))
            return s->topics[i];
    }
    return NULL;
}

void md_store_dyn_clear(struct md_store *s)
{
    for (int k = 0; k < MD_DYN_SCOPES; k++) {
        for (int i = 0; i < s->ndyn[k]; i++) {
            free(s->dyn[k][i].key);
            free(s->dyn[k][i].value);
        }
        free(s->dyn[k]);
        s->dyn[k] = NULL;
        s->ndyn[k] = 0;
    }
}

static bool is_internal(const char *name)
{
    return strcmp(name, "__consumer_offsets") == 0 ||
           strcmp(name, "__transaction_state") == 0;
}

int md_store_insert(struct md_store *s, struct md_live *t)
{
    int32_t at = md_index(s, t->t.name);

    if (at >= 0)
        return -EEXIST;
    at = -at - 1;
    if (s->ntopics == s->cap) {
        int32_t cap = s->cap ? s->cap * 2 : 16;
        struct md_live **v = realloc(s->topics, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        s->topics = v;
        s->cap = cap;
    }
    memmove(&s->topics[at + 1], &s->topics[at],
            sizeof(*s->topics) * (size_t)(s->ntopics - at));
    s->topics[at] = t;
    s->ntopics++;
    t->t.internal = is_internal(t->t.name);
    return 0;
}

/* md_store_add and md_store_add_on: placed with rf replicas each, or on
 * brokers[] when it is not NULL (one replica each). */
static int md_store_create(struct md_store *s, const char *name, int32_t npartitions,
                           int32_t rf, const struct topic_config *cfg,
                           const int32_t *brokers, struct md_live **out)
{
    struct md_live *t;
    int rc = -ENOMEM;

    if (strlen(name) > MD_TOPIC_NAME_MAX || md_index(s, name) >= 0)
        return -EEXIST;
    if (!(t = calloc(1, sizeof *t)))
        return -ENOMEM;
    strcpy(t->t.name, name);
    t->t.config = *cfg;
    t->state = MD_CREATING;
    if ((rc = md_random_id(t->t.id)) < 0 ||
        (rc = brokers ? md_store_place_on(s, t, npartitions, brokers)
                      : md_store_place(s, t, npartitions, rf)) < 0 ||
        (rc = md_store_insert(s, t)) < 0)
        goto err;
    *out = t;
    return 0;
err:
    md_store_unplace(s, t, 0);
    free(t->t.partitions);
    free(t);
    return rc;
}

int md_store_add(struct md_store *s, const char *name, int32_t npartitions,
                 int32_t rf, const struct topic_config *cfg, struct md_live **out)
{
    return md_store_create(s, name, npartitions, rf, cfg, NULL, out);
}

int md_store_add_on(struct md_store *s, const char *name, int32_t npartitions,
                    const struct topic_config *cfg, const int32_t *brokers,
                    struct md_live **out)
{
    return md_store_create(s, name, npartitions, 1, cfg, brokers, out);
}

void md_store_remove(struct md_store *s, struct md_live *t)
{
    if (t->committed) {
        if (s->ntombs == s->tombs_cap) {
            int32_t cap = s->tombs_cap ? s->tombs_cap * 2 : 8;
            struct md_tomb *v = realloc(s->tombs, sizeof(*v) * (size_t)cap);
            if (!v) {
                /* The next commit would not carry the remove; keep the
                 * topic (it is deleting) until memory allows. */
                return;
            }
            s->tombs = v;
            s->tombs_cap = cap;
        }
        struct md_tomb *tb = &s->tombs[s->ntombs++];
        snprintf(tb->name, sizeof tb->name, "%s", t->t.name);
        memcpy(tb->id, t->t.id, sizeof tb->id);
    }
    md_store_forget(s, t);
}

static int drop_add(struct md_store *s, const char *topic, int32_t partition, int32_t broker)
{
    if (s->ndrops == s->drops_cap) {
        int32_t cap = s->drops_cap ? s->drops_cap * 2 : 16;
        struct md_drop *v = realloc(s->drops, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        s->drops = v;
        s->drops_cap = cap;
    }
    struct md_drop *d = &s->drops[s->ndrops++];
    snprintf(d->topic, sizeof d->topic, "%s", topic);
    d->partition = partition;
    d->shard = md_broker_shard(broker);
    return 0;
}

int md_store_drops_add(struct md_store *s, const struct md_live *t)
{
    for (int32_t p = 0; p < t->nplaced; p++) {
        int32_t leader = t->t.partitions[p].leader;
        if (leader >= 0 && md_broker_node(leader) == s->node_id &&
            drop_add(s, t->t.name, p, leader) < 0)
            return -ENOMEM;
    }
    return 0;
}

int md_store_drop_moved(struct md_store *s, const char *topic, const struct md_partition *was,
                        const struct md_partition *now)
{
    int32_t had = md_partition_on_node(was, s->node_id);

    if (had < 0 || had == md_partition_on_node(now, s->node_id))
        return 0;
    return drop_add(s, topic, was->index, had);
}

int md_store_drops_moved(struct md_store *s, const struct md_live *old, const struct md_live *now)
{
    if (old->state != MD_LIVE || now->state != MD_LIVE)
        return 0;
    for (int32_t p = 0; p < old->t.npartitions && p < now->t.npartitions; p++)
        if (md_store_drop_moved(s, old->t.name, &old->t.partitions[p], &now->t.partitions[p]) < 0)
            return -ENOMEM;
    return 0;
}

void md_store_forget(struct md_store *s, struct md_live *t)
{
    int32_t at = md_index(s, t->t.name);

    if (at < 0 || s->topics[at] != t)
        return;
    md_store_unplace(s, t, 0);
    memmove(&s->topics[at], &s->topics[at + 1],
            sizeof(*s->topics) * (size_t)(s->ntopics - at - 1));
    s->ntopics--;
    free(t->t.partitions);
    free(t);
}

/* --- brokers: one per shard ------------------------------------------------ */

/* advertised.listeners (= listeners unless set) names either one entry
 * per shard, or one entry whose port shard i advertises plus i; its entries
 * named as the first listener are those of Metadata's brokers here (other
 * listeners' endpoints: dataplane/listeners.c). */
static int md_brokers_init(struct md_store *s, char *err, size_t errlen)
{
    const struct broker_config *cfg = s->cfg;
    bool adv = broker_config_is_set(cfg, "advertised.listeners");
    struct config_listener first, l;
    bool own;

    if (config_listener_get(cfg->listeners, 0, &first) < 0 ||
        config_advertised_entry(cfg, first.name, s->nshards, 0, &l, &own) < 0) {
        seterr(err, errlen, "no usable listener in '%s'", cfg->listeners);
        return -EINVAL;
    }
    s->advertised_port = adv;
    for (int i = 0; i < s->nshards; i++) {
        struct md_broker *b = &s->brokers[i];
        config_advertised_entry(cfg, first.name, s->nshards, i, &l, &own);
        b->node_id = md_broker_id(s->node_id, i);
        config_advertised_host(l.host, adv, b->host, sizeof b->host);
        b->port = l.port == 0 ? 0 : own ? l.port : l.port + i;
        if (b->port > 65535) {
            seterr(err, errlen, "shard %d would advertise port %d", i, b->port);
            return -EINVAL;
        }
    }
    return 0;
}

void md_store_set_port(struct md_store *s, int shard, int port)
{
    if (shard < 0 || shard >= s->nshards)
        return;
    if (!s->advertised_port || s->brokers[shard].port == 0)
        s->brokers[shard].port = port;
}

/* --- open and close --------------------------------------------------------- */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* DATA/__sluice, created if needed, locked against a second broker. */
static int md_dir_open(struct md_store *s, const char *data_dir, char *err,
                       size_t errlen)
{
    char *lock = NULL;
    int rc;

    /* storage_mkdir syncs the parent of what it makes: a new __sluice
     * entry is durable. */
    if ((rc = storage_mkdir(data_dir, 0755)) < 0 ||
        (rc = storage_mkdir(s->dir, 0755)) < 0)
        goto mkdir_err;
    if (!(lock = path_join(s->dir, "lock")))
        return -ENOMEM;
    s->lock_fd = storage_sys.open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        rc = -errno;
        seterr(err, errlen, "cannot open %s: %s", lock, strerror(errno));
        goto out;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        seterr(err, errlen, "%s is in use by another broker (%s is locked)",
               data_dir, lock);
        goto out;
    }
    rc = 0;
out:
    free(lock);
    return rc;
mkdir_err:
    seterr(err, errlen, "cannot create %s: %s", s->dir, strerror(-rc));
    return rc;
}

int md_store_open(struct md_store *s, const struct broker_config *cfg,
                  const char *data_dir, int nshards, char *err, size_t errlen)
{
    int rc = -ENOMEM;

    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->node_id = cfg->node_id;
    s->nshards = nshards;
    s->lock_fd = -1;
    if (nshards < 1 || nshards > MD_NODE_SHARDS) {
        seterr(err, errlen, "need 1..%d shards", MD_NODE_SHARDS);
        return -EINVAL;
    }
    s->load = calloc((size_t)nshards, sizeof *s->load);
    s->brokers = calloc((size_t)nshards, sizeof *s->brokers);
    s->dir = path_join(data_dir, "__sluice");
    s->path = s->dir ? path_join(s->dir, "metadata") : NULL;
    if (!s->load || !s->brokers || !s->path) {
        seterr(err, errlen, "out of memory");
        goto err;
    }
    if ((rc = md_brokers_init(s, err, errlen)) < 0 ||
        (rc = md_dir_open(s, data_dir, err, errlen)) < 0 ||
        (rc = md_log_open(s, err, errlen)) < 0)
        goto err;
    return 0;
err:
    md_store_close(s);
    return rc;
}

void md_store_close(struct md_store *s)
{
    md_log_close(s);
    for (int32_t i = 0; i < s->ntopics; i++) {
        free(s->topics[i]->t.partitions);
        free(s->topics[i]);
    }
    free(s->topics);
    free(s->tombs);
    free(s->drops);
    md_nodes_free(s);
    md_store_dyn_clear(s);
    md_acls_clear(s);
    free(s->load);
    free(s->brokers);
    free(s->dir);
    free(s->path);
    if (s->lock_fd >= 0)
        storage_sys.close(s->lock_fd);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
}
