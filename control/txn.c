/* txn.c - the transaction coordinator and producer id allocator (see
 * txn.h for the states and the life of a commit; txn_file.c for the log).
 *
 * Every request is decided at once against the in-memory state, which is
 * changed then; the records of the turn are written by txn_flush at the
 * end of the control-loop turn and every answer waits for that (a
 * transition in flight marks its id busy: concurrent requests get
 * CONCURRENT_TRANSACTIONS, as in Kafka). If the write fails the
 * coordinator fails for good (COORDINATOR_NOT_AVAILABLE until restart,
 * when the log is the truth again).
 *
 * The checks follow Kafka's TransactionCoordinator (handleInitProducerId,
 * prepareInitProducerIdTransit, handleAddPartitionsToTransaction,
 * handleVerifyPartitionsInTransaction, endTransaction), error for error. */
#include "control/txn_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/md_store.h"
#include "control/offsets.h"

#define KERR_NOT_ENOUGH_REPLICAS 19
#define KERR_COORDINATOR_NOT_AVAILABLE 15
#define KERR_INVALID_REQUEST 42
#define KERR_INVALID_PRODUCER_EPOCH 47
#define KERR_INVALID_TXN_STATE 48
#define KERR_INVALID_PRODUCER_ID_MAPPING 49
#define KERR_INVALID_TRANSACTION_TIMEOUT 50
#define KERR_CONCURRENT_TRANSACTIONS 51
#define KERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define KERR_PRODUCER_FENCED 90
#define KERR_TRANSACTIONAL_ID_NOT_FOUND 105
#define KERR_TRANSACTION_ABORTABLE 120

#define EPOCH_MAX INT16_MAX
#define MARKER_RETRY_MS 100

static const char *const state_names[TXN_NSTATES] = {
    "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort",
};

static bool epoch_exhausted(int16_t epoch)
{
    return epoch >= EPOCH_MAX - 1;
}

/* --- the table of transactional ids -------------------------------------- */

static uint64_t id_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
    return h;
}

struct txn *txn_find(const struct txn_coord *c, const char *id)
{
    if (!c->cap)
        return NULL;
    for (struct txn *t = c->tab[id_hash(id) & (c->cap - 1)]; t; t = t->hnext)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

static int grow(struct txn_coord *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 64;
    struct txn **nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return c->cap ? 0 : -ENOMEM; /* a full table still works */
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i], *next; t; t = next) {
            next = t->hnext;
            size_t b = id_hash(t->id) & (ncap - 1);
            t->hnext = nt[b];
            nt[b] = t;
        }
    free(c->tab);
    c->tab = nt;
    c->cap = ncap;
    return 0;
}

static char *copy_n(const char *s, size_t n);

struct txn *txn_get(struct txn_coord *c, const char *id, size_t len)
{
    char *copy = copy_n(id, len);
    if (!copy)
        return NULL;
    struct txn *t = txn_find(c, copy);
    if (t) {
        free(copy);
        return t;
    }
    if ((c->count >= c->cap && grow(c) < 0) || !(t = calloc(1, sizeof(*t)))) {
        free(copy);
        return NULL;
    }
    t->id = copy;
    t->pid = t->prev_pid = t->next_pid = -1;
    t->epoch = t->last_epoch = -1;
    t->start_ms = -1;
    size_t b = id_hash(copy) & (c->cap - 1);
    t->hnext = c->tab[b];
    c->tab[b] = t;
    c->count++;
    return t;
}

void txn_clear_members(struct txn *t)
{
    for (int i = 0; i < t->nparts; i++)
        free(t->parts[i].topic);
    for (int i = 0; i < t->ngroups; i++)
        free(t->groups[i]);
    t->nparts = t->ngroups = 0;
}

void txn_forget(struct txn_coord *c, struct txn *t)
{
    struct txn **link = &c->tab[id_hash(t->id) & (c->cap - 1)];
    while (*link != t)
        link = &(*link)->hnext;
    *link = t->hnext;
    c->count--;
    txn_clear_members(t);
    free(t->parts);
    free(t->groups);
    free(t->id);
    free(t);
}

static bool has_part(const struct txn *t, const char *topic, int32_t partition)
{
    for (int i = 0; i < t->nparts; i++)
        if (t->parts[i].partition == partition && strcmp(t->parts[i].topic, topic) == 0)
            return true;
    return false;
}

