/*
 * GroupCases.java - a consumer group of three Java consumers on the
 * classic protocol, once with each built-in assignor (range; and
 * cooperative-sticky, whose rebalances are incremental): every partition
 * owned by exactly one member, every record consumed once, a member
 * leaving hands its partitions to the others (cooperative-sticky: without
 * taking any from the members that stay), and the committed offsets are
 * the log end.
 */
package sluice.compat;

import static sluice.compat.Cases.check;
import static sluice.compat.Cases.expectEq;
import static sluice.compat.Cases.log;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.common.TopicPartition;

final class GroupCases {
    private GroupCases() {}

    static final int PARTITIONS = 6;

    static void register(Cases cs) {
        cs.add("java_group_range", 240, () -> group(RangeAssignor.class.getName(), false));
        cs.add("java_group_cooperative_sticky", 240,
               () -> group(CooperativeStickyAssignor.class.getName(), true));
    }

    /** One member: a consumer polling on its own thread, recording what it
     *  owns and every record it reads. */
    static final class Member implements AutoCloseable {
        final String name;
        final KafkaConsumer<String, String> consumer;
        final Set<TopicPartition> owned = ConcurrentHashMap.newKeySet();
        final Set<TopicPartition> everRevoked = ConcurrentHashMap.newKeySet();
        final Map<String, String> seen = new ConcurrentHashMap<>();   // value -> member
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final Thread thread;

        Member(String name, Properties props, String topic, Map<String, String> all) {
            this.name = name;
            this.consumer = new KafkaConsumer<>(props);
            this.thread = new Thread(() -> loop(topic, all), "case-" + name);
            this.thread.start();
        }

        private void loop(String topic, Map<String, String> all) {
            try {
                consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                        owned.removeAll(ps);
                        everRevoked.addAll(ps);
                    }
                    public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                        owned.addAll(ps);
                    }
                    public void onPartitionsLost(Collection<TopicPartition> ps) {
                        owned.removeAll(ps);
                        everRevoked.addAll(ps);
                    }
                });
                while (!stop.get())
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                        String prev = all.putIfAbsent(r.value(), name);
                        check(prev == null, r.value() + " consumed by " + prev + " and " + name);
                        seen.put(r.value(), name);
                    }
                consumer.commitSync();
            } catch (Throwable t) {
                error.set(t);
            } finally {
                consumer.close(); // leaves the group
            }
        }

        @Override
        public void close() throws Exception {
            stop.set(true);
            consumer.wakeup();
            thread.join(60_000);
            check(!thread.isAlive(), name + " did not stop");
            if (error.get() != null && !(error.get() instanceof org.apache.kafka.common.errors.WakeupException))
                throw new AssertionError(name + " failed", error.get());
        }
    }

    static Properties memberProps(String group, String assignor, String name) {
        Properties p = Kit.consumerDefaults(group);
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignor);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
        return p;
    }

    /** Waits until the members own every partition once between them,
     *  want per member. */
    static void awaitOwnership(List<Member> ms, int want) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (true) {
            Set<TopicPartition> union = new HashSet<>();
            int total = 0;
            boolean even = true;
            for (Member m : ms) {
                check(m.error.get() == null, m.name + ": " + m.error.get());
                union.addAll(m.owned);
                total += m.owned.size();
                even &= m.owned.size() == want;
            }
            if (union.size() == PARTITIONS && total == PARTITIONS && even)
                return;
            check(System.nanoTime() < deadline, "no stable assignment after 90 s: " + owners(ms));
            Thread.sleep(50);
        }
    }

    static String owners(List<Member> ms) {
        StringBuilder b = new StringBuilder();
        for (Member m : ms)
            b.append(m.name).append('=').append(m.owned).append(' ');
        return b.toString();
    }

    static void awaitAll(Map<String, String> all, int n, List<Member> ms) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (all.size() < n) {
            for (Member m : ms)
                check(m.error.get() == null, m.name + ": " + m.error.get());
            check(System.nanoTime() < deadline, "consumed " + all.size() + " of " + n);
            Thread.sleep(50);
        }
    }

    static void group(String assignor, boolean cooperative) throws Exception {
        String topic = Kit.unique("java-group");
        String group = Kit.unique("g");
        try (Admin admin = Admin.create(Kit.adminProps())) {
            Kit.createTopic(admin, topic, PARTITIONS);
            Map<String, String> all = new ConcurrentHashMap<>();
            List<Member> ms = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++)
                    ms.add(new Member("m" + i, memberProps(group, assignor, "m" + i), topic, all));
                awaitOwnership(ms, 2);
                log("stable: " + owners(ms));
                Map<String, Set<TopicPartition>> before = new HashMap<>();
                for (Member m : ms) {
                    before.put(m.name, new HashSet<>(m.owned));
                    m.everRevoked.clear();      // what joining took away does not count
                }

                Kit.produce(Kit.producerLoader(), Kit.records(topic, "a", 3000));
                awaitAll(all, 3000, ms);
                for (Member m : ms)
                    check(!m.seen.isEmpty(), m.name + " consumed nothing");

                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group))
                        .describedGroups().get(group).get();
                expectEq(d.members().size(), 3, "members DescribeGroups lists");
                expectEq(d.partitionAssignor(), cooperative ? "cooperative-sticky" : "range",
                         "the group's protocol");

                // m2 leaves: m0 and m1 take its partitions
                Member gone = ms.remove(2);
                gone.close();
                awaitOwnership(ms, 3);
                log("after m2 left: " + owners(ms));
                if (cooperative)
                    for (Member m : ms) {
                        check(m.owned.containsAll(before.get(m.name)),
                              m.name + " lost partitions it kept: before " + before.get(m.name) +
                              ", now " + m.owned);
                        check(m.everRevoked.isEmpty(), m.name + " had partitions revoked in a " +
                              "cooperative rebalance: " + m.everRevoked);
                    }
                Kit.produce(Kit.producerLoader(), Kit.records(topic, "b", 3000));
                awaitAll(all, 6000, ms);
            } finally {
                for (Member m : ms)
                    m.close();
            }
            // every member committed on close: the group's offsets are the log end
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (int p = 0; p < PARTITIONS; p++)
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
            var ends = admin.listOffsets(latest).all().get();
            expectEq(committed.size(), PARTITIONS, "partitions with a committed offset");
            for (var e : ends.entrySet())
                expectEq(committed.get(e.getKey()).offset(), e.getValue().offset(),
                         "committed offset of " + e.getKey());
        }
    }
}
