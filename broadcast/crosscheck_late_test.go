package broadcast

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/testsupport"
)

// TestCrossCheckLateSightings: the active went live and published its first
// frames unchecked, before the peer's stream of sightings covered them (a
// member that has just taken over); then the stream comes. A sighting that
// no own frame may be is a frame this member's port lost, however close it
// came to the frames that went out unchecked: it is repaired, not thrown
// away as late (make test lost a time-stamped $GPRMC that way, with the
// peer alive and holding it). A sighting that may be an own frame that went
// out unchecked, or one older than the frames this member remembers, is
// still left unchecked: taken for a loss, it would publish a frame the
// topic already holds. The loop is not run: each case drives the pipeline's
// handlers on its state directly.
func TestCrossCheckLateSightings(t *testing.T) {
	ms := int64(time.Millisecond)
	// A run of repeats whose last copy the peer's sighting below misses
	// by 5 ms, and the frames read after the peer's stream began.
	repeats := []ownFrame{{"$GPGSA,A", 0}, {"$GPGSV,1", 10}, {"$GPGSV,2", 20}, {"$GPGSV,2", 30}}
	copyOfLast := []ownFrame{{"$GPGSV,2", 35}}
	after := []ownFrame{{"$GPZDA,5", 180}, {"$GPZDA,6", 230}}
	cases := []struct {
		name string
		// flushed: the own frames in the ring when the member went live,
		// as (sentence, line time in ms); unchecked: those it read live
		// and published before the peer's stream began; held: those read
		// after it began, which wait for its sightings.
		flushed, unchecked, held []ownFrame
		// seen: the peer's sightings after its stream began; through:
		// its watermark, in ms (0: now).
		seen    []ownFrame
		through int64
		// want: missed and late sightings, repair requests.
		missed, late, requests int
	}{
		{
			// The bug: T, 50 ms after the last unchecked frame, is
			// within the margin of it, but no own frame may be T.
			name:      "lost frame after unchecked frames",
			unchecked: repeats,
			held:      after,
			seen:      append([]ownFrame{{"$GPRMC,111805.76", 80}}, after...),
			missed:    1, requests: 1,
		},
		{
			// The peer's copy of an own frame that went out unchecked, in
			// a run of repeats with no anchor, matched alone with no
			// slack once it is old: its window misses its own copy's
			// by 5 ms, within the margin.
			name:      "unchecked own frame",
			unchecked: repeats, held: after, seen: copyOfLast, through: 60,
			late: 1,
		},
		{
			// The same, for an own frame of the backlog flushed on going
			// live.
			name:    "flushed own frame",
			flushed: repeats, held: after, seen: copyOfLast, through: 60,
			late: 1,
		},
		{
			// The peer's copy of an own frame this member no longer
			// remembers (recentFrames later).
			name:      "forgotten own frame",
			unchecked: numberedOwn(recentFrames+100, 0, 1),
			held:      []ownFrame{{"$GPZDA,5", recentFrames + 250}, {"$GPZDA,6", recentFrames + 300}},
			seen:      []ownFrame{numberedOwn(10, 0, 1)[9], {"$GPZDA,5", recentFrames + 250}, {"$GPZDA,6", recentFrames + 300}},
			late:      1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var watermark, requests atomic.Int64
			p := looplessPipeline(t, &watermark, &requests)

			// Old enough that a run with no anchor is matched alone.
			base := hostclock.Now() - 8*int64(time.Second)
			at := func(ms0 int64) backlog.Window {
				lo := base + ms0*ms
				return backlog.Window{Lo: lo, Hi: lo + int64(500*time.Microsecond)}
			}
			accept := func(own []ownFrame) {
				for _, o := range own {
					data := []byte(o.data)
					p.Accept(&ingest.Frame{Data: data, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(data), Line: at(o.ms)})
				}
				p.in.drain(p.appendFn)
			}
			seq := uint64(0)
			before := append(append([]ownFrame(nil), tc.flushed...), tc.unchecked...)
			from := at(before[len(before)-1].ms).Hi
			take := func(through int64, seen []ownFrame) {
				t.Helper()
				var s []peerSighting
				for i, o := range seen {
					s = append(s, peerSighting{backlog.Sighting{ID: ingest.Fingerprint([]byte(o.data)), Win: at(o.ms), Size: len(o.data)}, uint64(1000 + i)})
				}
				seq++
				msg := appendSightings(nil, sightingsMsg{clock: hostclock.ID(), seq: seq, ring: 7, from: from, through: through, seen: s})
				if err := p.handleRepair("b", msg); err != nil {
					t.Fatal(err)
				}
				from = through
			}

			accept(tc.flushed)
			p.act = &activation{activationMachine: activationMachine{phase: phaseProducing, live: true}, flushThrough: p.ring.LastPos()}
			p.crossCheckLive(p.act.flushThrough)
			accept(tc.unchecked)
			if k := p.c.CrossCheckUnchecked; k != uint64(len(tc.unchecked)) || p.xc.released != p.ring.LastPos() {
				t.Fatalf("%d frames published unchecked, released through %d of %d; want all %d, no stream being taken",
					k, p.xc.released, p.ring.LastPos(), len(tc.unchecked))
			}
			take(from, nil) // the peer's stream begins after the last of them
			if !p.xc.covered {
				t.Fatal("the peer's stream was not taken")
			}
			accept(tc.held)
			watermark.Store(hostclock.Now())
			through := hostclock.Now()
			if tc.through != 0 {
				through = at(tc.through).Hi
			}
			take(through, tc.seen)

			k := p.c
			if k.CrossCheckMissed != uint64(tc.missed) || k.SightingsLate != uint64(tc.late) || requests.Load() != int64(tc.requests) || k.Holes != uint64(tc.requests) {
				t.Fatalf("missed %d, late %d, repair requests %d, holes %d; want %d, %d, %d, %d",
					k.CrossCheckMissed, k.SightingsLate, requests.Load(), k.Holes, tc.missed, tc.late, tc.requests, tc.requests)
			}
			if tc.missed == 0 {
				return
			}
			// The hole goes before the first frame held, and its fill
			// reaches to the lost frame.
			lost := tc.seen[0]
			h := p.rep.holes[0]
			if first := p.ring.LastPos() - uint64(len(tc.held)) + 1; h.pos != first || len(h.need) != 1 || h.need[0].ID != ingest.Fingerprint([]byte(lost.data)) {
				t.Fatalf("hole at %d needing %+v; want it at %d, needing %q", h.pos, h.need, first, lost.data)
			}
		})
	}
}

