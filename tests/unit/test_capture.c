/* test_capture.c - feed capture: MoldUDP64 framing (moldudp64.h), gaps and
 * duplicates per session (seqtrack.h), and datagrams stored as records on
 * a real log (capture.h): keys, values, nanosecond timestamps, sequence
 * headers, re-requests and the hold that stores a gap fill in order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "dataplane/dpdk/capture.h"
#include "dataplane/dpdk/moldudp64.h"
#include "dataplane/dpdk/seqtrack.h"
#include "record_reader.h"
#include "storage_fixture.h"

#define NOW_MS 1700000000000ll
#define T0_NS (NOW_MS * 1000000ll)
#define SRC_IP 0x0a000001u /* 10.0.0.1 */
#define SESSION "SLUICE0001"

/* --- seqtrack ------------------------------------------------------------ */

static struct seq_result track(struct seq_session *s, uint64_t seq, uint64_t n,
                               enum seq_verdict want)
{
    struct seq_result r;
    seq_track(s, seq, n, &r);
    assert_int_equal(r.verdict, want);
    return r;
}

static void test_seqtrack(void **state)
{
    (void)state;
    struct seq_session s;
    seq_session_init(&s);
    track(&s, 1, 3, SEQ_FIRST);
    track(&s, 4, 2, SEQ_IN_ORDER);
    struct seq_result r = track(&s, 8, 1, SEQ_GAP);       /* 6, 7 missing */
    assert_int_equal(r.gap.from, 6);
    assert_int_equal(r.gap.count, 2);
    assert_int_equal(seq_missing(&s), 2);
    r = track(&s, 6, 1, SEQ_FILL);
    assert_int_equal(r.fill, 1);
    r = track(&s, 6, 1, SEQ_DUPLICATE);
    assert_int_equal(r.dup, 1);
    track(&s, 7, 1, SEQ_FILL);
    assert_int_equal(seq_missing(&s), 0);
    /* A heartbeat announcing 10 when 9 is next: 9 went missing. */
    r = track(&s, 10, 0, SEQ_GAP);
    assert_int_equal(r.gap.from, 9);
    assert_int_equal(r.gap.count, 1);
    track(&s, 10, 0, SEQ_IN_ORDER);
    /* Old, filling and new at once: 5..14 when 10 is next. */
    r = track(&s, 5, 10, SEQ_FILL);
    assert_int_equal(r.fill, 1);
    assert_int_equal(r.dup, 4);
    assert_int_equal(s.next, 15);
    /* Old and new, nothing filled: in order, with a repeat. */
    r = track(&s, 13, 4, SEQ_IN_ORDER);
    assert_int_equal(r.dup, 2);
    assert_int_equal(s.gaps, 2);
    assert_int_equal(s.gap_messages, 3);
    assert_int_equal(s.fill_messages, 3);
}

static void test_seqtrack_split_and_limit(void **state)
{
    (void)state;
    struct seq_session s;
    seq_session_init(&s);
    track(&s, 0, 10, SEQ_FIRST);
    track(&s, 20, 1, SEQ_GAP);                           /* [10, 20) */
    track(&s, 14, 2, SEQ_FILL);                          /* its middle */
    assert_int_equal(s.nopen, 2);
    assert_int_equal(s.open[0].from, 10);
    assert_int_equal(s.open[0].count, 4);
    assert_int_equal(s.open[1].from, 16);
    assert_int_equal(s.open[1].count, 4);
    assert_int_equal(seq_missing(&s), 8);
    /* More open gaps than kept: the oldest are given up, still counted. */
    uint64_t seq = 21;
    for (int i = 0; i < SEQ_GAPS_MAX; i++, seq += 2)
        track(&s, seq + 1, 1, SEQ_GAP);
    assert_int_equal(s.nopen, SEQ_GAPS_MAX);
    assert_int_equal(s.given_up, 2);
    assert_int_equal(s.gaps, 1 + SEQ_GAPS_MAX);
}

/* --- MoldUDP64 ---------------------------------------------------------- */

/* A packet of n messages "m<seq>" from seq. */
static size_t mold(uint8_t *buf, size_t cap, const char *session, uint64_t seq, int n)
{
    char text[16][16];
    const uint8_t *msgs[16];
    uint16_t lens[16];
    for (int i = 0; i < n; i++) {
        lens[i] = (uint16_t)snprintf(text[i], sizeof(text[i]), "m%llu",
                                     (unsigned long long)seq + (unsigned)i);
        msgs[i] = (const uint8_t *)text[i];
    }
    return mold_put_packet(buf, cap, session, seq, msgs, lens, (uint16_t)n);
}

