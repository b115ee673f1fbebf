/* md_file.c - the text of the metadata: the state machine's snapshots,
 * the entries of the metadata log (control/md_log.c), and the file a
 * broker wrote before the log existed, DATA/__sluice/metadata.
 *
 * Owns: the text format below, building it (whole, or only the topics
 * that changed since the last commit) and reading it back.
 *
 *   # comment lines and blank lines are skipped
 *   format 1
 *   cluster.id <22 characters, Kafka's base64 id>
 *   remove <name> <id>               entries only: the topic is gone
 *   node <id>                        a node of the cluster (md_nodes.c)
 *   rack <rack>                      if it has one
 *   state up | fenced
 *   broker <i> <host> <port>         one line per shard, in order
 *   end
 *   acls                             the ACLs (control/acls.c), replaced
 *   acl <type> <pattern> <permission> <operation> <host> <principal> <name>
 *   end                              whole (snapshots always; entries when
 *                                    changed); fields %XX-escaped
 *   broker-configs                   dynamic broker configs: both layers,
 *   default <key>=<value>            the cluster-wide one and
 *   broker <key>=<value>             the per-broker one (broker_dyn.c)
 *   end                              (snapshots always; entries when changed)
 *   topic <name>
 *   id <22 characters>
 *   state live | deleting
 *   partitions <n>
 *   partition 0 broker <id>          one line per partition, in order:
 *                                    one replica, the leader, epoch 0
 *                                    (or "shard <s>": this node's, as
 *                                    older files say); otherwise
 *   partition 0 broker <leader|-1> epoch <e> pepoch <e> replicas <a,b,c> isr <a,b>
 *   config <key>=<value>             the topic's explicit configs
 *   end
 *   ...
 *   crc32c <8 hex digits>            of every byte before this line
 *
 * A snapshot (and the old file) holds every topic; an entry holds the
 * topics whose text changed since the last commit and the committed
 * topics removed since, and replaces those topics whole when applied.
 *
 * Invariants:
 *   1. A text that does not check out (checksum, syntax, names, configs)
 *      is an error naming the line; nothing in it is ever dropped.
 *   2. Topics being created are not written (their partitions are empty);
 *      topics being deleted are, marked, so a restart finishes the delete.
 *   3. An entry's removes come before its topics, so a name deleted and
 *      created again in one commit ends as the new topic.
 *
 * Never: touches a ring or a log, or writes a file (the log's files are
 * raft's; md_log.c's rename goes through storage_sys). */
#include "control/md_store.h"
#include "slog/slog.h"
#include "security/acl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/crc32c.h"

#define MD_FORMAT 1
#define MD_LINE_MAX (CONFIG_VALUE_MAX + 512)

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

/* --- writing -------------------------------------------------------------- */

static void put_ids(FILE *f, const char *kw, const int32_t *ids, int32_t n)
{
    fprintf(f, " %s ", kw);
    for (int32_t i = 0; i < n; i++)
        fprintf(f, "%s%d", i ? "," : "", ids[i]);
}

static void put_partition(FILE *f, const struct md_partition *p)
{
    if (p->nreplicas == 1 && p->nisr == 1 && p->leader == p->replicas[0] &&
        p->isr[0] == p->leader && p->leader_epoch == 0 && p->partition_epoch == 0) {
        fprintf(f, "partition %d broker %d\n", p->index, p->leader);
        return;
    }
    fprintf(f, "partition %d broker %d epoch %d pepoch %d", p->index, p->leader,
            p->leader_epoch, p->partition_epoch);
    put_ids(f, "replicas", p->replicas, p->nreplicas);
    put_ids(f, "isr", p->isr, p->nisr);
    if (p->nadding > 0)
        put_ids(f, "adding", p->adding, p->nadding);
    if (p->nremoving > 0)
        put_ids(f, "removing", p->removing, p->nremoving);
    fputc('\n', f);
}

