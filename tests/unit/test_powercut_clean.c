/* test_powercut_clean.c - compaction and DeleteRecords lose nothing
 * acknowledged at a power cut (tests/lib/crashsim.h).
 *
 * Each round writes a keyed log (small segments, every codec), acks every
 * batch once durable, sometimes cleans it fully first (so that the clean
 * under test groups and rewrites cleaned segments again) and sometimes
 * moves its start with DeleteRecords and its checkpoint. Then it cuts the
 * power at a random storage call of a clean - writing the .cleaned files,
 * their fsyncs, the .swap renames, the unlinks of merged sources, the
 * final renames, the directory fsyncs - or, when the clean finished
 * first, during the appends that follow it. The files are rewritten as a
 * disk may have kept them (unsynced writes dropped, torn or kept; unsynced
 * directory changes kept or lost).
 *
 * After each cut the log must open, hold no .cleaned or .swap file, serve
 * every offset no more than once and every record unchanged at its offset
 * (value n at offset n), reach at least the acknowledged end, start no
 * lower than the last durable DeleteRecords, and hold for every key its
 * latest acknowledged record (or a later one). A full clean afterwards
 * must leave one record per key below the active segment.
 *
 * SLUICE_POWERCUT_CLEAN_ROUNDS (default 300) and SLUICE_POWERCUT_SEED
 * (default: the time) for longer runs or a replay. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <time.h>

#include "tests/lib/crashsim.h"
#include "tests/lib/powercut_run.h"
#include "cleaner_fixture.h"
#include "storage_fixture.h"

#define KEYS_MAX 64
#define RECORDS_MAX 8192

struct world {
    char *dir;
    struct io_uring ring;
    struct log_config cfg;
    uint64_t rng;
    /* the round's log and what was acknowledged of it */
    struct log *log;
    int64_t next;                  /* next offset to append */
    int64_t acked_end;             /* everything below was acknowledged */
    int64_t acked_start;           /* a DeleteRecords whose checkpoint returned */
    int64_t latest[KEYS_MAX];      /* latest acknowledged offset per key, -1 */
    int nkeys;
    /* totals */
    uint64_t clean_calls;          /* the most storage calls a clean made */
    uint64_t cut_in_clean, cut_after_clean, deletes, records_checked;
};

static uint64_t rnd(struct world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* n batches of 4 records, value = offset, keys random; each acknowledged
 * once durable. Stops at the first failure (the power went off). */
static void fill(struct world *w, int n)
{
    for (int i = 0; i < n && !crashsim_is_cut(); i++) {
        int keys[4], vals[4];
        for (int j = 0; j < 4; j++) {
            keys[j] = (int)(rnd(w) % (uint64_t)w->nkeys);
            vals[j] = (int)(w->next + j);
        }
        uint8_t b[8192];
        size_t len = make_batch(b, sizeof(b), 4, keys, vals, (int)(rnd(w) % 5), 0, -1);
        struct log_append_result res;
        if (fixture_append_sync(w->log, &w->ring, b, len, NOW, &res) < 0)
            return;
        assert_int_equal(res.base_offset, w->next);
        for (int j = 0; j < 4; j++)
            w->latest[keys[j]] = w->next + j;
        w->next += 4;
        w->acked_end = w->next;
    }
}

/* A clean as the cleaner thread runs it: 0, -EAGAIN (nothing to do) or
 * the job's error. */
static int clean(struct world *w)
{
    struct clean_job *job;
    int rc = log_clean_begin(w->log, NOW, 1 << 20, &job);
    if (rc < 0)
        return rc;
    clean_job_run(job);
    return log_clean_finish(w->log, job, NOW);
}

static void clean_fully(struct world *w)
{
    for (int i = 0; i < 10 && log_clean_needed(w->log, NOW); i++) {
        uint64_t before = crashsim_calls();
        assert_int_equal(clean(w), 0);
        if (crashsim_calls() - before > w->clean_calls)
            w->clean_calls = crashsim_calls() - before;
    }
}

/* DeleteRecords to a random offset below the end, made durable the way
 * the cleaner thread does before the answer. */
static void delete_records(struct world *w)
{
    int64_t low, to = (int64_t)(rnd(w) % (uint64_t)(w->acked_end / 2 + 1));
    assert_int_equal(log_delete_records(w->log, to, &low), 0);
    assert_int_equal(log_start_checkpoint_write(log_dir(w->log), low), 0);
    w->acked_start = low;
    w->deletes++;
}

static void power_off(struct world *w)
{
    char err[512];
    crashsim_cut_now();
    for (int i = 0; i < 1000 && log_flush_pending(w->log) && !log_error(w->log); i++) {
        log_flush_submit(w->log, &w->ring, NOW);
        fixture_reap_ready(&w->ring);
    }
    fixture_reap_ready(&w->ring);
    log_close(w->log); /* after a cut it fails, and frees */
    w->log = NULL;
    if (crashsim_power_cut(err, sizeof(err)) < 0)
        fail_msg("%s (cut at %s)", err, crashsim_cut_where());
}

static void check_no_swap_files(struct world *w)
{
    DIR *d = opendir(log_dir(w->log));
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".cleaned") || strstr(de->d_name, ".swap"))
            fail_msg("%s left after recovery (cut at %s)", de->d_name, crashsim_cut_where());
    closedir(d);
}

