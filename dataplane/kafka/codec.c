/*
 * codec.c - Kafka wire primitives (big-endian integers, varints, strings,
 * bytes, arrays, tagged fields, uuids) and the request/response headers.
 *
 * Owns: bounds checking. Every read goes through kr_need(), every write
 * through kw_room(); nothing else in the codec touches raw pointers.
 * Must never: allocate, read past r->end, or write past w->cap.
 */
#include "dataplane/kafka/codec.h"
#include "dataplane/kafka/api.h"

#include <errno.h>
#include <string.h>

struct kstr kstr_c(const char *s)
{
	if (!s)
		return KSTR_NULL;
	return (struct kstr){ s, (int32_t)strlen(s) };
}

bool kstr_eq(struct kstr a, const char *s)
{
	if (!s || a.len < 0)
		return !s && a.len < 0;
	return strlen(s) == (size_t)a.len && memcmp(a.p, s, (size_t)a.len) == 0;
}

/* ---- reader ---- */

void kr_fail(struct kreader *r)
{
	r->err = -EBADMSG;
	r->p = r->end;
}

/* Returns a pointer to n readable bytes and advances, or NULL (sticky). */
static const uint8_t *kr_need(struct kreader *r, size_t n)
{
	if (r->err)
		return NULL;
	if (kreader_left(r) < n) {
		kr_fail(r);
		return NULL;
	}
	const uint8_t *q = r->p;
	r->p += n;
	return q;
}

const uint8_t *kr_raw(struct kreader *r, size_t n)
{
	return kr_need(r, n);
}

static uint64_t kr_be(struct kreader *r, size_t n)
{
	const uint8_t *q = kr_need(r, n);
	uint64_t v = 0;

	if (!q)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | q[i];
	return v;
}

int8_t kr_int8(struct kreader *r) { return (int8_t)kr_be(r, 1); }
int16_t kr_int16(struct kreader *r) { return (int16_t)kr_be(r, 2); }
int32_t kr_int32(struct kreader *r) { return (int32_t)kr_be(r, 4); }
int64_t kr_int64(struct kreader *r) { return (int64_t)kr_be(r, 8); }
uint32_t kr_uint32(struct kreader *r) { return (uint32_t)kr_be(r, 4); }
bool kr_bool(struct kreader *r) { return kr_be(r, 1) != 0; }

/* Unsigned LEB128 of at most max_bytes; bits beyond 'bits' are an error. */
static uint64_t kr_leb(struct kreader *r, unsigned max_bytes, unsigned bits)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < max_bytes; i++) {
		const uint8_t *q = kr_need(r, 1);
		if (!q)
			return 0;
		uint64_t part = *q & 0x7f;
		unsigned shift = 7 * i;
		if (shift + 7 > bits && (part >> (bits - shift)) != 0)
			break;  /* value does not fit */
		v |= part << shift;
		if (!(*q & 0x80))
			return v;
	}
	kr_fail(r);
	return 0;
}

uint32_t kr_uvarint(struct kreader *r) { return (uint32_t)kr_leb(r, 5, 32); }

int32_t kr_varint(struct kreader *r)
{
	uint32_t u = (uint32_t)kr_leb(r, 5, 32);
	return (int32_t)((u >> 1) ^ (0u - (u & 1)));
}

int64_t kr_varlong(struct kreader *r)
{
	uint64_t u = kr_leb(r, 10, 64);
	return (int64_t)((u >> 1) ^ (0ull - (u & 1)));
}

struct kuuid kr_uuid(struct kreader *r)
{
	struct kuuid u = { { 0 } };
	const uint8_t *q = kr_need(r, sizeof(u.b));

	if (q)
		memcpy(u.b, q, sizeof(u.b));
	return u;
}