static void put_topic(FILE *f, const struct md_live *l)
{
    char id[MD_ID_TEXT], cfg[CONFIG_VALUE_MAX * 4];
    int32_t n = l->state == MD_LIVE ? l->t.npartitions : l->nplaced;

    md_id_text(l->t.id, id);
    fprintf(f, "\ntopic %s\nid %s\nstate %s\npartitions %d\n", l->t.name, id,
            l->state == MD_LIVE ? "live" : "deleting", n);
    for (int32_t i = 0; i < n; i++)
        put_partition(f, &l->t.partitions[i]);
    if (topic_config_serialize(&l->t.config, cfg, sizeof cfg) > 0)
        for (char *line = cfg, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            fprintf(f, "config %.*s\n", (int)(nl - line), line);
        }
    fputs("end\n", f);
}

/* The topic's block and its checksum (what md_live.crc remembers). */
static char *topic_text(const struct md_live *l, size_t *len, uint32_t *crc)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (!f)
        return NULL;
    put_topic(f, l);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    *crc = crc32c(text, *len);
    return text;
}

static void put_node(FILE *f, const struct md_node *n)
{
    fprintf(f, "\nnode %d\n", n->id);
    if (n->rack[0])
        fprintf(f, "rack %s\n", n->rack);
    fprintf(f, "state %s\n", n->fenced ? "fenced" : "up");
    for (int32_t i = 0; i < n->nshards; i++)
        fprintf(f, "broker %d %s %d\n", i, n->brokers[i].host,
                n->brokers[i].port);
    fputs("end\n", f);
}

/* The node's block into f when it changed (or always, !delta); 1 if
 * written, 0 if not, -ENOMEM. */
static int node_text(FILE *f, struct md_node *n, bool delta)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);

    if (!m)
        return -ENOMEM;
    put_node(m, n);
    if (fclose(m) != 0) {
        free(text);
        return -ENOMEM;
    }
    n->pending_crc = crc32c(text, len);
    int wrote = !delta || !n->committed || n->crc != n->pending_crc;
    if (wrote)
        fwrite(text, 1, len, f);
    free(text);
    return wrote;
}

/* Ends the text with its checksum line; NULL on -ENOMEM. */
static char *md_text_close(FILE *f, char **text, size_t *len)
{
    fputc('\n', f);
    if (fflush(f) != 0 || !*text) {
        fclose(f);
        free(*text);
        return NULL;
    }
    fprintf(f, "crc32c %08x\n", crc32c(*text, *len));
    if (fclose(f) != 0) {
        free(*text);
        return NULL;
    }
    return *text;
}

char *md_text_build(struct md_store *s, bool delta, size_t *len,
                    int *nchanged)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    int n = 0;

    if (!f)
        return NULL;
    fprintf(f, "# sluice metadata: topics, their partitions' shards and "
               "configs.\n# Written by the control thread; do not edit: the "
               "last line checksums the rest.\nformat %d\ncluster.id %s\n",
            MD_FORMAT, s->cluster_id);
    if (!delta || s->dyn_dirty) {
        fputs("broker-configs\n", f);
        for (int k = 0; k < MD_DYN_SCOPES; k++)
            for (int i = 0; i < s->ndyn[k]; i++)
                fprintf(f, "%s %s=%s\n", k ? "broker" : "default",
                        s->dyn[k][i].key, s->dyn[k][i].value);
        fputs("end\n", f);
        n += delta;
    }
    if (!delta || s->acls_dirty) {
        md_acls_text(f, s);
        n += delta;
    }
    for (int32_t i = 0; delta && i < s->ntombs; i++) {
        char id[MD_ID_TEXT];
        md_id_text(s->tombs[i].id, id);
        fprintf(f, "remove %s %s\n", s->tombs[i].name, id);
        n++;
    }
    for (int32_t i = 0; i < s->nnodes; i++) {
        int rc = node_text(f, &s->nodes[i], delta);
        if (rc < 0) {
            fclose(f);
            free(text);
            return NULL;
        }
        n += rc;
    }
    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *l = s->topics[i];
        size_t tlen;
        uint32_t crc;
        char *t;
        if (l->state == MD_CREATING)
            continue;
        if (!(t = topic_text(l, &tlen, &crc))) {
            fclose(f);
            free(text);
            return NULL;
        }
        l->pending_crc = crc;
        if (!delta || !l->committed || l->crc != crc) {
            fwrite(t, 1, tlen, f);
            n++;
        }
        free(t);
    }
    if (nchanged)
        *nchanged = n;
    return md_text_close(f, &text, len);
}

