/*
 * test_codec.c - unit tests of the Kafka codec: wire primitives (round
 * trips, varint edges, sticky errors, classic vs compact forms), headers,
 * the API table, and the table-driven message codec (defaults, tagged
 * fields, nulls, arena limits, fetch-response record holes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/kafka/api.h"
#include "dataplane/kafka/codec.h"
#include "dataplane/kafka/msg_fetch.h"
#include "dataplane/kafka/msg_metadata.h"
#include "dataplane/kafka/msg_produce.h"
#include "dataplane/kafka/schema.h"

static uint8_t buf[4096];
static uint8_t arena_buf[16384];

static void test_ints_roundtrip(void **state)
{
	struct kwriter w;
	struct kreader r;
	(void)state;

	kwriter_init(&w, buf, sizeof(buf));
	kw_int8(&w, -2);
	kw_int16(&w, -3);
	kw_int32(&w, 0x01020304);
	kw_int64(&w, INT64_MIN);
	kw_uint32(&w, UINT32_MAX);
	kw_bool(&w, true);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 1 + 2 + 4 + 8 + 4 + 1);
	assert_memory_equal(buf + 3, "\x01\x02\x03\x04", 4);   /* big-endian */

	kreader_init(&r, buf, w.len);
	assert_int_equal(kr_int8(&r), -2);
	assert_int_equal(kr_int16(&r), -3);
	assert_int_equal(kr_int32(&r), 0x01020304);
	assert_true(kr_int64(&r) == INT64_MIN);
	assert_true(kr_uint32(&r) == UINT32_MAX);
	assert_true(kr_bool(&r));
	assert_int_equal(r.err, 0);
	assert_int_equal(kreader_left(&r), 0);
}

static void test_uvarint_edges(void **state)
{
	static const struct { uint32_t v; size_t n; } cases[] = {
		{ 0, 1 }, { 1, 1 }, { 127, 1 }, { 128, 2 }, { 16383, 2 },
		{ 16384, 3 }, { 2097151, 3 }, { 2097152, 4 }, { 268435455, 4 },
		{ 268435456, 5 }, { UINT32_MAX, 5 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kwriter w;
		struct kreader r;
		kwriter_init(&w, buf, sizeof(buf));
		kw_uvarint(&w, cases[i].v);
		assert_int_equal(w.len, cases[i].n);
		assert_int_equal(kw_uvarint_size(cases[i].v), cases[i].n);
		kreader_init(&r, buf, w.len);
		assert_true(kr_uvarint(&r) == cases[i].v);
		assert_int_equal(r.err, 0);
	}
	/* 128 is 0x80 0x01 */
	struct kreader r;
	kreader_init(&r, "\x80\x01", 2);
	assert_int_equal(kr_uvarint(&r), 128);
	/* six bytes and 33-bit values are malformed */
	kreader_init(&r, "\x80\x80\x80\x80\x80\x01", 6);
	assert_int_equal(kr_uvarint(&r), 0);
	assert_int_equal(r.err, -EBADMSG);
	kreader_init(&r, "\xff\xff\xff\xff\x1f", 5);
	kr_uvarint(&r);
	assert_int_equal(r.err, -EBADMSG);
	kreader_init(&r, "\xff\xff\xff\xff\x0f", 5);
	assert_true(kr_uvarint(&r) == UINT32_MAX);
	assert_int_equal(r.err, 0);
	/* a continuation bit on the last byte of the buffer */
	kreader_init(&r, "\x80", 1);
	kr_uvarint(&r);
	assert_int_equal(r.err, -EBADMSG);
}

static void test_varint_zigzag(void **state)
{
	static const struct { int32_t v; const char *enc; size_t n; } cases[] = {
		{ 0, "\x00", 1 }, { -1, "\x01", 1 }, { 1, "\x02", 1 },
		{ -64, "\x7f", 1 }, { 64, "\x80\x01", 2 },
		{ INT32_MAX, "\xfe\xff\xff\xff\x0f", 5 },
		{ INT32_MIN, "\xff\xff\xff\xff\x0f", 5 },
	};
	static const int64_t longs[] = { 0, -1, 1, INT64_MAX, INT64_MIN, 1LL << 40, -(1LL << 50) };
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kwriter w;
		struct kreader r;
		kwriter_init(&w, buf, sizeof(buf));
		kw_varint(&w, cases[i].v);
		assert_int_equal(w.len, cases[i].n);
		assert_memory_equal(buf, cases[i].enc, cases[i].n);
		kreader_init(&r, buf, w.len);
		assert_int_equal(kr_varint(&r), cases[i].v);
	}
	for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
		struct kwriter w;
		struct kreader r;
		kwriter_init(&w, buf, sizeof(buf));
		kw_varlong(&w, longs[i]);
		assert_true(w.len <= 10);
		kreader_init(&r, buf, w.len);
		assert_true(kr_varlong(&r) == longs[i]);
		assert_int_equal(r.err, 0);
	}
	struct kreader r;   /* 11-byte varlong */
	kreader_init(&r, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11);
	kr_varlong(&r);
	assert_int_equal(r.err, -EBADMSG);
}

