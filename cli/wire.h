/*
 * wire.h - a Kafka request over a plain TCP connection, encoded and
 * decoded with sluice's own codec tables (dataplane/kafka), for the few
 * Admin operations librdkafka 2.0.2 does not have: ListTransactions,
 * DescribeTransactions, DescribeProducers and WriteTxnMarkers (the Admin
 * API's abortTransaction). Everything else the CLI does goes through
 * librdkafka.
 *
 * One request at a time, blocking, with a deadline; no retries (the
 * command reports the error and exits).
 */
#ifndef SLUICE_CLI_WIRE_H
#define SLUICE_CLI_WIRE_H

#include <stdint.h>

#include "dataplane/kafka/schema.h"

struct wire {
	int fd;
	int32_t corr;
	int timeout_ms;
	uint8_t *buf;             /* the last response frame */
};

/* Connects to host:port. 0 or a negative errno. */
int wire_connect(struct wire *w, const char *host, int port, int timeout_ms);
/* "host:port" */
int wire_connect_str(struct wire *w, const char *hostport, int timeout_ms);
void wire_close(struct wire *w);

/* Sends req (the C struct of API key at version) and decodes the answer
 * into *resp, allocated from a (views into w's buffer: valid until the
 * next call). 0, or a negative errno (-EBADMSG: an answer that does not
 * parse, -ETIMEDOUT). */
int wire_call(struct wire *w, int16_t key, int16_t version, const void *req,
	      struct kafka_arena *a, void **resp);

/* cli/call.c: a connection (to host:port, or the -b broker when host is
 * NULL) and a 4 MiB arena for answers; errors reported, CLI_OK or CLI_ERR. */
struct cli;
struct cli_call {
	struct wire w;
	struct kafka_arena a;
	uint8_t *mem;
};
int cli_call_open(struct cli_call *c, const struct cli *cli, const char *host, int port);
void cli_call_close(struct cli_call *c);
int cli_call_run(struct cli_call *c, int16_t key, int16_t ver, const void *req, void **resp,
		 const char *what);

#endif
