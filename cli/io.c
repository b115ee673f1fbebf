/*
 * io.c - `sluice produce` and `sluice consume`, for quick use from a shell:
 * one record per stdin line in, one value (or KEY SEP VALUE, or a JSON
 * object) per line out. librdkafka's producer and consumer do the work.
 */
#include "cli/client.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int parse_count(const char *s, long long *out, long long min)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

/* ---- produce ---- */

struct delivery {
	long long ok, failed;
	rd_kafka_resp_err_t first_err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct delivery *d = opaque;
	(void)rk;
	if (m->err) {
		if (!d->failed++)
			d->first_err = m->err;
	} else {
		d->ok++;
	}
}

int produce_main(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-delimiter", required_argument, NULL, 'K' },
		{ "partition", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const defaults[] = {
		"acks", "all", "linger.ms", "5", "message.timeout.ms", "30000", NULL,
	};
	const char *sep = NULL;
	long long partition = RD_KAFKA_PARTITION_UA;
	int o;
	char errstr[512], buf[256];

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "K:p:", opts, NULL)) != -1) {
		if (o == 'K' && *optarg)
			sep = optarg;
		else if (o == 'p' && parse_count(optarg, &partition, 0) == 0)
			;
		else
			return cli_usage_error("produce: bad or unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return cli_usage_error("produce needs exactly one topic");
	const char *topic = argv[optind];

	struct delivery d = { 0 };
	rd_kafka_conf_t *conf = cli_conf(cli, defaults);
	if (!conf)
		return CLI_USAGE;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, &d);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return cli_error("cannot create a producer: %s", errstr);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long long sent = 0;
	int rc = CLI_OK;
	while (!stop_requested && (len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		const char *key = NULL, *val = line;
		size_t klen = 0, vlen = (size_t)len;
		if (sep) {
			char *s = strstr(line, sep);
			if (s) {
				key = line;
				klen = (size_t)(s - line);
				val = s + strlen(sep);
				vlen = (size_t)len - klen - strlen(sep);
			}
		}
		for (;;) {
			rd_kafka_resp_err_t err = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)partition),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
				RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stop_requested) {
				rd_kafka_poll(rk, 100);
				continue;
			}
			if (err) {
				rc = cli_error("produce to %s: %s", topic, cli_err_text(err, buf, sizeof(buf)));
				goto flush;
			}
			sent++;
			break;
		}
		rd_kafka_poll(rk, 0);
	}
flush:
	free(line);
	/* bounded: every record fails after message.timeout.ms at the latest */
	for (int i = 0; i < 600 && rd_kafka_outq_len(rk) > 0; i++)
		rd_kafka_flush(rk, 1000);
	if (rd_kafka_outq_len(rk) > 0)
		rc = cli_error("produce to %s: %d record(s) still not delivered", topic,
			       rd_kafka_outq_len(rk));
	if (d.failed)
		rc = cli_error("produce to %s: %lld of %lld record(s) failed, first error: %s", topic,
			       d.failed, sent, cli_err_text(d.first_err, buf, sizeof(buf)));
	if (cli->json) {
		printf("{\"topic\": ");
		json_str(stdout, topic);
		printf(", \"produced\": %lld, \"failed\": %lld}\n", d.ok, d.failed);
	} else {
		printf("Produced %lld record(s) to %s.\n", d.ok, topic);
	}
	rd_kafka_destroy(rk);
	return rc;
}

/* ---- consume ---- */

struct consume_opts {
	const char *topic, *group, *sep;
	long long count; /* 0: unbounded */
	long long partition;
	bool from_beginning, exit_at_end;
};

static void print_message(const struct cli *cli, const struct consume_opts *co,
			  const rd_kafka_message_t *m)
{
	if (cli->json) {
		rd_kafka_timestamp_type_t tt;
		int64_t ts = rd_kafka_message_timestamp(m, &tt);
		printf("{\"topic\": ");
		json_str(stdout, rd_kafka_topic_name(m->rkt));
		printf(", \"partition\": %d, \"offset\": %lld, \"timestamp\": %lld, \"key\": ", m->partition,
		       (long long)m->offset, (long long)ts);
		json_bytes(stdout, m->key, m->key_len);
		printf(", \"value\": ");
		json_bytes(stdout, m->payload, m->len);
		puts("}");
	} else {
		if (co->sep) {
			if (m->key)
				fwrite(m->key, 1, m->key_len, stdout);
			fputs(co->sep, stdout);
		}
		if (m->payload)
			fwrite(m->payload, 1, m->len, stdout);
		putchar('\n');
	}
}

