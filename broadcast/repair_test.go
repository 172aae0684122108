package broadcast

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
)

// startPairWithRepair starts two members whose repair messages go straight
// to each other, as the pair link carries them; linkUp says whether the
// link is up.
func startPairWithRepair(t *testing.T, cfg Config, linkUp func() bool) (a, b *member) {
	return startRepairPair(t, cfg, repairLink{up: linkUp})
}

// repairLink is the test's pair link for repair messages, and the rings of
// the pair it joins.
type repairLink struct {
	up func() bool // whether the link is up
	// heard, when set, is the members' Options.PeerHeard.
	heard func() (time.Time, bool, bool)
	// hold, when set, sees each message before its delivery to the
	// member that is not from, and may block to hold it back.
	hold func(from string, msg []byte)
	// ring is both members' ring configuration; its LineByteTime is
	// 87µs (9600 baud) when left zero.
	ring backlog.Config
	// readThrough, when set, gives the named member's
	// Options.ReadThrough (nil: the default).
	readThrough func(member string) func() int64
	// portOpen, when set, gives the named member's Options.PortOpen (nil:
	// the default).
	portOpen func(member string) func() bool
	// config, when set, gives the named member's configuration in place
	// of the one startRepairPair was given.
	config func(member string) Config
}

// startRepairPair starts two members joined by link.
func startRepairPair(t *testing.T, cfg Config, link repairLink) (a, b *member) {
	t.Helper()
	ring := link.ring
	if ring.LineByteTime == 0 {
		ring.LineByteTime = 87 * time.Microsecond
	}
	var pa, pb *Pipeline
	// Both members are started before either is known to the other's
	// queue: a message waits until then.
	started := make(chan struct{})
	// Like the link, a send queues the message and never blocks: a
	// member waiting on its peer's loop while the peer waits on its
	// own would deadlock the pair.
	send := func(from string, to **Pipeline) func(string, []byte) bool {
		queue := make(chan []byte, 256)
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			select {
			case <-started:
			case <-done:
				return
			}
			for {
				select {
				case msg := <-queue:
					if link.hold != nil {
						link.hold(from, msg)
					}
					(*to).HandleRepair(from, msg)
				case <-done:
					return
				}
			}
		}()
		t.Cleanup(func() { close(done); <-stopped })
		return func(_ string, msg []byte) bool {
			if !link.up() {
				return false
			}
			select {
			case queue <- msg:
				return true
			default:
				return false
			}
		}
	}
	start := func(name string, sendRepair func(string, []byte) bool) *member {
		opt := Options{Pipeline: "test", Member: name, Ring: ring, Logger: testsupport.Logger().With("member", name), SendRepair: sendRepair, PeerHeard: link.heard}
		if link.readThrough != nil {
			opt.ReadThrough = link.readThrough(name)
		}
		if link.portOpen != nil {
			opt.PortOpen = link.portOpen(name)
		}
		if link.config != nil {
			return startMemberWith(t, link.config(name), opt)
		}
		return startMemberWith(t, cfg, opt)
	}
	a = start("a", send("a", &pb))
	b = start("b", send("b", &pa))
	pa, pb = a.Pipeline, b.Pipeline
	close(started)
	return a, b
}

// startActivePairWithRepair starts a broker and a pair whose repair
// messages go straight to each other, on a topic of its own, and activates
// a.
func startActivePairWithRepair(t *testing.T, topic string, linkUp func() bool) (string, Config, *member, *member) {
	t.Helper()
	broker, cfg := startBrokerFor(t, topic)
	a, b := startPairWithRepair(t, cfg, linkUp)
	a.activate(t, 30*time.Second)
	return broker.Addr(), cfg, a, b
}

