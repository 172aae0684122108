package broadcast

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The topic deleted and created again under running members (recreate.go).
// kfake (the embedded broker) gives topics ids, deletes them at once and
// answers a consumer or producer of the old instance UNKNOWN_TOPIC_ID, as
// Kafka does; Kafka deletes asynchronously, which recreateTopic waits out.
// The same scenarios run on both (TestKafkaTopicRecreated).

// TestTopicRecreatedInactive: members that keep running, inactive, while the
// topic is deleted and created again. Before this was handled, the member
// that activated afterwards took its echo position in the old topic (past
// the new topic's end) for a finished catch-up and flushed its whole ring
// into the new topic: frames read while there was no topic, and frames the
// new topic already held.
func TestTopicRecreatedInactive(t *testing.T) {
	b := startBroker(t, "")
	testRecreatedInactive(t, b.Addr(), testConfig(b.Addr(), "recreated-inactive"))
}

// TestTopicRecreatedActive: the active member's topic is deleted and
// created again while the feed streams into both members; then the other
// member takes over. The new topic must hold an unbroken run of the feed,
// no frame from before its creation, and no duplicate.
func TestTopicRecreatedActive(t *testing.T) {
	b := startBroker(t, "")
	testRecreatedActive(t, b.Addr(), testConfig(b.Addr(), "recreated-active"))
}

// TestTopicRecreatedActivateAtOnce: a member activates right after the
// topic was created again, before its echo consumer has looked: the fence,
// which lists the new topic's end with its id, must notice, and the
// activation read the new topic rather than the old position.
func TestTopicRecreatedActivateAtOnce(t *testing.T) {
	b := startBroker(t, "")
	testRecreatedActivateAtOnce(t, b.Addr(), testConfig(b.Addr(), "recreated-at-once"))
}

// TestKafkaTopicRecreated: the scenarios on Apache Kafka.
func TestKafkaTopicRecreated(t *testing.T) {
	b := startKafka(t)
	t.Run("inactive", func(t *testing.T) {
		testRecreatedInactive(t, b.Addr(), kafkaConfig(b.Addr(), "recreated-inactive"))
	})
	t.Run("active", func(t *testing.T) {
		testRecreatedActive(t, b.Addr(), kafkaConfig(b.Addr(), "recreated-active"))
	})
	t.Run("activate-at-once", func(t *testing.T) {
		testRecreatedActivateAtOnce(t, b.Addr(), kafkaConfig(b.Addr(), "recreated-at-once"))
	})
}

