/* powercut_run.h - what the power-cut tests (test_powercut*.c) share around
 * their rounds: stderr parked in a file while the code under test logs its
 * recoveries, and the knobs read from the environment. Tests only. */
#ifndef SLUICE_TESTS_POWERCUT_RUN_H
#define SLUICE_TESTS_POWERCUT_RUN_H

#include <stdbool.h>
#include <stdint.h>

/* stderr (the code's error lines, cmocka's messages) to DIR.stderr until
 * powercut_stderr_back; false when it cannot. */
bool powercut_stderr_to_file(const char *dir);
/* stderr back; with show_tail (a test failed) the end of what went to the
 * file is printed first. The file is removed. */
void powercut_stderr_back(bool show_tail);
/* The environment variable name as a number (0x.. too), or def. */
uint64_t powercut_env_u64(const char *name, uint64_t def);

#endif
