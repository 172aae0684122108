package broadcast

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/testsupport"
)

// These tests run the pipeline against the kfake broker with the feed read
// through real ptys: the simulator splits one generated NMEA feed to two
// socat ports, each read by an ingest.Source (nmea framing, the feed's
// sequence number in NMEA field 1) whose frames go to one member's Accept,
// as on two hosts behind a hardware splitter.

// Line settings of the simulated feed: at 460800 baud a 64-byte sentence
// takes 1.4 ms on the line, so ptyRate frames per second fit with room.
const (
	ptyBaud = 460800
	ptyRate = 500
)

// needSocat skips a test that needs real ptys when socat is missing, as
// hw/serialsim's tests do: CI sets FEEDD_REQUIRE_SOCAT=1 to make a missing
// socat fail instead, since "go test ./..." hides a passing package's skips.
func needSocat(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err == nil {
		return
	}
	if os.Getenv("FEEDD_REQUIRE_SOCAT") != "" {
		t.Fatal("socat is not installed and FEEDD_REQUIRE_SOCAT is set (apt-get install socat, or make deps)")
	}
	t.Skip("SKIPPED: socat is not installed (apt-get install socat, or make deps)")
}

// ptyRig is the simulated feed split to two members. Port i of the
// simulator is read by a Source whose handle passes each frame, copied,
// through a port (handover_test.go: an optional injected lag, a member that
// can be replaced after a crash) to member i's Accept.
type ptyRig struct {
	t     *testing.T
	sim   *serialsim.Sim
	ports [2]*port
	srcs  [2]*ingest.Source

	mu   sync.Mutex
	seqs [2][]uint64 // feed sequence numbers each Source read, in order

	cancel  context.CancelFunc
	running sync.WaitGroup
	stopped bool
}

// startPTYRig starts a two-port simulator with cfg (Ports and Baud are set
// here) and a Source per port feeding members[i].
func startPTYRig(t *testing.T, cfg serialsim.Config, members [2]*member) *ptyRig {
	t.Helper()
	needSocat(t)
	cfg.Ports, cfg.Baud = 2, ptyBaud
	cfg.Logf = t.Logf
	// A loaded test machine can keep a member from reading for a while;
	// a real port would lose what overflows its kernel buffer, and frames
	// lost on the active's port alone are not repaired yet. These tests
	// are about the pair, with sequenced frames matched exactly: the
	// simulator holds frames back rather than lose them.
	cfg.MaxWriteDelay = 30 * time.Second
	sim, err := serialsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &ptyRig{t: t, sim: sim}
	t.Cleanup(r.close)
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for i, dev := range sim.Ports() {
		sc := ingest.SerialConfig{Device: dev, Baud: ptyBaud, ReadTimeout: 50 * time.Millisecond,
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
		src, err := ingest.NewSource(sc, framing.Config{Mode: "nmea"}, ingest.SequenceConfig{NMEAField: 1},
			ingest.SourceOptions{Logger: testsupport.Logger().With("port", i)})
		if err != nil {
			t.Fatal(err)
		}
		r.srcs[i] = src
		p := newPort(members[i])
		r.ports[i] = p
		r.running.Go(func() {
			_ = src.Run(ctx, func(f *ingest.Frame) {
				if !f.HasFeedSeq {
					t.Errorf("port %d: frame without a feed sequence number: %q", i, f.Data)
					return
				}
				r.mu.Lock()
				r.seqs[i] = append(r.seqs[i], f.FeedSeq)
				r.mu.Unlock()
				c := *f
				c.Data = bytes.Clone(f.Data)
				p.in <- portFrame{f: &c, at: f.ReceivedAt}
			})
		})
	}
	return r
}

func (r *ptyRig) read(i int) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs[i])
}

// stopSources stops the Sources, then waits until the ports have handed
// every frame they read to a member.
func (r *ptyRig) stopSources() {
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	r.running.Wait()
	for _, p := range r.ports {
		if p != nil {
			close(p.in)
			p.wg.Wait()
		}
	}
}

func (r *ptyRig) close() {
	if r.cancel != nil {
		r.stopSources()
	}
	if err := r.sim.Close(); err != nil {
		r.t.Errorf("closing the simulator: %v", err)
	}
}

