/* faultfs_cmd.h - the control commands of faultfs (faultfs.c), one text
 * line each, and the rule an "arm" command sets.
 *
 *   arm OPS ERRNO GLOB [from=OFFSET]
 *       OPS    read, write and/or fsync, comma-separated
 *       ERRNO  EIO, ENOSPC, EROFS, ENXIO or a number (1..4095)
 *       GLOB   fnmatch(3) pattern of paths under the mount, no leading
 *              slash ("feed-0/0*.log"); '*' matches '/' too
 *       from   only operations reaching at or past this file offset fail
 *              (reads and writes; an fsync always does)
 *   disarm     no rule: everything passes through
 *   stats      counts of operations seen and failed
 *
 * Pure parsing, no I/O: fuzzed by tests/fuzz/fuzz_faultfs_cmd.c. */
#ifndef SLUICE_FAULTFS_CMD_H
#define SLUICE_FAULTFS_CMD_H

#include <stddef.h>
#include <stdint.h>

#define FAULTFS_OP_READ 1u
#define FAULTFS_OP_WRITE 2u
#define FAULTFS_OP_FSYNC 4u
#define FAULTFS_GLOB_MAX 512

enum faultfs_verb { FAULTFS_ARM = 1, FAULTFS_DISARM, FAULTFS_STATS };

struct faultfs_rule {
    unsigned ops;                  /* FAULTFS_OP_*; 0: disarmed */
    int err;                       /* positive errno returned */
    uint64_t from;                 /* first file offset that fails */
    char glob[FAULTFS_GLOB_MAX];
};

struct faultfs_cmd {
    enum faultfs_verb verb;
    struct faultfs_rule rule;      /* FAULTFS_ARM */
};

/* Parses one command line (len bytes, no NUL needed, a trailing newline
 * allowed). 0, or -EINVAL with why (a static string) set. */
int faultfs_cmd_parse(const char *line, size_t len, struct faultfs_cmd *out,
                      const char **why);

/* Whether an operation op over [off, off + len) of path (relative to the
 * mount, no leading slash) fails under rule: 0, or the positive errno. */
int faultfs_rule_match(const struct faultfs_rule *rule, unsigned op, const char *path,
                       uint64_t off, uint64_t len);

#endif
