/*
 * AdminCases.java - the Java AdminClient against sluiced: topics (create
 * with configs, describe, alter configs, add partitions, delete), the
 * cluster, ListOffsets (earliest, latest, by timestamp, max-timestamp),
 * DeleteRecords, consumer group offsets, dynamic broker configs, and
 * explicit replica assignments (a shard is a broker to clients).
 */
package sluice.compat;

import static sluice.compat.Cases.check;
import static sluice.compat.Cases.expectEq;
import static sluice.compat.Cases.log;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

final class AdminCases {
    private AdminCases() {}

    static final String COMPACT = "waits on issue 11, compaction and DeleteRecords";

    static void register(Cases cs) {
        cs.add("java_admin_topics", 180, AdminCases::topics);
        cs.add("java_admin_cluster", 120, AdminCases::cluster);
        cs.add("java_admin_list_offsets", 180, AdminCases::listOffsets);
        cs.add("java_admin_delete_records", 180, AdminCases::deleteRecords);
        cs.add("java_admin_group_offsets", 180, AdminCases::groupOffsets);
        cs.add("java_admin_broker_configs", 180, AdminCases::brokerConfigs);
        cs.add("java_admin_replica_assignment", 180, AdminCases::replicaAssignment);
        cs.add("java_compaction", 240, AdminCases::compaction);
    }

    static Admin admin() {
        return Admin.create(Kit.adminProps());
    }

    static ConfigEntry entry(Config c, String name) {
        ConfigEntry e = c.get(name);
        check(e != null, "no config " + name + " in " + c);
        return e;
    }

