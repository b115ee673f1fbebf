/*
 * Kit.java - what the Java cases share: client configurations (the
 * client's defaults plus bootstrap.servers and serializers, nothing else
 * unless a case says why), topic creation, loading records and reading a
 * topic back whole.
 */
package sluice.compat;

import static sluice.compat.Cases.check;
import static sluice.compat.Cases.expectEq;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Kit {
    private Kit() {}

    public static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    public static Properties adminProps() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, Cases.bootstrap());
        return p;
    }

    /** The producer exactly at its defaults (idempotent, acks=all). */
    public static Properties producerDefaults() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Cases.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    /** The producer with idempotence off (acks=all, its default): what
     *  loads test data for the group and admin cases, whose subject is
     *  not the producer, while the broker lacks InitProducerId. */
    public static Properties producerLoader() {
        Properties p = producerDefaults();
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        return p;
    }

    /** acks=1 and idempotence off: the other common configuration. */
    public static Properties producerAcks1() {
        Properties p = producerLoader();
        p.put(ProducerConfig.ACKS_CONFIG, "1");
        return p;
    }

    /** Waits until every partition's end offset (ListOffsets latest: the
     *  high watermark) covers the acknowledged records. An acks=1 answer
     *  comes when the batch is written, the high watermark moves when it
     *  is durable (sluice.flush.policy=always), a moment later. */
    public static void awaitEnd(Admin admin, List<RecordMetadata> acks) throws Exception {
        Map<TopicPartition, Long> want = new HashMap<>();
        for (RecordMetadata m : acks)
            want.merge(new TopicPartition(m.topic(), m.partition()), m.offset() + 1, Math::max);
        Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> q = new HashMap<>();
        want.keySet().forEach(tp -> q.put(tp, org.apache.kafka.clients.admin.OffsetSpec.latest()));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            var got = admin.listOffsets(q).all().get();
            boolean ok = true;
            for (var e : want.entrySet())
                ok &= got.get(e.getKey()).offset() >= e.getValue();
            if (ok)
                return;
            check(System.nanoTime() < deadline, "end offsets " + got + " still short of " + want);
            Thread.sleep(20);
        }
    }

    public static Properties consumerDefaults(String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Cases.bootstrap());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        if (group != null)
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        return p;
    }

    public static void createTopic(Admin admin, String name, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
    }

    /** Sends every record, waits for every acknowledgement; returns them. */
    public static List<RecordMetadata> produce(Properties props,
                                               List<ProducerRecord<String, String>> records)
            throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        List<RecordMetadata> out = new ArrayList<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            for (ProducerRecord<String, String> r : records)
                fs.add(p.send(r));
            p.flush();
            for (Future<RecordMetadata> f : fs)
                out.add(f.get());
        }
        return out;
    }

    /** n keyed records "k<i>" -> "<tag>-<i>" spread over the topic's partitions by key. */
    public static List<ProducerRecord<String, String>> records(String topic, String tag, int n) {
        List<ProducerRecord<String, String>> rs = new ArrayList<>();
        for (int i = 0; i < n; i++)
            rs.add(new ProducerRecord<>(topic, "k" + i, tag + "-" + i));
        return rs;
    }

    /** Reads every partition of the topic from the beginning up to its
     *  end offsets at the time of the call (assign(), no group). */
    public static Map<TopicPartition, List<ConsumerRecord<String, String>>> readAll(
            String topic, Properties extra) throws Exception {
        Properties p = consumerDefaults(null);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (extra != null)
            p.putAll(extra);
        Map<TopicPartition, List<ConsumerRecord<String, String>>> out = new HashMap<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(topic, Duration.ofSeconds(30))
                    .forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            for (TopicPartition tp : tps)
                out.put(tp, new ArrayList<>());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!caughtUp(c, end)) {
                check(System.nanoTime() < deadline, "reading " + topic + " back: not at " +
                      end + " after 60 s");
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500)))
                    out.get(new TopicPartition(r.topic(), r.partition())).add(r);
            }
        }
        return out;
    }

    private static boolean caughtUp(KafkaConsumer<?, ?> c, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet())
            if (c.position(e.getKey()) < e.getValue())
                return false;
        return true;
    }

    /** Checks that the partitions hold exactly the acknowledged records,
     *  each at the offset its acknowledgement gave. */
    public static void expectExactly(Map<TopicPartition, List<ConsumerRecord<String, String>>> got,
                                     List<ProducerRecord<String, String>> sent,
                                     List<RecordMetadata> acks) {
        Map<String, String> want = new HashMap<>();
        for (int i = 0; i < sent.size(); i++) {
            RecordMetadata m = acks.get(i);
            want.put(m.partition() + "@" + m.offset(), sent.get(i).key() + "=" + sent.get(i).value());
        }
        Map<String, String> have = new HashMap<>();
        for (Collection<ConsumerRecord<String, String>> rs : got.values())
            for (ConsumerRecord<String, String> r : rs)
                check(have.put(r.partition() + "@" + r.offset(), r.key() + "=" + r.value()) == null,
                      "offset read twice: " + r.partition() + "@" + r.offset());
        expectEq(have.size(), want.size(), "number of records read back");
        expectEq(have, want, "records read back, by partition@offset");
    }
}
