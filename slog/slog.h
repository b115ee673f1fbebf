/* slog.h - sluice's log lines: one line per event, with a level, in one
 * of two formats (sluice.log.format):
 *
 *   text    (default)  "COMP: MESSAGE", as sluiced always printed (scripts
 *                      and the tests read these lines; errors and warnings
 *                      carry no extra marker in this format)
 *   logfmt             ts=2026-12-03T09:15:00.123Z level=info comp=COMP
 *                      msg="MESSAGE" key=value ...
 *
 * A message is written as a phrase followed by key=value fields ("ready
 * bootstrap=127.0.0.1:9092 shards=2"); logfmt quotes the phrase as msg and
 * keeps the fields as they are. Lines below sluice.log.level are dropped.
 *
 * Any thread may log: a line is formatted on the stack and written with
 * one write(2) (lines from two threads never interleave). No lock, no
 * allocation; still a syscall, so the data path logs only what is rare
 * (a connection closed for a reason, a failed log). Never call it per
 * message. */
#ifndef SLUICE_SLOG_H
#define SLUICE_SLOG_H

enum slog_level { SLOG_DEBUG, SLOG_INFO, SLOG_WARN, SLOG_ERROR };
enum slog_format { SLOG_TEXT, SLOG_LOGFMT };

/* Set by main() before any thread starts (the level again on SIGHUP). */
void slog_set_format(enum slog_format f);
void slog_set_level(enum slog_level l);

void slog(enum slog_level level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