// waitFinished waits for a feed with a Count to end.
func (r *ptyRig) waitFinished() {
	r.t.Helper()
	select {
	case <-r.sim.Finished():
	case <-time.After(2 * time.Minute):
		r.t.Fatalf("the simulated feed did not finish: %d of %d frames generated", r.sim.Generated(), r.sim.Config().Count)
	}
}

// drain is called once the feed has ended (or every port is unplugged):
// it waits until each Source has read what the simulator delivered to its
// port, checks that it read exactly that, in order, and stops the Sources
// with every frame handed to a member. It returns what each port delivered.
func (r *ptyRig) drain() (delivered [2][]uint64) {
	r.t.Helper()
	for i := range delivered {
		want, err := r.sim.Delivered(i)
		if err != nil {
			r.t.Fatal(err)
		}
		delivered[i] = want
		waitFor(r.t, "port "+strconv.Itoa(i)+"'s reader to take what the simulator delivered", func() bool {
			return len(r.read(i)) >= len(want)
		})
	}
	r.stopSources()
	for i, want := range delivered {
		if got := r.read(i); !slices.Equal(got, want) {
			st, _ := r.sim.Stats(i)
			r.t.Fatalf("port %d: the Source read %d frames, the simulator delivered %d (%v); first difference at index %d",
				i, len(got), len(want), st, firstDifference(got, want))
		}
	}
	return delivered
}