/* A length n (-1 = null) followed by n bytes. */
static struct kbytes kr_sized(struct kreader *r, int64_t n)
{
	if (r->err)
		return (struct kbytes){ NULL, 0 };
	if (n == -1)
		return (struct kbytes){ NULL, -1 };
	if (n < 0 || n > INT32_MAX) {
		kr_fail(r);
		return (struct kbytes){ NULL, 0 };
	}
	const uint8_t *q = kr_need(r, (size_t)n);
	if (!q)
		return (struct kbytes){ NULL, 0 };
	return (struct kbytes){ q, (int32_t)n };
}

static struct kstr as_str(struct kbytes b)
{
	return (struct kstr){ (const char *)b.p, b.len };
}

struct kstr kr_string(struct kreader *r)
{
	return as_str(kr_sized(r, kr_int16(r)));
}

struct kstr kr_compact_string(struct kreader *r)
{
	int64_t n = (int64_t)kr_uvarint(r) - 1;
	if (n > INT16_MAX) {
		kr_fail(r);
		return (struct kstr){ NULL, 0 };
	}
	return as_str(kr_sized(r, n));
}

struct kbytes kr_bytes(struct kreader *r)
{
	return kr_sized(r, kr_int32(r));
}

struct kbytes kr_compact_bytes(struct kreader *r)
{
	return kr_sized(r, (int64_t)kr_uvarint(r) - 1);
}

int32_t kr_array_len(struct kreader *r)
{
	int32_t n = kr_int32(r);
	if (n < -1) {
		kr_fail(r);
		return 0;
	}
	return n;
}

int32_t kr_compact_array_len(struct kreader *r)
{
	uint32_t n = kr_uvarint(r);
	if (n > (uint32_t)INT32_MAX) {
		kr_fail(r);
		return 0;
	}
	return (int32_t)n - 1;
}

void kr_tags_skip(struct kreader *r)
{
	uint32_t n = kr_uvarint(r);

	if (n > KAFKA_TAGS_MAX) {
		kr_fail(r);
		return;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		(void)kr_uvarint(r);    /* tag */
		(void)kr_need(r, kr_uvarint(r));
	}
}

/* ---- writer ---- */

/* Returns where n bytes may be stored, or NULL (counting mode or error). */
static uint8_t *kw_room(struct kwriter *w, size_t n)
{
	if (w->err)
		return NULL;
	if (!w->buf) {
		w->len += n;
		return NULL;
	}
	if (w->cap - w->len < n) {
		w->err = -ENOSPC;
		return NULL;
	}
	uint8_t *q = w->buf + w->len;
	w->len += n;
	return q;
}

void kw_raw(struct kwriter *w, const void *p, size_t n)
{
	uint8_t *q = kw_room(w, n);
	if (q && n)
		memcpy(q, p, n);
}

static void kw_be(struct kwriter *w, uint64_t v, size_t n)
{
	uint8_t *q = kw_room(w, n);
	if (!q)
		return;
	for (size_t i = n; i-- > 0; v >>= 8)
		q[i] = (uint8_t)v;
}

void kw_int8(struct kwriter *w, int8_t v) { kw_be(w, (uint8_t)v, 1); }
void kw_int16(struct kwriter *w, int16_t v) { kw_be(w, (uint16_t)v, 2); }
void kw_int32(struct kwriter *w, int32_t v) { kw_be(w, (uint32_t)v, 4); }
void kw_int64(struct kwriter *w, int64_t v) { kw_be(w, (uint64_t)v, 8); }
void kw_uint32(struct kwriter *w, uint32_t v) { kw_be(w, v, 4); }
void kw_bool(struct kwriter *w, bool v) { kw_be(w, v ? 1 : 0, 1); }

static void kw_leb(struct kwriter *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	kw_raw(w, tmp, n);
}

void kw_uvarint(struct kwriter *w, uint32_t v) { kw_leb(w, v); }

