/*
 * acls.c - `sluice acls`: list, add and remove ACLs with librdkafka's
 * Admin API (DescribeAcls, CreateAcls, DeleteAcls).
 *
 *   sluice acls list [RESOURCE] [--principal P]
 *   sluice acls add (--allow P | --deny P) --operation OP... RESOURCE [--prefixed] [--host H]
 *   sluice acls remove [--allow P | --deny P | --principal P] [--operation OP]... [RESOURCE]
 *                      [--prefixed | --literal] [--host H]
 *   RESOURCE: --topic NAME | --group NAME | --cluster
 *
 * Names are Kafka's (READ, WRITE, ALL, DESCRIBE_CONFIGS...; case does not
 * matter). Debian's librdkafka 2.0.2 knows the TOPIC, GROUP and CLUSTER
 * (its BROKER) resource types only: ACLs on transactional ids are made
 * with kafka-acls.sh or another Admin client (README "ACLs").
 */
#include "cli/client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_OPS 16

static const char *const op_names[] = {
	"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
	"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
};
static const char *const res_names[] = { "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER" };
static const char *const pat_names[] = { "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED" };
static const char *const perm_names[] = { "UNKNOWN", "ANY", "DENY", "ALLOW" };

#define NAME_OF(a, v) ((int)(v) >= 0 && (size_t)(v) < sizeof(a) / sizeof(a[0]) ? a[v] : "UNKNOWN")

struct acl_args {
	rd_kafka_ResourceType_t restype;     /* ANY when no resource given */
	const char *name;
	rd_kafka_ResourcePatternType_t pattern;
	const char *principal;
	const char *host;
	rd_kafka_AclPermissionType_t perm;
	int nops;
	rd_kafka_AclOperation_t ops[MAX_OPS];
};

static int parse_op(const char *s, rd_kafka_AclOperation_t *out)
{
	for (size_t i = 2; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcasecmp(s, op_names[i]) == 0) {
			*out = (rd_kafka_AclOperation_t)i;
			return 0;
		}
	return -1;
}

static int parse_args(int argc, char **argv, struct acl_args *a, bool adding)
{
	*a = (struct acl_args){ .restype = RD_KAFKA_RESOURCE_ANY,
				.pattern = adding ? RD_KAFKA_RESOURCE_PATTERN_LITERAL
						  : RD_KAFKA_RESOURCE_PATTERN_ANY,
				.host = adding ? "*" : NULL,
				.perm = RD_KAFKA_ACL_PERMISSION_TYPE_ANY };
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(f, "--topic") == 0 || strcmp(f, "--group") == 0 ||
			     strcmp(f, "--allow") == 0 || strcmp(f, "--deny") == 0 ||
			     strcmp(f, "--principal") == 0 || strcmp(f, "--host") == 0 ||
			     strcmp(f, "--operation") == 0;
		if (takes && !v)
			return cli_usage_error("%s needs a value", f);
		if (strcmp(f, "--topic") == 0 || strcmp(f, "--group") == 0) {
			a->restype = f[2] == 't' ? RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_GROUP;
			a->name = v;
		} else if (strcmp(f, "--cluster") == 0) {
			a->restype = RD_KAFKA_RESOURCE_BROKER;   /* Kafka's CLUSTER (4) */
			a->name = "kafka-cluster";
			continue;
		} else if (strcmp(f, "--allow") == 0 || strcmp(f, "--deny") == 0) {
			a->perm = f[2] == 'a' ? RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW
					      : RD_KAFKA_ACL_PERMISSION_TYPE_DENY;
			a->principal = v;
		} else if (strcmp(f, "--principal") == 0) {
			a->principal = v;
		} else if (strcmp(f, "--host") == 0) {
			a->host = v;
		} else if (strcmp(f, "--operation") == 0) {
			if (a->nops == MAX_OPS || parse_op(v, &a->ops[a->nops]) < 0)
				return cli_usage_error("unknown operation '%s' (READ, WRITE, ALL, ...)", v);
			a->nops++;
		} else if (strcmp(f, "--prefixed") == 0 || strcmp(f, "--literal") == 0) {
			a->pattern = f[2] == 'p' ? RD_KAFKA_RESOURCE_PATTERN_PREFIXED
						 : RD_KAFKA_RESOURCE_PATTERN_LITERAL;
			continue;
		} else {
			return cli_usage_error("acls %s: unknown argument '%s'", argv[0], f);
		}
		i++;
	}
	if (adding && (!a->principal || a->nops == 0 || !a->name ||
		       a->perm == RD_KAFKA_ACL_PERMISSION_TYPE_ANY))
		return cli_usage_error("acls add needs --allow/--deny PRINCIPAL, --operation OP "
				       "and --topic, --group or --cluster");
	return CLI_OK;
}