/* Room for one more element in *v (n used of *cap, elem bytes each). */
static int room_for_one(void **v, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 8;
    void *nv = realloc(*v, elem * (size_t)ncap);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

static char *copy_n(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

int txn_add_part(struct txn *t, const char *topic, size_t tlen, int32_t partition)
{
    char *copy;
    if (room_for_one((void **)&t->parts, t->nparts, &t->partcap, sizeof(*t->parts)) < 0 ||
        !(copy = copy_n(topic, tlen)))
        return -ENOMEM;
    t->parts[t->nparts++] = (struct txn_part){ copy, partition, TXN_PART_ADDED };
    return 0;
}

static bool has_group(const struct txn *t, const char *group)
{
    for (int i = 0; i < t->ngroups; i++)
        if (strcmp(t->groups[i], group) == 0)
            return true;
    return false;
}

int txn_add_group(struct txn *t, const char *group, size_t glen)
{
    char *copy;
    if (room_for_one((void **)&t->groups, t->ngroups, &t->groupcap, sizeof(*t->groups)) < 0 ||
        !(copy = copy_n(group, glen)))
        return -ENOMEM;
    t->groups[t->ngroups++] = copy;
    return 0;
}

/* --- held messages ------------------------------------------------------------ */

static int after(struct txn_coord *c, enum txn_after_kind kind, struct ctl_msg *m, struct txn *t)
{
    if (c->nafter == c->aftercap) {
        int cap = c->aftercap ? c->aftercap * 2 : 64;
        struct txn_after *v = realloc(c->after, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        c->after = v;
        c->aftercap = cap;
    }
    c->after[c->nafter++] = (struct txn_after){ kind, m, t };
    return 0;
}

static void answer(struct txn_coord *c, struct ctl_msg *m)
{
    c->env.answer(c->env.ctx, m);
}

/* Holds m until the turn's records are durable; answers it now (with
 * COORDINATOR_NOT_AVAILABLE set by the caller's fail) if it cannot. */
static bool hold(struct txn_coord *c, struct ctl_msg *m)
{
    return after(c, TXN_AFTER_ANSWER, m, NULL) == 0;
}

/* Writes t's new state into the turn's records; what it answers waits
 * for them (held). Transitions of one id in one turn stack up in file
 * order, so only a transaction being ended (its markers in flight) makes
 * others wait (busy). false on -ENOMEM. */
static bool record(struct txn_coord *c, struct txn *t, int64_t now_ms)
{
    t->update_ms = now_ms;
    return txn_file_put_state(c, t) == 0;
}

/* --- producer ids ---------------------------------------------------------------- */

/* Keeps at least half a block of durable ids ahead of next_pid, so that
 * every shard has heard of an id (CTL_PRODUCER_ID_LIMIT) long before a
 * client gets it. */
static void pids_refill(struct txn_coord *c)
{
    if (c->pid_end_pending - c->next_pid >= TXN_PID_BLOCK / 2)
        return;
    int64_t end = c->pid_end_pending + TXN_PID_BLOCK;
    if (txn_file_put_pids(c, end) == 0)
        c->pid_end_pending = end;
}

/* The next producer id, or -1 when none is durable yet (wait a flush). */
static int64_t pid_take(struct txn_coord *c)
{
    pids_refill(c);
    if (c->next_pid >= c->pid_end)
        return -1;
    return c->next_pid++;
}

/* --- InitProducerId ---------------------------------------------------------------- */

static void init_idempotent(struct txn_coord *c, struct ctl_msg *m)
{
    struct ctl_init_pid *r = &m->u.init_pid;
    int64_t pid = pid_take(c);
    r->out_epoch = 0;
    if (pid >= 0) {
        r->out_pid = pid;
        if (hold(c, m))
            return;
    } else if (after(c, TXN_AFTER_PID, m, NULL) == 0) {
        return;
    }
    r->error = KERR_COORDINATOR_NOT_AVAILABLE;
    answer(c, m);
}

/* Kafka's TransactionMetadata.prepareIncrementProducerEpoch: 0 or a code. */
static int bump_epoch(struct txn *t, const struct ctl_init_pid *r)
{
    if (r->pid < 0 || r->epoch < 0) {
        t->last_epoch = -1;
        t->epoch++;
        return 0;
    }
    if (t->epoch == -1 || r->epoch == t->epoch) {
        t->last_epoch = t->epoch;
        t->epoch++;
        return 0;
    }
    if (r->epoch == t->last_epoch)
        return 0; /* the retry of a bump the producer never heard of */
    return KERR_PRODUCER_FENCED;
}

static void start_markers(struct txn_coord *c, struct txn *t, int64_t now_ms);
static void prepare_end(struct txn_coord *c, struct txn *t, bool commit, bool tv2,
                        int64_t now_ms);

static void init_transactional(struct txn_coord *c, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_init_pid *r = &m->u.init_pid;
    size_t len = strlen(r->txn_id);
    if (len == 0) {
        r->error = KERR_INVALID_REQUEST;
        goto out;
    }
    if (r->timeout_ms <= 0 || r->timeout_ms > c->opt.max_timeout_ms) {
        r->error = KERR_INVALID_TRANSACTION_TIMEOUT;
        goto out;
    }
    struct txn *t = txn_find(c, r->txn_id);
    if (!t) {
        int64_t pid = pid_take(c);
        if (pid < 0) { /* no durable id yet: ask again next turn */
            r->error = KERR_CONCURRENT_TRANSACTIONS;
            goto held;
        }
        if (!(t = txn_get(c, r->txn_id, len))) {
            r->error = KERR_COORDINATOR_NOT_AVAILABLE;
            goto out;
        }
        t->pid = pid;
        t->state = TXN_EMPTY;
    }
    /* The producer id the client says it has (KIP-360, v3+) must be ours,
     * unless it is the one before a rotation retried, or we just began. */
    if (t->busy) {
        r->error = KERR_CONCURRENT_TRANSACTIONS;
        goto out;
    }
    if (r->pid >= 0 && t->epoch != -1 && r->pid != t->pid &&
        !(r->pid == t->prev_pid && epoch_exhausted(r->epoch))) {
        r->error = KERR_PRODUCER_FENCED;
        goto out;
    }
    switch (t->state) {
    case TXN_PREPARE_COMMIT:
    case TXN_PREPARE_ABORT:
        r->error = KERR_CONCURRENT_TRANSACTIONS;
        goto out;
    case TXN_ONGOING:
        /* Fence the old instance: bump the epoch, abort its transaction;
         * this client retries and gets the epoch after that. */
        t->epoch++;
        t->last_epoch = -1;
        prepare_end(c, t, false, false, now_ms);
        if (!record(c, t, now_ms) || after(c, TXN_AFTER_FENCED, m, t) < 0) {
            r->error = KERR_COORDINATOR_NOT_AVAILABLE;
            goto out;
        }
        r->error = KERR_CONCURRENT_TRANSACTIONS;
        return;
    default:
        break;
    }
    if (epoch_exhausted(t->epoch) && (r->epoch < 0 || r->epoch == t->epoch)) {
        int64_t pid = pid_take(c);
        if (pid < 0) {
            r->error = KERR_CONCURRENT_TRANSACTIONS;
            goto held;
        }
        t->prev_pid = r->pid >= 0 ? t->pid : -1;
        t->pid = pid;
        t->epoch = 0;
        t->last_epoch = -1;
    } else if ((r->error = (int16_t)bump_epoch(t, r)) != 0) {
        goto out;
    }
    t->timeout_ms = r->timeout_ms;
    t->state = TXN_EMPTY;
    t->start_ms = -1;
    t->tv2 = false;
    txn_clear_members(t);
    if (!record(c, t, now_ms)) {
        r->error = KERR_COORDINATOR_NOT_AVAILABLE;
        goto out;
    }
    r->out_pid = t->pid;
    r->out_epoch = t->epoch;
held:
    if (hold(c, m))
        return;
    r->error = KERR_COORDINATOR_NOT_AVAILABLE;
out:
    answer(c, m);
}

/* --- AddPartitionsToTxn, verification, AddOffsetsToTxn ----------------------------- */

static void fail_parts(struct ctl_add_partitions *r, int16_t err)
{
    r->error = err;
    for (int i = 0; i < r->npartitions; i++)
        if (!r->partitions[i].error)
            r->partitions[i].error = err;
}

/* The checks AddPartitions, AddOffsets and the verification share: the
 * id exists, the producer id and epoch are its own. 0 or a code. */
static int check_producer(const struct txn *t, int64_t pid, int16_t epoch)
{
    if (!t || t->pid != pid)
        return KERR_INVALID_PRODUCER_ID_MAPPING;
    if (t->epoch != epoch)
        return KERR_PRODUCER_FENCED;
    return 0;
}

/* Moves t into an ongoing transaction if it is not in one. */
static void begin(struct txn *t, int64_t now_ms, bool tv2)
{
    if (t->state == TXN_ONGOING)
        return;
    txn_clear_members(t);
    t->state = TXN_ONGOING;
    t->start_ms = now_ms;
    t->tv2 = tv2;
}

static bool partition_exists(const struct txn_coord *c, const char *topic, int32_t p)
{
    if (!c->md)
        return true;
    const struct md_live *l = md_store_find(c->md, topic);
    return l && l->state == MD_LIVE && p >= 0 && p < l->t.npartitions;
}

/* A partition whose leader is on another node. */
static bool led_elsewhere(const struct txn_coord *c, const char *topic, int32_t p)
{
    if (!c->md)
        return false;
    const struct md_live *l = md_store_find(c->md, topic);
    return l && l->state == MD_LIVE && p >= 0 && p < l->t.npartitions &&
           md_broker_node(l->t.partitions[p].leader) != c->opt.node_id;
}

static void verify(struct txn_coord *c, struct ctl_msg *m)
{
    struct ctl_add_partitions *r = &m->u.add_partitions;
    struct txn *t = txn_find(c, r->txn_id);
    int err = check_producer(t, r->pid, r->epoch);
    if (!err && (t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT))
        err = KERR_CONCURRENT_TRANSACTIONS;
    if (err) {
        fail_parts(r, (int16_t)err);
    } else {
        for (int i = 0; i < r->npartitions; i++) {
            struct ctl_txn_partition *p = &r->partitions[i];
            if (!p->error && (t->state != TXN_ONGOING || !has_part(t, p->topic, p->partition)))
                p->error = KERR_TRANSACTION_ABORTABLE;
        }
    }
    answer(c, m);
}

static void add_partitions(struct txn_coord *c, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_add_partitions *r = &m->u.add_partitions;
    if (!r->txn_id || !r->txn_id[0]) {
        fail_parts(r, KERR_INVALID_REQUEST);
        answer(c, m);
        return;
    }
    if (r->verify_only) {
        verify(c, m);
        return;
    }
    struct txn *t = txn_find(c, r->txn_id);
    int err = check_producer(t, r->pid, r->epoch);
    if (!err && (t->busy || t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT))
        err = KERR_CONCURRENT_TRANSACTIONS;
    if (err) {
        fail_parts(r, (int16_t)err);
        answer(c, m);
        return;
    }
    bool changed = t->state != TXN_ONGOING;
    begin(t, now_ms, r->add_implicitly);
    for (int i = 0; i < r->npartitions; i++) {
        struct ctl_txn_partition *p = &r->partitions[i];
        if (p->error || has_part(t, p->topic, p->partition))
            continue;
        if (!partition_exists(c, p->topic, p->partition)) {
            p->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (led_elsewhere(c, p->topic, p->partition)) {
            /* Not done yet: markers to another node (WriteTxnMarkers over
             * a peer connection) and verification from it. Refused, so
             * the client fails the transaction instead of waiting for
             * markers that cannot be written. */
            p->error = KERR_INVALID_REQUEST;
            continue;
        }
        if (txn_add_part(t, p->topic, strlen(p->topic), p->partition) < 0) {
            p->error = KERR_COORDINATOR_NOT_AVAILABLE;
            continue;
        }
        changed = true;
    }
    /* Held even when nothing changed: a record of t written earlier this
     * turn (which added them) must be durable before anyone writes to
     * those partitions, or a crash could leave data no marker will end. */
    if (changed && !record(c, t, now_ms))
        fail_parts(r, KERR_COORDINATOR_NOT_AVAILABLE);
    else if (hold(c, m))
        return;
    answer(c, m);
}

static void add_offsets(struct txn_coord *c, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_add_offsets *r = &m->u.add_offsets;
    struct txn *t = r->txn_id && r->txn_id[0] ? txn_find(c, r->txn_id) : NULL;
    if (!r->txn_id || !r->txn_id[0] || !r->group_id || !r->group_id[0])
        r->error = KERR_INVALID_REQUEST;
    else if ((r->error = (int16_t)check_producer(t, r->pid, r->epoch)) != 0)
        ;
    else if (t->busy || t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT)
        r->error = KERR_CONCURRENT_TRANSACTIONS;
    else if (t->state == TXN_ONGOING && has_group(t, r->group_id))
        ; /* already in: answer OK (after this turn's records) */
    else {
        begin(t, now_ms, false);
        if (txn_add_group(t, r->group_id, strlen(r->group_id)) < 0 || !record(c, t, now_ms))
            r->error = KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!hold(c, m)) {
        r->error = KERR_COORDINATOR_NOT_AVAILABLE;
        answer(c, m);
    }
}

int txn_check_offsets(struct txn_coord *c, const char *txn_id, int64_t pid, int16_t epoch,
                      const char *group_id, bool implicitly)
{
    struct txn *t = txn_id && txn_id[0] ? txn_find(c, txn_id) : NULL;
    if (c->failed)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (!txn_id || !txn_id[0])
        return KERR_INVALID_REQUEST;
    int err = check_producer(t, pid, epoch);
    if (err)
        return err;
    if (t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT)
        return KERR_CONCURRENT_TRANSACTIONS;
    if (t->state == TXN_ONGOING && has_group(t, group_id))
        return 0;
    if (!implicitly)
        return KERR_INVALID_TXN_STATE; /* AddOffsetsToTxn first */
    begin(t, t->update_ms, true);
    if (txn_add_group(t, group_id, strlen(group_id)) < 0 || txn_file_put_state(c, t) < 0)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    /* The offsets' own records go in the same turn, after this one, and
     * the offsets log is synced after the transaction log (control.c). */
    return 0;
}

/* --- EndTxn ------------------------------------------------------------------- */

/* PrepareCommit / PrepareAbort: the markers will carry t's epoch, which
 * v2 bumps here (KIP-890; a new producer id once it is exhausted). */
static void prepare_end(struct txn_coord *c, struct txn *t, bool commit, bool tv2,
                        int64_t now_ms)
{
    (void)now_ms;
    t->busy = true;
    t->state = commit ? TXN_PREPARE_COMMIT : TXN_PREPARE_ABORT;
    if (tv2 && t->epoch < EPOCH_MAX) {
        t->tv2 = true;
        t->last_epoch = t->epoch;
        t->epoch++;
        if (t->epoch == EPOCH_MAX && t->next_pid < 0)
            t->next_pid = pid_take(c); /* -1: none yet; taken at completion */
    }
    for (int i = 0; i < t->nparts; i++)
        t->parts[i].state = TXN_PART_ADDED;
    t->groups_done = t->ngroups == 0;
}

/* Kafka's endTransaction validity of the producer's epoch. With v2 the
 * epoch of a retry is one below ours (we bumped it), or the last epoch of
 * the producer id we rotated away from. */
static bool end_epoch_valid(const struct txn *t, int64_t pid, int16_t epoch)
{
    if (!t->tv2)
        return epoch == t->epoch;
    switch (t->state) {
    case TXN_ONGOING:
    case TXN_EMPTY:
        return epoch == t->epoch;
    case TXN_PREPARE_COMMIT:
    case TXN_PREPARE_ABORT:
        return t->epoch == epoch + 1;
    default: /* complete: a retry, or the next transaction's end */
        return t->epoch == epoch + 1 || (t->pid == pid && t->epoch == epoch) ||
               (t->prev_pid == pid && epoch == EPOCH_MAX - 1 && t->epoch == 0);
    }
}

/* With v2 the producer adds partitions by producing, so an abort may end a
 * transaction the coordinator never saw begin (the client dropped every
 * batch it had not sent): Kafka's endTransaction bumps the epoch then,
 * with no markers to write. Not for a retry, which carries the epoch
 * before the bump. */
static bool end_is_empty_abort(const struct txn *t, const struct ctl_end_txn *r)
{
    return r->tv2 && !r->commit && t->pid == r->pid && t->epoch == r->epoch &&
           (t->state == TXN_EMPTY || t->state == TXN_COMPLETE_COMMIT ||
            t->state == TXN_COMPLETE_ABORT);
}

static void end_txn(struct txn_coord *c, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_end_txn *r = &m->u.end_txn;
    struct txn *t = r->txn_id && r->txn_id[0] ? txn_find(c, r->txn_id) : NULL;
    r->out_pid = -1;
    r->out_epoch = -1;
    if (!r->txn_id || !r->txn_id[0]) {
        r->error = KERR_INVALID_REQUEST;
        goto out;
    }
    if (!t || (t->pid != r->pid && !(t->tv2 && t->prev_pid == r->pid))) {
        r->error = KERR_INVALID_PRODUCER_ID_MAPPING;
        goto out;
    }
    if (!end_epoch_valid(t, r->pid, r->epoch)) {
        r->error = KERR_PRODUCER_FENCED;
        goto out;
    }
    if (t->busy) {
        r->error = KERR_CONCURRENT_TRANSACTIONS;
        goto out;
    }
    if (t->state == TXN_ONGOING || end_is_empty_abort(t, r)) {
        prepare_end(c, t, r->commit, r->tv2, now_ms);
        if (!record(c, t, now_ms) || after(c, TXN_AFTER_MARKERS, m, t) < 0) {
            r->error = KERR_COORDINATOR_NOT_AVAILABLE;
            goto out;
        }
        return; /* answered once the markers are durable */
    }
    switch (t->state) {
    case TXN_COMPLETE_COMMIT:
    case TXN_COMPLETE_ABORT:
        /* A retry of an end that completed: the same answer again (v2: a
         * commit with the epoch after the bump has nothing to commit). */
        if ((t->state == TXN_COMPLETE_COMMIT) != r->commit ||
            (t->tv2 && r->tv2 && r->epoch == t->epoch)) {
            r->error = KERR_INVALID_TXN_STATE;
            goto out;
        }
        r->out_pid = t->pid;
        r->out_epoch = t->epoch;
        goto out;
    case TXN_PREPARE_COMMIT:
    case TXN_PREPARE_ABORT:
        r->error = (t->state == TXN_PREPARE_COMMIT) == r->commit ? KERR_CONCURRENT_TRANSACTIONS
                                                                 : KERR_INVALID_TXN_STATE;
        goto out;
    default:
        r->error = KERR_INVALID_TXN_STATE;
        goto out;
    }
out:
    if (!hold(c, m))
        answer(c, m);
}

/* --- markers ------------------------------------------------------------------------ */

static int owner_shard(const struct txn_coord *c, const char *topic, int32_t partition)
{
    if (!c->md)
        return 0;
    const struct md_live *l = md_store_find(c->md, topic);
    if (!l || l->state != MD_LIVE || partition < 0 || partition >= l->t.npartitions)
        return -1;
    return md_broker_shard(l->t.partitions[partition].leader);
}

static void complete(struct txn_coord *c, struct txn *t, int64_t now_ms);
static void maybe_complete(struct txn_coord *c, struct txn *t, int64_t now_ms);

/* Posts the markers not yet with a shard; completes when all are done. */
static void send_markers(struct txn_coord *c, struct txn *t, int64_t now_ms)
{
    bool commit = t->state == TXN_PREPARE_COMMIT;
    int pending = 0;
    for (int i = 0; i < t->nparts; i++) {
        struct txn_part *p = &t->parts[i];
        if (p->state == TXN_PART_DONE || p->state == TXN_PART_SENDING) {
            pending += p->state == TXN_PART_SENDING;
            continue;
        }
        int shard = owner_shard(c, p->topic, p->partition);
        if (shard < 0) {
            p->state = TXN_PART_DONE; /* deleted: nothing to mark */
            continue;
        }
        struct ctl_txn_marker mk = {
            .topic = p->topic, .partition = p->partition, .pid = t->pid, .epoch = t->epoch,
            .coordinator_epoch = 0, .commit = commit, .owner = t };
        if (c->env.post_marker(c->env.ctx, shard, &mk) < 0) {
            p->state = TXN_PART_RETRY;
            t->retry_ms = now_ms + MARKER_RETRY_MS;
            c->retry_pending = true;
            continue;
        }
        p->state = TXN_PART_SENDING;
        t->inflight++;
        pending++;
    }
    if (!t->groups_done && c->offsets) {
        /* The groups' marker: their pending offsets are applied (commit)
         * or dropped, durably, before the transaction completes. */
        if (offsets_txn_end(c->offsets, t->pid, commit) == 0 && offsets_flush(c->offsets) == 0)
            t->groups_done = true;
        else {
            t->retry_ms = now_ms + MARKER_RETRY_MS;
            c->retry_pending = true;
        }
    } else if (!c->offsets) {
        t->groups_done = true;
    }
    if (pending == 0)
        maybe_complete(c, t, now_ms);
}

static void start_markers(struct txn_coord *c, struct txn *t, int64_t now_ms)
{
    t->busy = true;
    send_markers(c, t, now_ms);
}

static void complete(struct txn_coord *c, struct txn *t, int64_t now_ms)
{
    t->state = t->state == TXN_PREPARE_COMMIT ? TXN_COMPLETE_COMMIT : TXN_COMPLETE_ABORT;
    if (t->tv2 && t->epoch == EPOCH_MAX) {
        int64_t pid = t->next_pid >= 0 ? t->next_pid : pid_take(c);
        if (pid >= 0) {
            t->prev_pid = t->pid;
            t->pid = pid;
            t->epoch = 0;
            t->last_epoch = -1;
            t->next_pid = -1;
        }
    }
    txn_clear_members(t);
    t->start_ms = -1;
    t->busy = false;
    struct ctl_msg *m = t->end_msg;
    t->end_msg = NULL;
    /* CompleteCommit need not be durable before the answer (a third
     * fdatasync per commit): a restart that finds PrepareCommit writes the
     * markers again, which changes nothing, and the transaction's next
     * record, which lets the producer write again, comes after this one
     * in the file. */
    t->update_ms = now_ms;
    if (txn_file_put_state(c, t) < 0)
        c->failed = true;
    if (m) {
        if (m->op == CTL_END_TXN) {
            m->u.end_txn.out_pid = t->pid;
            m->u.end_txn.out_epoch = t->epoch;
        }
        answer(c, m);
    }
}

/* Completes t once every marker is durable and its groups' too. */
static void maybe_complete(struct txn_coord *c, struct txn *t, int64_t now_ms)
{
    if (t->inflight > 0 || !t->groups_done)
        return;
    for (int i = 0; i < t->nparts; i++)
        if (t->parts[i].state != TXN_PART_DONE)
            return;
    complete(c, t, now_ms);
}

void txn_marker_done(struct txn_coord *c, const struct ctl_txn_marker *mk, int64_t now_ms)
{
    struct txn *t = mk->owner;
    if (t->inflight > 0)
        t->inflight--;
    for (int i = 0; i < t->nparts; i++) {
        struct txn_part *p = &t->parts[i];
        if (p->state != TXN_PART_SENDING || p->partition != mk->partition ||
            strcmp(p->topic, mk->topic) != 0)
            continue;
        if (mk->result < 0 || mk->result == 56 /* KAFKA_STORAGE_ERROR */ ||
            mk->result == 6 /* NOT_LEADER: moving */) {
            p->state = TXN_PART_RETRY; /* a full queue, a failing disk: again */
            t->retry_ms = now_ms + MARKER_RETRY_MS;
            c->retry_pending = true;
        } else {
            if (mk->result != 0 && mk->result != KERR_UNKNOWN_TOPIC_OR_PARTITION)
                fprintf(stderr, "sluice control: txn %s: marker on %s-%d refused (%d)\n",
                        t->id, p->topic, p->partition, mk->result);
            p->state = TXN_PART_DONE;
        }
        break;
    }
    maybe_complete(c, t, now_ms);
}

/* --- listing ------------------------------------------------------------------------ */

static bool wants(const struct ctl_list_txns *r, const struct txn *t, int64_t now_ms)
{
    bool ok = r->nstates == 0;
    for (int i = 0; !ok && i < r->nstates; i++)
        ok = strcmp(r->states[i], state_names[t->state]) == 0;
    if (ok && r->npids > 0) {
        ok = false;
        for (int i = 0; !ok && i < r->npids; i++)
            ok = r->pids[i] == t->pid;
    }
    if (ok && r->min_duration_ms >= 0)
        ok = t->start_ms >= 0 && now_ms - t->start_ms > r->min_duration_ms;
    return ok;
}

static int describe_one(struct ctl_arena *a, struct ctl_txn_state *s, const struct txn *t,
                        bool parts)
{
    s->txn_id = ctl_arena_strdup(a, t->id, strlen(t->id));
    s->pid = t->pid;
    s->epoch = t->epoch;
    s->state = state_names[t->state];
    s->timeout_ms = t->timeout_ms;
    s->start_ms = t->start_ms;
    if (!s->txn_id)
        return -ENOSPC;
    if (!parts || t->nparts == 0)
        return 0;
    s->partitions = ctl_arena_alloc(a, sizeof(*s->partitions) * (size_t)t->nparts);
    if (!s->partitions)
        return -ENOSPC;
    for (int i = 0; i < t->nparts; i++) {
        s->partitions[i].topic = ctl_arena_strdup(a, t->parts[i].topic,
                                                  strlen(t->parts[i].topic));
        s->partitions[i].partition = t->parts[i].partition;
        if (!s->partitions[i].topic)
            return -ENOSPC;
    }
    s->npartitions = t->nparts;
    return 0;
}

static void list_txns(struct txn_coord *c, struct ctl_msg *m, int64_t now_ms)
{
    struct ctl_list_txns *r = &m->u.list_txns;
    size_t need = 256;
    int n = 0;
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i]; t; t = t->hnext)
            if (wants(r, t, now_ms)) {
                n++;
                need += sizeof(struct ctl_txn_state) + strlen(t->id) + 16;
            }
    r->unknown = ctl_arena_alloc(&m->arena, sizeof(char *) * (size_t)(r->nstates + 1));
    r->txns = ctl_arena_alloc(&m->arena, sizeof(*r->txns) * (size_t)(n + 1));
    if (!r->unknown || !r->txns) {
        r->need = need + 8 * (size_t)r->nstates;
        answer(c, m);
        return;
    }
    for (int i = 0; i < r->nstates; i++) {
        bool known = false;
        for (int s = 0; s < TXN_NSTATES; s++)
            known |= strcmp(r->states[i], state_names[s]) == 0;
        if (!known)
            r->unknown[r->nunknown++] = r->states[i];
    }
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i]; t; t = t->hnext)
            if (wants(r, t, now_ms) && describe_one(&m->arena, &r->txns[r->ntxns++], t, false) < 0) {
                r->need = need;
                r->ntxns = 0;
                break;
            }
    answer(c, m);
}