static void test_sticky_truncation(void **state)
{
	struct kreader r;
	(void)state;

	kreader_init(&r, "\x01\x02\x03", 3);
	assert_int_equal(kr_int32(&r), 0);
	assert_int_equal(r.err, -EBADMSG);
	assert_int_equal(kreader_left(&r), 0);
	assert_int_equal(kr_int8(&r), 0);       /* still failing */
	assert_int_equal(r.err, -EBADMSG);

	kreader_init(&r, "\x00\x05" "abc", 5);   /* string longer than frame */
	struct kstr s = kr_string(&r);
	assert_null(s.p);
	assert_int_equal(s.len, 0);
	assert_int_equal(r.err, -EBADMSG);

	kreader_init(&r, "\xff\xfe", 2);         /* length -2 */
	kr_string(&r);
	assert_int_equal(r.err, -EBADMSG);
	kreader_init(&r, "\xff\xff\xff\xfe", 4); /* array length -2 */
	kr_array_len(&r);
	assert_int_equal(r.err, -EBADMSG);
	kreader_init(&r, "\x00\x00\x00\x10", 4); /* bytes past the end */
	kr_bytes(&r);
	assert_int_equal(r.err, -EBADMSG);
	kreader_init(&r, "\x01\x02", 2);         /* uuid needs 16 */
	struct kuuid u = kr_uuid(&r);
	assert_int_equal(u.b[0], 0);
	assert_int_equal(r.err, -EBADMSG);
}

static void test_strings_classic_vs_compact(void **state)
{
	struct kwriter w;
	struct kreader r;
	(void)state;

	kwriter_init(&w, buf, sizeof(buf));
	kw_string(&w, KSTR_LIT("abc"));
	kw_compact_string(&w, KSTR_LIT("abc"));
	kw_string(&w, KSTR_NULL);
	kw_compact_string(&w, KSTR_NULL);
	kw_compact_string(&w, KSTR_LIT(""));
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 5 + 4 + 2 + 1 + 1);
	assert_memory_equal(buf, "\x00\x03" "abc" "\x04" "abc" "\xff\xff" "\x00" "\x01", 13);

	kreader_init(&r, buf, w.len);
	assert_true(kstr_eq(kr_string(&r), "abc"));
	struct kstr c = kr_compact_string(&r);
	assert_true(kstr_eq(c, "abc"));
	assert_ptr_equal(c.p, buf + 6);         /* a view, not a copy */
	assert_int_equal(kr_string(&r).len, -1);
	assert_int_equal(kr_compact_string(&r).len, -1);
	assert_int_equal(kr_compact_string(&r).len, 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(kreader_left(&r), 0);

	kwriter_init(&w, buf, sizeof(buf));     /* strings > int16 are refused */
	kw_string(&w, (struct kstr){ "x", 40000 });
	assert_int_equal(w.err, -EINVAL);
}

static void test_bytes_and_arrays(void **state)
{
	static const uint8_t data[] = { 9, 8, 7 };
	struct kwriter w;
	struct kreader r;
	(void)state;

	kwriter_init(&w, buf, sizeof(buf));
	kw_bytes(&w, (struct kbytes){ data, 3 });
	kw_compact_bytes(&w, (struct kbytes){ data, 3 });
	kw_bytes(&w, (struct kbytes){ NULL, -1 });
	kw_compact_bytes(&w, (struct kbytes){ NULL, -1 });
	kw_array_len(&w, 5);
	kw_array_len(&w, -1);
	kw_compact_array_len(&w, 5);
	kw_compact_array_len(&w, -1);
	kw_compact_array_len(&w, 0);
	assert_int_equal(w.err, 0);

	kreader_init(&r, buf, w.len);
	struct kbytes b = kr_bytes(&r);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, data, 3);
	b = kr_compact_bytes(&r);
	assert_int_equal(b.len, 3);
	assert_int_equal(kr_bytes(&r).len, -1);
	assert_int_equal(kr_compact_bytes(&r).len, -1);
	assert_int_equal(kr_array_len(&r), 5);
	assert_int_equal(kr_array_len(&r), -1);
	assert_int_equal(kr_compact_array_len(&r), 5);
	assert_int_equal(kr_compact_array_len(&r), -1);
	assert_int_equal(kr_compact_array_len(&r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(kreader_left(&r), 0);
}

static void test_tags_and_uuid(void **state)
{
	/* two tags: (0, 2 bytes), (7, 0 bytes), then a trailing int8 */
	static const uint8_t tags[] = { 2, 0, 2, 0xaa, 0xbb, 7, 0, 0x42 };
	struct kuuid u = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } };
	struct kreader r;
	struct kwriter w;
	(void)state;

	kreader_init(&r, tags, sizeof(tags));
	kr_tags_skip(&r);
	assert_int_equal(kr_int8(&r), 0x42);
	assert_int_equal(r.err, 0);
	kreader_init(&r, tags, 4);              /* truncated inside a tag */
	kr_tags_skip(&r);
	assert_int_equal(r.err, -EBADMSG);

	kwriter_init(&w, buf, sizeof(buf));
	kw_uuid(&w, &u);
	kw_tags_empty(&w);
	assert_int_equal(w.len, 17);
	kreader_init(&r, buf, w.len);
	struct kuuid v = kr_uuid(&r);
	assert_memory_equal(&u, &v, sizeof(u));
	assert_int_equal(kr_uvarint(&r), 0);
}

