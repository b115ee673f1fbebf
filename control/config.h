/* config.h - the broker's configuration (server.properties) and per-topic
 * configs, Kafka-style.
 *
 * Every setting that Kafka also has carries Kafka's name, type, default and
 * range; sluice's own settings are prefixed "sluice.". A setting is either
 * at its default or set explicitly; DescribeConfigs reports which, and a
 * topic setting that is not set on the topic inherits the broker's value as
 * Kafka does (retention.ms <- log.retention.ms, segment.bytes <-
 * log.segment.bytes, ...).
 *
 * Unknown keys are errors (-ENOENT) for the setters, and are reported, not
 * silently skipped, when a properties file is loaded. Values are parsed
 * strictly: a whole-string integer within range, true/false, or one of an
 * enum's values (case-sensitive, as Kafka's validators are).
 *
 * This module only parses, validates and describes; it never opens a log,
 * a socket or a thread, and it allocates nothing.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/log.h"

#define CONFIG_DIRS_MAX 4096       /* log.dirs, log.dir */
#define CONFIG_LISTENERS_MAX 256   /* listeners, advertised.listeners */
#define CONFIG_VALUE_MAX 4096      /* enough for any value's text */
#define CONFIG_VOTERS_MAX 1024     /* controller.quorum.voters */
#define CONFIG_RACK_MAX 128        /* broker.rack */
#define CONFIG_PATH_MAX 1024       /* ssl.*.location */
#define CONFIG_SECRET_MAX 256      /* ssl.*.password */

/* compression.type; the codecs keep the numbers of the batch attributes. */
enum compression_type {
    COMPRESSION_UNCOMPRESSED = 0,
    COMPRESSION_GZIP = 1,
    COMPRESSION_SNAPPY = 2,
    COMPRESSION_LZ4 = 3,
    COMPRESSION_ZSTD = 4,
    COMPRESSION_PRODUCER = 5,      /* keep whatever codec the producer used */
};

/* sluice.cleaner.mode */
enum cleaner_mode {
    CLEANER_MODE_THREAD = 0,
    CLEANER_MODE_SLICES = 1,
};

/* message.timestamp.type */
enum timestamp_type {
    TIMESTAMP_CREATE_TIME = 0,
    TIMESTAMP_LOG_APPEND_TIME = 1,
};

/* cleanup.policy is a set of these bits ("compact,delete" is both). */
enum cleanup_policy {
    CLEANUP_COMPACT = 1,
    CLEANUP_DELETE = 2,
};

/* process.roles is a set of these bits (Kafka's names). */
enum process_role {
    ROLE_BROKER = 1,
    ROLE_CONTROLLER = 2,
};

/* ssl.keystore.type, ssl.truststore.type: only PEM is read. */
enum config_store_type {
    STORE_JKS = 0,
    STORE_PKCS12 = 1,
    STORE_PEM = 2,
};

/* ssl.client.auth */
enum config_client_auth {
    CLIENT_AUTH_NONE = 0,
    CLIENT_AUTH_REQUESTED = 1,
    CLIENT_AUTH_REQUIRED = 2,
};

/* Where a described value comes from: Kafka's ConfigSource numbers. */
enum config_source {
    CONFIG_SOURCE_UNKNOWN = 0,
    CONFIG_SOURCE_DYNAMIC_TOPIC = 1,
    CONFIG_SOURCE_DYNAMIC_BROKER = 2,
    CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER = 3,
    CONFIG_SOURCE_STATIC_BROKER = 4,
    CONFIG_SOURCE_DEFAULT = 5,
};

/* A value's type as DescribeConfigs v3+ reports it (Kafka's ConfigType). */
enum config_kafka_type {
    CONFIG_TYPE_UNKNOWN = 0,
    CONFIG_TYPE_BOOLEAN = 1,
    CONFIG_TYPE_STRING = 2,
    CONFIG_TYPE_INT = 3,
    CONFIG_TYPE_SHORT = 4,
    CONFIG_TYPE_LONG = 5,
    CONFIG_TYPE_DOUBLE = 6,
    CONFIG_TYPE_LIST = 7,
};

/* One synonym of a described setting (DescribeConfigs v1+): a key and
 * value of one layer the value could come from. */
struct config_synonym {
    const char *name;
    const char *value;      /* NULL: no value */
    int source;             /* enum config_source */
};

/* One setting, described for DescribeConfigs. The strings point into the
 * static tables or into the caller's buffer and live as long as both. */
