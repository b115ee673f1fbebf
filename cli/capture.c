/*
 * capture.c - `sluice capture status TOPIC`: the sessions of a capture topic
 * (dataplane/dpdk/capture.h) as its records say, read with librdkafka's
 * consumer from the beginning to the end of the partition: per session the
 * first and next sequence, records and messages, duplicates, gap fills,
 * and every gap with what of it is still missing. What is reported is what
 * is durably stored, so it holds across broker restarts.
 *
 *   sluice capture status TOPIC [-p PARTITION]
 */
#include "cli/client.h"

#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SESSIONS_MAX 64

struct gap {
	uint64_t from, count, missing;
	int64_t offset; /* of the record that found it */
};

struct range {
	uint64_t from, end;
};

struct session {
	char id[11];
	uint64_t first, next;
	uint64_t records, messages, duplicates, dup_messages, fills, fill_messages, malformed;
	struct gap *gaps;
	size_t ngaps, gcap;
	struct range *filled;  /* what fill records carried: a fill held for */
	size_t nfilled, fcap;  /* its gap is stored before the gap's mark */
};

struct status {
	struct session s[SESSIONS_MAX];
	int n;
	uint64_t records, unsequenced, other_sessions;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The header's value if it has the given size. */
static const uint8_t *hget(rd_kafka_headers_t *h, const char *name, size_t want)
{
	const void *v;
	size_t size;
	if (!h || rd_kafka_header_get_last(h, name, &v, &size) || size != want)
		return NULL;
	return v;
}

static struct session *session_of(struct status *st, const char *id)
{
	for (int i = 0; i < st->n; i++)
		if (strcmp(st->s[i].id, id) == 0)
			return &st->s[i];
	if (st->n == SESSIONS_MAX)
		return NULL;
	struct session *s = &st->s[st->n++];
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

/* Grows an array of n elements of size sz to hold one more. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p = realloc(*v, ncap * sz);
	if (!p)
		return cli_error("out of memory");
	*v = p;
	*cap = ncap;
	return 0;
}

/* Once every record is read: what of each gap no fill covered. */
static void settle(struct session *s)
{
	for (size_t i = 0; i < s->ngaps; i++) {
		struct gap *g = &s->gaps[i];
		uint64_t covered = 0;
		for (size_t f = 0; f < s->nfilled; f++) {
			uint64_t lo = s->filled[f].from > g->from ? s->filled[f].from : g->from;
			uint64_t hi = s->filled[f].end < g->from + g->count ? s->filled[f].end
									: g->from + g->count;
			if (lo < hi)
				covered += hi - lo;
		}
		g->missing = covered < g->count ? g->count - covered : 0;
	}
}

static int account(struct status *st, const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h = NULL;
	rd_kafka_message_headers(m, &h);
	st->records++;
	const uint8_t *seqp = hget(h, "sluice.seq", 8);
	if (!seqp) {
		st->unsequenced++;
		return 0;
	}
	char id[11] = "";
	const uint8_t *sess = hget(h, "sluice.session", 10);
	if (sess) {
		memcpy(id, sess, 10);
		for (int i = 9; i >= 0 && id[i] == ' '; i--)
			id[i] = '\0';
	}
	struct session *s = session_of(st, id);
	if (!s) {
		st->other_sessions++;
		return 0;
	}
	uint64_t seq = be64(seqp), count = 1;
	const uint8_t *cnt = hget(h, "sluice.count", 2);
	if (cnt)
		count = (uint64_t)cnt[0] << 8 | cnt[1];
	const uint8_t *gap = hget(h, "sluice.gap", 16), *dup = hget(h, "sluice.dup", 8);
	const uint8_t *fl = hget(h, "sluice.fill", 8);
	if (s->records == 0 || seq < s->first)
		s->first = seq;
	if (seq + count > s->next)
		s->next = seq + count;
	s->records++;
	s->messages += count;
	if (hget(h, "sluice.malformed", 0))
		s->malformed++;
	if (dup) {
		s->duplicates++;
		s->dup_messages += be64(dup);
		s->messages -= be64(dup) < count ? be64(dup) : count;
	}
	if (fl) {
		s->fills++;
		s->fill_messages += be64(fl);
		if (grow((void **)&s->filled, &s->fcap, s->nfilled, sizeof(*s->filled)))
			return CLI_ERR;
		s->filled[s->nfilled++] = (struct range){ seq, seq + count };
	}
	if (gap) {
		if (grow((void **)&s->gaps, &s->gcap, s->ngaps, sizeof(*s->gaps)))
			return CLI_ERR;
		s->gaps[s->ngaps++] = (struct gap){ be64(gap), be64(gap + 8), be64(gap + 8), m->offset };
	}
	return 0;
}

static uint64_t missing(const struct session *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < s->ngaps; i++)
		n += s->gaps[i].missing;
	return n;
}

static void print_json(const char *topic, int partition, const struct status *st)
{
	printf("{\"topic\": ");
	json_str(stdout, topic);
	printf(", \"partition\": %d, \"records\": %llu, \"unsequenced\": %llu, \"sessions\": [",
	       partition, (unsigned long long)st->records, (unsigned long long)st->unsequenced);
	for (int i = 0; i < st->n; i++) {
		const struct session *s = &st->s[i];
		printf("%s{\"session\": ", i ? ", " : "");
		json_str(stdout, s->id);
		printf(", \"first\": %llu, \"next\": %llu, \"records\": %llu, \"messages\": %llu, "
		       "\"duplicates\": %llu, \"dup_messages\": %llu, \"fills\": %llu, "
		       "\"fill_messages\": %llu, \"malformed\": %llu, \"missing\": %llu, \"gaps\": [",
		       (unsigned long long)s->first, (unsigned long long)s->next,
		       (unsigned long long)s->records, (unsigned long long)s->messages,
		       (unsigned long long)s->duplicates, (unsigned long long)s->dup_messages,
		       (unsigned long long)s->fills, (unsigned long long)s->fill_messages,
		       (unsigned long long)s->malformed, (unsigned long long)missing(s));
		for (size_t g = 0; g < s->ngaps; g++)
			printf("%s{\"from\": %llu, \"count\": %llu, \"missing\": %llu, \"offset\": %lld}",
			       g ? ", " : "", (unsigned long long)s->gaps[g].from,
			       (unsigned long long)s->gaps[g].count,
			       (unsigned long long)s->gaps[g].missing, (long long)s->gaps[g].offset);
		printf("]}");
	}
	printf("]}\n");
}

static void print_tables(const struct status *st)
{
	struct table t;
	table_init(&t, 9, "SESSION", "FIRST", "NEXT", "RECORDS", "MESSAGES", "GAPS", "MISSING",
		   "DUPLICATES", "FILLED");
	for (int i = 0; i < st->n; i++) {
		const struct session *s = &st->s[i];
		table_rowf(&t, "%s\t%llu\t%llu\t%llu\t%llu\t%zu\t%llu\t%llu\t%llu", s->id,
			   (unsigned long long)s->first, (unsigned long long)s->next,
			   (unsigned long long)s->records, (unsigned long long)s->messages, s->ngaps,
			   (unsigned long long)missing(s), (unsigned long long)s->duplicates,
			   (unsigned long long)s->fill_messages);
	}
	table_print(&t, stdout);
	table_close(&t);
	table_init(&t, 5, "SESSION", "GAP FROM", "COUNT", "MISSING", "AT OFFSET");
	for (int i = 0; i < st->n; i++)
		for (size_t g = 0; g < st->s[i].ngaps; g++)
			table_rowf(&t, "%s\t%llu\t%llu\t%llu\t%lld", st->s[i].id,
				   (unsigned long long)st->s[i].gaps[g].from,
				   (unsigned long long)st->s[i].gaps[g].count,
				   (unsigned long long)st->s[i].gaps[g].missing,
				   (long long)st->s[i].gaps[g].offset);
	if (t.nrows > 1) {
		putchar('\n');
		table_print(&t, stdout);
	}
	table_close(&t);
	printf("%llu record(s), %llu without a sequence.\n", (unsigned long long)st->records,
	       (unsigned long long)st->unsequenced);
}

/* Reads the partition from the beginning to its end. */
static int scan(struct cli *cli, const char *topic, int partition, struct status *st)
{
	static const char *const defaults[] = {
		"group.id", "sluice-cli-capture", "enable.auto.commit", "false",
		"enable.partition.eof", "true", NULL,
	};
	char buf[256];
	rd_kafka_t *rk;
	int made = cli_consumer(cli, defaults, &rk);
	if (made != CLI_OK)
		return made;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	int rc = err ? cli_error("assign %s-%d: %s", topic, partition,
				 cli_err_text(err, buf, sizeof(buf)))
		     : CLI_OK;
	int idle = 0;
	while (rc == CLI_OK) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m) {
			/* bounded: the partition's end comes as an EOF event */
			if (++idle * 200 > cli->timeout_ms)
				rc = cli_error("%s-%d: no answer within %d ms", topic, partition,
					       cli->timeout_ms);
			continue;
		}
		idle = 0;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			break;
		}
		if (m->err)
			rc = cli_error("consume %s: %s", topic, rd_kafka_message_errstr(m));
		else
			rc = account(st, m);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

int capture_main(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "partition", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	long partition = 0;
	int o;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
		char *end;
		if (o != 'p' || (partition = strtol(optarg, &end, 10)) < 0 || *end)
			return cli_usage_error("capture status TOPIC [-p PARTITION]");
	}
	if (argc - optind != 2 || strcmp(argv[optind], "status") != 0)
		return cli_usage_error("capture status TOPIC [-p PARTITION]");
	const char *topic = argv[optind + 1];
	struct status *st = calloc(1, sizeof(*st));
	if (!st)
		return cli_error("out of memory");
	int rc = scan(cli, topic, (int)partition, st);
	for (int i = 0; i < st->n; i++)
		settle(&st->s[i]);
	if (rc == CLI_OK && cli->json)
		print_json(topic, (int)partition, st);
	else if (rc == CLI_OK)
		print_tables(st);
	if (st->other_sessions)
		fprintf(stderr, "sluice: %llu record(s) of sessions past the first %d not counted\n",
			(unsigned long long)st->other_sessions, SESSIONS_MAX);
	for (int i = 0; i < st->n; i++) {
		free(st->s[i].gaps);
		free(st->s[i].filled);
	}
	free(st);
	return rc;
}