static void describe_txns(struct txn_coord *c, struct ctl_msg *m)
{
    struct ctl_list_txns *r = &m->u.list_txns;
    r->txns = ctl_arena_alloc(&m->arena, sizeof(*r->txns) * (size_t)(r->nids + 1));
    size_t need = 256 + sizeof(*r->txns) * (size_t)r->nids;
    for (int i = 0; i < r->nids; i++) {
        const struct txn *t = r->ids[i] ? txn_find(c, r->ids[i]) : NULL;
        if (t)
            need += strlen(t->id) + 16 + (size_t)t->nparts * (sizeof(struct ctl_txn_partition) +
                                                              MD_TOPIC_NAME_MAX + 8);
    }
    if (!r->txns) {
        r->need = need;
        answer(c, m);
        return;
    }
    for (int i = 0; i < r->nids; i++) {
        struct ctl_txn_state *s = &r->txns[i];
        const struct txn *t = r->ids[i] && r->ids[i][0] ? txn_find(c, r->ids[i]) : NULL;
        s->txn_id = r->ids[i];
        s->pid = -1;
        s->epoch = -1;
        s->state = "";
        s->start_ms = -1;
        if (!r->ids[i] || !r->ids[i][0])
            s->error = KERR_INVALID_REQUEST;
        else if (!t)
            s->error = KERR_TRANSACTIONAL_ID_NOT_FOUND;
        else if (describe_one(&m->arena, s, t, true) < 0) {
            r->need = need;
            break;
        }
    }
    r->ntxns = r->nids;
    answer(c, m);
}