static void test_writer_overflow_and_counting(void **state)
{
	struct kwriter w;
	(void)state;

	kwriter_init(&w, buf, 3);
	kw_int16(&w, 1);
	kw_int32(&w, 2);                        /* does not fit */
	assert_int_equal(w.err, -ENOSPC);
	assert_int_equal(w.len, 2);
	kw_int8(&w, 3);                         /* sticky: nothing more */
	assert_int_equal(w.len, 2);

	kwriter_init(&w, NULL, 0);              /* counting mode */
	kw_int64(&w, 1);
	kw_compact_string(&w, KSTR_LIT("hello"));
	kw_uvarint(&w, 300);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 8 + 6 + 2);
}

static void test_request_headers(void **state)
{
	struct kafka_request_header h = { KAFKA_API_VERSIONS, 3, 7, KSTR_LIT("rdkafka"), 0 };
	struct kafka_request_header g;
	struct kwriter w;
	struct kreader r;
	(void)state;

	kwriter_init(&w, buf, sizeof(buf));
	kafka_request_header_write(&w, &h);
	assert_int_equal(w.len, 2 + 2 + 4 + 2 + 7 + 1); /* v2: + tag byte */
	kreader_init(&r, buf, w.len);
	assert_int_equal(kafka_request_header_parse(&r, &g), 0);
	assert_int_equal(g.version, 2);
	assert_int_equal(g.correlation_id, 7);
	assert_true(kstr_eq(g.client_id, "rdkafka"));
	assert_int_equal(kreader_left(&r), 0);

	h = (struct kafka_request_header){ KAFKA_METADATA, 2, -5, KSTR_NULL, 0 };
	kwriter_init(&w, buf, sizeof(buf));
	kafka_request_header_write(&w, &h);
	assert_int_equal(w.len, 10);
	kreader_init(&r, buf, w.len);
	assert_int_equal(kafka_request_header_parse(&r, &g), 0);
	assert_int_equal(g.version, 1);
	assert_int_equal(g.client_id.len, -1);
	assert_int_equal(g.correlation_id, -5);

	kreader_init(&r, buf, 7);               /* truncated header */
	assert_int_equal(kafka_request_header_parse(&r, &g), -EBADMSG);
}

static void test_response_headers(void **state)
{
	struct kwriter w;
	(void)state;

	assert_int_equal(kafka_response_header_version(KAFKA_API_VERSIONS, 3), 0);
	assert_int_equal(kafka_response_header_version(KAFKA_METADATA, 9), 1);
	assert_int_equal(kafka_response_header_version(KAFKA_METADATA, 8), 0);
	assert_int_equal(kafka_response_header_version(KAFKA_DESCRIBE_CLUSTER, 0), 1);

	kwriter_init(&w, buf, sizeof(buf));
	struct kafka_frame f = kafka_response_begin(&w, KAFKA_METADATA, 9, 0x11223344);
	kw_int16(&w, 0);
	assert_int_equal(kafka_response_end(&w, f), 0);
	assert_int_equal(w.len, 4 + 4 + 1 + 2);
	assert_memory_equal(buf, "\x00\x00\x00\x07\x11\x22\x33\x44\x00\x00\x00", 11);
}

