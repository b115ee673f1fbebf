/*
 * users.c - `sluice users`: the SCRAM credentials Kafka keeps per user
 * (DescribeUserScramCredentials, AlterUserScramCredentials), as
 * kafka-configs.sh --entity-type users shows and alters them.
 *
 *   sluice users list [USER...]
 *   sluice users set USER --password P|- [--mechanism M] [--iterations N]
 *   sluice users delete USER [--mechanism M]
 *
 * librdkafka 2.0.2 has neither Admin call, so they go as plain requests
 * (cli/call.c) to the broker given with -b: a PLAINTEXT listener (with
 * an authorizer, its principal User:ANONYMOUS needs DESCRIBE or ALTER on
 * the cluster). The password never leaves this process: the salted
 * password (PBKDF2 with a random 16-byte salt, security/scram.c) is sent.
 */
#include "cli/client.h"
#include "cli/wire.h"

#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_security.h"
#include "security/scram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int users_list(struct cli *cli, int argc, char **argv)
{
	struct kafka_describe_scram_req req = { .users = { .n = argc > 1 ? argc - 1 : -1 } };
	struct kafka_user_name names[64];
	char buf[256];
	if (argc - 1 > 64)
		return cli_usage_error("users list: at most 64 users at once");
	for (int i = 1; i < argc; i++)
		names[i - 1].name = kstr_c(argv[i]);
	req.users.v = names;
	struct cli_call c;
	void *out;
	if (cli_call_open(&c, cli, NULL, 0) != CLI_OK)
		return CLI_ERR;
	int rc = cli_call_run(&c, KAFKA_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, &req, &out,
			      "DescribeUserScramCredentials");
	const struct kafka_describe_scram_resp *resp = out;
	if (rc == CLI_OK && resp->error_code)
		rc = cli_error("users list: %s",
			       cli_err_text((rd_kafka_resp_err_t)resp->error_code, buf, sizeof buf));
	if (rc == CLI_OK) {
		struct table t;
		table_init(&t, 3, "USER", "MECHANISM", "ITERATIONS");
		if (cli->json)
			fputs("{\"users\": [", stdout);
		for (int i = 0; i < resp->results.n; i++) {
			const struct kafka_describe_scram_result *r = &resp->results.v[i];
			if (r->error_code) {
				rc = cli_error("users list %.*s: %s", r->user.len, r->user.p,
					       cli_err_text((rd_kafka_resp_err_t)r->error_code, buf,
							    sizeof buf));
				continue;
			}
			for (int k = 0; k < r->credential_infos.n; k++) {
				const struct kafka_scram_credential_info *ci = &r->credential_infos.v[k];
				if (!cli->json) {
					table_rowf(&t, "%.*s\t%s\t%d", r->user.len, r->user.p,
						   scram_mech_name(ci->mechanism), ci->iterations);
					continue;
				}
				printf("%s{\"user\": \"%.*s\", \"mechanism\": \"%s\", \"iterations\": %d}",
				       i || k ? ", " : "", r->user.len, r->user.p,
				       scram_mech_name(ci->mechanism), ci->iterations);
			}
		}
		if (cli->json)
			puts("]}");
		else
			table_print(&t, stdout);
		table_close(&t);
	}
	cli_call_close(&c);
	return rc;
}

/* The password from --password, or a line of stdin for "-". */
static const char *password_of(const char *arg, char *line, size_t cap)
{
	if (strcmp(arg, "-") != 0)
		return arg;
	if (!fgets(line, (int)cap, stdin))
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

static int users_alter(struct cli *cli, int argc, char **argv, bool set)
{
	const char *mech_name = "SCRAM-SHA-256", *password = NULL;
	long iterations = 4096;
	char line[1024], buf[256];
	if (argc < 2)
		return cli_usage_error("users %s USER", argv[0]);
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			return cli_usage_error("%s needs a value", argv[i]);
		if (strcmp(argv[i], "--mechanism") == 0)
			mech_name = argv[++i];
		else if (set && strcmp(argv[i], "--password") == 0)
			password = password_of(argv[++i], line, sizeof line);
		else if (set && strcmp(argv[i], "--iterations") == 0)
			iterations = strtol(argv[++i], NULL, 10);
		else
			return cli_usage_error("users %s: unknown argument '%s'", argv[0], argv[i]);
	}
	int mech = scram_mech_parse(mech_name);
	if (mech == SCRAM_UNKNOWN)
		return cli_usage_error("unknown mechanism '%s' (SCRAM-SHA-256, SCRAM-SHA-512)",
				       mech_name);
	if (set && !password)
		return cli_usage_error("users set needs --password P (or - for a line of stdin)");
	struct kafka_alter_scram_req req = { .deletions = { .n = 0 }, .upsertions = { .n = 0 } };
	struct kafka_scram_deletion del = { .name = kstr_c(argv[1]), .mechanism = (int8_t)mech };
	struct kafka_scram_upsertion up = { .name = kstr_c(argv[1]), .mechanism = (int8_t)mech,
					    .iterations = (int32_t)iterations };
	uint8_t salt[16], salted[SCRAM_KEY_MAX];
	if (set) {
		if (getrandom(salt, sizeof salt, 0) != sizeof salt ||
		    scram_salted_password(mech, password, strlen(password), salt, sizeof salt,
					  (int32_t)iterations, salted) < 0)
			return cli_error("users set: cannot derive the salted password");
		up.salt = (struct kbytes){ salt, sizeof salt };
		up.salted_password = (struct kbytes){ salted, (int32_t)scram_key_len(mech) };
		req.upsertions.n = 1;
		req.upsertions.v = &up;
	} else {
		req.deletions.n = 1;
		req.deletions.v = &del;
	}
	struct cli_call c;
	void *out;
	if (cli_call_open(&c, cli, NULL, 0) != CLI_OK)
		return CLI_ERR;
	int rc = cli_call_run(&c, KAFKA_ALTER_USER_SCRAM_CREDENTIALS, 0, &req, &out,
			      "AlterUserScramCredentials");
	const struct kafka_alter_scram_resp *resp = out;
	for (int i = 0; rc == CLI_OK && i < resp->results.n; i++) {
		const struct kafka_alter_scram_result *r = &resp->results.v[i];
		if (r->error_code)
			rc = cli_error("users %s %.*s: %s%s%.*s", argv[0], r->user.len, r->user.p,
				       cli_err_text((rd_kafka_resp_err_t)r->error_code, buf, sizeof buf),
				       r->error_message.len > 0 ? ": " : "",
				       r->error_message.len > 0 ? r->error_message.len : 0,
				       r->error_message.p);
	}
	if (rc == CLI_OK && cli->json)
		printf("{\"%s\": \"%s\", \"mechanism\": \"%s\"}\n", set ? "set" : "deleted", argv[1],
		       scram_mech_name(mech));
	else if (rc == CLI_OK)
		printf("%s %s credential of %s.\n", set ? "Set the" : "Deleted the",
		       scram_mech_name(mech), argv[1]);
	cli_call_close(&c);
	return rc;
}

int users_main(struct cli *cli, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage_error("users: list, set or delete");
	if (strcmp(argv[0], "list") == 0)
		return users_list(cli, argc, argv);
	if (strcmp(argv[0], "set") == 0 || strcmp(argv[0], "delete") == 0)
		return users_alter(cli, argc, argv, argv[0][0] == 's');
	return cli_usage_error("users: unknown subcommand '%s'", argv[0]);
}
