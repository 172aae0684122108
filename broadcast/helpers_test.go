package broadcast

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startBroker starts an in-process broker on an ephemeral 127.0.0.1 port.
func startBroker(t testing.TB, dataDir string) *localbroker.Broker {
	t.Helper()
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0", DataDir: dataDir, Logger: testsupport.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// startBrokerFor starts an in-process broker and returns it with the test
// configuration of a pipeline publishing to topic on it.
func startBrokerFor(t testing.TB, topic string) (*localbroker.Broker, Config) {
	t.Helper()
	b := startBroker(t, "")
	return b, testConfig(b.Addr(), topic)
}

func testConfig(addr, topic string) Config {
	return Config{
		Brokers:        []string{addr},
		Topic:          topic,
		CommitInterval: 10 * time.Millisecond,
	}
}

// member is a pipeline running in a test.
type member struct {
	*Pipeline
	cancel context.CancelFunc
	ran    chan struct{}
}

func startMember(t testing.TB, cfg Config, name string, ring backlog.Config) *member {
	t.Helper()
	return startMemberWith(t, cfg, Options{Pipeline: "test", Member: name, Ring: ring, Logger: testsupport.Logger().With("member", name)})
}

// startPair starts a pipeline's two members, a and b, with default rings.
func startPair(t testing.TB, cfg Config) (a, b *member) {
	t.Helper()
	return startMember(t, cfg, "a", backlog.Config{}), startMember(t, cfg, "b", backlog.Config{})
}

// startPositionedPair starts a pipeline's two members and waits until b's
// echo consumer has positioned itself: b takes what was committed before
// that as from before it started, and does not trim its ring on it.
func startPositionedPair(t testing.TB, cfg Config) (a, b *member) {
	t.Helper()
	a, b = startPair(t, cfg)
	waitFor(t, "B's echo positioned", func() bool { return b.Status().EchoOffset >= 0 })
	return a, b
}

// startActive starts member a of a pipeline with a default ring and makes
// it active, failing the test unless it is live within 30 seconds.
func startActive(t testing.TB, cfg Config) *member {
	t.Helper()
	a := startMember(t, cfg, "a", backlog.Config{})
	a.activate(t, 30*time.Second)
	return a
}

// startEchoingPair starts a pipeline's two members, makes a active within
// timeout and waits for b to read a's commits from the topic.
func startEchoingPair(t testing.TB, cfg Config, timeout time.Duration) (a, b *member) {
	t.Helper()
	a, b = startPair(t, cfg)
	a.activate(t, timeout)
	waitFor(t, "B's echo positioned", func() bool { return b.Status().EchoOffset >= 0 })
	return a, b
}

// adminClient connects a client to the broker at addr for the test's own
// requests, closed when the test ends.
func adminClient(t testing.TB, addr string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// startMemberWith starts a pipeline with the given options.
func startMemberWith(t testing.TB, cfg Config, opt Options) *member {
	t.Helper()
	p, err := New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{Pipeline: p, cancel: cancel, ran: make(chan struct{})}
	go func() {
		defer close(m.ran)
		if err := p.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// activate makes m active, failing the test unless it is live within
// timeout.
func (m *member) activate(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m.mustActivate(t, ctx)
}

// mustActivate makes m active, failing the test unless it is live before
// ctx ends.
func (m *member) mustActivate(t testing.TB, ctx context.Context) {
	t.Helper()
	if err := m.Activate(ctx); err != nil {
		t.Fatal(err)
	}
}

// mustDeactivate deactivates m in the given mode, failing the test on an
// error.
func (m *member) mustDeactivate(t testing.TB, ctx context.Context, mode DeactivateMode) {
	t.Helper()
	if err := m.Deactivate(ctx, mode); err != nil {
		t.Fatal(err)
	}
}

// stop shuts the member down gracefully and waits.
func (m *member) stop() {
	m.cancel()
	<-m.ran
}

// stepDown ends from's active period as a handover of the given mode does
// before the next member activates: fenced leaves it active for that
// activation to fence, killed crashes it, planned and immediate deactivate
// it. what names the handover in a failure.
func stepDown(t testing.TB, ctx context.Context, from *member, mode, what string) {
	t.Helper()
	switch mode {
	case "fenced":
		// The next activation fences from in the middle of its stream.
	case "killed":
		from.crash()
	case "planned":
		if err := from.Deactivate(ctx, Planned); err != nil {
			t.Fatalf("%s: planned deactivation: %v", what, err)
		}
	case "immediate":
		if err := from.Deactivate(ctx, Immediate); err != nil {
			t.Fatalf("%s: immediate deactivation: %v", what, err)
		}
	}
}

// waitFenced waits for m, fenced by another member's activation, to
// deactivate, and checks that it says why. what names the handover in a
// failure.
func waitFenced(t testing.TB, m *member, what string) {
	t.Helper()
	waitFor(t, "the fenced member to deactivate", func() bool { return m.Status().State == StateInactive })
	if st := m.Status(); !errors.Is(st.Cause, ErrFenced) {
		t.Fatalf("%s: the fenced member stopped with %v, want ErrFenced", what, st.Cause)
	}
}

// rejoin completes from's step-down of the given mode once the next member
// is live: a fenced member must have deactivated; a killed one is started
// again with an empty ring on its port, its final status kept in dead.
// It returns the member now on the port. what names the handover in a
// failure.
func rejoin(t testing.TB, cfg Config, from *member, p *port, mode, what string, dead *[]Status) *member {
	t.Helper()
	switch mode {
	case "fenced":
		waitFenced(t, from, what)
	case "killed":
		*dead = append(*dead, from.Status())
		from = startMember(t, cfg, from.opt.Member, backlog.Config{})
		p.m.Store(from)
	}
	return from
}

// publishInOrder feeds the active a the frames 1..n, waits until it has
// committed them all and emptied its ring, and checks that its topic on the
// broker at addr holds 1..n exactly once, in order.
func publishInOrder(t testing.TB, a *member, addr string, n uint64) {
	t.Helper()
	for i := uint64(1); i <= n; i++ {
		a.Accept(frame(i, time.Now()))
	}
	waitFor(t, "all frames committed", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames == n && st.Ring.Len == 0
	})
	checkSequence(t, readCommitted(t, addr, a.cfg.Topic), n)
}

// frame builds a sequenced frame as the ingest side would: the feed's
// sequence number is its identity.
func frame(seq uint64, rx time.Time) *ingest.Frame {
	f := fpFrame(seq, rx)
	f.FeedSeq, f.HasFeedSeq = seq, true
	return f
}

// fpFrame builds a frame identified by its fingerprint (no sequence
// extractor); the sequence number is still in its bytes. Its line window is
// the millisecond before now on the host clock, as if read from a port at rx.
func fpFrame(seq uint64, rx time.Time) *ingest.Frame {
	data := []byte(fmt.Sprintf("$TEST,%d,payload-%08d*", seq, seq*7919))
	now := hostclock.Now()
	return &ingest.Frame{Data: data, ReceivedAt: rx, Fingerprint: ingest.Fingerprint(data),
		Line: backlog.Window{Lo: now - int64(time.Millisecond), Hi: now}}
}

// recordHeaderAs is the header member would have written for f, read on
// the host clock clock in the line window w.
func recordHeaderAs(member string, clock uint64, f *ingest.Frame, w backlog.Window) kgo.RecordHeader {
	m := RecordMeta{Fingerprint: f.Fingerprint, FeedSeq: f.FeedSeq, HasFeedSeq: f.HasFeedSeq, Member: []byte(member),
		ReceivedAt: f.ReceivedAt.UnixNano(), Clock: clock, Window: w, HasWindow: true}
	return kgo.RecordHeader{Key: RecordHeader, Value: m.Append(nil)}
}

// feeder hands a member sequenced frames, pausing after every every-th so
// that they spread over many transactions rather than land in one.
type feeder struct {
	m     *member
	every uint64
	pause time.Duration
	seq   uint64 // the last sequence number fed
}

// next feeds the next k frames.
func (f *feeder) next(k int) {
	for range k {
		f.seq++
		f.m.Accept(frame(f.seq, time.Now()))
		if f.seq%f.every == 0 {
			time.Sleep(f.pause)
		}
	}
}

// topicRecord is a committed record as a read_committed consumer sees it.
type topicRecord struct {
	offset   int64
	seq      uint64
	member   string
	key      string
	value    string
	possible bool // marked as a possible duplicate
}

// readCommitted reads every committed record of the topic, from the start
// to its last stable offset, with an independent read_committed consumer.
func readCommitted(t testing.TB, addr, topic string) []topicRecord {
	t.Helper()
	var out []topicRecord
	eachCommitted(t, addr, topic, func(r *kgo.Record) { out = append(out, checkRecord(t, r)) })
	return out
}

// eachCommitted hands fn every committed data record of a topic, from the
// start to its last stable offset, read by an independent read_committed
// consumer.
func eachCommitted(t testing.TB, addr, topic string, fn func(*kgo.Record)) {
	t.Helper()
	lso := func(ctx context.Context, cl *kgo.Client) (int64, error) {
		return lastStableOffset(ctx, cl, topic)
	}
	consumeTopic(t, addr, topic, kgo.ReadCommitted(), lso, func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			fn(r)
		}
	})
}

// eachRecord hands fn every record of the topic up to its high watermark,
// control records included, read uncommitted.
func eachRecord(t testing.TB, addr, topic string, fn func(*kgo.Record)) {
	t.Helper()
	end := highWatermark(t, addr, topic)
	hw := func(context.Context, *kgo.Client) (int64, error) { return end, nil }
	consumeTopic(t, addr, topic, kgo.ReadUncommitted(), hw, fn)
}

// consumeTopic hands fn every record of the topic, control records
// included, from its start to the offset end gives, read by an independent
// consumer with the given isolation level.
func consumeTopic(t testing.TB, addr, topic string, isolation kgo.IsolationLevel, end func(context.Context, *kgo.Client) (int64, error), fn func(*kgo.Record)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.FetchIsolationLevel(isolation),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	last, err := end(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for next := int64(0); next < last; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: reached offset %d of %d: %v", topic, next, last, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			fn(r)
		})
	}
}

