/* md_file.c - the metadata file, DATA/__sluice/metadata.
 *
 * Owns: the text format below, writing it atomically and reading it back.
 *
 *   # comment lines and blank lines are skipped
 *   format 1
 *   cluster.id <22 characters, Kafka's base64 id>
 *   topic <name>
 *   id <22 characters>
 *   state live | deleting
 *   partitions <n>
 *   partition 0 shard <s>            one line per partition, in order
 *   config <key>=<value>             the topic's explicit configs
 *   end
 *   ...
 *   crc32c <8 hex digits>            of every byte before this line
 *
 * Invariants:
 *   1. The file is replaced, never modified: the new text goes to
 *      metadata.tmp, is fsync'ed, renamed over metadata, and the directory
 *      is fsync'ed; a crash leaves the old file or the new one.
 *   2. A file that does not check out (checksum, syntax, names, configs) is
 *      a startup error naming the line; nothing in it is ever dropped.
 *   3. Topics being created are not written (their partitions are empty);
 *      topics being deleted are, marked, so a restart finishes the delete.
 *
 * Never: touches a ring or a log. Every write, sync, rename and unlink goes
 * through storage_sys (storage/sys.h) so the power-cut simulation sees it. */
#include "control/md_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/crc32c.h"
#include "storage/sys.h"

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

static void put_topic(FILE *f, const struct md_live *l)
{
    char id[MD_ID_TEXT], cfg[CONFIG_VALUE_MAX * 4];
    int32_t n = l->state == MD_LIVE ? l->t.npartitions : l->nplaced;

    md_id_text(l->t.id, id);
    fprintf(f, "\ntopic %s\nid %s\nstate %s\npartitions %d\n", l->t.name, id,
            l->state == MD_LIVE ? "live" : "deleting", n);
    for (int32_t i = 0; i < n; i++)
        fprintf(f, "partition %d shard %d\n", i, l->t.partitions[i].leader);
    if (topic_config_serialize(&l->t.config, cfg, sizeof cfg) > 0)
        for (char *line = cfg, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            fprintf(f, "config %.*s\n", (int)(nl - line), line);
        }
    fputs("end\n", f);
}