/* --- the entry points -------------------------------------------------------------- */

/* Answers m COORDINATOR_NOT_AVAILABLE (the client retries). */
static void answer_unavailable(struct txn_coord *c, struct ctl_msg *m)
{
    switch (m->op) {
    case CTL_INIT_PRODUCER_ID: m->u.init_pid.error = KERR_COORDINATOR_NOT_AVAILABLE; break;
    case CTL_ADD_PARTITIONS_TO_TXN:
        fail_parts(&m->u.add_partitions, KERR_COORDINATOR_NOT_AVAILABLE);
        break;
    case CTL_ADD_OFFSETS_TO_TXN: m->u.add_offsets.error = KERR_COORDINATOR_NOT_AVAILABLE; break;
    case CTL_END_TXN: m->u.end_txn.error = KERR_COORDINATOR_NOT_AVAILABLE; break;
    default: break;
    }
    answer(c, m);
}

void txn_request(struct txn_coord *c, struct ctl_msg *m, int64_t now_ms)
{
    if (c->failed && m->op != CTL_LIST_TXNS && m->op != CTL_DESCRIBE_TXNS) {
        answer_unavailable(c, m);
        return;
    }
    switch (m->op) {
    case CTL_INIT_PRODUCER_ID:
        m->u.init_pid.error = 0;
        m->u.init_pid.out_pid = -1;
        m->u.init_pid.out_epoch = -1;
        if (m->u.init_pid.txn_id)
            init_transactional(c, m, now_ms);
        else
            init_idempotent(c, m);
        return;
    case CTL_ADD_PARTITIONS_TO_TXN:
        add_partitions(c, m, now_ms);
        return;
    case CTL_ADD_OFFSETS_TO_TXN:
        m->u.add_offsets.error = 0;
        add_offsets(c, m, now_ms);
        return;
    case CTL_END_TXN:
        m->u.end_txn.error = 0;
        end_txn(c, m, now_ms);
        return;
    case CTL_LIST_TXNS:
        list_txns(c, m, now_ms);
        return;
    case CTL_DESCRIBE_TXNS:
        describe_txns(c, m);
        return;
    default:
        answer(c, m);
        return;
    }
}

