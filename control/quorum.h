/* quorum.h - the metadata quorum: canonical raft (Debian's libraft-dev)
 * driving the metadata log on the control thread.
 *
 * Every node runs one raft server, on the control thread, with raft's
 * libuv I/O backend (its own segment and snapshot files under
 * DATA/__sluice/raft) on a libuv loop that the control thread polls
 * beside its doorbell (quorum_fd, quorum_timeout_ms, quorum_run). The
 * state machine is the caller's: committed entries are handed to
 * ops->apply on every node, and ops->snapshot / ops->restore turn the
 * whole state into one buffer and back, so a restarted or new node
 * catches up from a snapshot plus the entries after it.
 *
 * Who votes (Kafka's settings, control/config.h):
 *   controller.quorum.voters unset   this node is the only voter; raft
 *                                    needs no network (a transport that
 *                                    never connects), which is the
 *                                    single-node broker's default; the
 *                                    same when it lists this node alone
 *   controller.quorum.voters set     its id@host:port entries are the
 *                                    voters; a node listed there needs
 *                                    "controller" in process.roles and
 *                                    listens on its entry; raft's TCP
 *                                    transport carries raft's own messages
 * Raft ids are node.id + 1 (raft reserves 0).
 *
 * Never: touches a ring, a shard or a log; it knows nothing of topics. */
#ifndef SLUICE_QUORUM_H
#define SLUICE_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config.h"

struct quorum;

struct quorum_ops {
    /* A committed entry this node did not propose (or any entry while the
     * log is replayed at start). 0 or a negative errno. */
    int (*apply)(void *ctx, const char *data, size_t len);
    /* The whole state, malloc'ed into *data. 0 or a negative errno
     * (-EBUSY: not now, raft tries again later). */
    int (*snapshot)(void *ctx, char **data, size_t *len);
    /* Replaces the whole state with a snapshot's. 0 or a negative errno. */
    int (*restore)(void *ctx, const char *data, size_t len);
};

/* Opens (creating if needed) dir, bootstraps a pristine one with the
 * voters of cfg, and starts raft: a snapshot and the entries after it are
 * applied before it returns when this node is the only voter. 0 or a
 * negative errno with err saying why. */
int quorum_open(struct quorum **out, const struct broker_config *cfg,
                const char *dir, const struct quorum_ops *ops, void *ctx,
                char *err, size_t errlen);
/* Stops raft (waits for its files to be closed) and frees everything. */
void quorum_close(struct quorum *q);

/* Proposes one entry and waits, turning the loop, until it is committed
 * and applied (the proposer's ops->apply is not called: its state has the
 * change already). 0; -ENOTCONN when this node is not the leader (or lost
 * leadership meanwhile); -EIO when the entry could not be written. */
int quorum_commit(struct quorum *q, const void *data, size_t len, char *err,
                  size_t errlen);

bool quorum_is_leader(struct quorum *q);
/* The raft id (node.id + 1) of the leader as this node knows it; 0 none. */
uint64_t quorum_leader(struct quorum *q);
/* Entries applied so far (raft's last applied index). */
uint64_t quorum_applied(struct quorum *q);

/* The loop: a descriptor to poll for reading, the longest wait before
 * quorum_run must be called (-1: none), and one non-blocking turn. */
int quorum_fd(struct quorum *q);
int quorum_timeout_ms(struct quorum *q);
void quorum_run(struct quorum *q);

/* How many voters the quorum has. */
int quorum_voters(const struct quorum *q);
/* A new leader commits a barrier of its own term; call after every turn
 * of the loop. */
void quorum_tick(struct quorum *q);
/* The metadata this node applied is the quorum's: a single voter at once;
 * a leader once its barrier is applied; a follower once it knows a leader
 * and has applied everything it knows is committed. */
bool quorum_ready(struct quorum *q);
/* On the leader: how long voter node_id (a node.id) has not been heard
 * from (no raft message received from it; a new leader counts from its
 * term's start), in ms (0 elsewhere, and for nodes that do not vote). */
int64_t quorum_silent_ms(struct quorum *q, int32_t node_id);
/* On the leader: whether anything listens at voter node_id's raft address
 * (its controller.quorum.voters entry), asked with a TCP connect on the
 * loop. The kernel of a machine whose process died answers a connect to
 * its closed port with a reset at once (SIGKILL closes every socket): that
 * is QUORUM_PROBE_REFUSED, the proof that no sluice runs there. A node
 * that is only slow still has its listening socket, whose kernel completes
 * the connection (QUORUM_PROBE_LISTENING); a cut link, a dead machine or
 * an address that is not numeric answer nothing conclusive
 * (QUORUM_PROBE_UNKNOWN), so only a session timeout may fence them.
 *
 * Call it every turn while the node is silent: the first call starts a
 * probe (QUORUM_PROBE_PENDING until it is answered, in at most a second);
 * a verdict counts while it is younger than every_ms and the voter has not
 * been heard from since it began, then the next call probes again. *fresh
 * is set the first time a verdict is returned in one silence. */
enum quorum_probe {
    QUORUM_PROBE_PENDING,
    QUORUM_PROBE_UNKNOWN,
    QUORUM_PROBE_LISTENING,
    QUORUM_PROBE_REFUSED,
};
enum quorum_probe quorum_probe(struct quorum *q, int32_t node_id, int64_t every_ms,
                               bool *fresh);
/* One turn of the loop, waiting at most timeout_ms for something to do
 * (start-up, before the control thread's own loop runs). */
void quorum_wait(struct quorum *q, int timeout_ms);

/* Tests: the next n appends to the local log fail as a full or broken
 * disk would make them fail. */
void quorum_fail_appends(struct quorum *q, int n);

#endif