/* The whole file as text, checksum line included; NULL on -ENOMEM. */
static char *md_file_text(const struct md_store *s, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (!f)
        return NULL;
    fprintf(f, "# sluice metadata: topics, their partitions' shards and "
               "configs.\n# Written by the control thread; do not edit: the "
               "last line checksums the rest.\nformat %d\ncluster.id %s\n",
            MD_FORMAT, s->cluster_id);
    for (int32_t i = 0; i < s->ntopics; i++)
        if (s->topics[i]->state != MD_CREATING)
            put_topic(f, s->topics[i]);
    fputc('\n', f);
    if (fflush(f) != 0 || !text) {
        fclose(f);
        free(text);
        return NULL;
    }
    fprintf(f, "crc32c %08x\n", crc32c(text, *len));
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int md_file_save(const struct md_store *s, char *err, size_t errlen)
{
    size_t len = 0, plen = strlen(s->path);
    char *text = md_file_text(s, &len), *tmp = malloc(plen + 5);
    const char *what = "write";
    int fd = -1, rc = -ENOMEM;

    if (!text || !tmp) {
        seterr(err, errlen, "cannot write %s: out of memory", s->path);
        goto out;
    }
    memcpy(tmp, s->path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    fd = storage_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        what = "create";
        goto fail;
    }
    if ((rc = storage_pwrite_all(fd, text, len, 0)) < 0)
        goto fail;
    what = "fsync";
    if (storage_sys.fsync(fd) < 0 || storage_sys.close(fd) < 0) {
        rc = -errno;
        fd = -1;
        goto fail;
    }
    fd = -1;
    what = "rename";
    if (storage_sys.rename(tmp, s->path) < 0) {
        rc = -errno;
        goto fail;
    }
    what = "fsync the directory of";
    if ((rc = storage_sync_dir(s->dir)) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    seterr(err, errlen, "cannot %s %s: %s", what, tmp, strerror(-rc));
    if (fd >= 0)
        storage_sys.close(fd);
    storage_sys.unlink(tmp);
out:
    free(text);
    free(tmp);
    return rc;
}

/* --- reading -------------------------------------------------------------- */

struct md_reader {
    const char *p, *end;
    int line;                  /* of the line last read */
    const char *path;
    char *err;
    size_t errlen;
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

/* "partition <i> shard <s>" lines; a shard that no longer exists is
 * noted as -1 for md_file_replace. */
static int read_placement(struct md_reader *r, struct md_store *s,
                          struct md_live *l)
{
    for (int32_t i = 0; i < l->nplaced; i++) {
        const char *arg;
        char *sp;
        int32_t idx, shard;
        int rc = expect(r, "partition", &arg);
        if (rc < 0)
            return rc;
        sp = strchr(arg, ' ');
        if (!sp || strncmp(sp, " shard ", 7) != 0)
            return bad(r, "expected 'partition %d shard <s>'", i);
        *sp = '\0';
        if (parse_int(arg, 0, INT32_MAX, &idx) < 0 || idx != i ||
            parse_int(sp + 7, 0, INT32_MAX, &shard) < 0)
            return bad(r, "expected 'partition %d shard <s>'", i);
        l->t.partitions[i] = (struct md_partition){.index = i,
                                                   .leader = shard};
        if (shard < s->nshards)
            s->load[shard]++;
        else
            l->t.partitions[i].leader = -1;
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
        rc = bad(r, "the file ends inside topic %s", l->t.name);
    if (fclose(f) != 0 && rc > 0)
        rc = -ENOMEM;
    topic_config_from_broker(s->cfg, &l->t.config);
    if (rc > 0 && topic_config_deserialize(&l->t.config, text, len, cerr,
                                           sizeof cerr) < 0)
        rc = bad(r, "topic %s: %s", l->t.name, cerr);
    free(text);
    return rc < 0 ? rc : 0;
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
    if (md_store_find(s, name))
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
        (rc = read_configs(r, s, l)) < 0 || (rc = md_store_insert(s, l)) < 0)
        goto err;
    return 0;
err:
    md_store_unplace(s, l, 0);
    free(l->t.partitions);
    free(l);
    return rc;
}

/* Partitions placed on shards that no longer exist (fewer shards than
 * when the file was written) go to the least loaded of today's. */
static int md_file_replace(struct md_store *s)
{
    int moved = 0;

    for (int32_t i = 0; i < s->ntopics; i++) {
        struct md_live *l = s->topics[i];
        for (int32_t p = 0; p < l->nplaced; p++) {
            if (l->t.partitions[p].leader >= 0)
                continue;
            int32_t best = 0;
            for (int32_t k = 1; k < s->nshards; k++)
                if (s->load[k] < s->load[best])
                    best = k;
            l->t.partitions[p].leader = best;
            s->load[best]++;
            moved++;
        }
    }
    return moved;
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
    snprintf(s->cluster_id, sizeof s->cluster_id, "%s", arg);
    while ((rc = next_line(r)) > 0) {
        if (strncmp(r->buf, "topic ", 6) != 0)
            return bad(r, "expected 'topic <name>', found '%.64s'", r->buf);
        char name[MD_TOPIC_NAME_MAX + 2];
        snprintf(name, sizeof name, "%s", r->buf + 6);
        if ((rc = read_topic(r, s, name)) < 0)
            return rc;
    }
    return rc;
}

/* Reads the whole file; checks and strips its checksum line. */
static int md_read(struct md_store *s, char **text, size_t *len, char *err,
                   size_t errlen)
{
    struct stat st;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC), rc = 0;
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
    char *last = got ? memrchr(*text, '\n', got - 1) : NULL;
    size_t body = last ? (size_t)(last + 1 - *text) : 0;
    unsigned want;
    char tail;
    if (got == 0 || (*text)[got - 1] != '\n' ||
        sscanf(*text + body, "crc32c %8x%c", &want, &tail) != 2 ||
        tail != '\n' || got - body != 16) {
        seterr(err, errlen, "%s: damaged: it does not end with its checksum "
               "line (truncated?)", s->path);
        rc = -EINVAL;
    } else if (crc32c(*text, body) != want) {
        seterr(err, errlen, "%s: damaged: checksum mismatch (the file was "
               "edited or corrupted)", s->path);
        rc = -EINVAL;
    }
    *len = body;
out:
    if (rc < 0 && rc != -EINVAL)
        seterr(err, errlen, "cannot read %s: %s", s->path, strerror(-rc));
    close(fd);
    return rc;
}

int md_file_load(struct md_store *s, char *err, size_t errlen)
{
    struct md_reader *r = NULL;
    char *text = NULL, why[256];
    size_t len = 0;
    int rc = md_read(s, &text, &len, err, errlen), moved;

    if (rc != 0)
        goto out;
    if (!(r = calloc(1, sizeof *r))) {
        rc = -ENOMEM;
        goto out;
    }
    *r = (struct md_reader){.p = text, .end = text + len, .path = s->path,
                            .err = err, .errlen = errlen};
    if ((rc = md_parse(s, r)) < 0)
        goto out;
    if ((moved = md_file_replace(s)) > 0) {
        fprintf(stderr, "sluice: %s: %d partition(s) were on shards that no "
                "longer exist; placed again on shards 0..%d\n", s->path,
                moved, s->nshards - 1);
        if ((rc = md_file_save(s, why, sizeof why)) < 0)
            seterr(err, errlen, "%s", why);
    }
out:
    if (rc == -ENOMEM)
        seterr(err, errlen, "cannot load %s: out of memory", s->path);
    free(r);
    free(text);
    return rc;
}