static void test_mold_parse(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct mold_header h;
    size_t n = mold(buf, sizeof(buf), SESSION, 1000, 3);
    assert_int_equal(mold_parse(buf, n, &h), 0);
    assert_memory_equal(h.session, SESSION, MOLD_SESSION_LEN);
    assert_int_equal(h.seq, 1000);
    assert_int_equal(h.messages, 3);
    assert_int_equal(mold_parse(buf, 19, &h), -EINVAL);
    assert_int_equal(mold_parse(buf, n - 1, &h), -EBADMSG); /* last block cut */
    assert_int_equal(mold_parse(buf, n + 1, &h), -EBADMSG); /* a stray byte */
    be16_store(buf + 20, 500);                              /* a block past the end */
    assert_int_equal(mold_parse(buf, n, &h), -EBADMSG);
    assert_int_equal(h.seq, 1000);                          /* still read */
    n = mold(buf, sizeof(buf), SESSION, 77, 0);             /* a heartbeat */
    assert_int_equal(mold_parse(buf, n, &h), 0);
    assert_int_equal(h.messages, 0);
    be16_store(buf + 18, MOLD_END_OF_SESSION);
    assert_int_equal(mold_parse(buf, n, &h), 0);
    assert_int_equal(h.count, MOLD_END_OF_SESSION);
    assert_int_equal(h.messages, 0);
}

/* --- capture on a log ------------------------------------------------------ */

struct fx {
    char *dir;
    struct io_uring ring;
    struct log *log;
    struct capture *cap;
    struct capture_part *part;
    struct capture_config cfg;
    int cookie;
    int dirty;
    int requests;
    uint8_t request[64];
    uint32_t req_ip;
    uint16_t req_port, req_src;
    uint8_t buf[64 << 10];
};

static void on_dirty(void *ctx, void *cookie)
{
    struct fx *f = ctx;
    assert_ptr_equal(cookie, &f->cookie);
    f->dirty++;
}

static void on_send(void *ctx, uint32_t ip, uint16_t port, uint16_t src_port,
                    const uint8_t *payload, size_t len)
{
    struct fx *f = ctx;
    assert_int_equal(len, MOLD_HEADER_LEN);
    memcpy(f->request, payload, len);
    f->req_ip = ip;
    f->req_port = port;
    f->req_src = src_port;
    f->requests++;
}

static const struct capture_ops ops = { on_dirty, on_send };

static int setup_lz4(void **state, bool lz4)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = fixture_tmpdir();
    assert_int_equal(io_uring_queue_init(64, &f->ring, 0), 0);
    struct log_config lc;
    log_config_defaults(&lc);
    lc.compress_lz4 = lz4;
    assert_int_equal(log_open(&f->log, f->dir, "feed", 0, &lc, NOW_MS), 0);
    assert_int_equal(capture_create(&f->cap, &ops, f), 0);
    f->cfg = (struct capture_config){ .port = 30001, .seq = CAPTURE_SEQ_MOLDUDP64 };
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_lz4(state, false);
}

static int setup_compressed(void **state)
{
    return setup_lz4(state, true);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW_MS), 0);
    capture_after_flush(f->cap);
    assert_false(capture_busy(f->cap));
    capture_part_close(f->cap, &f->cookie);
    capture_destroy(f->cap);
    log_close(f->log);
    io_uring_queue_exit(&f->ring);
    fixture_rmdir(f->dir);
    free(f);
    return 0;
}

static void start(struct fx *f)
{
    f->part = capture_part_get(f->cap, &f->cookie, f->log, &f->cfg, 1048588);
    assert_non_null(f->part);
}

/* Datagram k of the test arrives at T0 + k us from port 5000. */
static void rx(struct fx *f, const uint8_t *d, size_t n, int k)
{
    capture_on_datagram(f->cap, f->part, d, n, SRC_IP, 5000, T0_NS + k * 1000ll,
                        T0_NS + k * 1000ll);
}

static void rx_mold(struct fx *f, uint64_t seq, int n, int k)
{
    uint8_t pkt[512];
    size_t len = mold(pkt, sizeof(pkt), SESSION, seq, n);
    rx(f, pkt, len, k);
}

/* Appends this turn's batches, makes them durable, frees the buffers. */
static void turn(struct fx *f, int64_t now_ns)
{
    capture_flush(f->cap, NOW_MS, now_ns);
    assert_int_equal(fixture_drain(f->log, &f->ring, NOW_MS), 0);
    capture_after_flush(f->cap);
}

