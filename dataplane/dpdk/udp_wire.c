/* udp_wire.c - the native UDP produce protocol's datagrams (see
 * udp_wire.h and docs/udp-protocol.md).
 *
 * Owns the byte layout only. Every length taken from a datagram is checked
 * against what remains before it is used; nothing here allocates or keeps
 * state. */
#include "dataplane/dpdk/udp_wire.h"

#include <string.h>

#include "storage/batch.h"

#define SEQ_SPACE ((int64_t)INT32_MAX + 1)

int32_t udp_wire_seq_add(int32_t seq, int32_t n)
{
    int64_t v = ((int64_t)seq + n) % SEQ_SPACE;
    return (int32_t)(v < 0 ? v + SEQ_SPACE : v);
}

int32_t udp_wire_seq_diff(int32_t a, int32_t b)
{
    int64_t d = ((int64_t)a - b) % SEQ_SPACE;
    if (d < 0)
        d += SEQ_SPACE;
    return (int32_t)(d > SEQ_SPACE / 2 ? d - SEQ_SPACE : d);
}

int udp_wire_type(const uint8_t *dgram, size_t len)
{
    if (len < UDP_WIRE_FIXED || be16_load(dgram) != UDP_WIRE_MAGIC ||
        dgram[2] != UDP_WIRE_VERSION)
        return 0;
    return dgram[3];
}

/* The fixed part and the topic; *body is where the type's fields start. */
static enum udp_wire_bad parse_head(const uint8_t *d, size_t len, int type,
                                    size_t body_len, const char **topic,
                                    uint16_t *topic_len, size_t *body)
{
    if (len < UDP_WIRE_FIXED)
        return UDP_WIRE_BAD_SHORT;
    if (be16_load(d) != UDP_WIRE_MAGIC)
        return UDP_WIRE_BAD_MAGIC;
    if (d[2] != UDP_WIRE_VERSION)
        return UDP_WIRE_BAD_VERSION;
    if (d[3] != type)
        return UDP_WIRE_BAD_TYPE;
    uint16_t tl = be16_load(d + 6);
    if (tl == 0 || tl > UDP_WIRE_TOPIC_MAX || UDP_WIRE_FIXED + (size_t)tl > len)
        return UDP_WIRE_BAD_TOPIC;
    if (UDP_WIRE_FIXED + (size_t)tl + body_len > len)
        return UDP_WIRE_BAD_SHORT;
    *topic = (const char *)d + UDP_WIRE_FIXED;
    *topic_len = tl;
    *body = UDP_WIRE_FIXED + tl;
    return UDP_WIRE_OK;
}

enum udp_wire_bad udp_wire_parse_produce(uint8_t *dgram, size_t len, struct udp_produce *out)
{
    size_t b;
    enum udp_wire_bad why = parse_head(dgram, len, UDP_WIRE_PRODUCE, UDP_WIRE_PRODUCE_BODY,
                                       &out->topic, &out->topic_len, &b);
    if (why != UDP_WIRE_OK)
        return why;
    const uint8_t *p = dgram + b;
    out->partition = (int32_t)be32_load(p);
    out->producer_id = (int64_t)be64_load(p + 4);
    out->producer_epoch = (int16_t)be16_load(p + 12);
    out->base_sequence = (int32_t)be32_load(p + 14);
    out->batch = dgram + b + UDP_WIRE_PRODUCE_BODY;
    size_t blen = len - b - UDP_WIRE_PRODUCE_BODY;
    if (blen < BATCH_HEADER_SIZE || blen > UINT32_MAX)
        return UDP_WIRE_BAD_BATCH;
    struct batch_header h;
    batch_header_decode(out->batch, &h);
    if (h.magic != BATCH_MAGIC || h.length < 0 || batch_size(&h) != blen ||
        h.producer_id != out->producer_id || h.producer_epoch != out->producer_epoch ||
        h.base_sequence != out->base_sequence || h.records_count <= 0 ||
        out->base_sequence < 0 || out->producer_id < 0)
        return UDP_WIRE_BAD_BATCH;
    out->batch_len = (uint32_t)blen;
    out->records = h.records_count;
    out->last_sequence = udp_wire_seq_add(out->base_sequence, h.records_count - 1);
    return UDP_WIRE_OK;
}

