/*
 * schema.c - the one interpreter of the message tables in msg_*.c:
 * decode (wire -> C struct), encode (C struct -> wire) and defaults.
 *
 * Owns: the rules that differ between classic and flexible versions
 * (compact lengths, tagged-field sections after every struct) and the
 * record-data holes of fetch responses. Recursion follows the static
 * schema nesting only (at most a few levels), never the input.
 * Must never: allocate outside the caller arena or trust a wire length.
 */
#include "dataplane/kafka/schema.h"

#include <errno.h>
#include <string.h>

struct karr {                   /* the layout of every KARRAY(T) member */
	void *v;
	int32_t n;
};

static const struct kfield int32_f[] = { { .type = KT_INT32, KALL } };
static const struct kfield int64_f[] = { { .type = KT_INT64, KALL } };
static const struct kfield string_f[] = { { .type = KT_STRING, KALL } };
const struct kschema kafka_int32_elem = { int32_f, 1, sizeof(int32_t), 1 };
const struct kschema kafka_int64_elem = { int64_f, 1, sizeof(int64_t), 1 };
const struct kschema kafka_string_elem = { string_f, 1, sizeof(struct kstr), 1 };

void *kafka_arena_alloc(struct kafka_arena *a, size_t n)
{
	size_t at = (a->len + 7) & ~(size_t)7;

	if (at < a->len || at > a->cap || a->cap - at < n)
		return NULL;
	a->len = at + n;
	memset(a->buf + at, 0, n); /* arenas are reused: callers rely on zeroes */
	return a->buf + at;
}

static bool in_version(const struct kfield *f, int ver)
{
	return ver >= f->vmin && ver <= f->vmax;
}

static bool nullable(const struct kfield *f, int ver)
{
	return f->null1 && ver >= f->null1 - 1;
}

/* ---- defaults ---- */

static void set_int(void *p, uint8_t type, int64_t v)
{
	int8_t i8 = (int8_t)v;
	int16_t i16 = (int16_t)v;
	int32_t i32 = (int32_t)v;
	bool b = v != 0;

	switch (type) {
	case KT_INT8: memcpy(p, &i8, 1); break;
	case KT_BOOL: memcpy(p, &b, 1); break;
	case KT_INT16: memcpy(p, &i16, 2); break;
	case KT_INT32: memcpy(p, &i32, 4); break;
	case KT_INT64: memcpy(p, &v, 8); break;
	}
}

static int64_t get_int(const void *p, uint8_t type)
{
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;
	bool b;

	switch (type) {
	case KT_INT8: memcpy(&i8, p, 1); return i8;
	case KT_BOOL: memcpy(&b, p, 1); return b;
	case KT_INT16: memcpy(&i16, p, 2); return i16;
	case KT_INT32: memcpy(&i32, p, 4); return i32;
	case KT_INT64: memcpy(&i64, p, 8); return i64;
	}
	return 0;
}

void kafka_defaults(const struct kschema *s, void *obj)
{
	memset(obj, 0, s->size);
	for (const struct kfield *f = s->f; f < s->f + s->nf; f++) {
		uint8_t *p = (uint8_t *)obj + f->off;
		struct kbytes null = { NULL, -1 };

		if (f->type <= KT_BOOL)
			set_int(p, f->type, f->dflt);
		else if (f->type >= KT_STRING && f->type <= KT_RECORDS && f->dflt == -1)
			memcpy(p, &null, sizeof(null));
		else if (f->type == KT_STRUCT)
			kafka_defaults(f->sub, p);
		else if (f->type == KT_NSTRUCT)
			memcpy(p, &(struct karr){ NULL, -1 }, sizeof(struct karr));
	}
}

/* ---- decode ---- */

struct dctx {
	struct kreader *r;
	int ver;
	bool flex;
	struct kafka_arena *a;
	int err;                /* -ENOMEM from the arena */
};

static int dec_struct(struct dctx *c, const struct kschema *s, void *obj);

static struct kbytes dec_sized(struct dctx *c, const struct kfield *f)
{
	struct kbytes b;