// earlierFormatMember is the member id of records a test writes in the
// format before RecordFormat, as a member not yet upgraded writes them:
// checkRecord accepts that format from it alone.
const earlierFormatMember = "earlier"

// checkRecord checks a record's format (value, headers) and returns it with
// the sequence number read from the frame's bytes: a test frame built by
// frame or fpFrame, or a simulator sentence ($FDSEQ, checksum verified) read
// through a pty.
func checkRecord(t testing.TB, r *kgo.Record) topicRecord {
	t.Helper()
	v := string(r.Value)
	seq, ok := serialsim.ParseSeq(r.Value)
	if !ok {
		if _, err := fmt.Sscanf(v, "$TEST,%d,", &seq); err != nil {
			t.Fatalf("offset %d: value %q is neither a test frame nor a simulator sentence", r.Offset, v)
		}
	}
	meta := ParseRecordMeta(r)
	if meta.Format == 0 && string(meta.Member) == earlierFormatMember {
		if id, exact := meta.Identity(r.Value); !exact || id != seq || meta.Fingerprint != ingest.Fingerprint(r.Value) {
			t.Fatalf("offset %d: earlier format: identity %d (exact %v), fingerprint %x: the frame says %d", r.Offset, id, exact, meta.Fingerprint, seq)
		}
		return topicRecord{offset: r.Offset, seq: seq, member: earlierFormatMember, key: string(r.Key), value: v, possible: meta.Possible}
	}
	if len(r.Headers) != 1 || r.Headers[0].Key != RecordHeader {
		t.Fatalf("offset %d: headers %v, want one %s", r.Offset, r.Headers, RecordHeader)
	}
	h := r.Headers[0].Value
	switch {
	case meta.Format != RecordFormat:
		t.Fatalf("offset %d: header %q: format %d, want %d", r.Offset, h, meta.Format, RecordFormat)
	case !meta.HasFingerprint || meta.Fingerprint != ingest.Fingerprint(r.Value):
		t.Fatalf("offset %d: header %q: fingerprint is not the value's", r.Offset, h)
	case meta.HasFeedSeq && meta.FeedSeq != seq, meta.BadFeedSeq:
		t.Fatalf("offset %d: header %q: the frame says %d", r.Offset, h, seq)
	case meta.ReceivedAt <= 0:
		t.Fatalf("offset %d: header %q: no receive time", r.Offset, h)
	case len(meta.Member) == 0:
		t.Fatalf("offset %d: header %q: no member", r.Offset, h)
	case !meta.HasWindow:
		t.Fatalf("offset %d: header %q: no line window", r.Offset, h)
	}
	m, dup := string(meta.Member), meta.Possible
	return topicRecord{offset: r.Offset, seq: seq, member: m, key: string(r.Key), value: v, possible: dup}
}

