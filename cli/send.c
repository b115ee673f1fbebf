/*
 * send.c - `sluice send`: one record per stdin line over the native UDP
 * produce protocol (docs/udp-protocol.md) with libsluice-send, through a
 * kernel UDP socket or, with --dpdk, a DPDK port of this process. Exits
 * 0 only once the broker acknowledged every record as durable.
 *
 *   sluice send TOPIC --to A.B.C.D:PORT [-p PARTITION] [-K SEP]
 *               [--window N] [--batch N] [--bind A.B.C.D[:PORT]]
 *               [--dpdk "EAL ARGS" --local-ip A.B.C.D/N [--dpdk-port P]]
 */
#include "cli/client.h"
#include "sender/sluice_send.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	OPT_TO = 256, OPT_WINDOW, OPT_BATCH, OPT_BIND, OPT_DPDK, OPT_DPDK_PORT, OPT_LOCAL_IP,
	OPT_PID, OPT_DROP, OPT_DUP,
};

static int num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse(int argc, char **argv, struct sluice_send_config *cfg, const char **sep)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "partition", required_argument, NULL, 'p' },
		{ "key-delimiter", required_argument, NULL, 'K' },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "dpdk", required_argument, NULL, OPT_DPDK },
		{ "dpdk-port", required_argument, NULL, OPT_DPDK_PORT },
		{ "local-ip", required_argument, NULL, OPT_LOCAL_IP },
		{ "producer-id", required_argument, NULL, OPT_PID },
		{ "test-drop-every", required_argument, NULL, OPT_DROP },
		{ "test-dup-every", required_argument, NULL, OPT_DUP },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int o;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "p:K:", opts, NULL)) != -1) {
		switch (o) {
		case OPT_TO: cfg->broker = optarg; break;
		case 'K': *sep = *optarg ? optarg : NULL; break;
		case OPT_BIND: cfg->bind = optarg; break;
		case OPT_DPDK: cfg->transport = SLUICE_SEND_DPDK; cfg->eal_args = optarg; break;
		case OPT_DPDK_PORT: cfg->dpdk_port = optarg; break;
		case OPT_LOCAL_IP: cfg->local_ip = optarg; break;
		case 'p':
			if (num(optarg, 0, INT32_MAX, &v) < 0)
				return -1;
			cfg->partition = (int32_t)v;
			break;
		case OPT_WINDOW:
			if (num(optarg, 1, 1 << 20, &v) < 0)
				return -1;
			cfg->window = (uint32_t)v;
			break;
		case OPT_BATCH:
			if (num(optarg, 0, 1 << 20, &v) < 0)
				return -1;
			cfg->records_per_datagram = (uint32_t)v;
			break;
		case OPT_PID:
			if (num(optarg, 0, INT64_MAX, &v) < 0)
				return -1;
			cfg->producer_id = v;
			break;
		case OPT_DROP:
		case OPT_DUP:
			if (num(optarg, 0, 1 << 30, &v) < 0)
				return -1;
			*(o == OPT_DROP ? &cfg->test_drop_every : &cfg->test_dup_every) = (uint32_t)v;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 1 || !cfg->broker)
		return -1;
	cfg->topic = argv[optind];
	return 0;
}

/* One record, waiting for room in the window. */
static int send_one(struct sluice_sender *s, const char *key, size_t klen, const char *val,
		    size_t vlen)
{
	int rc;
	while ((rc = sluice_sender_send(s, key, klen, val, vlen, wall_ms())) == -EAGAIN)
		if ((rc = sluice_sender_poll(s, 1)) < 0)
			return rc;
	return rc;
}

static void report(const struct cli *cli, const struct sluice_send_config *cfg,
		   const struct sluice_send_stats *st)
{
	if (cli->json) {
		printf("{\"topic\": ");
		json_str(stdout, cfg->topic);
		printf(", \"partition\": %d, \"records\": %llu, \"acked\": %llu, \"datagrams\": %llu, "
		       "\"retransmits\": %llu, \"acks\": %llu, \"naks\": %llu, \"timeouts\": %llu, "
		       "\"epochs\": %llu, \"last_offset\": %lld}\n",
		       cfg->partition, (unsigned long long)st->records,
		       (unsigned long long)st->acked_records, (unsigned long long)st->datagrams,
		       (unsigned long long)st->retransmits, (unsigned long long)st->acks,
		       (unsigned long long)st->naks, (unsigned long long)st->timeouts,
		       (unsigned long long)st->epochs, (long long)st->last_offset);
	} else {
		printf("Sent %llu record(s) to %s-%d in %llu datagram(s) (%llu re-sent, %llu NAK(s)); "
		       "%llu acknowledged, last offset %lld.\n",
		       (unsigned long long)st->records, cfg->topic, cfg->partition,
		       (unsigned long long)st->datagrams, (unsigned long long)st->retransmits,
		       (unsigned long long)st->naks, (unsigned long long)st->acked_records,
		       (long long)st->last_offset);
	}
}

int send_main(struct cli *cli, int argc, char **argv)
{
	struct sluice_send_config cfg;
	const char *sep = NULL;
	char err[512];
	sluice_send_config_defaults(&cfg);
	if (parse(argc, argv, &cfg, &sep) < 0)
		return cli_usage_error("send TOPIC --to A.B.C.D:PORT [-p PARTITION] [-K SEP] "
				       "[--window N] [--batch N] [--bind ADDR] [--dpdk \"EAL ARGS\" "
				       "--local-ip A.B.C.D/N [--dpdk-port P]]");
	struct sluice_sender *s;
	int rc = sluice_sender_create(&s, &cfg, err, sizeof(err));
	if (rc < 0)
		return cli_error("send: %s", err);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while (rc >= 0 && (len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		const char *key = NULL, *val = line;
		size_t klen = 0, vlen = (size_t)len;
		char *k = sep ? strstr(line, sep) : NULL;
		if (k) {
			key = line;
			klen = (size_t)(k - line);
			val = k + strlen(sep);
			vlen = (size_t)len - klen - strlen(sep);
		}
		rc = send_one(s, key, klen, val, vlen);
	}
	free(line);
	if (rc == -EMSGSIZE)
		rc = cli_error("send: a record does not fit in one datagram");
	else if (rc < 0 || (rc = sluice_sender_wait(s, cli->timeout_ms)) < 0)
		rc = cli_error("send: %s", sluice_sender_error(s));
	report(cli, &cfg, sluice_sender_stats(s));
	sluice_sender_destroy(s);
	return rc < 0 ? CLI_ERR : rc;
}
