/* moldudp64.h - Nasdaq's MoldUDP64 framing, as a capture topic reads it:
 * the downstream packet header (session, sequence number of the first
 * message, message count), its message blocks, and the request packet a
 * receiver sends a re-request server to fill a gap.
 *
 *   downstream packet: session char[10], sequence u64, count u16, then
 *                      count message blocks (length u16, data)
 *   count 0: a heartbeat (sequence = the next one to come)
 *   count 0xFFFF: end of session (sequence = the next one)
 *   request packet:    session char[10], sequence u64, count u16
 * All integers big-endian. Only reads and writes bytes; never reads past
 * the packet, whatever its fields say. */
#ifndef SLUICE_MOLDUDP64_H
#define SLUICE_MOLDUDP64_H

#include <stddef.h>
#include <stdint.h>

#define MOLD_SESSION_LEN 10
#define MOLD_HEADER_LEN 20
#define MOLD_END_OF_SESSION 0xFFFF

struct mold_header {
    char session[MOLD_SESSION_LEN];
    uint64_t seq;
    uint16_t count;             /* as sent (0xFFFF: end of session) */
    uint16_t messages;          /* messages it carries: 0 for heartbeats
                                   and end of session */
};

/* Reads the header of a downstream packet and walks its message blocks.
 * Returns 0; -EINVAL when it is shorter than a header (h untouched);
 * -EBADMSG when the blocks do not add up to the packet (h is filled in:
 * the sequence numbers are still the sender's). */
int mold_parse(const uint8_t *p, size_t len, struct mold_header *h);

/* A request packet for count messages from seq. */
void mold_put_request(uint8_t out[MOLD_HEADER_LEN], const char session[MOLD_SESSION_LEN],
                      uint64_t seq, uint16_t count);

/* A downstream packet carrying the given messages (for tests, senders and
 * re-request servers). Returns its length, 0 when cap is too small. */
size_t mold_put_packet(uint8_t *out, size_t cap, const char session[MOLD_SESSION_LEN],
                       uint64_t seq, const uint8_t *const *msgs, const uint16_t *lens,
                       uint16_t count);

#endif