/* Without a group: assign every partition (or -p) at the start or the end. */
static int assign_all(const struct cli *cli, rd_kafka_t *rk, const struct consume_opts *co,
		      int *nparts)
{
	char buf[256];
	const rd_kafka_metadata_t *md = cli_metadata(cli, rk, co->topic);
	if (!md)
		return CLI_ERR;
	const rd_kafka_metadata_topic_t *t = cli_md_topic(md, co->topic);
	if (!t) {
		rd_kafka_metadata_destroy(md);
		return CLI_ERR;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->partition_cnt);
	int64_t start = co->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
	for (int i = 0; i < t->partition_cnt; i++)
		if (co->partition < 0 || co->partition == t->partitions[i].id)
			rd_kafka_topic_partition_list_add(l, co->topic, t->partitions[i].id)->offset = start;
	*nparts = l->cnt;
	rd_kafka_metadata_destroy(md);
	int rc = CLI_OK;
	if (l->cnt == 0) {
		rc = cli_error("topic '%s' has no partition %lld", co->topic, co->partition);
	} else {
		rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
		if (err)
			rc = cli_error("assign: %s", cli_err_text(err, buf, sizeof(buf)));
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

int consume_main(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "count", required_argument, NULL, 'n' },
		{ "from-beginning", no_argument, NULL, 'B' },
		{ "exit-at-end", no_argument, NULL, 'e' },
		{ "key-delimiter", required_argument, NULL, 'K' },
		{ "partition", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct consume_opts co = { .partition = -1 };
	char buf[256];
	int o;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "g:n:eK:p:", opts, NULL)) != -1) {
		switch (o) {
		case 'g':
			co.group = optarg;
			break;
		case 'n':
			if (parse_count(optarg, &co.count, 1))
				return cli_usage_error("-n expects a positive count, got '%s'", optarg);
			break;
		case 'B':
			co.from_beginning = true;
			break;
		case 'e':
			co.exit_at_end = true;
			break;
		case 'K':
			co.sep = optarg;
			break;
		case 'p':
			if (parse_count(optarg, &co.partition, 0))
				return cli_usage_error("-p expects a partition number, got '%s'", optarg);
			break;
		default:
			return cli_usage_error("consume: bad or unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("consume needs exactly one topic");
	co.topic = argv[optind];
	if (co.group && (co.exit_at_end || co.partition >= 0))
		return cli_usage_error("-e and -p are for consuming without a group (no -g)");

	const char *defaults[] = {
		"group.id", co.group ? co.group : "sluice-cli",
		"enable.auto.commit", co.group ? "true" : "false",
		"auto.offset.reset", co.from_beginning ? "earliest" : "latest",
		"enable.partition.eof", co.exit_at_end ? "true" : "false",
		NULL,
	};
	rd_kafka_t *rk;
	int made = cli_consumer(cli, defaults, &rk);
	if (made != CLI_OK)
		return made;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	int rc = CLI_OK, nparts = 0, neof = 0;
	char *eof = NULL;
	if (co.group) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, co.topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, l);
		rd_kafka_topic_partition_list_destroy(l);
		if (err)
			rc = cli_error("subscribe to %s: %s", co.topic, cli_err_text(err, buf, sizeof(buf)));
	} else {
		rc = assign_all(cli, rk, &co, &nparts);
		eof = calloc((size_t)nparts + 1, 1);
		if (!eof)
			rc = cli_error("out of memory");
	}

	long long got = 0;
	while (rc == CLI_OK && !stop_requested && (co.count == 0 || got < co.count)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* partitions are assigned in metadata order, so index by the
			 * partition id only when it fits; -p has one partition */
			int idx = co.partition >= 0 ? 0 : m->partition;
			if (idx >= 0 && idx < nparts && !eof[idx]) {
				eof[idx] = 1;
				neof++;
			}
			if (co.exit_at_end && neof >= nparts) {
				rd_kafka_message_destroy(m);
				break;
			}
		} else if (m->err) {
			bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL ||
				     m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
				     m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
				     m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
				     m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
				     m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED;
			if (fatal)
				rc = cli_error("consume %s: %s: %s", co.topic,
					       cli_err_text(m->err, buf, sizeof(buf)), rd_kafka_message_errstr(m));
			else if (cli->verbose)
				fprintf(stderr, "sluice: consume %s: %s (retrying)\n", co.topic,
					rd_kafka_message_errstr(m));
		} else {
			if (eof && co.partition < 0 && m->partition >= 0 && m->partition < nparts &&
			    eof[m->partition]) {
				eof[m->partition] = 0;
				neof--;
			} else if (eof && co.partition >= 0 && eof[0]) {
				eof[0] = 0;
				neof--;
			}
			print_message(cli, &co, m);
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	fflush(stdout);
	/* with a group this commits what was consumed, and leaves the group */
	rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);
	if (err && rc == CLI_OK && co.group)
		rc = cli_error("closing the consumer: %s", cli_err_text(err, buf, sizeof(buf)));
	rd_kafka_destroy(rk);
	free(eof);
	return rc;
}