static void test_api_table(void **state)
{
	static const int16_t keys[] = { 18, 3, 0, 1, 2, 19, 20, 37, 32, 33, 44, 60, 10,
					11, 14, 12, 13, 8, 9, 47, 16, 15, 42, 22, 17, 21, 62,
					24, 25, 26, 27, 28, 61, 65, 66, 75,
					36, 50, 51, 29, 30, 31, 23, 56, 43, 45, 46 };
	const struct kafka_api *a;
	int i = 0, n = 0;
	(void)state;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		assert_non_null(kafka_api_find(keys[k]));
	while ((a = kafka_api_next(&i))) {
		assert_true(a->min <= a->max && a->max <= a->schema_max);
		assert_ptr_equal(kafka_api_find(a->key), a);
		n++;
	}
	assert_int_equal(n, 47);
	assert_null(kafka_api_find(-1));
	assert_null(kafka_api_find(57));
	assert_null(kafka_api_find(1000));
	assert_string_equal(kafka_api_find(KAFKA_FETCH)->name, "Fetch");
	/* librdkafka feature flags (kafka-api-versions.md) */
	assert_true(kafka_api_supported(KAFKA_PRODUCE, 3) && kafka_api_supported(KAFKA_PRODUCE, 7));
	assert_true(kafka_api_supported(KAFKA_FETCH, 4) && kafka_api_supported(KAFKA_FETCH, 11));
	/* transactions v2 (KIP-890) need Produce v12; v13 names topics by id */
	assert_true(kafka_api_supported(KAFKA_PRODUCE, 12));
	assert_false(kafka_api_supported(KAFKA_PRODUCE, 13));
	assert_true(kafka_api_supported(KAFKA_INIT_PRODUCER_ID, 0));   /* IdempotentProducer */
	assert_true(kafka_api_supported(KAFKA_END_TXN, 5));
	assert_true(kafka_api_supported(KAFKA_FIND_COORDINATOR, 0));
	assert_true(kafka_api_supported(KAFKA_LIST_OFFSETS, 1));
	assert_true(kafka_api_supported(KAFKA_API_VERSIONS, 0));
	assert_false(kafka_api_supported(KAFKA_API_VERSIONS, 4));
	assert_true(kafka_api_is_flexible(KAFKA_API_VERSIONS, 3));
	assert_false(kafka_api_is_flexible(KAFKA_API_VERSIONS, 2));
	assert_true(kafka_api_is_flexible(KAFKA_FETCH, 12));
	assert_false(kafka_api_is_flexible(KAFKA_SASL_HANDSHAKE, 1));
	assert_false(kafka_api_is_flexible(KAFKA_OFFSET_DELETE, 0));
	assert_true(kafka_api_is_flexible(KAFKA_DESCRIBE_CLUSTER, 0));
	assert_true(kafka_api_is_flexible(KAFKA_DESCRIBE_TOPIC_PARTITIONS, 0));
	/* the Java client (4.x): CreateTopics v5+ configs, ListOffsets v7 max-timestamp */
	assert_true(kafka_api_supported(KAFKA_CREATE_TOPICS, 7));
	assert_true(kafka_api_supported(KAFKA_LIST_OFFSETS, 7));
	/* SASL (librdkafka: SaslAuthenticate v0 after SaslHandshake v1) */
	assert_true(kafka_api_supported(KAFKA_SASL_AUTHENTICATE, 0));
	assert_false(kafka_api_is_flexible(KAFKA_SASL_AUTHENTICATE, 1));
	assert_true(kafka_api_is_flexible(KAFKA_ALTER_USER_SCRAM_CREDENTIALS, 0));
	/* DescribeAcls v2 is kafka-python's probe for 2.5: not advertised */
	assert_true(kafka_api_supported(KAFKA_DESCRIBE_ACLS, 1));
	assert_false(kafka_api_supported(KAFKA_DESCRIBE_ACLS, 2));
	assert_false(kafka_api_is_flexible(99, 9));
}

/* Parse an ApiVersions response frame produced by kafka_api_versions_reply. */
static struct kafka_api_versions_resp *parse_av(size_t len, int16_t ver)
{
	static struct kafka_arena a;
	struct kreader r;
	void *out;

	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, buf, len);
	assert_int_equal(kr_int32(&r), (int32_t)len - 4);
	assert_int_equal(kr_int32(&r), 42);     /* header v0: no tag byte */
	assert_int_equal(kafka_response_decode(&r, KAFKA_API_VERSIONS, ver, &a, &out), 0);
	assert_int_equal(kreader_left(&r), 0);
	return out;
}

static void test_api_versions_reply(void **state)
{
	struct kafka_api_versions_resp *p;
	struct kwriter w;
	(void)state;

	for (int16_t v = 0; v <= 3; v++) {
		kwriter_init(&w, buf, sizeof(buf));
		assert_int_equal(kafka_api_versions_reply(&w, 42, v, 0, NULL), 0);
		p = parse_av(w.len, v);
		assert_int_equal(p->error_code, 0);
		assert_int_equal(p->api_keys.n, 47);
		assert_int_equal(p->api_keys.v[0].api_key, KAFKA_PRODUCE);
		assert_int_equal(p->api_keys.v[0].min_version, 3);
		assert_int_equal(p->api_keys.v[0].max_version, 12);
		if (v < 3)
			continue;
		/* KIP-584 features: transactions v2 finalized (KIP-890) */
		assert_int_equal(p->finalized_features_epoch, 1);
		assert_int_equal(p->finalized_features.n, 1);
		assert_int_equal(p->finalized_features.v[0].name.len, 19);
		assert_memory_equal(p->finalized_features.v[0].name.p, "transaction.version", 19);
		assert_int_equal(p->finalized_features.v[0].max_version_level, 2);
		assert_int_equal(p->supported_features.v[0].max_version, 2);
	}
	/* v0 body: error(2) + count(4) + 47 * 6 */
	kwriter_init(&w, buf, sizeof(buf));
	kafka_api_versions_reply(&w, 42, 0, 0, NULL);
	assert_int_equal(w.len, 8 + 2 + 4 + 47 * 6);
	/* an unknown newer version gets the v0 body with error 35 */
	kwriter_init(&w, buf, sizeof(buf));
	assert_int_equal(kafka_api_versions_reply(&w, 42, 9, 0, NULL), 0);
	p = parse_av(w.len, 0);
	assert_int_equal(p->error_code, KAFKA_ERR_UNSUPPORTED_VERSION);
	bool has18 = false;
	for (int i = 0; i < p->api_keys.n; i++)
		has18 |= p->api_keys.v[i].api_key == KAFKA_API_VERSIONS &&
			 p->api_keys.v[i].max_version == 3;
	assert_true(has18);
}

