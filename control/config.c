/* config.c - server.properties and per-topic configs, Kafka-style.
 *
 * Owns: the tables of known settings (Kafka's names, types, defaults,
 * ranges, one-line docs, the field each one fills), strict parsing of
 * values, the Java .properties reader, DescribeConfigs views, the mapping of
 * a topic's settings onto the storage engine's struct log_config, and the
 * "key=value" text the control thread persists topic configs with.
 *
 * Never: opens logs or sockets, allocates (beyond stdio's FILE), or keeps
 * state outside the structs it is handed.
 *
 * Derived values are recomputed after every set, so the order of keys in a
 * file never matters: log.retention.ms > .minutes > .hours, log.roll.ms >
 * .hours, log.dirs > log.dir, advertised.listeners defaults to listeners,
 * and sluice.flush.policy defaults to "interval" once log.flush.interval.*
 * is set explicitly (to "always" otherwise).
 */
#include "control/config.h"
#include "control/metadata.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/batch.h"

_Static_assert(FLUSH_ALWAYS == 0 && FLUSH_INTERVAL == 1 && FLUSH_OS == 2,
               "flush_values[] follows enum flush_policy");
_Static_assert((int)COMPRESSION_GZIP == (int)BATCH_CODEC_GZIP &&
               (int)COMPRESSION_SNAPPY == (int)BATCH_CODEC_SNAPPY &&
               (int)COMPRESSION_LZ4 == (int)BATCH_CODEC_LZ4 &&
               (int)COMPRESSION_ZSTD == (int)BATCH_CODEC_ZSTD,
               "compression types keep the batch codec numbers");

/* --- the tables -------------------------------------------------------- */

enum cfg_type {
    CT_INT,     /* int32_t */
    CT_LONG,    /* int64_t */
    CT_BOOL,    /* bool */
    CT_DOUBLE,  /* double */
    CT_STRING,  /* char[size] */
    CT_LIST,    /* char[size], comma-separated, normalised */
    CT_ENUM,    /* int: index into values */
    CT_FLAGS,   /* int: bit i set for values[i]; a comma-separated list */
};

#define CF_NULLABLE 1   /* no default: Kafka's null until set */
#define CF_LISTENERS 2  /* a list of NAME://host:port */
#define CF_VOTERS 4     /* a list of id@host:port */
#define CF_SENSITIVE 8  /* a password: described as null, as Kafka does */

struct config_def {
    const char *name;
    enum cfg_type type;
    int flags;
    const char *def;               /* default as text (broker table) */
    const char *doc;
    size_t off, size;              /* the field */
    int64_t min, max;              /* numbers */
    const char *const *values;     /* enums and flags, NULL-terminated */
    const char *syn[3];            /* topic: broker keys; syn[0] the value;
                                      none: the topic's own default (def) */
    int (*check)(const char *s);   /* strings: 0 if well-formed */
    const char *expect;            /* strings with a check: what is wanted */
};

static const char *const compression_values[] = {
    "uncompressed", "gzip", "snappy", "lz4", "zstd", "producer", NULL};
static const char *const timestamp_values[] = {
    "CreateTime", "LogAppendTime", NULL};
static const char *const flush_values[] = {"always", "interval", "os", NULL};
static const char *const cleanup_values[] = {"compact", "delete", NULL};
static const char *const idle_values[] = {"sleep", "spin", NULL};
static const char *const role_values[] = {"broker", "controller", NULL};
static const char *const cleaner_mode_values[] = {"thread", "slices", NULL};
/* The orders of enum slog_format and enum slog_level (slog/slog.h). */
static const char *const log_format_values[] = {"text", "logfmt", NULL};
static const char *const log_level_values[] = {"debug", "info", "warn", "error", NULL};
static const char *const store_type_values[] = {"JKS", "PKCS12", "PEM", NULL};
static const char *const client_auth_values[] = {"none", "requested", "required", NULL};

#define FIELD(S, F) .off = offsetof(struct S, F), \
                    .size = sizeof(((struct S *)0)->F)
#define BDEF(NAME, TYPE, FLD, ...) \
    {.name = NAME, .type = TYPE, FIELD(broker_config, FLD), __VA_ARGS__}
#define TDEF(NAME, TYPE, FLD, ...) \
    {.name = NAME, .type = TYPE, FIELD(topic_config, FLD), __VA_ARGS__}
#define GE32(x) .min = (x), .max = INT32_MAX
#define GE64(x) .min = (x), .max = INT64_MAX
#define ONLY(x) .min = (x), .max = (x)
#define I64MAX "9223372036854775807"
#define WEEK_MS "604800000"
#define DEF_DIR "/tmp/sluice-logs"
#define NODE_ID_MAX 2147482    /* node.id * 1000 + shard fits an int32 */

