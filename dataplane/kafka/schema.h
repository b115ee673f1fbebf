/*
 * schema.h - table-driven Kafka message codec.
 *
 * A message is described, like apache/kafka's message JSON, by a table of
 * fields per struct: wire type, the versions it exists in, the versions it
 * is nullable in, an optional tag (flexible versions only) and a default.
 * One interpreter (schema.c) decodes any version of any described message
 * into a plain C struct and encodes such a struct back. Flexible versions
 * switch strings, bytes and arrays to compact forms and end every struct
 * with a tagged-field section.
 *
 * Decoded strings/bytes are views into the frame; arrays are allocated from
 * a caller arena (struct kafka_arena), never malloc. A field absent from the
 * decoded version holds its schema default.
 *
 * Fetch responses: a RECORDS field whose view has p == NULL and len > 0 is a
 * hole. The encoder writes its length prefix and records a kafka_splice
 * entry (where in the buffer the hole's bytes belong), then continues with
 * the following fields, so the caller can send buf[0..off), the file range,
 * buf[off..next off), ... with sendfile/splice.
 */
#ifndef SLUICE_KAFKA_SCHEMA_H
#define SLUICE_KAFKA_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/kafka/codec.h"

/* Bump allocator over a caller buffer; reset per request by len = 0. */
struct kafka_arena {
	uint8_t *buf;
	size_t len, cap;
};

static inline void kafka_arena_init(struct kafka_arena *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
}

void *kafka_arena_alloc(struct kafka_arena *a, size_t n); /* 8-aligned, zeroed */

/* An array member of a message struct: v[0..n), n == -1 means null. */
#define KARRAY(T) struct { T *v; int32_t n; }

struct kafka_splice {
	size_t off;             /* buffer offset where the hole's bytes go */
	int32_t len;            /* bytes to splice in */
	const struct kbytes *field; /* the RECORDS field in the caller struct */
};

enum ktype {
	KT_INT8 = 1, KT_INT16, KT_INT32, KT_INT64, KT_BOOL, KT_UUID,
	KT_STRING, KT_BYTES, KT_RECORDS, KT_ARRAY, KT_STRUCT,
	KT_NSTRUCT,     /* a nullable struct: KARRAY of n = -1 (null) or 1;
			   int8 -1 or 1 on the wire, then the struct */
};

struct kschema;

struct kfield {
	uint16_t off;           /* offsetof the member in its C struct */
	uint8_t type;           /* enum ktype */
	uint8_t vmin, vmax;     /* versions the field exists in */
	uint8_t null1;          /* nullable from version null1 - 1; 0: never */
	uint8_t tag1;           /* tagged field with tag tag1 - 1; 0: not tagged */
	int32_t dflt;           /* default: ints, bools; -1 = null for strings */
	const struct kschema *sub;  /* ARRAY element / STRUCT type */
};

struct kschema {
	const struct kfield *f;
	uint16_t nf;
	uint16_t size;          /* sizeof the C struct (array element size) */
	uint8_t prim;           /* element of a primitive array: no tag section */
};

#define KV_MAX 0x7f
#define KV(lo, hi) .vmin = (lo), .vmax = (hi)
#define KALL KV(0, KV_MAX)
#define KFROM(v) KV((v), KV_MAX)
#define KNULL(v) .null1 = (uint8_t)((v) + 1)
#define KTAG(t) .tag1 = (uint8_t)((t) + 1)
#define KDEF(d) .dflt = (d)
#define KDNULL .dflt = -1
#define KSUB(s) .sub = &(s)

/* C storage size of each wire type (0: not checked). */
#define KSZ_INT8 1
#define KSZ_INT16 2
#define KSZ_INT32 4
#define KSZ_INT64 8
#define KSZ_BOOL 1
#define KSZ_UUID 16
#define KSZ_STRING sizeof(struct kstr)
#define KSZ_BYTES sizeof(struct kbytes)
#define KSZ_RECORDS sizeof(struct kbytes)
#define KSZ_ARRAY sizeof(KARRAY(char))
#define KSZ_STRUCT 0
#define KSZ_NSTRUCT sizeof(KARRAY(char))

/* One field; fails to compile if the member's size does not fit the type. */
#define KF(S, m, t, ...) {                                                   \
	.off = (uint16_t)(offsetof(S, m) + 0 * sizeof(char[                  \
		(KSZ_##t == 0 || sizeof(((S *)0)->m) == KSZ_##t) ? 1 : -1])),\
	.type = KT_##t, __VA_ARGS__ }

#define KSCHEMA(name, S, fields)                                             \
	const struct kschema name = {                                        \
		fields, sizeof(fields) / sizeof(fields[0]), sizeof(S), 0 }

/* Shared element schemas of primitive arrays. */
extern const struct kschema kafka_int32_elem, kafka_int64_elem, kafka_string_elem;

/*
 * Decode one struct of schema s at version ver into obj (whose storage the
 * caller owns, s->size bytes). flexible: ver uses compact/tagged encoding.
 * Returns 0, -EBADMSG (malformed or truncated) or -ENOMEM (arena full).
 */
int kafka_decode(struct kreader *r, const struct kschema *s, int ver, bool flexible,
		 struct kafka_arena *a, void *obj);

/* Encode obj; returns w->err (0, -ENOSPC, -EINVAL on a null that the
 * version cannot carry, or on a hole without splice room). */
int kafka_encode(struct kwriter *w, const struct kschema *s, int ver, bool flexible,
		 const void *obj);

/* Set every field of obj (top level only) to its schema default. */
void kafka_defaults(const struct kschema *s, void *obj);

#endif