func testRecreatedActivateAtOnce(t *testing.T, addr string, cfg Config) {
	a, m := startPositionedPair(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a.mustActivate(t, ctx)
	for i := uint64(1); i <= 100; i++ {
		now := time.Now()
		a.Accept(frame(i, now))
		m.Accept(frame(i, now))
	}
	waitTrimmed(t, "the old topic's frames committed and trimmed", a, m, 100)
	a.mustDeactivate(t, ctx, Planned)

	deleteTopic(t, addr, cfg.Topic)
	for i := uint64(101); i <= 110; i++ {
		m.Accept(frame(i, time.Now()))
	}
	newID := createTopicAgain(t, addr, cfg)
	m.mustActivate(t, ctx)
	for i := uint64(111); i <= 120; i++ {
		m.Accept(frame(i, time.Now()))
	}
	waitFor(t, "b's frames committed", func() bool { return m.Status().Counters.CommittedFrames == 10 })
	st := m.Status()
	if st.TopicID != formatTopicID(newID) || st.Counters.TopicRecreated != 1 || st.Counters.TopicRecreatedDropped != 10 {
		t.Fatalf("b: topic id %q (want %q), recreated %d times (want 1), %d frames dropped (want 10)",
			st.TopicID, formatTopicID(newID), st.Counters.TopicRecreated, st.Counters.TopicRecreatedDropped)
	}
	checkRun(t, readCommitted(t, addr, cfg.Topic), 111, 120)
}

// TestControlTopicRecreated: the control topic is deleted and created again
// while the feed is quiet. The active goes on committing keepalives into the
// new one (the recovery purges the old instance from its producer) and the
// inactive goes on taking them as its witness.
func TestControlTopicRecreated(t *testing.T) {
	b, cfg := startBrokerFor(t, "control-recreated")
	a, m := startPair(t, cfg)
	a.activate(t, time.Minute)
	waitFor(t, "keepalives seen", func() bool { return m.Status().Counters.ControlSeen > 3 })
	control := cfg.WithDefaults().ControlTopic
	oldID := topicIDNow(t, b.Addr(), control)
	deleteTopic(t, b.Addr(), control)
	ccfg := cfg
	ccfg.Topic = control
	newID := createTopicAgain(t, b.Addr(), ccfg)
	if oldID == newID {
		t.Fatal("the control topic kept its id")
	}
	hb, seen := a.Status().Counters.ControlKeepalives, m.Status().Counters.ControlSeen
	waitFor(t, "keepalives committed and seen in the new control topic", func() bool {
		return a.Status().Counters.ControlKeepalives > hb+5 && m.Status().Counters.ControlSeen > seen+5 &&
			highWatermark(t, b.Addr(), control) > 5
	})
	if st := a.Status(); st.State != StateActive || !st.CommitFailingSince.IsZero() {
		t.Fatalf("a: role %v, commits failing since %v", st.State, st.CommitFailingSince)
	}
	if st := m.Status(); st.Counters.TopicRecreated != 0 {
		t.Fatalf("b counted the control topic's recreation as the topic's: %d", st.Counters.TopicRecreated)
	}
}

func testRecreatedInactive(t *testing.T, addr string, cfg Config) {
	a, m := startPositionedPair(t, cfg)
	both := func(from, to uint64) {
		for i := from; i <= to; i++ {
			now := time.Now()
			a.Accept(frame(i, now))
			m.Accept(frame(i, now))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The old topic: 200 frames, far more than the new one will hold, so
	// that an echo position of the old topic lies past the new one's end.
	a.mustActivate(t, ctx)
	both(1, 200)
	waitTrimmed(t, "the old topic's frames committed and trimmed", a, m, 200)
	a.mustDeactivate(t, ctx, Planned)
	oldID := topicIDNow(t, addr, cfg.Topic)
	if got := m.Status().TopicID; got != formatTopicID(oldID) {
		t.Fatalf("status topic id %q, want %q", got, formatTopicID(oldID))
	}

	// Frames read while there is no topic, then the new topic.
	deleteTopic(t, addr, cfg.Topic)
	both(201, 210)
	newID := createTopicAgain(t, addr, cfg)
	for _, x := range []*member{a, m} {
		waitFor(t, x.opt.Member+" noticing the new topic", func() bool { return x.Status().TopicID == formatTopicID(newID) })
		st := x.Status()
		if st.Counters.TopicRecreated != 1 || st.Counters.TopicRecreatedDropped != 10 {
			t.Fatalf("%s: topic recreated %d times, %d frames dropped; want 1 and 10 (201..210)",
				x.opt.Member, st.Counters.TopicRecreated, st.Counters.TopicRecreatedDropped)
		}
		if st.LastCommitOffset != -1 {
			t.Fatalf("%s: last commit offset %d, an offset of the old topic", x.opt.Member, st.LastCommitOffset)
		}
		checkRecreatedMetrics(t, x.Pipeline, 1, 10)
	}

	// a publishes into the new topic; b trims on its echo of it.
	a.mustActivate(t, ctx)
	both(211, 230)
	waitFor(t, "the new topic's first frames committed and trimmed", func() bool {
		return a.Status().Counters.CommittedFrames == 220 && m.Status().Ring.Len == 0
	})
	a.mustDeactivate(t, ctx, Planned)

	// b takes over: it must read the new topic to its end (not stop at
	// once on an offset of the old one) and flush only 231..240.
	both(231, 240)
	m.mustActivate(t, ctx)
	waitFor(t, "b's flush committed", func() bool { return m.Status().Counters.CommittedFrames == 10 })
	recs := readCommitted(t, addr, cfg.Topic)
	checkRun(t, recs, 211, 240)
	if st := m.Status(); st.Counters.PossibleDuplicates != 0 {
		t.Fatalf("b marked %d records as possible duplicates", st.Counters.PossibleDuplicates)
	}
}

func testRecreatedActive(t *testing.T, addr string, cfg Config) {
	a, m := startPositionedPair(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a.mustActivate(t, ctx)

	// The feed streams into both members, a frame every 2ms.
	var fed atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := time.Now()
			a.Accept(frame(i, now))
			m.Accept(frame(i, now))
			fed.Store(i)
		}
	})
	defer func() {
		closeOnce(stop)
		wg.Wait()
	}()
	waitFor(t, "the old topic in use", func() bool { return a.Status().Counters.CommittedFrames > 100 })

	deleteTopic(t, addr, cfg.Topic)
	time.Sleep(300 * time.Millisecond) // frames read while there is no topic
	createdAfter := fed.Load()         // every frame up to here was read before the new topic existed
	newID := createTopicAgain(t, addr, cfg)

	for _, x := range []*member{a, m} {
		waitFor(t, x.opt.Member+" noticing the new topic", func() bool { return x.Status().TopicID == formatTopicID(newID) })
	}
	waitFor(t, "a committing into the new topic", func() bool {
		st := a.Status()
		return st.LastCommitOffset >= 0 && st.State == StateActive
	})
	time.Sleep(200 * time.Millisecond)

	// b takes over (a is fenced on its next produce or commit).
	m.mustActivate(t, ctx)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	last := fed.Load()
	waitFor(t, "b's ring flushed", func() bool { return m.Status().Ring.Len == 0 })

	recs := readCommitted(t, addr, cfg.Topic)
	if len(recs) == 0 {
		t.Fatal("the new topic is empty")
	}
	first := recs[0].seq
	if first <= createdAfter {
		t.Fatalf("the new topic starts with sequence %d, read before it was created (up to %d)", first, createdAfter)
	}
	checkRun(t, recs, first, last)
	for _, x := range []*member{a, m} {
		st := x.Status()
		if st.Counters.TopicRecreated != 1 {
			t.Fatalf("%s: topic recreated %d times, want 1", x.opt.Member, st.Counters.TopicRecreated)
		}
		t.Logf("%s: dropped %d frames on noticing the new topic", x.opt.Member, st.Counters.TopicRecreatedDropped)
	}
	t.Logf("new topic: sequences %d..%d; the last frame read before its creation was %d", first, last, createdAfter)
}

// checkRun verifies that recs hold exactly the sequences from..to, once
// each, in order.
func checkRun(t *testing.T, recs []topicRecord, from, to uint64) {
	t.Helper()
	want := from
	for _, r := range recs {
		if r.seq != want {
			t.Fatalf("offset %d: sequence %d from %s, want %d (the topic must hold %d..%d once each, in order)",
				r.offset, r.seq, r.member, want, from, to)
		}
		want++
	}
	if want-1 != to {
		t.Fatalf("the topic holds %d..%d, want %d..%d", from, want-1, from, to)
	}
}

// checkRecreatedMetrics reads the pipeline's topic recreation counters
// through its collector.
func checkRecreatedMetrics(t *testing.T, p *Pipeline, times, dropped float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{p})
	mfs := gather(t, reg)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] += m.GetCounter().GetValue()
		}
	}
	if got["feedd_broadcast_topic_recreated_total"] != times || got["feedd_broadcast_topic_recreated_dropped_frames_total"] != dropped {
		t.Fatalf("%s: feedd_broadcast_topic_recreated_total %v, feedd_broadcast_topic_recreated_dropped_frames_total %v; want %v and %v",
			p.opt.Member, got["feedd_broadcast_topic_recreated_total"], got["feedd_broadcast_topic_recreated_dropped_frames_total"], times, dropped)
	}
}