// feedWithHole gives b the frames 1..n and a all but those of [from, to),
// a's frame to following a hole of kind, as two ports on one line would
// deliver them; the frames up to paced are a millisecond apart, the rest
// come at once.
func feedWithHole(a, b *member, build func(uint64, time.Time) *ingest.Frame, n, from, to uint64, kind ingest.Hole, paced uint64) {
	for seq := uint64(1); seq <= n; seq++ {
		f := build(seq, time.Now())
		if seq < from || seq >= to {
			if seq == to {
				f.Hole = kind
			}
			a.Accept(f)
			f.Hole = ingest.NoHole
		}
		b.Accept(f)
		if seq < paced {
			time.Sleep(time.Millisecond)
		}
	}
}

// frameIdentities builds the frames of a repair test: a feed with sequence
// numbers, and one recognised by fingerprint and line time.
var frameIdentities = []struct {
	name  string
	build func(uint64, time.Time) *ingest.Frame
}{
	{"sequenced", frame},
	{"fingerprinted", fpFrame},
}

// checkPeerSkippedNothing waits for the inactive's ring to drain and fails
// if it counted frames the active never published.
func checkPeerSkippedNothing(t *testing.T, b *member) {
	t.Helper()
	waitFor(t, "the inactive's ring to drain", func() bool { return b.Status().Ring.Len == 0 })
	if r := b.Status().Ring; r.Skipped != 0 {
		t.Fatalf("the inactive counted %d frames skipped by the active", r.Skipped)
	}
}

// TestRepairFromPeer: the active's port loses a run of frames and knows it
// (the next frame follows a hole); the inactive read them. The active holds
// back what follows, gets the run from its peer and publishes it in place:
// the topic is the whole feed, once each, in order.
func TestRepairFromPeer(t *testing.T) {
	for _, tc := range frameIdentities {
		t.Run(tc.name, func(t *testing.T) {
			addr, cfg, a, b := startActivePairWithRepair(t, "repair-"+tc.name, func() bool { return true })
			const n, holeFrom, holeTo = 600, 400, 420 // a loses 400..419
			feedWithHole(a, b, tc.build, n, holeFrom, holeTo, ingest.HoleDropped, n)
			waitFor(t, "the active to commit the whole feed", func() bool {
				return a.Status().Counters.CommittedFrames >= n
			})
			checkSequence(t, readCommitted(t, addr, cfg.Topic), n)
			st := a.Status()
			if k := st.Counters; k.Holes != 1 || k.RepairRequests != 1 || k.RepairedFrames != holeTo-holeFrom || k.RepairedPossible != 0 {
				// The cross-check's counts and the last hole say which
				// kind an extra hole was.
				t.Fatalf("holes %d, requests %d, repaired %d (possible %d); want 1, 1, %d, 0; cross-check missed %d, unchecked %d, late sightings %d; last hole %+v",
					k.Holes, k.RepairRequests, k.RepairedFrames, k.RepairedPossible, holeTo-holeFrom,
					k.CrossCheckMissed, k.CrossCheckUnchecked, k.SightingsLate, st.LastHole)
			}
			if h := st.LastHole; h == nil || h.Kind != "dropped" || h.Repaired != holeTo-holeFrom || h.Unrepaired != "" || h.MissingSeq != 0 {
				t.Fatalf("last hole %+v", h)
			}
			// The peer answered the hole and, before it, the start of
			// the active's stream (nothing there: both read the feed's
			// first frame).
			if k := st.Counters; k.RepairStartChecks != 1 {
				t.Fatalf("start checks %d, want 1", k.RepairStartChecks)
			}
			if k := b.Status().Counters; k.RepairAsked != 2 || k.RepairAnswers != 2 {
				t.Fatalf("peer: asked %d, answered %d; want 2 and 2", k.RepairAsked, k.RepairAnswers)
			}
			checkPeerSkippedNothing(t, b)
		})
	}
}

