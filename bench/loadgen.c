/* loadgen.c - the load generators' shared command line, clocks, pacing,
 * stamps and RESULT line (see loadgen.h). */
#include "loadgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#define LG_SPIN_NS 30000       /* spin this close to a due time: a timer
                                  wakes up 50-100 us late on these VMs */
#define LG_SPIN_MIN_INTERVAL_NS 100000  /* ...but only at rates up to 10k/s:
                                  above, messages due closer together than
                                  a timer's lateness are sent in batches
                                  (spinning would take a core from the
                                  system under test on a 2-core machine) */
#define LG_MAX_OPTS 64

enum {
    OPT_MODE = 1000, OPT_TARGET, OPT_TOPIC, OPT_PARTITIONS, OPT_SIZE,
    OPT_COUNT, OPT_SECONDS, OPT_RATE, OPT_WARMUP, OPT_WINDOW, OPT_IN_FLIGHT, OPT_HIST_OUT,
    OPT_VERBOSE, OPT_HELP,
};

static const struct option common_opts[] = {
    { "mode", required_argument, NULL, OPT_MODE },
    { "target", required_argument, NULL, OPT_TARGET },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "partitions", required_argument, NULL, OPT_PARTITIONS },
    { "size", required_argument, NULL, OPT_SIZE },
    { "count", required_argument, NULL, OPT_COUNT },
    { "seconds", required_argument, NULL, OPT_SECONDS },
    { "rate", required_argument, NULL, OPT_RATE },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "window", required_argument, NULL, OPT_WINDOW },
    { "in-flight", required_argument, NULL, OPT_IN_FLIGHT },
    { "hist-out", required_argument, NULL, OPT_HIST_OUT },
    { "verbose", no_argument, NULL, OPT_VERBOSE },
    { "help", no_argument, NULL, OPT_HELP },
};

static void usage(FILE *f, const char *tool, const struct lg_extra *extra)
{
    fprintf(f,
            "usage: %s --mode produce|consume|latency --target ADDR [options]\n"
            "  --topic NAME  --partitions N  --size BYTES  --count N\n"
            "  --seconds S  --rate MSGS_S  --warmup S  --window N\n"
            "  --in-flight N  (latency: N unacknowledged at most; 1: synchronous)\n"
            "  --hist-out PREFIX  --verbose\n%s",
            tool, extra && extra->usage ? extra->usage : "");
}

int lg_parse_count(const char *s, uint64_t *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1e3; end++; break;
    case 'm': case 'M': v *= 1e6; end++; break;
    case 'g': case 'G': v *= 1e9; end++; break;
    default: break;
    }
    if (*end || v > 1e15)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return errno || end == s || *end || !(*out >= 0) ? -1 : 0;
}

static int take_common(int code, const char *arg, struct lg_opts *o)
{
    uint64_t v;

    switch (code) {
    case OPT_MODE: o->mode = arg; return 0;
    case OPT_TARGET: o->target = arg; return 0;
    case OPT_TOPIC: o->topic = arg; return 0;
    case OPT_HIST_OUT: o->hist_out = arg; return 0;
    case OPT_VERBOSE: o->verbose = true; return 0;
    case OPT_SECONDS: return parse_double(arg, &o->seconds);
    case OPT_RATE: return parse_double(arg, &o->rate);
    case OPT_WARMUP: return parse_double(arg, &o->warmup);
    case OPT_COUNT: return lg_parse_count(arg, &o->count);
    case OPT_SIZE:
        if (lg_parse_count(arg, &v) || v > (64u << 20))
            return -1;
        o->size = (size_t)v;
        return 0;
    case OPT_PARTITIONS:
        if (lg_parse_count(arg, &v) || v < 1 || v > 4096)
            return -1;
        o->partitions = (int)v;
        return 0;
    case OPT_WINDOW:
        if (lg_parse_count(arg, &v) || v < 1 || v > (1u << 24))
            return -1;
        o->window = (unsigned)v;
        return 0;
    case OPT_IN_FLIGHT:
        if (lg_parse_count(arg, &v) || v < 1 || v > (1u << 24))
            return -1;
        o->in_flight = (unsigned)v;
        return 0;
    default:
        return -1;
    }
}

static int check_opts(const char *tool, const struct lg_opts *o)
{
    bool known = !strcmp(o->mode, "produce") || !strcmp(o->mode, "consume") ||
                 !strcmp(o->mode, "latency");

    if (!known) {
        fprintf(stderr, "%s: --mode must be produce, consume or latency\n", tool);
        return -1;
    }
    if (!strcmp(o->mode, "latency") && (o->rate <= 0 || o->size < LG_STAMP_BYTES)) {
        fprintf(stderr, "%s: latency needs --rate > 0 and --size >= %d\n", tool,
                LG_STAMP_BYTES);
        return -1;
    }
    if (o->seconds <= 0) {
        fprintf(stderr, "%s: --seconds must be > 0\n", tool);
        return -1;
    }
    return 0;
}