	if (f->type == KT_STRING) {
		struct kstr s = c->flex ? kr_compact_string(c->r) : kr_string(c->r);
		b = (struct kbytes){ (const uint8_t *)s.p, s.len };
	} else {
		b = c->flex ? kr_compact_bytes(c->r) : kr_bytes(c->r);
	}
	if (b.len < 0 && !nullable(f, c->ver))
		kr_fail(c->r);
	return b;
}

static void dec_array(struct dctx *c, const struct kfield *f, void *p)
{
	const struct kschema *e = f->sub;
	int32_t n = c->flex ? kr_compact_array_len(c->r) : kr_array_len(c->r);
	struct karr arr = { NULL, n };

	if (c->r->err)
		return;
	if (n < 0 && !nullable(f, c->ver)) {
		kr_fail(c->r);
		return;
	}
	if (n > KAFKA_ARRAY_MAX || (n > 0 && (size_t)n > kreader_left(c->r))) {
		kr_fail(c->r);  /* Kafka's cap; and every element takes a byte */
		return;
	}
	if (n > 0 && !(arr.v = kafka_arena_alloc(c->a, (size_t)n * e->size))) {
		c->err = -ENOMEM;
		kr_fail(c->r);
		return;
	}
	for (int32_t i = 0; i < n && !c->r->err; i++) {
		uint8_t *el = (uint8_t *)arr.v + (size_t)i * e->size;
		if (e->prim) {
			const struct kfield *ef = e->f;
			if (ef->type == KT_STRING) {
				struct kbytes b = dec_sized(c, ef);
				memcpy(el, &b, sizeof(b));
			} else {
				set_int(el, ef->type, ef->type == KT_INT64 ?
					kr_int64(c->r) : kr_int32(c->r));
			}
		} else {
			dec_struct(c, e, el);
		}
	}
	if (!c->r->err)
		memcpy(p, &arr, sizeof(arr));
}

static void dec_nstruct(struct dctx *c, const struct kfield *f, void *p)
{
	struct karr arr = { NULL, -1 };

	if (kr_int8(c->r) >= 0) {
		if (!(arr.v = kafka_arena_alloc(c->a, f->sub->size))) {
			c->err = -ENOMEM;
			kr_fail(c->r);
			return;
		}
		arr.n = 1;
		dec_struct(c, f->sub, arr.v);
	}
	if (!c->r->err)
		memcpy(p, &arr, sizeof(arr));
}

static void dec_field(struct dctx *c, const struct kfield *f, void *obj)
{
	uint8_t *p = (uint8_t *)obj + f->off;
	struct kreader *r = c->r;

	switch (f->type) {
	case KT_INT8: set_int(p, f->type, kr_int8(r)); break;
	case KT_BOOL: set_int(p, f->type, kr_bool(r)); break;
	case KT_INT16: set_int(p, f->type, kr_int16(r)); break;
	case KT_INT32: set_int(p, f->type, kr_int32(r)); break;
	case KT_INT64: set_int(p, f->type, kr_int64(r)); break;
	case KT_UUID: {
		struct kuuid u = kr_uuid(r);
		memcpy(p, &u, sizeof(u));
		break;
	}
	case KT_STRING:
	case KT_BYTES:
	case KT_RECORDS: {
		struct kbytes b = dec_sized(c, f);
		memcpy(p, &b, sizeof(b));
		break;
	}
	case KT_ARRAY: dec_array(c, f, p); break;
	case KT_STRUCT: dec_struct(c, f->sub, p); break;
	case KT_NSTRUCT: dec_nstruct(c, f, p); break;
	default: kr_fail(r);
	}
}

static const struct kfield *find_tag(const struct kschema *s, uint32_t tag, int ver)
{
	for (const struct kfield *f = s->f; f < s->f + s->nf; f++)
		if (f->tag1 && f->tag1 - 1u == tag && in_version(f, ver))
			return f;
	return NULL;
}

