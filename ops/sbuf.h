/* sbuf.h - a growable text buffer for the ops thread's answers (HTTP
 * bodies: Prometheus text, JSON). Off the data path: it mallocs. An
 * allocation failure is sticky (err) and checked once at the end. */
#ifndef SLUICE_OPS_SBUF_H
#define SLUICE_OPS_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *p;
    size_t len, cap;
    bool err;
};

void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_put(struct sbuf *b, const char *s, size_t n);
/* s as a JSON string, quotes included. */
void sbuf_json_str(struct sbuf *b, const char *s);
/* s as a Prometheus label value (without quotes): \ " and newline escaped. */
void sbuf_label(struct sbuf *b, const char *s);
void sbuf_free(struct sbuf *b);

#endif
