/* slog.c - see slog.h. */
#include "slog/slog.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOG_LINE_MAX 4096

static _Atomic int log_format = SLOG_TEXT;
static _Atomic int log_level = SLOG_INFO;
static const char *const names[] = { "debug", "info", "warn", "error" };

void slog_set_format(enum slog_format f)
{
    atomic_store_explicit(&log_format, f, memory_order_relaxed);
}

void slog_set_level(enum slog_level l)
{
    atomic_store_explicit(&log_level, l, memory_order_relaxed);
}

/* Where the key=value fields start: the first token that looks like a key
 * ([a-z0-9_.-]+=) after a space; the message's length otherwise. */
static size_t fields_at(const char *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && m[i - 1] != ' ')
            continue;
        size_t k = i;
        while (k < n && (islower((unsigned char)m[k]) || isdigit((unsigned char)m[k]) ||
                         m[k] == '_' || m[k] == '.' || m[k] == '-'))
            k++;
        if (k > i && k < n && m[k] == '=')
            return i;
    }
    return n;
}

static size_t put_logfmt(char *out, size_t cap, enum slog_level level, const char *comp,
                         const char *m, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t o = (size_t)snprintf(out, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s "
                                "comp=%s msg=\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                                names[level], comp);
    size_t f = fields_at(m, n), end = f;
    while (end > 0 && m[end - 1] == ' ')
        end--;
    for (size_t i = 0; i < end && o + 3 < cap; i++) {
        if (m[i] == '"' || m[i] == '\\')
            out[o++] = '\\';
        out[o++] = m[i] == '\n' ? ' ' : m[i];
    }
    if (o + 2 < cap)
        out[o++] = '"';
    if (f < n && o + 1 < cap)
        out[o++] = ' ';
    for (size_t i = f; i < n && o + 1 < cap; i++)
        out[o++] = m[i];
    return o;
}

void slog(enum slog_level level, const char *comp, const char *fmt, ...)
{
    char msg[SLOG_LINE_MAX], line[SLOG_LINE_MAX + 256];
    va_list ap;
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    while (len > 0 && msg[len - 1] == '\n')
        len--;
    size_t o;
    if (atomic_load_explicit(&log_format, memory_order_relaxed) == SLOG_LOGFMT)
        o = put_logfmt(line, sizeof(line) - 1, level, comp, msg, len);
    else
        o = (size_t)snprintf(line, sizeof(line) - 1, "%s: %.*s", comp, (int)len, msg);
    if (o > sizeof(line) - 2)
        o = sizeof(line) - 2;
    line[o++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, o);
    (void)w; /* nowhere left to report a failed log write */
}