static const struct config_def broker_defs[] = {
    BDEF("broker.id", CT_INT, node_id, .def = "0", .min = 0, .max = NODE_ID_MAX,
      .doc = "This broker's id (the same setting as node.id)."),
    BDEF("node.id", CT_INT, node_id, .def = "0", .min = 0, .max = NODE_ID_MAX,
      .doc = "This node's id (the same setting as broker.id)."),
    BDEF("listeners", CT_LIST, listeners, .def = "PLAINTEXT://:9092",
      .flags = CF_LISTENERS,
      .doc = "Addresses to listen on, NAME://host:port; shards take the "
             "ports that follow."),
    BDEF("advertised.listeners", CT_LIST, advertised_listeners,
      .def = "PLAINTEXT://:9092", .flags = CF_LISTENERS,
      .doc = "Addresses given to clients; defaults to listeners."),
    BDEF("log.dirs", CT_LIST, log_dirs, .def = DEF_DIR,
      .doc = "Directories holding the partition logs."),
    BDEF("log.dir", CT_STRING, log_dir, .def = DEF_DIR,
      .doc = "The log directory, used when log.dirs is not set."),
    BDEF("num.partitions", CT_INT, num_partitions, .def = "1", GE32(1),
      .doc = "Default number of partitions of a new topic."),
    BDEF("default.replication.factor", CT_INT, default_replication_factor,
      .def = "1", .min = 1, .max = MD_REPLICAS_MAX,
      .doc = "Replicas of a new topic's partitions, each on its own node."),
    BDEF("auto.create.topics.enable", CT_BOOL, auto_create_topics_enable,
      .def = "true", .doc = "Create a topic when a client first uses it."),
    BDEF("delete.topic.enable", CT_BOOL, delete_topic_enable, .def = "true",
      .doc = "Allow DeleteTopics."),
    BDEF("log.segment.bytes", CT_INT, log_segment_bytes, .def = "1073741824",
      GE32(14), .doc = "Largest size of a log segment before rolling."),
    BDEF("log.roll.ms", CT_LONG, log_segment_ms, .def = WEEK_MS, GE64(1),
      .doc = "Roll a segment this old (takes precedence over "
             "log.roll.hours)."),
    BDEF("log.roll.hours", CT_INT, log_roll_hours, .def = "168", GE32(1),
      .doc = "Roll a segment this old, in hours."),
    BDEF("log.retention.ms", CT_LONG, log_retention_ms, .def = WEEK_MS,
      GE64(-1), .doc = "Delete segments older than this; -1: no limit "
                       "(takes precedence over .minutes and .hours)."),
    BDEF("log.retention.minutes", CT_INT, log_retention_minutes,
      .flags = CF_NULLABLE, GE32(-1),
      .doc = "Retention in minutes (takes precedence over .hours)."),
    BDEF("log.retention.hours", CT_INT, log_retention_hours, .def = "168",
      GE32(-1), .doc = "Retention in hours."),
    BDEF("log.retention.bytes", CT_LONG, log_retention_bytes, .def = "-1",
      GE64(-1), .doc = "Delete old segments beyond this size per "
                       "partition; -1: no limit."),
    BDEF("log.retention.check.interval.ms", CT_LONG,
      log_retention_check_interval_ms, .def = "300000", GE64(1),
      .doc = "How often retention is enforced."),
    BDEF("log.index.interval.bytes", CT_INT, log_index_interval_bytes,
      .def = "4096", GE32(0), .doc = "Bytes between offset index entries."),
    BDEF("log.index.size.max.bytes", CT_INT, log_index_size_max_bytes,
      .def = "10485760", GE32(4), .doc = "Largest size of an offset index."),
    BDEF("log.preallocate", CT_BOOL, log_preallocate, .def = "false",
      .doc = "Preallocate segment files."),
    BDEF("log.segment.delete.delay.ms", CT_LONG, log_segment_delete_delay_ms,
      .def = "60000", GE64(0),
      .doc = "Accepted; sluice unlinks a deleted segment at once and keeps "
             "its descriptor open until no fetch answer refers to it."),
    BDEF("log.flush.interval.messages", CT_LONG, log_flush_interval_messages,
      .def = I64MAX, GE64(1),
      .doc = "Messages appended before a flush (flush policy interval)."),
    BDEF("log.flush.interval.ms", CT_LONG, log_flush_interval_ms, .def = I64MAX,
      GE64(0), .doc = "Longest time data waits for a flush (flush policy "
                      "interval)."),
    BDEF("log.message.timestamp.type", CT_ENUM, log_message_timestamp_type,
      .def = "CreateTime", .values = timestamp_values,
      .doc = "Record timestamps: the producer's or the broker's."),
    BDEF("compression.type", CT_ENUM, compression_type, .def = "producer",
      .values = compression_values,
      .doc = "Codec of stored batches; producer keeps the producer's."),
    BDEF("message.max.bytes", CT_INT, message_max_bytes, .def = "1048588",
      GE32(0), .doc = "Largest record batch accepted."),
    BDEF("min.insync.replicas", CT_INT, min_insync_replicas, .def = "1",
      GE32(1), .doc = "Replicas that must ack for acks=all."),
    BDEF("unclean.leader.election.enable", CT_BOOL,
      unclean_leader_election_enable, .def = "false",
      .doc = "Allow an out-of-sync replica to become leader."),
    BDEF("log.cleanup.policy", CT_FLAGS, log_cleanup_policy, .def = "delete",
      .values = cleanup_values,
      .doc = "Default cleanup policy: delete, compact or both."),
    BDEF("log.cleaner.enable", CT_BOOL, log_cleaner_enable, .def = "true",
      .doc = "Run the log cleaner (compaction)."),
    BDEF("log.cleaner.delete.retention.ms", CT_LONG,
      log_cleaner_delete_retention_ms, .def = "86400000", GE64(0),
      .doc = "How long tombstones are kept on compacted topics."),
    BDEF("log.cleaner.min.compaction.lag.ms", CT_LONG,
      log_cleaner_min_compaction_lag_ms, .def = "0", GE64(0),
      .doc = "Least age of a record before it may be compacted."),
    BDEF("log.cleaner.max.compaction.lag.ms", CT_LONG,
      log_cleaner_max_compaction_lag_ms, .def = I64MAX, GE64(1),
      .doc = "Greatest age of a record before it must be compactable."),
    BDEF("log.cleaner.dedupe.buffer.size", CT_LONG, log_cleaner_dedupe_buffer_size,
      .def = "134217728", .min = 1 << 20, .max = INT64_MAX,
      .doc = "Memory for the cleaners' key maps, split among the shards; a "
             "log whose dirty keys do not fit is cleaned in several passes."),
    BDEF("log.cleaner.backoff.ms", CT_LONG, log_cleaner_backoff_ms, .def = "15000",
      GE64(0), .doc = "How often the cleaner looks for logs to compact."),
    BDEF("sluice.cleaner.mode", CT_ENUM, cleaner_mode, .def = "thread",
      .values = cleaner_mode_values,
      .doc = "Where compaction runs: thread (a low-priority cleaner thread "
             "per shard) or slices (on the shard, between loop turns)."),
    BDEF("log.cleaner.min.cleanable.ratio", CT_DOUBLE,
      log_cleaner_min_cleanable_ratio, .def = "0.5", .min = 0, .max = 1,
      .doc = "Dirty ratio above which a log is compacted."),
    BDEF("socket.request.max.bytes", CT_INT, socket_request_max_bytes,
      .def = "104857600", GE32(1), .doc = "Largest request accepted."),
    BDEF("socket.send.buffer.bytes", CT_INT, socket_send_buffer_bytes,
      .def = "102400", GE32(-1), .doc = "SO_SNDBUF; -1: the OS default."),
    BDEF("socket.receive.buffer.bytes", CT_INT, socket_receive_buffer_bytes,
      .def = "102400", GE32(-1), .doc = "SO_RCVBUF; -1: the OS default."),
    BDEF("connections.max.idle.ms", CT_LONG, connections_max_idle_ms,
      .def = "600000", GE64(-1), .doc = "Close connections idle this long."),
    BDEF("max.connections", CT_INT, max_connections, .def = "2147483647",
      GE32(1), .doc = "Client connections the broker holds open at once, "
             "across its shards; one more is closed at accept, and logged."),
    BDEF("max.connections.per.ip", CT_INT, max_connections_per_ip,
      .def = "2147483647", GE32(1), .doc = "Client connections open at once "
             "from one IP address; one more is closed at accept, and logged."),
    BDEF("queued.max.requests", CT_INT, queued_max_requests, .def = "500",
      .min = 1, .max = 100000, .doc = "Requests of one connection received "
             "and not yet answered; past it the connection is not read "
             "until responses drain (backpressure)."),
    BDEF("num.network.threads", CT_INT, num_network_threads, .def = "3",
      GE32(1), .doc = "Accepted for Kafka compatibility; see sluice.shards."),
    BDEF("num.io.threads", CT_INT, num_io_threads, .def = "8", GE32(1),
      .doc = "Accepted for Kafka compatibility; see sluice.shards."),
    BDEF("num.recovery.threads.per.data.dir", CT_INT,
      num_recovery_threads_per_data_dir, .def = "1", GE32(1),
      .doc = "Accepted for Kafka compatibility; shards recover their own "
             "partitions."),
    BDEF("offsets.topic.replication.factor", CT_INT,
      offsets_topic_replication_factor, .def = "1", ONLY(1),
      .doc = "Replication of committed offsets; sluice keeps one replica."),
    BDEF("offsets.retention.minutes", CT_INT, offsets_retention_minutes,
      .def = "10080", GE32(1),
      .doc = "Keep committed offsets of an empty group this long."),
    BDEF("group.initial.rebalance.delay.ms", CT_INT,
      group_initial_rebalance_delay_ms, .def = "3000", GE32(0),
      .doc = "Wait this long for more members before the first rebalance."),
    BDEF("group.min.session.timeout.ms", CT_INT, group_min_session_timeout_ms,
      .def = "6000", GE32(0), .doc = "Smallest session timeout allowed."),
    BDEF("group.max.session.timeout.ms", CT_INT, group_max_session_timeout_ms,
      .def = "1800000", GE32(0), .doc = "Largest session timeout allowed."),
    BDEF("transaction.state.log.replication.factor", CT_INT,
      transaction_state_log_replication_factor, .def = "1", ONLY(1),
      .doc = "Replication of transaction state; sluice keeps one replica."),
    BDEF("transaction.state.log.min.isr", CT_INT, transaction_state_log_min_isr,
      .def = "1", GE32(1), .doc = "min.insync.replicas of transaction "
                                  "state."),
    BDEF("transaction.max.timeout.ms", CT_INT, transaction_max_timeout_ms,
      .def = "900000", GE32(1), .doc = "Largest transaction timeout allowed."),
    BDEF("transactional.id.expiration.ms", CT_INT, transactional_id_expiration_ms,
      .def = "604800000", GE32(1),
      .doc = "Forget an idle transactional id after this long."),
    BDEF("process.roles", CT_FLAGS, process_roles,
      .def = "broker,controller", .values = role_values,
      .doc = "broker (serves clients; every sluice node does), controller "
             "(a voter of the metadata quorum: listed in "
             "controller.quorum.voters)."),
    BDEF("controller.quorum.voters", CT_LIST, controller_quorum_voters,
      .flags = CF_NULLABLE | CF_VOTERS,
      .doc = "The metadata quorum, id@host:port of each voter; unset: this "
             "node is the only voter and needs no network."),
    BDEF("controller.listener.names", CT_LIST, controller_listener_names,
      .def = "CONTROLLER", .doc = "Accepted for Kafka compatibility; "
             "voters listen on their controller.quorum.voters address."),
    BDEF("broker.rack", CT_STRING, broker_rack, .flags = CF_NULLABLE,
      .doc = "This node's rack: replicas of a partition go to different "
             "racks first."),
    BDEF("broker.session.timeout.ms", CT_INT, broker_session_timeout_ms,
      .def = "9000", .min = 500, .max = INT32_MAX,
      .doc = "The controller fences a node it has not heard from this long: "
             "its replicas leave the ISRs, its partitions get new leaders."),
    BDEF("sluice.fence.probe.ms", CT_INT, fence_probe_ms, .def = "300", GE32(0),
      .doc = "After this long without a message from a node the controller "
             "tries to connect to its controller port: refused (no process "
             "listens there: it died) fences it at once; a port that answers "
             "or no answer leaves it to broker.session.timeout.ms. 0: off."),
    BDEF("auto.leader.rebalance.enable", CT_BOOL, auto_leader_rebalance_enable,
      .def = "true", .doc = "The controller moves leadership back to each "
             "partition's preferred replica (its first) once it is in sync."),
    BDEF("leader.imbalance.check.interval.seconds", CT_INT,
      leader_imbalance_check_interval_seconds, .def = "300", GE32(1),
      .doc = "How often the controller looks for leaders to move back."),
    BDEF("leader.imbalance.per.broker.percentage", CT_INT,
      leader_imbalance_per_broker_percentage, .def = "10", .min = 0, .max = 100,
      .doc = "The share of a broker's preferred partitions others may lead "
             "before they move back."),
    BDEF("replica.lag.time.max.ms", CT_LONG, replica_lag_time_max_ms,
      .def = "30000", GE64(1),
      .doc = "A follower that has not caught up with its leader for this "
             "long leaves the ISR."),
    BDEF("replica.fetch.wait.max.ms", CT_INT, replica_fetch_wait_max_ms,
      .def = "500", GE32(0), .doc = "How long a follower's fetch waits at "
             "the leader for new data."),
    BDEF("replica.fetch.max.bytes", CT_INT, replica_fetch_max_bytes,
      .def = "1048576", GE32(1), .doc = "Bytes a follower fetches per "
             "partition (at least one whole batch)."),
    BDEF("replica.fetch.response.max.bytes", CT_INT,
      replica_fetch_response_max_bytes, .def = "10485760", GE32(1),
      .doc = "Bytes a follower fetches per request."),
    BDEF("replica.fetch.backoff.ms", CT_INT, replica_fetch_backoff_ms,
      .def = "1000", GE32(0), .doc = "How long a follower waits after a "
             "failed fetch."),
    BDEF("replica.high.watermark.checkpoint.interval.ms", CT_LONG,
      replica_hw_checkpoint_interval_ms, .def = "5000", GE64(1),
      .doc = "How often a replica's high watermark is saved beside its log."),
    BDEF("transaction.abort.timed.out.transaction.cleanup.interval.ms", CT_INT,
      transaction_abort_interval_ms, .def = "10000", GE32(1),
      .doc = "How often transactions past their timeout are aborted."),
    BDEF("transaction.remove.expired.transaction.cleanup.interval.ms", CT_INT,
      transaction_remove_interval_ms, .def = "3600000", GE32(1),
      .doc = "How often idle transactional ids are expired."),
    BDEF("producer.id.expiration.ms", CT_INT, producer_id_expiration_ms,
      .def = "86400000", GE32(1),
      .doc = "Forget an idle producer's state in a partition after this long."),
    BDEF("producer.id.expiration.check.interval.ms", CT_INT,
      producer_id_expiration_check_interval_ms, .def = "600000", GE32(1),
      .doc = "How often idle producers are expired."),
    BDEF("sluice.shards", CT_INT, num_shards, .def = "0", .min = 0, .max = 1024,
      .doc = "Shard threads, one per core; 0: one per available core."),
    BDEF("sluice.flush.policy", CT_ENUM, flush_policy, .def = "always",
      .values = flush_values,
      .doc = "always: fdatasync before acks; interval: Kafka's "
             "log.flush.interval.*; os: leave it to the page cache."),
    BDEF("sluice.journal.bytes", CT_LONG, journal_bytes, .def = "33554432", GE64(0),
      .doc = "Size of each shard's write-ahead journal (flush policy always): "
             "one fdatasync per loop turn covers the appends to every partition "
             "of the shard; 0: each partition syncs its own files. At least "
             "4194304 when set."),
    BDEF("sluice.idle", CT_ENUM, idle_strategy, .def = "sleep", .values = idle_values,
      .doc = "What a shard does when a loop turn found no work: sleep in "
             "io_uring until a completion or a deadline, or spin (busy-poll "
             "its completions and rings; for dedicated cores)."),
    BDEF("sluice.dpdk.enable", CT_BOOL, dpdk_enable, .def = "false",
      .doc = "Receive UDP through DPDK (native produce, feed capture); "
             "every shard gets one RX/TX queue pair of sluice.dpdk.port."),
    BDEF("sluice.dpdk.eal.args", CT_STRING, dpdk_eal_args, .def = "",
      .doc = "DPDK EAL arguments, space-separated (e.g. -l 1 --in-memory "
             "--vdev net_tap0)."),
    BDEF("sluice.dpdk.port", CT_STRING, dpdk_port, .def = "0",
      .doc = "The DPDK port: its id or its device name."),
    BDEF("sluice.dpdk.mempool.size", CT_INT, dpdk_mempool_size, .def = "16383",
      .min = 1023, .max = 16777215,
      .doc = "Packet buffers (mbufs) on the port's NUMA node."),
    BDEF("sluice.dpdk.ip", CT_STRING, dpdk_ip, .def = "",
      .check = config_check_ipv4_cidr, .expect = "an IPv4 address A.B.C.D/N",
      .doc = "The port's IPv4 address and prefix length (ARP, ICMP, UDP)."),
    BDEF("sluice.dpdk.udp.port", CT_INT, dpdk_udp_port, .def = "9092",
      .min = 1, .max = 65535,
      .doc = "Native UDP produce: shard i receives on this port + i."),
    BDEF("sluice.dpdk.mtu", CT_INT, dpdk_mtu, .def = "1500", .min = 576,
      .max = 9000, .doc = "The port's MTU."),
    BDEF("sluice.http.listen", CT_STRING, http_listen, .def = "",
      .doc = "HOST:PORT of the HTTP listener (/metrics, the web console); "
             "empty: none; port 0: any free port."),
    BDEF("sluice.log.format", CT_ENUM, log_format, .def = "text",
      .values = log_format_values,
      .doc = "Log lines: text (COMP: message) or logfmt (ts= level= comp= msg= "
             "key=value...)."),
    BDEF("sluice.log.level", CT_ENUM, log_level, .def = "info",
      .values = log_level_values,
      .doc = "Least level logged: debug, info, warn or error (dynamic)."),
    /* security (dataplane/listeners.c, dataplane/tls.c) */
    BDEF("listener.security.protocol.map", CT_LIST, security_protocol_map,
      .def = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,"
             "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
      .check = config_check_protocol_map,
      .expect = "NAME:PROTOCOL,... with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
      .doc = "The security protocol of each listener name."),
    BDEF("ssl.keystore.type", CT_ENUM, ssl_keystore_type, .def = "JKS",
      .values = store_type_values,
      .doc = "Only PEM is read: the key and certificate chain in one PEM file."),
    BDEF("ssl.keystore.location", CT_STRING, ssl_keystore_location, .def = "",
      .doc = "The PEM file of the server's private key and certificate chain."),
    BDEF("ssl.keystore.password", CT_STRING, ssl_keystore_password,
      .flags = CF_NULLABLE | CF_SENSITIVE,
      .doc = "Accepted; a PEM keystore needs only ssl.key.password."),
    BDEF("ssl.key.password", CT_STRING, ssl_key_password,
      .flags = CF_NULLABLE | CF_SENSITIVE,
      .doc = "The passphrase of an encrypted private key."),
    BDEF("ssl.truststore.type", CT_ENUM, ssl_truststore_type, .def = "JKS",
      .values = store_type_values,
      .doc = "Only PEM is read: the CA certificates clients are checked against."),
    BDEF("ssl.truststore.location", CT_STRING, ssl_truststore_location, .def = "",
      .doc = "The PEM file of CA certificates for client certificates."),
    BDEF("ssl.truststore.password", CT_STRING, ssl_truststore_password,
      .flags = CF_NULLABLE | CF_SENSITIVE, .doc = "Accepted; unused for PEM."),
    BDEF("ssl.client.auth", CT_ENUM, ssl_client_auth, .def = "none",
      .values = client_auth_values,
      .doc = "Client certificates: none, requested (checked if sent) or required."),
    BDEF("ssl.enabled.protocols", CT_LIST, ssl_enabled_protocols,
      .def = "TLSv1.2,TLSv1.3", .check = config_check_tls_protocols,
      .expect = "a list of TLSv1.2 and TLSv1.3",
      .doc = "TLS versions accepted."),
    BDEF("ssl.cipher.suites", CT_STRING, ssl_cipher_suites, .def = "",
      .doc = "Cipher suites (IANA or OpenSSL names); empty: OpenSSL's defaults."),
    BDEF("sasl.enabled.mechanisms", CT_LIST, sasl_enabled_mechanisms,
      .def = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", .check = config_check_sasl_mechanisms,
      .expect = "a list of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512",
      .doc = "SASL mechanisms offered on SASL listeners (no GSSAPI or OAUTHBEARER)."),
    /* ACLs (control/acls.c, security/acl.c) */
    BDEF("authorizer.class.name", CT_STRING, authorizer_class_name, .def = "",
      .check = config_check_authorizer,
      .expect = "empty, org.apache.kafka.metadata.authorizer.StandardAuthorizer or "
                "kafka.security.authorizer.AclAuthorizer",
      .doc = "Enables ACLs (Kafka's StandardAuthorizer semantics); empty: none."),
    BDEF("super.users", CT_STRING, super_users, .def = "",
      .doc = "Principals allowed everything, separated by ';' (User:admin;User:CN=ops)."),
    BDEF("allow.everyone.if.no.acl.found", CT_BOOL, allow_everyone_if_no_acl_found,
      .def = "false", .doc = "A resource without any ACL is open to everyone."),
};