struct config_desc {
    const char *name;
    const char *value;      /* NULL: no value (Kafka's null) */
    const char *doc;        /* one line */
    const char *synonym;    /* topic settings: the broker key inherited */
    int source;             /* enum config_source */
    int type;               /* enum config_kafka_type */
    bool is_default;
    bool read_only;
    bool sensitive;
    /* by precedence, the value's own source first; filled by the control
     * thread (admin_config.c), which knows the dynamic layers; 0: only the
     * value itself is its synonym */
    int nsynonyms;
    const struct config_synonym *synonyms;
};

/* server.properties. Fields hold effective values: log_retention_ms is
 * already resolved from log.retention.ms/.minutes/.hours, and so on. */
struct broker_config {
    int32_t node_id;                        /* broker.id / node.id (0) */
    char listeners[CONFIG_LISTENERS_MAX];   /* PLAINTEXT://:9092 */
    char advertised_listeners[CONFIG_LISTENERS_MAX]; /* (= listeners) */
    char log_dirs[CONFIG_DIRS_MAX];         /* comma-separated */
    char log_dir[CONFIG_DIRS_MAX];          /* used if log.dirs is unset */
    int32_t num_partitions;                 /* 1 */
    int32_t default_replication_factor;     /* 1 */
    bool auto_create_topics_enable;         /* true */
    bool delete_topic_enable;               /* true */

    int32_t log_segment_bytes;              /* 1 GiB */
    int64_t log_segment_ms;                 /* log.roll.ms (7 days) */
    int32_t log_roll_hours;                 /* 168 */
    int64_t log_retention_ms;               /* 7 days; -1 unlimited */
    int32_t log_retention_minutes;          /* (null) */
    int32_t log_retention_hours;            /* 168 */
    int64_t log_retention_bytes;            /* -1 */
    int64_t log_retention_check_interval_ms; /* 300000 */
    int32_t log_index_interval_bytes;       /* 4096 */
    int32_t log_index_size_max_bytes;       /* 10 MiB */
    bool log_preallocate;                   /* false */
    int64_t log_segment_delete_delay_ms;    /* 60000; accepted */
    int64_t log_flush_interval_messages;    /* INT64_MAX */
    int64_t log_flush_interval_ms;          /* INT64_MAX */
    int log_message_timestamp_type;         /* enum timestamp_type */
    int compression_type;                   /* enum compression_type */
    int32_t message_max_bytes;              /* 1048588 */
    int32_t min_insync_replicas;            /* 1 */
    bool unclean_leader_election_enable;    /* false */

    int log_cleanup_policy;                 /* enum cleanup_policy bits */
    bool log_cleaner_enable;                /* true */
    int64_t log_cleaner_delete_retention_ms;  /* 1 day */
    int64_t log_cleaner_min_compaction_lag_ms; /* 0 */
    int64_t log_cleaner_max_compaction_lag_ms; /* INT64_MAX */
    double log_cleaner_min_cleanable_ratio; /* 0.5 */
    int64_t log_cleaner_dedupe_buffer_size; /* 128 MiB, split among shards */
    int64_t log_cleaner_backoff_ms;         /* 15000 */
    int cleaner_mode;                       /* sluice.cleaner.mode */

    int32_t socket_request_max_bytes;       /* 100 MiB */
    int32_t socket_send_buffer_bytes;       /* 100 KiB; -1 OS default */
    int32_t socket_receive_buffer_bytes;    /* 100 KiB; -1 OS default */
    int64_t connections_max_idle_ms;        /* 10 minutes */
    int32_t max_connections;                /* broker-wide; INT32_MAX */
    int32_t max_connections_per_ip;         /* INT32_MAX */
    int32_t queued_max_requests;            /* per connection; 500 */
    int32_t num_network_threads;            /* accepted, unused */
    int32_t num_io_threads;                 /* accepted, unused */
    int32_t num_recovery_threads_per_data_dir; /* accepted, unused */

    int32_t offsets_topic_replication_factor;  /* must be 1 */
    int32_t offsets_retention_minutes;      /* 10080 (7 days) */
    int32_t group_initial_rebalance_delay_ms; /* 3000 */
    int32_t group_min_session_timeout_ms;   /* 6000 */
    int32_t group_max_session_timeout_ms;   /* 1800000 */
    int32_t transaction_state_log_replication_factor; /* must be 1 */
    int32_t transaction_state_log_min_isr;  /* 1 */
    int32_t transaction_max_timeout_ms;     /* 900000 */
    int32_t transactional_id_expiration_ms; /* 7 days */
    int32_t transaction_abort_interval_ms;  /* 10 s */
    int32_t transaction_remove_interval_ms; /* 1 hour */
    int32_t producer_id_expiration_ms;      /* 1 day */
    int32_t producer_id_expiration_check_interval_ms; /* 10 minutes */

