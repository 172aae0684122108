package broadcast

import (
	"context"
	"hash/crc32"
	"os"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast/kafkatest"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestKafkaHangingTransaction: a transaction of the pipeline's producer is
// open on the topic while its coordinator knows nothing of it (a hanging
// transaction, as a broker restart left one during the chaos suite): the
// last stable offset stays below it for good. An activation must find it
// after its fence, end it with a commit (an abort lost the frames of a
// transaction whose commit the old active had been told of), and go live:
// the topic then holds the hanging transaction's records, then the
// pipeline's frames. The broker runs with partition verification off,
// which is how a test makes a hanging transaction at will: it takes a
// transactional produce the coordinator was never told of.
func TestKafkaHangingTransaction(t *testing.T) {
	in := kafkatest.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "feedd-hanging-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := in.Start(ctx, kafkatest.Config{Dir: dir, Properties: []string{"transaction.partition.verification.enable=false"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg := kafkaConfig(b.Addr(), "hanging")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := EnsureTopic(ctx, cl, cfg); err != nil {
		t.Fatal(err)
	}
	hangTransaction(ctx, t, b.Addr(), cfg)
	stable, err := lastStableOffset(ctx, cl, cfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if stable != 0 {
		t.Fatalf("last stable offset %d before the activation; want 0 (the transaction open from offset 0)", stable)
	}

	m := startMemberWith(t, cfg, Options{Pipeline: "test", Member: "a", Logger: testsupport.Logger()})
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	defer acancel()
	if err := m.Activate(actx); err != nil {
		t.Fatalf("activation with a hanging transaction on the topic: %v", err)
	}
	const n = 50
	for seq := uint64(1); seq <= n; seq++ {
		m.Accept(frame(seq, time.Now()))
	}
	waitFor(t, "the active to commit its frames", func() bool { return m.Status().Counters.CommittedFrames >= n })
	if k := m.Status().Counters; k.HangingEnded != 1 {
		t.Errorf("hanging transactions ended: %d, want 1", k.HangingEnded)
	}
	// Under transaction protocol 2 a commit is answered before its
	// markers are written: read once the last one is.
	if _, err := settledEnd(ctx, cl, cfg.Topic); err != nil {
		t.Fatal(err)
	}
	var hung int
	var recs []topicRecord
	eachCommitted(t, b.Addr(), cfg.Topic, func(r *kgo.Record) {
		if string(r.Value) == hangingValue {
			if len(recs) > 0 {
				t.Errorf("offset %d: a record of the hanging transaction after the pipeline's", r.Offset)
			}
			hung++
			return
		}
		recs = append(recs, checkRecord(t, r))
	})
	if hung != hangingCount {
		t.Errorf("the topic holds %d records of the hanging transaction, want its %d committed", hung, hangingCount)
	}
	checkSequence(t, recs, n)
}

// The records hangTransaction leaves open.
const (
	hangingValue = "a frame of a transaction nobody ends"
	hangingCount = 3
)

// hangTransaction leaves a transaction of cfg's transactional id open on
// partition 0 of its topic without telling the coordinator: the producer
// id's epoch is taken from an InitProducerID, then a transactional batch at
// that epoch is produced directly, with no AddPartitionsToTxn, in a produce
// request of a version before transaction protocol 2 (whose partitions the
// broker would add itself).
func hangTransaction(ctx context.Context, t *testing.T, addr string, cfg Config) {
	t.Helper()
	txn, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(cfg.TransactionalID), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := txn.ProducerID(ctx)
	txn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var records []byte
	const count = hangingCount
	for i := range count {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(hangingValue)}
		body := r.AppendTo(nil)[1:] // without its length (0: one byte)
		r.Length = int32(len(body))
		records = r.AppendTo(records)
	}
	now := time.Now().UnixMilli()
	batch := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2,
		Attributes:      0x10, // transactional
		LastOffsetDelta: count - 1, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: 0, NumRecords: count,
		Records: records,
	}
	raw := batch.AppendTo(nil)
	// Length counts what follows it; the CRC (Castagnoli) covers what
	// follows it, from the attributes on.
	putInt32(raw[8:], int32(len(raw)-12))
	putInt32(raw[17:], int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))))

	old, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_6_0()), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = &cfg.TransactionalID
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = cfg.Topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("producing the transaction left open: %v", err)
			}
		}
	}
}

func putInt32(b []byte, v int32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