static const struct config_def topic_defs[] = {
    TDEF("cleanup.policy", CT_FLAGS, cleanup_policy, .values = cleanup_values,
      .syn = {"log.cleanup.policy"},
      .doc = "delete old segments, compact by key, or both."),
    TDEF("compression.type", CT_ENUM, compression_type,
      .values = compression_values, .syn = {"compression.type"},
      .doc = "Codec of stored batches; producer keeps the producer's."),
    TDEF("retention.ms", CT_LONG, retention_ms, GE64(-1),
      .syn = {"log.retention.ms", "log.retention.minutes",
              "log.retention.hours"},
      .doc = "Delete segments older than this; -1: no limit."),
    TDEF("retention.bytes", CT_LONG, retention_bytes, GE64(-1),
      .syn = {"log.retention.bytes"},
      .doc = "Delete old segments beyond this size; -1: no limit."),
    TDEF("segment.bytes", CT_INT, segment_bytes, GE32(14),
      .syn = {"log.segment.bytes"}, .doc = "Largest size of a segment."),
    TDEF("segment.ms", CT_LONG, segment_ms, GE64(1),
      .syn = {"log.roll.ms", "log.roll.hours"},
      .doc = "Roll a segment this old."),
    TDEF("segment.index.bytes", CT_INT, segment_index_bytes, GE32(4),
      .syn = {"log.index.size.max.bytes"},
      .doc = "Largest size of an offset index."),
    TDEF("max.message.bytes", CT_INT, max_message_bytes, GE32(0),
      .syn = {"message.max.bytes"}, .doc = "Largest record batch accepted."),
    TDEF("message.timestamp.type", CT_ENUM, timestamp_type,
      .values = timestamp_values, .syn = {"log.message.timestamp.type"},
      .doc = "Record timestamps: CreateTime or LogAppendTime."),
    TDEF("flush.messages", CT_LONG, flush_messages, GE64(1),
      .syn = {"log.flush.interval.messages"},
      .doc = "Messages between flushes; setting it selects interval "
             "flushing."),
    TDEF("flush.ms", CT_LONG, flush_ms, GE64(0),
      .syn = {"log.flush.interval.ms"},
      .doc = "Time between flushes; setting it selects interval flushing."),
    TDEF("index.interval.bytes", CT_INT, index_interval_bytes, GE32(0),
      .syn = {"log.index.interval.bytes"},
      .doc = "Bytes between offset index entries."),
    TDEF("min.insync.replicas", CT_INT, min_insync_replicas, GE32(1),
      .syn = {"min.insync.replicas"},
      .doc = "Replicas that must ack for acks=all."),
    TDEF("delete.retention.ms", CT_LONG, delete_retention_ms, GE64(0),
      .syn = {"log.cleaner.delete.retention.ms"},
      .doc = "How long tombstones are kept when compacting."),
    TDEF("min.compaction.lag.ms", CT_LONG, min_compaction_lag_ms, GE64(0),
      .syn = {"log.cleaner.min.compaction.lag.ms"},
      .doc = "Least age of a record before it may be compacted."),
    TDEF("max.compaction.lag.ms", CT_LONG, max_compaction_lag_ms, GE64(1),
      .syn = {"log.cleaner.max.compaction.lag.ms"},
      .doc = "Greatest age of a record before it must be compactable."),
    TDEF("min.cleanable.dirty.ratio", CT_DOUBLE, min_cleanable_dirty_ratio,
      .min = 0, .max = 1, .syn = {"log.cleaner.min.cleanable.ratio"},
      .doc = "Dirty ratio above which the log is compacted."),
    TDEF("preallocate", CT_BOOL, preallocate, .syn = {"log.preallocate"},
      .doc = "Preallocate segment files."),
    TDEF("file.delete.delay.ms", CT_LONG, file_delete_delay_ms, GE64(0),
      .syn = {"log.segment.delete.delay.ms"},
      .doc = "Accepted; segments are unlinked at once, their descriptors "
             "kept open until no fetch answer refers to them."),
    TDEF("unclean.leader.election.enable", CT_BOOL,
      unclean_leader_election_enable,
      .syn = {"unclean.leader.election.enable"},
      .doc = "Allow an out-of-sync replica to become leader."),
    TDEF("sluice.flush.policy", CT_ENUM, flush_policy, .values = flush_values,
      .syn = {"sluice.flush.policy", "log.flush.interval.messages",
              "log.flush.interval.ms"},
      .doc = "always, interval or os; interval when flush.* is set."),
    TDEF("sluice.capture.port", CT_INT, capture_port, .def = "0", .min = 0,
      .max = 65535, .doc = "Capture every UDP datagram to this port (through "
                           "DPDK) as a record; 0: not a capture topic."),
    TDEF("sluice.capture.group", CT_STRING, capture_group, .def = "",
      .check = config_check_multicast, .expect = "an IPv4 multicast group",
      .doc = "Join this multicast group (IGMP) and capture it; empty: "
             "datagrams to the port's own address."),
    TDEF("sluice.capture.sequence", CT_STRING, capture_sequence, .def = "none",
      .check = config_check_capture_sequence,
      .expect = "none, moldudp64 or OFFSET:WIDTH:be|le (WIDTH 1, 2, 4 or 8)",
      .doc = "Where each datagram's sequence number is: gaps and duplicates "
             "are detected per session."),
    TDEF("sluice.capture.retransmit", CT_STRING, capture_retransmit, .def = "",
      .check = config_check_ipv4_port, .expect = "A.B.C.D:PORT or empty",
      .doc = "MoldUDP64 re-request server asked to fill gaps."),
    TDEF("sluice.capture.hold.ms", CT_LONG, capture_hold_ms, .def = "0",
      .min = 0, .max = 60000,
      .doc = "How long datagrams after a gap wait for its fill, so that the "
             "fill is stored in sequence order; 0: store as they arrive."),
};

