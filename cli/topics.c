/*
 * topics.c - `sluice topics list|create|describe|alter|delete`, on
 * librdkafka's Admin API (CreateTopics, DeleteTopics, DescribeConfigs,
 * AlterConfigs), metadata and watermark queries.
 *
 * librdkafka 2.0.2 has no IncrementalAlterConfigs, so `alter` does what
 * kafka-configs.sh did before KIP-339: read the topic's dynamic configs,
 * merge the change in, and write the whole set back with AlterConfigs
 * (which replaces every dynamic config of the resource).
 */
#include "cli/client.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONFIGS 256

struct kv {
	const char *key;
	const char *value; /* NULL: delete */
};

/* "k=v" -> kv pointing into a copy; returns 0 or CLI_USAGE. */
static int parse_kv(const char *arg, struct kv *out)
{
	char *copy = strdup(arg), *eq;
	if (!copy)
		return cli_error("out of memory");
	eq = strchr(copy, '=');
	if (!eq || eq == copy) {
		free(copy);
		return cli_usage_error("--config expects KEY=VALUE, got '%s'", arg);
	}
	*eq = '\0';
	out->key = copy;
	out->value = eq + 1;
	return CLI_OK;
}

static void free_kvs(struct kv *kvs, int n)
{
	for (int i = 0; i < n; i++)
		free((char *)kvs[i].key); /* value lives in the same allocation */
}

static int cmp_md_topic(const void *a, const void *b)
{
	return strcmp(((const rd_kafka_metadata_topic_t *)a)->topic,
		      ((const rd_kafka_metadata_topic_t *)b)->topic);
}

/* ---- list ---- */

static int topics_list(struct cli *cli, rd_kafka_t *rk)
{
	const rd_kafka_metadata_t *md = cli_metadata(cli, rk, NULL);
	if (!md)
		return CLI_ERR;
	rd_kafka_metadata_topic_t *ts = calloc((size_t)md->topic_cnt + 1, sizeof(*ts));
	if (!ts) {
		rd_kafka_metadata_destroy(md);
		return cli_error("out of memory");
	}
	memcpy(ts, md->topics, (size_t)md->topic_cnt * sizeof(*ts));
	qsort(ts, (size_t)md->topic_cnt, sizeof(*ts), cmp_md_topic);

	struct table t;
	if (cli->json)
		fputs("{\"topics\": [", stdout);
	else
		table_init(&t, 3, "TOPIC", "PARTITIONS", "REPLICATION");
	for (int i = 0; i < md->topic_cnt; i++) {
		int rf = ts[i].partition_cnt ? ts[i].partitions[0].replica_cnt : 0;
		if (cli->json) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_str(stdout, ts[i].topic);
			printf(", \"partitions\": %d, \"replication_factor\": %d", ts[i].partition_cnt, rf);
			if (ts[i].err) {
				printf(", \"error\": ");
				json_str(stdout, rd_kafka_err2name(ts[i].err));
			}
			putchar('}');
		} else {
			table_rowf(&t, "%s\t%d\t%d", ts[i].topic, ts[i].partition_cnt, rf);
		}
	}
	if (cli->json) {
		puts("]}");
	} else {
		table_print(&t, stdout);
		table_close(&t);
	}
	free(ts);
	rd_kafka_metadata_destroy(md);
	return CLI_OK;
}

/* ---- create ---- */