/* A tagged section: known tags decode from their own bounded reader. */
static void dec_tags(struct dctx *c, const struct kschema *s, void *obj)
{
	struct kreader *outer = c->r;
	uint32_t n = kr_uvarint(outer);

	if (n > KAFKA_TAGS_MAX) {
		kr_fail(outer);
		return;
	}
	for (uint32_t i = 0; i < n && !outer->err; i++) {
		uint32_t tag = kr_uvarint(outer);
		uint32_t len = kr_uvarint(outer);
		const uint8_t *q = kr_raw(outer, len);
		const struct kfield *f = find_tag(s, tag, c->ver);
		struct kreader sub;

		if (!q || !f)
			continue;       /* error, or an unknown tag: skipped */
		kreader_init(&sub, q, len);
		c->r = &sub;
		dec_field(c, f, obj);
		c->r = outer;
		if (sub.err || kreader_left(&sub))
			kr_fail(outer);
	}
}

static int dec_struct(struct dctx *c, const struct kschema *s, void *obj)
{
	kafka_defaults(s, obj);
	for (const struct kfield *f = s->f; f < s->f + s->nf && !c->r->err; f++) {
		if (in_version(f, c->ver) && !f->tag1)
			dec_field(c, f, obj);
	}
	if (c->flex)
		dec_tags(c, s, obj);
	return c->r->err;
}

int kafka_decode(struct kreader *r, const struct kschema *s, int ver, bool flexible,
		 struct kafka_arena *a, void *obj)
{
	struct dctx c = { r, ver, flexible, a, 0 };

	dec_struct(&c, s, obj);
	return c.err ? c.err : r->err;
}

/* ---- encode ---- */

static void enc_struct(struct kwriter *w, const struct kschema *s, int ver, bool flex,
		       const void *obj);

