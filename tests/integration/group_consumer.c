/*
 * group_consumer.c - a librdkafka group consumer using the
 * cooperative-sticky assignor (incremental rebalances), run as a
 * subprocess by test_groups.py so that it can be SIGKILLed.
 *
 *   group_consumer BOOTSTRAP TOPIC GROUP alo|amo
 *
 * Prints the same events as group_worker.py, one per line, flushed:
 * READY, ASSIGNED <p,p..|->, REC <p> <offset> <value>, COMMITTED <p> <next>,
 * COMMITFAIL <p> <next> <error>, CLOSED (after "close" or EOF on stdin).
 * alo: process then commit; amo: commit then process; commits synchronous.
 *
 *   group_consumer --mock
 *
 * hosts librdkafka's mock cluster for test_groups.py's SLUICE_IT_GROUPS_MOCK
 * mode: prints sluiced's ready line (bootstrap = the mock's brokers, which
 * listen on loopback, so other processes reach them), then creates a topic
 * for each "topic NAME PARTITIONS" line on stdin (answering "ok NAME" or
 * "error NAME"), and exits at EOF.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *topic;

static void print_assignment(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	char line[4096] = "ASSIGNED ";
	size_t o = strlen(line);
	int marks[1024] = { 0 }, any = 0;
	if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
		for (int i = 0; i < a->cnt; i++)
			if (a->elems[i].partition >= 0 && a->elems[i].partition < 1024)
				marks[a->elems[i].partition] = 1;
		rd_kafka_topic_partition_list_destroy(a);
	}
	for (int p = 0; p < 1024 && o < sizeof(line) - 16; p++)
		if (marks[p])
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%d", any++ ? "," : "", p);
	if (!any)
		snprintf(line + o, sizeof(line) - o, "-");
	printf("%s\n", line);
	fflush(stdout);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	(void)opaque;
	rd_kafka_error_t *e = NULL;
	if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
		e = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? rd_kafka_incremental_assign(rk, parts)
								 : rd_kafka_incremental_unassign(rk, parts);
	} else {
		rd_kafka_assign(rk, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? parts : NULL);
	}
	if (e) {
		printf("ERROR rebalance %s\n", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	print_assignment(rk);
}

static int commit(rd_kafka_t *rk, int32_t p, int64_t next)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, p)->offset = next;
	rd_kafka_resp_err_t err = rd_kafka_commit(rk, l, 0);
	if (!err && l->elems[0].err)
		err = l->elems[0].err;
	rd_kafka_topic_partition_list_destroy(l);
	if (err)
		printf("COMMITFAIL %d %lld %s\n", p, (long long)next, rd_kafka_err2name(err));
	else
		printf("COMMITTED %d %lld\n", p, (long long)next);
	fflush(stdout);
	return err ? -1 : 0;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char errstr[512];
	if (rd_kafka_conf_set(c, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "group_consumer: %s=%s: %s\n", k, v, errstr);
		exit(2);
	}
}

/* true once "close" or EOF arrives on stdin */
static int close_requested(void)
{
	static char buf[256];
	static size_t len;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	while (poll(&pfd, 1, 0) > 0) {
		ssize_t n = read(0, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return 1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "close"))
			return 1;
		if (len >= sizeof(buf) - 1)
			len = 0;
	}
	return 0;
}

static int mock_host(void)
{
	char errstr[512], line[512], name[256];
	int parts;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "test.mock.num.brokers", "1");
	set(c, "log_level", "3");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "group_consumer: %s\n", errstr);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
	fprintf(stderr, "sluiced: ready bootstrap=%s shards=1 mock=1\n",
		rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stderr);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "topic %255s %d", name, &parts) != 2)
			continue;
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, parts, 1);
		printf("%s %s\n", err ? "error" : "ok", name);
		fflush(stdout);
	}
	rd_kafka_destroy(rk);
	return 0;
}

int main(int argc, char **argv)
{
	char errstr[512];
	if (argc == 2 && strcmp(argv[1], "--mock") == 0)
		return mock_host();
	if (argc != 5 || (strcmp(argv[4], "alo") && strcmp(argv[4], "amo"))) {
		fprintf(stderr, "usage: group_consumer BOOTSTRAP TOPIC GROUP alo|amo\n");
		return 2;
	}
	topic = argv[2];
	int amo = strcmp(argv[4], "amo") == 0;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "bootstrap.servers", argv[1]);
	set(c, "group.id", argv[3]);
	set(c, "partition.assignment.strategy", "cooperative-sticky");
	set(c, "enable.auto.commit", "false");
	set(c, "auto.offset.reset", "earliest");
	set(c, "session.timeout.ms", "6000");
	set(c, "heartbeat.interval.ms", "500");
	set(c, "client.id", "group-consumer-c");
	rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "group_consumer: %s\n", errstr);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (err) {
		fprintf(stderr, "group_consumer: subscribe: %s\n", rd_kafka_err2str(err));
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	while (!close_requested()) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err) {
			printf("ERROR %s\n", rd_kafka_err2name(m->err));
			fflush(stdout);
		} else if (amo) {
			if (commit(rk, m->partition, m->offset + 1) == 0) {
				printf("REC %d %lld %.*s\n", m->partition, (long long)m->offset, (int)m->len,
				       (const char *)m->payload);
				fflush(stdout);
			}
		} else {
			printf("REC %d %lld %.*s\n", m->partition, (long long)m->offset, (int)m->len,
			       (const char *)m->payload);
			fflush(stdout);
			if (commit(rk, m->partition, m->offset + 1) != 0) {
				/* re-read from here rather than skip what was fetched */
				rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
				rd_kafka_topic_partition_list_add(l, topic, m->partition)->offset = m->offset + 1;
				rd_kafka_error_t *e = rd_kafka_seek_partitions(rk, l, 2000);
				if (e)
					rd_kafka_error_destroy(e);
				rd_kafka_topic_partition_list_destroy(l);
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("CLOSED\n");
	fflush(stdout);
	return 0;
}