void md_text_committed(struct md_store *s)
{
    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *l = s->topics[i];
        if (l->state == MD_CREATING)
            continue;
        l->crc = l->pending_crc;
        l->committed = true;
    }
    for (int32_t i = 0; i < s->nnodes; i++) {
        s->nodes[i].crc = s->nodes[i].pending_crc;
        s->nodes[i].committed = true;
    }
    s->ntombs = 0;
    s->dyn_dirty = false;
    s->acls_dirty = false;
}

/* --- reading -------------------------------------------------------------- */

struct md_reader {
    const char *p, *end;
    int line;                  /* of the line last read */
    const char *path;
    char *err;
    size_t errlen;
    bool entry;                /* an entry: upserts and removes */
    char buf[MD_LINE_MAX];
};

static int bad(struct md_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad(struct md_reader *r, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    seterr(r->err, r->errlen, "%s:%d: %s", r->path, r->line, what);
    return -EINVAL;
}

/* The next line that is neither blank nor a comment, in r->buf. 1, 0 at
 * the end, or -EINVAL. */
static int next_line(struct md_reader *r)
{
    while (r->p < r->end) {
        const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        size_t n = (size_t)((nl ? nl : r->end) - r->p);
        r->line++;
        if (n >= sizeof r->buf || memchr(r->p, '\0', n))
            return bad(r, "line too long or not text");
        memcpy(r->buf, r->p, n);
        r->buf[n] = '\0';
        r->p += n + (nl != NULL);
        if (n > 0 && r->buf[0] != '#')
            return 1;
    }
    return 0;
}

/* Reads a line "<kw> <arg>"; *arg points into r->buf. */
static int expect(struct md_reader *r, const char *kw, const char **arg)
{
    size_t k = strlen(kw);
    int rc = next_line(r);

    if (rc == 0)
        return bad(r, "the file ends where '%s' was expected", kw);
    if (rc < 0)
        return rc;
    if (strncmp(r->buf, kw, k) != 0 || r->buf[k] != ' ' || !r->buf[k + 1])
        return bad(r, "expected '%s ...', found '%.64s'", kw, r->buf);
    *arg = r->buf + k + 1;
    return 0;
}

static int parse_int(const char *s, int32_t lo, int32_t hi, int32_t *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -EINVAL;
    *out = (int32_t)v;
    return 0;
}

/* "a,b,c": distinct broker ids into ids (at most MD_REPLICAS_MAX). */
static int parse_ids(const char *text, int32_t *ids, int32_t *n)
{
    char buf[256], *save = NULL;
    if (strlen(text) >= sizeof buf)
        return -EINVAL;
    strcpy(buf, text);
    *n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int32_t v;
        if (*n == MD_REPLICAS_MAX || parse_int(tok, 0, INT32_MAX, &v) < 0 ||
            md_ids_have(ids, *n, v))
            return -EINVAL;
        ids[(*n)++] = v;
    }
    return *n > 0 ? 0 : -EINVAL;
}

/* A reassignment's " adding <ids>" and " removing <ids>" after the ISR
 * (either may be left out), each a subset of the replicas. */
