package broadcast

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
)

// TestCrossCheckFillKeepsLineOrder: on a feed without sequence numbers the
// active's port silently drops two frames 40 ms apart, and the inactive's
// port drops one frame between them that the active read. The cross-check
// finds the first drop and repairs it in a hole after the frame before it;
// the peer's frames within the pass margin after that hole cannot be
// placed by time, and the second dropped frame, published in that fill,
// went out before the active's own copy of the frame only it had read,
// which came before it on the line. (make test-e2e once published a GPS
// sentence 125 records early this way.) The topic is the whole feed in
// line order, as the audit reads it (checkPlaceable).
//
// In "wide", the active's windows are 60 ms wide (a slow adapter, a loaded
// host: the run's pseudo-terminal read 75 ms late), so no own frame is
// certainly the peer's copy of it by time, and only an anchor ends the
// first hole's fill before the second dropped frame.
func TestCrossCheckFillKeepsLineOrder(t *testing.T) {
	for _, tc := range []fillOrderCase{
		{name: "narrow", ownLost: [2]uint64{150, 170}, peerLost: 160},
		{name: "wide", widen: 60 * time.Millisecond, ownLost: [2]uint64{150, 170}, peerLost: 160},
	} {
		t.Run(tc.name, func(t *testing.T) { checkFillKeepsLineOrder(t, tc) })
	}
}

// TestCrossCheckLaterFillNeedsNoSightings: as "wide" above, but the peer's
// sightings stop just before they report the second frame the active's
// port dropped (the link took no more of them: its queue full, then cut),
// so the cross-check never finds that frame missing. The first hole's
// answer holds it, and its fill places it after the frames only the active
// read before it rather than leaving it to the cross-check: it is still
// published, in its place.
func TestCrossCheckLaterFillNeedsNoSightings(t *testing.T) {
	checkFillKeepsLineOrder(t, fillOrderCase{widen: 60 * time.Millisecond, ownLost: [2]uint64{150, 160}, peerLost: 155, sightingsStop: true})
}

// fillOrderCase is a feed of 300 frames without sequence numbers from
// which the active's port drops ownLost and the inactive's peerLost, the
// active's windows widened by widen. With sightingsStop, the inactive's
// sightings stop just before the one of ownLost[1].
type fillOrderCase struct {
	name          string
	widen         time.Duration
	ownLost       [2]uint64
	peerLost      uint64
	sightingsStop bool
}

func checkFillKeepsLineOrder(t *testing.T, tc fillOrderCase) {
	const n = 300
	topic := "crosscheck-fill-order"
	broker, cfg := startBrokerFor(t, topic)
	link := repairLink{up: func() bool { return true }}
	missed := uint64(2)
	if tc.sightingsStop {
		missed = 1
		link.filter = sightingsStopAt(fpFrame(tc.ownLost[1], time.Now()).Identity())
	}
	a, b := startRepairPair(t, cfg, link)
	a.activate(t, 30*time.Second)
	waitFor(t, "the active to take the inactive's sightings", func() bool { return a.Status().CrossCheck.Covered })
	time.Sleep(2 * backlog.DefaultPassMargin)
	for seq := uint64(1); seq <= n; seq++ {
		f := fpFrame(seq, time.Now())
		if seq != tc.peerLost {
			b.Accept(f)
		}
		if seq != tc.ownLost[0] && seq != tc.ownLost[1] {
			own := *f
			own.Line.Lo -= int64(tc.widen)
			a.Accept(&own)
		}
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, "the active to commit the whole feed", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames >= n-2 && st.Ring.Len == 0
	})
	dups := checkPlaceable(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
	k := a.Status().Counters
	t.Logf("%d duplicates, all marked; holes %d, repaired %d (possible %d)", dups, k.Holes, k.RepairedFrames, k.RepairedPossible)
	if k.CrossCheckMissed != missed {
		t.Fatalf("the cross-check found %d frames missing, want %d", k.CrossCheckMissed, missed)
	}
}