static void test_produce_roundtrip(void **state)
{
	static const uint8_t rec[] = "RECORDBATCH";
	struct kafka_produce_req_partition parts[2] = {
		{ 0, { rec, sizeof(rec) } }, { 5, { NULL, -1 } },
	};
	struct kafka_produce_req_topic topic = { KSTR_LIT("t1"), { parts, 2 } };
	struct kafka_produce_req req = { KSTR_NULL, -1, 30000, { &topic, 1 } };
	static const int16_t versions[] = { 3, 7, 9, 11 };
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		struct kafka_arena a;
		struct kwriter w;
		struct kreader r;
		struct kafka_produce_req *d;
		kwriter_init(&w, buf, sizeof(buf));
		assert_int_equal(kafka_request_encode(&w, KAFKA_PRODUCE, versions[i], &req), 0);
		kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
		kreader_init(&r, buf, w.len);
		assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, versions[i], &a,
						      (void **)&d), 0);
		assert_int_equal(kreader_left(&r), 0);
		assert_int_equal(d->transactional_id.len, -1);
		assert_int_equal(d->acks, -1);
		assert_int_equal(d->timeout_ms, 30000);
		assert_int_equal(d->topics.n, 1);
		assert_true(kstr_eq(d->topics.v[0].name, "t1"));
		assert_int_equal(d->topics.v[0].partitions.n, 2);
		assert_int_equal(d->topics.v[0].partitions.v[0].records.len, sizeof(rec));
		assert_memory_equal(d->topics.v[0].partitions.v[0].records.p, rec, sizeof(rec));
		assert_int_equal(d->topics.v[0].partitions.v[1].index, 5);
		assert_int_equal(d->topics.v[0].partitions.v[1].records.len, -1);
	}
}

static void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32_put(uint8_t *p, uint32_t v)
{
	be16_put(p, (uint16_t)(v >> 16));
	be16_put(p + 2, (uint16_t)v);
}

/* Kafka 4.4's caps: an array of more than 1M elements and a tagged section
 * of more than 10k fields fail before the arena is touched, even when the
 * bytes are there and a cap lower would let them through. */
static void test_allocation_caps(void **state)
{
	size_t n = KAFKA_ARRAY_MAX + 1, len = 2 + 2 + 4 + 4 + n * 6;
	uint8_t *req = calloc(1, len), *big = malloc(64u << 20);
	struct kafka_arena a;
	struct kreader r;
	void *obj;
	(void)state;
	assert_non_null(req);
	assert_non_null(big);
	/* Produce v3: transactional_id null, acks, timeout, n empty topics. */
	be16_put(req, 0xffff);
	be32_put(req + 8, (uint32_t)n);
	kafka_arena_init(&a, big, 64u << 20);
	kreader_init(&r, req, len);
	assert_int_not_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 3, &a, &obj), 0);
	assert_true(a.len < 1024); /* the request struct only: no 32 MiB array */
	/* One element fewer decodes. */
	be32_put(req + 8, (uint32_t)(n - 1));
	kafka_arena_init(&a, big, 64u << 20);
	kreader_init(&r, req, len - 6);
	assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 3, &a, &obj), 0);

	/* ApiVersions v3 (flexible): two empty compact strings, then a tagged
	 * section of 10001 empty fields. */
	size_t at = 0;
	req[at++] = 1;
	req[at++] = 1;
	uint32_t tags = KAFKA_TAGS_MAX + 1;
	req[at++] = (uint8_t)(0x80 | (tags & 0x7f));
	req[at++] = (uint8_t)(tags >> 7);
	for (uint32_t i = 0; i < tags; i++) {
		req[at++] = 0x7f; /* an unknown tag */
		req[at++] = 0;    /* of no bytes */
	}
	kafka_arena_init(&a, big, 64u << 20);
	kreader_init(&r, req, at);
	assert_int_not_equal(kafka_request_decode(&r, KAFKA_API_VERSIONS, 3, &a, &obj), 0);
	req[2] = (uint8_t)(0x80 | ((tags - 1) & 0x7f));
	req[3] = (uint8_t)((tags - 1) >> 7);
	kafka_arena_init(&a, big, 64u << 20);
	kreader_init(&r, req, at - 2);
	assert_int_equal(kafka_request_decode(&r, KAFKA_API_VERSIONS, 3, &a, &obj), 0);
	free(req);
	free(big);
}

