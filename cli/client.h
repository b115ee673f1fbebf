/*
 * client.h - what every `sluice` command shares: the parsed common flags,
 * librdkafka handles built from them, waiting for Admin API results,
 * error reporting with the broker's error names, and the two output forms
 * (aligned tables for people, JSON for scripts).
 *
 * Every request goes through librdkafka (the ecosystem's own client),
 * except the transaction Admin calls librdkafka 2.0.2 lacks (cli/wire.c).
 */
#ifndef SLUICE_CLI_CLIENT_H
#define SLUICE_CLI_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every command. */
enum {
	CLI_OK = 0,
	CLI_ERR = 1,   /* the broker or the client reported an error */
	CLI_USAGE = 2, /* bad command line */
};

#define CLI_MAX_PROPS 64

struct cli {
	const char *bootstrap;
	bool json;
	bool verbose;
	int timeout_ms;
	int nprops; /* -X key=value librdkafka properties */
	const char *props[CLI_MAX_PROPS];
};

/* A command: argv[0] is the command's own name ("create", "produce"...). */
typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

int topics_main(struct cli *cli, int argc, char **argv);
int groups_main(struct cli *cli, int argc, char **argv);
int produce_main(struct cli *cli, int argc, char **argv);
int consume_main(struct cli *cli, int argc, char **argv);
int send_main(struct cli *cli, int argc, char **argv);
int capture_main(struct cli *cli, int argc, char **argv);
int txn_main(struct cli *cli, int argc, char **argv);
int producers_cmd(struct cli *cli, int argc, char **argv);
int acls_main(struct cli *cli, int argc, char **argv);
int users_main(struct cli *cli, int argc, char **argv);

/* Prints "sluice: <fmt>" to stderr; returns CLI_ERR / CLI_USAGE. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Broker: Topic already exists (TOPIC_ALREADY_EXISTS)" */
const char *cli_err_text(rd_kafka_resp_err_t err, char *buf, size_t size);

/* A configuration with bootstrap.servers, log routing, then the command's
 * defaults (NULL-terminated key, value pairs; may be NULL), then the -X
 * properties, which win. */
rd_kafka_conf_t *cli_conf(const struct cli *cli, const char *const *defaults);
int cli_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);
/* A consumer (cli_conf with defaults, its queue the consumer's): CLI_OK
 * and *out, or CLI_USAGE / CLI_ERR after reporting why. */
int cli_consumer(const struct cli *cli, const char *const *defaults, rd_kafka_t **out);
/* A producer handle used for the Admin API and metadata; NULL after an error. */
rd_kafka_t *cli_admin_create(const struct cli *cli);
/* Admin options with request and operation timeouts set. */
rd_kafka_AdminOptions_t *cli_admin_options(const struct cli *cli, rd_kafka_t *rk,
					   rd_kafka_admin_op_t op);
/* Waits for the result event of one admin call on queue q; NULL on timeout
 * (already reported). A non-NULL event with an error is reported and
 * destroyed, and NULL is returned. */
rd_kafka_event_t *cli_admin_wait(const struct cli *cli, rd_kafka_queue_t *q,
				 const char *what);
/* Metadata for one topic (or all when topic is NULL); NULL after an error. */
const rd_kafka_metadata_t *cli_metadata(const struct cli *cli, rd_kafka_t *rk,
					const char *topic);
/* The metadata entry of topic, or NULL (reports UNKNOWN_TOPIC_OR_PART). */
const rd_kafka_metadata_topic_t *cli_md_topic(const rd_kafka_metadata_t *md,
					      const char *topic);

/* ---- output ---- */
void json_str(FILE *f, const char *s);
void json_bytes(FILE *f, const void *p, size_t len); /* null when p == NULL */

/* A table of strings printed with aligned columns. */
struct table {
	int ncols;
	int nrows;
	int cap;
	char **cells; /* nrows * ncols, row 0 is the header */
};
void table_init(struct table *t, int ncols, ...); /* header titles */
void table_rowf(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))); /* cells separated by '\t' */
void table_print(const struct table *t, FILE *f);
void table_close(struct table *t);

#endif