// TestRepairWithoutPeer: with nobody to ask, the hole is reported at once
// (with the sequence numbers it lacks) and nothing is held back.
func TestRepairWithoutPeer(t *testing.T) {
	_, _, a, _ := startActivePairWithRepair(t, "repair-nopeer", func() bool { return false })
	for seq := uint64(1); seq <= 50; seq++ {
		if seq >= 20 && seq < 30 {
			continue
		}
		f := frame(seq, time.Now())
		if seq == 30 {
			f.Hole = ingest.HoleReopened
		}
		a.Accept(f)
	}
	waitFor(t, "the active to commit what it read", func() bool { return a.Status().Counters.CommittedFrames >= 40 })
	st := a.Status()
	if st.Counters.UnrepairedNoPeer != 1 || st.Counters.RepairRequests != 0 {
		t.Fatalf("unrepaired (no peer) %d, requests %d; want 1 and 0", st.Counters.UnrepairedNoPeer, st.Counters.RepairRequests)
	}
	if h := st.LastHole; h == nil || h.Kind != "reopened" || h.Unrepaired != UnrepairedNoPeer || h.MissingSeq != 10 {
		t.Fatalf("last hole %+v; want reopened, no_peer, 10 sequence numbers missing", h)
	}

	// What a peer sends that does not decode is counted and dropped; an
	// answer to a hole nobody asked about changes nothing.
	a.HandleRepair("b", []byte{repairAnswer, 1, 2})
	a.HandleRepair("b", []byte{42})
	a.HandleRepair("b", encodeAnswer(999, 1, []peerFrame{{data: []byte("x")}}, false, false, RepairMessageMax)[0])
	waitFor(t, "the malformed messages to be counted", func() bool { return a.Status().Counters.RepairRejected == 2 })
	if k := a.Status().Counters; k.RepairedFrames != 0 || k.Produced != 40 {
		t.Fatalf("after the peer's bad messages: repaired %d, produced %d; want 0 and 40", k.RepairedFrames, k.Produced)
	}
}

// FuzzRepairMessages: whatever a peer sends, decoding neither panics nor
// accepts a message it cannot account for byte by byte; what the encoders
// write decodes to what they were given.
func FuzzRepairMessages(f *testing.F) {
	f.Add([]byte{repairRequest}, uint64(1), int64(5), uint16(3), 100)
	f.Add(appendRequest(nil, repairRequestMsg{id: 7, clock: 9, from: backlog.Window{Lo: 1, Hi: 2}, to: backlog.Window{Lo: 3, Hi: 4}}), uint64(2), int64(-1), uint16(0), 64)
	f.Add([]byte{repairAnswer, 0, 0}, uint64(0), int64(0), uint16(400), 3900)
	f.Fuzz(func(t *testing.T, msg []byte, id uint64, w int64, size uint16, max int) {
		// Arbitrary input.
		if r, err := parseRequest(msg); err == nil {
			if got := appendRequest(nil, r); string(got) != string(msg) {
				t.Fatalf("request %x decodes to %+v, which encodes to %x", msg, r, got)
			}
		}
		if a, err := parseAnswer(msg); err == nil {
			n := answerHeaderLen
			for _, f := range a.frames {
				n += peerFrameHeader + len(f.data)
			}
			if n != len(msg) {
				t.Fatalf("answer of %d bytes decoded as %d", len(msg), n)
			}
		}
		// A round trip of an answer split into messages of at most max
		// bytes.
		max = answerHeaderLen + peerFrameHeader + int(size) + int(uint(max)%5000)
		var frames []peerFrame
		for i := range int(size % 50) {
			data := make([]byte, (int(size)+i)%(int(size)+1))
			frames = append(frames, peerFrame{
				s:   backlog.Sighting{ID: id + uint64(i), Exact: i%2 == 0, Win: backlog.Window{Lo: w - int64(i), Hi: w + int64(i)}, Size: len(data)},
				pos: uint64(i), possible: i%3 == 0, data: data, rx: w * int64(i),
			})
		}
		var got []peerFrame
		msgs := encodeAnswer(id, ^id, frames, size%2 == 0, size%3 == 0, max)
		for k, m := range msgs {
			if len(m) > max {
				t.Fatalf("message %d of %d bytes, bound %d", k, len(m), max)
			}
			a, err := parseAnswer(m)
			if err != nil {
				t.Fatalf("message %d: %v", k, err)
			}
			if a.id != id || a.ring != ^id || a.chunk != uint16(k) || a.last != (k == len(msgs)-1) || a.truncated != (a.last && size%2 == 0) || a.early != (a.last && size%3 == 0) {
				t.Fatalf("message %d header %+v", k, a)
			}
			got = append(got, a.frames...)
		}
		if len(got) != len(frames) {
			t.Fatalf("%d frames sent, %d decoded", len(frames), len(got))
		}
		for i := range got {
			g, w := got[i], frames[i]
			if g.s != w.s || g.pos != w.pos || g.possible != w.possible || g.rx != w.rx || string(g.data) != string(w.data) {
				t.Fatalf("frame %d: sent %+v, decoded %+v", i, w, g)
			}
		}
	})
}

