/*
 * fuzz_request.c - libFuzzer target for the Kafka request path.
 *
 * Input: one request frame WITHOUT its 4-byte length prefix (what the
 * connection's framing hands to the parser): request header, then body.
 * The target parses the header, decodes the body of any API in the table
 * (also as that API's response, to cover the response schemas), and checks
 * that encoding is stable: encode(decode(x)) decodes and re-encodes to the
 * same bytes. It also answers ApiVersions for the header's version.
 * Seeds: the corpus .req files with their first 4 bytes stripped.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/kafka/api.h"
#include "dataplane/kafka/codec.h"
#include "dataplane/kafka/schema.h"

#define MAX_IN (256 * 1024)

static uint8_t arena1[4 << 20], arena2[4 << 20];
static uint8_t enc1[MAX_IN + 4096], enc2[MAX_IN + 4096];

/* Decode with one arena, encode; 0 and *len on success. */
static int decode_encode(const uint8_t *p, size_t n, int16_t key, int16_t ver, bool resp,
			 uint8_t *arena, size_t arena_cap, uint8_t *out, size_t *len)
{
	struct kafka_arena a;
	struct kreader r;
	struct kwriter w;
	void *obj;
	int err;

	kafka_arena_init(&a, arena, arena_cap);
	kreader_init(&r, p, n);
	err = resp ? kafka_response_decode(&r, key, ver, &a, &obj)
		   : kafka_request_decode(&r, key, ver, &a, &obj);
	if (err)
		return err;
	kwriter_init(&w, out, MAX_IN + 4096);
	err = resp ? kafka_response_encode(&w, key, ver, obj)
		   : kafka_request_encode(&w, key, ver, obj);
	if (err)
		abort();        /* whatever decodes must encode */
	if (w.len > n)
		abort();        /* encoding is never longer than its input */
	*len = w.len;
	return 0;
}

static void roundtrip(const uint8_t *p, size_t n, int16_t key, int16_t ver, bool resp)
{
	size_t l1, l2;

	if (decode_encode(p, n, key, ver, resp, arena1, sizeof(arena1), enc1, &l1))
		return;
	if (decode_encode(enc1, l1, key, ver, resp, arena2, sizeof(arena2), enc2, &l2))
		abort();        /* our own encoding must decode */
	if (l1 != l2 || memcmp(enc1, enc2, l1))
		abort();        /* and be a fixed point */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_request_header h;
	struct kreader r;
	struct kwriter w;

	if (size > MAX_IN)
		return 0;
	kreader_init(&r, data, size);
	if (kafka_request_header_parse(&r, &h))
		return 0;
	if (!kafka_api_find(h.api_key))
		return 0;
	roundtrip(r.p, kreader_left(&r), h.api_key, h.api_version, false);
	roundtrip(r.p, kreader_left(&r), h.api_key, h.api_version, true);

	kwriter_init(&w, enc1, sizeof(enc1));
	if (kafka_api_versions_reply(&w, h.correlation_id, h.api_version, 0, NULL))
		abort();
	return 0;
}
