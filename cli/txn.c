/*
 * txn.c - `sluice txn list|describe|abort` and `sluice producers TOPIC`:
 * transactions and the producers of each partition, as Kafka's
 * kafka-transactions.sh shows them. librdkafka 2.0.2 has none of these
 * Admin calls, so they go as plain requests (cli/wire.c): ListTransactions
 * and DescribeTransactions to the broker given with -b (every sluice broker
 * answers for the one coordinator), DescribeProducers and WriteTxnMarkers to
 * each partition's leader, found through librdkafka's metadata.
 *
 * `txn abort TOPIC PARTITION` ends a hanging transaction on one partition
 * the way the Admin API's abortTransaction does: the open transaction's
 * producer and epoch come from DescribeProducers (--producer picks one when
 * several are open), and an abort marker is written with WriteTxnMarkers.
 */
#include "cli/client.h"
#include "cli/wire.h"

#include "dataplane/kafka/api.h"
#include "dataplane/kafka/msg_txn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Kafka's name of an error code; the few librdkafka 2.0.2 does not know
 * yet (they came with the transaction Admin API) by hand. */
static const char *kerr_name(int16_t code, char *buf, size_t n)
{
	switch (code) {
	case 105:
		snprintf(buf, n, "Broker: Transactional id not found (TRANSACTIONAL_ID_NOT_FOUND)");
		return buf;
	case 120:
		snprintf(buf, n, "Broker: Transaction abortable (TRANSACTION_ABORTABLE)");
		return buf;
	default:
		return cli_err_text((rd_kafka_resp_err_t)code, buf, n);
	}
}

static char *cstr(struct kstr s, char *buf, size_t n)
{
	size_t len = s.len > 0 ? (size_t)s.len : 0;
	if (len >= n)
		len = n - 1;
	memcpy(buf, s.p ? s.p : "", len);
	buf[len] = '\0';
	return buf;
}

static void json_kstr(struct kstr s)
{
	char buf[1024];
	json_str(stdout, cstr(s, buf, sizeof(buf)));
}

/* "2026-12-03 09:40:00" of epoch milliseconds, or "-". */
static const char *when(int64_t ms, char *buf, size_t n)
{
	if (ms < 0)
		return "-";
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* ---- txn list ---- */

static int txn_list(struct cli *cli, int argc, char **argv)
{
	struct kstr states[16];
	int64_t pids[16];
	struct kafka_list_transactions_req req = { .duration_filter = -1 };
	kafka_defaults(&kafka_list_transactions_req_s, &req);
	req.state_filters.v = states;
	req.producer_id_filters.v = pids;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc && req.state_filters.n < 16)
			states[req.state_filters.n++] = kstr_c(argv[++i]);
		else if (strcmp(argv[i], "--producer") == 0 && i + 1 < argc && req.producer_id_filters.n < 16)
			pids[req.producer_id_filters.n++] = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc)
			req.duration_filter = strtoll(argv[++i], NULL, 10);
		else
			return cli_usage_error("txn list [--state S]... [--producer ID]... [--older-than MS]");
	}
	struct cli_call c;
	struct kafka_list_transactions_resp *resp;
	if (cli_call_open(&c, cli, NULL, 0) != CLI_OK)
		return CLI_ERR;
	int rc = cli_call_run(&c, KAFKA_LIST_TRANSACTIONS, req.duration_filter >= 0 ? 1 : 0, &req,
			  (void **)&resp, "txn list");
	if (rc == CLI_OK && resp->error_code) {
		char b[256];
		rc = cli_error("txn list: %s", kerr_name(resp->error_code, b, sizeof(b)));
	}
	if (rc == CLI_OK) {
		struct table t;
		if (cli->json)
			fputs("{\"transactions\": [", stdout);
		else
			table_init(&t, 3, "TRANSACTIONAL ID", "PRODUCER ID", "STATE");
		for (int i = 0; i < resp->transaction_states.n; i++) {
			const struct kafka_listed_txn *x = &resp->transaction_states.v[i];
			char id[512], st[64];
			if (cli->json) {
				fputs(i ? ", {\"transactional_id\": " : "{\"transactional_id\": ", stdout);
				json_kstr(x->transactional_id);
				printf(", \"producer_id\": %" PRId64 ", \"state\": ", x->producer_id);
				json_kstr(x->transaction_state);
				fputs("}", stdout);
			} else {
				table_rowf(&t, "%s\t%" PRId64 "\t%s", cstr(x->transactional_id, id, sizeof(id)),
					   x->producer_id, cstr(x->transaction_state, st, sizeof(st)));
			}
		}
		if (cli->json) {
			puts("]}");
		} else {
			table_print(&t, stdout);
			table_close(&t);
		}
		for (int i = 0; i < resp->unknown_state_filters.n; i++) {
			char s[64];
			rc = cli_error("txn list: unknown state '%s'",
				       cstr(resp->unknown_state_filters.v[i], s, sizeof(s)));
		}
	}
	cli_call_close(&c);
	return rc;
}