static int parse_reassigning(const char *rest, struct md_partition *p)
{
    char kw[16], ids[256], extra;
    int used;

    while (sscanf(rest, " %15s %255s%n", kw, ids, &used) == 2) {
        bool adding = strcmp(kw, "adding") == 0;
        if ((!adding && strcmp(kw, "removing") != 0) ||
            (adding ? p->nadding : p->nremoving) > 0 ||
            parse_ids(ids, adding ? p->adding : p->removing,
                      adding ? &p->nadding : &p->nremoving) < 0)
            return -EINVAL;
        rest += used;
    }
    if (sscanf(rest, " %c", &extra) == 1)
        return -EINVAL;
    for (int32_t i = 0; i < p->nadding; i++)
        if (!md_ids_have(p->replicas, p->nreplicas, p->adding[i]) ||
            md_ids_have(p->removing, p->nremoving, p->adding[i]))
            return -EINVAL;
    for (int32_t i = 0; i < p->nremoving; i++)
        if (!md_ids_have(p->replicas, p->nreplicas, p->removing[i]))
            return -EINVAL;
    return 0;
}

/* The long form's tail: "epoch <e> pepoch <e> replicas <ids> isr <ids>"
 * and a reassignment's sets. */
static int parse_replicated(const char *tail, struct md_partition *p)
{
    char reps[256], isr[256];
    int used = 0;
    if (sscanf(tail, "epoch %d pepoch %d replicas %255s isr %255s%n", &p->leader_epoch,
               &p->partition_epoch, reps, isr, &used) != 4 || used == 0 ||
        p->leader_epoch < 0 || p->partition_epoch < 0 ||
        parse_ids(reps, p->replicas, &p->nreplicas) < 0 ||
        parse_ids(isr, p->isr, &p->nisr) < 0 || parse_reassigning(tail + used, p) < 0)
        return -EINVAL;
    for (int32_t i = 0; i < p->nisr; i++)
        if (!md_ids_have(p->replicas, p->nreplicas, p->isr[i]))
            return -EINVAL;
    for (int32_t i = 0; i < p->nreplicas; i++)
        for (int32_t j = 0; j < i; j++)
            if (md_broker_node(p->replicas[i]) == md_broker_node(p->replicas[j]))
                return -EINVAL;            /* one replica per node */
    if (p->leader != -1 && !md_ids_have(p->isr, p->nisr, p->leader))
        return -EINVAL;
    return 0;
}

/* "partition <i> broker <id>" lines (or "partition <i> shard <s>", this
 * node's shard s, as files before the cluster wrote them, or the long form
 * of a replicated partition); this node's replica on a shard that no
 * longer exists is noted as broker -1 for md_store_replace (a partition
 * of one replica only). */
static int read_placement(struct md_reader *r, struct md_store *s,
                          struct md_live *l)
{
    for (int32_t i = 0; i < l->nplaced; i++) {
        const char *arg;
        char *sp, *tail;
        int32_t idx, v = -1;
        int rc = expect(r, "partition", &arg);
        if (rc < 0)
            return rc;
        sp = strchr(arg, ' ');
        bool shard = sp && strncmp(sp, " shard ", 7) == 0;
        if (!sp || (!shard && strncmp(sp, " broker ", 8) != 0))
            return bad(r, "expected 'partition %d broker <id>'", i);
        *sp = '\0';
        char *num = sp + (shard ? 7 : 8);
        if ((tail = strchr(num, ' ')) != NULL)
            *tail++ = '\0';
        bool none = tail && !shard && strcmp(num, "-1") == 0; /* no leader */
        if (parse_int(arg, 0, INT32_MAX, &idx) < 0 || idx != i ||
            (!none && parse_int(num, 0, shard ? MD_NODE_SHARDS - 1 : INT32_MAX, &v) < 0))
            return bad(r, "expected 'partition %d broker <id>'", i);
        struct md_partition *p = &l->t.partitions[i];
        if (!tail) {
            *p = md_partition_single(i, shard ? md_broker_id(s->node_id, v) : v);
        } else {
            *p = (struct md_partition){.index = i, .leader = none ? -1 : v};
            if (shard || parse_replicated(tail, p) < 0)
                return bad(r, "partition %d: expected 'epoch <e> pepoch <e> replicas "
                           "<ids> isr <ids>'", i);
        }
        int32_t local = md_partition_on_node(p, s->node_id);
        if (local < 0)
            continue;
        if (md_broker_shard(local) < s->nshards)
            s->load[md_broker_shard(local)]++;
        else if (p->nreplicas == 1)
            p->leader = p->replicas[0] = p->isr[0] = -1;
    }
    return 0;
}

