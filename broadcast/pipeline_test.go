package broadcast

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestActiveProducesInOrder(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	a := startActive(t, cfg)
	publishInOrder(t, a, b.Addr(), 500)
	st := a.Status()
	t.Logf("status: role=%v commits=%d epoch=%d lastOffset=%d", st.State, st.Counters.Commits, st.ProducerEpoch, st.LastCommitOffset)
}

// TestFencing: member B activating with the same transactional id fences A;
// A's next produce or commit fails with ErrFenced, A deactivates keeping its
// ring, and A's open transaction is aborted, invisible to read_committed.
func TestFencing(t *testing.T) {
	for _, next := range []string{"produce", "commit"} {
		t.Run(next, func(t *testing.T) { testFencing(t, testConfig(startBroker(t, "").Addr(), "feed"), next) })
	}
}

// testFencing: see TestFencing; next is what A tries after the fence,
// "produce" or "commit".
func testFencing(t *testing.T, cfg Config, next string) {
	addr, topic := cfg.Brokers[0], cfg.Topic
	// A's transaction stays open until something ends it.
	cfgA := cfg
	cfgA.CommitInterval, cfgA.CommitLinger, cfgA.TransactionTimeout = 10*time.Minute, 10*time.Minute, 14*time.Minute
	a := startMember(t, cfgA, "a", backlog.Config{})
	bm := startMember(t, cfg, "b", backlog.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a.mustActivate(t, ctx)
	const n = 50
	for i := uint64(1); i <= n; i++ {
		a.Accept(frame(i, time.Now()))
	}
	// A's records reach the log, uncommitted.
	waitFor(t, "A's records in the log", func() bool { return highWatermark(t, addr, topic) >= n })

	bm.mustActivate(t, ctx)
	if got := readCommitted(t, addr, topic); len(got) != 0 {
		t.Fatalf("read_committed sees %d records of the fenced member's open transaction, want 0", len(got))
	}

	switch next {
	case "produce":
		a.Accept(frame(n+1, time.Now()))
		waitFor(t, "A deactivated", func() bool { return a.Status().State == StateInactive })
	case "commit":
		err := a.Deactivate(ctx, Planned)
		if !errors.Is(err, ErrFenced) {
			t.Fatalf("A's final commit: %v, want ErrFenced", err)
		}
	}
	st := a.Status()
	if !errors.Is(st.Cause, ErrFenced) || st.Counters.Fenced != 1 || st.Counters.Commits != 0 {
		t.Fatalf("A after the fence: cause %v, fenced %d, commits %d; want ErrFenced, 1, 0", st.Cause, st.Counters.Fenced, st.Counters.Commits)
	}
	if want := map[string]int{"produce": n + 1, "commit": n}[next]; st.Ring.Len != want {
		t.Fatalf("A's ring holds %d frames after the fence, want %d (kept)", st.Ring.Len, want)
	}

	// B commits; A, now inactive, trims its ring on B's echoes.
	for i := uint64(1); i <= 10; i++ {
		bm.Accept(frame(i, time.Now()))
	}
	waitFor(t, "A trimmed on B's commits", func() bool { return a.Status().Ring.Len == st.Ring.Len-10 })
	got := readCommitted(t, addr, topic)
	checkSequence(t, got, 10)
	for _, r := range got {
		if r.member != "b" {
			t.Fatalf("record at offset %d from %q: the fenced member committed", r.offset, r.member)
		}
	}
}

func highWatermark(t testing.TB, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	l, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		return -1
	}
	o, _ := l.Lookup(topic, 0)
	return o.Offset
}

