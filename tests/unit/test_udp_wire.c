/* test_udp_wire.c - the native UDP produce datagrams (udp_wire.h): what is
 * built parses back, and every malformed datagram is named, not read past
 * its end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "storage/batch.h"
#include "udp_fixture.h"

static void test_produce_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[2048];
    size_t n = udp_fixture_produce(buf, sizeof(buf), "feed", 3, 77, 2, 100, 5, 1000);
    assert_true(n > 0);
    assert_int_equal(udp_wire_type(buf, n), UDP_WIRE_PRODUCE);
    struct udp_produce d;
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_OK);
    assert_int_equal(d.topic_len, 4);
    assert_memory_equal(d.topic, "feed", 4);
    assert_int_equal(d.partition, 3);
    assert_int_equal(d.producer_id, 77);
    assert_int_equal(d.producer_epoch, 2);
    assert_int_equal(d.base_sequence, 100);
    assert_int_equal(d.last_sequence, 104);
    assert_int_equal(d.records, 5);
    assert_ptr_equal(d.batch, buf + 8 + 4 + UDP_WIRE_PRODUCE_BODY);
    assert_int_equal(d.batch_len, n - (8 + 4 + UDP_WIRE_PRODUCE_BODY));
    assert_true(batch_crc_ok(d.batch, d.batch_len));
}

static void test_reply_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[UDP_WIRE_REPLY_MAX];
    struct udp_reply r = { .type = UDP_WIRE_NAK, .topic = "t", .topic_len = 1,
                           .partition = 9, .producer_id = 1ll << 40, .producer_epoch = 3,
                           .error = UDP_WIRE_OUT_OF_ORDER_SEQUENCE, .sequence = 12,
                           .offset = -1 };
    size_t n = udp_wire_put_reply(buf, sizeof(buf), &r);
    assert_int_equal(n, 8 + 1 + UDP_WIRE_REPLY_BODY);
    struct udp_reply o;
    assert_int_equal(udp_wire_parse_reply(buf, n, &o), UDP_WIRE_OK);
    assert_int_equal(o.type, UDP_WIRE_NAK);
    assert_int_equal(o.partition, 9);
    assert_int_equal(o.producer_id, 1ll << 40);
    assert_int_equal(o.producer_epoch, 3);
    assert_int_equal(o.error, UDP_WIRE_OUT_OF_ORDER_SEQUENCE);
    assert_int_equal(o.sequence, 12);
    assert_int_equal(o.offset, -1);
    /* Too small a buffer, or a bad topic: nothing written. */
    assert_int_equal(udp_wire_put_reply(buf, n - 1, &r), 0);
    r.topic_len = 0;
    assert_int_equal(udp_wire_put_reply(buf, sizeof(buf), &r), 0);
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t good[2048], buf[2048];
    size_t n = udp_fixture_produce(good, sizeof(good), "feed", 0, 5, 0, 0, 2, 1);
    struct udp_produce d;
    /* Every truncation is refused, and parsing reads only buf[0..len). */
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, good, len);
        assert_int_not_equal(udp_wire_parse_produce(copy, len, &d), UDP_WIRE_OK);
        free(copy);
    }
    memcpy(buf, good, n);
    buf[0] = 'X';
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_MAGIC);
    assert_int_equal(udp_wire_type(buf, n), 0);
    memcpy(buf, good, n);
    buf[2] = 9;
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_VERSION);
    memcpy(buf, good, n);
    buf[3] = UDP_WIRE_ACK;
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_TYPE);
    memcpy(buf, good, n);
    be16_store(buf + 6, 2000);
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_TOPIC);
    memcpy(buf, good, n);
    be16_store(buf + 6, 0);
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_TOPIC);
    /* The header's producer fields must be the batch's. */
    memcpy(buf, good, n);
    be64_store(buf + 8 + 4 + 4, 6);
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_BATCH);
    memcpy(buf, good, n);
    be32_store(buf + 8 + 4 + 14, 1);
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_BAD_BATCH);
    /* A batch whose length is not the rest of the datagram. */
    memcpy(buf, good, n);
    buf[n] = 0;
    assert_int_equal(udp_wire_parse_produce(buf, n + 1, &d), UDP_WIRE_BAD_BATCH);
    /* A reply is not a produce, nor the other way round. */
    struct udp_reply r;
    assert_int_equal(udp_wire_parse_reply(good, n, &r), UDP_WIRE_BAD_TYPE);
}

static void test_sequence_wrap(void **state)
{
    (void)state;
    assert_int_equal(udp_wire_seq_add(INT32_MAX, 1), 0);
    assert_int_equal(udp_wire_seq_add(INT32_MAX - 1, 3), 1);
    assert_int_equal(udp_wire_seq_diff(0, INT32_MAX), 1);
    assert_int_equal(udp_wire_seq_diff(INT32_MAX, 0), -1);
    assert_int_equal(udp_wire_seq_diff(10, 4), 6);
    assert_int_equal(udp_wire_seq_diff(4, 10), -6);
    /* A batch whose sequences wrap: its last is counted from 0 again. */
    uint8_t buf[2048];
    size_t n = udp_fixture_produce(buf, sizeof(buf), "w", 0, 1, 0, INT32_MAX - 1, 4, 1);
    struct udp_produce d;
    assert_int_equal(udp_wire_parse_produce(buf, n, &d), UDP_WIRE_OK);
    assert_int_equal(d.last_sequence, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_roundtrip),
        cmocka_unit_test(test_reply_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sequence_wrap),
    };
    return cmocka_run_group_tests_name("udp_wire", tests, NULL, NULL);
}
