package broadcast

import (
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
)

// TestCrossCheckWaitsForTheWholeAnswer: a repair's answer may come in
// several chunks. The peer's sightings of the frames it fills, matched
// between two chunks, are not frames this member's port missed: taking
// them so opened a second hole for what the first one filled (seen as a
// second request and 20 frames counted missed in TestRepairFromPeer on a
// loaded machine). Once the answer is whole, what it holds is covered and
// what it lacks is still found.
func TestCrossCheckWaitsForTheWholeAnswer(t *testing.T) {
	const peerRing = 7
	margin := int64(backlog.Config{}.WithDefaults().PassMargin)
	sighting := func(text string, at time.Duration) backlog.Sighting {
		data := []byte(text)
		return backlog.Sighting{ID: ingest.Fingerprint(data), Win: backlog.Window{Lo: int64(at), Hi: int64(at + time.Millisecond)}, Size: len(data)}
	}
	// This member read A, then a hole (the port's sign), then D; the peer
	// also read B and C, at positions 10 and 11 of its ring.
	a, b, c, d := sighting("$A*", 0), sighting("$B*", 3*time.Millisecond), sighting("$C*", 6*time.Millisecond), sighting("$D*", 10*time.Millisecond)
	seg := []peerSighting{{Sighting: b, pos: 10}, {Sighting: c, pos: 11}}

	setup := func(t *testing.T) (*Pipeline, *hole) {
		t.Helper()
		ring, err := backlog.New(backlog.Config{})
		if err != nil {
			t.Fatal(err)
		}
		p := &Pipeline{ring: ring}
		for _, s := range []backlog.Sighting{a, d} {
			f := &backlog.Frame{ID: s.ID, Win: s.Win, Data: make([]byte, s.Size)}
			pos, _, err := ring.Append(f)
			if err != nil {
				t.Fatal(err)
			}
			p.rep.remember(pos, f)
		}
		p.rep.recent[0].matched = true // A, the previous anchor
		p.xc.anchorPos, p.xc.ring = 1, peerRing
		h := &hole{pos: 2, kind: ingest.HoleDropped, before: &a, after: d, to: d.Win,
			ring: peerRing, chunks: 1, got: []peerFrame{{s: b, pos: 10}}}
		p.rep.holes = []*hole{h}
		return p, h
	}

	t.Run("holds", func(t *testing.T) {
		p, h := setup(t)
		if p.closeSegment(seg, -1, margin, margin) {
			t.Fatalf("the segment closed between the answer's chunks (%d frames counted missed)", p.c.CrossCheckMissed)
		}
		h.got, h.complete = append(h.got, peerFrame{s: c, pos: 11}), true
		if !p.closeSegment(seg, -1, margin, margin) {
			t.Fatal("the segment did not close once the answer was whole")
		}
		if p.c.CrossCheckMissed != 0 || len(h.need) != 2 {
			t.Fatalf("missed %d, the hole needs %d; want 0 and 2 (its answer holds both)", p.c.CrossCheckMissed, len(h.need))
		}
	})
	t.Run("early", func(t *testing.T) {
		// The whole answer came before the peer's port passed the hole,
		// and holds B alone: it may be asked again, and the later
		// answer hold C.
		p, h := setup(t)
		h.complete, h.early = true, true
		if p.closeSegment(seg, -1, margin, margin) {
			t.Fatalf("the segment closed on an early answer not yet asked again (%d frames counted missed)", p.c.CrossCheckMissed)
		}
	})
	t.Run("lacks", func(t *testing.T) {
		p, h := setup(t)
		h.complete = true // the whole answer holds B alone
		if !p.closeSegment(seg, -1, margin, margin) {
			t.Fatal("the segment did not close once the answer was whole")
		}
		if p.c.CrossCheckMissed != 1 || len(h.need) != 1 {
			t.Fatalf("missed %d, the hole needs %d; want 1 (C, which the answer lacks) and 1", p.c.CrossCheckMissed, len(h.need))
		}
	})
}