// TestEchoTrimming: A active, B inactive, both fed the same frames. B's ring
// holds only frames whose commit B has not yet seen: every frame leaves it by
// an echo of A's commit, and once the feed is quiet it is empty.
func TestEchoTrimming(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	a, bm := startEchoingPair(t, cfg, 30*time.Second)

	const n = 2000
	maxDepth := 0
	for i := uint64(1); i <= n; i++ {
		f := frame(i, time.Now())
		a.Accept(f)
		bm.Accept(f)
		if i%100 == 0 {
			maxDepth = max(maxDepth, bm.Status().Ring.Len)
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(t, "B's ring empty after a quiet period", func() bool { return bm.Status().Ring.Len == 0 })
	st := bm.Status()
	t.Logf("B: deepest ring seen while streaming %d frames, echo trimmed %d, early %d", maxDepth, st.Counters.EchoMatched, st.Counters.EchoRemembered)
	if st.Ring.TrimmedByEcho+st.Ring.Recognised != n || st.Ring.Skipped+st.Ring.Passed != 0 || st.Ring.OverflowFrames != 0 {
		t.Fatalf("B's ring: trimmed by echo %d + suppressed by early echo %d, want %d; skipped %d, overflow %d, want 0",
			st.Ring.TrimmedByEcho, st.Ring.Recognised, n, st.Ring.Skipped, st.Ring.OverflowFrames)
	}
	if st.Witness.Member != "a" || st.Witness.SeenAt.IsZero() {
		t.Fatalf("B's witness %+v, want member a", st.Witness)
	}
	if st.State != StateInactive || st.Counters.Produced != 0 {
		t.Fatalf("B: role %v, produced %d; want inactive, 0", st.State, st.Counters.Produced)
	}
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n)
}

// TestOverflow: with no echoes, the ring keeps its bounds and the counters
// say exactly what was dropped; what is left is flushed on activation.
func TestOverflow(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	m := startMember(t, cfg, "a", backlog.Config{MaxFrames: 100, MaxBytes: 1 << 20})
	const n = 1000
	for i := uint64(1); i <= n; i++ {
		m.Accept(frame(i, time.Now()))
	}
	waitFor(t, "all frames handed over", func() bool { st := m.Status(); return st.Ring.Appended == n })
	st := m.Status()
	if st.Ring.Len != 100 || st.Ring.OverflowFrames != n-100 || st.Ring.LimboLen != n-100 || st.Ring.OverflowLost != 0 {
		t.Fatalf("ring %+v: want 100 held, 900 overflowed and not yet known to be lost", st.Ring)
	}

	// A byte bound holds too.
	m2 := startMember(t, cfg, "b", backlog.Config{MaxFrames: 1 << 20, MaxBytes: 4096})
	for i := uint64(1); i <= n; i++ {
		m2.Accept(frame(i, time.Now()))
	}
	waitFor(t, "all frames handed over", func() bool { return m2.Status().Ring.Appended == n })
	if st2 := m2.Status(); st2.Ring.Bytes > 4096 || st2.Ring.OverflowFrames == 0 || uint64(st2.Ring.Len)+st2.Ring.OverflowFrames != n {
		t.Fatalf("ring %+v: want at most 4096 bytes and every frame either held or counted as overflow", st2.Ring)
	}

	m.activate(t, 30*time.Second)
	waitFor(t, "the ring flushed", func() bool { return m.Status().Ring.Len == 0 })
	got := readCommitted(t, b.Addr(), "feed")
	if len(got) != 100 || got[0].seq != n-99 || got[99].seq != n {
		t.Fatalf("topic holds %d records, want the 100 the ring kept (%d..%d)", len(got), n-99, n)
	}
	// Going live, it is the one to publish: what it evicted is lost, one
	// gap at positions 1..900, exactly.
	if st := m.Status(); st.Ring.OverflowLost != n-100 || st.Ring.LimboLen != 0 || st.Ring.OverflowGaps != 1 ||
		st.Ring.FirstLostPos != 1 || st.Ring.LastLostPos != n-100 {
		t.Fatalf("ring %+v: want 900 lost in one gap at positions 1..900", st.Ring)
	}
}

// TestBrokerUnreachableAtStart: activation fails with a clear error while no
// broker answers, frames keep arriving into the ring, and once the broker is
// up an activation flushes all of them.
func TestBrokerUnreachableAtStart(t *testing.T) {
	b := startBroker(t, "")
	addr := b.Addr()
	b.Close() // nothing listens there now
	cfg := testConfig(addr, "feed")
	m := startMember(t, cfg, "a", backlog.Config{})
	for i := uint64(1); i <= 100; i++ {
		m.Accept(frame(i, time.Now()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := m.Activate(ctx)
	cancel()
	t.Logf("activation without a broker: %v", err)
	if err == nil {
		t.Fatal("activation succeeded without a broker")
	}
	st := m.Status()
	if st.State != StateInactive || st.Counters.ActivationFailures == 0 || st.LastError == "" {
		t.Fatalf("after the failed activation: role %v, failures %d, last error %q", st.State, st.Counters.ActivationFailures, st.LastError)
	}

	b2, err := localbroker.Start(localbroker.Options{Listen: addr, Logger: testsupport.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Close)
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m.mustActivate(t, ctx)
	for i := uint64(101); i <= 200; i++ {
		m.Accept(frame(i, time.Now()))
	}
	waitFor(t, "all frames committed", func() bool { return m.Status().Counters.CommittedFrames == 200 })
	checkSequence(t, readCommitted(t, addr, "feed"), 200)
}

// TestBrokerRestartMidStream: the broker stops while the active streams and
// comes back on the same port with the same data directory. Commits fail
// meanwhile (and say so), the ring covers the outage, and every frame lands
// exactly once, in order.
func TestBrokerRestartMidStream(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	addr := b.Addr()
	cfg := testConfig(addr, "feed")
	cfg.CommitTimeout = 200 * time.Millisecond
	m := startMember(t, cfg, "a", backlog.Config{})
	m.activate(t, 60*time.Second)
	feed := &feeder{m: m, every: 20, pause: 2 * time.Millisecond}
	feed.next(500)
	b.Close()
	feed.next(500)
	waitFor(t, "commits reported failing", func() bool { return !m.Status().CommitFailingSince.IsZero() })
	b2, err := localbroker.Start(localbroker.Options{Listen: addr, DataDir: dir, Logger: testsupport.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Close)
	feed.next(500)
	waitFor(t, "the ring drained", func() bool {
		st := m.Status()
		return st.Ring.Len == 0 && st.CommitFailingSince.IsZero()
	})
	st := m.Status()
	t.Logf("after the restart: role %v, commits %d, failures %d, aborts %d, last error %q", st.State, st.Counters.Commits, st.Counters.CommitFailures, st.Counters.Aborts, st.LastError)
	if st.State != StateActive {
		t.Fatalf("role %v after the broker came back, want active (cause %v)", st.State, st.Cause)
	}
	checkSequence(t, readCommitted(t, addr, "feed"), feed.seq)
}

// startFirstCommitted starts a member on the embedded broker that reports
// commits failing after 200ms, activates it and commits its first frame.
func startFirstCommitted(t *testing.T) (*localbroker.Broker, *member, context.Context) {
	t.Helper()
	b, cfg := startBrokerFor(t, "feed")
	cfg.CommitTimeout = 200 * time.Millisecond
	m := startMember(t, cfg, "a", backlog.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	m.mustActivate(t, ctx)
	m.Accept(frame(1, time.Now()))
	waitFor(t, "the first frame committed", func() bool { return m.Status().Counters.CommittedFrames == 1 })
	return b, m, ctx
}

// holdFirst holds the broker's answer to the first request of kind key that
// match accepts until release is closed; held is closed when it arrives.
func holdFirst(c *kfake.Cluster, key kmsg.Key, match func(kmsg.Request) bool) (held, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var once bool
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if once || !match(req) {
			return nil, nil, false
		}
		once = true
		close(held)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	return held, release
}

// awaitHeld waits for the request holdFirst holds to reach the broker, and
// fails with msg if none does.
func awaitHeld(t testing.TB, held <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal(msg)
	}
}

// TestFirstRecordUnansweredReportsFailing: a transaction's first record goes
// alone, and nothing commits until the broker answers it. A broker that
// stops answering right then (in TestBrokerRestartMidStream, a broker that
// stops just after the record was sent, which happens there only now and
// then) must show as commits failing, as a stalled commit does. Here the
// broker holds the answer for as long as the test wants, so the moment is
// not left to the machine's speed.
func TestFirstRecordUnansweredReportsFailing(t *testing.T) {
	b, m, ctx := startFirstCommitted(t)

	// Hold the answer to the next produce request to the topic: the first
	// record of the next transaction. (Requests name the topic by its id.)
	_, adm := adminClient(t, b.Addr())
	td, err := adm.ListTopics(ctx, "feed")
	if err != nil || td["feed"].Err != nil {
		t.Fatalf("listing the topic: %v %v", err, td["feed"].Err)
	}
	topicID := td["feed"].ID
	held, release := holdFirst(b.Cluster(), kmsg.Produce, func(req kmsg.Request) bool {
		r := req.(*kmsg.ProduceRequest)
		return len(r.Topics) > 0 && (r.Topics[0].Topic == "feed" || r.Topics[0].TopicID == topicID)
	})
	for i := uint64(2); i <= 50; i++ {
		m.Accept(frame(i, time.Now()))
	}
	awaitHeld(t, held, "no produce request reached the broker")
	waitFor(t, "commits reported failing", func() bool { return !m.Status().CommitFailingSince.IsZero() })
	if st := m.Status(); st.State != StateActive || st.Counters.CommittedFrames != 1 {
		t.Fatalf("while the answer is held: role %v, committed %d; want active with only the first frame committed", st.State, st.Counters.CommittedFrames)
	}
	close(release)
	waitFor(t, "every frame committed and commits healthy again", func() bool {
		st := m.Status()
		return st.Counters.CommittedFrames == 50 && st.CommitFailingSince.IsZero()
	})
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), 50)
}

// TestNoReinitAfterUnconfirmedCommit: a member that stops while its commit
// is unanswered (the broker went silent) must not send the broker anything
// more. franz-go answers an abort on a producer whose commit never returned
// by initialising the producer id again with its old epoch, and Apache Kafka
// fences an ongoing transaction on such a request before it checks the
// epoch: delivered late, when a cut heals, it aborts the transaction of the
// member that activated meanwhile, which then takes its refused commit for
// a fence and steps down although nobody took over.
func TestNoReinitAfterUnconfirmedCommit(t *testing.T) {
	b, m, ctx := startFirstCommitted(t)

	c := b.Cluster()
	held, release := holdFirst(c, kmsg.EndTxn, func(req kmsg.Request) bool { return req.(*kmsg.EndTxnRequest).Commit })
	var reinits atomic.Int32
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if req.(*kmsg.InitProducerIDRequest).ProducerID >= 0 {
			reinits.Add(1)
		}
		return nil, nil, false
	})
	for i := uint64(2); i <= 20; i++ {
		m.Accept(frame(i, time.Now()))
	}
	awaitHeld(t, held, "no commit reached the broker")
	waitFor(t, "commits reported failing", func() bool { return !m.Status().CommitFailingSince.IsZero() })
	m.mustDeactivate(t, ctx, Immediate)
	// A request the member sent went out before Deactivate returned; the
	// broker reads it once the held commit is answered.
	close(release)
	time.Sleep(time.Second)
	if n := reinits.Load(); n != 0 {
		t.Fatalf("the stopped member sent %d InitProducerID requests with its old producer id", n)
	}
}

// TestConcurrentTransactionsRetriedPromptly: under transaction protocol 2 a
// broker answers the first record of a transaction CONCURRENT_TRANSACTIONS
// while the previous transaction's markers are still being written (the
// first commit on a fresh Apache Kafka broker, whose coordinator then opens
// its marker channel). The producer must retry it within the commit timeout:
// with franz-go's default MetadataMinAge it waited 5s for a metadata
// refresh, and the active stepped down for Kafka although nothing failed.
func TestConcurrentTransactionsRetriedPromptly(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	// Far above the retry it allows (about producerMetadataMinAge), below
	// the 5s the default made the record wait.
	cfg.CommitTimeout = 3 * time.Second
	m := startActive(t, cfg)
	m.Accept(frame(1, time.Now()))
	waitFor(t, "the first frame committed", func() bool { return m.Status().Counters.CommittedFrames == 1 })
	b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.ConcurrentTransactions})
	for i := uint64(2); i <= 50; i++ {
		m.Accept(frame(i, time.Now()))
	}
	waitFor(t, "every frame committed, or commits reported failing", func() bool {
		st := m.Status()
		return st.Counters.CommittedFrames == 50 || !st.CommitFailingSince.IsZero()
	})
	if st := m.Status(); !st.CommitFailingSince.IsZero() || st.Counters.CommitFailures != 0 {
		t.Fatalf("commits failing since %v (%d failures, last error %q): a record answered CONCURRENT_TRANSACTIONS waited past kafka.commit_timeout",
			st.CommitFailingSince, st.Counters.CommitFailures, st.LastError)
	}
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), 50)
}