/* The turn's records failed to land: every held message fails. */
static void fail_held(struct txn_coord *c)
{
    for (int i = 0; i < c->nafter; i++) {
        struct ctl_msg *m = c->after[i].m;
        if (!m)
            continue;
        answer_unavailable(c, m);
    }
    c->nafter = 0;
}

int txn_flush(struct txn_coord *c, int64_t now_ms)
{
    bool wrote = recfile_pending(&c->file);
    int64_t old_end = c->pid_end;
    if (wrote) {
        int rc = recfile_flush(&c->file);
        if (rc < 0) {
            c->failed = true;
            fail_held(c);
            return rc;
        }
        c->pid_end = c->pid_end_pending;
    }
    if (c->pid_end > old_end && c->env.announce_pids)
        c->env.announce_pids(c->env.ctx, c->pid_end);
    /* What waited for the records: answers, markers. Markers may add
     * records (completions) and held answers for the next turn. */
    int n = c->nafter;
    struct txn_after *v = c->after;
    c->after = NULL;
    c->nafter = c->aftercap = 0;
    for (int i = 0; i < n; i++) {
        struct txn_after *a = &v[i];
        switch (a->kind) {
        case TXN_AFTER_PID: {
            int64_t pid = pid_take(c);
            if (pid < 0) {
                if (after(c, TXN_AFTER_PID, a->m, NULL) == 0)
                    continue; /* the next block lands next turn */
                a->m->u.init_pid.error = KERR_COORDINATOR_NOT_AVAILABLE;
            } else {
                a->m->u.init_pid.out_pid = pid;
            }
            answer(c, a->m);
            break;
        }
        case TXN_AFTER_ANSWER:
            answer(c, a->m);
            break;
        case TXN_AFTER_FENCED:
            answer(c, a->m);
            start_markers(c, a->t, now_ms);
            break;
        case TXN_AFTER_MARKERS:
            a->t->end_msg = a->m;
            start_markers(c, a->t, now_ms);
            break;
        }
    }
    free(v);
    if (!recfile_pending(&c->file) && c->nafter == 0)
        txn_file_compact(c);
    return 0;
}

