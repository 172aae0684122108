package backlog

import (
	"slices"
	"testing"
	"time"
)

// TestFillHolePlacesByAnchorsAfterIt: the local port lost X1 and, a little
// later, X2; the peer's port lost Y, a repeated sentence between them that
// the local port read. Every window is wide (a loaded host), so time alone
// places no peer frame after the frame that follows the hole, and without
// the anchors the hole's fill carried X2 too: published before the local
// Y, which came before it on the line. With Anchored X2, past the peer's
// copy of A2 (the last local frame before it whose identity neither side
// repeats), is placed before A3, the local frame after A2: still in the
// fill, so that it is published whatever the cross-check sees later. The
// frames a local frame may be stay in the hole, marked.
func TestFillHolePlacesByAnchorsAfterIt(t *testing.T) {
	ms := int64(time.Millisecond)
	const (
		a0, x1, a1, a2, x2, a3 = 100, 101, 102, 103, 104, 105
		gsv                    = 900 // a sentence the feed repeats
	)
	own := func(id uint64, at int64) Sighting { // read 75 ms late
		return Sighting{ID: id, Win: Window{Lo: (at + 35) * ms, Hi: (at + 75) * ms}, Size: 70}
	}
	peerAt := func(id uint64, at int64) Sighting {
		return Sighting{ID: id, Win: Window{Lo: (at - 50) * ms, Hi: (at + 1) * ms}, Size: 70}
	}
	var before []Sighting // the local stream's recent frames, A0 last
	for at := int64(-300); at < 0; at += 10 {
		before = append(before, own(uint64(1000+at), at))
	}
	before = append(before, own(a0, 0))
	after := []Sighting{own(gsv, 20), own(a1, 30), own(gsv, 40), own(a2, 50), own(a3, 70)} // no X1, no X2
	peer := []Sighting{peerAt(a0, 0), peerAt(x1, 10), peerAt(gsv, 20), peerAt(a1, 30), peerAt(a2, 50), peerAt(x2, 60), peerAt(a3, 70)}
	const x1At, a1At, x2At = 1, 3, 5
	rules := HoleRules{ByteTime: 10_000, Margin: 100 * ms}

	const a3Place = 4 // after[4] is A3
	inHole := func(fill []Fill) (unmarked []int) {
		for _, f := range fill {
			if !f.Possible && f.Place == 0 {
				unmarked = append(unmarked, f.Index)
			}
		}
		return unmarked
	}
	if got := inHole(FillHoleThrough(before, after, peer, x1At, rules)); len(got) != 2 || got[0] != x1At || got[1] != x2At {
		t.Fatalf("without anchors: unmarked in the hole %v, want X1 and X2 (%d, %d): the windows place neither after the hole", got, x1At, x2At)
	}
	rules.Anchored = true
	fill := FillHoleThrough(before, after, peer, x1At, rules)
	if got := inHole(fill); len(got) != 1 || got[0] != x1At {
		t.Fatalf("fill %v: unmarked in the hole %v, want X1 (%d) alone", fill, got, x1At)
	}
	if !slices.Contains(fill, Fill{Index: x2At, Place: a3Place}) {
		t.Fatalf("fill %v: X2 (%d) not placed before A3 (after[%d]), unmarked", fill, x2At, a3Place)
	}
	// Every frame a local frame may be stays in the hole, marked: the
	// anchor is not certain, and such a frame may be one the hole lacks.
	for j := range peer {
		if j == x1At || j == x2At {
			continue
		}
		if !slices.Contains(fill, Fill{Index: j, Possible: true}) {
			t.Fatalf("fill %v: peer frame %d (a local frame may be it) is not in the hole, marked", fill, j)
		}
	}
	// A hole known to lack X2 has it in the hole: the anchors never move
	// a frame the cross-check asked for.
	fill = FillHoleThrough(before, after, peer, x2At, rules)
	if got := inHole(fill); len(got) != 2 || got[1] != x2At {
		t.Fatalf("through X2: fill %v, unmarked in the hole %v, want X1 and X2", fill, got)
	}
}