int lg_opts_parse(const char *tool, int argc, char **argv, struct lg_opts *o,
                  const struct lg_extra *extra)
{
    struct option all[LG_MAX_OPTS];
    size_t n = sizeof(common_opts) / sizeof(common_opts[0]);
    int c;

    *o = (struct lg_opts){ .mode = "produce", .target = "127.0.0.1:9092",
                           .topic = "bench", .partitions = 1, .size = 100,
                           .count = 1000000, .seconds = 30, .rate = 0,
                           .warmup = 0, .window = 1000 };
    memcpy(all, common_opts, sizeof(common_opts));
    for (size_t i = 0; extra && extra->longopts[i].name; i++) {
        if (n + 1 >= LG_MAX_OPTS)
            return -1;
        all[n++] = extra->longopts[i];
    }
    memset(&all[n], 0, sizeof(all[n]));

    optind = 1;
    while ((c = getopt_long(argc, argv, "", all, NULL)) != -1) {
        int rc;
        if (c == OPT_HELP) {
            usage(stdout, tool, extra);
            exit(0);
        }
        if (c >= OPT_MODE && c < OPT_HELP)
            rc = take_common(c, optarg, o);
        else if (c >= 256 && extra)
            rc = extra->take(c, optarg, extra->ctx);
        else
            rc = -1;
        if (rc) {
            if (c != '?')
                fprintf(stderr, "%s: bad value for an option: %s\n", tool,
                        optarg ? optarg : "(none)");
            usage(stderr, tool, extra);
            return -1;
        }
    }
    if (optind != argc) {
        usage(stderr, tool, extra);
        return -1;
    }
    return check_opts(tool, o);
}

uint64_t lg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double lg_now_s(void)
{
    return (double)lg_now_ns() / 1e9;
}

double lg_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void lg_sleep_until_ns(uint64_t t)
{
    struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
                           .tv_nsec = (long)(t % 1000000000ull) };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void lg_stamp(void *payload, uint64_t intended_ns, uint64_t seq)
{
    put_le64(payload, intended_ns);
    put_le64((uint8_t *)payload + 8, seq);
}

uint64_t lg_stamp_time(const void *payload)
{
    return get_le64(payload);
}

uint64_t lg_stamp_seq(const void *payload)
{
    return get_le64((const uint8_t *)payload + 8);
}

void lg_pace_init(struct lg_pace *p, double rate, double seconds, uint64_t start_ns)
{
    double total = rate * seconds;

    p->start_ns = start_ns;
    p->interval_ns = 1e9 / rate;
    p->total = total < 1 ? 1 : (uint64_t)total;
    p->next = 0;
}

uint64_t lg_pace_intended(const struct lg_pace *p, uint64_t i)
{
    return p->start_ns + (uint64_t)((double)i * p->interval_ns);
}

uint64_t lg_pace_due(const struct lg_pace *p, uint64_t now, uint64_t max)
{
    if (p->next >= p->total || now < p->start_ns)
        return 0;
    /* upto = how many messages have an intended time <= now: estimated by
     * division, then settled against lg_pace_intended() itself so that the
     * two never disagree by a rounding (a message due exactly now is due) */
    uint64_t upto = (uint64_t)((double)(now - p->start_ns) / p->interval_ns) + 1;
    if (upto > p->total)
        upto = p->total;
    while (upto < p->total && lg_pace_intended(p, upto) <= now)
        upto++;
    while (upto > 0 && lg_pace_intended(p, upto - 1) > now)
        upto--;
    if (upto <= p->next)
        return 0;
    uint64_t due = upto - p->next;
    return due > max ? max : due;
}

/* A sleeping thread is woken up to its timer slack late (50 us by
 * default): the pacing thread asks for none, once. */
static void pace_thread_setup(void)
{
    static _Thread_local bool done;

    if (!done) {
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        done = true;
    }
}

uint64_t lg_pace_wait(const struct lg_pace *p, uint64_t max)
{
    if (lg_pace_done(p))
        return 0;
    pace_thread_setup();
    uint64_t at = lg_pace_intended(p, p->next);
    uint64_t now = lg_now_ns();
    bool spin = p->interval_ns >= LG_SPIN_MIN_INTERVAL_NS;
    if (now < at && !spin) {
        lg_sleep_until_ns(at);
        now = lg_now_ns();
    }
    if (now + LG_SPIN_NS < at) {
        lg_sleep_until_ns(at - LG_SPIN_NS);
        now = lg_now_ns();
    }
    while (now < at)
        now = lg_now_ns();
    return lg_pace_due(p, now, max);
}

void lg_pace_sent(struct lg_pace *p, uint64_t n)
{
    p->next += n;
}

bool lg_pace_done(const struct lg_pace *p)
{
    return p->next >= p->total;
}

void lg_lat_init(struct lg_lat *l, uint64_t record_from_ns)
{
    l->record_from_ns = record_from_ns;
    hist_init(&l->h);
}

void lg_lat_record(struct lg_lat *l, uint64_t intended_ns, uint64_t now_ns)
{
    if (intended_ns < l->record_from_ns)
        return;
    hist_record(&l->h, now_ns > intended_ns ? now_ns - intended_ns : 0);
}

