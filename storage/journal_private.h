/* journal_private.h - the inside of the journal, shared by journal.c (run
 * time) and journal_replay.c (recovery), and what flush.c calls. Nothing
 * outside storage/ includes it. */
#ifndef SLUICE_JOURNAL_PRIVATE_H
#define SLUICE_JOURNAL_PRIVATE_H

#include "storage/journal.h"
#include "storage/log_private.h"

#define JREC_MAGIC 0x534c4a52u     /* "SLJR" */
#define JHDR_MAGIC 0x534c4a48u     /* "SLJH" */
#define JHDR_VERSION 1
#define JHDR_USED 64               /* bytes of a header slot in use */

/* A record's header; the partition directory's name, the batches and zero
 * padding to a multiple of 8 follow. */
#define JREC_OFF_MAGIC 0
#define JREC_OFF_CRC 4             /* CRC32C of [JREC_OFF_LSN, len) */
#define JREC_OFF_LSN 8
#define JREC_OFF_LEN 16            /* the whole record, a multiple of 8 */
#define JREC_OFF_KIND 20
#define JREC_OFF_NAME_LEN 22
#define JREC_OFF_LOG_ID 24
#define JREC_OFF_BASE 32           /* first offset of the batches */
#define JREC_OFF_END 40            /* one past their last */
#define JREC_OFF_BATCHES_LEN 48
#define JREC_HEADER 56

enum jrec_kind {
    JREC_BATCHES = 1,
    JREC_PAD = 2,                  /* skips to the end of its length */
};

/* One log unit a commit carries: what becomes durable when it is synced. */
struct jentry {
    struct log *log;
    int64_t end;                   /* one past the unit's last offset */
    uint64_t end_pos;              /* its end in seg */
    struct segment *seg;
    int64_t records;               /* offsets the unit holds */
};

/* A commit's buffer: records as the logs added them this turn. */
struct jcommit {
    uint8_t *buf;                  /* buf_bytes, block-aligned */
    uint64_t len;
    struct jentry *logs;           /* the units it carries */
    uint32_t nlogs, caplogs;
};

enum jcheckpoint { CP_IDLE, CP_SYNCING, CP_HEADER };

struct journal {
    char path[PATH_MAX];
    int fd;                        /* O_DIRECT */
    uint64_t size;                 /* of the region */
    uint64_t buf_bytes;            /* of a commit buffer: the largest commit */
    uint64_t head;                 /* next LSN to write */
    uint64_t tail;                 /* oldest LSN recovery reads */
    int error;                     /* sticky negative errno */
    struct jcommit commit[2];      /* commit[fill] fills; the other is in flight */
    int fill;
    bool inflight;
    bool resubmit;                 /* the commit in flight came back cancelled:
                                      journal_submit issues it again */
    int cancels;                   /* such returns in a row */
    uint64_t write_off;            /* file offsets of the commit in flight's */
    int64_t pad_off;               /* write and of its padding (-1: none) */
    int write_res;                 /* of the commit's writes */
    struct io_op pad_op, write_op, sync_op;
    struct iovec pad_iov, write_iov;
    uint8_t *pad_block;            /* the padding up to the end of the region */
    /* checkpoints */
    enum jcheckpoint cp;
    uint64_t cp_lsn;               /* the tail once it is done */
    int cp_pending;                /* logs it still waits for */
    int cp_inflight;               /* their fdatasyncs on the ring */
    struct log *listed;            /* logs with records since it began (jnl_next) */
    struct log *cp_logs;           /* logs it waits for (cp_next) */
    uint8_t *hdr_block;
    uint64_t hdr_seq;
    int hdr_res;
    struct io_op hdr_write_op, hdr_sync_op;
    struct iovec hdr_iov;
    struct journal_stats stats;
    struct flush_metrics *metrics; /* NULL: not timed */
    int64_t submit_ns;             /* of the commit in flight */
};

/* flush.c: copies the unit q of log into the filling commit. 0 (the
 * journal calls log_journal_synced when it is synced), -ENOSPC when there
 * is no room (the log syncs its own file), or the journal's error. */
int journal_add(struct journal *j, struct log *log, const struct log_batchq *q);

/* Takes log out of the journal's lists (it must have nothing in flight). */
void journal_detach(struct journal *j, struct log *log);

/* Shared with journal_replay.c and the fuzz target. */
void jrec_put_header(uint8_t *p, uint32_t len, uint16_t kind, uint16_t name_len,
                     uint64_t log_id, int64_t base, int64_t end, uint32_t batches_len);
void jrec_seal(uint8_t *p, uint64_t lsn);
void jhdr_put(uint8_t *p, uint64_t seq, uint64_t tail, uint64_t size);
int jhdr_get(const uint8_t *p, uint64_t *seq, uint64_t *tail, uint64_t *size);
/* Reads the region (after the header slots) of fd into buf. */
int jregion_read(int fd, uint8_t *buf, uint64_t size);

#endif