/* ---- txn describe ---- */

static void describe_print(const struct cli *cli, const struct kafka_described_txn *d, bool first)
{
	char id[512], st[64], b[256], tm[64];
	if (cli->json) {
		fputs(first ? "{\"transactional_id\": " : ", {\"transactional_id\": ", stdout);
		json_kstr(d->transactional_id);
		printf(", \"error\": ");
		json_str(stdout, d->error_code ? kerr_name(d->error_code, b, sizeof(b)) : NULL);
		printf(", \"state\": ");
		json_kstr(d->transaction_state);
		printf(", \"producer_id\": %" PRId64 ", \"producer_epoch\": %d, \"timeout_ms\": %d, "
		       "\"start_ms\": %" PRId64 ", \"partitions\": [",
		       d->producer_id, d->producer_epoch, d->transaction_timeout_ms,
		       d->transaction_start_time_ms);
		bool any = false;
		for (int i = 0; i < d->topics.n; i++)
			for (int k = 0; k < d->topics.v[i].partitions.n; k++) {
				fputs(any ? ", {\"topic\": " : "{\"topic\": ", stdout);
				json_kstr(d->topics.v[i].topic);
				printf(", \"partition\": %d}", d->topics.v[i].partitions.v[k]);
				any = true;
			}
		fputs("]}", stdout);
		return;
	}
	cstr(d->transactional_id, id, sizeof(id));
	if (d->error_code) {
		printf("%s: %s\n", id, kerr_name(d->error_code, b, sizeof(b)));
		return;
	}
	printf("transactional id  %s\nstate             %s\nproducer          %" PRId64
	       " epoch %d\ntimeout           %d ms\nstarted           %s\n",
	       id, cstr(d->transaction_state, st, sizeof(st)), d->producer_id, d->producer_epoch,
	       d->transaction_timeout_ms, when(d->transaction_start_time_ms, tm, sizeof(tm)));
	struct table t;
	table_init(&t, 2, "TOPIC", "PARTITION");
	for (int i = 0; i < d->topics.n; i++)
		for (int k = 0; k < d->topics.v[i].partitions.n; k++) {
			char topic[256];
			table_rowf(&t, "%s\t%d", cstr(d->topics.v[i].topic, topic, sizeof(topic)),
				   d->topics.v[i].partitions.v[k]);
		}
	if (t.nrows > 1)
		table_print(&t, stdout);
	table_close(&t);
}

static int txn_describe(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("txn describe TRANSACTIONAL_ID...");
	struct kstr *ids = calloc((size_t)argc, sizeof(*ids));
	struct kafka_describe_transactions_req req = { .transactional_ids = { ids, argc - 1 } };
	for (int i = 1; ids && i < argc; i++)
		ids[i - 1] = kstr_c(argv[i]);
	struct cli_call c;
	struct kafka_describe_transactions_resp *resp;
	if (!ids || cli_call_open(&c, cli, NULL, 0) != CLI_OK) {
		free(ids);
		return CLI_ERR;
	}
	int rc = cli_call_run(&c, KAFKA_DESCRIBE_TRANSACTIONS, 0, &req, (void **)&resp, "txn describe");
	if (rc == CLI_OK) {
		if (cli->json)
			fputs("{\"transactions\": [", stdout);
		for (int i = 0; i < resp->transaction_states.n; i++) {
			if (i && !cli->json)
				putchar('\n');
			describe_print(cli, &resp->transaction_states.v[i], i == 0);
			if (resp->transaction_states.v[i].error_code)
				rc = CLI_ERR;
		}
		if (cli->json)
			puts("]}");
	}
	cli_call_close(&c);
	free(ids);
	return rc;
}

/* ---- producers of a partition ---- */

