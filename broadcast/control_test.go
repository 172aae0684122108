package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// controlTestInterval keeps the tests short; the default is checked in
// TestControlConfig.
const controlTestInterval = 20 * time.Millisecond

func controlConfig(addr, topic string) Config {
	cfg := testConfig(addr, topic)
	cfg.ControlInterval = controlTestInterval
	return cfg
}

// controlRecord is a committed control keepalive.
type controlRecord struct {
	offset int64
	member string
	at     time.Time
	value  string
}

// readControl reads every committed record of the control topic, from the
// start to its last stable offset, checking each one's format.
func readControl(t testing.TB, addr, topic string) []controlRecord {
	t.Helper()
	var out []controlRecord
	eachCommitted(t, addr, topic, func(r *kgo.Record) {
		m := string(headerValue(r, HeaderMember))
		at, err := time.Parse(time.RFC3339Nano, string(headerValue(r, HeaderTimestamp)))
		if m == "" || err != nil || len(r.Headers) != 2 || r.Key != nil {
			t.Fatalf("control offset %d: headers %v, key %q: want %s and %s only, no key", r.Offset, r.Headers, r.Key, HeaderMember, HeaderTimestamp)
		}
		var member string
		var pid int64
		var epoch int16
		if _, err := fmt.Sscanf(string(r.Value), "member=%s producer_id=%d epoch=%d", &member, &pid, &epoch); err != nil || member != m || pid < 0 || epoch < 0 {
			t.Fatalf("control offset %d: value %q does not name member %s with its producer id and epoch", r.Offset, r.Value, m)
		}
		out = append(out, controlRecord{offset: r.Offset, member: m, at: at, value: string(r.Value)})
	})
	return out
}

// witnessTrail polls m's witness until it has advanced (a later SeenAt) n
// times with a control keepalive of member from, and returns the last one.
func witnessTrail(t testing.TB, m *member, from string, n int) Witness {
	t.Helper()
	var last Witness
	advances := 0
	waitFor(t, fmt.Sprintf("%s's witness to advance %d times with %s's keepalives", m.opt.Member, n, from), func() bool {
		w := m.Status().Witness
		if w.Member == from && w.Control && w.SeenAt.After(last.SeenAt) {
			if !last.SeenAt.IsZero() && w.Offset <= last.Offset {
				t.Fatalf("witness went from offset %d to %d", last.Offset, w.Offset)
			}
			last = w
			advances++
		}
		return advances >= n
	})
	return last
}

func TestControlConfig(t *testing.T) {
	c := validConfig()
	if c.ControlInterval != DefaultControlInterval || c.ControlTopic != "feed.control" {
		t.Fatalf("defaults: control_interval %v, control_topic %q; want %v, feed.control", c.ControlInterval, c.ControlTopic, DefaultControlInterval)
	}
	c = Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "feed", ControlTopic: "beats", ControlInterval: -1}.WithDefaults()
	if err := c.Validate(); err != nil || c.ControlTopic != "beats" || c.ControlInterval >= 0 {
		t.Fatalf("explicit control topic, keepalives off: %+v, %v", c, err)
	}
	if s := c.String(); !strings.Contains(s, "control=off") {
		t.Fatalf("String() = %q, want control=off", s)
	}
	for _, tc := range []struct {
		field  string
		mutate func(*Config)
	}{
		{"kafka.control_interval:", func(c *Config) { c.ControlInterval = 0 }},
		{"kafka.control_interval:", func(c *Config) { c.ControlInterval = time.Millisecond }},
		{"kafka.control_topic:", func(c *Config) { c.ControlTopic = "feed" }},
		{"kafka.control_topic:", func(c *Config) { c.ControlTopic = "no spaces" }},
		{"kafka.control_topic:", func(c *Config) { c.ControlTopic = strings.Repeat("x", 250) }},
		{"kafka.control_topic:", func(c *Config) { c.Topic, c.ControlTopic = "a.b", "a_b" }},
	} {
		c := validConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tc.field, err, tc.field)
		}
	}
	long := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: strings.Repeat("t", 245)}.WithDefaults()
	if err := long.Validate(); err == nil || !strings.Contains(err.Error(), "kafka.control_topic:") {
		t.Errorf("a 245-character topic: Validate() = %v, want an error naming kafka.control_topic (the default is too long)", err)
	}
}

