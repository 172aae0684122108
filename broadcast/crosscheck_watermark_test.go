package broadcast

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
)

// TestCrossCheckWatermarkBeforeDrain: the active's port hands over frames
// and then stores a watermark past them while the loop is busy; the loop
// takes the peer's sightings, or its repair timer fires, or it is part way
// through a drain, before those frames are in the ring. The watermark says
// only what was handed over, so the cross-check must not take the frames
// still waiting to be drained for ones its port lost: no hole, and every
// sighting matched once the frames are in. The feed repeats three sentences,
// so that no sighting is an anchor and the own copies are matched by count.
// The loop is not run: each case drives the handler it names on the
// loop's state directly, in the order a starved loop may take them.
func TestCrossCheckWatermarkBeforeDrain(t *testing.T) {
	cases := []struct {
		name string
		// before: the peer's sightings are taken before the last
		// frames are handed over. take: what the loop does next.
		before bool
		take   func(p *Pipeline, sightings []byte)
	}{
		{"sightings", false, func(p *Pipeline, sightings []byte) { p.handleRepair("b", sightings) }},
		{"repair timer", true, func(p *Pipeline, _ []byte) { p.repairTick() }},
		{"drain", true, func(p *Pipeline, _ []byte) { p.drainPort() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var watermark, requests atomic.Int64
			p := looplessPipeline(t, &watermark, &requests)
			p.act = &activation{activationMachine: activationMachine{phase: phaseProducing, live: true}}
			p.crossCheckLive(0)

			base := hostclock.Now() - int64(time.Second)
			frames := make([]*ingest.Frame, 9)
			seen := make([]peerSighting, len(frames))
			for i := range frames {
				data := []byte(fmt.Sprintf("$GPGSV,%d*", i%3))
				lo := base + int64(i+1)*int64(time.Millisecond)
				f := &ingest.Frame{Data: data, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(data),
					Line: backlog.Window{Lo: lo, Hi: lo + int64(500*time.Microsecond)}}
				frames[i] = f
				seen[i] = peerSighting{backlog.Sighting{ID: f.Identity(), Win: f.Line, Size: len(data)}, uint64(i + 1)}
			}
			from := base - int64(time.Second)
			take := func(seq uint64, through int64, s []peerSighting) {
				t.Helper()
				msg := appendSightings(nil, sightingsMsg{clock: hostclock.ID(), seq: seq, ring: 7, from: from, through: through, seen: s})
				if err := p.handleRepair("b", msg); err != nil {
					t.Fatal(err)
				}
				from = through
			}
			take(1, from, nil) // the peer's stream begins before the feed
			if !p.xc.covered {
				t.Fatal("the peer's stream was not taken")
			}

			// The loop has taken the first six frames; the port has not
			// passed the others yet.
			for _, f := range frames[:6] {
				p.Accept(f)
			}
			p.in.drain(p.appendFn)
			sightings := appendSightings(nil, sightingsMsg{clock: hostclock.ID(), seq: 2, ring: 7, from: from, through: hostclock.Now(), seen: seen})
			if tc.before {
				take(2, hostclock.Now(), seen)
			}
			// The port hands over the last three and then stores its
			// watermark, far past them; the loop has not drained them.
			for _, f := range frames[6:] {
				p.Accept(f)
			}
			watermark.Store(hostclock.Now())
			tc.take(p, sightings)

			p.in.drain(p.appendFn)
			p.repairTick()
			if k := p.c; k.Holes != 0 || k.CrossCheckMissed != 0 || requests.Load() != 0 {
				t.Fatalf("holes %d, cross-check missed %d, repair requests %d; want none: the frames were handed over, not lost",
					k.Holes, k.CrossCheckMissed, requests.Load())
			}
			if len(p.xc.queue) != 0 || p.xc.released != p.ring.LastPos() {
				t.Fatalf("%d sightings still queued, released through %d of %d; want every sighting matched and every frame released",
					len(p.xc.queue), p.xc.released, p.ring.LastPos())
			}
		})
	}
}