/* What recovery must give back (see the top comment). */
static void check_recovered(struct world *w)
{
    const char *where = crashsim_cut_where();
    check_no_swap_files(w);
    if (log_durable_end(w->log) < w->acked_end)
        fail_msg("end %" PRId64 " below the acknowledged %" PRId64 " (cut at %s)",
                 log_durable_end(w->log), w->acked_end, where);
    if (log_start_offset(w->log) < w->acked_start)
        fail_msg("start %" PRId64 " below the durable DeleteRecords %" PRId64 " (cut at %s)",
                 log_start_offset(w->log), w->acked_start, where);
    struct seen *r = calloc(RECORDS_MAX, sizeof(*r));
    int n = read_log(w->log, r, RECORDS_MAX);
    int64_t newest[KEYS_MAX];
    for (int k = 0; k < KEYS_MAX; k++)
        newest[k] = -1;
    for (int i = 0; i < n; i++) {
        if (r[i].val != (int)r[i].offset)
            fail_msg("offset %" PRId64 " holds value %d (cut at %s)", r[i].offset, r[i].val,
                     where);
        if (i > 0 && r[i].offset <= r[i - 1].offset)
            fail_msg("offset %" PRId64 " served after %" PRId64 " (cut at %s)", r[i].offset,
                     r[i - 1].offset, where);
        assert_true(r[i].key >= 0 && r[i].key < w->nkeys);
        newest[r[i].key] = r[i].offset;
    }
    for (int k = 0; k < w->nkeys; k++)
        if (w->latest[k] >= log_start_offset(w->log) && newest[k] < w->latest[k])
            fail_msg("key %d: latest acknowledged offset %" PRId64 " lost, newest kept %"
                     PRId64 " (cut at %s)", k, w->latest[k], newest[k], where);
    w->records_checked += (uint64_t)n;
    free(r);
}

/* Below the active segment one record per key once cleaned fully. */
static void check_clean(struct world *w)
{
    clean_fully(w);
    struct seen *r = calloc(RECORDS_MAX, sizeof(*r));
    int n = read_log(w->log, r, RECORDS_MAX);
    bool seen[KEYS_MAX] = { false };
    for (int i = 0; i < n && r[i].offset < log_active_base(w->log); i++) {
        assert_false(seen[r[i].key]);
        seen[r[i].key] = true;
    }
    free(r);
}

