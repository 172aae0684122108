package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdempotentProducer: with kafka.producer: idempotent the active member
// produces every frame in order with no transaction at all (the topic holds
// no commit marker and no transactional record), trims its ring on each
// flush, writes no control heartbeat, and says so in its status.
func TestIdempotentProducer(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "feed")
	cfg.Producer = ProducerIdempotent
	a := startMember(t, cfg, "a", backlog.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Activate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := uint64(1); i <= n; i++ {
		a.Accept(frame(i, time.Now()))
	}
	waitFor(t, "all frames flushed", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames == n && st.Ring.Len == 0
	})
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n)

	markers, transactional := 0, 0
	eachRecord(t, b.Addr(), "feed", func(r *kgo.Record) {
		if r.Attrs.IsControl() {
			markers++
		}
		if r.Attrs.IsTransactional() {
			transactional++
		}
	})
	if markers != 0 || transactional != 0 {
		t.Fatalf("idempotent producer: %d commit markers and %d transactional records in the topic, want none", markers, transactional)
	}
	st := a.Status()
	if st.Producer != ProducerIdempotent || st.ControlTopic != "" || st.Counters.ControlHeartbeats != 0 {
		t.Fatalf("status: producer %q, control topic %q, control commits %d; want idempotent, none, 0",
			st.Producer, st.ControlTopic, st.Counters.ControlHeartbeats)
	}
}

// eachRecord hands fn every record of the topic up to its high watermark,
// control records included, read uncommitted.
func eachRecord(t testing.TB, addr, topic string, fn func(*kgo.Record)) {
	t.Helper()
	end := highWatermark(t, addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for next := int64(0); next < end; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: reached offset %d of %d: %v", topic, next, end, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			fn(r)
		})
	}
}