    /* the cluster (control/quorum.c) */
    int process_roles;                      /* enum process_role bits */
    char controller_quorum_voters[CONFIG_VOTERS_MAX]; /* id@host:port,...;
                                               (null): this node alone */
    char controller_listener_names[CONFIG_LISTENERS_MAX]; /* CONTROLLER */
    char broker_rack[CONFIG_RACK_MAX];      /* (null) */
    int32_t broker_session_timeout_ms;      /* 9000 */
    int32_t fence_probe_ms;                 /* 300; 0: off (cluster.c) */
    bool auto_leader_rebalance_enable;      /* true */
    int32_t leader_imbalance_check_interval_seconds; /* 300 */
    int32_t leader_imbalance_per_broker_percentage;  /* 10 */
    /* replication (dataplane/replica*.c) */
    int64_t replica_lag_time_max_ms;        /* 30000 */
    int32_t replica_fetch_wait_max_ms;      /* 500 */
    int32_t replica_fetch_max_bytes;        /* 1 MiB */
    int32_t replica_fetch_response_max_bytes; /* 10 MiB */
    int32_t replica_fetch_backoff_ms;       /* 1000 */
    int64_t replica_hw_checkpoint_interval_ms; /* 5000 */

    int32_t num_shards;                     /* sluice.shards (0: per core) */
    int flush_policy;                       /* sluice.flush.policy */
    int idle_strategy;                      /* sluice.idle (enum shard_idle) */
    char http_listen[CONFIG_LISTENERS_MAX]; /* sluice.http.listen ("": off) */
    int log_format;                         /* sluice.log.format (enum slog_format) */
    int log_level;                          /* sluice.log.level (enum slog_level) */
    int64_t journal_bytes;                  /* sluice.journal.bytes (0: none) */

    bool dpdk_enable;                       /* sluice.dpdk.enable (false) */
    char dpdk_eal_args[1024];               /* sluice.dpdk.eal.args */
    char dpdk_port[128];                    /* sluice.dpdk.port ("0") */
    int32_t dpdk_mempool_size;              /* sluice.dpdk.mempool.size */
    char dpdk_ip[32];                       /* sluice.dpdk.ip, A.B.C.D/N */
    int32_t dpdk_udp_port;                  /* sluice.dpdk.udp.port (9092) */
    int32_t dpdk_mtu;                       /* sluice.dpdk.mtu (1500) */

    /* security: listeners' protocols, TLS, SASL (dataplane/listeners.c) */
    char security_protocol_map[CONFIG_LISTENERS_MAX]; /* NAME:PROTOCOL,... */
    int ssl_keystore_type;                  /* enum config_store_type (JKS) */
    char ssl_keystore_location[CONFIG_PATH_MAX];
    char ssl_keystore_password[CONFIG_SECRET_MAX];
    char ssl_key_password[CONFIG_SECRET_MAX];
    int ssl_truststore_type;                /* enum config_store_type (JKS) */
    char ssl_truststore_location[CONFIG_PATH_MAX];
    char ssl_truststore_password[CONFIG_SECRET_MAX];
    int ssl_client_auth;                    /* enum config_client_auth (none) */
    char ssl_enabled_protocols[64];         /* TLSv1.2,TLSv1.3 */
    char ssl_cipher_suites[CONFIG_VALUE_MAX]; /* "": OpenSSL's defaults */
    char sasl_enabled_mechanisms[128];      /* PLAIN,SCRAM-SHA-256,SCRAM-SHA-512 */
    /* ACLs (security/acl.h, control/acls.c) */
    char authorizer_class_name[128];        /* "": no authorizer */
    char super_users[CONFIG_VALUE_MAX];     /* User:a;User:b */
    bool allow_everyone_if_no_acl_found;

    uint64_t set_mask[2];                   /* explicitly set, by index */
};

