/* main.c - sluiced, the broker process: reads the configuration, picks a
 * core per shard, starts the shards and runs the control thread on the
 * main thread until SIGTERM or SIGINT, then shuts down cleanly.
 *
 *   sluiced [--data-dir DIR] [--listen HOST:PORT] [--shards N]
 *           [--config server.properties] [--set key=value ...]
 *   sluiced --check-config server.properties [--set key=value ...]
 *
 * --check-config validates and exits: 0 when every key is known and every
 * value valid, 1 otherwise (each problem printed with file:line).
 * SIGHUP re-reads the configuration and applies its dynamic settings
 * (control/reload.c); SIGTERM or SIGINT stop the broker cleanly.
 *
 * With no arguments: data under ./data, listening on 0.0.0.0:9092. Shard i
 * listens on PORT+i (any free port each when PORT is 0). */
#include "control/config.h"
#include "control/control.h"
#include "control/fd_budget.h"
#include "control/metadata.h"
#include "dataplane/dpdk/dpdk.h"
#include "dataplane/listeners.h"
#include "dataplane/shard.h"
#include "numa/topology.h"
#include "ops/ops.h"
#include "slog/slog.h"
#include "storage/journal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define MAX_SHARDS 256

static volatile sig_atomic_t stop_requested, reload_requested, wake;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
    wake = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sluiced [--data-dir DIR] [--listen HOST:PORT] [--shards N]\n"
               "               [--config server.properties] [--set key=value ...]\n"
               "       sluiced --check-config server.properties [--set key=value ...]\n");
}

static void report(void *ctx, const char *msg)
{
    if (ctx)
        ++*(int *)ctx; /* --check-config counts every problem, unknown keys too */
    slog(SLOG_WARN, "sluiced", "%s", msg);
}

static int problems;  /* --check-config: what report() counted */

static int set_or_die(struct broker_config *cfg, const char *key, const char *value)
{
    char err[256];
    if (broker_config_set(cfg, key, value, err, sizeof(err)) < 0) {
        slog(SLOG_ERROR, "sluiced", "%s", err);
        return -1;
    }
    return 0;
}

/* Applies the command line over the defaults and the properties file. */
static int parse_args(int argc, char **argv, struct broker_config *cfg)
{
    const char *listen = NULL, *data_dir = NULL, *shards = NULL;
    for (int i = 1; i < argc; i++)
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--check-config") == 0) &&
            i + 1 < argc && broker_config_load_file(cfg, argv[++i], report, &problems) < 0)
            return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            usage(stderr);
            return -1;
        }
        i++;
        if (strcmp(a, "--config") == 0 || strcmp(a, "--check-config") == 0) {
            continue;
        } else if (strcmp(a, "--data-dir") == 0) {
            data_dir = v;
        } else if (strcmp(a, "--listen") == 0) {
            listen = v;
        } else if (strcmp(a, "--shards") == 0) {
            shards = v;
        } else if (strcmp(a, "--set") == 0) {
            char key[256];
            const char *eq = strchr(v, '=');
            if (!eq || (size_t)(eq - v) >= sizeof(key)) {
                slog(SLOG_ERROR, "sluiced", "--set wants key=value, got '%s'", v);
                return -1;
            }
            memcpy(key, v, (size_t)(eq - v));
            key[eq - v] = '\0';
            if (set_or_die(cfg, key, eq + 1) < 0)
                return -1;
        } else {
            usage(stderr);
            return -1;
        }
    }
    char buf[CONFIG_LISTENERS_MAX + 32];
    if (listen) {
        snprintf(buf, sizeof(buf), "PLAINTEXT://%s", listen);
        if (set_or_die(cfg, "listeners", buf) < 0)
            return -1;
    } else if (!broker_config_is_set(cfg, "listeners") &&
               set_or_die(cfg, "listeners", "PLAINTEXT://0.0.0.0:9092") < 0) {
        return -1;
    }
    if (data_dir && set_or_die(cfg, "log.dirs", data_dir) < 0)
        return -1;
    if (!data_dir && !broker_config_is_set(cfg, "log.dirs") &&
        !broker_config_is_set(cfg, "log.dir") && set_or_die(cfg, "log.dirs", "./data") < 0)
        return -1;
    if (shards && set_or_die(cfg, "sluice.shards", shards) < 0)
        return -1;
    return 0;
}