/* "config k=v" lines up to "end", applied over the broker's defaults. */
static int read_configs(struct md_reader *r, struct md_store *s,
                        struct md_live *l)
{
    char cerr[256], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc;

    if (!f)
        return -ENOMEM;
    while ((rc = next_line(r)) > 0 && strcmp(r->buf, "end") != 0) {
        if (strncmp(r->buf, "config ", 7) != 0 || !strchr(r->buf, '=')) {
            rc = bad(r, "expected 'config <key>=<value>' or 'end'");
            break;
        }
        fprintf(f, "%s\n", r->buf + 7);
    }
    if (rc == 0)
        rc = bad(r, "the text ends inside topic %s", l->t.name);
    if (fclose(f) != 0 && rc > 0)
        rc = -ENOMEM;
    topic_config_from_broker(s->cfg, &l->t.config);
    if (rc > 0 && topic_config_deserialize(&l->t.config, text, len, cerr,
                                           sizeof cerr) < 0)
        rc = bad(r, "topic %s: %s", l->t.name, cerr);
    free(text);
    return rc < 0 ? rc : 0;
}

/* Puts the topic read, l, in the store: a new name is inserted; in an
 * entry, a name the store has already is replaced whole. */
static int topic_settle(struct md_reader *r, struct md_store *s,
                        struct md_live *l)
{
    struct md_live *old = md_store_find(s, l->t.name);

    l->touched = r->entry;
    if (!old)
        return md_store_insert(s, l);
    if (!r->entry)
        return bad(r, "topic %s appears twice", l->t.name);
    if (md_store_drops_moved(s, old, l) < 0)  /* replicas reassigned away */
        return -ENOMEM;
    md_store_forget(s, old);
    return md_store_insert(s, l);
}

/* One "topic" block, after its first line. */
static int read_topic(struct md_reader *r, struct md_store *s,
                      const char *name)
{
    char why[256];
    const char *arg;
    struct md_live *l;
    int32_t n;
    int rc;

    if (md_name_check(name, why, sizeof why) < 0)
        return bad(r, "%s", why);
    if (!r->entry && md_store_find(s, name))
        return bad(r, "topic %s appears twice", name);
    if (!(l = calloc(1, sizeof *l)))
        return -ENOMEM;
    strcpy(l->t.name, name);
    if ((rc = expect(r, "id", &arg)) < 0)
        goto err;
    if (md_id_parse(arg, strlen(arg), l->t.id) < 0) {
        rc = bad(r, "bad topic id '%.32s'", arg);
        goto err;
    }
    if ((rc = expect(r, "state", &arg)) < 0)
        goto err;
    if (strcmp(arg, "live") != 0 && strcmp(arg, "deleting") != 0) {
        rc = bad(r, "state must be live or deleting");
        goto err;
    }
    l->state = arg[0] == 'l' ? MD_LIVE : MD_DELETING;
    if ((rc = expect(r, "partitions", &arg)) < 0)
        goto err;
    if (parse_int(arg, 1, MD_PARTITIONS_MAX, &n) < 0) {
        rc = bad(r, "bad partition count '%.32s'", arg);
        goto err;
    }
    if (!(l->t.partitions = calloc((size_t)n, sizeof *l->t.partitions))) {
        rc = -ENOMEM;
        goto err;
    }
    l->nplaced = l->cap = n;
    l->t.npartitions = l->state == MD_LIVE ? n : 0;
    if ((rc = read_placement(r, s, l)) < 0 ||
        (rc = read_configs(r, s, l)) < 0 || (rc = topic_settle(r, s, l)) < 0)
        goto err;
    return 0;
err:
    md_store_unplace(s, l, 0);
    free(l->t.partitions);
    free(l);
    return rc;
}