#undef BDEF
#undef TDEF
#undef FIELD
#undef GE32
#undef GE64
#undef ONLY

#define NBROKER ((int)(sizeof broker_defs / sizeof broker_defs[0]))
#define NTOPIC ((int)(sizeof topic_defs / sizeof topic_defs[0]))
_Static_assert(NBROKER <= 128, "broker set_mask holds 128 bits");
_Static_assert(NTOPIC <= 32, "topic set_mask holds 32 bits");

/* --- small helpers ----------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_ws(char c)
{
    return isspace((unsigned char)c) != 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ws((*s)[*n - 1]))
        (*n)--;
}

static int find_def(const struct config_def *defs, int n, const char *key)
{
    if (!key)
        return -ENOENT;
    for (int i = 0; i < n; i++)
        if (strcmp(defs[i].name, key) == 0)
            return i;
    return -ENOENT;
}

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf || is_ws(s[0]))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || end != buf + n)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_double(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf || is_ws(s[0]))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno != 0 || end != buf + n || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

/* Index of s[0..n) in values, or -ENOENT. */
static int value_index(const char *const *values, const char *s, size_t n)
{
    for (int i = 0; values[i]; i++)
        if (strlen(values[i]) == n && memcmp(values[i], s, n) == 0)
            return i;
    return -ENOENT;
}