static int topics_create(struct cli *cli, rd_kafka_t *rk, const char *name, int partitions,
			 int rf, struct kv *cfg, int ncfg)
{
	char errstr[512], buf[256];
	int rc = CLI_ERR;
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, rf, errstr, sizeof(errstr));
	if (!nt)
		return cli_usage_error("topics create %s: %s", name, errstr);
	for (int i = 0; i < ncfg; i++)
		if (rd_kafka_NewTopic_set_config(nt, cfg[i].key, cfg[i].value)) {
			rd_kafka_NewTopic_destroy(nt);
			return cli_usage_error("topics create %s: bad config %s", name, cfg[i].key);
		}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_CreateTopics(rk, &nt, 1, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "topics create");
	if (ev) {
		size_t n;
		const rd_kafka_topic_result_t **res =
			rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		rc = CLI_OK;
		for (size_t i = 0; i < n; i++) {
			rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
			const char *msg = rd_kafka_topic_result_error_string(res[i]);
			if (err) {
				rc = cli_error("topics create %s: %s%s%s", rd_kafka_topic_result_name(res[i]),
					       cli_err_text(err, buf, sizeof(buf)), msg ? ": " : "",
					       msg ? msg : "");
			} else if (cli->json) {
				printf("{\"created\": ");
				json_str(stdout, rd_kafka_topic_result_name(res[i]));
				printf(", \"partitions\": %d}\n", partitions);
			} else if (partitions > 0) {
				printf("Created topic %s with %d partition%s.\n",
				       rd_kafka_topic_result_name(res[i]), partitions,
				       partitions == 1 ? "" : "s");
			} else {
				printf("Created topic %s.\n", rd_kafka_topic_result_name(res[i]));
			}
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

/* ---- delete ---- */

static int topics_delete(struct cli *cli, rd_kafka_t *rk, char **names, int n)
{
	char buf[256];
	int rc = CLI_ERR;
	rd_kafka_DeleteTopic_t **dt = calloc((size_t)n, sizeof(*dt));
	if (!dt)
		return cli_error("out of memory");
	for (int i = 0; i < n; i++)
		dt[i] = rd_kafka_DeleteTopic_new(names[i]);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
	rd_kafka_DeleteTopics(rk, dt, (size_t)n, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "topics delete");
	if (ev) {
		size_t cnt;
		int shown = 0;
		const rd_kafka_topic_result_t **res =
			rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
		rc = CLI_OK;
		if (cli->json)
			fputs("{\"deleted\": [", stdout);
		for (size_t i = 0; i < cnt; i++) {
			rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
			const char *name = rd_kafka_topic_result_name(res[i]);
			if (err) {
				rc = cli_error("topics delete %s: %s", name, cli_err_text(err, buf, sizeof(buf)));
			} else if (cli->json) {
				fputs(shown++ ? ", " : "", stdout);
				json_str(stdout, name);
			} else {
				printf("Deleted topic %s.\n", name);
			}
		}
		if (cli->json)
			puts("]}");
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
	free(dt);
	return rc;
}

/* ---- delete-records ---- */

/* DeleteRecords (Kafka's kafka-delete-records): moves the log start offset
 * of partition (every partition when < 0) to offset (-1: the high
 * watermark). */
static int topics_delete_records(struct cli *cli, rd_kafka_t *rk, const char *name,
				 int partition, int64_t offset)
{
	char buf[256];
	int rc = CLI_ERR;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
	if (partition >= 0) {
		rd_kafka_topic_partition_list_add(l, name, partition)->offset =
			offset < 0 ? RD_KAFKA_OFFSET_END : offset;
	} else {
		const rd_kafka_metadata_t *md = cli_metadata(cli, rk, name);
		const rd_kafka_metadata_topic_t *t = md ? cli_md_topic(md, name) : NULL;
		for (int i = 0; t && i < t->partition_cnt; i++)
			rd_kafka_topic_partition_list_add(l, name, t->partitions[i].id)->offset =
				offset < 0 ? RD_KAFKA_OFFSET_END : offset;
		if (md)
			rd_kafka_metadata_destroy(md);
		if (!t) {
			rd_kafka_topic_partition_list_destroy(l);
			return CLI_ERR;
		}
	}
	rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
	rd_kafka_DeleteRecords(rk, &dr, 1, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "topics delete-records");
	if (ev) {
		const rd_kafka_topic_partition_list_t *res =
			rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
		rc = CLI_OK;
		if (cli->json)
			fputs("{\"partitions\": [", stdout);
		for (int i = 0; res && i < res->cnt; i++) {
			const rd_kafka_topic_partition_t *p = &res->elems[i];
			if (p->err)
				rc = cli_error("topics delete-records %s [%d]: %s", name, p->partition,
					       cli_err_text(p->err, buf, sizeof(buf)));
			else if (cli->json)
				printf("%s{\"partition\": %d, \"low_watermark\": %lld}", i ? ", " : "",
				       p->partition, (long long)p->offset);
			else
				printf("Partition %s [%d]: log start offset now %lld.\n", name,
				       p->partition, (long long)p->offset);
		}
		if (cli->json)
			puts("]}");
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_DeleteRecords_destroy(dr);
	return rc;
}

/* ---- configs ---- */

/* DescribeConfigs of one topic; the event (to destroy) and its entries. */
/* The topic's configs; with key, only that one (DescribeConfigs by name). */
static rd_kafka_event_t *describe_configs(struct cli *cli, rd_kafka_t *rk, const char *name,
					  const char *key, const rd_kafka_ConfigEntry_t ***entries,
					  size_t *n)
{
	char buf[256];
	rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
	if (key)
		rd_kafka_ConfigResource_set_config(cr, key, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_DescribeConfigs(rk, &cr, 1, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "describe configs");
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(cr);
	if (!ev)
		return NULL;
	size_t nres;
	const rd_kafka_ConfigResource_t **res =
		rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
	if (nres != 1) {
		cli_error("describe configs of %s: %zu resources in the answer", name, nres);
		goto err;
	}
	rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[0]);
	if (err) {
		const char *msg = rd_kafka_ConfigResource_error_string(res[0]);
		cli_error("describe configs of %s: %s%s%s", name, cli_err_text(err, buf, sizeof(buf)),
			  msg ? ": " : "", msg ? msg : "");
		goto err;
	}
	*entries = rd_kafka_ConfigResource_configs(res[0], n);
	return ev;
err:
	rd_kafka_event_destroy(ev);
	return NULL;
}

static const char *source_name(rd_kafka_ConfigSource_t s)
{
	switch (s) {
	case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG:
		return "topic";
	case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG:
		return "dynamic-broker";
	case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG:
		return "dynamic-default-broker";
	case RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG:
		return "broker";
	case RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG:
		return "default";
	default:
		return "unknown";
	}
}

/* An entry set on the topic itself (what AlterConfigs would replace). */
static bool is_topic_override(const rd_kafka_ConfigEntry_t *e)
{
	rd_kafka_ConfigSource_t s = rd_kafka_ConfigEntry_source(e);
	if (s == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
		return true;
	return s == RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG && !rd_kafka_ConfigEntry_is_default(e) &&
	       !rd_kafka_ConfigEntry_is_read_only(e);
}

static int topics_alter(struct cli *cli, rd_kafka_t *rk, const char *name, struct kv *chg,
			int nchg)
{
	char buf[256];
	const rd_kafka_ConfigEntry_t **entries;
	size_t n;
	int rc = CLI_ERR;
	rd_kafka_event_t *dev = describe_configs(cli, rk, name, NULL, &entries, &n);
	if (!dev)
		return CLI_ERR;

	/* the merged set: the topic's overrides, then the changes */
	rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
	for (size_t i = 0; i < n; i++) {
		const char *k = rd_kafka_ConfigEntry_name(entries[i]);
		bool changed = false;
		if (!is_topic_override(entries[i]) || !rd_kafka_ConfigEntry_value(entries[i]))
			continue;
		for (int j = 0; j < nchg; j++)
			changed |= strcmp(chg[j].key, k) == 0;
		if (!changed)
			rd_kafka_ConfigResource_set_config(cr, k, rd_kafka_ConfigEntry_value(entries[i]));
	}
	for (int j = 0; j < nchg; j++)
		if (chg[j].value)
			rd_kafka_ConfigResource_set_config(cr, chg[j].key, chg[j].value);
	rd_kafka_event_destroy(dev);

	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
	rd_kafka_AlterConfigs(rk, &cr, 1, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "topics alter");
	if (ev) {
		size_t nres;
		const rd_kafka_ConfigResource_t **res = rd_kafka_AlterConfigs_result_resources(
			rd_kafka_event_AlterConfigs_result(ev), &nres);
		rc = CLI_OK;
		for (size_t i = 0; i < nres; i++) {
			rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[i]);
			const char *msg = rd_kafka_ConfigResource_error_string(res[i]);
			if (err)
				rc = cli_error("topics alter %s: %s%s%s", name,
					       cli_err_text(err, buf, sizeof(buf)), msg ? ": " : "",
					       msg ? msg : "");
		}
		rd_kafka_event_destroy(ev);
	}
	if (rc == CLI_OK) {
		if (cli->json) {
			printf("{\"altered\": ");
			json_str(stdout, name);
			printf(", \"set\": {");
			for (int j = 0, k = 0; j < nchg; j++)
				if (chg[j].value) {
					fputs(k++ ? ", " : "", stdout);
					json_str(stdout, chg[j].key);
					fputs(": ", stdout);
					json_str(stdout, chg[j].value);
				}
			printf("}, \"deleted\": [");
			for (int j = 0, k = 0; j < nchg; j++)
				if (!chg[j].value) {
					fputs(k++ ? ", " : "", stdout);
					json_str(stdout, chg[j].key);
				}
			puts("]}");
		} else {
			printf("Altered topic %s:", name);
			for (int j = 0; j < nchg; j++)
				printf(chg[j].value ? " %s=%s" : " -%s", chg[j].key, chg[j].value);
			putchar('\n');
		}
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(cr);
	return rc;
}

/* ---- describe ---- */

static void json_int_array(const int32_t *v, int n)
{
	putchar('[');
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", v[i]);
	putchar(']');
}

static void int_list(char *buf, size_t size, const int32_t *v, int n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%d", i ? "," : "", v[i]);
}

static int64_t cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The broker's compaction figures of name ("sluice.cleaner.stats"): one
 * "partition=P dirty.ratio=R last.clean.ms=T cleans=N bytes.cleaned=B
 * bytes.written=W records.removed=D time.ms=M error=E" per partition,
 * separated by "; ". Shown as a table, or as a JSON array. */
static void describe_compaction(struct cli *cli, rd_kafka_t *rk, const char *name)
{
	const rd_kafka_ConfigEntry_t **entries = NULL;
	size_t n = 0;
	rd_kafka_event_t *ev = describe_configs(cli, rk, name, "sluice.cleaner.stats", &entries, &n);
	const char *v = NULL;
	for (size_t i = 0; ev && i < n; i++)
		if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "sluice.cleaner.stats") == 0)
			v = rd_kafka_ConfigEntry_value(entries[i]);
	struct table t;
	if (cli->json)
		printf(", \"compaction\": [");
	else
		table_init(&t, 7, "PARTITION", "DIRTY RATIO", "LAST CLEAN (ms ago)", "CLEANS",
			   "BYTES CLEANED", "RECORDS REMOVED", "TIME (ms)");
	int rows = 0;
	for (const char *p = v; p && *p;) {
		int part, err;
		double ratio;
		long long last, cleans, bytes, written, removed, ms;
		if (sscanf(p, "partition=%d dirty.ratio=%lf last.clean.ms=%lld cleans=%lld "
			      "bytes.cleaned=%lld bytes.written=%lld records.removed=%lld time.ms=%lld "
			      "error=%d", &part, &ratio, &last, &cleans, &bytes, &written, &removed, &ms,
			   &err) != 9)
			break;
		long long ago = last >= 0 ? (long long)cli_now_ms() - last : -1;
		if (cli->json)
			printf("%s{\"partition\": %d, \"dirty_ratio\": %.3f, \"last_clean_ms\": %lld, "
			       "\"cleans\": %lld, \"bytes_cleaned\": %lld, \"bytes_written\": %lld, "
			       "\"records_removed\": %lld, \"time_ms\": %lld, \"error\": %d}",
			       rows ? ", " : "", part, ratio, last, cleans, bytes, written, removed, ms,
			       err);
		else if (last < 0)
			table_rowf(&t, "%d\t%.3f\tnever\t%lld\t%lld\t%lld\t%lld", part, ratio, cleans,
				   bytes, removed, ms);
		else
			table_rowf(&t, "%d\t%.3f\t%lld\t%lld\t%lld\t%lld\t%lld", part, ratio, ago,
				   cleans, bytes, removed, ms);
		rows++;
		p = strchr(p, ';');
		p = p ? p + 2 : NULL;
	}
	if (cli->json) {
		printf("]");
	} else {
		printf("\nCompaction:\n");
		if (rows)
			table_print(&t, stdout);
		else
			printf("(no figures yet: the cleaner reports every log.cleaner.backoff.ms)\n");
		table_close(&t);
	}
	if (ev)
		rd_kafka_event_destroy(ev);
}

/* The broker's "sluice.partition.offline" entry: one "partition=P
 * since.ms=T file=F op=O errno=N error=E" per partition offline for a disk
 * fault, separated by "; ". Shown as its own section, or a JSON array. */
static void describe_offline(struct cli *cli, const rd_kafka_ConfigEntry_t **entries, size_t n)
{
	const char *v = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "sluice.partition.offline") == 0)
			v = rd_kafka_ConfigEntry_value(entries[i]);
	if (!v || !*v)
		return;
	if (cli->json)
		printf(", \"offline\": [");
	else
		printf("\nOffline (a disk fault; a restart that reads the log brings it back):\n");
	int rows = 0;
	for (const char *p = v; p && *p;) {
		int part, used = 0;
		long long since;
		const char *end = strstr(p, "; ");
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (sscanf(p, "partition=%d since.ms=%lld %n", &part, &since, &used) != 2 || !used)
			break;
		const char *why = p + used;
		int wlen = (int)(len - (size_t)used);
		if (cli->json) {
			printf("%s{\"partition\": %d, \"since_ms\": %lld, \"reason\": \"", rows ? ", " : "",
			       part, since);
			for (int i = 0; i < wlen; i++)
				printf(why[i] == '"' || why[i] == '\\' ? "\\%c" : "%c", why[i]);
			printf("\"}");
		} else {
			printf("  partition %d: %.*s (%lld s ago)\n", part, wlen, why,
			       (cli_now_ms() - since) / 1000);
		}
		rows++;
		p = end ? end + 2 : NULL;
	}
	if (cli->json)
		printf("]");
}

static bool is_compacted(const rd_kafka_ConfigEntry_t **entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy") == 0) {
			const char *v = rd_kafka_ConfigEntry_value(entries[i]);
			return v && strstr(v, "compact");
		}
	return false;
}

