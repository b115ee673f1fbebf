/*
 * ProducerCases.java - the Java producer against sluiced: at its defaults
 * (idempotent, acks=all), with acks=1 and idempotence off, and
 * transactional (commit and abort, read back with read_committed and
 * read_uncommitted).
 */
package sluice.compat;

import static sluice.compat.Cases.expectEq;
import static sluice.compat.Cases.log;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

final class ProducerCases {
    private ProducerCases() {}

    static final String EOS = "waits on issue 10, exactly-once";

    static void register(Cases cs) {
        cs.add("java_producer_defaults", 180, ProducerCases::defaults);
        cs.add("java_producer_acks1", 180, ProducerCases::acks1);
        cs.add("java_producer_transactional", 240, ProducerCases::transactional);
    }

    /** 5,000 keyed records through the producer at its defaults, every
     *  one acknowledged, read back exactly once at its offset. */
    static void defaults() throws Exception {
        Cases.requireApis(EOS, "22:InitProducerId");
        roundTrip(Kit.producerDefaults(), "java-default", 5000);
    }

    static void acks1() throws Exception {
        roundTrip(Kit.producerAcks1(), "java-acks1", 5000);
    }

    private static void roundTrip(Properties props, String prefix, int n) throws Exception {
        String topic = Kit.unique(prefix);
        try (Admin admin = Admin.create(Kit.adminProps())) {
            Kit.createTopic(admin, topic, 3);
        }
        List<ProducerRecord<String, String>> sent = Kit.records(topic, "v", n);
        List<RecordMetadata> acks = Kit.produce(props, sent);
        try (Admin admin = Admin.create(Kit.adminProps())) {
            Kit.awaitEnd(admin, acks);
        }
        for (int p = 0; p < 3; p++) {
            final int part = p;
            long count = acks.stream().filter(m -> m.partition() == part).count();
            long maxOffset = acks.stream().filter(m -> m.partition() == part)
                    .mapToLong(RecordMetadata::offset).max().orElse(-1);
            expectEq(maxOffset, count - 1, "partition " + p + ": offsets 0.." + (count - 1));
        }
        Kit.expectExactly(Kit.readAll(topic, null), sent, acks);
        log(n + " records acknowledged and read back at their offsets");
    }

    /** Four transactions: committed; aborted after a flush (every record
     *  on the broker, so read_uncommitted must see them all); aborted at
     *  once (the client drops the batches it has not sent yet, so the
     *  broker may hear of none of them: with transactions v2 an EndTxn for
     *  a transaction it never saw begin, which Kafka accepts by bumping the
     *  epoch); committed. read_committed sees the first and the last,
     *  read_uncommitted those, all of the second and part of the third. */
    static void transactional() throws Exception {
        Cases.requireApis(EOS, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn",
                          "25:AddOffsetsToTxn", "28:TxnOffsetCommit");
        String topic = Kit.unique("java-txn");
        try (Admin admin = Admin.create(Kit.adminProps())) {
            Kit.createTopic(admin, topic, 2);
        }
        Properties props = Kit.producerDefaults();
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, Kit.unique("txn"));
        List<String> committed = new ArrayList<>();
        List<String> flushedAborted = new ArrayList<>();
        List<String> droppedAborted = new ArrayList<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            p.initTransactions();
            for (int t = 0; t < 4; t++) {
                p.beginTransaction();
                for (int i = 0; i < 100; i++) {
                    String v = "t" + t + "-" + i;
                    p.send(new ProducerRecord<>(topic, i % 2, "k" + i, v));
                    (t == 1 ? flushedAborted : t == 2 ? droppedAborted : committed).add(v);
                }
                if (t == 1) {
                    p.flush();
                    p.abortTransaction();
                } else if (t == 2) {
                    p.abortTransaction();
                } else {
                    p.commitTransaction();
                }
            }
        }
        Properties rc = new Properties();
        rc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<String> got = values(Kit.readAll(topic, rc));
        expectEq(sorted(got), sorted(committed), "read_committed: the committed records");
        Properties ru = new Properties();
        ru.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        List<String> all = values(Kit.readAll(topic, ru));
        List<String> sure = new ArrayList<>(committed);
        sure.addAll(flushedAborted);
        List<String> extra = new ArrayList<>(all);
        for (String v : sure)
            Cases.check(extra.remove(v), "read_uncommitted: " + v + " (committed or flushed) read once");
        Cases.check(droppedAborted.containsAll(extra) && extra.size() == new java.util.HashSet<>(extra).size(),
                    "read_uncommitted: beyond those only records of the transaction aborted at once, each once: " + extra);
        log(all.size() + " records read_uncommitted, " + extra.size()
            + " of them from the transaction aborted before its batches were sent");
    }

    private static List<String> values(Map<TopicPartition, List<ConsumerRecord<String, String>>> m) {
        List<String> out = new ArrayList<>();
        m.values().forEach(rs -> rs.forEach(r -> out.add(r.value())));
        return out;
    }

    private static List<String> sorted(List<String> l) {
        List<String> s = new ArrayList<>(l);
        s.sort(null);
        return s;
    }

}