/* --- timers --------------------------------------------------------------------------- */

static void abort_expired(struct txn_coord *c, int64_t now_ms)
{
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i]; t; t = t->hnext) {
            if (t->state != TXN_ONGOING || t->busy || t->start_ms < 0 ||
                now_ms - t->start_ms <= t->timeout_ms)
                continue;
            fprintf(stderr, "sluice control: txn %s (producer %lld epoch %d) timed out after "
                    "%d ms: aborting it and fencing the producer\n", t->id,
                    (long long)t->pid, t->epoch, t->timeout_ms);
            /* Kafka: prepareFenceProducerEpoch, then abort with the new
             * epoch: the timed-out producer's next request is fenced. */
            if (!epoch_exhausted(t->epoch)) {
                t->epoch++;
                t->last_epoch = -1;
            }
            prepare_end(c, t, false, false, now_ms);
            if (!record(c, t, now_ms) || after(c, TXN_AFTER_MARKERS, NULL, t) < 0)
                c->failed = true;
        }
}

static void expire_ids(struct txn_coord *c, int64_t now_ms)
{
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i], *next; t; t = next) {
            next = t->hnext;
            bool idle = t->state == TXN_EMPTY || t->state == TXN_COMPLETE_COMMIT ||
                        t->state == TXN_COMPLETE_ABORT;
            if (!idle || t->busy || now_ms - t->update_ms < c->opt.id_expiration_ms)
                continue;
            if (txn_file_put_forget(c, t->id) == 0)
                txn_forget(c, t);
        }
}

