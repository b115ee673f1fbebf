/* fuzz_config.c - libFuzzer target for configuration text
 * (control/config.c): server.properties as broker_config_load_file reads
 * it (Java .properties: continuation lines, escapes, ':' or '=' or blanks
 * as separators), topic configs as the metadata keeps them
 * (topic_config_deserialize), and the listeners lists.
 *
 * Input: the file's bytes (also given to the topic-config parser).
 * Invariants: a file that loads describes every setting without error,
 * and a topic config that deserializes serializes back to text that
 * deserializes to the same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "control/config.h"

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void check_broker(const uint8_t *data, size_t size)
{
    static int fd = -1;
    char path[64], buf[CONFIG_VALUE_MAX];
    struct broker_config c;
    if (fd < 0 && (fd = memfd_create("fuzz-config", 0)) < 0)
        abort();
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    broker_config_defaults(&c);
    if (broker_config_load_file(&c, path, report, NULL) < 0)
        return;
    for (int i = 0; i < broker_config_count(); i++) {
        struct config_desc d;
        if (broker_config_describe(&c, i, &d, buf, sizeof(buf)) < 0)
            abort(); /* CONFIG_VALUE_MAX always suffices */
    }
    struct config_listener l;
    for (int i = 0; i < 64 && config_listener_get(c.listeners, i, &l) == 0; i++)
        ;
    for (int i = 0; i < 64 && config_listener_get(c.advertised_listeners, i, &l) == 0; i++)
        ;
    struct topic_config t;
    topic_config_from_broker(&c, &t);
}

static void check_topic(const uint8_t *data, size_t size)
{
    static struct broker_config b;
    static char text[1 << 16], again[1 << 16];
    char err[256];
    struct topic_config t, u;
    broker_config_defaults(&b);
    topic_config_from_broker(&b, &t);
    if (topic_config_deserialize(&t, (const char *)data, size, err, sizeof(err)) < 0)
        return;
    int n = topic_config_serialize(&t, text, sizeof(text));
    if (n < 0)
        abort();
    topic_config_from_broker(&b, &u);
    if (topic_config_deserialize(&u, text, (size_t)n, err, sizeof(err)) < 0)
        abort(); /* what we write, we read */
    int m = topic_config_serialize(&u, again, sizeof(again));
    if (m != n || memcmp(text, again, (size_t)n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16))
        return 0;
    check_broker(data, size);
    check_topic(data, size);
    return 0;
}
