/*
 * fuzz_console.c - libFuzzer target for the web console's decoders
 * (ops/decode.c): record batches as the live tail reads them from a Fetch
 * answer, and consumer-protocol assignments as DescribeGroups returns them
 * (bytes a client chose, in SyncGroup).
 *
 * Input: byte 0 picks the decoder (even: batches, odd: assignment), the
 * rest is its input. The JSON produced must be NUL-terminated and the
 * decoders must never read outside the input (ASan checks).
 * Seeds: the RecordBatch bytes of the corpus' Produce requests do.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ops/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf b = { 0 };
	char note[256] = "";

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		ops_tail_json_batches(&b, data + 1, size - 1, 1000, note, sizeof(note));
	else
		ops_json_assignment(&b, data + 1, (int32_t)(size - 1));
	if (b.p && strlen(b.p) != b.len)
		__builtin_trap();
	sbuf_free(&b);
	return 0;
}
