/* groups_private.h - the inside of consumer group membership, shared by
 * groups.c (groups, members, timers, List/Describe/DeleteGroups, the
 * interface) and group_join.c (the JoinGroup/SyncGroup/Heartbeat/
 * LeaveGroup state machine). Nothing else includes it. */
#ifndef SLUICE_GROUPS_PRIVATE_H
#define SLUICE_GROUPS_PRIVATE_H

#include "control/groups.h"

#define NEW_MEMBER_JOIN_TIMEOUT_MS 300000
#define KERR_UNKNOWN (-1)

enum gstate { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE };


struct proto {
    char *name;
    uint8_t *meta;
    int32_t len;
};

struct member {
    struct member *next;
    char *id, *instance_id, *client_id, *client_host;
    int32_t session_ms, rebalance_ms;
    int nprotocols;
    struct proto *protocols;
    uint8_t *assignment;
    int32_t assignment_len;
    struct ctl_msg *join, *sync;   /* held requests */
    int64_t heard_ms;
    bool is_new;
};

struct pending {                   /* after MEMBER_ID_REQUIRED */
    struct pending *next;
    char *id;
    int64_t deadline_ms;
};

struct group {
    struct group *next;
    char *id;
    enum gstate state;
    char *protocol_type, *protocol;
    int32_t generation;
    struct member *members, *leader;
    int nmembers;
    struct pending *pending;
    int64_t join_deadline_ms;      /* INT64_MAX: none */
    bool initial_delay, new_member_added;
    int32_t initial_remaining_ms;
};

struct groups {
    const struct broker_config *cfg;
    groups_answer_fn answer;
    void *ctx;
    struct groups_store store;
    struct group *groups;
    int held;
    uint64_t seq;
};

extern const char *const gp_state_names[];

/* groups.c */
bool gp_eq(const char *a, const char *b);
bool gp_empty(const char *s);
void gp_answer(struct groups *gs, struct ctl_msg *m);
/* Copies into m's arena; *ok becomes false when it is full. */
const char *gp_str(struct ctl_msg *m, const char *s, bool *ok);
struct ctl_bytes gp_bytes(struct ctl_msg *m, const uint8_t *p, int32_t len, bool *ok);
struct group *gp_group_find(struct groups *gs, const char *id);
struct group *gp_group_new(struct groups *gs, const char *id);
void gp_group_free(struct group *g);
void gp_group_remove(struct groups *gs, struct group *g);
void gp_protos_free(struct member *mb);
void gp_member_free(struct member *mb);
struct member *gp_member_find(struct group *g, const char *id);
struct member *gp_member_by_instance(struct group *g, const char *iid);
bool gp_fenced(struct group *g, const char *member_id, const char *iid);
struct pending **gp_pending_find(struct group *g, const char *id);
void gp_pending_remove(struct pending **pp);
const struct proto *gp_member_proto(const struct member *mb, const char *name);

/* group_join.c */
void gp_join_group(struct groups *gs, struct ctl_msg *m, int64_t now_ms);
void gp_sync_group(struct groups *gs, struct ctl_msg *m, int64_t now_ms);
void gp_heartbeat(struct groups *gs, struct ctl_msg *m, int64_t now_ms);
void gp_leave_group(struct groups *gs, struct ctl_msg *m, int64_t now_ms);
/* Ends a PreparingRebalance: members that did not rejoin go, the next
 * generation starts and every held JoinGroup is answered. */
void gp_complete_join(struct groups *gs, struct group *g, int64_t now_ms);
void gp_try_complete_join(struct groups *gs, struct group *g, int64_t now_ms);
/* Kafka's removeMemberAndUpdateGroup (leave, session expiry). */
void gp_remove_and_update(struct groups *gs, struct group *g, struct member *mb,
                          int64_t now_ms);

#endif