static void run_round(struct world *w, int round)
{
    char name[32];
    snprintf(name, sizeof(name), "table%d", round);
    w->nkeys = 5 + (int)(rnd(w) % (KEYS_MAX - 5));
    for (int k = 0; k < KEYS_MAX; k++)
        w->latest[k] = -1;
    w->next = w->acked_end = w->acked_start = 0;
    assert_int_equal(log_open(&w->log, w->dir, name, 0, &w->cfg, NOW), 0);
    fill(w, 80 + (int)(rnd(w) % 160));
    if (rnd(w) % 2) {
        clean_fully(w);
        fill(w, 40 + (int)(rnd(w) % 80));
    }
    if (rnd(w) % 4 == 0)
        delete_records(w);
    /* Anywhere in the clean; some cuts land after it, in the appends. */
    crashsim_arm(1 + rnd(w) % (w->clean_calls + w->clean_calls / 8 + 1));
    clean(w);
    if (crashsim_is_cut()) {
        w->cut_in_clean++;
    } else {
        fill(w, 8);
        w->cut_after_clean++;
    }
    power_off(w);
    crashsim_arm(0);
    assert_int_equal(log_open(&w->log, w->dir, name, 0, &w->cfg, NOW), 0);
    check_recovered(w);
    check_clean(w);
    assert_int_equal(log_close(w->log), 0);
    w->log = NULL;
    assert_int_equal(log_remove(w->dir, name, 0), 0);
}

static void test_power_cuts_during_cleans(void **state)
{
    (void)state;
    struct world w;
    memset(&w, 0, sizeof(w));
    uint64_t seed = powercut_env_u64("SLUICE_POWERCUT_SEED", (uint64_t)time(NULL));
    uint64_t rounds = powercut_env_u64("SLUICE_POWERCUT_CLEAN_ROUNDS", 300);
    print_message("powercut_clean: seed %" PRIu64 " (SLUICE_POWERCUT_SEED replays it)\n", seed);
    w.rng = seed | 1;
    /* tmpfs when there is one: the rewrites after each cut cost no disk. */
    char shm[] = "/dev/shm/sluice-powercut-clean-XXXXXX";
    w.dir = mkdtemp(shm) ? strdup(shm) : fixture_tmpdir();
    assert_non_null(w.dir);
    log_config_defaults(&w.cfg);
    w.cfg.segment_bytes = 4 << 10;
    w.cfg.index_interval_bytes = 512;
    w.cfg.cleanup_compact = true;
    w.cfg.cleanup_delete = false;
    w.cfg.min_cleanable_ratio = 0.01;
    w.cfg.delete_retention_ms = 1000;
    assert_int_equal(io_uring_queue_init(64, &w.ring, 0), 0);
    assert_int_equal(crashsim_install(w.dir, seed), 0);
    w.clean_calls = 60;

    /* The storage's recovery lines would bury cmocka's: to a file that a
     * failure leaves behind. */
    char errlog[64];
    snprintf(errlog, sizeof(errlog), "%s.stderr", w.dir);
    print_message("powercut_clean: the storage's lines go to %s\n", errlog);
    fflush(stderr);
    int saved = dup(2), errfd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && errfd >= 0);
    dup2(errfd, 2);
    close(errfd);
    for (uint64_t r = 0; r < rounds; r++)
        run_round(&w, (int)r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    unlink(errlog);

    struct crashsim_stats st;
    crashsim_get_stats(&st);
    print_message("powercut_clean: %" PRIu64 " power cuts (%" PRIu64 " during a clean, %"
                  PRIu64 " in the appends after one), %" PRIu64 " distinct crash points of %"
                  PRIu64 " call stacks seen, %" PRIu64 " DeleteRecords, %" PRIu64
                  " records checked\n", st.cuts, w.cut_in_clean, w.cut_after_clean, st.points,
                  st.sites, w.deletes, w.records_checked);
    print_message("powercut_clean: unsynced writes kept %" PRIu64 ", torn %" PRIu64
                  ", dropped %" PRIu64 "; directory changes kept %" PRIu64 ", lost %" PRIu64
                  "\n", st.kept, st.torn, st.dropped, st.dir_kept, st.dir_lost);
    assert_true(st.cuts >= rounds);
    assert_true(w.cut_in_clean > rounds / 3); /* most cuts land inside a clean */
    crashsim_uninstall();
    io_uring_queue_exit(&w.ring);
    fixture_rmdir(w.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_cuts_during_cleans),
    };
    return cmocka_run_group_tests_name("powercut_clean", tests, NULL, NULL);
}