static void fail(struct kwriter *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* b is the caller's own RECORDS member: the splice entry points at it. */
static void enc_hole(struct kwriter *w, const struct kbytes *b, bool flex)
{
	if (flex)
		kw_uvarint(w, (uint32_t)b->len + 1);
	else
		kw_int32(w, b->len);
	if (w->err || !w->buf)
		return;
	if (w->nsplice >= w->splice_cap) {
		fail(w, -EINVAL);
		return;
	}
	w->splice[w->nsplice++] = (struct kafka_splice){ w->len, b->len, b };
	w->spliced += (size_t)b->len;
}

static void enc_sized(struct kwriter *w, const struct kfield *f, int ver, bool flex,
		      const struct kbytes *b, const void *orig)
{
	if (b->len < 0 && !nullable(f, ver)) {
		fail(w, -EINVAL);
		return;
	}
	if (f->type == KT_RECORDS && !b->p && b->len > 0) {
		enc_hole(w, orig, flex);
	} else if (f->type == KT_STRING) {
		struct kstr s = { (const char *)b->p, b->len };
		if (flex)
			kw_compact_string(w, s);
		else
			kw_string(w, s);
	} else if (flex) {
		kw_compact_bytes(w, *b);
	} else {
		kw_bytes(w, *b);
	}
}

static void enc_array(struct kwriter *w, const struct kfield *f, int ver, bool flex,
		      const struct karr *arr)
{
	const struct kschema *e = f->sub;

	if (arr->n < 0 && !nullable(f, ver)) {
		fail(w, -EINVAL);
		return;
	}
	if (flex)
		kw_compact_array_len(w, arr->n);
	else
		kw_array_len(w, arr->n);
	for (int32_t i = 0; i < arr->n && !w->err; i++) {
		const uint8_t *el = (const uint8_t *)arr->v + (size_t)i * e->size;
		if (!e->prim) {
			enc_struct(w, e, ver, flex, el);
		} else if (e->f->type == KT_STRING) {
			struct kbytes b;
			memcpy(&b, el, sizeof(b));
			enc_sized(w, e->f, ver, flex, &b, el);
		} else if (e->f->type == KT_INT64) {
			kw_int64(w, get_int(el, KT_INT64));
		} else {
			kw_int32(w, (int32_t)get_int(el, KT_INT32));
		}
	}
}

static void enc_field(struct kwriter *w, const struct kfield *f, int ver, bool flex,
		      const void *obj)
{
	const uint8_t *p = (const uint8_t *)obj + f->off;
	int64_t v = f->type <= KT_BOOL ? get_int(p, f->type) : 0;

	switch (f->type) {
	case KT_INT8: kw_int8(w, (int8_t)v); break;
	case KT_BOOL: kw_bool(w, v != 0); break;
	case KT_INT16: kw_int16(w, (int16_t)v); break;
	case KT_INT32: kw_int32(w, (int32_t)v); break;
	case KT_INT64: kw_int64(w, v); break;
	case KT_UUID: kw_raw(w, p, sizeof(struct kuuid)); break;
	case KT_STRING:
	case KT_BYTES:
	case KT_RECORDS: {
		struct kbytes b;
		memcpy(&b, p, sizeof(b));
		enc_sized(w, f, ver, flex, &b, p);
		break;
	}
	case KT_ARRAY: {
		struct karr arr;
		memcpy(&arr, p, sizeof(arr));
		enc_array(w, f, ver, flex, &arr);
		break;
	}
	case KT_STRUCT: enc_struct(w, f->sub, ver, flex, p); break;
	case KT_NSTRUCT: {
		struct karr arr;
		memcpy(&arr, p, sizeof(arr));
		kw_int8(w, arr.n < 0 ? -1 : 1);
		if (arr.n >= 0)
			enc_struct(w, f->sub, ver, flex, arr.v);
		break;
	}
	default: fail(w, -EINVAL);
	}
}

static bool is_default(const struct kfield *f, int ver, const void *obj)
{
	const uint8_t *p = (const uint8_t *)obj + f->off;
	static const struct kuuid zero;
	struct kbytes b;
	struct karr arr;

	switch (f->type) {
	case KT_UUID:
		return memcmp(p, &zero, sizeof(zero)) == 0;
	case KT_STRING:
	case KT_BYTES:
	case KT_RECORDS:
		memcpy(&b, p, sizeof(b));
		return f->dflt == -1 ? b.len == -1 : b.len == 0;
	case KT_ARRAY:
		memcpy(&arr, p, sizeof(arr));
		return arr.n == 0;
	case KT_NSTRUCT:
		memcpy(&arr, p, sizeof(arr));
		return arr.n < 0;
	case KT_STRUCT:
		for (const struct kfield *g = f->sub->f; g < f->sub->f + f->sub->nf; g++)
			if (in_version(g, ver) && !is_default(g, ver, p))
				return false;
		return true;
	default:
		return get_int(p, f->type) == f->dflt;
	}
}

/* Tagged fields that differ from their default, in table (= tag) order. */
static void enc_tags(struct kwriter *w, const struct kschema *s, int ver, const void *obj)
{
	uint32_t n = 0;

	for (const struct kfield *f = s->f; f < s->f + s->nf; f++)
		n += f->tag1 && in_version(f, ver) && !is_default(f, ver, obj);
	kw_uvarint(w, n);
	for (const struct kfield *f = s->f; f < s->f + s->nf && n; f++) {
		if (!f->tag1 || !in_version(f, ver) || is_default(f, ver, obj))
			continue;
		struct kwriter cw = { 0 };      /* counting writer */
		enc_field(&cw, f, ver, true, obj);
		if (cw.err || cw.len > UINT32_MAX) {
			fail(w, cw.err ? cw.err : -EINVAL);
			return;
		}
		kw_uvarint(w, f->tag1 - 1u);
		kw_uvarint(w, (uint32_t)cw.len);
		enc_field(w, f, ver, true, obj);
	}
}

static void enc_struct(struct kwriter *w, const struct kschema *s, int ver, bool flex,
		       const void *obj)
{
	for (const struct kfield *f = s->f; f < s->f + s->nf && !w->err; f++) {
		if (in_version(f, ver) && !f->tag1)
			enc_field(w, f, ver, flex, obj);
	}
	if (flex)
		enc_tags(w, s, ver, obj);
}

int kafka_encode(struct kwriter *w, const struct kschema *s, int ver, bool flexible,
		 const void *obj)
{
	enc_struct(w, s, ver, flexible, obj);
	return w->err;
}
