/*
 * sluice.c - the `sluice` admin CLI: common flags and dispatch.
 *
 *   sluice [-b HOST:PORT] [--json] COMMAND ...
 *
 * Every command talks to the broker through librdkafka (its Admin API,
 * producer and consumer); only the transaction commands librdkafka 2.0.2
 * has no Admin call for send plain requests (txn.c, wire.c).
 * Exit codes: 0 success, 1 an error reported by the broker or the client,
 * 2 a bad command line.
 */
#include "cli/client.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: sluice [common flags] COMMAND [args]\n"
	"\n"
	"common flags (anywhere on the line):\n"
	"  -b, --bootstrap HOST:PORT  broker to talk to (default localhost:9092)\n"
	"      --json                 machine-readable output (one JSON document;\n"
	"                             consume prints one JSON object per line)\n"
	"  -X KEY=VALUE               extra librdkafka property (repeatable)\n"
	"      --timeout MS           per-request timeout (default 10000)\n"
	"  -v, --verbose              show librdkafka's own log lines\n"
	"\n"
	"commands:\n"
	"  topics list\n"
	"  topics create NAME [--partitions N] [--replication-factor R] [--config K=V]...\n"
	"  topics describe NAME       partitions (leader, earliest/latest offsets) and configs\n"
	"  topics alter NAME [--config K=V]... [--delete-config K]...\n"
	"  topics delete NAME...\n"
	"  topics delete-records NAME --offset N [--partition P]   move the log start offset\n"
	"                             (N -1: the high watermark; every partition by default)\n"
	"  groups list\n"
	"  groups describe GROUP      state, members, assignment; per partition the\n"
	"                             committed offset, log end offset and lag\n"
	"  groups delete GROUP...\n"
	"  produce TOPIC [-K SEP] [-p PARTITION]     one record per stdin line\n"
	"  consume TOPIC [-g GROUP] [-n COUNT] [--from-beginning] [-e] [-K SEP] [-p PARTITION]\n"
	"                             prints values (KEY SEP VALUE with -K); -e exits at the\n"
	"                             end of every partition (no group only)\n"
	"  send TOPIC --to A.B.C.D:PORT [-p PARTITION] [-K SEP] [--window N] [--batch N]\n"
	"       [--bind ADDR] [--dpdk \"EAL ARGS\" --local-ip A.B.C.D/N [--dpdk-port P]]\n"
	"                             one record per stdin line over the native UDP protocol\n"
	"                             (kernel socket, or DPDK); waits for every ACK\n"
	"  capture status TOPIC [-p PARTITION]\n"
	"                             a capture topic's sessions: sequences, gaps still\n"
	"                             missing, duplicates, fills (from its record headers)\n"
	"  txn list [--state S]... [--producer ID]... [--older-than MS]\n"
	"  txn describe TRANSACTIONAL_ID...   state, producer, timeout, partitions\n"
	"  txn abort TOPIC PARTITION [--producer ID]\n"
	"                             ends a hanging transaction on that partition\n"
	"  producers TOPIC [-p PARTITION]     each partition's idempotent/transactional\n"
	"                             producers: epoch, last sequence, open transaction\n"
	"  acls list [RESOURCE] [--principal P]\n"
	"  acls add (--allow P | --deny P) --operation OP... RESOURCE [--prefixed] [--host H]\n"
	"  acls remove [--allow P | --deny P | --principal P] [--operation OP]... [RESOURCE]\n"
	"       [--prefixed | --literal] [--host H]\n"
	"                             RESOURCE: --topic NAME | --group NAME | --cluster;\n"
	"                             OP: READ, WRITE, ALL, DESCRIBE, ALTER_CONFIGS, ...\n"
	"  users list [USER...]       SCRAM credentials (a PLAINTEXT listener)\n"
	"  users set USER --password P|- [--mechanism SCRAM-SHA-256|SCRAM-SHA-512]\n"
	"       [--iterations N]\n"
	"  users delete USER [--mechanism M]\n"
	"\n"
	"exit codes: 0 ok, 1 error from the broker or client, 2 bad command line\n";

