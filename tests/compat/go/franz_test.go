package compat

// franz-go (github.com/twmb/franz-go): kgo at its defaults (idempotent,
// acks=all), with leader acks and idempotence off, a consumer group with
// its default balancer (cooperative-sticky), kadm's admin calls, and a
// transactional producer.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func franzClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func franzTopic(t *testing.T, prefix string, partitions int32) string {
	t.Helper()
	name := unique(prefix)
	adm := kadm.NewClient(franzClient(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, partitions, 1, nil, name)
	if err != nil || r.Err != nil {
		t.Fatalf("create %s: %v %v", name, err, r.Err)
	}
	return name
}

// franzProduce sends every value, keyed, and waits for each ack.
func franzProduce(t *testing.T, cl *kgo.Client, topic string, vals []string) map[int32][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	offsets := map[int32][]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for i, v := range vals {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)},
			func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				offsets[r.Partition] = append(offsets[r.Partition], r.Offset)
			})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
	return offsets
}

// franzReadAll reads the topic from the start until n records came.
func franzReadAll(t *testing.T, topic string, n int, opts ...kgo.Opt) []string {
	t.Helper()
	cl := franzClient(t, append([]kgo.Opt{kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: %d of %d records after 60 s", topic, len(got), n)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// franzLoader loads test data where the producer is not the subject:
// acks=all (the default) with idempotence off, while the broker lacks
// InitProducerId.
func franzLoader(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	return franzClient(t, append([]kgo.Opt{kgo.DisableIdempotentWrite()}, opts...)...)
}

// franzAwaitEnd waits until the end offsets (the high watermark) cover the
// acknowledged offsets: an acks=1 answer comes when the batch is written,
// the high watermark moves once it is durable, a moment later.
func franzAwaitEnd(t *testing.T, topic string, offs map[int32][]int64) {
	t.Helper()
	adm := kadm.NewClient(franzClient(t))
	waitFor(t, 30*time.Second, "the end offsets to cover the acks", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		for p, os := range offs {
			e, ok := ends.Lookup(topic, p)
			if !ok || e.Offset < int64(len(os)) {
				return false
			}
		}
		return true
	})
}

func franzRoundTrip(t *testing.T, prefix string, opts ...kgo.Opt) {
	topic := franzTopic(t, prefix, 3)
	vals := values("v", 3000)
	offs := franzProduce(t, franzClient(t, opts...), topic, vals)
	franzAwaitEnd(t, topic, offs)
	for p, os := range offs {
		seen := map[int64]bool{}
		for _, o := range os {
			seen[o] = true
		}
		for o := int64(0); o < int64(len(os)); o++ {
			if !seen[o] {
				t.Fatalf("partition %d: offsets not 0..%d: %d missing", p, len(os)-1, o)
			}
		}
	}
	sameSet(t, "read back", franzReadAll(t, topic, len(vals)), vals)
}

func TestFranzProduceDefaults(t *testing.T) {
	requireAPIs(t, eos, "22:InitProducerId")
	franzRoundTrip(t, "franz-default")
}

func TestFranzProduceLeaderAcks(t *testing.T) {
	franzRoundTrip(t, "franz-acks1", kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
}

func TestFranzGroup(t *testing.T) {
	topic := franzTopic(t, "franz-group", 4)
	group := unique("g")
	var mu sync.Mutex
	got := map[string]string{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var members []*kgo.Client
	for m := 0; m < 2; m++ {
		cl := franzClient(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		members = append(members, cl)
		wg.Add(1)
		go func(name string, cl *kgo.Client) {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					if prev, dup := got[string(r.Value)]; dup {
						t.Errorf("%s consumed by %s and %s", r.Value, prev, name)
					}
					got[string(r.Value)] = name
					mu.Unlock()
				})
			}
		}(fmt.Sprint("m", m), cl)
	}
	vals := values("g", 2000)
	franzProduce(t, franzLoader(t), topic, vals)
	waitFor(t, 90*time.Second, "every record consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(vals)
	})
	cancel()
	wg.Wait()
	for _, cl := range members {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := cl.CommitUncommittedOffsets(cctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		ccancel()
		cl.LeaveGroup()
	}
	adm := kadm.NewClient(franzClient(t))
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	committed, err := adm.FetchOffsets(actx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(actx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, o.Partition)
		if !ok || c.At != o.Offset {
			t.Errorf("partition %d: committed %v, end %d", o.Partition, c.At, o.Offset)
		}
	})
}

func TestFranzAdmin(t *testing.T) {
	adm := kadm.NewClient(franzClient(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers, err := adm.ListBrokers(ctx)
	if err != nil || len(brokers) != 2 {
		t.Fatalf("brokers: %v %v", brokers, err)
	}
	topic := unique("franz-admin")
	ret := "3600000"
	cr, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": &ret}, topic)
	if err != nil || cr.Err != nil {
		t.Fatalf("create: %v %v", err, cr.Err)
	}
	if dup, _ := adm.CreateTopic(ctx, 2, 1, nil, topic); !errors.Is(dup.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v", dup.Err)
	}
	td, err := adm.ListTopics(ctx, topic)
	if err != nil || len(td[topic].Partitions) != 2 {
		t.Fatalf("list: %v %v", td, err)
	}
	cfg := func(key string) string {
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		r, err := rc.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Configs {
			if c.Key == key {
				return c.MaybeValue()
			}
		}
		t.Fatalf("no config %s", key)
		return ""
	}
	if v := cfg("retention.ms"); v != ret {
		t.Fatalf("retention.ms %q", v)
	}
	v2 := "7200000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &v2}}, topic); err != nil {
		t.Fatal(err)
	}
	if v := cfg("retention.ms"); v != v2 {
		t.Fatalf("retention.ms after alter %q", v)
	}
	if _, err := adm.UpdatePartitions(ctx, 4, topic); err != nil {
		t.Fatal(err)
	}
	// offsets: 10 records on each partition
	vals := values("a", 40)
	cl := franzLoader(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	waitFor(t, 30*time.Second, "4 partitions in metadata", func() bool {
		td, err := adm.ListTopics(ctx, topic)
		return err == nil && len(td[topic].Partitions) == 4
	})
	franzProduce(t, cl, topic, vals)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Errorf("end offset of %d: %v", o.Partition, o.Err)
		}
		t.Logf("partition %d: end %d", o.Partition, o.Offset)
		s, _ := starts.Lookup(topic, o.Partition)
		if s.Offset != 0 {
			t.Errorf("start offset of %d: %d", o.Partition, s.Offset)
		}
		total += o.Offset
	})
	if total != int64(len(vals)) {
		t.Fatalf("end offsets sum to %d, want %d", total, len(vals))
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	after.Each(func(o kadm.ListedOffset) {
		e, _ := ends.Lookup(topic, o.Partition)
		if o.Offset != e.Offset { // no record that late: Kafka answers the end
			t.Errorf("offset after a future time on %d: %d (end %d)", o.Partition, o.Offset, e.Offset)
		}
	})
	mx, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	mx.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset < 0 {
			t.Errorf("max-timestamp offset of %d: %d %v", o.Partition, o.Offset, o.Err)
		}
	})
	// broker configs: dynamic, cluster-wide
	seg := "536870912"
	if _, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.segment.bytes", Value: &seg}}); err != nil {
		t.Fatal(err)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range bc {
		for _, c := range r.Configs {
			if c.Key == "log.segment.bytes" {
				found = c.MaybeValue() == seg && c.Source.String() == "DYNAMIC_DEFAULT_BROKER_CONFIG"
			}
		}
	}
	if !found {
		t.Fatalf("log.segment.bytes not %s from DYNAMIC_DEFAULT_BROKER_CONFIG: %v", seg, bc)
	}
	if _, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "log.segment.bytes"}}); err != nil {
		t.Fatal(err)
	}
	dr, err := adm.DeleteTopic(ctx, topic)
	if err != nil || dr.Err != nil {
		t.Fatalf("delete: %v %v", err, dr.Err)
	}
	waitFor(t, 30*time.Second, "the topic gone", func() bool {
		td, err := adm.ListTopics(ctx)
		_, there := td[topic]
		return err == nil && !there
	})
}