// sightingsStopAt returns a link filter under which the inactive's
// sightings stop just before the one with identity id: the message that
// holds it carries only those before it, with no watermark past them, and
// the link takes no sightings after it.
func sightingsStopAt(id uint64) func(string, []byte) []byte {
	var stopped atomic.Bool
	return func(from string, msg []byte) []byte {
		if from != "b" || len(msg) == 0 || msg[0] != repairSightings {
			return msg
		}
		if stopped.Load() {
			return nil
		}
		m, err := parseSightings(msg)
		i := slices.IndexFunc(m.seen, func(s peerSighting) bool { return s.ID == id })
		if err != nil || i < 0 {
			return msg
		}
		stopped.Store(true)
		m.seen, m.through = m.seen[:i], m.from
		return appendSightings(nil, m)
	}
}

// checkPlaceable checks that recs hold 1..n in line order as the audit
// reads a topic: each frame has a copy such that those copies come in order,
// and every other copy is marked as a possible duplicate. A fill may
// publish the peer's copies of frames early, marked, and the member's own
// copies go out later, marked too: checkCoverage, which takes every first
// copy for the frame's place, refuses that. It returns how many duplicates
// there are.
func checkPlaceable(t testing.TB, recs []topicRecord, n uint64) (dups int) {
	t.Helper()
	copies := make(map[uint64][]topicRecord)
	for _, r := range recs {
		if r.seq < 1 || r.seq > n {
			t.Fatalf("offset %d: sequence %d from %s is not of the feed 1..%d", r.offset, r.seq, r.member, n)
		}
		copies[r.seq] = append(copies[r.seq], r)
	}
	placed := int64(-1)
	for seq := uint64(1); seq <= n; seq++ {
		var unmarked []topicRecord
		for _, r := range copies[seq] {
			if !r.possible {
				unmarked = append(unmarked, r)
			}
		}
		dups += len(copies[seq]) - 1
		switch {
		case len(copies[seq]) == 0:
			t.Fatalf("sequence %d is not in the topic (I1: gap)", seq)
		case len(unmarked) > 1:
			t.Fatalf("sequence %d at offsets %d and %d, neither marked as a possible duplicate (I2)", seq, unmarked[0].offset, unmarked[1].offset)
		case len(unmarked) == 1:
			// The one copy not marked is the frame's place.
			if unmarked[0].offset < placed {
				t.Fatalf("offset %d: sequence %d from %s comes before sequence %d's place at offset %d (I1: disorder)", unmarked[0].offset, seq, unmarked[0].member, seq-1, placed)
			}
			placed = unmarked[0].offset
		default:
			// Every copy marked: the earliest after the frame before it
			// leaves the most room for the frames after.
			i := slices.IndexFunc(copies[seq], func(r topicRecord) bool { return r.offset > placed })
			if i < 0 {
				t.Fatalf("sequence %d has no copy after sequence %d's place at offset %d (I1: disorder)", seq, seq-1, placed)
			}
			placed = copies[seq][i].offset
		}
	}
	return dups
}

// TestWithdrawLaterFill: a later fill (the frames of an earlier hole's
// answer placed after an anchor) whose activation ended before its frames
// were committed is asked again at its place, with their sightings, so
// that the request reaches them though the frames around that place would
// not: nothing else would publish them, and the cross-check does not check
// the backlog an activation flushes.
func TestWithdrawLaterFill(t *testing.T) {
	const peerRing = 7
	var r repairs
	h := &hole{pos: 50, ring: peerRing, decided: true, next: 1, committed: 1, fill: []peerFrame{{pos: 100}}}
	r.fill(h.pos, h.fill[0].s, peerRing, 100)
	x := peerFrame{pos: 104, s: backlog.Sighting{ID: 42, Win: backlog.Window{Lo: 1000, Hi: 2000}}}
	l := &hole{pos: 55, ring: peerRing, later: true, decided: true, fill: []peerFrame{x}, need: []backlog.Sighting{x.s}}
	r.fill(l.pos, x.s, peerRing, x.pos)
	r.holes = []*hole{h, l}
	again := r.withdrawFills(false)
	if len(again) != 1 || again[0].pos != 55 || !slices.Equal(again[0].need, []backlog.Sighting{x.s}) {
		t.Fatalf("asked again %+v, want the later fill at 55 with its frame's sighting", again)
	}
	if already, _ := r.filledAlready(peerRing, x.pos); already {
		t.Fatal("the later fill's frame is still taken for published")
	}
	if already, _ := r.filledAlready(peerRing, 100); !already {
		t.Fatal("the committed fill's frame is no longer taken for published")
	}
}
