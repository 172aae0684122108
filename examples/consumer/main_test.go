package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumerReadsWhatFeeddWrites: records with feedd's headers, as two
// members write them around a take-over: a committed run, a fenced
// member's aborted transaction, and the successor's flush that repeats a
// frame marked possible. The example delivers every committed frame once,
// nothing aborted, drops the repeat and keeps a marked frame it had not
// seen.
func TestConsumerReadsWhatFeeddWrites(t *testing.T) {
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	const topic = "ais-north"
	if err := b.Cluster().CreateTopic(topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := func(member string, seq int, possible bool) *kgo.Record {
		r := &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "$FDSEQ,%d*00\r\n", seq), Headers: []kgo.RecordHeader{
			{Key: broadcast.HeaderMember, Value: []byte(member)},
			{Key: broadcast.HeaderReceivedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
			{Key: broadcast.HeaderFeedSeq, Value: []byte(strconv.Itoa(seq))},
		}}
		if possible {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: broadcast.HeaderPossibleDuplicate, Value: []byte(audit.PossibleDuplicateValue)})
		}
		return r
	}
	txn := func(id string, commit bool, recs ...*kgo.Record) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		end := kgo.TryAbort
		if commit {
			end = kgo.TryCommit
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	txn("feedd-a", true, rec("a", 1, false), rec("a", 2, false), rec("a", 3, false))
	txn("feedd-zombie", false, rec("a", 4, false))                                 // aborted: never seen
	txn("feedd-b", true, rec("b", 3, true), rec("b", 4, true), rec("b", 5, false)) // 3 repeats, 4 is new
	cl, err := NewClient([]string{b.Addr()}, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	readCtx, stop := context.WithCancel(ctx)
	dropped, err := Consume(readCtx, cl, 16, func(f Frame) error {
		got = append(got, fmt.Sprintf("%s %s possible=%v", f.Member, f.Identity, f.Possible))
		if f.ReceivedAt.IsZero() {
			t.Errorf("frame %s: no read time", f.Identity)
		}
		if len(got) == 5 {
			stop()
		}
		return nil
	})
	if err != context.Canceled {
		t.Fatalf("Consume: %v", err)
	}
	want := []string{"a seq:1 possible=false", "a seq:2 possible=false", "a seq:3 possible=false", "b seq:4 possible=true", "b seq:5 possible=false"}
	if fmt.Sprint(got) != fmt.Sprint(want) || dropped != 1 {
		t.Fatalf("delivered %q, dropped %d; want %q and 1", got, dropped, want)
	}
}