uint64_t lg_latency_start(const struct lg_opts *o, struct lg_pace *p,
                          struct lg_lat *ack, struct lg_lat *e2e, struct lg_lat *lag)
{
    uint64_t start = lg_now_ns() + LG_START_DELAY_NS;
    uint64_t record_from = start + (uint64_t)(o->warmup * 1e9);

    lg_pace_init(p, o->rate, o->seconds, start);
    lg_lat_init(ack, record_from);
    lg_lat_init(e2e, record_from);
    lg_lat_init(lag, record_from);
    return lg_pace_intended(p, p->total - 1) + (uint64_t)(LG_DRAIN_GRACE_S * 1e9);
}

double lg_achieved_rate(const struct lg_pace *p, uint64_t n, uint64_t first_ns,
                        uint64_t last_ns)
{
    if (n == 0 || last_ns < first_ns)
        return 0;
    double span = (double)(last_ns - first_ns) + p->interval_ns;
    return (double)n / (span / 1e9);
}

static void print_hist_line(const char *name, const struct hist *h)
{
    printf("  %-4s %9" PRIu64 " recorded: p50 %.0f  p99 %.0f  p99.9 %.0f  "
           "max %.0f us\n", name, h->total, (double)hist_percentile(h, 50) / 1e3,
           (double)hist_percentile(h, 99) / 1e3,
           (double)hist_percentile(h, 99.9) / 1e3,
           (double)hist_percentile(h, 100) / 1e3);
}

void lg_lat_summary_print(const struct lg_lat_summary *s)
{
    printf("  sent %" PRIu64 " of %" PRIu64 " (%.0f msgs/s), acked %" PRIu64
           ", consumed %" PRIu64 ", %" PRIu64 " errors, %" PRIu64
           " duplicates, %" PRIu64 " foreign; %s; client CPU %.2f s\n", s->sent,
           s->scheduled, s->achieved_rate, s->acked, s->consumed, s->errors,
           s->dups, s->foreign, s->kept_up ? "kept up" : "did NOT keep up",
           s->client_cpu_s);
    print_hist_line("ack", s->ack);
    print_hist_line("e2e", s->e2e);
    print_hist_line("lag", s->lag);
}

void lg_report_latency(const struct lg_lat_summary *s)
{
    lg_report_u64("sent", s->sent);
    lg_report_u64("acked", s->acked);
    lg_report_u64("consumed", s->consumed);
    lg_report_u64("errors", s->errors);
    lg_report_u64("dups", s->dups);
    lg_report_u64("kept_up", s->kept_up);
    lg_report_f("achieved_rate", s->achieved_rate);
    lg_report_f("client_cpu_s", s->client_cpu_s);
    lg_report_hist("ack", s->ack);
    lg_report_hist("e2e", s->e2e);
    lg_report_hist("lag", s->lag);
}

void lg_report_begin(const char *system, const struct lg_opts *o)
{
    printf("RESULT system=%s mode=%s size=%zu partitions=%d", system, o->mode,
           o->size, o->partitions);
    if (!strcmp(o->mode, "latency"))
        printf(" rate=%.0f in_flight=%u", o->rate, o->in_flight);
}

void lg_report_u64(const char *key, uint64_t v)
{
    printf(" %s=%" PRIu64, key, v);
}

void lg_report_f(const char *key, double v)
{
    printf(" %s=%.3f", key, v);
}

void lg_report_str(const char *key, const char *v)
{
    printf(" %s=%s", key, v);
}

void lg_report_rate(uint64_t msgs, uint64_t bytes, double secs, uint64_t errors,
                    bool time_limited, double client_cpu_s)
{
    lg_report_u64("msgs", msgs);
    lg_report_u64("bytes", bytes);
    lg_report_f("secs", secs);
    lg_report_f("msgs_s", secs > 0 ? (double)msgs / secs : 0);
    lg_report_f("mb_s", secs > 0 ? (double)bytes / secs / 1e6 : 0);
    lg_report_u64("errors", errors);
    lg_report_u64("time_limited", time_limited);
    lg_report_f("client_cpu_s", client_cpu_s);
}

void lg_report_hist(const char *prefix, const struct hist *h)
{
    static const struct { const char *name; double pct; } points[] = {
        { "p50", 50 }, { "p99", 99 }, { "p999", 99.9 }, { "p9999", 99.99 },
        { "max", 100 },
    };
    char key[64];

    snprintf(key, sizeof(key), "%s_count", prefix);
    lg_report_u64(key, h->total);
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        snprintf(key, sizeof(key), "%s_%s_us", prefix, points[i].name);
        lg_report_f(key, (double)hist_percentile(h, points[i].pct) / 1e3);
    }
}

void lg_report_end(void)
{
    printf("\n");
    fflush(stdout);
}

int lg_write_hist(const struct lg_opts *o, const char *name, const struct hist *h)
{
    char path[4096];
    FILE *f;

    if (!o->hist_out)
        return 0;
    snprintf(path, sizeof(path), "%s-%s.csv", o->hist_out, name);
    f = fopen(path, "w");
    if (!f) {
        int err = errno;
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(err));
        return -err;
    }
    hist_write_csv(h, f);
    return fclose(f) ? -errno : 0;
}
