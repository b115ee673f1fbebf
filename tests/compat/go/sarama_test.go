package compat

// IBM/sarama at its defaults (Config.Version 2.8, acks=WaitForLocal, not
// idempotent): the sync and the async producer, a consumer group with its
// default strategy (range), and the cluster admin.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaConfig is sarama's default configuration; Producer.Return.Successes
// is what a SyncProducer requires and what lets the async test count acks.
func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Producer.Return.Successes = true
	return c
}

func saramaAdmin(t *testing.T) sarama.ClusterAdmin {
	t.Helper()
	a, err := sarama.NewClusterAdmin([]string{bootstrap(t)}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func saramaTopic(t *testing.T, prefix string, partitions int32) string {
	t.Helper()
	name := unique(prefix)
	if err := saramaAdmin(t).CreateTopic(name, &sarama.TopicDetail{NumPartitions: partitions,
		ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return name
}

// saramaRead reads every partition of topic from the oldest offset until
// n records came (sarama's partition consumers, no group).
func saramaRead(t *testing.T, topic string, n int) []string {
	t.Helper()
	c, err := sarama.NewConsumer([]string{bootstrap(t)}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string, n)
	var pcs []sarama.PartitionConsumer
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		go func(pc sarama.PartitionConsumer) {
			for m := range pc.Messages() {
				out <- string(m.Value)
			}
		}(pc)
	}
	defer func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
	}()
	var got []string
	timeout := time.After(60 * time.Second)
	for len(got) < n {
		select {
		case v := <-out:
			got = append(got, v)
		case <-timeout:
			t.Fatalf("read %s: %d of %d after 60 s", topic, len(got), n)
		}
	}
	return got
}

// saramaAwaitEnd waits until the newest offsets cover want (per
// partition): WaitForLocal is answered when the batch is written, the
// high watermark moves once it is durable, a moment later.
func saramaAwaitEnd(t *testing.T, topic string, want map[int32]int64) {
	t.Helper()
	cl, err := sarama.NewClient([]string{bootstrap(t)}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitFor(t, 30*time.Second, "the end offsets to cover the acks", func() bool {
		for p, o := range want {
			if end, err := cl.GetOffset(topic, p, sarama.OffsetNewest); err != nil || end < o {
				return false
			}
		}
		return true
	})
}

func TestSaramaSyncProducer(t *testing.T) {
	topic := saramaTopic(t, "sarama-sync", 3)
	p, err := sarama.NewSyncProducer([]string{bootstrap(t)}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	vals := values("s", 1000)
	next := map[int32]int64{}
	for i, v := range vals {
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic,
			Key: sarama.StringEncoder(fmt.Sprint("k", i)), Value: sarama.StringEncoder(v)})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if off != next[part] {
			t.Fatalf("partition %d: offset %d, want %d", part, off, next[part])
		}
		next[part]++
	}
	// a batch too, as SendMessages sends it
	batch := values("b", 100)
	var msgs []*sarama.ProducerMessage
	for _, v := range batch {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		next[m.Partition] = max(next[m.Partition], m.Offset+1)
	}
	saramaAwaitEnd(t, topic, next)
	sameSet(t, "read back", saramaRead(t, topic, len(vals)+len(batch)), append(vals, batch...))
}

func TestSaramaAsyncProducer(t *testing.T) {
	topic := saramaTopic(t, "sarama-async", 2)
	p, err := sarama.NewAsyncProducer([]string{bootstrap(t)}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	vals := values("a", 5000)
	done := make(chan error, 1)
	next := map[int32]int64{}
	go func() {
		ok := 0
		for ok < len(vals) {
			select {
			case m := <-p.Successes():
				next[m.Partition] = max(next[m.Partition], m.Offset+1)
				ok++
			case e := <-p.Errors():
				done <- e.Err
				return
			case <-time.After(60 * time.Second):
				done <- fmt.Errorf("%d of %d acknowledged after 60 s", ok, len(vals))
				return
			}
		}
		done <- nil
	}()
	for i, v := range vals {
		p.Input() <- &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint("k", i)),
			Value: sarama.StringEncoder(v)}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	saramaAwaitEnd(t, topic, next)
	sameSet(t, "read back", saramaRead(t, topic, len(vals)), vals)
}

type saramaMember struct {
	name string
	mu   *sync.Mutex
	got  map[string]string
	errs chan error
}

func (saramaMember) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (m saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		m.mu.Lock()
		if prev, dup := m.got[string(msg.Value)]; dup {
			m.errs <- fmt.Errorf("%s consumed by %s and %s", msg.Value, prev, m.name)
		}
		m.got[string(msg.Value)] = m.name
		m.mu.Unlock()
		s.MarkMessage(msg, "")
	}
	return nil
}

func TestSaramaConsumerGroup(t *testing.T) {
	topic := saramaTopic(t, "sarama-group", 4)
	group := unique("g")
	var mu sync.Mutex
	got := map[string]string{}
	errs := make(chan error, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var groups []sarama.ConsumerGroup
	for i := 0; i < 2; i++ {
		c := saramaConfig()
		c.Consumer.Offsets.Initial = sarama.OffsetOldest
		g, err := sarama.NewConsumerGroup([]string{bootstrap(t)}, group, c)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g)
		h := saramaMember{fmt.Sprint("m", i), &mu, got, errs}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{topic}, h); err != nil &&
					!errors.Is(err, sarama.ErrClosedConsumerGroup) {
					errs <- err
					return
				}
			}
		}()
	}
	p, err := sarama.NewSyncProducer([]string{bootstrap(t)}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	vals := values("g", 2000)
	var msgs []*sarama.ProducerMessage
	for i, v := range vals {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint("k", i)),
			Value: sarama.StringEncoder(v)})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	waitFor(t, 90*time.Second, "every record consumed", func() bool {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(vals)
	})
	cancel()
	for _, g := range groups {
		if err := g.Close(); err != nil { // commits what was marked
			t.Fatal(err)
		}
	}
	wg.Wait()
	members := map[string]bool{}
	for _, m := range got {
		members[m] = true
	}
	if len(members) != 2 {
		t.Errorf("records consumed by %d members, want 2", len(members))
	}
	off, err := saramaAdmin(t).ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for p := int32(0); p < 4; p++ {
		b := off.GetBlock(topic, p)
		if b == nil || b.Err != sarama.ErrNoError {
			t.Fatalf("committed offset of %d: %v", p, b)
		}
		total += b.Offset
	}
	if total != int64(len(vals)) {
		t.Fatalf("committed offsets sum to %d, want %d", total, len(vals))
	}
}

