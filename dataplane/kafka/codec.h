/*
 * codec.h - Kafka wire primitives: a bounded reader, a bounded writer and
 * the request/response headers.
 *
 * The reader never reads outside [p, end). Its error is sticky: the first
 * over-read or malformed value sets err to -EBADMSG, moves p to end, and
 * every later read returns a zero value. Callers check err once, after a
 * whole message. Strings and bytes are views into the frame (no copies, no
 * allocation); a null string or byte array has len == -1.
 *
 * The writer fills a caller buffer. Overflow sets a sticky -ENOSPC; with
 * buf == NULL it only counts (len grows, nothing is stored), which is how
 * sizes of tagged fields are measured before they are written.
 *
 * Nothing here allocates, blocks or knows about sockets.
 */
#ifndef SLUICE_KAFKA_CODEC_H
#define SLUICE_KAFKA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kstr {                   /* view of a string; len -1 = null */
	const char *p;
	int32_t len;
};

struct kbytes {                 /* view of bytes; len -1 = null */
	const uint8_t *p;
	int32_t len;
};

struct kuuid {
	uint8_t b[16];
};

#define KSTR_NULL ((struct kstr){ NULL, -1 })
#define KSTR_LIT(s) ((struct kstr){ (s), (int32_t)sizeof(s) - 1 })
struct kstr kstr_c(const char *s);      /* view of a C string; NULL -> null */
bool kstr_eq(struct kstr a, const char *s);

struct kreader {
	const uint8_t *p, *end;
	int err;                /* 0 or -EBADMSG, sticky */
};

static inline void kreader_init(struct kreader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
	r->err = 0;
}

static inline size_t kreader_left(const struct kreader *r)
{
	return (size_t)(r->end - r->p);
}

void kr_fail(struct kreader *r);
int8_t kr_int8(struct kreader *r);
int16_t kr_int16(struct kreader *r);
int32_t kr_int32(struct kreader *r);
int64_t kr_int64(struct kreader *r);
uint32_t kr_uint32(struct kreader *r);
bool kr_bool(struct kreader *r);
uint32_t kr_uvarint(struct kreader *r);
int32_t kr_varint(struct kreader *r);   /* zigzag */
int64_t kr_varlong(struct kreader *r);  /* zigzag */
struct kuuid kr_uuid(struct kreader *r);
const uint8_t *kr_raw(struct kreader *r, size_t n);
struct kstr kr_string(struct kreader *r);          /* int16 length, -1 null */
struct kstr kr_compact_string(struct kreader *r);  /* uvarint length + 1 */
struct kbytes kr_bytes(struct kreader *r);         /* int32 length, -1 null */
struct kbytes kr_compact_bytes(struct kreader *r); /* uvarint length + 1 */
/* Kafka 4.4's decoder limits, checked before anything is allocated: an
 * array of more elements, or a tagged section of more fields, fails the
 * request. */
#define KAFKA_ARRAY_MAX (1 << 20)
#define KAFKA_TAGS_MAX 10000

int32_t kr_array_len(struct kreader *r);           /* int32, -1 null */
int32_t kr_compact_array_len(struct kreader *r);   /* uvarint - 1 */
void kr_tags_skip(struct kreader *r);              /* skip a tagged section */

struct kafka_splice;

struct kwriter {
	uint8_t *buf;           /* NULL: count only */
	size_t len, cap;
	int err;                /* 0, -ENOSPC or -EINVAL, sticky */
	/* Optional: where encoders record record-data holes (see schema.h). */
	struct kafka_splice *splice;
	uint32_t nsplice, splice_cap;
	size_t spliced;         /* total bytes of all holes */
};

static inline void kwriter_init(struct kwriter *w, void *buf, size_t cap)
{
	*w = (struct kwriter){ .buf = buf, .cap = cap };
}

void kw_raw(struct kwriter *w, const void *p, size_t n);
void kw_int8(struct kwriter *w, int8_t v);
void kw_int16(struct kwriter *w, int16_t v);
void kw_int32(struct kwriter *w, int32_t v);
void kw_int64(struct kwriter *w, int64_t v);
void kw_uint32(struct kwriter *w, uint32_t v);
void kw_bool(struct kwriter *w, bool v);
void kw_uvarint(struct kwriter *w, uint32_t v);
void kw_varint(struct kwriter *w, int32_t v);
void kw_varlong(struct kwriter *w, int64_t v);
void kw_uuid(struct kwriter *w, const struct kuuid *u);
void kw_string(struct kwriter *w, struct kstr s);
void kw_compact_string(struct kwriter *w, struct kstr s);
void kw_bytes(struct kwriter *w, struct kbytes b);
void kw_compact_bytes(struct kwriter *w, struct kbytes b);
void kw_array_len(struct kwriter *w, int32_t n);
void kw_compact_array_len(struct kwriter *w, int32_t n);
void kw_tags_empty(struct kwriter *w);
size_t kw_uvarint_size(uint32_t v);
void kw_put_int32_at(struct kwriter *w, size_t off, int32_t v);

/* Request header v1 (classic) or v2 (flexible: + tagged fields). */
struct kafka_request_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct kstr client_id;  /* always an int16-length nullable string */
	uint8_t version;        /* header version read: 1 or 2 */
};

/*
 * Parse a request header from r (positioned after the 4-byte frame length).
 * The header version follows from (api_key, api_version) being flexible;
 * an unknown api key is read as header v1. Returns 0 or -EBADMSG.
 */
int kafka_request_header_parse(struct kreader *r, struct kafka_request_header *h);
void kafka_request_header_write(struct kwriter *w, const struct kafka_request_header *h);

/* Response header version for a request: 1 if flexible, 0 otherwise and
 * always 0 for ApiVersions (clients read its header before knowing). */
int kafka_response_header_version(int16_t api_key, int16_t api_version);
void kafka_response_header_write(struct kwriter *w, int32_t correlation_id, int hdr_version);

/* Frame helpers: begin reserves the 4-byte length and writes the response
 * header; end patches the length (buffer bytes + spliced hole bytes). */
struct kafka_frame {
	size_t start;           /* offset of the length field in w */
	size_t spliced;         /* w->spliced when the frame began */
};
struct kafka_frame kafka_response_begin(struct kwriter *w, int16_t api_key,
					int16_t api_version, int32_t correlation_id);
int kafka_response_end(struct kwriter *w, struct kafka_frame f);

#endif