/* "remove <name> <id>": an entry's committed delete. A topic of that name
 * with another id (or none) is left alone. */
static int read_remove(struct md_reader *r, struct md_store *s, char *arg)
{
    char *sp = strchr(arg, ' ');
    uint8_t id[16];
    struct md_live *t;

    if (!r->entry || !sp)
        return bad(r, "expected 'topic <name>', found 'remove %.64s'", arg);
    *sp = '\0';
    if (md_id_parse(sp + 1, strlen(sp + 1), id) < 0)
        return bad(r, "bad topic id '%.32s'", sp + 1);
    t = md_store_find(s, arg);
    if (t && memcmp(t->t.id, id, 16) == 0) {
        if (md_store_drops_add(s, t) < 0)
            return -ENOMEM;
        md_store_forget(s, t);
    }
    return 0;
}

/* "node <id>" ... "end": a node's record, replacing the one of that id. */
static int read_node(struct md_reader *r, struct md_store *s, const char *arg)
{
    struct md_node n = {0};
    struct md_node_broker *b = NULL;
    int32_t cap = 0;
    int rc;

    if (parse_int(arg, 0, INT32_MAX / MD_NODE_SHARDS - 1, &n.id) < 0)
        return bad(r, "bad node id '%.32s'", arg);
    while ((rc = next_line(r)) > 0 && strcmp(r->buf, "end") != 0) {
        char host[MD_HOST_MAX], tail;
        int32_t i, port;
        if (strncmp(r->buf, "rack ", 5) == 0 && r->buf[5] &&
            strlen(r->buf + 5) < sizeof n.rack) {
            strcpy(n.rack, r->buf + 5);
        } else if (strcmp(r->buf, "state up") == 0 ||
                   strcmp(r->buf, "state fenced") == 0) {
            n.fenced = r->buf[6] == 'f';
        } else if (sscanf(r->buf, "broker %d %255s %d%c", &i, host, &port,
                          &tail) == 3 && i == n.nshards &&
                   i < MD_NODE_SHARDS && port >= 0 && port <= 65535) {
            if (n.nshards == cap) {
                cap = cap ? cap * 2 : 8;
                struct md_node_broker *v = realloc(b, sizeof *v * (size_t)cap);
                if (!v) {
                    free(b);
                    return -ENOMEM;
                }
                b = v;
            }
            snprintf(b[i].host, sizeof b[i].host, "%s", host);
            b[i].port = port;
            n.nshards++;
        } else {
            rc = bad(r, "node %d: expected 'rack', 'state', 'broker %d <host> "
                     "<port>' or 'end', found '%.64s'", n.id, n.nshards,
                     r->buf);
            break;
        }
    }
    if (rc == 0)
        rc = bad(r, "the text ends inside node %d", n.id);
    if (rc > 0 && n.nshards == 0)
        rc = bad(r, "node %d has no broker", n.id);
    n.brokers = b;
    if (rc > 0 && (rc = md_node_put(s, &n)) == -ENOMEM)
        rc = -ENOMEM;
    free(b);
    return rc < 0 ? rc : 0;
}

int md_store_replace(struct md_store *s)
{
    int moved = 0;

    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *l = s->topics[i];
        for (int32_t p = 0; p < l->nplaced; p++) {
            if (l->t.partitions[p].nreplicas != 1 || l->t.partitions[p].replicas[0] >= 0)
                continue;
            int32_t best = 0;
            for (int32_t k = 1; k < s->nshards; k++)
                if (s->load[k] < s->load[best])
                    best = k;
            l->t.partitions[p] = md_partition_single(p, md_broker_id(s->node_id, best));
            s->load[best]++;
            moved++;
        }
    }
    return moved;
}

/* "default|broker <key>=<value>" lines up to "end": both layers of the
 * dynamic broker configs, replaced whole. */