static int topics_describe(struct cli *cli, rd_kafka_t *rk, const char *name)
{
	char buf[256], reps[256], isr[256];
	int rc = CLI_OK;
	const rd_kafka_metadata_t *md = cli_metadata(cli, rk, name);
	if (!md)
		return CLI_ERR;
	const rd_kafka_metadata_topic_t *t = cli_md_topic(md, name);
	if (!t) {
		rd_kafka_metadata_destroy(md);
		return CLI_ERR;
	}
	const rd_kafka_ConfigEntry_t **entries = NULL;
	size_t nent = 0;
	rd_kafka_event_t *dev = describe_configs(cli, rk, name, NULL, &entries, &nent);
	if (!dev)
		rc = CLI_ERR; /* still show the partitions */

	struct table pt;
	if (cli->json) {
		printf("{\"topic\": ");
		json_str(stdout, name);
		printf(", \"partitions\": [");
	} else {
		printf("Topic: %s  Partitions: %d  Replication: %d\n", name, t->partition_cnt,
		       t->partition_cnt ? t->partitions[0].replica_cnt : 0);
		table_init(&pt, 6, "PARTITION", "LEADER", "REPLICAS", "ISR", "EARLIEST", "LATEST");
	}
	for (int i = 0; i < t->partition_cnt; i++) {
		const rd_kafka_metadata_partition_t *p = &t->partitions[i];
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t err = p->err == RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR
			? p->err /* offline: no leader to ask (shown below) */
			: rd_kafka_query_watermark_offsets(rk, name, p->id, &lo, &hi, cli->timeout_ms);
		if (err == RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR) {
			lo = hi = -1;
		} else if (err) {
			rc = cli_error("watermarks of %s [%d]: %s", name, p->id,
				       cli_err_text(err, buf, sizeof(buf)));
			lo = hi = -1;
		}
		if (cli->json) {
			printf("%s{\"partition\": %d, \"leader\": %d, \"replicas\": ", i ? ", " : "", p->id,
			       p->leader);
			json_int_array(p->replicas, p->replica_cnt);
			printf(", \"isr\": ");
			json_int_array(p->isrs, p->isr_cnt);
			printf(", \"earliest\": %lld, \"latest\": %lld", (long long)lo, (long long)hi);
			if (p->err) {
				printf(", \"error\": ");
				json_str(stdout, rd_kafka_err2name(p->err));
			}
			putchar('}');
		} else {
			int_list(reps, sizeof(reps), p->replicas, p->replica_cnt);
			int_list(isr, sizeof(isr), p->isrs, p->isr_cnt);
			if (err)
				table_rowf(&pt, "%d\t%d\t%s\t%s\t?\t?", p->id, p->leader, reps, isr);
			else
				table_rowf(&pt, "%d\t%d\t%s\t%s\t%lld\t%lld", p->id, p->leader, reps, isr,
					   (long long)lo, (long long)hi);
		}
	}
	if (cli->json) {
		printf("], \"configs\": {");
		for (size_t i = 0; i < nent; i++) {
			const rd_kafka_ConfigEntry_t *e = entries[i];
			fputs(i ? ", " : "", stdout);
			json_str(stdout, rd_kafka_ConfigEntry_name(e));
			printf(": {\"value\": ");
			json_str(stdout, rd_kafka_ConfigEntry_value(e));
			printf(", \"source\": \"%s\", \"default\": %s, \"read_only\": %s}",
			       source_name(rd_kafka_ConfigEntry_source(e)),
			       rd_kafka_ConfigEntry_is_default(e) ? "true" : "false",
			       rd_kafka_ConfigEntry_is_read_only(e) ? "true" : "false");
		}
		putchar('}');
		describe_offline(cli, entries, nent);
		if (is_compacted(entries, nent))
			describe_compaction(cli, rk, name);
		puts("}");
	} else {
		table_print(&pt, stdout);
		table_close(&pt);
		describe_offline(cli, entries, nent);
		if (dev) {
			struct table ct;
			printf("\nConfigs:\n");
			table_init(&ct, 3, "NAME", "VALUE", "SOURCE");
			for (size_t i = 0; i < nent; i++) {
				const char *v = rd_kafka_ConfigEntry_value(entries[i]);
				if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "sluice.cleaner.stats") == 0 ||
				    strcmp(rd_kafka_ConfigEntry_name(entries[i]), "sluice.partition.offline") == 0)
					continue; /* shown under Compaction, Offline */
				table_rowf(&ct, "%s\t%s\t%s", rd_kafka_ConfigEntry_name(entries[i]),
					   v ? v : (rd_kafka_ConfigEntry_is_sensitive(entries[i]) ? "(sensitive)" : "-"),
					   source_name(rd_kafka_ConfigEntry_source(entries[i])));
			}
			table_print(&ct, stdout);
			table_close(&ct);
			if (is_compacted(entries, nent))
				describe_compaction(cli, rk, name);
		}
	}
	if (dev)
		rd_kafka_event_destroy(dev);
	rd_kafka_metadata_destroy(md);
	return rc;
}