void txn_tick(struct txn_coord *c, int64_t now_ms)
{
    if (c->failed)
        return;
    if (now_ms >= c->next_abort_ms) {
        c->next_abort_ms = now_ms + c->opt.abort_interval_ms;
        abort_expired(c, now_ms);
    }
    if (now_ms >= c->next_expire_ms) {
        c->next_expire_ms = now_ms + c->opt.expire_interval_ms;
        expire_ids(c, now_ms);
    }
    if (!c->retry_pending)
        return;
    c->retry_pending = false;
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i]; t; t = t->hnext) {
            if (t->state != TXN_PREPARE_COMMIT && t->state != TXN_PREPARE_ABORT)
                continue;
            bool retry = !t->groups_done;
            for (int k = 0; k < t->nparts; k++)
                retry |= t->parts[k].state == TXN_PART_RETRY;
            if (!retry || !t->busy)
                continue;
            if (now_ms < t->retry_ms) {
                c->retry_pending = true;
                continue;
            }
            for (int k = 0; k < t->nparts; k++)
                if (t->parts[k].state == TXN_PART_RETRY)
                    t->parts[k].state = TXN_PART_ADDED;
            send_markers(c, t, now_ms);
        }
}

int64_t txn_next_deadline(const struct txn_coord *c)
{
    int64_t next = c->next_abort_ms < c->next_expire_ms ? c->next_abort_ms : c->next_expire_ms;
    if (c->retry_pending) {
        for (size_t i = 0; i < c->cap; i++)
            for (struct txn *t = c->tab[i]; t; t = t->hnext)
                if (t->busy && t->retry_ms < next &&
                    (t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT))
                    next = t->retry_ms;
    }
    return next;
}