// TestCommitFailureReplays: a commit or a record that fails for a reason
// other than a fence aborts the transaction, reads the topic to its last
// stable offset again and replays the ring: no frame lost, none twice, and
// the member stays active.
func TestCommitFailureReplays(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault kfake.Fault
	}{
		{"end-txn", kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError}},
		{"produce", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.InvalidRecord}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, cfg := startBrokerFor(t, "feed")
			m := startActive(t, cfg)
			feed := &feeder{m: m, every: 10, pause: time.Millisecond}
			feed.next(200)
			b.Cluster().Fault(tc.fault)
			feed.next(400)
			waitFor(t, "the ring drained after the failure", func() bool {
				st := m.Status()
				return st.Ring.Len == 0 && st.Counters.Aborts > 0 && st.CommitFailingSince.IsZero()
			})
			st := m.Status()
			t.Logf("failures %d, aborts %d, last error %q", st.Counters.CommitFailures, st.Counters.Aborts, st.LastError)
			if st.State != StateActive || st.Counters.CommitFailures == 0 {
				t.Fatalf("role %v, commit failures %d: want active after at least one failure", st.State, st.Counters.CommitFailures)
			}
			checkSequence(t, readCommitted(t, b.Addr(), "feed"), feed.seq)
		})
	}
}