func firstDifference(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// isPrefixRun reports whether seqs is 1..len(seqs).
func isPrefixRun(seqs []uint64) bool {
	for i, s := range seqs {
		if s != uint64(i)+1 {
			return false
		}
	}
	return true
}

// TestPTYEchoTrimming: A active, B inactive, both reading the same
// simulated feed through their own pty. Every frame B read leaves its ring
// through an echo of A's commits, B's ring is empty once the feed is quiet,
// and the topic holds 1..N exactly once, in order, all from A.
func TestPTYEchoTrimming(t *testing.T) {
	needSocat(t)
	const n = 1000
	b, cfg := startBrokerFor(t, "feed")
	a, bm := startEchoingPair(t, cfg, 2*time.Minute)

	rig := startPTYRig(t, serialsim.Config{Rate: ptyRate, Count: n, Seed: testSeed(t)}, [2]*member{a, bm})
	maxDepth := 0 // B's deepest ring while the feed streams, for the log
	waitFor(t, "the feed to end", func() bool {
		maxDepth = max(maxDepth, bm.Status().Ring.Len)
		select {
		case <-rig.sim.Finished():
			return true
		default:
			return false
		}
	})
	delivered := rig.drain()
	for i, d := range delivered {
		if len(d) != n || !isPrefixRun(d) {
			st, _ := rig.sim.Stats(i)
			t.Fatalf("port %d delivered %d frames of a clean feed of %d (%v)", i, len(d), n, st)
		}
	}

	waitFor(t, "A to commit the feed and B's ring to empty", func() bool {
		sa, sb := a.Status(), bm.Status()
		return sa.Counters.CommittedFrames == n && sa.Ring.Len == 0 && sb.Counters.EchoRecords == n &&
			sb.Ring.Appended+sb.Ring.Recognised+sb.Ring.Rejected == sb.Counters.Accepted &&
			sb.Ring.Len == 0 && sb.Ring.MemoryLen == 0
	})
	st := bm.Status()
	t.Logf("B: deepest ring seen while streaming %d frames, echo records %d, trimmed %d, early %d (matched %d)",
		maxDepth, st.Counters.EchoRecords, st.Ring.TrimmedByEcho, st.Counters.EchoRemembered, st.Ring.Recognised)
	if st.Counters.Accepted != n {
		t.Fatalf("B accepted %d frames, its port delivered %d", st.Counters.Accepted, n)
	}
	if st.Ring.TrimmedByEcho+st.Ring.Recognised != n || st.Ring.Skipped+st.Ring.Passed != 0 || st.Ring.OverflowFrames != 0 || st.Ring.Rejected != 0 {
		t.Fatalf("B's ring: trimmed by echo %d + suppressed by early echo %d, want %d; skipped %d, overflow %d, rejected %d, want 0",
			st.Ring.TrimmedByEcho, st.Ring.Recognised, n, st.Ring.Skipped, st.Ring.OverflowFrames, st.Ring.Rejected)
	}
	if st.Counters.EchoRecords != n || st.Counters.EchoMatched+st.Counters.EchoRemembered != n || st.Counters.EchoOwn != 0 {
		t.Fatalf("B's echo: %d records (%d trimmed, %d early, %d own), want %d records that each trimmed or pre-empted a frame",
			st.Counters.EchoRecords, st.Counters.EchoMatched, st.Counters.EchoRemembered, st.Counters.EchoOwn, n)
	}
	if st.State != StateInactive || st.Counters.Produced != 0 || st.Witness.Member != "a" {
		t.Fatalf("B: role %v, produced %d, witness %q; want inactive, 0, a", st.State, st.Counters.Produced, st.Witness.Member)
	}
	recs := readCommitted(t, b.Addr(), "feed")
	checkSequence(t, recs, n)
	for _, r := range recs {
		if r.member != "a" {
			t.Fatalf("offset %d: record from %q, only A was active", r.offset, r.member)
		}
	}
}

// TestPTYHandover hands the pipeline back and forth between two members
// reading the same simulated feed through their own ptys, within one
// continuous stream, with seeded random timing. Each handover stops the
// active in one of the ways TestHandover uses (fenced mid-transaction by the
// peer's activation; killed, its producer closed with the transaction open,
// then restarted with a fresh ring; a planned or an immediate deactivation)
// after a random stretch of the stream, and each mode is used at least
// twice. Some handovers give the new active a lagging port (the echoes of
// the old active's commits reach it before its port delivers the frames:
// early echoes, which must suppress those frames) or a slow echo (the old
// active's last commits reach it only while it reads the topic to its end:
// late echoes, trimmed during the catch-up). The feed ends by unplugging
// both ports, which keeps the simulator's accounting exact; an independent
// read_committed consumer must then find exactly the sequence numbers the
// final active's port delivered, each once and in order (I1, I2), and the
// ring counters must show that both the early- and the late-echo case
// happened.
func TestPTYHandover(t *testing.T) {
	needSocat(t)
	const handovers = 10
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))

	// The plan: every mode twice, the rest at random; at least two lagging
	// ports and two slow echoes, the rest at random.
	var modes []string
	for _, m := range handoverModes {
		modes = append(modes, m, m)
	}
	for len(modes) < handovers {
		modes = append(modes, handoverModes[rng.IntN(len(handoverModes))])
	}
	const (
		timingPlain = iota
		timingLag
		timingSlowEcho
	)
	timings := []int{timingLag, timingLag, timingSlowEcho, timingSlowEcho}
	for len(timings) < handovers {
		timings = append(timings, rng.IntN(3))
	}
	rng.Shuffle(len(modes), func(i, j int) { modes[i], modes[j] = modes[j], modes[i] })
	rng.Shuffle(len(timings), func(i, j int) { timings[i], timings[j] = timings[j], timings[i] })

	b, cfg := startBrokerFor(t, "feed")
	names := [2]string{"a", "b"}
	var members [2]*member
	for i := range members {
		members[i] = startMember(t, cfg, names[i], backlog.Config{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	members[0].mustActivate(t, ctx)
	rig := startPTYRig(t, serialsim.Config{Rate: ptyRate, Seed: seed}, members) // Count 0: until unplugged

	var dead []Status // final status of killed members
	var earlyWhileActive, catchUp uint64
	earlyMark := [2]uint64{}
	modeCount := map[string]int{}
	active := 0
	for i, mode := range modes {
		from, to := active, 1-active
		modeCount[mode]++
		lag, echoDelay := time.Duration(0), time.Duration(0)
		switch timings[i] {
		case timingLag:
			lag = time.Duration(80+rng.IntN(80)) * time.Millisecond
		case timingSlowEcho:
			echoDelay = time.Duration(60+rng.IntN(60)) * time.Millisecond
		}
		rig.ports[to].lag.Store(int64(lag))
		members[to].setEchoDelay(echoDelay)

		// A random stretch of the stream under the current active.
		until := rig.sim.Generated() + uint64(50+rng.IntN(150))
		waitFor(t, "the stream to run on", func() bool { return rig.sim.Generated() >= until })
		// As in TestHandover: a member that rejoined with a fresh ring
		// takes over only once it has seen the active commit a frame it
		// read.
		waitFor(t, "member "+names[to]+" to be in step with the topic, handover "+strconv.Itoa(i)+" "+mode, func() bool {
			st := members[to].Status()
			return st.Counters.EchoMatched > 0 || st.Ring.Recognised > 0 || st.Counters.Activations > 0
		})

		stFrom := members[from].Status() // the end of its active period
		earlyWhileActive += stFrom.Ring.Recognised - earlyMark[from]
		stepDown(t, ctx, members[from], mode, fmt.Sprintf("handover %d", i))
		before := members[to].Status()
		if err := members[to].Activate(ctx); err != nil {
			t.Fatalf("handover %d (%s): activation: %v", i, mode, err)
		}
		after := members[to].Status()
		catchUp += after.Counters.CatchUpTrims - before.Counters.CatchUpTrims
		earlyMark[to] = before.Ring.Recognised
		members[from] = rejoin(t, cfg, members[from], rig.ports[from], mode, fmt.Sprintf("handover %d", i), &dead)
		t.Logf("handover %d: %s -> %s, %s, lag %v, echo delay %v; %d frames generated; catch-up trims %d",
			i, names[from], names[to], mode, lag, echoDelay, rig.sim.Generated(),
			after.Counters.CatchUpTrims-before.Counters.CatchUpTrims)
		rig.ports[to].lag.Store(0)
		members[to].setEchoDelay(0)
		active = to
	}
	// The last active commits under the stream before the feed ends.
	committed := members[active].Status().Counters.CommittedFrames
	waitFor(t, "the last active to commit", func() bool {
		return members[active].Status().Counters.CommittedFrames > committed
	})

	if err := rig.sim.Unplug(serialsim.AllPorts, 0); err != nil {
		t.Fatal(err)
	}
	delivered := rig.drain()
	for i, d := range delivered {
		if !isPrefixRun(d) {
			st, _ := rig.sim.Stats(i)
			t.Fatalf("port %d delivered %d frames that are not 1..%d (%v)", i, len(d), len(d), st)
		}
	}
	want := delivered[active]
	waitFor(t, "the active to commit the whole feed", func() bool {
		st := members[active].Status()
		return st.Ring.Len == 0 && st.Ring.Appended+st.Ring.Recognised+st.Ring.Rejected == st.Counters.Accepted
	})
	recs := readCommitted(t, b.Addr(), "feed")
	checkSequence(t, recs, uint64(len(want)))

	final := members[active].Status()
	earlyWhileActive += final.Ring.Recognised - earlyMark[active]
	all := append(dead, members[0].Status(), members[1].Status())
	var early, fenced uint64
	for _, st := range all {
		early += st.Ring.Recognised
		fenced += st.Counters.Fenced
	}
	byMember := map[string]int{}
	for _, r := range recs {
		byMember[r.member]++
	}
	t.Logf("%d frames (ports delivered %d and %d), %d handovers %v; records by member %v; %d frames suppressed by early echoes (%d after activations), %d catch-up trims, %d fenced",
		len(want), len(delivered[0]), len(delivered[1]), handovers, modeCount, byMember, early, earlyWhileActive, catchUp, fenced)
	if byMember["a"] == 0 || byMember["b"] == 0 {
		t.Errorf("records by member %v: both members must have committed", byMember)
	}
	if fenced < uint64(modeCount["fenced"]) {
		t.Errorf("%d fenced deactivations counted, %d fenced handovers", fenced, modeCount["fenced"])
	}
	if earlyWhileActive == 0 {
		t.Error("no new active's port delivered a frame after its echo: the early-echo case did not happen at a handover")
	}
	if catchUp == 0 {
		t.Error("no echo reached a member while it read the topic to its end: the late-echo case did not happen")
	}
}

// TestPTYUnplugInactive: the inactive's port is unplugged while the active
// streams, then replugged. The inactive's Source reconnects, its ring is
// trimmed by echoes again, and once the feed is quiet it holds nothing: the
// frames it missed left only their echoes, waiting as early echoes for
// frames that never come. The topic is complete, and the inactive,
// activated after the feed, has nothing to flush.
func TestPTYUnplugInactive(t *testing.T) {
	needSocat(t)
	const n = 1500
	b, cfg := startBrokerFor(t, "feed")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, bm := startEchoingPair(t, cfg, 2*time.Minute)
	rig := startPTYRig(t, serialsim.Config{Rate: ptyRate, Count: n, Seed: testSeed(t)}, [2]*member{a, bm})

	waitFor(t, "B trimming on echo", func() bool { return bm.Status().Ring.TrimmedByEcho >= 100 })
	if err := rig.sim.Unplug(1, 0); err != nil {
		t.Fatal(err)
	}
	// The active streams on while B's cable is out.
	until := rig.sim.Generated() + 150
	waitFor(t, "the stream to run on while B is unplugged", func() bool { return rig.sim.Generated() >= until })
	if rig.sim.Generated() >= n {
		t.Fatal("the feed ended while B was unplugged; nothing would show the replug")
	}
	if err := rig.sim.Replug(1); err != nil {
		t.Fatal(err)
	}
	atReplug := bm.Status()
	waitFor(t, "B to read frames again after the replug", func() bool { return bm.Status().Counters.Accepted > atReplug.Counters.Accepted })

	rig.waitFinished()
	delivered := rig.drain()
	st1, _ := rig.sim.Stats(1)
	if len(delivered[0]) != n || !isPrefixRun(delivered[0]) {
		st0, _ := rig.sim.Stats(0)
		t.Fatalf("A's port delivered %d frames of a feed of %d (%v)", len(delivered[0]), n, st0)
	}
	missed := uint64(n - len(delivered[1]))
	if st1.Unplugs != 1 || st1.Unplugged == 0 || missed != st1.Unplugged {
		t.Fatalf("B's port: %v; want one unplug that lost frames, and %d missed", st1, missed)
	}
	if h := rig.srcs[1].Health(); h.Reconnects < 1 {
		t.Fatalf("B's Source did not reconnect: %+v", h)
	}

	waitFor(t, "A to commit the feed and B's ring to empty", func() bool {
		sa, sb := a.Status(), bm.Status()
		return sa.Counters.CommittedFrames == n && sa.Ring.Len == 0 && sb.Counters.EchoRecords == n &&
			sb.Ring.Appended+sb.Ring.Recognised+sb.Ring.Rejected == sb.Counters.Accepted && sb.Ring.Len == 0
	})
	st := bm.Status()
	t.Logf("B missed %d frames; ring at the replug: %d held, %d trimmed by echo; at the end: trimmed %d, early echoes %d (matched %d, held %d, expired %d)",
		missed, atReplug.Ring.Len, atReplug.Ring.TrimmedByEcho, st.Ring.TrimmedByEcho,
		st.Ring.Remembered, st.Ring.Recognised, st.Ring.MemoryLen, st.Ring.Forgotten)
	got := uint64(len(delivered[1]))
	if st.Counters.Accepted != got {
		t.Fatalf("B accepted %d frames, its port delivered %d", st.Counters.Accepted, got)
	}
	if st.Ring.TrimmedByEcho <= atReplug.Ring.TrimmedByEcho {
		t.Fatalf("B's ring was not trimmed by echo after the replug: %d trims before, %d after", atReplug.Ring.TrimmedByEcho, st.Ring.TrimmedByEcho)
	}
	if st.Ring.TrimmedByEcho+st.Ring.Recognised != got || st.Ring.Skipped+st.Ring.Passed != 0 || st.Ring.OverflowFrames != 0 {
		t.Fatalf("B's ring: trimmed by echo %d + suppressed by early echo %d, want the %d frames it read; skipped %d, overflow %d, want 0",
			st.Ring.TrimmedByEcho, st.Ring.Recognised, got, st.Ring.Skipped, st.Ring.OverflowFrames)
	}
	if unmatched := st.Ring.Remembered - st.Ring.Recognised; unmatched != missed || st.Counters.EchoRecords != n {
		t.Fatalf("B: %d echoes of %d records found no frame, want the %d frames it missed", unmatched, st.Counters.EchoRecords, missed)
	}
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n)

	// B holds nothing stale: activated now, it adds nothing to the topic.
	a.mustDeactivate(t, ctx, Planned)
	bm.mustActivate(t, ctx)
	if st := bm.Status(); st.Ring.Len != 0 || st.Counters.Produced != 0 {
		t.Fatalf("B after activating: ring %d, produced %d; want 0, 0", st.Ring.Len, st.Counters.Produced)
	}
	recs := readCommitted(t, b.Addr(), "feed")
	checkSequence(t, recs, n)
	for _, r := range recs {
		if r.member != "a" {
			t.Fatalf("offset %d: record from %q, only A was active while the feed ran", r.offset, r.member)
		}
	}
}
