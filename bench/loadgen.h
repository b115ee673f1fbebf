/* loadgen.h - what every load generator under bench/ shares: the command
 * line, the clocks, open-loop pacing, latency stamps in the payload, and
 * the RESULT line the harness (bench/run) reads.
 *
 * Command line (each tool may add its own options, see lg_opts_parse):
 *   --mode produce|consume|latency
 *   --target ADDR        where the system listens (host:port, or a URL)
 *   --topic NAME         topic / stream / subject prefix
 *   --partitions N       partitions (or streams, or subjects) to spread over
 *   --size BYTES         message value size (latency needs >= LG_STAMP_BYTES)
 *   --count N            produce / consume: messages
 *   --seconds S          produce / consume: bound on the timed loop;
 *                        latency: how long to send at --rate
 *   --rate R             latency: messages per second, open loop
 *   --warmup S           latency: the first S seconds are not recorded
 *   --window N           messages in flight (pipelining depth)
 *   --hist-out PREFIX    latency: write PREFIX-ack.csv and PREFIX-e2e.csv
 *
 * Open loop: message i of a latency run is due at start + i/rate (its
 * intended time), which is stamped into its first 16 bytes with its
 * sequence number. Acks and deliveries are timed from the intended time, not from when the generator
 * got round to sending, so a stall anywhere (broker, client, generator)
 * shows in the latency instead of silently lowering the rate (coordinated
 * omission). How late the generator itself sent is reported too (lag_*).
 *
 * The RESULT line: "RESULT system=... mode=... key=value ...", one line,
 * last on stdout; MB = 10^6 bytes, latencies in microseconds.
 */
#ifndef SLUICE_BENCH_LOADGEN_H
#define SLUICE_BENCH_LOADGEN_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define LG_STAMP_BYTES 16      /* intended ns + sequence, little-endian */
#define LG_DRAIN_GRACE_S 2.0   /* latency: a run keeps up if everything
                                  arrives within this after the last send */
#define LG_START_DELAY_NS 100000000ull  /* latency: from set-up to message 0 */

struct lg_opts {
    const char *mode;          /* "produce" / "consume" / "latency" */
    const char *target;
    const char *topic;
    int partitions;
    size_t size;
    uint64_t count;
    double seconds;
    double rate;
    double warmup;
    unsigned window;
    unsigned in_flight;        /* latency: at most this many unacknowledged
                                  (1: a synchronous producer); 0: open loop */
    const char *hist_out;
    bool verbose;
};

/* A tool's own options: longopts (terminated by a zeroed entry) with
 * `val` codes >= 256, and the function that takes each of them. */
struct lg_extra {
    const struct option *longopts;
    int (*take)(int code, const char *arg, void *ctx);
    void *ctx;
    const char *usage;         /* lines describing them, for --help */
};

/* Fills o with defaults, then parses argv. Returns 0, or -1 after printing
 * usage to stderr. `tool` names the program in messages. */
int lg_opts_parse(const char *tool, int argc, char **argv, struct lg_opts *o,
                  const struct lg_extra *extra);

/* Parses "123", "10k", "2M", "1G" (powers of 1000 for counts). */
int lg_parse_count(const char *s, uint64_t *out);

uint64_t lg_now_ns(void);      /* CLOCK_MONOTONIC */
double lg_now_s(void);
double lg_cpu_s(void);         /* this process's user + system CPU time */
void lg_sleep_until_ns(uint64_t t);

/* Latency stamps. */
void lg_stamp(void *payload, uint64_t intended_ns, uint64_t seq);
uint64_t lg_stamp_time(const void *payload);
uint64_t lg_stamp_seq(const void *payload);

/* Open-loop schedule of `total` messages at `rate` per second. */
struct lg_pace {
    uint64_t start_ns;
    double interval_ns;
    uint64_t total;
    uint64_t next;             /* index of the next message to send */
};

void lg_pace_init(struct lg_pace *p, double rate, double seconds, uint64_t start_ns);
uint64_t lg_pace_intended(const struct lg_pace *p, uint64_t i);
/* How many messages are due at `now` and not yet sent (at most `max`). */
uint64_t lg_pace_due(const struct lg_pace *p, uint64_t now, uint64_t max);
/* Waits until at least one message is due (sleeping, then spinning for
 * the last LG_SPIN_NS so the send is not late by a timer's slack), then
 * returns lg_pace_due(). Returns 0 once all have been sent. */
uint64_t lg_pace_wait(const struct lg_pace *p, uint64_t max);
void lg_pace_sent(struct lg_pace *p, uint64_t n);
bool lg_pace_done(const struct lg_pace *p);

/* Latency recorder: one per thread that records; merge at the end. */
struct lg_lat {
    uint64_t record_from_ns;   /* intended times before this: warm-up */
    struct hist h;
};

void lg_lat_init(struct lg_lat *l, uint64_t record_from_ns);
/* Records now - intended when intended is past the warm-up. */
void lg_lat_record(struct lg_lat *l, uint64_t intended_ns, uint64_t now_ns);

/* Starts a latency run's clock: schedules p at o->rate for o->seconds from
 * LG_START_DELAY_NS after now (the tool's threads are up before message 0),
 * and readies the ack, produce->consume and send-lag recorders to record
 * from the start + o->warmup. Returns the drain deadline: the last intended
 * time + LG_DRAIN_GRACE_S. */
uint64_t lg_latency_start(const struct lg_opts *o, struct lg_pace *p,
                          struct lg_lat *ack, struct lg_lat *e2e, struct lg_lat *lag);

/* What every latency run reports, whatever the system. */
struct lg_lat_summary {
    uint64_t scheduled;        /* messages the pace asked for */
    uint64_t sent, acked, consumed;
    uint64_t errors;
    uint64_t dups;             /* delivered more than once */
    uint64_t foreign;          /* delivered but not ours (other runs) */
    bool kept_up;
    double achieved_rate;      /* lg_achieved_rate() */
    double client_cpu_s;
    const struct hist *ack, *e2e, *lag;
};

/* Messages per second actually sent: n sent, the first at first_ns and the
 * last at last_ns, over n pacing intervals (n on-time sends span n). */
double lg_achieved_rate(const struct lg_pace *p, uint64_t n, uint64_t first_ns,
                        uint64_t last_ns);
/* Prints the human-readable lines of a latency run on stdout. */
void lg_lat_summary_print(const struct lg_lat_summary *s);
/* The RESULT keys of a latency run (sent= acked= consumed= errors= dups=
 * kept_up= achieved_rate= client_cpu_s= and the ack/e2e/lag histograms),
 * between lg_report_begin() and lg_report_end(). */
void lg_report_latency(const struct lg_lat_summary *s);

/* The RESULT line, printed piecewise on stdout. */
void lg_report_begin(const char *system, const struct lg_opts *o);
void lg_report_u64(const char *key, uint64_t v);
void lg_report_f(const char *key, double v);
void lg_report_str(const char *key, const char *v);
/* msgs= bytes= secs= msgs_s= mb_s= errors= time_limited= client_cpu_s= */
void lg_report_rate(uint64_t msgs, uint64_t bytes, double secs, uint64_t errors,
                    bool time_limited, double client_cpu_s);
/* PREFIX_count= PREFIX_p50_us= _p99_us= _p999_us= _p9999_us= _max_us= */
void lg_report_hist(const char *prefix, const struct hist *h);
void lg_report_end(void);

/* Writes o->hist_out-NAME.csv (hist_write_csv) when --hist-out was given.
 * Returns 0 or -errno. */
int lg_write_hist(const struct lg_opts *o, const char *name, const struct hist *h);

#endif