/* Calls fn on each trimmed comma-separated entry of s[0..n); stops at the
 * first non-zero return. An empty entry is passed as such. */
static int each_entry(const char *s, size_t n,
                      int (*fn)(void *ctx, const char *e, size_t len),
                      void *ctx)
{
    const char *end = s + n;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        const char *e = s;
        size_t len = (size_t)(stop - s);
        trim(&e, &len);
        int rc = fn(ctx, e, len);
        if (rc != 0 || !comma)
            return rc;
        s = comma + 1;
    }
}

/* --- listeners --------------------------------------------------------- */

static int listener_parse(const char *s, size_t n, struct config_listener *l)
{
    trim(&s, &n);
    const char *sep = memmem(s, n, "://", 3);
    size_t nl = sep ? (size_t)(sep - s) : 0;
    if (nl == 0 || nl >= sizeof l->name)
        return -EINVAL;
    for (size_t i = 0; i < nl; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return -EINVAL;
    const char *h = sep + 3, *end = s + n, *colon;
    const char *hs = h, *he;
    if (h < end && *h == '[') {                 /* [IPv6]:port */
        he = memchr(h, ']', (size_t)(end - h));
        if (!he || he + 1 >= end || he[1] != ':')
            return -EINVAL;
        hs = h + 1;
        colon = he + 1;
    } else {
        colon = memrchr(h, ':', (size_t)(end - h));
        if (!colon || memchr(h, ':', (size_t)(colon - h)))
            return -EINVAL;
        he = colon;
    }
    int64_t port;
    if ((size_t)(he - hs) >= sizeof l->host ||
        parse_i64(colon + 1, (size_t)(end - colon - 1), &port) < 0 ||
        port < 0 || port > 65535 || colon[1] == '+' || colon[1] == '-')
        return -EINVAL;
    for (const char *p = hs; p < he; p++)
        if (is_ws(*p) || *p == '/' || *p == ',')
            return -EINVAL;
    memcpy(l->name, s, nl);
    l->name[nl] = '\0';
    memcpy(l->host, hs, (size_t)(he - hs));
    l->host[he - hs] = '\0';
    l->port = (int)port;
    return 0;
}

int config_listener_get(const char *list, int i, struct config_listener *out)
{
    const char *p = list;
    if (!p || i < 0)
        return -ENOENT;
    for (int k = 0; k < i; k++) {
        p = strchr(p, ',');
        if (!p)
            return -ENOENT;
        p++;
    }
    size_t n = strcspn(p, ",");
    const char *e = p;
    size_t len = n;
    trim(&e, &len);
    if (len == 0 && i == 0 && p[n] == '\0')
        return -ENOENT;                         /* an empty list */
    return listener_parse(p, n, out);
}

/* "id@host:port": the address after '@' is parsed as a listener's. */
static int voter_parse(const char *s, size_t n, struct config_voter *v)
{
    struct config_listener l;
    char buf[CONFIG_LISTENERS_MAX + 8];
    int64_t id;

    trim(&s, &n);
    const char *at = memchr(s, '@', n);
    if (!at || at == s || parse_i64(s, (size_t)(at - s), &id) < 0 || id < 0 ||
        id > INT32_MAX || s[0] == '+' || s[0] == '-')
        return -EINVAL;
    size_t rest = n - (size_t)(at + 1 - s);
    if (rest + 4 >= sizeof buf)
        return -EINVAL;
    memcpy(buf, "V://", 4);
    memcpy(buf + 4, at + 1, rest);
    if (listener_parse(buf, rest + 4, &l) < 0 || !l.host[0] || l.port == 0)
        return -EINVAL;
    v->id = (int32_t)id;
    memcpy(v->host, l.host, sizeof v->host);
    v->port = l.port;
    return 0;
}

int config_voter_get(const char *list, int i, struct config_voter *out)
{
    const char *p = list;
    if (!p || !*p || i < 0)
        return -ENOENT;
    for (int k = 0; k < i; k++) {
        p = strchr(p, ',');
        if (!p)
            return -ENOENT;
        p++;
    }
    return voter_parse(p, strcspn(p, ","), out);
}

/* --- parsing and formatting one value ---------------------------------- */

/* Describes what def accepts, for error messages. */
static void expected(const struct config_def *d, char *buf, size_t len)
{
    int64_t tmin = d->type == CT_INT ? INT32_MIN : INT64_MIN;
    int64_t tmax = d->type == CT_INT ? INT32_MAX : INT64_MAX;
    const char *sep = "";
    size_t o = 0;

    switch (d->type) {
    case CT_INT:
    case CT_LONG:
        if (d->min == d->max)
            snprintf(buf, len, "%" PRId64, d->min);
        else if (d->min != tmin && d->max != tmax)
            snprintf(buf, len, "an integer in [%" PRId64 ", %" PRId64 "]",
                     d->min, d->max);
        else if (d->min != tmin)
            snprintf(buf, len, "an integer >= %" PRId64, d->min);
        else
            snprintf(buf, len, "an integer");
        return;
    case CT_BOOL:
        snprintf(buf, len, "true or false");
        return;
    case CT_DOUBLE:
        snprintf(buf, len, "a number in [%" PRId64 ", %" PRId64 "]", d->min,
                 d->max);
        return;
    case CT_STRING:
        if (d->expect)
            snprintf(buf, len, "%s", d->expect);
        else
            snprintf(buf, len, "at most %zu bytes", d->size - 1);
        return;
    case CT_LIST:
        if (d->expect) {
            snprintf(buf, len, "%s", d->expect);
            return;
        }
        snprintf(buf, len, "a comma-separated list of %s (at most %zu bytes)",
                 d->flags & CF_LISTENERS ? "NAME://host:port"
                 : d->flags & CF_VOTERS  ? "id@host:port"
                                         : "paths",
                 d->size - 1);
        return;
    case CT_ENUM:
    case CT_FLAGS:
        o = (size_t)snprintf(buf, len, "%s", d->type == CT_ENUM ?
                             "one of " : "a comma-separated list of ");
        for (int i = 0; d->values[i] && o < len; i++, sep = ", ")
            o += (size_t)snprintf(buf + o, len - o, "%s%s", sep, d->values[i]);
        return;
    }
}

static int bad_value(const struct config_def *d, const char *s, size_t n,
                     char *err, size_t errlen)
{
    char want[200];
    expected(d, want, sizeof want);
    seterr(err, errlen, "%s: expected %s, got '%.*s'", d->name, want,
           (int)(n > 256 ? 256 : n), s);
    return -EINVAL;
}

struct list_ctx {
    const struct config_def *d;
    char *out;
    size_t len;
};

static int list_add(void *ctx, const char *e, size_t n)
{
    struct list_ctx *l = ctx;
    struct config_listener tmp;
    struct config_voter v;
    if (n == 0 || l->len + (l->len > 0) + n + 1 > l->d->size)
        return -EINVAL;
    if ((l->d->flags & CF_LISTENERS) && listener_parse(e, n, &tmp) < 0)
        return -EINVAL;
    if ((l->d->flags & CF_VOTERS) && voter_parse(e, n, &v) < 0)
        return -EINVAL;
    if (l->len > 0)
        l->out[l->len++] = ',';
    memcpy(l->out + l->len, e, n);
    l->len += n;
    l->out[l->len] = '\0';
    return 0;
}

struct flags_ctx {
    const struct config_def *d;
    int mask;
};

static int flags_add(void *ctx, const char *e, size_t n)
{
    struct flags_ctx *fl = ctx;
    int i = value_index(fl->d->values, e, n);
    if (i < 0)
        return -EINVAL;
    fl->mask |= 1 << i;
    return 0;
}

/* Parses s[0..n) (trimmed) and stores it in the field at base + d->off. */
static int parse_into(const struct config_def *d, void *base, const char *s,
                      size_t n)
{
    char *f = (char *)base + d->off;
    char tmp[CONFIG_VALUE_MAX];
    int64_t v;
    double x;
    int i;

    switch (d->type) {
    case CT_INT:
    case CT_LONG:
        if (parse_i64(s, n, &v) < 0 || v < d->min || v > d->max)
            return -EINVAL;
        if (d->type == CT_INT)
            *(int32_t *)(void *)f = (int32_t)v;
        else
            *(int64_t *)(void *)f = v;
        return 0;
    case CT_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            *(bool *)(void *)f = true;
        else if (n == 5 && strncasecmp(s, "false", 5) == 0)
            *(bool *)(void *)f = false;
        else
            return -EINVAL;
        return 0;
    case CT_DOUBLE:
        if (parse_double(s, n, &x) < 0 || x < (double)d->min ||
            x > (double)d->max)
            return -EINVAL;
        *(double *)(void *)f = x;
        return 0;
    case CT_STRING:
        if (n >= d->size || n >= sizeof(tmp))
            return -EINVAL;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (d->check && d->check(tmp) < 0)
            return -EINVAL;
        memcpy(f, tmp, n + 1);
        return 0;
    case CT_LIST: {
        struct list_ctx l = {.d = d, .out = tmp, .len = 0};
        if (each_entry(s, n, list_add, &l) != 0)
            return -EINVAL;
        tmp[l.len] = '\0';
        if (d->check && d->check(tmp) < 0)
            return -EINVAL;
        memcpy(f, tmp, l.len + 1);
        return 0;
    }
    case CT_ENUM:
        if ((i = value_index(d->values, s, n)) < 0)
            return -EINVAL;
        *(int *)(void *)f = i;
        return 0;
    case CT_FLAGS: {
        struct flags_ctx fl = {.d = d, .mask = 0};
        if (each_entry(s, n, flags_add, &fl) != 0 || fl.mask == 0)
            return -EINVAL;
        *(int *)(void *)f = fl.mask;
        return 0;
    }
    }
    return -EINVAL;
}

static int def_parse(const struct config_def *d, void *base,
                     const char *value, char *err, size_t errlen)
{
    const char *s = value ? value : "";
    size_t n = strlen(s);
    trim(&s, &n);
    if (parse_into(d, base, s, n) < 0)
        return bad_value(d, s, n, err, errlen);
    return 0;
}

/* The shortest text that reads back as the same double. */
static int format_double(double v, char *buf, size_t len)
{
    int k = 0;
    for (int prec = 1; prec <= 17; prec++) {
        k = snprintf(buf, len, "%.*g", prec, v);
        if (k < 0 || (size_t)k >= len)
            return -ENOSPC;
        if (strtod(buf, NULL) == v)
            break;
    }
    return k;
}

/* Writes the field's value as text. Returns its length or -ENOSPC. */
static int def_format(const struct config_def *d, const void *base,
                      char *buf, size_t len)
{
    const char *f = (const char *)base + d->off;
    int k = -1;

    switch (d->type) {
    case CT_INT:
        k = snprintf(buf, len, "%" PRId32, *(const int32_t *)(const void *)f);
        break;
    case CT_LONG:
        k = snprintf(buf, len, "%" PRId64, *(const int64_t *)(const void *)f);
        break;
    case CT_BOOL:
        k = snprintf(buf, len, "%s",
                     *(const bool *)(const void *)f ? "true" : "false");
        break;
    case CT_DOUBLE:
        return format_double(*(const double *)(const void *)f, buf, len);
    case CT_STRING:
    case CT_LIST:
        k = snprintf(buf, len, "%s", f);
        break;
    case CT_ENUM:
        k = snprintf(buf, len, "%s", d->values[*(const int *)(const void *)f]);
        break;
    case CT_FLAGS: {
        int mask = *(const int *)(const void *)f;
        size_t o = 0;
        if (len > 0)
            buf[0] = '\0';
        for (int i = 0; d->values[i]; i++) {
            if (!(mask & (1 << i)))
                continue;
            k = snprintf(buf + o, len - o, "%s%s", o ? "," : "", d->values[i]);
            if (k < 0 || (size_t)k >= len - o)
                return -ENOSPC;
            o += (size_t)k;
        }
        return (int)o;
    }
    }
    if (k < 0 || (size_t)k >= len)
        return -ENOSPC;
    return k;
}

static int kafka_type(const struct config_def *d)
{
    switch (d->type) {
    case CT_INT: return CONFIG_TYPE_INT;
    case CT_LONG: return CONFIG_TYPE_LONG;
    case CT_BOOL: return CONFIG_TYPE_BOOLEAN;
    case CT_DOUBLE: return CONFIG_TYPE_DOUBLE;
    case CT_LIST:
    case CT_FLAGS: return CONFIG_TYPE_LIST;
    case CT_STRING:
    case CT_ENUM: return CONFIG_TYPE_STRING;
    }
    return CONFIG_TYPE_UNKNOWN;
}

/* The tables must agree with the structs: field sizes match types, and a
 * topic setting has the type of the broker setting it inherits. */
static int tables_check(void)
{
    static const size_t sizes[] = {
        [CT_INT] = sizeof(int32_t), [CT_LONG] = sizeof(int64_t),
        [CT_BOOL] = sizeof(bool), [CT_DOUBLE] = sizeof(double),
        [CT_ENUM] = sizeof(int), [CT_FLAGS] = sizeof(int),
    };
    for (int i = 0; i < NBROKER + NTOPIC; i++) {
        const struct config_def *d = i < NBROKER ? &broker_defs[i]
                                                 : &topic_defs[i - NBROKER];
        if (sizes[d->type] != 0 && sizes[d->type] != d->size)
            return -EINVAL;
        if (i < NBROKER || !d->syn[0])
            continue;
        int b = find_def(broker_defs, NBROKER, d->syn[0]);
        if (b < 0 || broker_defs[b].type != d->type ||
            broker_defs[b].size != d->size)
            return -EINVAL;
    }
    return 0;
}

/* --- broker ------------------------------------------------------------ */

static bool bmask(const struct broker_config *c, int i)
{
    return i >= 0 && (c->set_mask[i / 64] >> (i % 64)) & 1;
}

bool broker_config_is_set(const struct broker_config *c, const char *key)
{
    return bmask(c, find_def(broker_defs, NBROKER, key));
}

/* Recomputes the values that depend on other settings. */
static void broker_resolve(struct broker_config *c)
{
    if (!broker_config_is_set(c, "log.dirs"))
        memcpy(c->log_dirs, c->log_dir, sizeof c->log_dirs);
    if (!broker_config_is_set(c, "advertised.listeners"))
        memcpy(c->advertised_listeners, c->listeners, sizeof c->listeners);
    if (!broker_config_is_set(c, "log.retention.ms")) {
        int64_t ms = broker_config_is_set(c, "log.retention.minutes")
                         ? (int64_t)c->log_retention_minutes * 60000
                         : (int64_t)c->log_retention_hours * 3600000;
        c->log_retention_ms = ms < 0 ? -1 : ms;
    }
    if (!broker_config_is_set(c, "log.roll.ms"))
        c->log_segment_ms = (int64_t)c->log_roll_hours * 3600000;
    if (!broker_config_is_set(c, "sluice.flush.policy"))
        c->flush_policy =
            broker_config_is_set(c, "log.flush.interval.messages") ||
                    broker_config_is_set(c, "log.flush.interval.ms")
                ? FLUSH_INTERVAL
                : FLUSH_ALWAYS;
}

int broker_config_defaults(struct broker_config *c)
{
    int rc = tables_check();
    memset(c, 0, sizeof *c);
    for (int i = 0; i < NBROKER && rc == 0; i++)
        if (broker_defs[i].def)
            rc = def_parse(&broker_defs[i], c, broker_defs[i].def, NULL, 0);
    broker_resolve(c);
    return rc;
}

int broker_config_set(struct broker_config *c, const char *key,
                      const char *value, char *err, size_t errlen)
{
    int i = find_def(broker_defs, NBROKER, key);
    if (i < 0) {
        seterr(err, errlen, "unknown config key %s", key ? key : "(null)");
        return -ENOENT;
    }
    int32_t old_id = c->node_id;
    int rc = def_parse(&broker_defs[i], c, value, err, errlen);
    if (rc < 0)
        return rc;
    /* broker.id and node.id are one setting: both given must agree. */
    const char *other = !strcmp(key, "broker.id") ? "node.id"
                        : !strcmp(key, "node.id") ? "broker.id" : NULL;
    if (other && broker_config_is_set(c, other) && c->node_id != old_id) {
        seterr(err, errlen, "%s: %" PRId32 " differs from %s=%" PRId32, key,
               c->node_id, other, old_id);
        c->node_id = old_id;
        return -EINVAL;
    }
    c->set_mask[i / 64] |= (uint64_t)1 << (i % 64);
    broker_resolve(c);
    return 0;
}

int broker_config_count(void)
{
    return NBROKER;
}

int broker_config_find(const char *key)
{
    return find_def(broker_defs, NBROKER, key);
}

int broker_config_describe(const struct broker_config *c, int i,
                           struct config_desc *d, char *buf, size_t buflen)
{
    if (i < 0 || i >= NBROKER)
        return -ENOENT;
    const struct config_def *def = &broker_defs[i];
    bool set = bmask(c, i);
    *d = (struct config_desc){
        .name = def->name,
        .doc = def->doc,
        .source = set ? CONFIG_SOURCE_STATIC_BROKER : CONFIG_SOURCE_DEFAULT,
        .type = kafka_type(def),
        .is_default = !set,
        .read_only = true,      /* no dynamic broker configs (yet) */
    };
    d->sensitive = (def->flags & CF_SENSITIVE) != 0;
    if (((def->flags & CF_NULLABLE) && !set) || d->sensitive)
        return 0;
    int k = def_format(def, c, buf, buflen);
    if (k < 0)
        return k;
    d->value = buf;
    return 0;
}

/* --- the .properties reader ---------------------------------------------- */

#define PROPS_LINE_MAX 8192

/* Reads one natural line (without its terminator: \n, \r or \r\n) to
 * buf[0..*len). Returns 1, 0 at the end of the file, -E2BIG or -EIO. */
static int read_natural(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int ch = getc(f);
    if (ch == EOF)
        return ferror(f) ? -EIO : 0;
    for (; ch != EOF && ch != '\n' && ch != '\r'; ch = getc(f)) {
        if (n + 1 >= cap)
            return -E2BIG;
        buf[n++] = (char)ch;
    }
    if (ch == '\r' && (ch = getc(f)) != '\n' && ch != EOF)
        ungetc(ch, f);
    *len = n;
    return ferror(f) ? -EIO : 1;
}

static size_t skip_ws(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
        i++;
    return i;
}

static bool continues(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && s[n - 1 - k] == '\\')
        k++;
    return k % 2 == 1;
}