/* Build a fetch response with a record hole, splice it, decode it back. */
static void test_fetch_response_holes(void **state)
{
	static const uint8_t inline_rec[] = "inline";
	static const uint8_t file_rec[] = "FROM-THE-PAGE-CACHE";
	static uint8_t frame[4096];
	struct kafka_fetch_resp_partition parts[2];
	struct kafka_fetch_resp_topic topic;
	struct kafka_fetch_resp resp;
	struct kafka_splice sp[4];
	(void)state;

	for (int16_t ver = 11; ver <= 12; ver++) {
		struct kwriter w;
		kafka_defaults(&kafka_fetch_resp_s, &resp);
		kafka_defaults(&kafka_fetch_resp_partition_s, &parts[0]);
		parts[1] = parts[0];
		parts[0].partition_index = 0;
		parts[0].high_watermark = 10;
		parts[0].records = (struct kbytes){ NULL, sizeof(file_rec) };   /* hole */
		parts[0].current_leader = (struct kafka_leader_epoch){ 1, 4 };
		parts[1].partition_index = 1;
		parts[1].records = (struct kbytes){ inline_rec, sizeof(inline_rec) };
		topic = (struct kafka_fetch_resp_topic){ .topic = KSTR_LIT("t1"),
							 .partitions = { parts, 2 } };
		resp.responses.v = &topic;
		resp.responses.n = 1;

		kwriter_init(&w, buf, sizeof(buf));
		w.splice = sp;
		w.splice_cap = 4;
		struct kafka_frame f = kafka_response_begin(&w, KAFKA_FETCH, ver, 9);
		assert_int_equal(kafka_response_encode(&w, KAFKA_FETCH, ver, &resp), 0);
		assert_int_equal(kafka_response_end(&w, f), 0);
		assert_int_equal(w.nsplice, 1);
		assert_ptr_equal(sp[0].field, &parts[0].records);
		assert_int_equal(sp[0].len, sizeof(file_rec));

		/* what writev + sendfile would put on the socket */
		size_t n = 0;
		memcpy(frame, buf, sp[0].off);
		n += sp[0].off;
		memcpy(frame + n, file_rec, sizeof(file_rec));
		n += sizeof(file_rec);
		memcpy(frame + n, buf + sp[0].off, w.len - sp[0].off);
		n += w.len - sp[0].off;

		struct kafka_arena a;
		struct kreader r;
		struct kafka_fetch_resp *d;
		kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
		kreader_init(&r, frame, n);
		assert_int_equal(kr_int32(&r), (int32_t)n - 4);
		assert_int_equal(kr_int32(&r), 9);
		if (ver >= 12)
			kr_tags_skip(&r);
		assert_int_equal(kafka_response_decode(&r, KAFKA_FETCH, ver, &a, (void **)&d), 0);
		assert_int_equal(kreader_left(&r), 0);
		struct kafka_fetch_resp_partition *p = d->responses.v[0].partitions.v;
		assert_int_equal(p[0].records.len, sizeof(file_rec));
		assert_memory_equal(p[0].records.p, file_rec, sizeof(file_rec));
		assert_memory_equal(p[1].records.p, inline_rec, sizeof(inline_rec));
		assert_int_equal(p[0].last_stable_offset, -1);
		assert_int_equal(p[0].preferred_read_replica, -1);
		/* the tagged CurrentLeader exists from v12 only */
		assert_int_equal(p[0].current_leader.leader_epoch, ver >= 12 ? 4 : -1);
		assert_int_equal(p[1].current_leader.leader_id, -1);
	}
}

static void test_hole_without_room(void **state)
{
	struct kafka_fetch_resp_partition part;
	struct kafka_fetch_resp_topic topic = { .topic = KSTR_LIT("t"), .partitions = { &part, 1 } };
	struct kafka_fetch_resp resp = { .responses = { &topic, 1 } };
	struct kwriter w;
	(void)state;

	memset(&part, 0, sizeof(part));
	part.records = (struct kbytes){ NULL, 100 };
	kwriter_init(&w, buf, sizeof(buf));
	assert_int_equal(kafka_response_encode(&w, KAFKA_FETCH, 11, &resp), -EINVAL);
}

static void test_fetch_request_defaults(void **state)
{
	/* Fetch v4: replica, max_wait, min_bytes, max_bytes, isolation, 0 topics */
	static const uint8_t body[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0xf4, 0, 0, 0, 1,
					0, 0x10, 0, 0, 1, 0, 0, 0, 0 };
	struct kafka_arena a;
	struct kreader r;
	struct kafka_fetch_req *d;
	(void)state;

	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, body, sizeof(body));
	assert_int_equal(kafka_request_decode(&r, KAFKA_FETCH, 4, &a, (void **)&d), 0);
	assert_int_equal(kreader_left(&r), 0);
	assert_int_equal(d->replica_id, -1);
	assert_int_equal(d->max_wait_ms, 500);
	assert_int_equal(d->max_bytes, 0x100000);
	assert_int_equal(d->isolation_level, 1);
	assert_int_equal(d->session_id, 0);             /* v7+ defaults */
	assert_int_equal(d->session_epoch, -1);
	assert_int_equal(d->rack_id.len, 0);
	assert_int_equal(d->cluster_id.len, -1);
	assert_int_equal(d->topics.n, 0);
}

/* Tagged fields: known ones decode, unknown ones are skipped, bad sizes fail. */
static void test_tagged_fields(void **state)
{
	/* Fetch v12 request, no topics; tags: 0 = ClusterId "ab", 5 = unknown */
	static const uint8_t body[] = {
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0,
		0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 1, 1,
		2, 0, 3, 3, 'a', 'b', 5, 2, 0xee, 0xee,
	};
	uint8_t bad[sizeof(body)];
	struct kafka_arena a;
	struct kreader r;
	struct kafka_fetch_req *d;
	(void)state;

	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, body, sizeof(body));
	assert_int_equal(kafka_request_decode(&r, KAFKA_FETCH, 12, &a, (void **)&d), 0);
	assert_int_equal(kreader_left(&r), 0);
	assert_true(kstr_eq(d->cluster_id, "ab"));
	assert_int_equal(d->topics.n, 0);
	assert_int_equal(d->forgotten_topics_data.n, 0);

	memcpy(bad, body, sizeof(body));
	bad[30] = 4;            /* ClusterId's size says 4, its value takes 3 */
	kreader_init(&r, bad, sizeof(bad));
	assert_int_equal(kafka_request_decode(&r, KAFKA_FETCH, 12, &a, (void **)&d), -EBADMSG);

	/* re-encoding writes ClusterId only (tag 0), unknown tags are dropped */
	struct kwriter w;
	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, body, sizeof(body));
	kafka_request_decode(&r, KAFKA_FETCH, 12, &a, (void **)&d);
	kwriter_init(&w, buf, sizeof(buf));
	assert_int_equal(kafka_request_encode(&w, KAFKA_FETCH, 12, d), 0);
	assert_int_equal(w.len, sizeof(body) - 4);
	assert_memory_equal(buf, body, 28);
	assert_memory_equal(buf + 28, "\x01\x00\x03\x03" "ab", 6);
}