enum udp_wire_bad udp_wire_parse_reply(const uint8_t *dgram, size_t len, struct udp_reply *out)
{
    int type = udp_wire_type(dgram, len);
    size_t b;
    if (type != UDP_WIRE_ACK && type != UDP_WIRE_NAK)
        type = UDP_WIRE_ACK; /* let parse_head name what is wrong */
    enum udp_wire_bad why = parse_head(dgram, len, type, UDP_WIRE_REPLY_BODY, &out->topic,
                                       &out->topic_len, &b);
    if (why != UDP_WIRE_OK)
        return why;
    const uint8_t *p = dgram + b;
    out->type = (enum udp_wire_type)type;
    out->partition = (int32_t)be32_load(p);
    out->producer_id = (int64_t)be64_load(p + 4);
    out->producer_epoch = (int16_t)be16_load(p + 12);
    out->error = (int16_t)be16_load(p + 14);
    out->sequence = (int32_t)be32_load(p + 16);
    out->offset = (int64_t)be64_load(p + 20);
    return UDP_WIRE_OK;
}

static size_t put_head(uint8_t *out, size_t cap, int type, const char *topic,
                       size_t topic_len, size_t body_len)
{
    if (topic_len == 0 || topic_len > UDP_WIRE_TOPIC_MAX ||
        cap < UDP_WIRE_FIXED + topic_len + body_len)
        return 0;
    be16_store(out, UDP_WIRE_MAGIC);
    out[2] = UDP_WIRE_VERSION;
    out[3] = (uint8_t)type;
    be16_store(out + 4, 0);
    be16_store(out + 6, (uint16_t)topic_len);
    memcpy(out + UDP_WIRE_FIXED, topic, topic_len);
    return UDP_WIRE_FIXED + topic_len;
}

size_t udp_wire_put_produce_header(uint8_t *out, size_t cap, const char *topic,
                                   size_t topic_len, int32_t partition,
                                   int64_t producer_id, int16_t producer_epoch,
                                   int32_t base_sequence)
{
    size_t b = put_head(out, cap, UDP_WIRE_PRODUCE, topic, topic_len, UDP_WIRE_PRODUCE_BODY);
    if (b == 0)
        return 0;
    uint8_t *p = out + b;
    be32_store(p, (uint32_t)partition);
    be64_store(p + 4, (uint64_t)producer_id);
    be16_store(p + 12, (uint16_t)producer_epoch);
    be32_store(p + 14, (uint32_t)base_sequence);
    return b + UDP_WIRE_PRODUCE_BODY;
}

size_t udp_wire_put_reply(uint8_t *out, size_t cap, const struct udp_reply *r)
{
    if (r->type != UDP_WIRE_ACK && r->type != UDP_WIRE_NAK)
        return 0;
    size_t b = put_head(out, cap, r->type, r->topic, r->topic_len, UDP_WIRE_REPLY_BODY);
    if (b == 0)
        return 0;
    uint8_t *p = out + b;
    be32_store(p, (uint32_t)r->partition);
    be64_store(p + 4, (uint64_t)r->producer_id);
    be16_store(p + 12, (uint16_t)r->producer_epoch);
    be16_store(p + 14, (uint16_t)r->error);
    be32_store(p + 16, (uint32_t)r->sequence);
    be64_store(p + 20, (uint64_t)r->offset);
    return b + UDP_WIRE_REPLY_BODY;
}

const char *udp_wire_bad_name(enum udp_wire_bad why)
{
    switch (why) {
    case UDP_WIRE_OK: return "ok";
    case UDP_WIRE_BAD_SHORT: return "short";
    case UDP_WIRE_BAD_MAGIC: return "magic";
    case UDP_WIRE_BAD_VERSION: return "version";
    case UDP_WIRE_BAD_TYPE: return "type";
    case UDP_WIRE_BAD_TOPIC: return "topic";
    case UDP_WIRE_BAD_BATCH: return "batch";
    }
    return "?";
}
