/* fuzz_clean_batch.c - libFuzzer target for what the compacting cleaner
 * parses in a stored batch: the records section (decompressed with
 * whichever codec the attributes name: gzip, snappy raw or xerial, lz4,
 * zstd), each record's framing, and the rebuilt batch. The input is one
 * batch; its length field and CRC are fixed up so the fuzzer reaches the
 * records. Whatever survives must itself be a batch with a valid CRC that
 * the filter takes again, and the map pass's live bits must decide it
 * exactly as the offset map does. The transactions' walk (cleaner_txn.h)
 * reads it too, as if its producer had an aborted transaction from its
 * base offset on, and every fate the filter can be given yields a valid
 * batch or nothing. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch.h"
#include "storage/cleaner.h"
#include "storage/crc32c.h"

static void check_output(const struct codec_buf *out)
{
    struct batch_header h;
    if (out->len == 0)
        return;
    if (out->len < BATCH_HEADER_SIZE)
        abort();
    batch_header_decode(out->data, &h);
    if (batch_size(&h) != out->len || !batch_crc_ok(out->data, out->len))
        abort();
}

static void fuzz_fates(const uint8_t *b, size_t size, const struct clean_policy *p,
                       struct clean_scratch *s)
{
    struct batch_header h;
    batch_header_decode(b, &h);
    struct aborted_txn ab = { .pid = h.producer_id, .first_offset = h.base_offset,
                              .last_offset = INT64_MAX, .last_stable_offset = INT64_MAX };
    struct clean_txns t;
    enum clean_txn_fate fate;
    const struct aborted_txn *entry;
    clean_txns_init(&t, &ab, 1);
    if (clean_txns_on_batch(&t, b, size, &h, &fate, &entry) < 0)
        abort();
    if (entry && entry != &ab)
        abort();
    clean_txns_free(&t);
    for (int f = CLEAN_TXN_NONE; f <= CLEAN_TXN_MARKER_DONE; f++) {
        struct clean_policy pf = *p;
        struct clean_stats st = { .next_horizon_ms = INT64_MAX };
        struct codec_buf out = { 0 };
        pf.fate = (enum clean_txn_fate)f;
        if (clean_filter_batch(b, size, &pf, s, &out, &st) == 0)
            check_output(&out);
        codec_buf_free(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < BATCH_HEADER_SIZE || size > (1u << 20))
        return 0;
    uint8_t *b = malloc(size);
    memcpy(b, data, size);
    be32_store(b + BATCH_OFF_LENGTH, (uint32_t)(size - BATCH_LOG_OVERHEAD));
    b[BATCH_OFF_MAGIC] = BATCH_MAGIC;
    be32_store(b + BATCH_OFF_CRC, crc32c(b + BATCH_OFF_ATTRIBUTES, size - BATCH_OFF_ATTRIBUTES));

    struct offset_map map;
    struct live_bits live;
    struct clean_scratch s = { 0 };
    struct codec_buf out = { 0 }, out2 = { 0 }, keys = { 0 }, by_bits = { 0 };
    struct clean_stats st = { .next_horizon_ms = INT64_MAX }, st_bits = st;
    if (offset_map_init(&map, 1 << 16) < 0)
        abort();
    live_bits_init(&live, 0, 1 << 12);
    if (clean_map_batch(b, size, &map, &live, 0, &s) == -EBADMSG &&
        live_bits_note_unreadable(&live, (int64_t)be64_load(b)) < 0)
        abort();
    clean_check_keys(b, size, &keys);
    struct clean_policy p = { .map = &map, .map_end = INT64_MAX, .now_ms = 1700000000000ll,
                              .delete_retention_ms = 1000 };
    struct clean_policy pb = p;
    pb.live = &live;
    int rc = clean_filter_batch(b, size, &p, &s, &out, &st);
    if (clean_filter_batch(b, size, &pb, &s, &by_bits, &st_bits) != rc)
        abort();
    if (rc < 0)
        goto done;
    if (by_bits.len != out.len || (out.len && memcmp(by_bits.data, out.data, out.len)) ||
        st_bits.records_removed != st.records_removed)
        abort(); /* the bits decided otherwise than the map */
    if (out.len > 0) {
        struct batch_header h;
        if (out.len < BATCH_HEADER_SIZE)
            abort();
        batch_header_decode(out.data, &h);
        if (batch_size(&h) != out.len || !batch_crc_ok(out.data, out.len))
            abort();
        p.now_ms += 2000; /* past the horizon: the filter runs on its own output */
        if (clean_filter_batch(out.data, out.len, &p, &s, &out2, &st) < 0)
            goto done;
    }
    fuzz_fates(b, size, &p, &s);
done:
    codec_buf_free(&out);
    codec_buf_free(&out2);
    codec_buf_free(&keys);
    codec_buf_free(&by_bits);
    clean_scratch_free(&s);
    live_bits_close(&live);
    offset_map_close(&map);
    free(b);
    return 0;
}