static int take_value(int argc, char **argv, int *i, const char *flag, const char **out)
{
	size_t fl = strlen(flag);
	const char *a = argv[*i];
	if (strncmp(a, flag, fl) == 0 && a[fl] == '=' && flag[1] == '-') {
		*out = a + fl + 1;
		return 1;
	}
	if (strcmp(a, flag) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	struct cli cli = { .bootstrap = "localhost:9092", .timeout_ms = 10000 };
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	int nrest = 0, r;
	const char *v;

	if (!rest)
		return CLI_ERR;
	/* Pull the common flags out from anywhere before the first "--". */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < argc)
				rest[nrest++] = argv[i++];
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			free(rest);
			return CLI_OK;
		}
		if (strcmp(a, "--json") == 0) {
			cli.json = true;
			continue;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cli.verbose = true;
			continue;
		}
		if ((r = take_value(argc, argv, &i, "-b", &v)) ||
		    (r = take_value(argc, argv, &i, "--bootstrap", &v))) {
			if (r < 0)
				goto missing;
			cli.bootstrap = v;
			continue;
		}
		if ((r = take_value(argc, argv, &i, "-X", &v))) {
			if (r < 0)
				goto missing;
			if (cli.nprops == CLI_MAX_PROPS) {
				free(rest);
				return cli_usage_error("too many -X properties");
			}
			cli.props[cli.nprops++] = v;
			continue;
		}
		if ((r = take_value(argc, argv, &i, "--timeout", &v))) {
			char *end;
			if (r < 0)
				goto missing;
			long ms = strtol(v, &end, 10);
			if (*end || ms <= 0 || ms > 3600000) {
				free(rest);
				return cli_usage_error("--timeout expects milliseconds, got '%s'", v);
			}
			cli.timeout_ms = (int)ms;
			continue;
		}
		rest[nrest++] = argv[i];
		continue;
missing:
		free(rest);
		return cli_usage_error("%s needs a value", a);
	}

	int rc;
	if (nrest == 0) {
		fputs(usage, stderr);
		rc = CLI_USAGE;
	} else if (strcmp(rest[0], "topics") == 0 || strcmp(rest[0], "topic") == 0) {
		rc = topics_main(&cli, nrest - 1, rest + 1);
	} else if (strcmp(rest[0], "groups") == 0 || strcmp(rest[0], "group") == 0) {
		rc = groups_main(&cli, nrest - 1, rest + 1);
	} else if (strcmp(rest[0], "produce") == 0) {
		rc = produce_main(&cli, nrest, rest);
	} else if (strcmp(rest[0], "consume") == 0) {
		rc = consume_main(&cli, nrest, rest);
	} else if (strcmp(rest[0], "send") == 0) {
		rc = send_main(&cli, nrest, rest);
	} else if (strcmp(rest[0], "capture") == 0) {
		rc = capture_main(&cli, nrest, rest);
	} else if (strcmp(rest[0], "txn") == 0 || strcmp(rest[0], "transactions") == 0) {
		rc = txn_main(&cli, nrest - 1, rest + 1);
	} else if (strcmp(rest[0], "users") == 0 || strcmp(rest[0], "user") == 0) {
		rc = users_main(&cli, nrest - 1, rest + 1);
	} else if (strcmp(rest[0], "acls") == 0 || strcmp(rest[0], "acl") == 0) {
		rc = acls_main(&cli, nrest - 1, rest + 1);
	} else if (strcmp(rest[0], "producers") == 0) {
		rc = producers_cmd(&cli, nrest, rest);
	} else {
		rc = cli_usage_error("unknown command '%s'", rest[0]);
	}
	free(rest);
	return rc;
}