static void test_nulls_and_limits(void **state)
{
	struct kafka_produce_req_topic topic = { KSTR_NULL, { NULL, 0 } };
	struct kafka_produce_req req = { KSTR_NULL, 1, 0, { &topic, 1 } };
	struct kafka_arena a;
	struct kwriter w;
	struct kreader r;
	void *out;
	(void)state;

	/* a null topic name cannot be encoded */
	kwriter_init(&w, buf, sizeof(buf));
	assert_int_equal(kafka_request_encode(&w, KAFKA_PRODUCE, 7, &req), -EINVAL);
	/* nor decoded: txn id null, acks, timeout, 1 topic with null name */
	static const uint8_t nullname[] = { 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
					    0xff, 0xff, 0, 0, 0, 0 };
	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, nullname, sizeof(nullname));
	assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 7, &a, &out), -EBADMSG);
	/* a huge array count is refused before any allocation */
	static const uint8_t huge[] = { 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff };
	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, huge, sizeof(huge));
	assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 7, &a, &out), -EBADMSG);
	assert_true(a.len < 256);
	/* arena too small for the topics */
	static const uint8_t two[] = { 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
				       0, 1, 'a', 0, 0, 0, 0, 0, 1, 'b', 0, 0, 0, 0 };
	kafka_arena_init(&a, arena_buf, 64);
	kreader_init(&r, two, sizeof(two));
	assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 7, &a, &out), -ENOMEM);
	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, two, sizeof(two));
	assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 7, &a, &out), 0);
	/* unknown api or version */
	assert_int_equal(kafka_request_decode(&r, 57, 0, &a, &out), -ENOTSUP);
	assert_int_equal(kafka_request_decode(&r, KAFKA_PRODUCE, 13, &a, &out), -ENOTSUP);
}

static void test_metadata_request_forms(void **state)
{
	struct kafka_arena a;
	struct kreader r;
	struct kafka_metadata_req *d;
	(void)state;

	/* v1 null = all topics; v0 cannot carry a null array */
	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, "\xff\xff\xff\xff", 4);
	assert_int_equal(kafka_request_decode(&r, KAFKA_METADATA, 1, &a, (void **)&d), 0);
	assert_int_equal(d->topics.n, -1);
	assert_true(d->allow_auto_topic_creation);      /* default true below v4 */
	kreader_init(&r, "\xff\xff\xff\xff", 4);
	assert_int_equal(kafka_request_decode(&r, KAFKA_METADATA, 0, &a, (void **)&d), -EBADMSG);
	/* v9 flexible: compact null array, allow=0, include_*=0/1, no tags */
	kreader_init(&r, "\x00\x00\x00\x01\x00", 5);
	assert_int_equal(kafka_request_decode(&r, KAFKA_METADATA, 9, &a, (void **)&d), 0);
	assert_int_equal(d->topics.n, -1);
	assert_false(d->allow_auto_topic_creation);
	assert_true(d->include_topic_authorized_operations);
	assert_int_equal(kreader_left(&r), 0);
}

/* Default-valued object tree with one element in every array. */
static void fill(const struct kschema *s, void *obj, struct kafka_arena *a, int depth)
{
	kafka_defaults(s, obj);
	for (const struct kfield *f = s->f; f < s->f + s->nf; f++) {
		uint8_t *p = (uint8_t *)obj + f->off;
		if (f->type == KT_STRUCT) {
			fill(f->sub, p, a, depth + 1);
		} else if (f->type == KT_ARRAY && depth < 8) {
			struct { void *v; int32_t n; } arr = { kafka_arena_alloc(a, f->sub->size), 1 };
			assert_non_null(arr.v);
			if (f->sub->prim)
				memset(arr.v, 0, f->sub->size);
			else
				fill(f->sub, arr.v, a, depth + 1);
			memcpy(p, &arr, sizeof(arr));
		}
	}
}

