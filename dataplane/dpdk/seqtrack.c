/* seqtrack.c - gaps and duplicates of a sequenced session (see
 * seqtrack.h). Sequence numbers are unsigned 64-bit and taken to grow:
 * a feed that wraps (MoldUDP64 never does within a session) would show a
 * duplicate. */
#include "dataplane/dpdk/seqtrack.h"

#include <string.h>

void seq_session_init(struct seq_session *s)
{
    memset(s, 0, sizeof(*s));
}

static void open_gap(struct seq_session *s, uint64_t from, uint64_t count)
{
    if (s->nopen == SEQ_GAPS_MAX) {
        memmove(s->open, s->open + 1, (SEQ_GAPS_MAX - 1) * sizeof(s->open[0]));
        s->nopen--;
        s->given_up++;
    }
    s->open[s->nopen++] = (struct seq_range){ from, count };
    s->gaps++;
    s->gap_messages += count;
}

/* Closes what of [from, end) lies in open gaps; returns how many. */
static uint64_t fill_gaps(struct seq_session *s, uint64_t from, uint64_t end)
{
    uint64_t filled = 0;
    for (int i = 0; i < s->nopen;) {
        struct seq_range *g = &s->open[i];
        uint64_t gs = g->from, ge = g->from + g->count;
        uint64_t lo = from > gs ? from : gs, hi = end < ge ? end : ge;
        if (lo >= hi) {
            i++;
            continue;
        }
        filled += hi - lo;
        if (lo == gs && hi == ge) {          /* all of it */
            memmove(g, g + 1, (size_t)(s->nopen - i - 1) * sizeof(*g));
            s->nopen--;
            continue;
        }
        if (lo == gs) {                      /* its start */
            *g = (struct seq_range){ hi, ge - hi };
        } else if (hi == ge) {               /* its end */
            g->count = lo - gs;
        } else {                             /* its middle: split */
            g->count = lo - gs;
            if (s->nopen < SEQ_GAPS_MAX) {
                memmove(g + 2, g + 1, (size_t)(s->nopen - i - 1) * sizeof(*g));
                g[1] = (struct seq_range){ hi, ge - hi };
                s->nopen++;
                i++;
            }
        }
        i++;
    }
    return filled;
}

void seq_track(struct seq_session *s, uint64_t seq, uint64_t count, struct seq_result *r)
{
    memset(r, 0, sizeof(*r));
    uint64_t end = seq + count;
    s->datagrams++;
    s->messages += count;
    if (!s->started) {
        s->started = true;
        s->next = end;
        r->verdict = SEQ_FIRST;
        return;
    }
    if (seq > s->next) {
        r->gap = (struct seq_range){ s->next, seq - s->next };
        open_gap(s, s->next, seq - s->next);
        s->next = end;
        r->verdict = SEQ_GAP;
        return;
    }
    if (seq == s->next || count == 0) {
        if (end > s->next)
            s->next = end;
        r->verdict = SEQ_IN_ORDER;
        return;
    }
    /* It starts before the expected sequence: its old part fills open
     * gaps or repeats; a new part (past next) is in order. */
    uint64_t old_end = end < s->next ? end : s->next;
    r->fill = fill_gaps(s, seq, old_end);
    r->dup = old_end - seq - r->fill;
    if (end > s->next)
        s->next = end;
    if (r->fill) {
        s->fills++;
        s->fill_messages += r->fill;
    }
    if (r->dup) {
        s->duplicates++;
        s->dup_messages += r->dup;
    }
    r->verdict = r->fill ? SEQ_FILL : end > old_end ? SEQ_IN_ORDER : SEQ_DUPLICATE;
}

uint64_t seq_missing(const struct seq_session *s)
{
    uint64_t n = 0;
    for (int i = 0; i < s->nopen; i++)
        n += s->open[i].count;
    return n;
}