void kw_varint(struct kwriter *w, int32_t v)
{
	kw_leb(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void kw_varlong(struct kwriter *w, int64_t v)
{
	kw_leb(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t kw_uvarint_size(uint32_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void kw_uuid(struct kwriter *w, const struct kuuid *u)
{
	kw_raw(w, u->b, sizeof(u->b));
}

void kw_string(struct kwriter *w, struct kstr s)
{
	if (s.len > INT16_MAX || s.len < -1) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	kw_int16(w, (int16_t)s.len);
	if (s.len > 0)
		kw_raw(w, s.p, (size_t)s.len);
}

void kw_compact_string(struct kwriter *w, struct kstr s)
{
	if (s.len > INT16_MAX || s.len < -1) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	kw_uvarint(w, (uint32_t)(s.len + 1));
	if (s.len > 0)
		kw_raw(w, s.p, (size_t)s.len);
}

void kw_bytes(struct kwriter *w, struct kbytes b)
{
	kw_int32(w, b.len < 0 ? -1 : b.len);
	if (b.len > 0)
		kw_raw(w, b.p, (size_t)b.len);
}

void kw_compact_bytes(struct kwriter *w, struct kbytes b)
{
	kw_uvarint(w, b.len < 0 ? 0 : (uint32_t)b.len + 1);
	if (b.len > 0)
		kw_raw(w, b.p, (size_t)b.len);
}

void kw_array_len(struct kwriter *w, int32_t n) { kw_int32(w, n < 0 ? -1 : n); }

void kw_compact_array_len(struct kwriter *w, int32_t n)
{
	kw_uvarint(w, n < 0 ? 0 : (uint32_t)n + 1);
}

void kw_tags_empty(struct kwriter *w) { kw_uvarint(w, 0); }

void kw_put_int32_at(struct kwriter *w, size_t off, int32_t v)
{
	if (w->err || !w->buf || off + 4 > w->len)
		return;
	uint32_t u = (uint32_t)v;
	for (int i = 3; i >= 0; i--, u >>= 8)
		w->buf[off + (size_t)i] = (uint8_t)u;
}

/* ---- headers ---- */

int kafka_request_header_parse(struct kreader *r, struct kafka_request_header *h)
{
	h->api_key = kr_int16(r);
	h->api_version = kr_int16(r);
	h->correlation_id = kr_int32(r);
	h->client_id = kr_string(r);    /* never compact, even in v2 */
	h->version = 1;
	if (!r->err && kafka_api_is_flexible(h->api_key, h->api_version)) {
		h->version = 2;
		kr_tags_skip(r);
	}
	return r->err;
}

void kafka_request_header_write(struct kwriter *w, const struct kafka_request_header *h)
{
	kw_int16(w, h->api_key);
	kw_int16(w, h->api_version);
	kw_int32(w, h->correlation_id);
	kw_string(w, h->client_id);
	if (kafka_api_is_flexible(h->api_key, h->api_version))
		kw_tags_empty(w);
}

int kafka_response_header_version(int16_t api_key, int16_t api_version)
{
	if (api_key == KAFKA_API_VERSIONS)
		return 0;
	return kafka_api_is_flexible(api_key, api_version) ? 1 : 0;
}

void kafka_response_header_write(struct kwriter *w, int32_t correlation_id, int hdr_version)
{
	kw_int32(w, correlation_id);
	if (hdr_version >= 1)
		kw_tags_empty(w);
}

struct kafka_frame kafka_response_begin(struct kwriter *w, int16_t api_key,
					int16_t api_version, int32_t correlation_id)
{
	struct kafka_frame f = { w->len, w->spliced };

	kw_int32(w, 0);         /* patched by kafka_response_end() */
	kafka_response_header_write(w, correlation_id,
				    kafka_response_header_version(api_key, api_version));
	return f;
}

int kafka_response_end(struct kwriter *w, struct kafka_frame f)
{
	size_t n = w->len - f.start - 4 + (w->spliced - f.spliced);

	if (!w->err && n > INT32_MAX)
		w->err = -EMSGSIZE;
	kw_put_int32_at(w, f.start, (int32_t)n);
	return w->err;
}