func TestSaramaAdmin(t *testing.T) {
	a := saramaAdmin(t)
	brokers, controller, err := a.DescribeCluster()
	if err != nil || len(brokers) != 2 || controller < 0 {
		t.Fatalf("cluster: %v %d %v", brokers, controller, err)
	}
	topic := unique("sarama-admin")
	ret := "3600000"
	if err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &ret}}, false); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	md, err := a.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 || len(md[0].Partitions) != 2 {
		t.Fatalf("describe: %v %v", md, err)
	}
	value := func(key string) string {
		es, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Name == key {
				return e.Value
			}
		}
		t.Fatalf("no %s", key)
		return ""
	}
	if v := value("retention.ms"); v != ret {
		t.Fatalf("retention.ms %q", v)
	}
	v2 := "7200000"
	if err := a.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v2}}, false); err != nil {
		t.Fatal(err)
	}
	if v := value("retention.ms"); v != v2 {
		t.Fatalf("retention.ms after the change %q", v)
	}
	if err := a.CreatePartitions(topic, 3, nil, false); err != nil {
		t.Fatal(err)
	}
	// every broker (shard) learns of the new partitions a moment after
	// the answer, as in any Kafka cluster
	waitFor(t, 30*time.Second, "3 partitions listed", func() bool {
		topics, err := a.ListTopics()
		return err == nil && topics[topic].NumPartitions == 3
	})
	groups, err := a.ListConsumerGroups()
	if err != nil {
		t.Fatal(err)
	}
	_ = groups
	if err := a.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the topic gone", func() bool {
		ts, err := a.ListTopics()
		_, there := ts[topic]
		return err == nil && !there
	})
}

func TestSaramaIdempotent(t *testing.T) {
	requireAPIs(t, eos, "22:InitProducerId")
	topic := saramaTopic(t, "sarama-idem", 2)
	c := saramaConfig()
	c.Producer.Idempotent = true // with what sarama requires for it:
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{bootstrap(t)}, c)
	if err != nil {
		t.Fatal(err)
	}
	vals := values("i", 1000)
	for i, v := range vals {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic,
			Key: sarama.StringEncoder(fmt.Sprint("k", i)), Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	_ = p.Close()
	sameSet(t, "read back", saramaRead(t, topic, len(vals)), vals)
}

func TestSaramaTransactions(t *testing.T) {
	requireAPIs(t, eos, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn")
	topic := saramaTopic(t, "sarama-txn", 2)
	c := saramaConfig()
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Transaction.ID = unique("txn")
	p, err := sarama.NewSyncProducer([]string{bootstrap(t)}, c)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var committed []string
	for tx := 0; tx < 3; tx++ {
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			v := fmt.Sprintf("t%d-%d", tx, i)
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatal(err)
			}
			if tx != 1 {
				committed = append(committed, v)
			}
		}
		if tx == 1 {
			err = p.AbortTxn()
		} else {
			err = p.CommitTxn()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	rc := saramaConfig()
	rc.Consumer.IsolationLevel = sarama.ReadCommitted
	cons, err := sarama.NewConsumer([]string{bootstrap(t)}, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for part := int32(0); part < 2; part++ {
		pc, err := cons.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		hw := pc.HighWaterMarkOffset()
		for len(got) < len(committed) && hw > 0 {
			select {
			case m := <-pc.Messages():
				got = append(got, string(m.Value))
				if m.Offset >= hw-1 {
					hw = 0
				}
			case <-time.After(5 * time.Second):
				hw = 0
			}
		}
		pc.Close()
	}
	sameSet(t, "read_committed", got, committed)
}
