/*
 * test_codec_corpus.c - the Kafka codec against real client frames
 * (/work/shared/corpus/kafka, found through $SLUICE_CORPUS; skipped when
 * absent). For every request whose API sluice knows: the length prefix,
 * header and body decode, the frame is consumed exactly, re-encoding gives
 * the same bytes, and every truncation fails cleanly. Responses (answers of
 * librdkafka's mock cluster) go through the same decode/re-encode check.
 * A few fields are spot-checked against the corpus index notes.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_admin.h"
#include "dataplane/kafka/msg_fetch.h"
#include "dataplane/kafka/msg_group.h"
#include "dataplane/kafka/msg_metadata.h"
#include "dataplane/kafka/msg_produce.h"

#define MAX_FRAMES 512
#define MAX_FRAME (64 * 1024)

struct frame {
	char name[256];         /* client/NNN-Api-vN.req */
	uint8_t *data;
	size_t len;
	uint8_t *resp;          /* matching .resp, or NULL */
	size_t resp_len;
};

static struct frame frames[MAX_FRAMES];
static int nframes;
static uint8_t arena_buf[1 << 20];
static uint8_t out[MAX_FRAME];

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;

	if (!f)
		return NULL;
	p = malloc(MAX_FRAME);
	*len = p ? fread(p, 1, MAX_FRAME, f) : 0;
	fclose(f);
	return p;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct frame *)a)->name, ((const struct frame *)b)->name);
}

static void load_dir(const char *root, const char *client)
{
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;

	if (snprintf(dir, sizeof(dir), "%s/%s", root, client) >= (int)sizeof(dir) ||
	    !(d = opendir(dir)))
		return;
	while ((de = readdir(d)) && nframes < MAX_FRAMES) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".req"))
			continue;
		struct frame *f = &frames[nframes];
		if (snprintf(f->name, sizeof(f->name), "%s/%s", client, de->d_name) >=
		    (int)sizeof(f->name) ||
		    snprintf(path, sizeof(path) - 1, "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) - 1)
			continue;
		if (!(f->data = slurp(path, &f->len)))
			continue;
		path[strlen(path) - 4] = 0;
		strcat(path, ".resp");
		f->resp = slurp(path, &f->resp_len);
		nframes++;
	}
	closedir(d);
}

static int setup(void **state)
{
	const char *root = getenv("SLUICE_CORPUS");
	struct dirent *de;
	DIR *d;
	(void)state;

	if (!root || !(d = opendir(root)))
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			load_dir(root, de->d_name);
	closedir(d);
	qsort(frames, (size_t)nframes, sizeof(frames[0]), by_name);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nframes; i++) {
		free(frames[i].data);
		free(frames[i].resp);
	}
	return 0;
}

static void need_corpus(void)
{
	if (nframes == 0) {
		print_message("SLUICE_CORPUS not set or empty: skipping\n");
		skip();
	}
}

/* Decode length, header and body from buf[0..len); 0 on success. */
static int parse_request(const uint8_t *buf, size_t len, struct kafka_arena *a,
			 struct kafka_request_header *h, void **body, size_t *left)
{
	struct kreader r;
	int err;

	kreader_init(&r, buf, len);
	int32_t size = kr_int32(&r);
	if (r.err || size < 0 || (size_t)size != kreader_left(&r))
		return -EBADMSG;
	if ((err = kafka_request_header_parse(&r, h)))
		return err;
	kafka_arena_init(a, arena_buf, sizeof(arena_buf));
	err = kafka_request_decode(&r, h->api_key, h->api_version, a, body);
	*left = kreader_left(&r);
	return err;
}

static void test_requests_decode_exactly(void **state)
{
	int decoded = 0, skipped = 0;
	(void)state;

	need_corpus();
	for (int i = 0; i < nframes; i++) {
		struct frame *f = &frames[i];
		struct kafka_request_header h;
		struct kafka_arena a;
		void *body;
		size_t left;
		struct kreader r;

		kreader_init(&r, f->data + 4, f->len - 4);
		assert_int_equal(kafka_request_header_parse(&r, &h), 0);
		if (!kafka_api_find(h.api_key)) {
			skipped++;      /* transactions etc.: not decoded (yet) */
			continue;
		}
		int err = parse_request(f->data, f->len, &a, &h, &body, &left);
		if (err || left)
			fail_msg("%s: err %d, %zu bytes left", f->name, err, left);

		/* re-encode the whole frame: the same bytes */
		struct kwriter w;
		kwriter_init(&w, out, sizeof(out));
		kw_int32(&w, 0);
		kafka_request_header_write(&w, &h);
		assert_int_equal(kafka_request_encode(&w, h.api_key, h.api_version, body), 0);
		kw_put_int32_at(&w, 0, (int32_t)w.len - 4);
		if (w.len != f->len || memcmp(out, f->data, f->len))
			fail_msg("%s: re-encoded %zu bytes differ from %zu", f->name, w.len, f->len);
		decoded++;
	}
	print_message("corpus: %d requests decoded and re-encoded, %d of unknown APIs\n",
		      decoded, skipped);
	assert_true(decoded >= 100);
}