// TestControlKeepaliveWitness: A active and B inactive with no frames
// flowing. A commits control keepalives, B's witness keeps advancing with
// them, and none of them reaches the data topic; frames flowing in between
// are committed as usual and the keepalives resume when the feed is quiet
// again.
func TestControlKeepaliveWitness(t *testing.T) {
	b := startBroker(t, "")
	cfg := controlConfig(b.Addr(), "feed")
	a, bm := startPair(t, cfg)
	a.activate(t, 30*time.Second)

	w := witnessTrail(t, bm, "a", 5)
	if w.ReceivedAt.IsZero() || w.Offset < 0 {
		t.Fatalf("B's witness %+v: want the keepalive's timestamp and offset", w)
	}
	// A counts a keepalive once its worker's result is back, which may be
	// after B read it.
	waitFor(t, "A's count of keepalives", func() bool { return a.Status().Counters.ControlKeepalives >= 5 })
	st := a.Status()
	if st.State != StateActive || st.Counters.Commits != 0 || st.LastControlAt.IsZero() || st.ControlTopic != "feed.control" {
		t.Fatalf("A: role %v, commits %d, last %v, control topic %q; want active, 0, set, feed.control",
			st.State, st.Counters.Commits, st.LastControlAt, st.ControlTopic)
	}
	if got := readCommitted(t, b.Addr(), "feed"); len(got) != 0 {
		t.Fatalf("the data topic holds %d records with no frame fed; want 0 (keepalives go to the control topic)", len(got))
	}
	if hw := highWatermark(t, b.Addr(), "feed"); hw != 0 {
		t.Fatalf("the data topic's end offset is %d with no frame fed; want 0: not even an aborted keepalive", hw)
	}

	// Frames: committed as always, B trims on them.
	const n = 100
	for i := uint64(1); i <= n; i++ {
		f := frame(i, time.Now())
		a.Accept(f)
		bm.Accept(f)
	}
	waitFor(t, "frames committed and trimmed on B", func() bool {
		return a.Status().Counters.CommittedFrames == n && bm.Status().Ring.Len == 0
	})
	before := a.Status().Counters.ControlKeepalives
	waitFor(t, "keepalives again after the frames", func() bool { return a.Status().Counters.ControlKeepalives >= before+3 })
	witnessTrail(t, bm, "a", 3)
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n)

	recs := readControl(t, b.Addr(), "feed.control")
	if len(recs) < 8 {
		t.Fatalf("the control topic holds %d keepalives, want at least 8", len(recs))
	}
	for i, r := range recs {
		if r.member != "a" || (i > 0 && r.at.Before(recs[i-1].at)) {
			t.Fatalf("control offset %d: member %q at %v: want a, in order", r.offset, r.member, r.at)
		}
	}
	if bs := bm.Status(); bs.Counters.ControlSeen < 8 || bs.Counters.ControlKeepalives != 0 {
		t.Fatalf("B: seen %d, written %d; want >= 8, 0", bs.Counters.ControlSeen, bs.Counters.ControlKeepalives)
	}
}

// TestControlKeepaliveSpared: while the pair core judges that every peer
// hears the active member (SpareWitness), a quiet feed's keepalives come
// every second, not every kafka.control_interval; once the witness is
// needed again they come at that interval again. The bound on the spared
// keepalives is an upper one: a slow machine commits fewer, never more.
func TestControlKeepaliveSpared(t *testing.T) {
	b := startBroker(t, "")
	a := startMember(t, controlConfig(b.Addr(), "spared"), "a", backlog.Config{})
	a.activate(t, 30*time.Second)
	waitFor(t, "keepalives at the control interval", func() bool { return a.Status().Counters.ControlKeepalives >= 5 })

	a.SpareWitness(true)
	time.Sleep(50 * time.Millisecond) // the keepalive under way, and one armed before, may still come
	from, start := a.Status().Counters.ControlKeepalives, time.Now()
	time.Sleep(1500 * time.Millisecond)
	spared, took := a.Status().Counters.ControlKeepalives-from, time.Since(start)
	if limit := uint64(took/sparedControlInterval) + 2; spared > limit {
		t.Fatalf("%d keepalives in %v with the witness spared; want at most %d (one a second)", spared, took, limit)
	}

	a.SpareWitness(false)
	from = a.Status().Counters.ControlKeepalives
	waitFor(t, "keepalives at the control interval again", func() bool { return a.Status().Counters.ControlKeepalives >= from+10 })
}