// testSeed returns the run's random seed, logged and replayable with
// FEEDD_TEST_SEED.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FEEDD_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FEEDD_TEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with FEEDD_TEST_SEED=%d)", seed, seed)
	return seed
}

// closeOnce closes ch unless it is closed already, and reports whether
// this call closed it.
func closeOnce(ch chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		close(ch)
		return true
	}
}

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, 30*time.Second, 5*time.Millisecond, what, cond)
}

// gather reads every metric g exposes, failing the test if it cannot.
func gather(t testing.TB, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// checkCoverage verifies that recs hold each of 1..n, first appearing in
// order, and that every record repeating one already seen is marked as a
// possible duplicate: no gap, no silent duplicate. It returns how many
// duplicates there are.
func checkCoverage(t testing.TB, recs []topicRecord, n uint64) (dups int) {
	t.Helper()
	var next uint64 = 1
	for _, r := range recs {
		switch {
		case r.seq == next:
			next++
		case r.seq < next:
			if !r.possible {
				t.Fatalf("offset %d: sequence %d from %s again, not marked as a possible duplicate (I2)", r.offset, r.seq, r.member)
			}
			dups++
		default:
			t.Fatalf("offset %d: sequence %d from %s, want %d (I1: gap or disorder)", r.offset, r.seq, r.member, next)
		}
	}
	if next-1 != n {
		t.Fatalf("topic holds sequences 1..%d, want 1..%d", next-1, n)
	}
	return dups
}

// checkSequence verifies that recs hold 1..n exactly once, in order.
func checkSequence(t testing.TB, recs []topicRecord, n uint64) {
	t.Helper()
	var want uint64 = 1
	for _, r := range recs {
		if r.seq != want {
			t.Fatalf("offset %d: sequence %d from %s, want %d (I1/I2: gap or duplicate or disorder)", r.offset, r.seq, r.member, want)
		}
		want++
	}
	if want-1 != n {
		t.Fatalf("topic holds sequences 1..%d, want 1..%d", want-1, n)
	}
}
