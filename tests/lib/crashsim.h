/* crashsim.h - power loss, simulated the way SQLite's test6.c does it, over
 * the storage syscall table (storage/sys.h). Tests only.
 *
 * crashsim_install(root) swaps storage_sys for a table that passes every
 * call through to the real file system (so the code under test reads back
 * what it wrote, splices from its files, ...) and keeps a model of the
 * tree under root:
 *   - per file, the durable content (as of its last fsync/fdatasync, or of
 *     install) and the writes, truncations and extensions made since;
 *   - per directory, the creates, renames, unlinks, mkdirs and rmdirs
 *     made in it since its last fsync.
 * A sync on an io_uring (storage_sys.prep_fdatasync) counts at its
 * completion, covering what was written before it was prepared; a write
 * on an io_uring (storage_sys.prep_writev) happens when it is prepared
 * and reports its result at its completion.
 *
 * A power cut: crashsim_arm(n) cuts the power at the nth table call from
 * then on (that call does not happen); afterwards every call fails with
 * EIO (close still closes). The test then frees what it had open (every
 * descriptor of a file under root must be closed by then: a leak is
 * reported) and calls crashsim_power_cut(), which rewrites the tree as a
 * disk might have kept it - each unsynced write kept, dropped, or torn at
 * a random 512-byte boundary, independently of the others, each unsynced
 * directory change kept or lost - and makes that the new durable state.
 *
 * Before rewriting, it checks that the real tree is exactly the model's
 * current one: a file created or written under root without the table is
 * reported (it would escape the simulation). Files outside root pass
 * through untracked. Single-threaded. */
#ifndef SLUICE_TESTS_CRASHSIM_H
#define SLUICE_TESTS_CRASHSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crashsim_stats {
    uint64_t calls;        /* table calls seen */
    uint64_t cuts;         /* power cuts applied */
    uint64_t kills;        /* process deaths (crashsim_restart) */
    uint64_t points;       /* distinct crash points cut at (call stacks) */
    uint64_t sites;        /* distinct call stacks seen: potential points */
    uint64_t kept, torn, dropped;   /* unsynced writes, by fate */
    uint64_t dir_kept, dir_lost;    /* unsynced directory changes */
};

/* Installs the simulated table over storage_sys; everything under root
 * (which must exist) is taken as durable. 0 or a negative errno. */
int crashsim_install(const char *root, uint64_t seed);
/* Restores the table install found; the model is dropped. */
void crashsim_uninstall(void);

/* Leaves the file or subtree dir (and everything that will be in it) to
 * the real file system: nothing of it is modelled, checked or rewritten at
 * a cut, as if each write there were durable at once. For files whose I/O
 * does not go through storage_sys (a library's own). Up to 4. 0 or a
 * negative errno. */
int crashsim_exclude(const char *dir);

/* The power goes off at the nth table call from now (0: disarm). */
void crashsim_arm(uint64_t n);
/* The power goes off now. */
void crashsim_cut_now(void);
bool crashsim_is_cut(void);
/* Table calls since install. */
uint64_t crashsim_calls(void);

/* Applies the cut (see above) and turns the power back on. 0, or -1 with
 * err saying what was wrong (leaked descriptors, writes that bypassed the
 * table). Cuts the power first if it was on. */
int crashsim_power_cut(char *err, size_t errlen);

/* The process died at the cut but the machine did not (SIGKILL): the
 * same checks as crashsim_power_cut, nothing is lost, and what was not
 * synced stays unsynced - a later power cut may still drop it. */
int crashsim_restart(char *err, size_t errlen);

/* Where the last cut happened: the call and its stack, for a failure
 * message ("pwrite from 0x4a1b2c <- 0x4a0f00 ..."). */
const char *crashsim_cut_where(void);

void crashsim_get_stats(struct crashsim_stats *out);

#endif