// TestControlKeepaliveFence: with the feed quiet, B's activation fences A;
// A learns it from its next keepalive, and no keepalive of A's is committed
// past the fence point, so B (now active) never takes one as a witness,
// while A, now inactive, sees B's.
func TestControlKeepaliveFence(t *testing.T) {
	b := startBroker(t, "")
	cfg := controlConfig(b.Addr(), "feed")
	a, bm := startPair(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.mustActivate(t, ctx)
	witnessTrail(t, bm, "a", 3)

	bm.mustActivate(t, ctx)
	// Every keepalive A committed is below this offset: its commit came
	// before B's InitProducerID, or it failed.
	fencePoint := highWatermark(t, b.Addr(), "feed.control")
	waitFor(t, "A fenced by a keepalive", func() bool {
		st := a.Status()
		return st.State == StateInactive && st.Counters.Fenced == 1
	})
	if st := a.Status(); !errors.Is(st.Cause, ErrFenced) || !strings.Contains(st.LastError, "control keepalive") {
		t.Fatalf("A stopped with %v, want ErrFenced from a control keepalive", st.Cause)
	}
	aKeepalives := a.Status().Counters.ControlKeepalives
	witnessTrail(t, a, "b", 5)
	if got := a.Status().Counters.ControlKeepalives; got != aKeepalives {
		t.Fatalf("A committed %d keepalives after it was fenced", got-aKeepalives)
	}
	if w := bm.Status().Witness; w.Member == "a" && w.Control && w.Offset >= fencePoint {
		t.Fatalf("B's witness %+v: a keepalive of A's past the fence point %d", w, fencePoint)
	}

	recs := readControl(t, b.Addr(), "feed.control")
	sawB := false
	for _, r := range recs {
		switch {
		case r.member == "b":
			sawB = true
		case r.offset >= fencePoint || sawB:
			t.Fatalf("control offset %d: a keepalive of A's committed past the fence (point %d, B's first before it: %v)", r.offset, fencePoint, sawB)
		}
	}
	if !sawB {
		t.Fatal("no keepalive of B's in the control topic")
	}
}

// TestControlTopicShape: the control topic is created with one partition,
// cleanup.policy=delete and a short retention, under its default or its
// configured name; one unfit for keepalives is refused.
func TestControlTopicShape(t *testing.T) {
	b := startBroker(t, "")
	cl, adm := adminClient(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := controlConfig(b.Addr(), "feed")
	startMember(t, cfg, "a", backlog.Config{})
	custom := controlConfig(b.Addr(), "other")
	custom.ControlTopic = "other-beats"
	startMember(t, custom, "a", backlog.Config{})
	for _, topic := range []string{"feed.control", "other-beats"} {
		waitFor(t, topic+" created", func() bool {
			_, _, err := describeTopic(ctx, cl, topic) // not kadm's cached metadata
			return err == nil
		})
		tds, err := adm.ListTopics(ctx, topic)
		if err != nil || len(tds[topic].Partitions) != 1 {
			t.Fatalf("%s: %+v, %v; want one partition", topic, tds[topic], err)
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range rc.Configs {
			got[kv.Key] = kv.MaybeValue()
		}
		want := map[string]string{"cleanup.policy": "delete", "retention.ms": "3600000", "segment.ms": "600000"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", topic, k, got[k], v)
			}
		}
	}
	if tds, err := adm.ListTopics(ctx); err != nil || tds.Has("other.control") {
		t.Errorf("other.control created although kafka.control_topic names another (%v)", err)
	}

	checkRefusesUnfit(t, b, "EnsureControlTopic", []unfitTopic{
		{"beats-three", 3, nil, "3 partitions"},
		{"beats-compacted", 1, map[string]string{"cleanup.policy": "compact"}, "cleanup.policy=compact"},
	}, func(topic string) error {
		c := cfg.WithDefaults()
		c.ControlTopic = topic
		return EnsureControlTopic(ctx, cl, c)
	})
}

// TestControlUnfitTopic: an active member whose control topic is unfit
// stays active and keeps committing frames; it only counts the keepalives it
// could not write.
func TestControlUnfitTopic(t *testing.T) {
	b := startBroker(t, "")
	if err := b.Cluster().CreateTopic("feed.control", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	a := startActive(t, controlConfig(b.Addr(), "feed"))
	waitFor(t, "a keepalive skipped", func() bool { return a.Status().Counters.ControlSkipped > 0 })
	for i := uint64(1); i <= 10; i++ {
		a.Accept(frame(i, time.Now()))
	}
	waitFor(t, "frames committed", func() bool { return a.Status().Counters.CommittedFrames == 10 })
	st := a.Status()
	if st.State != StateActive || st.Counters.ControlKeepalives != 0 || !st.CommitFailingSince.IsZero() || !strings.Contains(st.LastError, "feed.control") {
		t.Fatalf("A: role %v, keepalives %d, failing since %v, last error %q; want active, 0, not failing, naming feed.control",
			st.State, st.Counters.ControlKeepalives, st.CommitFailingSince, st.LastError)
	}
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), 10)
}

// TestControlKeepaliveFailure: a keepalive whose commit fails (not a fence)
// is aborted like a failed data commit; the member stays active and the
// keepalives resume.
func TestControlKeepaliveFailure(t *testing.T) {
	b := startBroker(t, "")
	a := startActive(t, controlConfig(b.Addr(), "feed"))
	waitFor(t, "a keepalive", func() bool { return a.Status().Counters.ControlKeepalives > 0 })
	b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError})
	waitFor(t, "a failed keepalive aborted", func() bool { return a.Status().Counters.Aborts > 0 })
	before := a.Status().Counters.ControlKeepalives
	waitFor(t, "keepalives again", func() bool {
		st := a.Status()
		return st.Counters.ControlKeepalives >= before+3 && st.CommitFailingSince.IsZero()
	})
	if st := a.Status(); st.State != StateActive || st.Counters.CommitFailures == 0 || st.Counters.Fenced != 0 {
		t.Fatalf("A: role %v, commit failures %d, fenced %d; want active, > 0, 0", st.State, st.Counters.CommitFailures, st.Counters.Fenced)
	}
}