/* Every schema, every version: defaults encode, decode and re-encode alike. */
static void test_all_schemas_roundtrip(void **state)
{
	static uint8_t obj_arena[8192], again[4096];
	const struct kafka_api *api;
	int i = 0, checked = 0;
	(void)state;

	while ((api = kafka_api_next(&i))) {
		for (int16_t v = 0; v <= api->schema_max; v++) {
			for (int resp = 0; resp < 2; resp++) {
				struct kafka_arena oa, da;
				struct kwriter w, w2;
				struct kreader r;
				void *obj, *d;
				const struct kschema *s = resp ? api->resp : api->req;
				kafka_arena_init(&oa, obj_arena, sizeof(obj_arena));
				obj = kafka_arena_alloc(&oa, s->size);
				fill(s, obj, &oa, 0);
				kwriter_init(&w, buf, sizeof(buf));
				int err = resp ? kafka_response_encode(&w, api->key, v, obj)
					       : kafka_request_encode(&w, api->key, v, obj);
				if (err)
					fail_msg("%s v%d %s: encode %d", api->name, v,
						 resp ? "resp" : "req", err);
				kafka_arena_init(&da, arena_buf, sizeof(arena_buf));
				kreader_init(&r, buf, w.len);
				err = resp ? kafka_response_decode(&r, api->key, v, &da, &d)
					   : kafka_request_decode(&r, api->key, v, &da, &d);
				assert_int_equal(err, 0);
				assert_int_equal(kreader_left(&r), 0);
				kwriter_init(&w2, again, sizeof(again));
				kafka_encode(&w2, s, v, v >= api->flex, d);
				assert_int_equal(w2.len, w.len);
				assert_memory_equal(again, buf, w.len);
				checked++;
			}
		}
	}
	assert_true(checked > 300);
}

/* A nullable struct (DescribeTopicPartitions' cursor): int8 -1 for null,
 * 1 then the struct, both ways. */
static void test_nullable_struct(void **state)
{
	static const uint8_t req_null[] = {
		0x02, 0x02, 't', 0x00,          /* topics: ["t"] */
		0x00, 0x00, 0x07, 0xd0,         /* limit 2000 */
		0xff,                           /* cursor: null */
		0x00 };
	static const uint8_t req_cur[] = {
		0x01,                           /* topics: [] (all) */
		0x00, 0x00, 0x00, 0x05,
		0x01, 0x03, 'a', 'b', 0x00, 0x00, 0x00, 0x07, 0x00, /* cursor {ab, 7} */
		0x00 };
	struct kafka_arena a;
	struct kreader r;
	struct kafka_dtp_req *q;
	struct kwriter w;
	void *out;
	(void)state;

	kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	kreader_init(&r, req_null, sizeof(req_null));
	assert_int_equal(kafka_request_decode(&r, KAFKA_DESCRIBE_TOPIC_PARTITIONS, 0, &a, &out), 0);
	q = out;
	assert_int_equal(q->topics.n, 1);
	assert_int_equal(q->response_partition_limit, 2000);
	assert_int_equal(q->cursor.n, -1);
	kreader_init(&r, req_cur, sizeof(req_cur));
	assert_int_equal(kafka_request_decode(&r, KAFKA_DESCRIBE_TOPIC_PARTITIONS, 0, &a, &out), 0);
	q = out;
	assert_int_equal(q->topics.n, 0);
	assert_int_equal(q->cursor.n, 1);
	assert_int_equal(q->cursor.v->topic_name.len, 2);
	assert_int_equal(q->cursor.v->partition_index, 7);
	kwriter_init(&w, buf, sizeof(buf));
	assert_int_equal(kafka_request_encode(&w, KAFKA_DESCRIBE_TOPIC_PARTITIONS, 0, q), 0);
	assert_int_equal(w.len, sizeof(req_cur));
	assert_memory_equal(buf, req_cur, sizeof(req_cur));
	/* a response without a next cursor ends with the int8 -1 and the tags */
	struct kafka_dtp_resp resp;
	kafka_defaults(&kafka_dtp_resp_s, &resp);
	assert_int_equal(resp.next_cursor.n, -1);
	kwriter_init(&w, buf, sizeof(buf));
	assert_int_equal(kafka_response_encode(&w, KAFKA_DESCRIBE_TOPIC_PARTITIONS, 0, &resp), 0);
	assert_int_equal(w.len, 4 + 1 + 1 + 1);
	assert_int_equal(buf[5], 0xff);
	/* a truncated cursor is malformed */
	kreader_init(&r, req_cur, 8);
	assert_int_equal(kafka_request_decode(&r, KAFKA_DESCRIBE_TOPIC_PARTITIONS, 0, &a, &out),
			 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ints_roundtrip),
		cmocka_unit_test(test_uvarint_edges),
		cmocka_unit_test(test_varint_zigzag),
		cmocka_unit_test(test_sticky_truncation),
		cmocka_unit_test(test_strings_classic_vs_compact),
		cmocka_unit_test(test_bytes_and_arrays),
		cmocka_unit_test(test_tags_and_uuid),
		cmocka_unit_test(test_writer_overflow_and_counting),
		cmocka_unit_test(test_request_headers),
		cmocka_unit_test(test_response_headers),
		cmocka_unit_test(test_api_table),
		cmocka_unit_test(test_api_versions_reply),
		cmocka_unit_test(test_produce_roundtrip),
		cmocka_unit_test(test_allocation_caps),
		cmocka_unit_test(test_fetch_response_holes),
		cmocka_unit_test(test_hole_without_room),
		cmocka_unit_test(test_fetch_request_defaults),
		cmocka_unit_test(test_tagged_fields),
		cmocka_unit_test(test_nulls_and_limits),
		cmocka_unit_test(test_metadata_request_forms),
		cmocka_unit_test(test_all_schemas_roundtrip),
		cmocka_unit_test(test_nullable_struct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
