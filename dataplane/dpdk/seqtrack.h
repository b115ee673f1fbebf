/* seqtrack.h - gaps and duplicates in one session of a sequenced feed.
 *
 * A session's datagrams each carry the sequence number of their first
 * message and how many messages they hold (MoldUDP64; a sequence field
 * rule holds one message per datagram). The tracker keeps the next
 * sequence it expects and the gaps still open, and classifies each
 * datagram:
 *   FIRST      the first one seen (a capture may start mid-session)
 *   IN_ORDER   it starts at the expected sequence (heartbeats too)
 *   GAP        it starts after it: [next, seq) is missing, now open
 *   FILL       some of its messages were in an open gap (a gap fill from
 *              a re-request server, or a late packet): those are closed
 *   DUPLICATE  every message was seen before
 * A datagram can carry old and new messages at once (then it is IN_ORDER
 * or FILL); dup says how many it repeats, fill how many it filled.
 *
 * At most SEQ_GAPS_MAX gaps are kept open per session (the oldest is
 * given up beyond that: still counted, no longer fillable). Plain memory,
 * one owner; no allocation. */
#ifndef SLUICE_SEQTRACK_H
#define SLUICE_SEQTRACK_H

#include <stdbool.h>
#include <stdint.h>

#define SEQ_GAPS_MAX 64

enum seq_verdict {
    SEQ_FIRST,
    SEQ_IN_ORDER,
    SEQ_GAP,
    SEQ_FILL,
    SEQ_DUPLICATE,
};

struct seq_range {
    uint64_t from, count;
};

struct seq_session {
    bool started;
    uint64_t next;                      /* the sequence expected next */
    struct seq_range open[SEQ_GAPS_MAX]; /* open gaps, in sequence order */
    int nopen;
    /* counters */
    uint64_t datagrams, messages;
    uint64_t gaps, gap_messages;        /* gaps seen (open or since filled) */
    uint64_t duplicates, dup_messages;  /* datagrams with repeated messages */
    uint64_t fills, fill_messages;
    uint64_t given_up;                  /* gaps dropped from the open list */
};

struct seq_result {
    enum seq_verdict verdict;
    struct seq_range gap;               /* GAP: what went missing */
    uint64_t dup;                       /* messages it repeats */
    uint64_t fill;                      /* messages it filled */
};

void seq_session_init(struct seq_session *s);

/* One datagram: messages from seq, count of them (0: a heartbeat, whose
 * seq is the next to come). */
void seq_track(struct seq_session *s, uint64_t seq, uint64_t count, struct seq_result *r);

/* Messages still missing in the open gaps. */
uint64_t seq_missing(const struct seq_session *s);

#endif