void txn_resume(struct txn_coord *c, int64_t now_ms)
{
    for (size_t i = 0; i < c->cap; i++)
        for (struct txn *t = c->tab[i]; t; t = t->hnext)
            if ((t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT) && !t->busy) {
                fprintf(stderr, "sluice control: txn %s: %s at start; writing its markers\n",
                        t->id, state_names[t->state]);
                for (int k = 0; k < t->nparts; k++)
                    t->parts[k].state = TXN_PART_ADDED;
                t->groups_done = t->ngroups == 0;
                start_markers(c, t, now_ms);
            }
}

/* --- create, destroy --------------------------------------------------------------- */

int txn_create(struct txn_coord **out, const char *dir, const struct txn_options *opt,
               const struct txn_env *env, int64_t now_ms, char *err, size_t errlen)
{
    struct txn_coord *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c)
        return -ENOMEM;
    c->opt = *opt;
    c->env = *env;
    c->file.fd = -1;
    int rc = recfile_open(&c->file, dir, "txn.log", "SLUICETX", 1, txn_file_apply, c, err, errlen);
    if (rc < 0) {
        txn_destroy(c);
        return rc;
    }
    /* A block of durable ids before the first request, so the first
     * producers need not wait for one. */
    if (c->next_pid < ctl_pid_base(opt->node_id)) /* this node's range (ctl.h) */
        c->next_pid = c->pid_end = ctl_pid_base(opt->node_id);
    c->pid_end_pending = c->pid_end;
    pids_refill(c);
    if ((rc = txn_flush(c, now_ms)) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", c->file.path, strerror(-rc));
        txn_destroy(c);
        return rc;
    }
    if (c->env.announce_pids)
        c->env.announce_pids(c->env.ctx, c->pid_end);
    c->next_abort_ms = now_ms + opt->abort_interval_ms;
    c->next_expire_ms = now_ms + opt->expire_interval_ms;
    *out = c;
    return 0;
}

void txn_destroy(struct txn_coord *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        while (c->tab[i])
            txn_forget(c, c->tab[i]);
    free(c->tab);
    free(c->after);
    recfile_close(&c->file);
    free(c);
}

void txn_set_metadata(struct txn_coord *c, const struct md_store *md)
{
    c->md = md;
}

void txn_set_offsets(struct txn_coord *c, struct offsets *o)
{
    c->offsets = o;
}

int64_t txn_next_pid(const struct txn_coord *c)
{
    return c->next_pid;
}

int txn_count(const struct txn_coord *c)
{
    return (int)c->count;
}

int txn_held(const struct txn_coord *c)
{
    return c->nafter;
}

int txn_compact(struct txn_coord *c)
{
    return txn_file_compact(c);
}
