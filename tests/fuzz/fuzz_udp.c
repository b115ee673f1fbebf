/*
 * fuzz_udp.c - libFuzzer target for the native UDP produce datagrams
 * (dataplane/dpdk/udp_wire.h), what a DPDK queue parses from every frame
 * sent to a shard's native port.
 *
 * Input: one UDP payload. The target parses it as a PRODUCE (on a copy
 * exactly its size, so ASan sees any read past the end) and as an ACK or
 * NAK; a PRODUCE that parses has its batch validated as the log would
 * (batch_validate) and its header rebuilt and parsed again to the same
 * fields; a reply that parses is rebuilt byte for byte. The same bytes as
 * a MoldUDP64 packet of a capture topic: a packet that parses is rebuilt
 * byte for byte, and its sequence goes through a session's gap tracking.
 * Seeds: tests/fuzz/corpus_udp (made by the unit tests' fixtures).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dpdk/moldudp64.h"
#include "dataplane/dpdk/seqtrack.h"
#include "dataplane/dpdk/udp_wire.h"
#include "storage/batch.h"

static void check_produce(uint8_t *d, size_t n)
{
	struct udp_produce p, q;
	uint8_t hdr[UDP_WIRE_FIXED + UDP_WIRE_TOPIC_MAX + UDP_WIRE_PRODUCE_BODY];

	if (udp_wire_parse_produce(d, n, &p) != UDP_WIRE_OK)
		return;
	if (p.batch < d || p.batch + p.batch_len != d + n)
		abort(); /* the batch is exactly the rest */
	(void)batch_validate(p.batch, p.batch_len, 0);
	size_t h = udp_wire_put_produce_header(hdr, sizeof(hdr), p.topic, p.topic_len,
					       p.partition, p.producer_id, p.producer_epoch,
					       p.base_sequence);
	/* The header is its own encoding (flags are not kept). */
	if (h == 0 || h != (size_t)(p.batch - d) || memcmp(hdr, d, 4) != 0 ||
	    memcmp(hdr + 6, d + 6, h - 6) != 0)
		abort();
	if (udp_wire_parse_produce(d, n, &q) != UDP_WIRE_OK || q.last_sequence != p.last_sequence)
		abort();
}

static void check_reply(const uint8_t *d, size_t n)
{
	struct udp_reply r;
	uint8_t out[UDP_WIRE_REPLY_MAX];

	if (udp_wire_parse_reply(d, n, &r) != UDP_WIRE_OK)
		return;
	size_t k = udp_wire_put_reply(out, sizeof(out), &r);
	/* Flags are not kept; anything after the fields is ignored. */
	if (k == 0 || k > n || memcmp(out, d, 4) != 0 || memcmp(out + 6, d + 6, k - 6) != 0)
		abort();
}

static struct seq_session session; /* across inputs, as a feed's is */

static void check_mold(const uint8_t *d, size_t n)
{
	struct mold_header h;
	struct seq_result r;
	const uint8_t *msgs[64];
	uint16_t lens[64];
	static uint8_t out[65536];

	int rc = mold_parse(d, n, &h);
	if (rc == -EINVAL)
		return;
	seq_track(&session, h.seq, h.messages, &r);
	if (session.nopen > SEQ_GAPS_MAX || (r.verdict == SEQ_GAP && r.gap.count == 0))
		abort();
	if (rc != 0 || h.messages > 64)
		return;
	size_t off = MOLD_HEADER_LEN;
	for (uint16_t i = 0; i < h.messages; i++) {
		lens[i] = (uint16_t)(d[off] << 8 | d[off + 1]);
		msgs[i] = d + off + 2;
		off += 2 + (size_t)lens[i];
	}
	size_t k = mold_put_packet(out, sizeof(out), h.session, h.seq, msgs, lens, h.count);
	if (k != n || memcmp(out, d, n) != 0)
		abort(); /* a packet is its own encoding */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	(void)udp_wire_type(copy, size);
	check_produce(copy, size);
	check_reply(copy, size);
	check_mold(copy, size);
	free(copy);
	return 0;
}