/* A topic's settings: inherited from the broker unless set on the topic. */
struct topic_config {
    int cleanup_policy;             /* enum cleanup_policy bits */
    int compression_type;           /* enum compression_type */
    int64_t retention_ms;
    int64_t retention_bytes;
    int32_t segment_bytes;
    int64_t segment_ms;
    int32_t segment_index_bytes;
    int32_t max_message_bytes;
    int timestamp_type;             /* enum timestamp_type */
    int64_t flush_messages;
    int64_t flush_ms;
    int32_t index_interval_bytes;
    int32_t min_insync_replicas;    /* acks=all needs this many in the ISR */
    int64_t delete_retention_ms;
    int64_t min_compaction_lag_ms;
    int64_t max_compaction_lag_ms;
    double min_cleanable_dirty_ratio;
    bool preallocate;
    int64_t file_delete_delay_ms;   /* accepted; see config.c */
    bool unclean_leader_election_enable;
    int flush_policy;               /* sluice.flush.policy (enum flush_policy) */
    int32_t capture_port;           /* sluice.capture.port (0: none) */
    char capture_group[16];         /* sluice.capture.group */
    char capture_sequence[32];      /* sluice.capture.sequence */
    char capture_retransmit[24];    /* sluice.capture.retransmit */
    int64_t capture_hold_ms;        /* sluice.capture.hold.ms */

    int broker_flush_policy;        /* the broker's, for re-resolving */
    uint32_t set_mask;              /* set on the topic, by index */
    uint32_t inherited_mask;        /* broker synonym set explicitly */
};

/* --- broker ------------------------------------------------------------ */

/* Fills c with the defaults, nothing set explicitly. Returns 0. */
int broker_config_defaults(struct broker_config *c);

/* Sets one setting from its text. Returns 0, -ENOENT for an unknown key
 * ("unknown config key X" in err) or -EINVAL for a bad value (err says what
 * was expected and what was given). c is unchanged on error. */
int broker_config_set(struct broker_config *c, const char *key,
                      const char *value, char *err, size_t errlen);

/* Loads a Java .properties file onto c (which holds defaults or earlier
 * settings). Unknown keys are passed to report ("path:line: unknown config
 * key X") and skipped; a bad value or an unreadable file is reported the
 * same way and returned (-EINVAL, -E2BIG for an overlong line, or the
 * negative errno of open/read). report may be NULL. */
int broker_config_load_file(struct broker_config *c, const char *path,
                            void (*report)(void *ctx, const char *msg),
                            void *ctx);

/* True if key was set explicitly (false for unknown keys too). */
bool broker_config_is_set(const struct broker_config *c, const char *key);

/* DescribeConfigs: settings are numbered 0..broker_config_count()-1.
 * broker_config_describe fills d for setting i, formatting its value into
 * buf (CONFIG_VALUE_MAX bytes always suffice). Returns 0, -ENOENT past the
 * end, or -ENOSPC when buf is too small. */
int broker_config_count(void);
int broker_config_find(const char *key);   /* index or -ENOENT */
int broker_config_describe(const struct broker_config *c, int i,
                           struct config_desc *d, char *buf, size_t buflen);

/* One entry of a listeners list ("NAME://host:port,..."); an IPv6 host is
 * given without its brackets, an empty host means all interfaces. */
struct config_listener {
    char name[32];
    char host[CONFIG_LISTENERS_MAX];
    int port;
};

/* Parses entry i of list. Returns 0, -ENOENT past the end, or -EINVAL. */
int config_listener_get(const char *list, int i, struct config_listener *out);

/* One entry of controller.quorum.voters ("id@host:port,..."), Kafka's
 * format; an IPv6 host is written [addr]:port and given without brackets. */
struct config_voter {
    int32_t id;
    char host[CONFIG_LISTENERS_MAX];
    int port;
};

/* Parses entry i of list. Returns 0, -ENOENT past the end, or -EINVAL. */
int config_voter_get(const char *list, int i, struct config_voter *out);

/* --- security (config_net.c) ---------------------------------------------- */

/* listener.security.protocol.map's protocols (Kafka's SecurityProtocol). */
enum config_protocol {
    PROTOCOL_PLAINTEXT = 0,
    PROTOCOL_SSL = 1,
    PROTOCOL_SASL_PLAINTEXT = 2,
    PROTOCOL_SASL_SSL = 3,
};

int config_check_protocol_map(const char *s);     /* NAME:PROTO,... */
int config_check_tls_protocols(const char *s);    /* TLSv1.2,TLSv1.3 */
int config_check_sasl_mechanisms(const char *s);  /* PLAIN,SCRAM-SHA-256,... */
int config_check_authorizer(const char *s);       /* Kafka's authorizer names */

/* The protocol listener name maps to in map: an enum config_protocol, or
 * -ENOENT when the map does not name it. */
int config_listener_protocol(const char *map, const char *name);

/* The protocol's name as Kafka spells it ("SASL_SSL"). */
const char *config_protocol_name(int protocol);

/* What a listener's host is advertised as (Kafka's rules): a wildcard
 * becomes "localhost", and so does loopback unless advertised explicitly;
 * an explicit empty host becomes the machine's name. */
