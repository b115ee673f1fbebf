/* replay.c - a fuzz target as a unit test: runs its LLVMFuzzerTestOneInput
 * over every file of the directories given on the command line (the
 * target's seeds in tests/fuzz/corpus/<name>/ and the inputs that once
 * crashed it, kept in tests/fuzz/regress/<name>/). A crash, a sanitizer
 * report or an abort() in the target fails the test. Built in every build
 * (release, ASan+UBSan, TSan) without libFuzzer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ndirs;
static char **dirs;

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return 0; /* no regressions yet */
    while ((de = readdir(d))) {
        char path[4096];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        assert_non_null(f);
        assert_non_null(buf);
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        assert_int_equal(got, (size_t)st.st_size);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_replay(void **state)
{
    (void)state;
    int total = 0;
    for (int i = 0; i < ndirs; i++) {
        int n = replay_dir(dirs[i]);
        print_message("%s: %d inputs\n", dirs[i], n);
        total += n;
    }
    assert_true(total > 0); /* every target has seeds */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),
    };
    if (argc < 3) {
        fprintf(stderr, "usage: %s NAME DIR...\n", argv[0]);
        return 2;
    }
    ndirs = argc - 2;
    dirs = argv + 2;
    return cmocka_run_group_tests_name(argv[1], tests, NULL, NULL);
}
