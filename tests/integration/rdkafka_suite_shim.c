/* rdkafka_suite_shim.c - built with librdkafka's own test framework by
 * rdkafka_tests.py --rf1 (not part of the sluice build). 0103_transactions
 * creates its topics with replication factor 3, as librdkafka's CI runs
 * three brokers; against one broker it takes factor 1 through this
 * function (0103 is compiled with -Dtest_create_topic=this). */
#include "test.h"

void sluice_rf1_create_topic(rd_kafka_t *use_rk, const char *topicname, int partition_cnt,
                             int replication_factor);

void sluice_rf1_create_topic(rd_kafka_t *use_rk, const char *topicname, int partition_cnt,
                             int replication_factor)
{
    (void)replication_factor;
    test_create_topic(use_rk, topicname, partition_cnt, 1);
}