static void print_bindings(const struct cli *cli, const rd_kafka_AclBinding_t **v, size_t n,
			   struct table *t, bool *first)
{
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_AclBinding_t *b = v[i];
		const char *res = NAME_OF(res_names, rd_kafka_AclBinding_restype(b));
		const char *pat = NAME_OF(pat_names, rd_kafka_AclBinding_resource_pattern_type(b));
		const char *op = NAME_OF(op_names, rd_kafka_AclBinding_operation(b));
		const char *perm = NAME_OF(perm_names, rd_kafka_AclBinding_permission_type(b));
		if (!cli->json) {
			table_rowf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s", res, rd_kafka_AclBinding_name(b),
				   pat, rd_kafka_AclBinding_principal(b), rd_kafka_AclBinding_host(b),
				   op, perm);
			continue;
		}
		printf("%s{\"resource_type\": ", *first ? "" : ", ");
		*first = false;
		json_str(stdout, res);
		fputs(", \"name\": ", stdout);
		json_str(stdout, rd_kafka_AclBinding_name(b));
		fputs(", \"pattern_type\": ", stdout);
		json_str(stdout, pat);
		fputs(", \"principal\": ", stdout);
		json_str(stdout, rd_kafka_AclBinding_principal(b));
		fputs(", \"host\": ", stdout);
		json_str(stdout, rd_kafka_AclBinding_host(b));
		fputs(", \"operation\": ", stdout);
		json_str(stdout, op);
		fputs(", \"permission\": ", stdout);
		json_str(stdout, perm);
		fputs("}", stdout);
	}
}

static rd_kafka_AclBindingFilter_t *filter_of(const struct acl_args *a, rd_kafka_AclOperation_t op)
{
	char err[256];
	rd_kafka_AclBindingFilter_t *f = rd_kafka_AclBindingFilter_new(
		a->restype, a->name, a->pattern, a->principal, a->host, op, a->perm, err,
		sizeof err);
	if (!f)
		cli_usage_error("%s", err);
	return f;
}

static int acls_list(struct cli *cli, rd_kafka_t *rk, const struct acl_args *a)
{
	rd_kafka_AclBindingFilter_t *f = filter_of(a, RD_KAFKA_ACL_OPERATION_ANY);
	if (!f)
		return CLI_USAGE;
	int rc = CLI_ERR;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
	rd_kafka_DescribeAcls(rk, f, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "acls list");
	if (ev) {
		size_t n;
		const rd_kafka_AclBinding_t **v =
			rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &n);
		struct table t;
		bool first = true;
		table_init(&t, 7, "RESOURCE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION",
			   "PERMISSION");
		if (cli->json)
			fputs("{\"acls\": [", stdout);
		print_bindings(cli, v, n, &t, &first);
		if (cli->json)
			puts("]}");
		else
			table_print(&t, stdout);
		table_close(&t);
		rd_kafka_event_destroy(ev);
		rc = CLI_OK;
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_AclBinding_destroy(f);
	return rc;
}