/* Reads the next logical line: comments and blank lines skipped, leading
 * whitespace dropped, continuations (an odd number of trailing
 * backslashes) joined. *lineno counts natural lines; *first is where this
 * logical line began. Returns its length (buf NUL-terminated), 0 at the
 * end, or a negative errno. */
static int props_next(FILE *f, char *buf, size_t cap, int *lineno, int *first)
{
    size_t n, m;
    int rc;
    for (;;) {
        if ((rc = read_natural(f, buf, cap, &n)) <= 0)
            return rc;
        *first = ++*lineno;
        size_t s = skip_ws(buf, n);
        if (s == n || buf[s] == '#' || buf[s] == '!')
            continue;
        n -= s;
        memmove(buf, buf + s, n);
        while (continues(buf, n)) {
            n--;                                /* drop the backslash */
            if ((rc = read_natural(f, buf + n, cap - n, &m)) < 0)
                return rc;
            if (rc == 0)
                break;
            ++*lineno;
            s = skip_ws(buf + n, m);
            memmove(buf + n, buf + n + s, m - s);
            n += m - s;
        }
        buf[n] = '\0';
        return (int)n;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes Java escapes (\t \n \r \f \uXXXX, \x -> x) of s[0..n) in place
 * and NUL-terminates. Returns 0, or -EINVAL for a malformed \u. */
static int unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 == n) {
            s[o++] = c;
            continue;
        }
        c = s[++i];
        if (c != 'u') {
            s[o++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r'
                   : c == 'f' ? '\f' : c;
            continue;
        }
        unsigned cp = 0;
        for (int k = 0; k < 4; k++) {
            int h = i + 1 < n ? hexval(s[++i]) : -1;
            if (h < 0)
                return -EINVAL;
            cp = cp << 4 | (unsigned)h;
        }
        if (cp >= 0xd800 && cp <= 0xdfff)
            return -EINVAL;                     /* surrogates: unsupported */
        if (cp < 0x80) {
            s[o++] = (char)cp;
        } else if (cp < 0x800) {
            s[o++] = (char)(0xc0 | cp >> 6);
            s[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            s[o++] = (char)(0xe0 | cp >> 12);
            s[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
            s[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    s[o] = '\0';
    return 0;
}

/* Splits a logical line into key and value as java.util.Properties does:
 * the key ends at the first unescaped '=', ':' or whitespace; whitespace
 * and one '=' or ':' follow. Both are unescaped in place. */
static int props_split(char *line, size_t n, char **key, char **value)
{
    size_t klen = 0, vstart = n;
    bool sep = false, bs = false;
    for (; klen < n; klen++) {
        char c = line[klen];
        if ((c == '=' || c == ':') && !bs) {
            vstart = klen + 1;
            sep = true;
            break;
        }
        if ((c == ' ' || c == '\t' || c == '\f') && !bs) {
            vstart = klen + 1;
            break;
        }
        bs = c == '\\' ? !bs : false;
    }
    for (; vstart < n; vstart++) {
        char c = line[vstart];
        if (c == ' ' || c == '\t' || c == '\f')
            continue;
        if (sep || (c != '=' && c != ':'))
            break;
        sep = true;
    }
    *value = line + vstart;
    *key = line;
    if (unescape(line + vstart, n - vstart) < 0 || unescape(line, klen) < 0)
        return -EINVAL;
    return 0;
}

static void reportf(void (*report)(void *, const char *), void *ctx,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reportf(void (*report)(void *, const char *), void *ctx,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!report)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(ctx, msg);
}

/* Applies one logical line. Returns 0 to go on, or a negative errno. */
static int load_line(struct broker_config *c, char *line, size_t n,
                     const char *where,
                     void (*report)(void *, const char *), void *ctx)
{
    char err[320], *key, *value;
    if (props_split(line, n, &key, &value) < 0) {
        reportf(report, ctx, "%s: malformed \\uxxxx escape", where);
        return -EINVAL;
    }
    int rc = broker_config_set(c, key, value, err, sizeof err);
    if (rc < 0)
        reportf(report, ctx, "%s: %s", where, err);
    return rc == -ENOENT ? 0 : rc;          /* unknown keys do not abort */
}

int broker_config_load_file(struct broker_config *c, const char *path,
                            void (*report)(void *ctx, const char *msg),
                            void *ctx)
{
    char line[PROPS_LINE_MAX], where[300];
    int lineno = 0, first = 0, rc;

    FILE *f = fopen(path, "r");
    if (!f) {
        rc = -errno;
        reportf(report, ctx, "%s: %s", path, strerror(-rc));
        return rc;
    }
    while ((rc = props_next(f, line, sizeof line, &lineno, &first)) > 0) {
        snprintf(where, sizeof where, "%s:%d", path, first);
        if ((rc = load_line(c, line, (size_t)rc, where, report, ctx)) < 0)
            break;
    }
    if (rc == -E2BIG || rc == -EIO)
        reportf(report, ctx, "%s:%d: %s", path, lineno + 1,
                rc == -E2BIG ? "line too long" : "read error");
    fclose(f);
    return rc;
}

/* --- topics ------------------------------------------------------------ */

static bool bit(uint32_t mask, int i)
{
    return i >= 0 && (mask >> i) & 1;
}

bool topic_config_is_set(const struct topic_config *t, const char *key)
{
    return bit(t->set_mask, find_def(topic_defs, NTOPIC, key));
}

/* Explicit sluice.flush.policy, else interval when flush.* is set on the
 * topic, else the broker's policy. */
static void topic_resolve(struct topic_config *t)
{
    if (topic_config_is_set(t, "sluice.flush.policy"))
        return;
    t->flush_policy = topic_config_is_set(t, "flush.messages") ||
                              topic_config_is_set(t, "flush.ms")
                          ? FLUSH_INTERVAL
                          : t->broker_flush_policy;
}

/* Copies setting i's value from its broker synonym. */
static void topic_inherit(struct topic_config *t, int i,
                          const struct broker_config *b)
{
    const struct config_def *d = &topic_defs[i];
    bool inherited = false;
    if (!d->syn[0]) {                           /* a topic-only setting */
        def_parse(d, t, d->def, NULL, 0);
        t->inherited_mask &= ~(1u << i);
        return;
    }
    int j = find_def(broker_defs, NBROKER, d->syn[0]);
    if (j < 0)
        return;                                 /* see tables_check() */
    const struct config_def *bd = &broker_defs[j];
    memcpy((char *)t + d->off, (const char *)b + bd->off, d->size);
    for (int k = 0; k < 3 && d->syn[k]; k++)
        inherited |= broker_config_is_set(b, d->syn[k]);
    t->inherited_mask &= ~(1u << i);
    t->inherited_mask |= (uint32_t)inherited << i;
}

void topic_config_from_broker(const struct broker_config *b,
                              struct topic_config *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < NTOPIC; i++)
        topic_inherit(t, i, b);
    t->broker_flush_policy = b->flush_policy;
    topic_resolve(t);
}

int topic_config_set(struct topic_config *t, const char *key,
                     const char *value, char *err, size_t errlen)
{
    int i = find_def(topic_defs, NTOPIC, key);
    if (i < 0) {
        seterr(err, errlen, "unknown config key %s", key ? key : "(null)");
        return -ENOENT;
    }
    int rc = def_parse(&topic_defs[i], t, value, err, errlen);
    if (rc < 0)
        return rc;
    t->set_mask |= 1u << i;
    topic_resolve(t);
    return 0;
}

int topic_config_unset(struct topic_config *t, const char *key,
                       const struct broker_config *b)
{
    int i = find_def(topic_defs, NTOPIC, key);
    if (i < 0)
        return -ENOENT;
    topic_inherit(t, i, b);
    t->set_mask &= ~(1u << i);
    t->broker_flush_policy = b->flush_policy;
    topic_resolve(t);
    return 0;
}

int topic_config_count(void)
{
    return NTOPIC;
}

int topic_config_find(const char *key)
{
    return find_def(topic_defs, NTOPIC, key);
}

int topic_config_describe(const struct topic_config *t, int i,
                          struct config_desc *d, char *buf, size_t buflen)
{
    if (i < 0 || i >= NTOPIC)
        return -ENOENT;
    const struct config_def *def = &topic_defs[i];
    int source = bit(t->set_mask, i)         ? CONFIG_SOURCE_DYNAMIC_TOPIC
                 : bit(t->inherited_mask, i) ? CONFIG_SOURCE_STATIC_BROKER
                                                  : CONFIG_SOURCE_DEFAULT;
    *d = (struct config_desc){
        .name = def->name,
        .doc = def->doc,
        .synonym = def->syn[0],
        .source = source,
        .type = kafka_type(def),
        .is_default = source == CONFIG_SOURCE_DEFAULT,
    };
    int k = def_format(def, t, buf, buflen);
    if (k < 0)
        return k;
    d->value = buf;
    return 0;
}

const char *const *topic_config_synonyms(int i)
{
    return i >= 0 && i < NTOPIC ? topic_defs[i].syn : NULL;
}

void topic_config_to_log(const struct topic_config *t, struct log_config *out)
{
    log_config_defaults(out);
    out->segment_bytes = (uint64_t)t->segment_bytes;
    out->segment_ms = t->segment_ms;
    out->index_interval_bytes = (uint32_t)t->index_interval_bytes;
    out->retention_ms = t->retention_ms;
    out->retention_bytes = t->retention_bytes;
    out->flush = t->flush_policy == FLUSH_INTERVAL ? FLUSH_INTERVAL
                 : t->flush_policy == FLUSH_OS     ? FLUSH_OS
                                                   : FLUSH_ALWAYS;
    out->flush_messages = t->flush_messages;
    out->flush_ms = t->flush_ms;
    out->max_message_bytes = (uint32_t)t->max_message_bytes;
    out->log_append_time = t->timestamp_type == TIMESTAMP_LOG_APPEND_TIME;
    /* Only LZ4 is re-encoded by the broker; other codecs keep what the
     * producer sent (Kafka's compression.type=producer). */
    out->compress_lz4 = t->compression_type == COMPRESSION_LZ4;
    out->cleanup_delete = t->cleanup_policy & CLEANUP_DELETE;
    out->cleanup_compact = t->cleanup_policy & CLEANUP_COMPACT;
    out->min_cleanable_ratio = t->min_cleanable_dirty_ratio;
    out->min_compaction_lag_ms = t->min_compaction_lag_ms;
    out->max_compaction_lag_ms = t->max_compaction_lag_ms;
    out->delete_retention_ms = t->delete_retention_ms;
    /* Kafka's LogConfig.maxSegmentMs: on a compacted topic the active
     * segment rolls by max.compaction.lag.ms too, or it never gets clean. */
    if (out->cleanup_compact && t->max_compaction_lag_ms < out->segment_ms)
        out->segment_ms = t->max_compaction_lag_ms;
}

int topic_config_serialize(const struct topic_config *t, char *buf,
                           size_t buflen)
{
    size_t o = 0;
    if (buflen == 0)
        return -ENOSPC;
    buf[0] = '\0';
    for (int i = 0; i < NTOPIC; i++) {
        if (!bit(t->set_mask, i))
            continue;
        int k = snprintf(buf + o, buflen - o, "%s=", topic_defs[i].name);
        if (k < 0 || (size_t)k >= buflen - o)
            return -ENOSPC;
        o += (size_t)k;
        k = def_format(&topic_defs[i], t, buf + o, buflen - o);
        if (k < 0 || (size_t)k + 1 >= buflen - o)
            return -ENOSPC;
        o += (size_t)k;
        buf[o++] = '\n';
        buf[o] = '\0';
    }
    return (int)o;
}

int topic_config_deserialize(struct topic_config *t, const char *text,
                             size_t len, char *err, size_t errlen)
{
    struct topic_config tmp = *t;
    char key[64], value[CONFIG_VALUE_MAX];
    const char *p = text, *end = text + len;
    int line = 0, rc;

    for (; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end, *s = p;
        size_t n = (size_t)(stop - p);
        p = nl ? nl + 1 : end;
        trim(&s, &n);
        if (n == 0)
            continue;
        const char *eq = memchr(s, '=', n);
        size_t kn = eq ? (size_t)(eq - s) : 0, vn = eq ? n - kn - 1 : 0;
        if (!eq || kn >= sizeof key || vn >= sizeof value) {
            seterr(err, errlen, "topic config line %d: expected key=value",
                   line + 1);
            return -EINVAL;
        }
        memcpy(key, s, kn);
        key[kn] = '\0';
        memcpy(value, eq + 1, vn);
        value[vn] = '\0';
        if ((rc = topic_config_set(&tmp, key, value, err, errlen)) < 0)
            return rc;
    }
    *t = tmp;
    return 0;
}