/* Every stored record, in log order. */
static int read_all(struct fx *f, struct rr_record *out, int max)
{
    struct log_range r[8];
    int nr = log_read(f->log, 0, 1 << 30, r, 8);
    assert_true(nr >= 0);
    size_t off = 0;
    for (int i = 0; i < nr; i++) {
        assert_true(off + r[i].len <= sizeof(f->buf));
        assert_int_equal(pread(r[i].fd, f->buf + off, r[i].len, (off_t)r[i].pos), r[i].len);
        off += r[i].len;
    }
    struct rr_cursor c;
    rr_init(&c, f->buf, off);
    int n = 0;
    while (n < max && rr_next(&c, &out[n]))
        n++;
    return n;
}

static uint64_t header_u64(const struct rr_record *r, const char *name)
{
    long len;
    const uint8_t *v = rr_find(r, name, &len);
    assert_non_null(v);
    assert_int_equal(len, 8);
    return be64_load(v);
}

static bool has(const struct rr_record *r, const char *name)
{
    long len;
    return rr_find(r, name, &len) != NULL;
}

static void test_mold_feed_stored(void **state)
{
    struct fx *f = *state;
    start(f);
    rx_mold(f, 1, 3, 0);
    rx_mold(f, 4, 2, 1);
    rx_mold(f, 8, 1, 2);        /* 6 and 7 are lost */
    rx_mold(f, 4, 2, 3);        /* a repeat */
    rx_mold(f, 9, 0, 4);        /* a heartbeat */
    uint8_t junk[] = "too short";
    rx(f, junk, sizeof(junk), 5);
    assert_true(f->dirty > 0);
    turn(f, T0_NS);
    struct rr_record r[16];
    assert_int_equal(read_all(f, r, 16), 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(r[i].offset, i);
        assert_int_equal(r[i].key_len, 13);
        assert_memory_equal(r[i].key, "10.0.0.1:5000", 13);
        /* Nanoseconds in a header; Kafka's milliseconds in the record. */
        assert_int_equal(header_u64(&r[i], "sluice.ts.ns"), T0_NS + i * 1000ll);
        assert_int_equal(r[i].timestamp, NOW_MS);
    }
    uint8_t pkt[512];
    assert_int_equal(r[0].value_len, (long)mold(pkt, sizeof(pkt), SESSION, 1, 3));
    assert_memory_equal(r[0].value, pkt, (size_t)r[0].value_len);
    long len;
    assert_memory_equal(rr_find(&r[0], "sluice.session", &len), SESSION, 10);
    assert_int_equal(header_u64(&r[1], "sluice.seq"), 4);
    const uint8_t *gap = rr_find(&r[2], "sluice.gap", &len);
    assert_non_null(gap);
    assert_int_equal(len, 16);
    assert_int_equal(be64_load(gap), 6);
    assert_int_equal(be64_load(gap + 8), 2);
    assert_false(has(&r[1], "sluice.gap"));
    assert_int_equal(header_u64(&r[3], "sluice.dup"), 2);
    assert_false(has(&r[4], "sluice.dup"));
    assert_false(has(&r[5], "sluice.seq"));     /* no MoldUDP64 header */
    const struct capture_stats *st = capture_stats(f->cap);
    assert_int_equal(st->datagrams, 6);
    assert_int_equal(st->gaps, 1);
    assert_int_equal(st->gap_messages, 2);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->unsequenced, 1);
    assert_int_equal(st->batches, 1);           /* one turn, one batch */
    assert_int_equal(f->requests, 0);           /* no re-request server */
}

static void test_field_rule(void **state)
{
    struct fx *f = *state;
    f->cfg = (struct capture_config){ .port = 30001, .seq = CAPTURE_SEQ_FIELD, .seq_offset = 2,
                                      .seq_width = 4, .seq_little_endian = true };
    start(f);
    static const uint32_t seqs[] = { 100, 101, 103, 102, 102 };
    for (int i = 0; i < 5; i++) {
        uint8_t d[8] = { 'x', 'y', (uint8_t)seqs[i], (uint8_t)(seqs[i] >> 8), 0, 0, 'z', 'w' };
        rx(f, d, sizeof(d), i);
    }
    turn(f, T0_NS);
    struct rr_record r[8];
    assert_int_equal(read_all(f, r, 8), 5);
    assert_int_equal(header_u64(&r[2], "sluice.seq"), 103);
    assert_true(has(&r[2], "sluice.gap"));
    assert_int_equal(header_u64(&r[3], "sluice.fill"), 1);
    assert_int_equal(header_u64(&r[4], "sluice.dup"), 1);
    assert_false(has(&r[0], "sluice.count"));   /* MoldUDP64 only */
}