/* Opens a connection to the leader of topic's partition. */
static int leader_open(struct cli_call *c, struct cli *cli, const rd_kafka_metadata_t *md,
		       const rd_kafka_metadata_partition_t *p)
{
	for (int i = 0; i < md->broker_cnt; i++)
		if (md->brokers[i].id == p->leader)
			return cli_call_open(c, cli, md->brokers[i].host, md->brokers[i].port);
	return cli_error("partition %d has no leader", p->id);
}

static int describe_producers(struct cli_call *c, const char *topic, int32_t partition,
			      struct kafka_producers_partition **out)
{
	int32_t idx = partition;
	struct kafka_marker_topic t = { kstr_c(topic), { &idx, 1 } };
	struct kafka_describe_producers_req req = { { &t, 1 } };
	struct kafka_describe_producers_resp *resp;
	char b[256];
	int rc = cli_call_run(c, KAFKA_DESCRIBE_PRODUCERS, 0, &req, (void **)&resp, "producers");
	if (rc != CLI_OK)
		return rc;
	if (resp->topics.n != 1 || resp->topics.v[0].partitions.n != 1)
		return cli_error("producers: the broker answered for another partition");
	*out = &resp->topics.v[0].partitions.v[0];
	if ((*out)->error_code)
		return cli_error("producers %s [%d]: %s", topic, partition,
				 kerr_name((*out)->error_code, b, sizeof(b)));
	return CLI_OK;
}