/* What the configuration is built from can be checked without starting:
 * the listeners and the HTTP address must parse too. */
static int check_config(int argc, char **argv)
{
    static struct broker_config cfg;
    const char *file = argc > 2 ? argv[2] : "(none)";
    struct config_listener lis;
    broker_config_defaults(&cfg);
    int rc = parse_args(argc, argv, &cfg);
    if (rc == 0 && config_listener_get(cfg.listeners, 0, &lis) < 0) {
        slog(SLOG_ERROR, "sluiced", "listeners: cannot parse '%s'", cfg.listeners);
        problems++;
    } else if (rc == 0) {
        /* protocols, advertised addresses, the TLS keys and certificates */
        static struct listeners ls;
        char err[512];
        if (listeners_init(&ls, &cfg, 1, err, sizeof err) < 0) {
            slog(SLOG_ERROR, "sluiced", "%s", err);
            problems++;
        }
        listeners_close(&ls);
    }
    const char *colon = strrchr(cfg.http_listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (rc == 0 && cfg.http_listen[0] && (!colon || !colon[1] || *end || port < 0 ||
                                          port > 65535)) {
        slog(SLOG_ERROR, "sluiced", "sluice.http.listen: expected HOST:PORT, got '%s'",
                cfg.http_listen);
        problems++;
    }
    if (rc < 0 && problems == 0)
        problems = 1;
    if (problems) {
        slog(SLOG_ERROR, "sluiced", "%s: %d problem(s)", file, problems);
        return 1;
    }
    printf("sluiced: %s: configuration is valid\n", file);
    return 0;
}

/* SIGHUP: the same sources as at start (file, then the command line). */
static void reload(struct control *ctl, int argc, char **argv)
{
    static struct broker_config fresh;
    broker_config_defaults(&fresh);
    slog(SLOG_INFO, "sluiced", "SIGHUP: reloading the configuration");
    if (parse_args(argc, argv, &fresh) < 0) {
        slog(SLOG_ERROR, "sluiced", "reload failed; every setting keeps its running value");
        return;
    }
    control_reload(ctl, &fresh);
    slog_set_level((enum slog_level)fresh.log_level);
}

/* fs.nr_open: the most a process may be given (the kernel's ceiling). */
static rlim_t open_files_ceiling(void)
{
    unsigned long long v = 1048576;
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 1048576;
        fclose(f);
    }
    return (rlim_t)v;
}

/* A partition holds one descriptor (its active segment's .log), one more
 * while that segment fills and one per sealed segment (storage/segment.c),
 * so the soft RLIMIT_NOFILE (often 1024) would cap a broker at a few
 * hundred partitions: raise it to the hard limit at start, as Redis and
 * nginx do. As an appliance (root or CAP_SYS_RESOURCE, or systemd's
 * LimitNOFILE= already high) it raises the hard limit too, to fs.nr_open.
 * It says what it got and about how many partitions that serves; a
 * creation beyond it is refused (control/fd_budget.c). */
