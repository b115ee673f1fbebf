/* make_seeds.c - writes seed inputs for the fuzz targets from what the
 * storage and control code itself writes: batches (plain, LZ4, several in
 * a set), a real segment with its indexes, an offsets log, configs.
 *
 *   build/tests/fuzz/make_seeds tests/fuzz/corpus
 *
 * The output is committed under tests/fuzz/corpus/<target>/; run this
 * again when a format changes. (fuzz_request's seeds are the real client
 * frames of ../shared/corpus/kafka, stripped by run_fuzz.sh; fuzz_udp's
 * are in tests/fuzz/corpus_udp.) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/md_store.h"
#include "control/offsets.h"
#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/batch_compress.h"
#include "storage/crc32c.h"
#include "storage/io.h"
#include "storage/log.h"
#include "fuzz_util.h"

#define NOW 1700000000000ll

static const char *out;

static void put(const char *target, const char *name, uint8_t flags, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(&flags, 1, 1, f) != 1 || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static size_t make_batch(uint8_t *buf, size_t cap, int n, size_t vlen, int64_t ts)
{
    struct batch_builder b;
    char v[2048];
    batch_builder_init(&b, buf, cap, ts);
    memset(v, 'x', sizeof(v));
    for (int i = 0; i < n; i++) {
        struct record_header h = { "h", 1, "1", 1 };
        char k[16];
        int kl = snprintf(k, sizeof(k), "k%d", i);
        batch_builder_add(&b, ts + i, k, (size_t)kl, v, vlen, &h, i % 2);
    }
    return batch_builder_finish(&b, 0);
}

/* A file of exactly these bytes (targets without a flag byte). */
static void put_raw(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void batches(void)
{
    static uint8_t set[65536];
    size_t len = make_batch(set, sizeof(set), 1, 10, NOW);
    put("fuzz_batch", "one-record", 0, set, len);
    len = make_batch(set, sizeof(set), 7, 100, NOW);
    put("fuzz_batch", "seven-records", 0, set, len);
    put_raw("fuzz_clean_batch", "seven-records", set, len);
    put("fuzz_console", "batches", 0, set, len); /* byte 0 even: the batch decoder */
    uint8_t *z;
    size_t zlen;
    if (batch_compress_lz4(set, len, &z, &zlen) == 0) {
        put("fuzz_batch", "lz4", 0, z, zlen);
        put_raw("fuzz_clean_batch", "lz4", z, zlen);
        free(z);
    }
    /* The cleaner's transactions: an abort marker, and data of a
     * transaction (producer 5, transactional bit, CRC made again). */
    len = batch_build_marker(set, sizeof(set), 5, 0, 0, 0, NOW);
    put_raw("fuzz_clean_batch", "abort-marker", set, len);
    len = make_batch(set, sizeof(set), 7, 100, NOW);
    be64_store(set + BATCH_OFF_PRODUCER_ID, 5);
    be16_store(set + BATCH_OFF_ATTRIBUTES,
               be16_load(set + BATCH_OFF_ATTRIBUTES) | BATCH_ATTR_TRANSACTIONAL);
    be32_store(set + BATCH_OFF_CRC, crc32c(set + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
    put_raw("fuzz_clean_batch", "transactional", set, len);
    size_t at = 0;
    for (int i = 0; i < 3; i++)
        at += make_batch(set + at, sizeof(set) - at, 2 + i, 30, NOW + i);
    put("fuzz_batch", "three-batches", 0, set, at);
}

/* A real partition: two segments with indexes, for fuzz_segment and
 * fuzz_index. */
static void segments(void)
{
    const char *dir = fuzz_scratch();
    struct log_config cfg;
    struct log *log;
    struct io_uring ring;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 64;
    if (io_uring_queue_init(8, &ring, 0) < 0 || log_open(&log, dir, "t", 0, &cfg, NOW) < 0)
        exit(1);
    static uint8_t bufs[16][2048];
    for (int i = 0; i < 16; i++) {
        struct log_append_result res;
        size_t len = make_batch(bufs[i], sizeof(bufs[i]), 1 + i % 3, 200, NOW + i * 10);
        while (log_append(log, bufs[i], len, NOW, &res) == -EAGAIN) {
            log_flush_submit(log, &ring, NOW);
            io_ring_run_once(&ring);
        }
    }
    while (log_flush_pending(log)) {
        log_flush_submit(log, &ring, NOW);
        if (log_flush_pending(log))
            io_ring_run_once(&ring);
    }
    if (log_close(log) < 0)
        exit(1);
    char path[256];
    uint8_t *p;
    size_t n;
    snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.log", dir);
    FILE *f = fopen(path, "rb");
    static uint8_t seg[1 << 16], both[1 << 17];
    n = fread(seg, 1, sizeof(seg), f);
    fclose(f);
    put("fuzz_segment", "one-segment", 0, seg, n);
    put("fuzz_segment", "one-segment-clean", 2, seg, n);
    snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.index", dir);
    f = fopen(path, "rb");
    size_t ilen = f ? fread(both, 1, sizeof(both), f) : 0;
    if (f)
        fclose(f);
    memcpy(both + ilen, "\xff\x00", 2);
    snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.timeindex", dir);
    f = fopen(path, "rb");
    size_t tlen = f ? fread(both + ilen + 2, 1, sizeof(both) - ilen - 2, f) : 0;
    if (f)
        fclose(f);
    p = both;
    /* fuzz_index has no flag byte: put() writes one, so drop it there. */
    snprintf(path, sizeof(path), "%s/fuzz_index", out);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/fuzz_index/real", out);
    f = fopen(path, "wb");
    fwrite(p, 1, ilen + 2 + tlen, f);
    fclose(f);
    /* The segment with its index, trusted by a recovery point. */
    memcpy(seg + n, "\xfd\xfd", 2);
    memcpy(seg + n + 2, both, ilen);
    put("fuzz_segment", "with-index", 6, seg, n + 2 + ilen);
    io_uring_queue_exit(&ring);
}

static void on_answer(void *ctx, struct ctl_msg *m)
{
    (void)ctx;
    (void)m;
}

static void offsets_log(void)
{
    const char *dir = fuzz_scratch();
    struct offsets_options opt = { .retention_ms = 7 * 24 * 3600 * 1000ll };
    struct offsets *o;
    char err[256], odir[128], path[192];
    snprintf(odir, sizeof(odir), "%s/offsets", dir);
    if (offsets_create(&o, odir, &opt, on_answer, NULL, NOW, err, sizeof(err)) < 0)
        exit(1);
    for (int i = 0; i < 6; i++) {
        struct {
            struct ctl_msg m;
            struct ctl_offset_topic t;
            struct ctl_offset_partition p;
            uint8_t arena[4096];
        } x;
        memset(&x, 0, sizeof(x));
        x.m.op = i == 5 ? CTL_OFFSET_DELETE : CTL_OFFSET_COMMIT;
        x.m.arena = (struct ctl_arena){ .buf = x.arena, .cap = sizeof(x.arena) };
        x.m.u.offsets = (struct ctl_offsets){ .group_id = i % 2 ? "g1" : "group-two",
                                              .member_id = "", .generation = -1,
                                              .retention_ms = -1, .ntopics = 1, .topics = &x.t };
        x.t = (struct ctl_offset_topic){ .name = "orders", .npartitions = 1, .partitions = &x.p };
        x.p = (struct ctl_offset_partition){ .partition = i % 3, .offset = 100 + i,
                                             .leader_epoch = 2, .metadata = i % 2 ? "m" : NULL,
                                             .metadata_len = i % 2 ? 1 : -1 };
        offsets_request(o, &x.m, NOW);
        offsets_flush(o);
    }
    offsets_destroy(o);
    snprintf(path, sizeof(path), "%s/offsets.log", odir);
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    put("fuzz_offsets", "six-records", 0, buf, n);
    if (n > 16)
        put("fuzz_offsets", "records-only", 1, buf + 16, n - 16);
}

static void checkpoints(void)
{
    const char *dir = fuzz_scratch();
    char path[512];
    static uint8_t buf[4096];
    if (log_start_checkpoint_write(dir, 12345) < 0)
        exit(1);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
        if (f)
            fclose(f);
        put_raw("fuzz_checkpoint", de->d_name, buf, n);
    }
    if (d)
        closedir(d);
}

static void md_texts(void)
{
    static struct broker_config cfg;
    struct md_store s;
    int32_t load[2] = { 0, 0 };
    struct topic_config tc;
    struct md_live *l;
    char err[256];
    broker_config_defaults(&cfg);
    memset(&s, 0, sizeof(s));
    s.cfg = &cfg;
    s.nshards = 2;
    s.load = load;
    snprintf(s.cluster_id, sizeof(s.cluster_id), "AAAAAAAAAAAAAAAAAAAAAA");
    topic_config_from_broker(&cfg, &tc);
    topic_config_set(&tc, "retention.ms", "1000", err, sizeof(err));
    if (md_store_add(&s, "orders", 3, 1, &tc, &l) < 0)
        exit(1);
    l->state = MD_LIVE;
    l->t.npartitions = l->nplaced;
    if (md_store_add(&s, "gone", 1, 1, &tc, &l) < 0)
        exit(1);
    l->state = MD_DELETING;
    size_t len;
    char *t = md_text_build(&s, false, &len, NULL);
    if (t) {
        put("fuzz_md_text", "snapshot", 0, t, len);
        free(t);
    }
    while (s.ntopics > 0)
        md_store_forget(&s, s.topics[s.ntopics - 1]);
    free(s.topics);
    free(s.tombs);
}

static void assignments(void)
{
    /* A consumer-protocol assignment as SyncGroup carries it: version 1,
     * topic "t" with partitions 0 and 2, four bytes of user data. */
    static const uint8_t a[] = { 0, 1, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2,
                                 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4, 'u', 's', 'e', 'r' };
    put("fuzz_console", "assignment", 1, a, sizeof(a)); /* byte 0 odd: assignments */
}

static void epochs(void)
{
    /* Kafka's leader-epoch-checkpoint: version, count, "epoch offset". */
    static const char text[] = "0\n3\n0 0\n2 100\n5 4000\n";
    put_raw("fuzz_epoch", "three-epochs", text, sizeof(text) - 1);
}

static void configs(const char *props)
{
    static char buf[1 << 16];
    FILE *f = fopen(props, "rb");
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    put_raw("fuzz_config", "server.properties", buf, n);
    const char *t = "retention.ms=86400000\ncleanup.policy=compact,delete\nsegment.bytes=1048576\n"
                    "sluice.flush.policy=interval\nflush.messages=10\n";
    put_raw("fuzz_config", "topic", t, strlen(t));
    const char *e = "listeners=PLAINTEXT://[::1]:9092,SSL://host\\:x:1\\\n  ,A://:0\n"
                    "advertised.listeners = PLAINTEXT://h:1 \nkey\\=with\\u0041escape: v\n";
    put_raw("fuzz_config", "escapes", e, strlen(e));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s OUT_DIR config/server.properties\n", argv[0]);
        return 2;
    }
    out = argv[1];
    mkdir(out, 0755);
    batches();
    segments();
    offsets_log();
    checkpoints();
    md_texts();
    epochs();
    assignments();
    configs(argv[2]);
    fuzz_scratch();
    return 0;
}
