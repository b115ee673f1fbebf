/*
 * groups.c - `sluice groups list|describe|delete`, on librdkafka's Admin
 * API: ListConsumerGroups, DescribeConsumerGroups, ListConsumerGroupOffsets
 * (the committed offsets, without joining the group), DeleteGroups; log
 * end offsets from watermark queries, lag = log end - committed.
 */
#include "cli/client.h"

#include <stdlib.h>
#include <string.h>

static const char *state_name(rd_kafka_consumer_group_state_t s)
{
	return rd_kafka_consumer_group_state_name(s);
}

/* ---- list ---- */

static int cmp_listing(const void *a, const void *b)
{
	return strcmp(rd_kafka_ConsumerGroupListing_group_id(*(const rd_kafka_ConsumerGroupListing_t *const *)a),
		      rd_kafka_ConsumerGroupListing_group_id(*(const rd_kafka_ConsumerGroupListing_t *const *)b));
}

static int groups_list(struct cli *cli, rd_kafka_t *rk)
{
	int rc = CLI_ERR;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
	rd_kafka_ListConsumerGroups(rk, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "groups list");
	if (ev) {
		const rd_kafka_ListConsumerGroups_result_t *r = rd_kafka_event_ListConsumerGroups_result(ev);
		size_t n, nerr;
		const rd_kafka_ConsumerGroupListing_t **valid = rd_kafka_ListConsumerGroups_result_valid(r, &n);
		const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(r, &nerr);
		const rd_kafka_ConsumerGroupListing_t **sorted = calloc(n + 1, sizeof(*sorted));
		rc = CLI_OK;
		for (size_t i = 0; i < nerr; i++) {
			char buf[256];
			bool seen = false; /* one line per distinct error (one per broker) */
			for (size_t j = 0; j < i; j++)
				seen |= rd_kafka_error_code(errs[j]) == rd_kafka_error_code(errs[i]);
			if (seen)
				continue;
			rc = cli_error("groups list: %s: %s",
				       cli_err_text(rd_kafka_error_code(errs[i]), buf, sizeof(buf)),
				       rd_kafka_error_string(errs[i]));
		}
		if (sorted && n)
			memcpy(sorted, valid, n * sizeof(*sorted));
		if (sorted)
			qsort(sorted, n, sizeof(*sorted), cmp_listing);
		struct table t;
		if (cli->json)
			fputs("{\"groups\": [", stdout);
		else
			table_init(&t, 3, "GROUP", "STATE", "TYPE");
		for (size_t i = 0; sorted && i < n; i++) {
			const char *id = rd_kafka_ConsumerGroupListing_group_id(sorted[i]);
			const char *st = state_name(rd_kafka_ConsumerGroupListing_state(sorted[i]));
			int simple = rd_kafka_ConsumerGroupListing_is_simple_consumer_group(sorted[i]);
			if (cli->json) {
				fputs(i ? ", {\"group\": " : "{\"group\": ", stdout);
				json_str(stdout, id);
				printf(", \"state\": ");
				json_str(stdout, st);
				printf(", \"simple\": %s}", simple ? "true" : "false");
			} else {
				table_rowf(&t, "%s\t%s\t%s", id, st, simple ? "simple" : "consumer");
			}
		}
		if (cli->json) {
			puts("]}");
		} else {
			table_print(&t, stdout);
			table_close(&t);
		}
		free(sorted);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* ---- describe ---- */

/* The member a partition is assigned to, or NULL. */
static const rd_kafka_MemberDescription_t *
owner_of(const rd_kafka_ConsumerGroupDescription_t *d, const char *topic, int32_t partition)
{
	size_t n = rd_kafka_ConsumerGroupDescription_member_count(d);
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
		const rd_kafka_topic_partition_list_t *a =
			rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
		for (int j = 0; a && j < a->cnt; j++)
			if (a->elems[j].partition == partition && strcmp(a->elems[j].topic, topic) == 0)
				return m;
	}
	return NULL;
}

static rd_kafka_event_t *describe_group(struct cli *cli, rd_kafka_t *rk, const char *group,
					const rd_kafka_ConsumerGroupDescription_t **out)
{
	char buf[256];
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_DescribeConsumerGroups(rk, &group, 1, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "groups describe");
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	if (!ev)
		return NULL;
	size_t n;
	const rd_kafka_ConsumerGroupDescription_t **ds = rd_kafka_DescribeConsumerGroups_result_groups(
		rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
	if (n != 1) {
		cli_error("groups describe %s: %zu groups in the answer", group, n);
		goto err;
	}
	const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(ds[0]);
	if (e) {
		cli_error("groups describe %s: %s: %s", group,
			  cli_err_text(rd_kafka_error_code(e), buf, sizeof(buf)), rd_kafka_error_string(e));
		goto err;
	}
	*out = ds[0];
	return ev;
err:
	rd_kafka_event_destroy(ev);
	return NULL;
}

/* The group's committed offsets (a copy to destroy), NULL after an error. */
static rd_kafka_topic_partition_list_t *committed_offsets(struct cli *cli, rd_kafka_t *rk,
							  const char *group)
{
	char buf[256];
	rd_kafka_topic_partition_list_t *out = NULL;
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "committed offsets");
	if (ev) {
		size_t n;
		const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
		const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
		if (n != 1)
			cli_error("committed offsets of %s: %zu groups in the answer", group, n);
		else if (e)
			cli_error("committed offsets of %s: %s: %s", group,
				  cli_err_text(rd_kafka_error_code(e), buf, sizeof(buf)),
				  rd_kafka_error_string(e));
		else
			out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	return out;
}

static void json_opt_str(const char *s)
{
	if (s)
		json_str(stdout, s);
	else
		fputs("null", stdout);
}

static int groups_describe(struct cli *cli, rd_kafka_t *rk, const char *group)
{
	char buf[256];
	int rc = CLI_OK;
	const rd_kafka_ConsumerGroupDescription_t *d;
	rd_kafka_event_t *dev = describe_group(cli, rk, group, &d);
	if (!dev)
		return CLI_ERR;
	rd_kafka_topic_partition_list_t *parts = committed_offsets(cli, rk, group);
	if (!parts) {
		rd_kafka_event_destroy(dev);
		return CLI_ERR;
	}
	rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(d);
	size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
	/* partitions: committed ones and assigned ones */
	for (size_t i = 0; i < nm; i++) {
		const rd_kafka_topic_partition_list_t *a = rd_kafka_MemberAssignment_partitions(
			rd_kafka_MemberDescription_assignment(rd_kafka_ConsumerGroupDescription_member(d, i)));
		for (int j = 0; a && j < a->cnt; j++)
			if (!rd_kafka_topic_partition_list_find(parts, a->elems[j].topic, a->elems[j].partition))
				rd_kafka_topic_partition_list_add(parts, a->elems[j].topic, a->elems[j].partition)
					->offset = RD_KAFKA_OFFSET_INVALID;
	}
	rd_kafka_topic_partition_list_sort(parts, NULL, NULL);
	int ncommitted = 0;
	for (int i = 0; i < parts->cnt; i++)
		ncommitted += parts->elems[i].offset >= 0;
	if (state == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD && nm == 0 && ncommitted == 0) {
		rc = cli_error("group '%s' does not exist: %s", group,
			       cli_err_text(RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, buf, sizeof(buf)));
		goto out;
	}

	const rd_kafka_Node_t *coord = rd_kafka_ConsumerGroupDescription_coordinator(d);
	const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
	struct table mt, ot;
	if (cli->json) {
		printf("{\"group\": ");
		json_str(stdout, group);
		printf(", \"state\": ");
		json_str(stdout, state_name(state));
		printf(", \"simple\": %s, \"assignor\": ",
		       rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(d) ? "true" : "false");
		json_opt_str(assignor && *assignor ? assignor : NULL);
		printf(", \"coordinator\": %d, \"members\": [", coord ? rd_kafka_Node_id(coord) : -1);
	} else {
		printf("Group: %s  State: %s  Assignor: %s  Coordinator: %d  Members: %zu\n", group,
		       state_name(state), assignor && *assignor ? assignor : "-",
		       coord ? rd_kafka_Node_id(coord) : -1, nm);
		table_init(&mt, 4, "MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT");
	}
	for (size_t i = 0; i < nm; i++) {
		const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
		const rd_kafka_topic_partition_list_t *a =
			rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
		if (cli->json) {
			printf("%s{\"member_id\": ", i ? ", " : "");
			json_str(stdout, rd_kafka_MemberDescription_consumer_id(m));
			printf(", \"client_id\": ");
			json_opt_str(rd_kafka_MemberDescription_client_id(m));
			printf(", \"host\": ");
			json_opt_str(rd_kafka_MemberDescription_host(m));
			printf(", \"group_instance_id\": ");
			json_opt_str(rd_kafka_MemberDescription_group_instance_id(m));
			printf(", \"assignment\": [");
			for (int j = 0; a && j < a->cnt; j++) {
				printf("%s{\"topic\": ", j ? ", " : "");
				json_str(stdout, a->elems[j].topic);
				printf(", \"partition\": %d}", a->elems[j].partition);
			}
			printf("]}");
		} else {
			char as[4096];
			size_t off = 0;
			as[0] = '\0';
			for (int j = 0; a && j < a->cnt && off < sizeof(as); j++)
				off += (size_t)snprintf(as + off, sizeof(as) - off, "%s%s[%d]", j ? "," : "",
							a->elems[j].topic, a->elems[j].partition);
			const char *cid = rd_kafka_MemberDescription_client_id(m);
			const char *host = rd_kafka_MemberDescription_host(m);
			table_rowf(&mt, "%s\t%s\t%s\t%s", rd_kafka_MemberDescription_consumer_id(m),
				   cid && *cid ? cid : "-", host && *host ? host : "-", off ? as : "-");
		}
	}
	if (cli->json) {
		printf("], \"offsets\": [");
	} else {
		table_print(&mt, stdout);
		table_close(&mt);
		putchar('\n');
		table_init(&ot, 6, "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER-ID");
	}
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &parts->elems[i];
		const rd_kafka_MemberDescription_t *m = owner_of(d, p->topic, p->partition);
		const char *mid = m ? rd_kafka_MemberDescription_consumer_id(m) : NULL;
		int64_t lo, hi = -1;
		rd_kafka_resp_err_t err = p->err;
		if (!err)
			err = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi,
							       cli->timeout_ms);
		if (err) {
			rc = cli_error("%s [%d]: %s", p->topic, p->partition, cli_err_text(err, buf, sizeof(buf)));
			hi = -1;
		}
		bool has_commit = p->offset >= 0, has_end = hi >= 0;
		long long lag = has_commit && has_end ? (long long)(hi - p->offset) : -1;
		if (cli->json) {
			printf("%s{\"topic\": ", i ? ", " : "");
			json_str(stdout, p->topic);
			printf(", \"partition\": %d, \"committed\": ", p->partition);
			has_commit ? printf("%lld", (long long)p->offset) : printf("null");
			printf(", \"log_end\": ");
			has_end ? printf("%lld", (long long)hi) : printf("null");
			printf(", \"lag\": ");
			lag >= 0 ? printf("%lld", lag) : printf("null");
			printf(", \"member_id\": ");
			json_opt_str(mid);
			if (err) {
				printf(", \"error\": ");
				json_str(stdout, rd_kafka_err2name(err));
			}
			putchar('}');
		} else {
			char c[32] = "-", e[32] = "-", l[32] = "-";
			if (has_commit)
				snprintf(c, sizeof(c), "%lld", (long long)p->offset);
			if (has_end)
				snprintf(e, sizeof(e), "%lld", (long long)hi);
			if (lag >= 0)
				snprintf(l, sizeof(l), "%lld", lag);
			table_rowf(&ot, "%s\t%d\t%s\t%s\t%s\t%s", p->topic, p->partition, c, e, l,
				   mid ? mid : "-");
		}
	}
	if (cli->json) {
		puts("]}");
	} else {
		table_print(&ot, stdout);
		table_close(&ot);
	}
out:
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_event_destroy(dev);
	return rc;
}