static void test_gap_fill_stored_in_order(void **state)
{
    struct fx *f = *state;
    f->cfg.retransmit_ip = 0x0a000009;
    f->cfg.retransmit_port = 30002;
    f->cfg.hold_ms = 5;
    start(f);
    rx_mold(f, 1, 2, 0);
    rx_mold(f, 5, 2, 1);        /* 3 and 4 lost: a re-request, then a hold */
    assert_int_equal(f->requests, 1);
    assert_int_equal(f->req_ip, 0x0a000009);
    assert_int_equal(f->req_port, 30002);
    assert_int_equal(f->req_src, 30001);
    assert_memory_equal(f->request, SESSION, 10);
    assert_int_equal(be64_load(f->request + 10), 3);
    assert_int_equal(be16_load(f->request + 18), 2);
    rx_mold(f, 7, 1, 2);
    turn(f, T0_NS + 1000000);   /* 1 ms: still holding */
    struct rr_record r[8];
    assert_int_equal(read_all(f, r, 8), 1);
    rx_mold(f, 3, 2, 3);        /* the fill */
    turn(f, T0_NS + 2000000);
    assert_int_equal(read_all(f, r, 8), 4);
    static const uint64_t order[] = { 1, 3, 5, 7 };
    for (int i = 0; i < 4; i++)
        assert_int_equal(header_u64(&r[i], "sluice.seq"), order[i]);
    assert_int_equal(header_u64(&r[1], "sluice.fill"), 2);
    assert_true(has(&r[2], "sluice.gap"));
    /* After the hold, in arrival order again. */
    rx_mold(f, 8, 1, 4);
    turn(f, T0_NS + 3000000);
    assert_int_equal(read_all(f, r, 8), 5);
    assert_int_equal(header_u64(&r[4], "sluice.seq"), 8);
    assert_int_equal(capture_stats(f->cap)->holds, 1);
    assert_int_equal(capture_stats(f->cap)->hold_timeouts, 0);
}

static void test_hold_times_out(void **state)
{
    struct fx *f = *state;
    f->cfg.retransmit_ip = 0x0a000009;
    f->cfg.retransmit_port = 30002;
    f->cfg.hold_ms = 5;
    start(f);
    rx_mold(f, 1, 1, 0);
    rx_mold(f, 3, 1, 1);        /* 2 never comes */
    turn(f, T0_NS + 2000000);
    struct rr_record r[8];
    assert_int_equal(read_all(f, r, 8), 1);
    turn(f, T0_NS + 7000000);   /* past the hold: stored without it */
    assert_int_equal(read_all(f, r, 8), 2);
    assert_int_equal(capture_stats(f->cap)->hold_timeouts, 1);
    rx_mold(f, 2, 1, 8);        /* late: stored where it arrives, a fill */
    turn(f, T0_NS + 8000000);
    assert_int_equal(read_all(f, r, 8), 3);
    assert_int_equal(header_u64(&r[2], "sluice.fill"), 1);
}

static void test_lz4_batches(void **state)
{
    struct fx *f = *state;
    start(f);
    size_t payloads = 0;
    for (int i = 0; i < 100; i++) {
        uint8_t pkt[512];
        size_t n = mold(pkt, sizeof(pkt), SESSION, 1 + (uint64_t)i * 4, 4);
        rx(f, pkt, n, i);
        payloads += n;
    }
    turn(f, T0_NS);
    struct log_range r[2];
    assert_int_equal(log_read(f->log, 0, 1 << 20, r, 2), 1);
    uint8_t hdr[BATCH_HEADER_SIZE];
    assert_int_equal(pread(r[0].fd, hdr, sizeof(hdr), (off_t)r[0].pos), sizeof(hdr));
    struct batch_header h;
    batch_header_decode(hdr, &h);
    assert_int_equal(h.attributes & BATCH_ATTR_CODEC_MASK, BATCH_CODEC_LZ4);
    assert_int_equal(h.records_count, 100);
    /* Keys, headers and payloads together take less than the payloads. */
    assert_true(batch_size(&h) < payloads);
    assert_int_equal(log_end_offset(f->log), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqtrack),
        cmocka_unit_test(test_seqtrack_split_and_limit),
        cmocka_unit_test(test_mold_parse),
        cmocka_unit_test_setup_teardown(test_mold_feed_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_fill_stored_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lz4_batches, setup_compressed, teardown),
    };
    return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
