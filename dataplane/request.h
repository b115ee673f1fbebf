/* request.h - one Kafka request in flight on a shard, and what a handler
 * may do with it.
 *
 * The shard frames and decodes each request (header and body, with the
 * table-driven codec) into a struct request, then calls the API's handler.
 * A handler either answers at once with request_respond(), or keeps the
 * request and answers later (after an fdatasync, a long-poll wait, or a
 * round trip to the control thread). Responses leave a connection in
 * request order whatever order they are completed in, as Kafka requires.
 *
 * The decoded body, its strings and the request arena stay valid until the
 * request is answered; the frame bytes stay valid until then too (produce
 * batches are appended to the log straight from them). */
#ifndef SLUICE_REQUEST_H
#define SLUICE_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "control/ctl.h"
#include "dataplane/kafka/schema.h"

struct shard;
struct conn;
struct request;

typedef void (*request_ctl_done)(struct request *rq, struct ctl_msg *msg);

struct request {
    struct shard *shard;
    struct conn *conn;
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct kstr client_id;         /* from the header: a view into the frame */
    bool flexible;
    int64_t start_ns;              /* monotonic, when it was framed */
    void *body;                    /* the decoded request struct */
    struct kafka_arena arena;      /* lives as long as the request */
    /* private to the shard */
    struct request *next;
    void *priv;
    request_ctl_done ctl_done;
    struct ctl_msg ctl;            /* a control round trip, if any */
    uint8_t state;
};

/* Encodes resp (the API's response struct for rq's version) with its
 * response header and queues it on the connection. Returns 0 or a negative
 * errno (the connection is then closed). */
int request_respond(struct request *rq, const void *resp);

/* Sends rq->ctl (filled by the handler; op, union and an arena taken from
 * request_ctl_arena) to the control thread; done runs on this shard when
 * the answer comes back. Returns 0 or a negative errno. */
int request_post_ctl(struct request *rq, request_ctl_done done);

/* Carves an arena of len bytes for a control answer out of the request's
 * own arena. Returns 0 or -ENOMEM. */
int request_ctl_arena(struct request *rq, size_t len);

/* Makes sure at least n more bytes fit in the request's arena: when the
 * pooled one lacks them (a Metadata answer for thousands of partitions),
 * the arena continues on the heap, freed with the request; what was
 * allocated before stays valid. Returns 0 or -ENOMEM. */
int request_arena_reserve(struct request *rq, size_t n);

/* Zeroed memory from the request's arena (a valid pointer for n == 0);
 * NULL when the arena is full. */
void *request_alloc(struct request *rq, size_t n);

/* A NUL-terminated copy of s in the request's arena; *out is NULL for a
 * null string. A NUL byte inside s becomes DEL, which no topic name,
 * group id or config value accepts, so it cannot cut a name short.
 * Returns 0 or -ENOMEM. */
int request_cstr(struct request *rq, struct kstr s, const char **out);

/* A decoded array's element count, 0 for a null array. */
static inline int request_count(int32_t n)
{
    return n > 0 ? n : 0;
}

/* The metadata snapshot the shard currently uses (never NULL once the
 * shard serves). */
const struct md_snapshot *request_metadata(const struct request *rq);

/* Handlers of the admin APIs (dataplane/handle_admin.c). Each returns 0 or
 * a negative errno that closes the connection. */
int handle_create_topics(struct request *rq);
int handle_delete_topics(struct request *rq);
int handle_create_partitions(struct request *rq);
int handle_describe_configs(struct request *rq);
int handle_alter_configs(struct request *rq);
int handle_incremental_alter_configs(struct request *rq);

/* Consumer group membership (dataplane/handle_group.c), answered by the
 * control thread (control/groups.c), JoinGroup and SyncGroup possibly
 * after a rebalance. Same return convention. */
int handle_join_group(struct request *rq);
int handle_sync_group(struct request *rq);
int handle_heartbeat(struct request *rq);
int handle_leave_group(struct request *rq);
int handle_list_groups(struct request *rq);
int handle_describe_groups(struct request *rq);
int handle_delete_groups(struct request *rq);

/* Committed offsets (dataplane/handle_offsets.c, control/offsets.c): a
 * commit or delete is answered once durable. Same return convention. */
int handle_offset_commit(struct request *rq);
int handle_offset_fetch(struct request *rq);
int handle_offset_delete(struct request *rq);

/* SASL (dataplane/sasl.c) and SCRAM credentials (dataplane/handle_users.c,
 * answered by control/users.c). Same return convention. */
int handle_sasl_handshake(struct request *rq);
int handle_sasl_authenticate(struct request *rq);
int handle_describe_user_scram(struct request *rq);
int handle_alter_user_scram(struct request *rq);
/* ACLs (dataplane/handle_acls.c): SECURITY_DISABLED, no authorizer yet. */
int handle_describe_acls(struct request *rq);
int handle_create_acls(struct request *rq);
int handle_delete_acls(struct request *rq);

#endif
