package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCommitLingerCountsFromReceipt: the commit linger runs from when the
// transaction's first frame was read, not from when it was produced. A
// frame read long before it could be produced (it waited in the ring) is
// committed at once even with a ten-minute linger.
func TestCommitLingerCountsFromReceipt(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	cfg.CommitInterval, cfg.CommitLinger, cfg.TransactionTimeout = 10*time.Minute, 10*time.Minute, 14*time.Minute
	a := startActive(t, cfg)
	a.Accept(frame(1, time.Now().Add(-time.Hour)))
	waitFor(t, "the old frame committed", func() bool { return a.Status().Counters.CommittedFrames == 1 })
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), 1)
}

func TestCommitDelay(t *testing.T) {
	p := &Pipeline{cfg: Config{CommitLinger: 25 * time.Millisecond}}
	now := time.Now()
	for _, tc := range []struct {
		waited, want time.Duration
	}{
		{0, 25 * time.Millisecond},
		{10 * time.Millisecond, 15 * time.Millisecond},
		{25 * time.Millisecond, 0},
		{time.Hour, 0},
		{-time.Hour, 25 * time.Millisecond}, // received "in the future": a clock step
	} {
		if got := p.commitDelay(now.Add(-tc.waited).UnixNano(), now); got != tc.want {
			t.Errorf("waited %v: commit after %v, want %v", tc.waited, got, tc.want)
		}
	}
}

// TestOverdueFramesShareATransaction: frames that waited in the ring past
// the commit linger make the commit due at once, but the transaction
// still takes every waiting frame once its first record is acknowledged
// (a transaction's first record goes alone), rather than committing that
// record alone, once per frame.
func TestOverdueFramesShareATransaction(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	cfg.CommitInterval, cfg.CommitLinger, cfg.TransactionTimeout = 10*time.Minute, 10*time.Minute, 14*time.Minute
	const n = 1000
	// One transaction for the backlog, perhaps one more if the first
	// record's acknowledgement came back while the rest were being read
	// in; one per frame without the rule.
	if c := commitBacklog(t, b.Addr(), startMember(t, cfg, "a", backlog.Config{}), n); c > 3 {
		t.Fatalf("%d frames committed in %d transactions, want at most 3", n, c)
	}
}

// commitBacklog puts frames 1 to n in a's ring before it goes live,
// activates it, waits until it has committed them, checks the topic, and
// returns how many transactions it took.
func commitBacklog(t *testing.T, addr string, a *member, n uint64) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old := time.Now().Add(-time.Hour)
	for i := uint64(1); i <= n; i++ {
		a.Accept(frame(i, old))
	}
	waitFor(t, "the backlog in the ring", func() bool { return a.Status().Ring.Len == int(n) })
	a.mustActivate(t, ctx)
	waitFor(t, "the backlog committed", func() bool { return a.Status().Counters.CommittedFrames == n })
	checkSequence(t, readCommitted(t, addr, "feed"), n)
	return a.Status().Counters.Commits
}

// TestSlowAcknowledgementDoesNotCutTheBacklog: commit_interval counts from
// when a transaction's first record was acknowledged, when the rest begin
// to go. Counted from the first record, a broker that takes longer than the
// interval to acknowledge it cut every transaction of a backlog at 64
// frames, a commit per two round trips, and a loaded cluster's active fell
// behind a 500 frames/s feed for good.
func TestSlowAcknowledgementDoesNotCutTheBacklog(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	cfg.CommitInterval = 200 * time.Millisecond
	c := b.Cluster()
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { time.Sleep(300 * time.Millisecond) })
		return nil, nil, false
	})
	const n = 1000
	// Producing the rest of the backlog takes a few milliseconds, far
	// less than the interval: one transaction, or a few if the owner was
	// descheduled; 16 with the interval counted from the first record.
	if c := commitBacklog(t, b.Addr(), startMember(t, cfg, "a", backlog.Config{}), n); c > 4 {
		t.Fatalf("%d frames committed in %d transactions, want at most 4", n, c)
	}
}

// TestCommitWaitsForTheStoredPartition: franz-go ends a transaction with an
// abort, reporting success, when none of the partitions it holds was added
// to it; a topic's first records can be acknowledged before the client
// stores the topic's partition. So a commit waits until the client shows
// the partition: here it does not while the topic is missing, and does as
// soon as the topic is created and the record goes.
func TestCommitWaitsForTheStoredPartition(t *testing.T) {
	b := startBroker(t, "")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("partition-stored"), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	acked := make(chan error, 1)
	cl.TryProduce(context.Background(), &kgo.Record{Topic: "late", Value: []byte("x")}, func(_ *kgo.Record, err error) { acked <- err })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := awaitPartitionStored(ctx, cl, "late"); err == nil {
		t.Fatal("the topic does not exist, yet the partition counts as stored")
	}

	if err := b.Cluster().CreateTopic("late", 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := awaitPartitionStored(ctx, cl, "late"); err != nil {
		t.Fatalf("after the topic was created: %v", err)
	}
	if err := <-acked; err != nil {
		t.Fatalf("producing: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	var n int
	eachCommitted(t, b.Addr(), "late", func(*kgo.Record) { n++ })
	if n != 1 {
		t.Fatalf("the topic holds %d committed records, want the one", n)
	}
}
