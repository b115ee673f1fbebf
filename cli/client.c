/*
 * client.c - the pieces every `sluice` command shares (see client.h).
 */
#include "cli/client.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERR;
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see sluice --help)\n", stderr);
	return CLI_USAGE;
}

const char *cli_err_text(rd_kafka_resp_err_t err, char *buf, size_t size)
{
	snprintf(buf, size, "%s (%s)", rd_kafka_err2str(err), rd_kafka_err2name(err));
	return buf;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	fprintf(stderr, "sluice: librdkafka %d %s: %s\n", level, fac, buf);
}

int cli_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		return cli_usage_error("%s=%s: %s", key, value, errstr);
	return CLI_OK;
}

rd_kafka_conf_t *cli_conf(const struct cli *cli, const char *const *defaults)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (cli_conf_set(conf, "bootstrap.servers", cli->bootstrap) ||
	    cli_conf_set(conf, "client.id", "sluice-cli"))
		goto err;
	/* librdkafka's own logs (connection refused, ...) only with -v: every
	 * failure a command cares about is reported once, by the command. */
	if (cli->verbose)
		rd_kafka_conf_set_log_cb(conf, log_cb);
	else if (cli_conf_set(conf, "log_level", "0"))
		goto err;
	for (int i = 0; defaults && defaults[i]; i += 2)
		if (cli_conf_set(conf, defaults[i], defaults[i + 1]))
			goto err;
	for (int i = 0; i < cli->nprops; i++) {
		char key[256];
		const char *eq = strchr(cli->props[i], '=');
		if (!eq || eq == cli->props[i] || (size_t)(eq - cli->props[i]) >= sizeof(key)) {
			cli_usage_error("-X expects key=value, got '%s'", cli->props[i]);
			goto err;
		}
		memcpy(key, cli->props[i], (size_t)(eq - cli->props[i]));
		key[eq - cli->props[i]] = '\0';
		if (cli_conf_set(conf, key, eq + 1))
			goto err;
	}
	return conf;
err:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *cli_admin_create(const struct cli *cli)
{
	char errstr[512];
	/* looking a topic up must not create it (the broker auto-creates on
	 * metadata requests that allow it, as a producer's do by default) */
	static const char *const defaults[] = { "allow.auto.create.topics", "false", NULL };
	rd_kafka_conf_t *conf = cli_conf(cli, defaults);
	if (!conf)
		return NULL;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		cli_error("cannot create a client: %s", errstr);
	}
	return rk;
}

int cli_consumer(const struct cli *cli, const char *const *defaults, rd_kafka_t **out)
{
	char errstr[512];
	rd_kafka_conf_t *conf = cli_conf(cli, defaults);
	if (!conf)
		return CLI_USAGE;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return cli_error("cannot create a consumer: %s", errstr);
	}
	rd_kafka_poll_set_consumer(rk);
	*out = rk;
	return CLI_OK;
}

rd_kafka_AdminOptions_t *cli_admin_options(const struct cli *cli, rd_kafka_t *rk,
					   rd_kafka_admin_op_t op)
{
	char errstr[512];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
	rd_kafka_AdminOptions_set_request_timeout(o, cli->timeout_ms, errstr, sizeof(errstr));
	/* only CreateTopics, DeleteTopics, CreatePartitions take this one */
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
	    op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
		rd_kafka_AdminOptions_set_operation_timeout(o, cli->timeout_ms, errstr,
							    sizeof(errstr));
	return o;
}

rd_kafka_event_t *cli_admin_wait(const struct cli *cli, rd_kafka_queue_t *q, const char *what)
{
	/* the request timeout bounds the call; a little slack for the queue */
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, cli->timeout_ms + 5000);
	if (!ev) {
		cli_error("%s: no answer within %d ms", what, cli->timeout_ms + 5000);
		return NULL;
	}
	if (rd_kafka_event_error(ev)) {
		char buf[256];
		const char *s = rd_kafka_event_error_string(ev);
		cli_error("%s: %s%s%s", what, cli_err_text(rd_kafka_event_error(ev), buf, sizeof(buf)),
			  s ? ": " : "", s ? s : "");
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

const rd_kafka_metadata_t *cli_metadata(const struct cli *cli, rd_kafka_t *rk, const char *topic)
{
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, topic == NULL, rkt, &md, cli->timeout_ms);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (err) {
		char buf[256];
		cli_error("metadata from %s: %s", cli->bootstrap, cli_err_text(err, buf, sizeof(buf)));
		return NULL;
	}
	return md;
}

const rd_kafka_metadata_topic_t *cli_md_topic(const rd_kafka_metadata_t *md, const char *topic)
{
	char buf[256];
	for (int i = 0; i < md->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &md->topics[i];
		if (strcmp(t->topic, topic) != 0)
			continue;
		if (t->err) {
			cli_error("topic '%s': %s", topic, cli_err_text(t->err, buf, sizeof(buf)));
			return NULL;
		}
		return t;
	}
	cli_error("topic '%s': %s", topic,
		  cli_err_text(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, buf, sizeof(buf)));
	return NULL;
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at p (max n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0)
		len = 2, cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		len = 3, cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* Bytes that are not valid UTF-8 come out as \u00XX (their Latin-1 reading),
 * so the output always parses. */
void json_bytes(FILE *f, const void *data, size_t n)
{
	const unsigned char *p = data;
	if (!p) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f), i++;
		} else if (c == '\t') {
			fputs("\\t", f), i++;
		} else if (c == '\r') {
			fputs("\\r", f), i++;
		} else if (c < 0x20 || c == 0x7F) {
			fprintf(f, "\\u%04x", c), i++;
		} else if ((l = utf8_len(p + i, n - i)) == 0) {
			fprintf(f, "\\u%04x", c), i++;
		} else {
			fwrite(p + i, 1, l, f);
			i += l;
		}
	}
	fputc('"', f);
}

void json_str(FILE *f, const char *s)
{
	json_bytes(f, s, s ? strlen(s) : 0);
}

/* ---- tables ---- */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d) {
		fputs("sluice: out of memory\n", stderr);
		exit(CLI_ERR);
	}
	return d;
}

static void table_add(struct table *t, char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof(char *));
		if (!t->cells) {
			fputs("sluice: out of memory\n", stderr);
			exit(CLI_ERR);
		}
	}
	for (int c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "");
	t->nrows++;
}

void table_init(struct table *t, int ncols, ...)
{
	char *hdr[32];
	va_list ap;
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < 32 ? ncols : 32;
	va_start(ap, ncols);
	for (int c = 0; c < t->ncols; c++)
		hdr[c] = va_arg(ap, char *);
	va_end(ap);
	table_add(t, hdr);
}

void table_rowf(struct table *t, const char *fmt, ...)
{
	char line[8192], *cells[32] = { 0 }, *p = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (int c = 0; c < t->ncols; c++) {
		cells[c] = p;
		if (!p)
			continue;
		char *tab = strchr(p, '\t');
		if (tab)
			*tab = '\0';
		p = tab ? tab + 1 : NULL;
	}
	table_add(t, cells);
}

void table_print(const struct table *t, FILE *f)
{
	size_t w[32] = { 0 };
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c == t->ncols - 1)
				fputs(s, f);
			else
				fprintf(f, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', f);
	}
}

void table_close(struct table *t)
{
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