// TestControlDisabled: a negative kafka.control_interval turns the
// keepalives off: none written, no control topic, no witness on a quiet
// feed.
func TestControlDisabled(t *testing.T) {
	b, cfg := startBrokerFor(t, "feed")
	cfg.ControlInterval = -1
	a, bm := startPair(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.mustActivate(t, ctx)
	// Many enabled intervals' worth of quiet, then a frame to show the
	// pipeline is alive.
	time.Sleep(15 * controlTestInterval)
	a.Accept(frame(1, time.Now()))
	waitFor(t, "the frame committed", func() bool { return a.Status().Counters.CommittedFrames == 1 })
	st, bs := a.Status(), bm.Status()
	if st.Counters.ControlKeepalives != 0 || st.ControlTopic != "" || bs.Counters.ControlSeen != 0 {
		t.Fatalf("keepalives off: A wrote %d (control topic %q), B saw %d; want 0, none, 0", st.Counters.ControlKeepalives, st.ControlTopic, bs.Counters.ControlSeen)
	}
	_, adm := adminClient(t, b.Addr())
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tds.Has("feed.control") {
		t.Fatal("feed.control created with the keepalives off")
	}
}

// TestControlBrokerGone: on a quiet feed, a keepalive that cannot reach the
// broker is reported as "commit failing" after kafka.commit_timeout (the
// only way a quiet active notices it lost Kafka), and the member still shuts
// down although the keepalive never completes.
func TestControlBrokerGone(t *testing.T) {
	b := startBroker(t, "")
	cfg := controlConfig(b.Addr(), "feed")
	cfg.CommitTimeout = 200 * time.Millisecond
	p, err := New(cfg, Options{Pipeline: "test", Member: "a", Logger: testsupport.Logger(), ShutdownTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = p.Run(runCtx) }()
	a := &member{Pipeline: p}
	a.activate(t, 30*time.Second)
	waitFor(t, "a keepalive", func() bool { return a.Status().Counters.ControlKeepalives > 0 })
	b.Close()
	waitFor(t, "commits reported failing", func() bool { return !a.Status().CommitFailingSince.IsZero() })
	if st := a.Status(); st.State != StateActive || st.Counters.CommittedFrames != 0 {
		t.Fatalf("A: role %v, committed frames %d; want still active (stepping down is the pair protocol's call), 0", st.State, st.Counters.CommittedFrames)
	}
	stop()
	waitFor(t, "the member stopped", func() bool {
		select {
		case <-p.Done():
			return true
		default:
			return false
		}
	})
}