/* ---- dispatch ---- */

int topics_main(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "partitions", required_argument, NULL, 'P' },
		{ "replication-factor", required_argument, NULL, 'R' },
		{ "config", required_argument, NULL, 'c' },
		{ "delete-config", required_argument, NULL, 'd' },
		{ "partition", required_argument, NULL, 'p' },
		{ "offset", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int dr_partition = -1;
	int64_t dr_offset = -2;
	struct kv cfg[MAX_CONFIGS];
	int ncfg = 0, partitions = -1, rf = -1, rc = CLI_USAGE, o;
	char *end;

	if (argc < 1)
		return cli_usage_error("topics: expected list, create, describe, alter, delete or delete-records");
	const char *sub = argv[0];
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'P':
			partitions = (int)strtol(optarg, &end, 10);
			if (*end || partitions <= 0) {
				rc = cli_usage_error("--partitions expects a positive number, got '%s'", optarg);
				goto out;
			}
			break;
		case 'R':
			rf = (int)strtol(optarg, &end, 10);
			if (*end || rf <= 0) {
				rc = cli_usage_error("--replication-factor expects a positive number");
				goto out;
			}
			break;
		case 'p':
			dr_partition = (int)strtol(optarg, &end, 10);
			if (*end || dr_partition < 0) {
				rc = cli_usage_error("--partition expects a partition number, got '%s'", optarg);
				goto out;
			}
			break;
		case 'o':
			dr_offset = strtoll(optarg, &end, 10);
			if (*end || dr_offset < -1) {
				rc = cli_usage_error("--offset expects an offset or -1 (the high watermark), got '%s'",
						     optarg);
				goto out;
			}
			break;
		case 'c':
		case 'd':
			if (ncfg == MAX_CONFIGS) {
				rc = cli_usage_error("too many --config");
				goto out;
			}
			if (o == 'd') {
				cfg[ncfg].key = strdup(optarg);
				cfg[ncfg++].value = NULL;
			} else if (parse_kv(optarg, &cfg[ncfg]) == CLI_OK) {
				ncfg++;
			} else {
				goto out;
			}
			break;
		default:
			rc = cli_usage_error("topics %s: unknown or incomplete option '%s'", sub,
					     argv[optind - 1]);
			goto out;
		}
	}
	char **pos = argv + optind;
	int npos = argc - optind;
	bool list = strcmp(sub, "list") == 0, create = strcmp(sub, "create") == 0,
	     describe = strcmp(sub, "describe") == 0, alter = strcmp(sub, "alter") == 0,
	     del = strcmp(sub, "delete") == 0, delrec = strcmp(sub, "delete-records") == 0;
	if (delrec) {
		if (npos != 1 || dr_offset < -1) {
			rc = cli_usage_error("topics delete-records needs a topic name and --offset N "
					     "(-1: the high watermark) [--partition P]");
			goto out;
		}
	} else if (dr_partition >= 0 || dr_offset != -2) {
		rc = cli_usage_error("--partition/--offset are for topics delete-records");
		goto out;
	}
	if (!list && !create && !describe && !alter && !del && !delrec) {
		rc = cli_usage_error("topics: unknown subcommand '%s'", sub);
		goto out;
	}
	if ((list && npos != 0) || ((create || describe || alter) && npos != 1) || (del && npos < 1)) {
		rc = cli_usage_error(list ? "topics list takes no arguments"
				     : del ? "topics delete needs at least one topic name"
					   : "topics %s needs exactly one topic name", sub);
		goto out;
	}
	if ((partitions > 0 || rf > 0) && !create) {
		rc = cli_usage_error("--partitions/--replication-factor are for topics create");
		goto out;
	}
	if (ncfg && !create && !alter) {
		rc = cli_usage_error("--config is for topics create and topics alter");
		goto out;
	}
	if (alter && ncfg == 0) {
		rc = cli_usage_error("topics alter needs --config KEY=VALUE or --delete-config KEY");
		goto out;
	}
	for (int i = 0; create && i < ncfg; i++)
		if (!cfg[i].value) {
			rc = cli_usage_error("--delete-config is for topics alter");
			goto out;
		}

	rd_kafka_t *rk = cli_admin_create(cli);
	if (!rk) {
		rc = CLI_ERR;
		goto out;
	}
	if (list)
		rc = topics_list(cli, rk);
	else if (create)
		rc = topics_create(cli, rk, pos[0], partitions, rf, cfg, ncfg);
	else if (describe)
		rc = topics_describe(cli, rk, pos[0]);
	else if (alter)
		rc = topics_alter(cli, rk, pos[0], cfg, ncfg);
	else if (delrec)
		rc = topics_delete_records(cli, rk, pos[0], dr_partition, dr_offset);
	else
		rc = topics_delete(cli, rk, pos, npos);
	rd_kafka_destroy(rk);
out:
	free_kvs(cfg, ncfg);
	return rc;
}