static int read_broker_configs(struct md_reader *r, struct md_store *s)
{
    struct md_dyn_entry *v[MD_DYN_SCOPES] = {NULL};
    int n[MD_DYN_SCOPES] = {0}, rc;

    while ((rc = next_line(r)) > 0 && strcmp(r->buf, "end") != 0) {
        char *sp = strchr(r->buf, ' '), *eq = sp ? strchr(sp, '=') : NULL;
        int k = sp && (size_t)(sp - r->buf) == 7 &&
                        strncmp(r->buf, "default", 7) == 0 ? 0
                : sp && (size_t)(sp - r->buf) == 6 &&
                        strncmp(r->buf, "broker", 6) == 0 ? 1 : -1;
        struct md_dyn_entry *nv;
        if (k < 0 || !eq || eq == sp + 1) {
            rc = bad(r, "expected 'default|broker <key>=<value>', found "
                     "'%.64s'", r->buf);
            break;
        }
        *eq = '\0';
        if (!(nv = realloc(v[k], sizeof(*nv) * (size_t)(n[k] + 1)))) {
            rc = -ENOMEM;
            break;
        }
        v[k] = nv;
        nv[n[k]].key = strdup(sp + 1);
        nv[n[k]].value = strdup(eq + 1);
        if (!nv[n[k]].key || !nv[n[k]].value) {
            free(nv[n[k]].key);
            free(nv[n[k]].value);
            rc = -ENOMEM;
            break;
        }
        n[k]++;
    }
    if (rc == 0)
        rc = bad(r, "broker-configs without its 'end'");
    if (rc < 0) {
        for (int k = 0; k < MD_DYN_SCOPES; k++) {
            for (int i = 0; i < n[k]; i++) {
                free(v[k][i].key);
                free(v[k][i].value);
            }
            free(v[k]);
        }
        return rc;
    }
    md_store_dyn_clear(s);
    for (int k = 0; k < MD_DYN_SCOPES; k++) {
        s->dyn[k] = v[k];
        s->ndyn[k] = n[k];
    }
    s->dyn_applied++;
    return 0;
}

/* "acl ..." lines up to "end": every ACL, replaced whole. */
static int read_acls(struct md_reader *r, struct md_store *s)
{
    struct acl_binding *v = NULL;
    int n = 0, rc;
    char why[128];

    while ((rc = next_line(r)) > 0 && strcmp(r->buf, "end") != 0) {
        struct acl_binding *nv;
        if (strncmp(r->buf, "acl ", 4) != 0) {
            rc = bad(r, "expected 'acl ...', found '%.64s'", r->buf);
            break;
        }
        if (!(nv = realloc(v, sizeof(*nv) * (size_t)(n + 1)))) {
            rc = -ENOMEM;
            break;
        }
        v = nv;
        if ((rc = md_acl_parse(r->buf + 4, &v[n], why, sizeof why)) < 0) {
            if (rc == -EINVAL)
                rc = bad(r, "%s", why);
            break;
        }
        n++;
    }
    if (rc == 0)
        rc = bad(r, "acls without its 'end'");
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            md_acl_free(&v[i]);
        free(v);
        return rc;
    }
    md_acls_replace(s, v, n);
    return 0;
}

