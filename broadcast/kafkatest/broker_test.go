package kafkatest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBroker starts the real broker from the cached installation and
// checks what the tests rely on: transaction protocol version 2, an extra
// listener that advertises the address it was told, committed records that
// survive a graceful and a hard restart on the same addresses.
func TestBroker(t *testing.T) {
	in := Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const advertised = "127.0.0.1:1" // nothing listens there; only the metadata is read
	b, err := in.Start(ctx, Config{Dir: t.TempDir(), Listeners: []Listener{{Name: "CLIENT_A", Advertise: advertised}}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log:\n%s", b.LogTail(60))
		}
	})

	feats, err := b.FinalizedFeatures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if feats["transaction.version"] != 2 {
		t.Fatalf("finalized features %v: want transaction.version 2 (KIP-890)", feats)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("CLIENT_A")), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Brokers) != 1 || net.JoinHostPort(m.Brokers[0].Host, strconv.Itoa(int(m.Brokers[0].Port))) != advertised {
		t.Fatalf("metadata through CLIENT_A lists %+v, want the one broker at %s", m.Brokers, advertised)
	}

	produce := func(v string) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("kafkatest"),
			kgo.DefaultProduceTopic("t"), kgo.AllowAutoTopicCreation(), kgo.DisableClientMetrics())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []string {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("t"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.DisableClientMetrics())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		lso, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		end, _ := lso.Lookup("t", 0)
		var got []string
		for next := int64(0); next < end.Offset; {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("reading: %v", ctx.Err())
			}
			fs.EachRecord(func(r *kgo.Record) {
				if !r.Attrs.IsControl() {
					got = append(got, string(r.Value))
				}
				next = r.Offset + 1
			})
		}
		return got
	}

	produce("before")
	for i, hard := range []bool{false, true} {
		if err := b.Restart(ctx, hard); err != nil {
			t.Fatalf("restart (hard %v): %v", hard, err)
		}
		produce(fmt.Sprint("after-", i))
	}
	if got := read(); fmt.Sprint(got) != "[before after-0 after-1]" {
		t.Fatalf("committed records after two restarts: %q", got)
	}
	b.Kill()
	if b.Running() {
		t.Fatal("the broker runs after Kill")
	}
}