static void test_requests_truncated(void **state)
{
	long cuts = 0;
	(void)state;

	need_corpus();
	for (int i = 0; i < nframes; i++) {
		struct frame *f = &frames[i];
		struct kafka_request_header h;
		struct kafka_arena a;
		void *body;
		size_t left;

		for (size_t n = 0; n < f->len; n++) {
			/* a private copy so ASan sees any read past n */
			uint8_t *cut = malloc(n ? n : 1);
			memcpy(cut, f->data, n);
			int err = parse_request(cut, n, &a, &h, &body, &left);
			assert_int_not_equal(err, 0);
			/* also the body alone, as if the length prefix had lied */
			struct kreader r;
			kreader_init(&r, cut, n);
			if (n > 4) {
				r.p += 4;
				if (!kafka_request_header_parse(&r, &h) && kafka_api_find(h.api_key)) {
					kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
					assert_int_not_equal(kafka_request_decode(&r, h.api_key,
							     h.api_version, &a, &body), 0);
				}
			}
			free(cut);
			cuts++;
		}
	}
	print_message("corpus: %ld truncated frames rejected\n", cuts);
}

/*
 * Mock answers that are not valid Kafka, recognised and counted:
 * - an ApiVersions v3 it rejects gets error 35 in a body that is neither
 *   the v0 form nor a well-formed v3 one;
 * - OffsetFetch v2+ for all topics (null) is answered with a null Topics
 *   array, which the schema does not allow (Kafka sends an empty one).
 */
static bool mock_quirk(const struct kafka_request_header *h, const uint8_t *body, size_t n)
{
	static const uint8_t null_array[4] = { 0xff, 0xff, 0xff, 0xff };

	if (h->api_key == KAFKA_API_VERSIONS)
		return n >= 2 && body[0] == 0 && body[1] == 35;
	if (h->api_key == KAFKA_OFFSET_FETCH && h->api_version >= 3 && h->api_version <= 5)
		return n >= 8 && memcmp(body + 4, null_array, 4) == 0;
	return false;
}

static void test_responses_decode_exactly(void **state)
{
	int decoded = 0, quirks = 0;
	(void)state;

	need_corpus();
	for (int i = 0; i < nframes; i++) {
		struct frame *f = &frames[i];
		struct kafka_request_header h;
		struct kafka_arena a;
		struct kreader r;
		void *body;

		kreader_init(&r, f->data + 4, f->len - 4);
		kafka_request_header_parse(&r, &h);
		if (!f->resp || !kafka_api_find(h.api_key))
			continue;
		int hv = kafka_response_header_version(h.api_key, h.api_version);
		kreader_init(&r, f->resp, f->resp_len);
		assert_int_equal(kr_int32(&r), (int32_t)f->resp_len - 4);
		assert_int_equal(kr_int32(&r), h.correlation_id);
		if (hv)
			kr_tags_skip(&r);
		size_t hlen = f->resp_len - kreader_left(&r);
		if (mock_quirk(&h, r.p, kreader_left(&r))) {
			quirks++;
			continue;
		}
		kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
		int err = kafka_response_decode(&r, h.api_key, h.api_version, &a, &body);
		if (err || kreader_left(&r))
			fail_msg("%s.resp: err %d, %zu left", f->name, err, kreader_left(&r));

		struct kwriter w;
		kwriter_init(&w, out, sizeof(out));
		kw_raw(&w, f->resp, hlen);
		assert_int_equal(kafka_response_encode(&w, h.api_key, h.api_version, body), 0);
		if (w.len != f->resp_len || memcmp(out, f->resp, w.len))
			fail_msg("%s.resp: re-encoded %zu bytes differ from %zu", f->name,
				 w.len, f->resp_len);
		decoded++;
	}
	print_message("corpus: %d responses decoded and re-encoded, %d mock quirks\n",
		      decoded, quirks);
	assert_true(decoded >= 80);
}