    static void topics() throws Exception {
        String t = Kit.unique("java-admin");
        try (Admin a = admin()) {
            NewTopic nt = new NewTopic(t, 4, (short) 1)
                    .configs(Map.of("retention.ms", "3600000", "cleanup.policy", "delete"));
            var created = a.createTopics(List.of(nt));
            created.all().get();
            expectEq(created.numPartitions(t).get(), 4, "CreateTopics: partitions");
            check(a.listTopics().names().get().contains(t), "listTopics lacks " + t);

            TopicDescription d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
            expectEq(d.partitions().size(), 4, "describeTopics: partitions");
            expectEq(d.topicId(), created.topicId(t).get(), "describeTopics: the topic id");
            Set<Integer> nodes = new java.util.HashSet<>();
            for (Node n : a.describeCluster().nodes().get())
                nodes.add(n.id());
            for (TopicPartitionInfo p : d.partitions()) {
                check(nodes.contains(p.leader().id()), "partition " + p.partition() +
                      ": leader " + p.leader() + " is not a broker of " + nodes);
                expectEq(p.replicas().size(), 1, "replicas of partition " + p.partition());
                expectEq(p.isr().size(), 1, "ISR of partition " + p.partition());
            }

            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
            Config c = a.describeConfigs(List.of(res)).all().get().get(res);
            expectEq(entry(c, "retention.ms").value(), "3600000", "retention.ms");
            expectEq(entry(c, "retention.ms").source(), ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                     "retention.ms's source");
            check(entry(c, "segment.bytes").isDefault(), "segment.bytes should be a default");

            a.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("cleanup.policy", ""), AlterConfigOp.OpType.DELETE))))
                    .all().get();
            c = a.describeConfigs(List.of(res)).all().get().get(res);
            expectEq(entry(c, "retention.ms").value(), "7200000", "retention.ms after the change");
            expectEq(entry(c, "max.message.bytes").value(), "2000000", "max.message.bytes");
            expectEq(entry(c, "cleanup.policy").source(), ConfigEntry.ConfigSource.DEFAULT_CONFIG,
                     "cleanup.policy after DELETE");

            a.createPartitions(Map.of(t, NewPartitions.increaseTo(6))).all().get();
            d = awaitPartitions(a, t, 6);

            a.deleteTopics(List.of(t)).all().get();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (a.listTopics().names().get().contains(t))
                check(System.nanoTime() < deadline, t + " still listed 30 s after deleteTopics");
            try {
                a.describeTopics(List.of(t)).allTopicNames().get();
                throw new AssertionError("describeTopics of a deleted topic succeeded");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof UnknownTopicOrPartitionException,
                      "describe of a deleted topic: " + e.getCause());
            }
        }
    }

    static void cluster() throws Exception {
        try (Admin a = admin()) {
            DescribeClusterResult r = a.describeCluster();
            Collection<Node> nodes = r.nodes().get();
            expectEq(nodes.size(), 2, "brokers (one per shard)");
            String id = r.clusterId().get();
            check(id != null && id.length() == 22, "cluster id: " + id);
            Node controller = r.controller().get();
            check(nodes.contains(controller), "controller " + controller + " is not in " + nodes);
            for (Node n : nodes)
                check(n.host().equals("localhost") || n.host().startsWith("127."), "host of " + n);
            log("cluster " + id + ", brokers " + nodes + ", controller " + controller.id());
        }
    }

    static void listOffsets() throws Exception {
        String t = Kit.unique("java-offsets");
        try (Admin a = admin()) {
            Kit.createTopic(a, t, 1);
            long base = System.currentTimeMillis() - 3_600_000;
            List<ProducerRecord<String, String>> rs = new ArrayList<>();
            // timestamps base, base+10, ..., with the largest one in the middle
            for (int i = 0; i < 100; i++)
                rs.add(new ProducerRecord<>(t, 0, i == 50 ? base + 100_000 : base + 10L * i,
                                            "k" + i, "v" + i));
            List<RecordMetadata> acks = Kit.produce(Kit.producerLoader(), rs);
            expectEq(acks.get(99).offset(), 99L, "last offset");
            TopicPartition tp = new TopicPartition(t, 0);
            expectEq(offset(a, tp, OffsetSpec.earliest()).offset(), 0L, "earliest");
            expectEq(offset(a, tp, OffsetSpec.latest()).offset(), 100L, "latest");
            ListOffsetsResultInfo at = offset(a, tp, OffsetSpec.forTimestamp(base + 205));
            expectEq(at.offset(), 21L, "first offset with timestamp >= base+205");
            expectEq(at.timestamp(), base + 210, "its timestamp");
            ListOffsetsResultInfo none = offset(a, tp, OffsetSpec.forTimestamp(base + 200_000));
            expectEq(none.offset(), -1L, "offset for a timestamp after every record");
            ListOffsetsResultInfo max = offset(a, tp, OffsetSpec.maxTimestamp());
            expectEq(max.offset(), 50L, "max-timestamp: the offset");
            expectEq(max.timestamp(), base + 100_000, "max-timestamp: the timestamp");
        }
    }

    /** The topic once it is described with n partitions: every broker (here,
     *  every shard) learns of new partitions a moment after CreatePartitions
     *  is answered, as in any Kafka cluster, and describeTopics asks any. */
    static TopicDescription awaitPartitions(Admin a, String t, int n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            TopicDescription d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
            if (d.partitions().size() == n)
                return d;
            check(System.nanoTime() < deadline, t + " has " + d.partitions().size() +
                  " partitions 30 s after createPartitions to " + n);
            Thread.sleep(50);
        }
    }

    static ListOffsetsResultInfo offset(Admin a, TopicPartition tp, OffsetSpec spec) throws Exception {
        return a.listOffsets(Map.of(tp, spec)).partitionResult(tp).get();
    }

    static void deleteRecords() throws Exception {
        Cases.requireApis(COMPACT, "21:DeleteRecords");
        String t = Kit.unique("java-delrec");
        try (Admin a = admin()) {
            Kit.createTopic(a, t, 2);
            Kit.produce(Kit.producerLoader(), Kit.records(t, "v", 1000));
            TopicPartition tp = new TopicPartition(t, 0);
            long end = offset(a, tp, OffsetSpec.latest()).offset();
            check(end > 10, "partition 0 got " + end + " records");
            long low = a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(end / 2)))
                    .lowWatermarks().get(tp).get().lowWatermark();
            expectEq(low, end / 2, "low watermark after deleteRecords");
            expectEq(offset(a, tp, OffsetSpec.earliest()).offset(), end / 2,
                     "earliest offset after deleteRecords");
            Properties p = new Properties();
            var got = Kit.readAll(t, p).get(tp);
            expectEq(got.get(0).offset(), end / 2, "first offset a consumer reads");
            expectEq((long) got.size(), end - end / 2, "records left");
        }
    }

    static void groupOffsets() throws Exception {
        String t = Kit.unique("java-gofs");
        String g = Kit.unique("g");
        try (Admin a = admin()) {
            Kit.createTopic(a, t, 3);
            Kit.produce(Kit.producerLoader(), Kit.records(t, "v", 300));
            Properties p = Kit.consumerDefaults(g);
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
            for (int i = 0; i < 3; i++)
                commit.put(new TopicPartition(t, i), new OffsetAndMetadata(10 + i, "meta" + i));
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(t));
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (c.assignment().size() < 3) {
                    c.poll(Duration.ofMillis(200));
                    check(System.nanoTime() < deadline, "no assignment after 60 s");
                }
                c.commitSync(commit);
                var listed = a.listConsumerGroups().all().get();
                check(listed.stream().anyMatch(l -> l.groupId().equals(g)), "listConsumerGroups lacks " + g);
                var desc = a.describeConsumerGroups(List.of(g)).describedGroups().get(g).get();
                expectEq(desc.members().size(), 1, "members of " + g);
            }
            Map<TopicPartition, OffsetAndMetadata> got =
                    a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
            expectEq(got.size(), 3, "listConsumerGroupOffsets: partitions");
            for (var e : commit.entrySet()) {
                expectEq(got.get(e.getKey()).offset(), e.getValue().offset(), "offset of " + e.getKey());
                expectEq(got.get(e.getKey()).metadata(), e.getValue().metadata(), "metadata of " + e.getKey());
            }
            TopicPartition p0 = new TopicPartition(t, 0);
            a.alterConsumerGroupOffsets(g, Map.of(p0, new OffsetAndMetadata(5))).all().get();
            expectEq(a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get().get(p0).offset(),
                     5L, "offset after alterConsumerGroupOffsets");
            a.deleteConsumerGroupOffsets(g, Set.of(p0)).all().get();
            check(!a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get().containsKey(p0),
                  "offset of " + p0 + " still there after deleteConsumerGroupOffsets");
            a.deleteConsumerGroups(List.of(g)).all().get();
            check(a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get().isEmpty(),
                  "offsets left after deleteConsumerGroups");
        }
    }

    /** Kafka's dynamic broker configs, cluster-wide (the default resource
     *  "") and for one broker: set, described with their source and
     *  synonyms, used by a topic created afterwards, deleted again. */
    static void brokerConfigs() throws Exception {
        try (Admin a = admin()) {
            ConfigResource b0 = new ConfigResource(ConfigResource.Type.BROKER, "0");
            ConfigResource all = new ConfigResource(ConfigResource.Type.BROKER, "");
            DescribeConfigsOptions syn = new DescribeConfigsOptions().includeSynonyms(true);
            Config c = a.describeConfigs(List.of(b0), syn).all().get().get(b0);
            ConfigEntry retention = entry(c, "log.retention.ms");
            log("log.retention.ms " + retention.value() + " " + retention.source() + " " + retention.synonyms());
            check(retention.source() != ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                  "a fresh broker has no dynamic configs");

            a.incrementalAlterConfigs(Map.of(all, List.of(
                    new AlterConfigOp(new ConfigEntry("log.retention.ms", "86400000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("message.max.bytes", "2097152"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("num.partitions", "5"), AlterConfigOp.OpType.SET))))
                    .all().get();
            c = a.describeConfigs(List.of(b0), syn).all().get().get(b0);
            retention = entry(c, "log.retention.ms");
            expectEq(retention.value(), "86400000", "log.retention.ms after the change");
            expectEq(retention.source(), ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                     "log.retention.ms's source");
            check(!retention.synonyms().isEmpty() && retention.synonyms().get(0).source() ==
                  ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, "synonyms " + retention.synonyms());
            expectEq(entry(c, "message.max.bytes").value(), "2097152", "message.max.bytes");

            // a topic created now takes the new defaults
            String t = Kit.unique("java-dyn");
            a.createTopics(List.of(new NewTopic(t, Optional.empty(), Optional.empty()))).all().get();
            expectEq(a.describeTopics(List.of(t)).allTopicNames().get().get(t).partitions().size(), 5,
                     "partitions of a topic created with the dynamic num.partitions");
            ConfigResource tr = new ConfigResource(ConfigResource.Type.TOPIC, t);
            ConfigEntry tret = entry(a.describeConfigs(List.of(tr), syn).all().get().get(tr), "retention.ms");
            expectEq(tret.value(), "86400000", "the topic's retention.ms");
            expectEq(tret.source(), ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                     "the topic's retention.ms source");

            // per broker beats cluster-wide
            a.incrementalAlterConfigs(Map.of(b0, List.of(
                    new AlterConfigOp(new ConfigEntry("log.retention.ms", "43200000"), AlterConfigOp.OpType.SET))))
                    .all().get();
            retention = entry(a.describeConfigs(List.of(b0), syn).all().get().get(b0), "log.retention.ms");
            expectEq(retention.value(), "43200000", "log.retention.ms set for broker 0");
            expectEq(retention.source(), ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG, "its source");

            // a static-only config is refused with Kafka's error
            try {
                a.incrementalAlterConfigs(Map.of(all, List.of(new AlterConfigOp(
                        new ConfigEntry("log.dirs", "/tmp/x"), AlterConfigOp.OpType.SET)))).all().get();
                throw new AssertionError("log.dirs was changed at run time");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof org.apache.kafka.common.errors.InvalidRequestException ||
                      e.getCause() instanceof org.apache.kafka.common.errors.InvalidConfigurationException,
                      "changing log.dirs: " + e.getCause());
            }

            // back to the defaults
            for (ConfigResource r : List.of(b0, all))
                a.incrementalAlterConfigs(Map.of(r, List.of(
                        new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE),
                        new AlterConfigOp(new ConfigEntry("message.max.bytes", ""), AlterConfigOp.OpType.DELETE),
                        new AlterConfigOp(new ConfigEntry("num.partitions", ""), AlterConfigOp.OpType.DELETE))))
                        .all().get();
            retention = entry(a.describeConfigs(List.of(b0), syn).all().get().get(b0), "log.retention.ms");
            check(retention.source() != ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG &&
                  retention.source() != ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                  "log.retention.ms still dynamic after DELETE: " + retention);
        }
    }

    /** A shard is a broker to clients: an assignment naming broker ids
     *  places the partitions on those shards; an unknown id is refused. */
    static void replicaAssignment() throws Exception {
        String t = Kit.unique("java-assign");
        try (Admin a = admin()) {
            Map<Integer, List<Integer>> assign = Map.of(0, List.of(1), 1, List.of(1), 2, List.of(0));
            a.createTopics(List.of(new NewTopic(t, assign))).all().get();
            TopicDescription d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
            for (TopicPartitionInfo p : d.partitions())
                expectEq(p.leader().id(), assign.get(p.partition()).get(0), "leader of partition " + p.partition());
            a.createPartitions(Map.of(t, NewPartitions.increaseTo(5, List.of(List.of(0), List.of(1)))))
                    .all().get();
            d = awaitPartitions(a, t, 5);
            expectEq(d.partitions().get(3).leader().id(), 0, "leader of partition 3");
            expectEq(d.partitions().get(4).leader().id(), 1, "leader of partition 4");
            // the data goes where the assignment says, and comes back
            List<ProducerRecord<String, String>> rs = new ArrayList<>();
            for (int p = 0; p < 5; p++)
                rs.add(new ProducerRecord<>(t, p, "k", "v" + p));
            List<RecordMetadata> acks = Kit.produce(Kit.producerLoader(), rs);
            Kit.expectExactly(Kit.readAll(t, null), rs, acks);

            String bad = Kit.unique("java-assign-bad");
            try {
                a.createTopics(List.of(new NewTopic(bad, Map.of(0, List.of(7))))).all().get();
                throw new AssertionError("an assignment to broker 7 was accepted");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidReplicaAssignmentException,
                      "unknown broker id: " + e.getCause());
            }
            try {
                a.createTopics(List.of(new NewTopic(bad, Map.of(0, List.of(0, 1))))).all().get();
                throw new AssertionError("two replicas were accepted");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidReplicaAssignmentException ||
                      e.getCause() instanceof org.apache.kafka.common.errors.InvalidReplicationFactorException,
                      "two replicas: " + e.getCause());
            }
            try {
                a.createPartitions(Map.of(t, NewPartitions.increaseTo(6, List.of(List.of(9))))).all().get();
                throw new AssertionError("new partition on broker 9 accepted");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidReplicaAssignmentException,
                      "createPartitions on an unknown broker: " + e.getCause());
            }
        }
    }

    /** A compacted topic: four rounds of the same 50 keys in segments that
     *  roll every 100 ms; once the cleaner ran, a consumer reading from the
     *  start sees each key once, with its last value. */
    static void compaction() throws Exception {
        Cases.requireApis(COMPACT, "21:DeleteRecords");
        String t = Kit.unique("java-compact");
        try (Admin a = admin()) {
            a.createTopics(List.of(new NewTopic(t, 1, (short) 1).configs(Map.of(
                    "cleanup.policy", "compact", "segment.ms", "100",
                    "min.cleanable.dirty.ratio", "0.01", "delete.retention.ms", "100"))))
                    .all().get();
            Map<String, String> last = new HashMap<>();
            for (int round = 0; round < 4; round++) {
                List<ProducerRecord<String, String>> rs = new ArrayList<>();
                for (int k = 0; k < 50; k++) {
                    rs.add(new ProducerRecord<>(t, 0, "key" + k, "r" + round + "-" + k));
                    last.put("key" + k, "r" + round + "-" + k);
                }
                Kit.produce(Kit.producerLoader(), rs);
                Thread.sleep(150);                  // the next round rolls a segment
            }
            Kit.produce(Kit.producerLoader(), List.of(new ProducerRecord<>(t, 0, "roll", "x")));
            last.put("roll", "x");
            long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
            while (true) {
                Map<String, String> seen = new HashMap<>();
                int n = 0;
                for (var r : Kit.readAll(t, null).get(new TopicPartition(t, 0))) {
                    seen.put(r.key(), r.value());
                    n++;
                }
                expectEq(seen, last, "the last value of every key");
                if (n == last.size()) {
                    log("compacted to " + n + " records");
                    return;
                }
                check(System.nanoTime() < deadline, n + " records after 180 s, want " + last.size());
                Thread.sleep(500);
            }
        }
    }
}