static int acls_add(struct cli *cli, rd_kafka_t *rk, const struct acl_args *a)
{
	rd_kafka_AclBinding_t *v[MAX_OPS];
	char err[256], buf[256];
	for (int i = 0; i < a->nops; i++)
		if (!(v[i] = rd_kafka_AclBinding_new(a->restype, a->name, a->pattern, a->principal,
						     a->host, a->ops[i], a->perm, err, sizeof err))) {
			rd_kafka_AclBinding_destroy_array(v, (size_t)i);
			return cli_usage_error("%s", err);
		}
	int rc = CLI_ERR;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
	rd_kafka_CreateAcls(rk, v, (size_t)a->nops, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "acls add");
	if (ev) {
		size_t n;
		const rd_kafka_acl_result_t **res =
			rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &n);
		rc = CLI_OK;
		for (size_t i = 0; i < n; i++) {
			const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);
			if (e)
				rc = cli_error("acls add %s: %s", NAME_OF(op_names, a->ops[i]),
					       cli_err_text(rd_kafka_error_code(e), buf, sizeof buf));
		}
		if (rc == CLI_OK && cli->json)
			printf("{\"added\": %zu}\n", n);
		else if (rc == CLI_OK)
			printf("Added %zu ACL(s).\n", n);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_AclBinding_destroy_array(v, (size_t)a->nops);
	return rc;
}

static int acls_remove(struct cli *cli, rd_kafka_t *rk, const struct acl_args *a)
{
	rd_kafka_AclBindingFilter_t *v[MAX_OPS];
	int nf = a->nops ? a->nops : 1;
	char buf[256];
	for (int i = 0; i < nf; i++)
		if (!(v[i] = filter_of(a, a->nops ? a->ops[i] : RD_KAFKA_ACL_OPERATION_ANY))) {
			rd_kafka_AclBinding_destroy_array(v, (size_t)i);
			return CLI_USAGE;
		}
	int rc = CLI_ERR;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DELETEACLS);
	rd_kafka_DeleteAcls(rk, v, (size_t)nf, o, q);
	rd_kafka_event_t *ev = cli_admin_wait(cli, q, "acls remove");
	if (ev) {
		size_t n;
		const rd_kafka_DeleteAcls_result_response_t **res =
			rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev), &n);
		struct table t;
		bool first = true;
		table_init(&t, 7, "RESOURCE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION",
			   "PERMISSION");
		rc = CLI_OK;
		if (cli->json)
			fputs("{\"removed\": [", stdout);
		for (size_t i = 0; i < n; i++) {
			const rd_kafka_error_t *e = rd_kafka_DeleteAcls_result_response_error(res[i]);
			size_t k;
			if (e) {
				rc = cli_error("acls remove: %s",
					       cli_err_text(rd_kafka_error_code(e), buf, sizeof buf));
				continue;
			}
			const rd_kafka_AclBinding_t **m =
				rd_kafka_DeleteAcls_result_response_matching_acls(res[i], &k);
			print_bindings(cli, m, k, &t, &first);
		}
		if (cli->json)
			puts("]}");
		else
			table_print(&t, stdout);
		table_close(&t);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_AclBinding_destroy_array(v, (size_t)nf);
	return rc;
}

int acls_main(struct cli *cli, int argc, char **argv)
{
	struct acl_args a;
	if (argc < 1)
		return cli_usage_error("acls: list, add or remove");
	bool add = strcmp(argv[0], "add") == 0;
	if (!add && strcmp(argv[0], "list") != 0 && strcmp(argv[0], "remove") != 0)
		return cli_usage_error("acls: unknown subcommand '%s'", argv[0]);
	int rc = parse_args(argc, argv, &a, add);
	if (rc != CLI_OK)
		return rc;
	rd_kafka_t *rk = cli_admin_create(cli);
	if (!rk)
		return CLI_ERR;
	rc = add ? acls_add(cli, rk, &a)
	     : strcmp(argv[0], "list") == 0 ? acls_list(cli, rk, &a) : acls_remove(cli, rk, &a);
	rd_kafka_destroy(rk);
	return rc;
}