/* ---- delete ---- */

static int groups_delete(struct cli *cli, rd_kafka_t *rk, char **names, int n)
{
	char buf[256];
	int rc = CLI_ERR;
	rd_kafka_DeleteGroup_t **dg = calloc((size_t)n, sizeof(*dg));
	if (!dg)
		return cli_error("out of memory");
	for (int i = 0; i < n; i++)
		dg[i] = rd_kafka_DeleteGroup_new(names[i]);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
	rd_kafka_DeleteGroups(rk, dg, (size_t)n, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "groups delete");
	if (ev) {
		size_t cnt;
		int shown = 0;
		const rd_kafka_group_result_t **res =
			rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
		rc = CLI_OK;
		if (cli->json)
			fputs("{\"deleted\": [", stdout);
		for (size_t i = 0; i < cnt; i++) {
			const rd_kafka_error_t *e = rd_kafka_group_result_error(res[i]);
			const char *name = rd_kafka_group_result_name(res[i]);
			if (e) {
				rc = cli_error("groups delete %s: %s", name,
					       cli_err_text(rd_kafka_error_code(e), buf, sizeof(buf)));
			} else if (cli->json) {
				fputs(shown++ ? ", " : "", stdout);
				json_str(stdout, name);
			} else {
				printf("Deleted group %s.\n", name);
			}
		}
		if (cli->json)
			puts("]}");
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
	free(dg);
	return rc;
}

int groups_main(struct cli *cli, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage_error("groups: expected list, describe or delete");
	const char *sub = argv[0];
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("groups %s: unknown option '%s'", sub, argv[i]);
	bool list = strcmp(sub, "list") == 0, describe = strcmp(sub, "describe") == 0,
	     del = strcmp(sub, "delete") == 0;
	if (!list && !describe && !del)
		return cli_usage_error("groups: unknown subcommand '%s'", sub);
	if ((list && argc != 1) || (describe && argc != 2) || (del && argc < 2))
		return cli_usage_error(list ? "groups list takes no arguments"
				       : describe ? "groups describe needs exactly one group"
						  : "groups delete needs at least one group");
	rd_kafka_t *rk = cli_admin_create(cli);
	if (!rk)
		return CLI_ERR;
	int rc = list ? groups_list(cli, rk)
		 : describe ? groups_describe(cli, rk, argv[1])
			    : groups_delete(cli, rk, argv + 1, argc - 1);
	/* librdkafka 2.0.2 can deadlock in rd_kafka_destroy() after a group
	 * admin call failed (seen with _UNSUPPORTED_FEATURE from a broker
	 * without the group APIs: rdk:main stuck on a lock). Nothing is left to
	 * flush on a failure, so the process exit reclaims the handle then. */
	if (rc == CLI_OK)
		rd_kafka_destroy(rk);
	return rc;
}
