/* control_txn.c - the control thread's side of the transaction
 * coordinator (control/txn.c): opening it under DATA/__sluice, the
 * commands it sends shards (CTL_TXN_MARKER, CTL_PRODUCER_ID_LIMIT), and
 * its part of each loop turn.
 *
 * Never: decides anything about transactions (txn.c does). */
#include "control/control_private.h"
#include "control/offsets.h"
#include "control/txn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Transaction times are wall-clock: start times outlive the process. */
int64_t control_txn_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void txn_answer(void *ctx, struct ctl_msg *m)
{
    control_post(ctx, m->shard, m);
}

static int txn_post_marker(void *ctx, int shard, const struct ctl_txn_marker *mk)
{
    struct control *c = ctx;
    struct ctl_cmd *cmd = control_cmd(c, CTL_TXN_MARKER, NULL, 0, mk->topic, mk->partition);
    if (!cmd)
        return -ENOMEM;
    cmd->msg.u.marker = *mk;
    cmd->msg.u.marker.topic = cmd->topic;
    cmd->msg.u.marker.result = 0;
    control_post(c, shard, &cmd->msg);
    return 0;
}

static void txn_announce_pids(void *ctx, int64_t limit)
{
    struct control *c = ctx;
    for (int i = 0; i < c->nshards; i++) {
        struct ctl_cmd *cmd = control_cmd(c, CTL_PRODUCER_ID_LIMIT, NULL, 0, NULL, 0);
        if (!cmd)
            return; /* the next block tells them */
        cmd->msg.u.pid_limit = limit;
        control_post(c, i, &cmd->msg);
    }
}

int control_txn_open(struct control *c, const char *data_dir)
{
    struct txn_options opt = {
        .node_id = c->cfg.node_id,
        .max_timeout_ms = c->cfg.transaction_max_timeout_ms,
        .abort_interval_ms = c->cfg.transaction_abort_interval_ms,
        .id_expiration_ms = c->cfg.transactional_id_expiration_ms,
        .expire_interval_ms = c->cfg.transaction_remove_interval_ms,
    };
    struct txn_env env = { .ctx = c, .answer = txn_answer, .post_marker = txn_post_marker,
                           .announce_pids = txn_announce_pids };
    char dir[4096], err[512];
    if (snprintf(dir, sizeof dir, "%s/__sluice/transactions", data_dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    int rc = txn_create(&c->txn, dir, &opt, &env, control_txn_now_ms(), err, sizeof err);
    if (rc < 0) {
        control_log("%s", err);
        return rc;
    }
    txn_set_metadata(c->txn, &c->md);
    txn_set_offsets(c->txn, c->offsets);
    offsets_set_txn(c->offsets, c->txn);
    return 0;
}

void control_txn_request(struct control *c, struct ctl_msg *m)
{
    txn_request(c->txn, m, control_txn_now_ms());
}

void control_txn_answered(struct control *c, struct ctl_cmd *cmd)
{
    if (cmd->msg.op == CTL_TXN_MARKER)
        txn_marker_done(c->txn, &cmd->msg.u.marker, control_txn_now_ms());
}

/* The turn's part: timers, then the log's records (before the offsets
 * log is flushed: a TxnOffsetCommit that added its group records that in
 * the transaction log, which must be durable first). */
void control_txn_turn(struct control *c)
{
    int64_t now = control_txn_now_ms();
    txn_tick(c->txn, now);
    txn_flush(c->txn, now);
}

int control_txn_timeout(struct control *c, int timeout_ms)
{
    int64_t next = txn_next_deadline(c->txn), now = control_txn_now_ms();
    if (next == INT64_MAX)
        return timeout_ms;
    if (next <= now)
        return 0;
    if (timeout_ms < 0 || next - now < timeout_ms)
        return (int)(next - now);
    return timeout_ms;
}

void control_txn_resume(struct control *c)
{
    txn_resume(c->txn, control_txn_now_ms());
    txn_flush(c->txn, control_txn_now_ms());
}