static int md_parse(struct md_store *s, struct md_reader *r)
{
    const char *arg;
    uint8_t cid[16];
    int32_t fmt;
    int rc;

    if ((rc = expect(r, "format", &arg)) < 0)
        return rc;
    if (parse_int(arg, 0, INT32_MAX, &fmt) < 0 || fmt != MD_FORMAT)
        return bad(r, "format %.16s: this sluice reads format %d", arg,
                   MD_FORMAT);
    if ((rc = expect(r, "cluster.id", &arg)) < 0)
        return rc;
    if (md_id_parse(arg, strlen(arg), cid) < 0)
        return bad(r, "bad cluster id '%.32s'", arg);
    if (s->cluster_id[0] && strcmp(s->cluster_id, arg) != 0)
        return bad(r, "cluster id %.32s, but this cluster is %s", arg,
                   s->cluster_id);
    snprintf(s->cluster_id, sizeof s->cluster_id, "%s", arg);
    while ((rc = next_line(r)) > 0) {
        if (strcmp(r->buf, "broker-configs") == 0) {
            if ((rc = read_broker_configs(r, s)) < 0)
                return rc;
            continue;
        }
        if (strcmp(r->buf, "acls") == 0) {
            if ((rc = read_acls(r, s)) < 0)
                return rc;
            continue;
        }
        if (strncmp(r->buf, "node ", 5) == 0) {
            if ((rc = read_node(r, s, r->buf + 5)) < 0)
                return rc;
            continue;
        }
        if (strncmp(r->buf, "remove ", 7) == 0) {
            if ((rc = read_remove(r, s, r->buf + 7)) < 0)
                return rc;
            continue;
        }
        if (strncmp(r->buf, "topic ", 6) != 0)
            return bad(r, "expected 'topic <name>', found '%.64s'", r->buf);
        char name[MD_TOPIC_NAME_MAX + 2];
        snprintf(name, sizeof name, "%s", r->buf + 6);
        if ((rc = read_topic(r, s, name)) < 0)
            return rc;
    }
    return rc;
}

/* Checks that text[0..got) ends with its checksum line; *body is the
 * length before that line. 0 or -EINVAL with err. */
static int md_text_check(const char *text, size_t got, size_t *body,
                         const char *path, char *err, size_t errlen)
{
    const char *last = got > 1 ? memrchr(text, '\n', got - 1) : NULL;
    char line[17];
    unsigned want;
    char tail;

    *body = last ? (size_t)(last + 1 - text) : 0;
    if (got - *body == 16) {         /* the text need not end with a NUL */
        memcpy(line, text + *body, 16);
        line[16] = '\0';
    }
    if (got == 0 || text[got - 1] != '\n' || got - *body != 16 ||
        sscanf(line, "crc32c %8x%c", &want, &tail) != 2 || tail != '\n') {
        seterr(err, errlen, "%s: damaged: it does not end with its checksum "
               "line (truncated?)", path);
        return -EINVAL;
    }
    if (crc32c(text, *body) != want) {
        seterr(err, errlen, "%s: damaged: checksum mismatch (the file was "
               "edited or corrupted)", path);
        return -EINVAL;
    }
    return 0;
}

/* Parses a checked text into s. */
static int md_text_parse(struct md_store *s, const char *text, size_t len,
                         bool entry, const char *path, char *err,
                         size_t errlen)
{
    struct md_reader *r;
    size_t body;
    int rc;

    if ((rc = md_text_check(text, len, &body, path, err, errlen)) < 0)
        return rc;
    if (!(r = calloc(1, sizeof *r)))
        return -ENOMEM;
    *r = (struct md_reader){.p = text, .end = text + body, .path = path,
                            .err = err, .errlen = errlen, .entry = entry};
    rc = md_parse(s, r);
    free(r);
    return rc;
}

int md_text_apply(struct md_store *s, const char *text, size_t len,
                  char *err, size_t errlen)
{
    return md_text_parse(s, text, len, true, "metadata log entry", err,
                         errlen);
}

/* Reads the whole file into a malloc'ed, NUL-terminated buffer. 1 when
 * there is no file. */
static int md_read(const char *path, char **text, size_t *len, char *err,
                   size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    size_t got = 0;

    if (fd < 0)
        return errno == ENOENT ? 1 : -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!(*text = malloc((size_t)st.st_size + 1))) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, *text + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            goto out;
        }
        got += (size_t)k;
    }
    (*text)[got] = '\0';
    *len = got;
out:
    if (rc < 0)
        seterr(err, errlen, "cannot read %s: %s", path, strerror(-rc));
    close(fd);
    return rc;
}

int md_file_load(struct md_store *s, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = md_read(s->path, &text, &len, err, errlen);

    if (rc == 0)
        rc = md_text_parse(s, text, len, false, s->path, err, errlen);
    if (rc == -ENOMEM)
        seterr(err, errlen, "cannot load %s: out of memory", s->path);
    free(text);
    return rc;
}