// looplessPipeline returns a pipeline whose loop is not run, for a test
// that drives its handlers on its state directly: its port's watermark is
// what readThrough holds, and requests counts the repair requests it sends.
func looplessPipeline(t *testing.T, readThrough, requests *atomic.Int64) *Pipeline {
	t.Helper()
	p, err := New(testConfig("127.0.0.1:1", "loopless"), Options{
		Pipeline: "test", Member: "a", Logger: testsupport.Logger(),
		Ring: backlog.Config{RepairTimeout: 10 * time.Second},
		SendRepair: func(_ string, msg []byte) bool {
			if len(msg) > 0 && msg[0] == repairRequest {
				requests.Add(1)
			}
			return true
		},
		ReadThrough: readThrough.Load,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.rep.timer = time.NewTimer(time.Hour)
	p.rep.timer.Stop()
	return p
}

// ownFrame is a frame of a test feed: its bytes and its line time, in
// milliseconds after the start of the test's line.
type ownFrame struct {
	data string
	ms   int64
}

// numberedOwn returns n distinct frames, the first at ms0, every step ms.
func numberedOwn(n int, ms0, step int64) []ownFrame {
	out := make([]ownFrame, n)
	for i := range out {
		out[i] = ownFrame{fmt.Sprintf("$GPRMC,%06d", i), ms0 + int64(i)*step}
	}
	return out
}
