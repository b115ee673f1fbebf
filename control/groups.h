/* groups.h - consumer group membership on the control thread: Kafka's
 * classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with
 * GroupCoordinator/GroupMetadata semantics, and ListGroups,
 * DescribeGroups, DeleteGroups.
 *
 * Owns: every group's members, generation, protocol, leader and the
 * requests it holds (JoinGroup until the rebalance completes, a
 * follower's SyncGroup until the leader's). Committed offsets are not
 * here (control/offsets.h); membership does not survive a restart.
 * Never: touches wire bytes, sockets, or a clock of its own — the caller
 * passes now_ms, so tests drive it with an injected clock. */
#ifndef SLUICE_GROUPS_H
#define SLUICE_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

struct groups;

/* OffsetCommit/TxnOffsetCommit validation, Kafka 2.x's rules
 * (GroupCoordinator.doCommitOffsets): a commit with generation < 0 is
 * allowed when the group is unknown or has no members (a "simple"
 * consumer group, offsets only); otherwise FENCED_INSTANCE_ID (82) for a
 * static member id that was replaced, UNKNOWN_MEMBER_ID (25),
 * ILLEGAL_GENERATION (22), REBALANCE_IN_PROGRESS (27) while the group is
 * CompletingRebalance (the member has the new generation but not yet its
 * assignment). As in Kafka, a commit with the current generation during
 * PreparingRebalance succeeds: eager consumers commit from their
 * revocation callback there. A group that does not exist with a
 * generation >= 0: ILLEGAL_GENERATION. Returns 0 or the Kafka error. */
int groups_check_commit(struct groups *g, const char *group_id, const char *member_id,
                        const char *instance_id, int32_t generation);
/* True if the group exists and has members (DeleteGroups, OffsetDelete). */
bool groups_has_members(struct groups *g, const char *group_id);
/* The group's state name for DescribeGroups/ListGroups ("Empty",
 * "Stable", ...) or NULL if unknown. */
const char *groups_state(struct groups *g, const char *group_id);

/* ---- the rest: for control.c and the unit test ---- */

#include "control/config.h"
#include "control/ctl.h"

/* Kafka error codes of the group APIs. */
enum group_error {
    GERR_ILLEGAL_GENERATION = 22,
    GERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    GERR_INVALID_GROUP_ID = 24,
    GERR_UNKNOWN_MEMBER_ID = 25,
    GERR_INVALID_SESSION_TIMEOUT = 26,
    GERR_REBALANCE_IN_PROGRESS = 27,
    GERR_NON_EMPTY_GROUP = 68,
    GERR_GROUP_ID_NOT_FOUND = 69,
    GERR_MEMBER_ID_REQUIRED = 79,
    GERR_FENCED_INSTANCE_ID = 82,
};

/* How a held or immediate answer goes back (control_post in control.c). */
typedef void (*groups_answer_fn)(void *ctx, struct ctl_msg *m);

/* Where committed offsets live, so that DeleteGroups deletes them and
 * ListGroups/DescribeGroups see groups that only have offsets. Any hook
 * may be NULL. delete_group returns 0 if the group had offsets and they
 * are gone, GROUP_ID_NOT_FOUND (69) if it had none, another Kafka error
 * otherwise. */
struct groups_store {
    void *ctx;
    int (*delete_group)(void *ctx, const char *group_id);
    int (*list_groups)(void *ctx, void (*fn)(void *fnctx, const char *group_id),
                       void *fnctx);
};

/* NULL on -ENOMEM. cfg is read at each call (group.* settings). */
struct groups *groups_create(const struct broker_config *cfg, groups_answer_fn answer,
                             void *ctx);
/* Frees everything; messages still held are dropped, not answered (call
 * it after the shards stopped). */
void groups_destroy(struct groups *g);
void groups_set_store(struct groups *g, const struct groups_store *s);

/* Handles one of CTL_JOIN_GROUP ... CTL_DELETE_GROUPS: answers it (via
 * answer) now or holds it and answers later, from groups_tick or another
 * request. m's strings and bytes must stay valid until answered. */
void groups_request(struct groups *g, struct ctl_msg *m, int64_t now_ms);

/* Runs the timers due at now_ms (session expiry, rebalance timeout, the
 * initial rebalance delay). */
void groups_tick(struct groups *g, int64_t now_ms);

/* The earliest time groups_tick has work, or INT64_MAX. */
int64_t groups_next_deadline(const struct groups *g);

/* Messages held (waiting JoinGroup/SyncGroup), for tests. */
int groups_held(const struct groups *g);

#endif
