/*
 * fuzz_eos_files.c - libFuzzer target for the on-disk formats of
 * idempotence and transactions, all read back at every start:
 *   byte 0 % 4 == 0  a producer snapshot (storage/producer_snapshot.c),
 *                    loaded into a producer state, whose LSO and expiry
 *                    then run on whatever it holds
 *              == 1  a .txnindex (storage/txn_index.c), parsed, searched
 *                    and truncated
 *              == 2  transaction log records (control/recfile.c framing,
 *                    control/txn_file.c payloads) replayed into a
 *                    coordinator, then compaction's encoder run on it
 *              == 3  a control batch's marker (storage/batch.c)
 * The rest of the input is the file's bytes. Nothing may read outside the
 * input or crash, whatever it holds.
 *
 *   ./build-fuzz/tests/fuzz/fuzz_eos_files -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/md_store.h"
#include "control/offsets.h"
#include "control/txn_private.h"
#include "storage/batch.h"
#include "storage/producer_snapshot.h"
#include "storage/producer_state.h"
#include "storage/txn_index.h"

/* The coordinator's links to the rest of the control thread are not
 * exercised by a replay: these stand in for them. */
struct md_live *md_store_find(const struct md_store *s, const char *name)
{
	(void)s;
	(void)name;
	return NULL;
}

int offsets_txn_end(struct offsets *o, int64_t pid, bool commit)
{
	(void)o;
	(void)pid;
	(void)commit;
	return 0;
}

int offsets_flush(struct offsets *o)
{
	(void)o;
	return 0;
}

static int load(void *ctx, const struct producer_entry *e)
{
	return producer_state_load(ctx, e);
}

static void snapshot(const uint8_t *p, size_t n)
{
	struct producer_state ps;
	producer_state_init(&ps);
	if (producer_snapshot_decode(p, n, load, &ps) == 0) {
		producer_state_lso(&ps, INT64_MAX);
		producer_state_first_open_txn(&ps);
		size_t len = producer_snapshot_size(&ps);
		uint8_t *buf = malloc(len);
		if (buf) {
			producer_snapshot_encode(&ps, buf);
			free(buf);
		}
		producer_state_expire(&ps, INT64_MAX / 2, 1);
	}
	producer_state_free(&ps);
}

static void txnindex(const uint8_t *p, size_t n)
{
	struct txn_index ti = { .fd = -1 };
	struct aborted_txn out[16];
	int k = 0;
	txn_index_parse(&ti, p, n);
	txn_index_collect(&ti, n > 0 ? p[0] : 0, n > 1 ? (int64_t)p[1] << 8 : INT64_MAX, out, 16, &k);
	free(ti.v);
}

static int fill(void *ctx, struct recfile *out)
{
	(void)ctx;
	(void)out;
	return 0;
}

static void txn_log(const uint8_t *p, size_t n)
{
	struct txn_coord *c = calloc(1, sizeof(*c));
	const uint8_t *payload;
	size_t len, at = 0, k;
	if (!c)
		return;
	c->file.fd = -1;
	while ((k = recfile_next(p + at, n - at, &payload, &len)) > 0) {
		if (txn_file_apply(c, payload, len) < 0)
			break;
		at += k;
	}
	/* compaction's encoder over what was loaded */
	struct recfile out = { .fd = -1 };
	for (size_t i = 0; i < c->cap; i++)
		for (struct txn *t = c->tab[i]; t; t = t->hnext)
			txn_file_put_state(c, t);
	(void)fill;
	free(out.buf);
	free(c->file.buf);
	for (size_t i = 0; i < c->cap; i++)
		while (c->tab[i])
			txn_forget(c, c->tab[i]);
	free(c->tab);
	free(c);
}

static void marker(const uint8_t *p, size_t n)
{
	int16_t type;
	int32_t epoch;
	batch_parse_marker(p, n, &type, &epoch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: snapshot(data + 1, size - 1); break;
	case 1: txnindex(data + 1, size - 1); break;
	case 2: txn_log(data + 1, size - 1); break;
	default: marker(data + 1, size - 1); break;
	}
	return 0;
}
