package compat

// segmentio/kafka-go at its defaults: the Writer (RequiredAcks: RequireNone
// by default, so what arrived is checked by reading back), Readers with and
// without a consumer group, and the Client's admin calls.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func kgoClient(t *testing.T) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(bootstrap(t)), Timeout: 30 * time.Second}
}

func kafkaGoTopic(t *testing.T, prefix string, partitions int) string {
	t.Helper()
	name := unique(prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := kgoClient(t).CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil || r.Errors[name] != nil {
		t.Fatalf("create %s: %v %v", name, err, r.Errors)
	}
	return name
}

func kafkaGoWrite(t *testing.T, topic string, vals []string, acks kafka.RequiredAcks) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(bootstrap(t)), Topic: topic, RequiredAcks: acks}
	defer w.Close()
	msgs := make([]kafka.Message, len(vals))
	for i, v := range vals {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// kafkaGoReadPartitions reads every partition from the first offset with a
// partition Reader (no group) until n values came.
func kafkaGoReadPartitions(t *testing.T, topic string, partitions, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for p := 0; p < partitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap(t)}, Topic: topic,
			Partition: p, MaxWait: 200 * time.Millisecond})
		r.SetOffset(kafka.FirstOffset)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				got = append(got, string(m.Value))
				done := len(got) >= n
				mu.Unlock()
				if done {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if len(got) < n {
		t.Fatalf("read %d of %d from %s", len(got), n, topic)
	}
	return got
}

func TestKafkaGoWriterDefaults(t *testing.T) {
	topic := kafkaGoTopic(t, "kgo-write", 3)
	vals := values("w", 3000)
	kafkaGoWrite(t, topic, vals, 0) // the Writer's default: RequireNone
	sameSet(t, "read back", kafkaGoReadPartitions(t, topic, 3, len(vals)), vals)
}

func TestKafkaGoWriterAcksAll(t *testing.T) {
	topic := kafkaGoTopic(t, "kgo-write-all", 2)
	vals := values("w", 2000)
	kafkaGoWrite(t, topic, vals, kafka.RequireAll)
	sameSet(t, "read back", kafkaGoReadPartitions(t, topic, 2, len(vals)), vals)
}

func TestKafkaGoGroup(t *testing.T) {
	topic := kafkaGoTopic(t, "kgo-group", 4)
	group := unique("g")
	vals := values("g", 2000)
	kafkaGoWrite(t, topic, vals, kafka.RequireAll)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	var dupErr error
	for m := 0; m < 2; m++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap(t)}, Topic: topic,
			GroupID: group, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			defer r.Close()
			for {
				msg, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				if prev, dup := got[string(msg.Value)]; dup && dupErr == nil {
					dupErr = fmt.Errorf("%s consumed by %s and %s", msg.Value, prev, name)
				}
				got[string(msg.Value)] = name
				done := len(got) >= len(vals)
				mu.Unlock()
				if err := r.CommitMessages(ctx, msg); err != nil && !errors.Is(err, context.Canceled) {
					mu.Lock()
					dupErr = fmt.Errorf("%s commit: %v", name, err)
					mu.Unlock()
					return
				}
				if done {
					cancel()
				}
			}
		}(fmt.Sprint("m", m))
	}
	wg.Wait()
	if dupErr != nil {
		t.Fatal(dupErr)
	}
	if len(got) != len(vals) {
		t.Fatalf("consumed %d of %d", len(got), len(vals))
	}
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	of, err := kgoClient(t).OffsetFetch(actx, &kafka.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{topic: {0, 1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range of.Topics[topic] {
		total += p.CommittedOffset
	}
	if total != int64(len(vals)) {
		t.Fatalf("committed offsets sum to %d, want %d: %v", total, len(vals), of.Topics[topic])
	}
}

func TestKafkaGoAdmin(t *testing.T) {
	c := kgoClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := unique("kgo-admin")
	r, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic,
		NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}}}}})
	if err != nil || r.Errors[topic] != nil {
		t.Fatalf("create: %v %v", err, r.Errors)
	}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Brokers) != 2 || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 2 {
		t.Fatalf("metadata: %+v %v", md, err)
	}
	config := func(key string) string {
		d, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
			{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{key}}}})
		if err != nil || len(d.Resources) != 1 || d.Resources[0].Error != nil || len(d.Resources[0].ConfigEntries) != 1 {
			t.Fatalf("describe %s: %+v %v", key, d, err)
		}
		return d.Resources[0].ConfigEntries[0].ConfigValue
	}
	if v := config("retention.ms"); v != "3600000" {
		t.Fatalf("retention.ms %q", v)
	}
	ia, err := c.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, Configs: []kafka.IncrementalAlterConfigsRequestConfig{
			{Name: "retention.ms", Value: "7200000", ConfigOperation: kafka.ConfigOperationSet}}}}})
	if err != nil || ia.Resources[0].Error != nil {
		t.Fatalf("alter: %v %v", err, ia)
	}
	if v := config("retention.ms"); v != "7200000" {
		t.Fatalf("retention.ms after the change %q", v)
	}
	cp, err := c.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 3}}})
	if err != nil || cp.Errors[topic] != nil {
		t.Fatalf("create partitions: %v %v", err, cp)
	}
	// metadata reaches every broker (here: every shard) a moment after
	// the answer, as in any Kafka cluster: wait until the one asked knows
	waitFor(t, 30*time.Second, "3 partitions in the metadata", func() bool {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		return err == nil && len(md.Topics) == 1 && len(md.Topics[0].Partitions) == 3
	})
	kafkaGoWrite(t, topic, values("o", 30), kafka.RequireAll)
	lo, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0), kafka.FirstOffsetOf(1), kafka.LastOffsetOf(1),
			kafka.FirstOffsetOf(2), kafka.LastOffsetOf(2)}}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range lo.Topics[topic] {
		if p.Error != nil || p.FirstOffset != 0 {
			t.Fatalf("offsets of %d: %+v", p.Partition, p)
		}
		total += p.LastOffset
	}
	if total != 30 {
		t.Fatalf("end offsets sum to %d: %+v", total, lo.Topics[topic])
	}
	dt, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil || dt.Errors[topic] != nil {
		t.Fatalf("delete: %v %v", err, dt)
	}
}