static void raise_open_files_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t was = rl.rlim_cur, was_hard = rl.rlim_max, ceiling = open_files_ceiling();
    int hard_err = 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < ceiling) {
        struct rlimit up = { .rlim_cur = ceiling, .rlim_max = ceiling };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
        else
            hard_err = errno;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            rl.rlim_cur = was;
    }
    int64_t lim = (int64_t)rl.rlim_cur, room = lim - fd_budget_reserve(lim) - 64;
    slog(SLOG_INFO, "sluiced", "open files limit %llu (was %llu, hard %llu%s%s%s): about %lld "
         "partitions (%d descriptor each, plus one per sealed segment)",
         (unsigned long long)rl.rlim_cur, (unsigned long long)was,
         (unsigned long long)was_hard, rl.rlim_max != was_hard ? ", raised" : "",
         hard_err ? ", not raised: " : "", hard_err ? strerror(hard_err) : "",
         (long long)(room > 0 ? room / FD_BUDGET_PER_PARTITION : 0), FD_BUDGET_PER_PARTITION);
}

int main(int argc, char **argv)
{
    static struct broker_config cfg;
    if (argc > 1 && strcmp(argv[1], "--check-config") == 0) {
        if (argc < 3) {
            usage(stderr);
            return 2;
        }
        return check_config(argc, argv);
    }
    /* Before any socket: raft's transport writes to peers that may be gone
     * while the control thread starts. */
    signal(SIGPIPE, SIG_IGN);
    broker_config_defaults(&cfg);
    if (parse_args(argc, argv, &cfg) < 0)
        return 2;
    slog_set_format((enum slog_format)cfg.log_format);
    slog_set_level((enum slog_level)cfg.log_level);
    raise_open_files_limit();

    const char *data_dir = cfg.log_dirs[0] ? cfg.log_dirs : cfg.log_dir;
    char dir[CONFIG_DIRS_MAX];
    snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(data_dir, ","), data_dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        slog(SLOG_ERROR, "sluiced", "cannot create data dir %s: %s", dir, strerror(errno));
        return 1;
    }
    struct config_listener lis;
    if (config_listener_get(cfg.listeners, 0, &lis) < 0) {
        slog(SLOG_ERROR, "sluiced", "bad listeners '%s'", cfg.listeners);
        return 2;
    }

    struct topology *topo = NULL;
    int rc = topology_open(&topo);
    if (rc < 0)
        slog(SLOG_WARN, "sluiced", "hwloc topology unavailable (%s); shards not pinned",
                strerror(-rc));
    int nshards = cfg.num_shards > 0 ? cfg.num_shards : (topo ? topology_core_count(topo) : 1);
    if (nshards > MAX_SHARDS)
        nshards = MAX_SHARDS;
    /* DPDK first: the port's NUMA node decides the cores. */
    struct dpdk_port *dpdk = NULL;
    if (cfg.dpdk_enable) {
        char err[512], desc[512];
        rc = dpdk_port_open(&dpdk, &cfg, nshards, err, sizeof(err));
        if (rc < 0) {
            slog(SLOG_ERROR, "sluiced", "DPDK: %s", err);
            return 1;
        }
        dpdk_port_describe(dpdk, desc, sizeof(desc));
        slog(SLOG_INFO, "sluiced", "DPDK: %s", desc);
    }
    int cores[MAX_SHARDS];
    for (int i = 0; i < nshards; i++)
        cores[i] = -1;
    if (topo) {
        char desc[256];
        topology_describe(topo, desc, sizeof(desc));
        if (dpdk)
            topology_choose_cores_near(topo, nshards, dpdk_port_numa_node(dpdk), cores);
        else
            topology_choose_cores(topo, nshards, cores);
        slog(SLOG_INFO, "sluiced", "machine: %s; %d shard(s)", desc, nshards);
    }

    static struct listeners listeners;
    char lerr[512];
    if (listeners_init(&listeners, &cfg, nshards, lerr, sizeof lerr) < 0) {
        slog(SLOG_ERROR, "sluiced", "%s", lerr);
        return 2;
    }

    struct control *ctl;
    rc = control_create(&ctl, &cfg, dir, nshards);
    if (rc < 0) {
        slog(SLOG_ERROR, "sluiced", "cannot start the control thread: %s", strerror(-rc));
        return 1;
    }
    /* Before any shard opens a log or its journal: what the journals made
     * durable and the partition logs lost goes back into them. */
    rc = journal_replay_dir(dir);
    if (rc < 0) {
        slog(SLOG_ERROR, "sluiced", "journal replay failed: %s", strerror(-rc));
        return 1;
    }
    struct shard *shards[MAX_SHARDS];
    for (int i = 0; i < nshards; i++) {
        struct shard_config sc = {
            .index = i, .broker_id = md_broker_id(cfg.node_id, i), .core = cores[i], .topology = topo, .host = lis.host,
            .port = lis.port ? lis.port + i : 0, .data_dir = dir, .broker = &cfg,
            .dpdk = dpdk, .listeners = &listeners,
        };
        control_shard_endpoints(ctl, i, &sc.from_ctl, &sc.to_ctl, &sc.doorbell_fd,
                                &sc.ctl_doorbell_fd);
        rc = shard_create(&shards[i], &sc);
        if (rc < 0) {
            slog(SLOG_ERROR, "sluiced", "shard %d cannot listen on %s:%d: %s", i, lis.host,
                    sc.port, strerror(-rc));
            return 1;
        }
        control_set_shard_port(ctl, i, shard_port(shards[i]));
        for (int k = 0; k < listeners.n; k++)
            listeners_set_port(&listeners, k, i, shard_listener_port(shards[i], k));
    }
    for (int i = 0; i < nshards; i++)
        if (shard_start(shards[i]) < 0)
            return 1;
    rc = control_open_partitions(ctl);
    if (rc == 0)
        rc = control_publish(ctl);
    if (rc < 0) {
        slog(SLOG_ERROR, "sluiced", "startup failed: %s", strerror(-rc));
        return 1;
    }

    const char *host = strcmp(lis.host, "0.0.0.0") == 0 || !lis.host[0] ? "127.0.0.1" : lis.host;
    struct ops *ops = NULL;
    if (cfg.http_listen[0]) {
        struct ops_config oc = { .listen = cfg.http_listen, .broker = &cfg,
                                 .bootstrap_host = host };
        control_shard_endpoints(ctl, nshards, &oc.from_ctl, &oc.to_ctl, &oc.doorbell_fd,
                                &oc.ctl_doorbell_fd);
        rc = ops_create(&ops, &oc);
        if (rc < 0) {
            slog(SLOG_ERROR, "sluiced", "cannot serve HTTP on %s: %s", cfg.http_listen,
                    strerror(-rc));
            return 1;
        }
        slog(SLOG_INFO, "sluiced", "http listening on %s port=%d", cfg.http_listen,
                ops_port(ops));
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int k = 0; k < listeners.n; k++) {
        const struct listener *l = &listeners.l[k];
        const char *lh = !l->host[0] || strcmp(l->host, "0.0.0.0") == 0 ? "127.0.0.1" : l->host;
        slog(SLOG_INFO, "sluiced", "listener name=%s protocol=%s bootstrap=%s:%d", l->name,
             config_protocol_name(l->protocol), lh, l->ports[0]);
    }
    slog(SLOG_INFO, "sluiced", "ready bootstrap=%s:%d shards=%d data=%s", host,
            shard_port(shards[0]), nshards, dir);

    while (!stop_requested) {
        control_run(ctl, &wake);
        wake = 0;
        if (reload_requested && !stop_requested) {
            reload_requested = 0;
            reload(ctl, argc, argv);
        }
    }
    slog(SLOG_INFO, "sluiced", "shutting down");
    ops_stop(ops); /* no more questions; its memory lives until the end */
    control_shutdown(ctl);
    for (int i = 0; i < nshards; i++)
        shard_destroy(shards[i]);
    control_destroy(ctl);
    ops_destroy(ops);
    dpdk_port_close(dpdk); /* last: DPDK's teardown closes descriptors of its own */
    if (topo)
        topology_close(topo);
    listeners_close(&listeners);
    slog(SLOG_INFO, "sluiced", "stopped cleanly");
    return 0;
}