static int producers_main(struct cli *cli, int argc, char **argv)
{
	int32_t only = -1;
	if (argc < 2)
		return cli_usage_error("producers TOPIC [-p PARTITION]");
	if (argc == 4 && strcmp(argv[2], "-p") == 0)
		only = atoi(argv[3]);
	else if (argc != 2)
		return cli_usage_error("producers TOPIC [-p PARTITION]");
	rd_kafka_t *rk = cli_admin_create(cli);
	const rd_kafka_metadata_t *md = rk ? cli_metadata(cli, rk, argv[1]) : NULL;
	const rd_kafka_metadata_topic_t *mt = md ? cli_md_topic(md, argv[1]) : NULL;
	int rc = mt ? CLI_OK : CLI_ERR;
	struct table t;
	bool first = true;
	if (rc == CLI_OK) {
		if (cli->json)
			fputs("{\"producers\": [", stdout);
		else
			table_init(&t, 7, "PARTITION", "PRODUCER ID", "EPOCH", "LAST SEQUENCE",
				   "LAST TIMESTAMP", "COORDINATOR EPOCH", "TXN START OFFSET");
	}
	for (int i = 0; rc == CLI_OK && i < mt->partition_cnt; i++) {
		const rd_kafka_metadata_partition_t *p = &mt->partitions[i];
		struct cli_call c;
		struct kafka_producers_partition *pp;
		if (only >= 0 && p->id != only)
			continue;
		if ((rc = leader_open(&c, cli, md, p)) != CLI_OK)
			break;
		rc = describe_producers(&c, argv[1], p->id, &pp);
		for (int k = 0; rc == CLI_OK && k < pp->active_producers.n; k++) {
			const struct kafka_producer_state *s = &pp->active_producers.v[k];
			char tm[64];
			if (cli->json) {
				printf("%s{\"partition\": %d, \"producer_id\": %" PRId64 ", \"epoch\": %d, "
				       "\"last_sequence\": %d, \"last_timestamp\": %" PRId64 ", "
				       "\"coordinator_epoch\": %d, \"txn_start_offset\": %" PRId64 "}",
				       first ? "" : ", ", p->id, s->producer_id, s->producer_epoch,
				       s->last_sequence, s->last_timestamp, s->coordinator_epoch,
				       s->current_txn_start_offset);
				first = false;
			} else {
				char txn[32];
				snprintf(txn, sizeof(txn), "%" PRId64, s->current_txn_start_offset);
				table_rowf(&t, "%d\t%" PRId64 "\t%d\t%d\t%s\t%d\t%s", p->id, s->producer_id,
					   s->producer_epoch, s->last_sequence,
					   when(s->last_timestamp, tm, sizeof(tm)), s->coordinator_epoch,
					   s->current_txn_start_offset >= 0 ? txn : "-");
			}
		}
		cli_call_close(&c);
	}
	if (mt) {
		if (cli->json) {
			puts("]}");
		} else {
			table_print(&t, stdout);
			table_close(&t);
		}
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}

/* ---- txn abort TOPIC PARTITION ---- */

static int abort_marker(struct cli *cli, struct cli_call *c, const char *topic, int32_t partition,
			const struct kafka_producer_state *s)
{
	int32_t idx = partition;
	struct kafka_marker_topic t = { kstr_c(topic), { &idx, 1 } };
	struct kafka_writable_marker mk = { .producer_id = s->producer_id,
					    .producer_epoch = (int16_t)s->producer_epoch,
					    .transaction_result = false, .topics = { &t, 1 },
					    .coordinator_epoch = s->coordinator_epoch };
	struct kafka_write_txn_markers_req req = { { &mk, 1 } };
	struct kafka_write_txn_markers_resp *resp;
	char b[256];
	int rc = cli_call_run(c, KAFKA_WRITE_TXN_MARKERS, 1, &req, (void **)&resp, "txn abort");
	if (rc != CLI_OK)
		return rc;
	int16_t err = resp->markers.n == 1 && resp->markers.v[0].topics.n == 1 &&
			      resp->markers.v[0].topics.v[0].partitions.n == 1
			      ? resp->markers.v[0].topics.v[0].partitions.v[0].error_code
			      : -1;
	if (err)
		return cli_error("txn abort %s [%d]: %s", topic, partition, kerr_name(err, b, sizeof(b)));
	if (cli->json)
		printf("{\"topic\": \"%s\", \"partition\": %d, \"producer_id\": %" PRId64
		       ", \"aborted_from\": %" PRId64 "}\n",
		       topic, partition, s->producer_id, s->current_txn_start_offset);
	else
		printf("Aborted the transaction of producer %" PRId64 " on %s [%d] (open since offset %"
		       PRId64 ").\n", s->producer_id, topic, partition, s->current_txn_start_offset);
	return CLI_OK;
}

static int txn_abort(struct cli *cli, int argc, char **argv)
{
	int64_t want = -1;
	if (argc == 5 && strcmp(argv[3], "--producer") == 0)
		want = strtoll(argv[4], NULL, 10);
	else if (argc != 3)
		return cli_usage_error("txn abort TOPIC PARTITION [--producer ID]");
	const char *topic = argv[1];
	int32_t partition = atoi(argv[2]);
	rd_kafka_t *rk = cli_admin_create(cli);
	const rd_kafka_metadata_t *md = rk ? cli_metadata(cli, rk, topic) : NULL;
	const rd_kafka_metadata_topic_t *mt = md ? cli_md_topic(md, topic) : NULL;
	int rc = CLI_ERR;
	for (int i = 0; mt && i < mt->partition_cnt; i++) {
		struct cli_call c;
		struct kafka_producers_partition *pp;
		const struct kafka_producer_state *open = NULL;
		int nopen = 0;
		if (mt->partitions[i].id != partition)
			continue;
		if (leader_open(&c, cli, md, &mt->partitions[i]) != CLI_OK)
			break;
		rc = describe_producers(&c, topic, partition, &pp);
		for (int k = 0; rc == CLI_OK && k < pp->active_producers.n; k++) {
			const struct kafka_producer_state *s = &pp->active_producers.v[k];
			if (s->current_txn_start_offset < 0 || (want >= 0 && s->producer_id != want))
				continue;
			open = s;
			nopen++;
		}
		if (rc == CLI_OK && nopen == 0)
			rc = cli_error("txn abort: no open transaction on %s [%d]%s", topic, partition,
				       want >= 0 ? " for that producer" : "");
		else if (rc == CLI_OK && nopen > 1)
			rc = cli_error("txn abort: %d transactions are open on %s [%d]; pick one with "
				       "--producer (see `sluice producers %s`)", nopen, topic, partition,
				       topic);
		else if (rc == CLI_OK)
			rc = abort_marker(cli, &c, topic, partition, open);
		cli_call_close(&c);
		break;
	}
	if (mt && rc == CLI_ERR && partition >= mt->partition_cnt)
		rc = cli_error("txn abort: %s has no partition %d", topic, partition);
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}

int txn_main(struct cli *cli, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage_error("txn list|describe|abort");
	if (strcmp(argv[0], "list") == 0)
		return txn_list(cli, argc, argv);
	if (strcmp(argv[0], "describe") == 0)
		return txn_describe(cli, argc, argv);
	if (strcmp(argv[0], "abort") == 0)
		return txn_abort(cli, argc, argv);
	return cli_usage_error("unknown txn command '%s'", argv[0]);
}

int producers_cmd(struct cli *cli, int argc, char **argv)
{
	return producers_main(cli, argc, argv);
}