// TestRecordKey: the key is absent by default, the identity in 16 hex
// digits with key: identity, the pipeline name with key: pipeline; the
// value is the frame's bytes and the headers are checked by readCommitted.
func TestRecordKey(t *testing.T) {
	b := startBroker(t, "")
	for _, key := range []string{KeyNone, KeyIdentity, KeyPipeline} {
		cfg := testConfig(b.Addr(), "feed-"+key)
		cfg.Key = key
		cfg.TransactionalID = "feedd-key-" + key
		m := startMember(t, cfg, "a", backlog.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		m.mustActivate(t, ctx)
		cancel()
		m.Accept(frame(7, time.Now()))
		m.Accept(fpFrame(8, time.Now()))
		waitFor(t, "frames committed", func() bool { return m.Status().Counters.CommittedFrames == 2 })
		got := readCommitted(t, b.Addr(), cfg.Topic)
		want := map[string][2]string{
			KeyNone:     {"", ""},
			KeyIdentity: {"0000000000000007", fmt.Sprintf("%016x", ingest.Fingerprint(fpFrame(8, time.Time{}).Data))},
			KeyPipeline: {"test", "test"},
		}[key]
		if len(got) != 2 || got[0].key != want[0] || got[1].key != want[1] || got[0].value != string(frame(7, time.Time{}).Data) {
			t.Fatalf("key %s: records %+v, want keys %q", key, got, want)
		}
	}
}

// TestActivationWaitsForOpenTransactions: an activation reads the topic to
// its end only once no transaction is open there, so that a transaction
// still finishing after the fence (a commit whose markers Kafka writes late)
// is trimmed, not flushed again. Here another producer holds a transaction
// open: the member does not go live until it ends, and then trims what it
// committed.
func TestActivationWaitsForOpenTransactions(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	m := startMember(t, cfg, "a", backlog.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, "the topic", func() bool { return highWatermark(t, b.Addr(), "feed") >= 0 })

	other := otherProducer(t, b.Addr())
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	f := frame(1, time.Now())
	// Written in the format before RecordFormat 1, as a member not yet
	// upgraded writes it: the member still trims by it.
	rec := &kgo.Record{Value: f.Data, Headers: []kgo.RecordHeader{
		{Key: HeaderFingerprint, Value: fmt.Appendf(nil, "%016x", f.Fingerprint)},
		{Key: HeaderFeedSeq, Value: []byte("1")},
		{Key: HeaderMember, Value: []byte(earlierFormatMember)},
		{Key: HeaderReceivedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		{Key: HeaderReadWindow, Value: appendReadWindow(nil, hostclock.ID(), f.Line)},
	}}
	if err := other.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	m.Accept(frame(1, time.Now()))
	m.Accept(frame(2, time.Now()))

	activated := make(chan error, 1)
	go func() { activated <- m.Activate(ctx) }()
	select {
	case err := <-activated:
		t.Fatalf("went live (err %v) while a transaction was open on the topic", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := other.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := <-activated; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "frame 2 committed", func() bool { return m.Status().Counters.CommittedFrames == 1 })
	recs := readCommitted(t, b.Addr(), "feed")
	checkSequence(t, recs, 2)
}
