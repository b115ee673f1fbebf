/* powercut_run.c - stderr to a file and knobs for power-cut tests (see
 * powercut_run.h). */
#include "tests/lib/powercut_run.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char errlog[600];
static int saved_stderr = -1;

bool powercut_stderr_to_file(const char *dir)
{
    snprintf(errlog, sizeof(errlog), "%s.stderr", dir);
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved_stderr < 0 || fd < 0)
        return false;
    dup2(fd, 2);
    close(fd);
    return true;
}

void powercut_stderr_back(bool show_tail)
{
    if (saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    if (show_tail) {
        static char buf[6000];
        int fd = open(errlog, O_RDONLY);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
        ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, size > 5999 ? size - 5999 : 0) : 0;
        if (n > 0) {
            buf[n] = '\0';
            fprintf(stderr, "--- the end of %s:\n%s\n", errlog, buf);
        }
        if (fd >= 0)
            close(fd);
    }
    unlink(errlog);
}

uint64_t powercut_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : def;
}