void config_advertised_host(const char *host, bool explicit_adv, char *out, size_t len);

/* The advertised.listeners entry of listener name (NULL: any name) for
 * shard: the list names either one entry per shard (*per_shard set) or one
 * whose port shard i advertises plus i; a name missing from it is
 * advertised at its listeners address. Returns 0 or -ENOENT. */
int config_advertised_entry(const struct broker_config *c, const char *name, int nshards,
                            int shard, struct config_listener *out, bool *per_shard);

/* --- topics ------------------------------------------------------------ */

/* Fills t with the broker's defaults for a new topic, nothing set. */
void topic_config_from_broker(const struct broker_config *b,
                              struct topic_config *t);

/* Sets one topic setting. Returns 0, -ENOENT for an unknown key (the
 * protocol layer answers INVALID_CONFIG) or -EINVAL for a bad value; err
 * says which. t is unchanged on error. */
int topic_config_set(struct topic_config *t, const char *key,
                     const char *value, char *err, size_t errlen);

/* Returns key to the value inherited from b. Returns 0 or -ENOENT. */
int topic_config_unset(struct topic_config *t, const char *key,
                       const struct broker_config *b);

bool topic_config_is_set(const struct topic_config *t, const char *key);

/* DescribeConfigs for a topic, as for the broker. Sources: a value set on
 * the topic is DYNAMIC_TOPIC_CONFIG, one inherited from an explicit broker
 * setting STATIC_BROKER_CONFIG, otherwise DEFAULT_CONFIG. */
int topic_config_count(void);
int topic_config_find(const char *key);    /* index or -ENOENT */
int topic_config_describe(const struct topic_config *t, int i,
                          struct config_desc *d, char *buf, size_t buflen);
/* The broker keys topic setting i inherits from, most specific first
 * (retention.ms: log.retention.ms, .minutes, .hours); NULL-terminated
 * within 3 entries. NULL past the end. */
const char *const *topic_config_synonyms(int i);

/* The storage engine's view of t (log_config_defaults first, then the
 * topic's values; flush policy as resolved: explicit sluice.flush.policy,
 * else "interval" if flush.messages or flush.ms is set on the topic, else
 * the broker's). */
void topic_config_to_log(const struct topic_config *t, struct log_config *out);

/* The settings set on t as "key=value\n" lines, NUL-terminated. Returns
 * the length without the NUL, or -ENOSPC. */
int topic_config_serialize(const struct topic_config *t, char *buf,
                           size_t buflen);

/* Applies "key=value\n" lines (as written by topic_config_serialize) onto
 * t, which normally comes from topic_config_from_broker. Blank lines are
 * skipped. Returns 0 or the first error of topic_config_set (with err). */
int topic_config_deserialize(struct topic_config *t, const char *text,
                             size_t len, char *err, size_t errlen);

/* --- the DPDK receive path's settings (config_net.c) --------------------- */

/* Well-formedness checks of the string settings (0 or -EINVAL). */
int config_check_ipv4_cidr(const char *s);        /* A.B.C.D/N, or empty */
int config_check_multicast(const char *s);        /* 224.0.0.0/4, or empty */
int config_check_ipv4_port(const char *s);        /* A.B.C.D:PORT, or empty */
int config_check_capture_sequence(const char *s); /* see below */

/* Parsed forms; addresses and ports in host order. Return 0, or -EINVAL
 * (-ENOENT for an empty string). */
int config_parse_ipv4_cidr(const char *s, uint32_t *addr, int *prefix);
int config_parse_ipv4_port(const char *s, uint32_t *addr, uint16_t *port);

enum capture_seq_kind {
    CAPTURE_SEQ_NONE,               /* no sequence: every datagram stored */
    CAPTURE_SEQ_MOLDUDP64,          /* Nasdaq's MoldUDP64 header */
    CAPTURE_SEQ_FIELD,              /* OFFSET:WIDTH:be|le, one per datagram */
};

/* A capture topic as the receive path sees it. */
struct capture_config {
    uint16_t port;                  /* 0: not a capture topic */
    uint32_t group;                 /* 0: unicast to the port's address */
    enum capture_seq_kind seq;
    uint16_t seq_offset;
    uint8_t seq_width;              /* 1, 2, 4 or 8 bytes */
    bool seq_little_endian;
    uint32_t retransmit_ip;         /* 0: none */
    uint16_t retransmit_port;
    int64_t hold_ms;
};

void topic_config_to_capture(const struct topic_config *t,
                             struct capture_config *out);

#endif