// topicIDNow asks the broker for the topic's id.
func topicIDNow(t *testing.T, addr, topic string) kadm.TopicID {
	t.Helper()
	cl, _ := adminClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := fetchTopicID(ctx, cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// deleteTopic deletes the topic and waits until the broker no longer knows
// it (Kafka deletes asynchronously).
func deleteTopic(t *testing.T, addr, topic string) {
	t.Helper()
	cl, adm := adminClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := adm.DeleteTopics(ctx, topic)
	if err == nil {
		err = rs[topic].Err
	}
	if err != nil {
		t.Fatalf("deleting %s: %v", topic, err)
	}
	for {
		_, err := fetchTopicID(ctx, cl, topic)
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s still there after its deletion: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createTopicAgain creates the topic again, as an operator would (one
// partition; the members' own settings are not needed), and returns its id
// once it has a leader.
func createTopicAgain(t *testing.T, addr string, cfg Config) kadm.TopicID {
	t.Helper()
	cl, adm := adminClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		_, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, cfg.Topic)
		if err == nil {
			break
		}
		// Kafka may still be removing the old one.
		if !errors.Is(err, kerr.TopicAlreadyExists) || ctx.Err() != nil {
			t.Fatalf("creating %s again: %v", cfg.Topic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := awaitTopic(ctx, cl, cfg.Topic); err != nil {
		t.Fatal(err)
	}
	id, err := fetchTopicID(ctx, cl, cfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestNoticeTopic: the first id is adopted; a new one is a recreation that
// forgets the old topic's offsets and drops the ring; an answer naming an
// id already left behind is stale, changes nothing, and must be listed
// again.
func TestNoticeTopic(t *testing.T) {
	p, err := New(testConfig("127.0.0.1:1", "ids"), Options{Pipeline: "test", Member: "a", Logger: testsupport.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	x, y := kadm.TopicID{1}, kadm.TopicID{2}
	if !p.noticeTopic(x, "test") || p.c.TopicRecreated != 0 || p.topicID != x {
		t.Fatalf("first id: recreated %d, id %v", p.c.TopicRecreated, p.topicID)
	}
	for i := uint64(1); i <= 3; i++ {
		p.appendFrame(&backlog.Frame{ID: i, Exact: true, Win: backlog.Window{Lo: int64(i), Hi: int64(i)}, Data: []byte("x")}, ingest.NoHole)
	}
	p.echoNext, p.ownThrough, p.lastOffset, p.witness = 500, 400, 400, Witness{Member: "b", Offset: 450}
	if !p.noticeTopic(y, "test") {
		t.Fatal("a new id reported stale")
	}
	st := p.status()
	if st.Counters.TopicRecreated != 1 || st.Counters.TopicRecreatedDropped != 3 || st.Ring.Len != 0 ||
		st.EchoOffset != -1 || p.ownThrough != -1 || st.LastCommitOffset != -1 || st.Witness.Offset != -1 ||
		st.TopicID != formatTopicID(y) {
		t.Fatalf("after the recreation: %+v, own through %d", st, p.ownThrough)
	}
	if p.noticeTopic(x, "test") || p.currentTopic(x) || p.c.TopicRecreated != 1 || p.topicID != y {
		t.Fatalf("the old id again: recreated %d, id %v", p.c.TopicRecreated, p.topicID)
	}
	if !p.currentTopic(kadm.TopicID{}) {
		t.Fatal("a broker without topic ids: every answer must do")
	}
}

// waitTrimmed waits until the active a has committed n frames and the
// inactive m's ring is empty; on a timeout it says which side stalled.
func waitTrimmed(t *testing.T, what string, a, m *member, n uint64) {
	t.Helper()
	testsupport.WaitFor(t, 30*time.Second, what, func() (bool, string) {
		as, ms := a.Status(), m.Status()
		return as.Counters.CommittedFrames == n && ms.Ring.Len == 0,
			fmt.Sprintf("a %v, %d frames committed, last offset %d, kafka %+v; b %v, echo offset %d, ring %+v, kafka %+v",
				as.State, as.Counters.CommittedFrames, as.LastCommitOffset, as.Kafka, ms.State, ms.EchoOffset, ms.Ring, ms.Kafka)
	})
}
