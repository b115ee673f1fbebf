/*
 * StreamsApp.java - a Kafka Streams 4.x application the compat suite runs
 * against sluiced (tests/compat/java/test_streams.py starts it, SIGKILLs it
 * and restarts it):
 *
 *   java sluice.compat.StreamsApp BOOTSTRAP APP_ID STATE_DIR GUARANTEE IN
 *
 * Two topologies over the lines of topic IN ("T<seconds> word word ..."):
 * a word count (a repartition topic, a state store with its compacted
 * changelog) to IN-counts, and per-minute counts of each word (a windowed
 * store, the window from the line's own time and a day of grace, so that
 * the answer does not depend on when or in which order it runs) to
 * IN-windowed. Values are written as text.
 *
 * Everything is Streams' default but processing.guarantee (the argument),
 * the record cache, which is off: then every update is emitted and the
 * output of a failure-free run is exactly one sequence 1, 2, ..., n per
 * key, which the test compares against; and the consumer's
 * session.timeout.ms, 6 s instead of 45 s: a SIGKILLed instance never
 * leaves its group, and each restart would otherwise wait 45 s for the
 * coordinator to drop it (5 kills: 4 minutes of CI doing nothing). Prints
 * "STATE <new>" on each state change (the test waits on RUNNING).
 */
package sluice.compat;

import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;

public final class StreamsApp {
    private StreamsApp() {}

    /** The time of a line: its leading "T<seconds>". */
    public static final class LineTime implements TimestampExtractor {
        @Override
        public long extract(ConsumerRecord<Object, Object> r, long partitionTime) {
            String v = (String) r.value();
            int sp = v.indexOf(' ');
            return Long.parseLong(v.substring(1, sp)) * 1000L;
        }
    }

    public static void main(String[] args) throws Exception {
        String in = args[4];
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[2]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[3]);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);

        StreamsBuilder b = new StreamsBuilder();
        KStream<String, String> words = b.stream(in,
                Consumed.with(Serdes.String(), Serdes.String())
                        .withTimestampExtractor(new LineTime()))
                .flatMapValues(v -> Arrays.asList(v.substring(v.indexOf(' ') + 1).split(" ")));
        words.groupBy((k, w) -> w).count()
                .toStream().mapValues(n -> Long.toString(n))
                .to(in + "-counts", Produced.with(Serdes.String(), Serdes.String()));
        words.groupBy((k, w) -> w)
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofDays(1)))
                .count().toStream()
                .map((wk, n) -> KeyValue.pair(wk.key() + "@" + wk.window().start() / 1000,
                                              Long.toString(n)))
                .to(in + "-windowed", Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams ks = new KafkaStreams(b.build(), p);
        ks.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            System.out.flush();
        });
        ks.setUncaughtExceptionHandler(e -> {
            System.out.println("UNCAUGHT " + e);
            e.printStackTrace(System.out);
            System.out.flush();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                    .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(ks::close));
        ks.start();
        Thread.currentThread().join();
    }
}
