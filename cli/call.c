/*
 * call.c - one plain request/answer session with a broker for the CLI's
 * commands librdkafka 2.0.2 has no Admin call for (txn.c, users.c): a
 * wire connection (wire.h) and an arena for the decoded answers, with the
 * errors reported the CLI's way.
 */
#include "cli/client.h"
#include "cli/wire.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_SIZE (4u << 20)

int cli_call_open(struct cli_call *c, const struct cli *cli, const char *host, int port)
{
	c->mem = malloc(ARENA_SIZE);
	if (!c->mem)
		return cli_error("out of memory");
	kafka_arena_init(&c->a, c->mem, ARENA_SIZE);
	int rc = host ? wire_connect(&c->w, host, port, cli->timeout_ms)
		      : wire_connect_str(&c->w, cli->bootstrap, cli->timeout_ms);
	if (rc < 0) {
		free(c->mem);
		if (host)
			return cli_error("cannot connect to %s:%d: %s", host, port, strerror(-rc));
		return cli_error("cannot connect to %s: %s", cli->bootstrap, strerror(-rc));
	}
	return CLI_OK;
}

void cli_call_close(struct cli_call *c)
{
	wire_close(&c->w);
	free(c->mem);
}

int cli_call_run(struct cli_call *c, int16_t key, int16_t ver, const void *req, void **resp,
		 const char *what)
{
	int rc = wire_call(&c->w, key, ver, req, &c->a, resp);
	if (rc < 0)
		return cli_error("%s: %s", what, strerror(-rc));
	return CLI_OK;
}
