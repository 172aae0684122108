package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is the Kafka every benchmark of a run uses.
type broker struct {
	Addr string
	// Kind says what it is, for the report: "Apache Kafka 4.1.0, single
	// KRaft node on 127.0.0.1", or the embedded broker.
	Kind string
	// Real is false for the embedded broker (kfake): its figures are not
	// the ones the report is for.
	Real  bool
	close func()

	cl  *kgo.Client
	adm *kadm.Client
}

func (b *broker) connect() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DisableClientMetrics())
	if err != nil {
		return err
	}
	b.cl, b.adm = cl, kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.adm.BrokerMetadata(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("broker %s: %w", b.Addr, err)
	}
	return nil
}

func (b *broker) Close() {
	if b.cl != nil {
		b.cl.Close()
	}
	if b.close != nil {
		b.close()
	}
}

// topicSeq numbers the fresh topics of a run.
var topicSeq int

// freshTopic creates a new topic with the shape every benchmark uses: one
// partition, the broker's default replication (one node: 1) and settings.
// feedd would create it the same way; kcat would not create it at all.
func (b *broker) freshTopic(ctx context.Context, what string) (string, error) {
	topicSeq++
	name := fmt.Sprintf("bench-%s-%d-%d", what, time.Now().Unix(), topicSeq)
	resp, err := b.adm.CreateTopic(ctx, 1, -1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return "", fmt.Errorf("creating topic %s: %w", name, err)
	}
	// Wait until the broker answers for it: a producer that asks too early
	// gets UNKNOWN_TOPIC_OR_PARTITION and backs off, which would be timed.
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := b.endOffset(ctx, name)
		if err == nil {
			return name, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("topic %s: not served %v after its creation: %w", name, waitTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// endOffset is the topic's high watermark.
func (b *broker) endOffset(ctx context.Context, topic string) (int64, error) {
	return partitionOffset(ctx, topic, b.adm.ListEndOffsets)
}

// lastStable is the topic's last stable offset.
func (b *broker) lastStable(ctx context.Context, topic string) (int64, error) {
	return partitionOffset(ctx, topic, b.adm.ListCommittedOffsets)
}

// partitionOffset is the offset list gives for the topic's one partition.
func partitionOffset(ctx context.Context, topic string, list func(context.Context, ...string) (kadm.ListedOffsets, error)) (int64, error) {
	l, err := list(ctx, topic)
	if err != nil {
		return 0, err
	}
	o, ok := l.Lookup(topic, 0)
	if !ok {
		return 0, fmt.Errorf("%s: no partition 0", topic)
	}
	return o.Offset, o.Err
}

// reader consumes one topic from its start, read_committed, keeping the
// transaction markers when asked.
func (b *broker) reader(topic string, markers bool) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(b.Addr),
		kgo.DisableClientMetrics(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(10 * time.Millisecond),
	}
	if markers {
		opts = append(opts, kgo.KeepControlRecords())
	}
	return kgo.NewClient(opts...)
}

// isCommitMarker: a control record whose key (version int16, type int16)
// says commit (type 1).
func isCommitMarker(r *kgo.Record) bool {
	return r.Attrs.IsControl() && len(r.Key) >= 4 && r.Key[2] == 0 && r.Key[3] == 1
}

type kgoRecord = kgo.Record