// TestRepairOnActivation: the member lost frames (and knows it) while no
// one was publishing; when it activates and flushes its ring, it repairs
// the hole from its peer first. With more frames after the hole than a
// member remembers of its latest ("long"), the frames before the hole, still
// in the ring the activation flushes, are what the peer's answer is compared
// with, and none of them goes out twice. The peer answers about the hole
// while its ring still holds every frame (the answer about the start of the
// stream, which holds back the whole flush, is delivered only after it), as
// a peer whose echo lags does.
func TestRepairOnActivation(t *testing.T) {
	const holeFrom, holeTo = 100, 110 // a loses 100..109
	for _, tc := range []struct {
		name     string
		n, paced uint64
	}{
		{"short", 300, 300},
		{"long", holeTo + 2*recentFrames, holeTo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker, cfg := startBrokerFor(t, "repair-activation-"+tc.name)
			var b *member
			a, b := startRepairPair(t, cfg, repairLink{
				up: func() bool { return true },
				hold: func(from string, msg []byte) {
					for from == "b" && msg[0] == repairAnswer && b.Status().Counters.RepairAnswers < 2 {
						time.Sleep(time.Millisecond)
					}
				},
			})
			n := tc.n
			feedWithHole(a, b, frame, n, holeFrom, holeTo, ingest.HoleSequence, tc.paced)
			waitFor(t, "both rings to hold the feed", func() bool {
				return a.Status().Ring.Len == int(n)-(holeTo-holeFrom) && b.Status().Ring.Len == int(n)
			})
			a.activate(t, 30*time.Second)
			waitFor(t, "the active to commit the whole feed", func() bool { return a.Status().Counters.CommittedFrames >= n })
			checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
			if k := a.Status().Counters; k.RepairRequests != 1 || k.RepairedFrames != holeTo-holeFrom {
				t.Fatalf("requests %d, repaired %d; want 1 and %d", k.RepairRequests, k.RepairedFrames, holeTo-holeFrom)
			}
		})
	}
}