static void *req(const char *name, int16_t key)
{
	static struct kafka_arena a;
	struct kafka_request_header h;
	void *body;
	size_t left;

	for (int i = 0; i < nframes; i++) {
		if (strcmp(frames[i].name, name))
			continue;
		assert_int_equal(parse_request(frames[i].data, frames[i].len, &a, &h, &body,
					       &left), 0);
		assert_int_equal(h.api_key, key);
		return body;
	}
	fail_msg("corpus file %s missing", name);
	return NULL;
}

static void test_spot_checks(void **state)
{
	(void)state;
	need_corpus();

	struct kafka_produce_req *p = req("kcat/007-Produce-v7.req", KAFKA_PRODUCE);
	assert_int_equal(p->acks, -1);
	assert_int_equal(p->transactional_id.len, -1);
	assert_int_equal(p->topics.n, 1);
	assert_true(kstr_eq(p->topics.v[0].name, "t1"));
	assert_int_equal(p->topics.v[0].partitions.v[0].index, 1);
	struct kbytes rec = p->topics.v[0].partitions.v[0].records;
	assert_true(rec.len > 61);
	assert_int_equal(rec.p[16], 2);         /* RecordBatch magic */

	p = req("librdkafka-confluent-kafka-python/021-Produce-v7.req", KAFKA_PRODUCE);
	assert_true(kstr_eq(p->transactional_id, "ck-txn-1"));

	struct kafka_metadata_req *m = req("kcat/003-Metadata-v2.req", KAFKA_METADATA);
	assert_int_equal(m->topics.n, 0);       /* brokers only */
	m = req("kcat/004-Metadata-v2.req", KAFKA_METADATA);
	assert_int_equal(m->topics.n, -1);      /* all topics */
	m = req("kafkajs/004-Metadata-v2.req", KAFKA_METADATA);
	assert_int_equal(m->topics.n, 2);
	assert_true(kstr_eq(m->topics.v[0].name, "t2"));
	assert_true(kstr_eq(m->topics.v[1].name, "t1"));

	struct kafka_api_versions_req *av = req("kcat/001-ApiVersions-v3.req", KAFKA_API_VERSIONS);
	assert_true(kstr_eq(av->client_software_name, "librdkafka"));
	assert_true(kstr_eq(av->client_software_version, "2.0.2"));

	struct kafka_fetch_req *fr = req("kcat/016-Fetch-v11.req", KAFKA_FETCH);
	assert_int_equal(fr->max_wait_ms, 500);
	assert_int_equal(fr->isolation_level, 1);
	assert_int_equal(fr->session_id, 0);
	assert_int_equal(fr->session_epoch, -1);
	assert_int_equal(fr->topics.n, 1);
	assert_true(kstr_eq(fr->topics.v[0].topic, "t1"));
	assert_int_equal(fr->topics.v[0].partitions.n, 3);
	assert_int_equal(fr->topics.v[0].partitions.v[0].fetch_offset, 1);
	assert_int_equal(fr->forgotten_topics_data.n, 0);
	assert_true(fr->rack_id.len >= 0);

	struct kafka_create_topics_req *ct = req("kafka-python/025-CreateTopics-v3.req",
						 KAFKA_CREATE_TOPICS);
	assert_int_equal(ct->topics.n, 1);
	assert_true(kstr_eq(ct->topics.v[0].name, "kp-new"));
	assert_int_equal(ct->topics.v[0].num_partitions, 2);
	assert_int_equal(ct->topics.v[0].replication_factor, 1);
	assert_int_equal(ct->topics.v[0].configs.n, 1);
	assert_true(kstr_eq(ct->topics.v[0].configs.v[0].name, "retention.ms"));
	assert_true(kstr_eq(ct->topics.v[0].configs.v[0].value, "60000"));

	struct kafka_list_offsets_req *lo = req("kafkajs/006-ListOffsets-v3.req",
						KAFKA_LIST_OFFSETS);
	assert_true(lo->topics.n >= 1);
	assert_int_equal(lo->replica_id, -1);

	struct kafka_find_coordinator_req *fc = req("kafka-python/008-FindCoordinator-v0.req",
						    KAFKA_FIND_COORDINATOR);
	assert_true(kstr_eq(fc->key, "kp-g1"));
	assert_int_equal(fc->key_type, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_decode_exactly),
		cmocka_unit_test(test_responses_decode_exactly),
		cmocka_unit_test(test_requests_truncated),
		cmocka_unit_test(test_spot_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