func TestFranzTransactions(t *testing.T) {
	requireAPIs(t, eos, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn")
	topic := franzTopic(t, "franz-txn", 2)
	cl := franzClient(t, kgo.TransactionalID(unique("txn")), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var committed []string
	for tx := 0; tx < 3; tx++ {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			v := fmt.Sprintf("t%d-%d", tx, i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if tx != 1 {
				committed = append(committed, v)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(tx != 1)); err != nil {
			t.Fatal(err)
		}
	}
	sameSet(t, "read_committed", franzReadAll(t, topic, len(committed),
		kgo.FetchIsolationLevel(kgo.ReadCommitted())), committed)
}

func TestFranzCompaction(t *testing.T) {
	requireAPIs(t, compact, "21:DeleteRecords")
	adm := kadm.NewClient(franzClient(t))
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	topic := unique("franz-compact")
	cfg := func(s string) *string { return &s }
	if r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": cfg("compact"),
		"segment.ms": cfg("100"), "min.cleanable.dirty.ratio": cfg("0.01"),
		"delete.retention.ms": cfg("100")}, topic); err != nil || r.Err != nil {
		t.Fatalf("create: %v %v", err, r.Err)
	}
	cl := franzLoader(t)
	last := map[string]string{}
	for round := 0; round < 4; round++ {
		for k := 0; k < 50; k++ {
			v := fmt.Sprintf("r%d-%d", round, k)
			key := fmt.Sprint("key", k)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			last[key] = v
		}
		time.Sleep(150 * time.Millisecond) // the next round rolls a segment
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("roll"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	last["roll"] = "x"
	waitFor(t, 180*time.Second, "the topic compacted to one record per key", func() bool {
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		e, _ := end.Lookup(topic, 0)
		rd := franzClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		defer rd.Close()
		seen := map[string]string{}
		n := 0
		for pos := int64(-1); pos < e.Offset-1; {
			fs := rd.PollFetches(ctx)
			if ctx.Err() != nil {
				return false
			}
			fs.EachRecord(func(r *kgo.Record) {
				seen[string(r.Key)] = string(r.Value)
				n++
				pos = r.Offset
			})
		}
		for k, v := range last {
			if seen[k] != v {
				t.Fatalf("key %s: %q, want %q", k, seen[k], v)
			}
		}
		return n == len(last)
	})
}