// TestRepairFillReplayedAfterAbort: the fill of a hole is produced before
// the frame after it; a transaction that held part of it and aborts makes
// the replay produce that part again, and a committed part is never
// produced twice.
func TestRepairFillReplayedAfterAbort(t *testing.T) {
	p := &Pipeline{}
	fill := func(n int) []peerFrame {
		fs := make([]peerFrame, n)
		for i := range fs {
			fs[i].data = []byte{byte(i)}
		}
		return fs
	}
	p.rep.holes = []*hole{{pos: 10, decided: true, fill: fill(3)}, {pos: 20, decided: true, fill: fill(2)}}
	// produce plays produceMore's part from ring position from to to,
	// and returns what went out: ring positions and fill frames (hole.i).
	produce := func(from, to uint64) (out []string) {
		for pos := from; pos <= to; {
			f, hold := p.repairHold(pos)
			if hold {
				t.Fatalf("held at %d", pos)
			}
			if f != nil {
				out = append(out, fmt.Sprintf("f%d", f.data[0]))
				continue
			}
			out = append(out, fmt.Sprint(pos))
			pos++
		}
		return out
	}
	if got := fmt.Sprint(produce(9, 10)); got != "[9 f0 f1 f2 10]" {
		t.Fatalf("first transaction: %s", got)
	}
	p.repairsCommitted(10)
	if len(p.rep.holes) != 1 {
		t.Fatalf("after the commit through 10: %d holes left, want 1", len(p.rep.holes))
	}
	if got := fmt.Sprint(produce(11, 20)); got != "[11 12 13 14 15 16 17 18 19 f0 f1 20]" {
		t.Fatalf("second transaction: %s", got)
	}
	p.repairsAborted(false)
	if got := fmt.Sprint(produce(11, 20)); got != "[11 12 13 14 15 16 17 18 19 f0 f1 20]" {
		t.Fatalf("replay after the abort: %s", got)
	}
	p.repairsCommitted(20)
	if len(p.rep.holes) != 0 {
		t.Fatalf("after the commit through 20: %d holes left", len(p.rep.holes))
	}
}

// TestRepairAnsweredLate: the peer's answer comes after this member's port
// has delivered more frames since the hole than it remembers of its own
// (on a loaded machine the answer waits while the port reads on), and the
// peer's ring still holds frames the active published before the hole (its
// port delivered them after their echoes were forgotten). The fill is
// compared with the frames before the hole as they were when the hole
// opened: those the topic holds already are not published again.
func TestRepairAnsweredLate(t *testing.T) {
	broker, cfg := startBrokerFor(t, "repair-late")
	var holding atomic.Bool
	release := make(chan struct{})
	a, b := startRepairPair(t, cfg, repairLink{
		up: func() bool { return true },
		hold: func(from string, msg []byte) {
			if from == "b" && msg[0] == repairAnswer && holding.Load() {
				<-release
			}
		},
		ring: backlog.Config{EchoMemoryTTL: time.Millisecond},
	})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	a.activate(t, 30*time.Second)
	const holeFrom, holeTo = 400, 420 // a loses 400..419
	n := uint64(holeTo + 2*recentFrames)
	for seq := uint64(1); seq < holeFrom; seq++ {
		a.Accept(frame(seq, time.Now()))
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "the active to commit the frames before the hole and the peer to read them back", func() bool {
		return a.Status().Counters.CommittedFrames >= holeFrom-1 && b.Status().Counters.EchoRecords >= holeFrom-1
	})
	// The peer's port delivers the feed up to the hole only now, later
	// than its echo memory lasts: its ring keeps all of it.
	time.Sleep(10 * time.Millisecond)
	for seq := uint64(1); seq < holeTo; seq++ {
		b.Accept(frame(seq, time.Now()))
	}
	waitFor(t, "the peer's ring to hold what it read", func() bool { return b.Status().Ring.Len == holeTo-1 })
	holding.Store(true)
	for seq := uint64(holeTo); seq <= n; seq++ {
		f := frame(seq, time.Now())
		if seq == holeTo {
			f.Hole = ingest.HoleDropped
		}
		a.Accept(f)
	}
	waitFor(t, "the active's port to deliver the frames after the hole and the peer to answer", func() bool {
		return a.Status().Ring.Len >= int(n-holeTo+1) && b.Status().Counters.RepairAnswers >= 2
	})
	close(release)
	released = true
	waitFor(t, "the active to commit the whole feed", func() bool { return a.Status().Counters.CommittedFrames >= n })
	checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
	if h := a.Status().LastHole; h == nil || h.Repaired != holeTo-holeFrom || h.MissingSeq != 0 {
		t.Fatalf("last hole %+v, want %d repaired, none missing", h, holeTo-holeFrom)
	}
}
