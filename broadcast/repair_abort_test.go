package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/feedd/feedd/ingest"
)

// TestRepairAfterAbortedActivation: the active repairs a hole in its own
// stream from its peer, and its activation ends before the transaction
// that holds the peer's frames commits (aborted: a step-down for Kafka, a
// restart of the broker). When the same member activates again, the hole
// is still in its ring, and the peer's frames must be published again
// before what follows it: the topic is the whole feed, once each, in order.
// (The make test-e2e broker-restart scenario once lost such a run.)
func TestRepairAfterAbortedActivation(t *testing.T) {
	for _, tc := range frameIdentities {
		t.Run(tc.name, func(t *testing.T) {
			broker, cfg := startBrokerFor(t, "repair-abort-"+tc.name)
			// One transaction holds the whole feed until the
			// deactivation below aborts it.
			cfg.CommitInterval, cfg.CommitLinger = 5*time.Second, 5*time.Second
			a, b := startPairWithRepair(t, cfg, func() bool { return true })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.Activate(ctx); err != nil {
				t.Fatal(err)
			}
			const n, holeFrom, holeTo = 300, 100, 120 // a loses 100..119
			feedWithHole(a, b, tc.build, n, holeFrom, holeTo, ingest.HoleDropped, n)
			waitFor(t, "the active to produce the feed with the peer's frames", func() bool {
				k := a.Status().Counters
				return k.RepairedFrames == holeTo-holeFrom && k.Produced == n
			})
			if k := a.Status().Counters; k.Commits != 0 {
				t.Fatalf("%d commits before the deactivation; the test needs the feed in one open transaction", k.Commits)
			}
			if err := a.Deactivate(ctx, Immediate); err != nil {
				t.Fatal(err)
			}
			if err := a.Activate(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the active to commit its ring", func() bool { return a.Status().Ring.Len == 0 })
			checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
			if k := a.Status().Counters; k.RepairRequests != 2 || k.RepairedPossible != 0 {
				t.Fatalf("repair requests %d, possible %d; want 2 (the hole asked again) and 0 (the aborted frames are certainly not on the topic)", k.RepairRequests, k.RepairedPossible)
			}
			checkPeerSkippedNothing(t, b)
		})
	}
}

// TestWithdrawFills: when an activation ends, a hole's peer frames that
// were committed stay part of the published stream; those produced in a
// transaction whose outcome is unknown may be on the topic (published
// again, they are marked); those known not to be committed, or never
// produced, are not. Holes whose frames were not all committed are asked
// again; the start of the stream is not (every activation checks it).
func TestWithdrawFills(t *testing.T) {
	const peerRing = 7
	newRepairs := func() *repairs {
		var r repairs
		h := &hole{pos: 50, kind: ingest.HoleDropped, ring: peerRing, decided: true, next: 3, committed: 1}
		for i := range 4 {
			f := peerFrame{pos: uint64(100 + i)}
			h.fill = append(h.fill, f)
			r.fill(h.pos, f.s, peerRing, f.pos, f.possible)
		}
		done := &hole{pos: 40, ring: peerRing, decided: true, next: 1, committed: 1, fill: []peerFrame{{pos: 90}}}
		r.fill(done.pos, done.fill[0].s, peerRing, 90, false)
		start := &hole{pos: 10, start: true, ring: peerRing}
		r.holes = []*hole{start, done, h}
		return &r
	}
	type state struct{ already, uncertain bool }
	for _, tc := range []struct {
		unknown bool
		want    map[uint64]state // by the peer's position
	}{
		{false, map[uint64]state{90: {true, false}, 100: {true, false}, 101: {false, false}, 102: {false, false}, 103: {false, false}}},
		{true, map[uint64]state{90: {true, false}, 100: {true, false}, 101: {false, true}, 102: {false, true}, 103: {false, false}}},
	} {
		r := newRepairs()
		again := r.withdrawFills(tc.unknown)
		if len(again) != 1 || again[0] != (ringHole{pos: 50, kind: ingest.HoleDropped}) {
			t.Fatalf("unknown=%v: asked again %v, want the hole at 50 only", tc.unknown, again)
		}
		for pos, want := range tc.want {
			if already, uncertain := r.filledAlready(peerRing, pos); (state{already, uncertain}) != want {
				t.Errorf("unknown=%v: peer frame %d: already %v, uncertain %v; want %+v", tc.unknown, pos, already, uncertain, want)
			}
		}
	}
}

// TestAbortedFillsGoAgainMarked: after a failed commit, the fill frames
// produced since the last commit are produced again, marked, since the
// commit may have gone through; those committed before, and those not yet
// produced, keep their marks. After a transaction aborted before its
// commit was asked for (a record failed), none is marked.
func TestAbortedFillsGoAgainMarked(t *testing.T) {
	for _, unknown := range []bool{true, false} {
		h := &hole{pos: 50, kind: ingest.HoleDropped, decided: true, next: 3, committed: 1,
			fill: []peerFrame{{pos: 100}, {pos: 101}, {pos: 102}, {pos: 103}}}
		r := repairs{holes: []*hole{h}}
		r.aborted(unknown)
		if h.next != 1 {
			t.Fatalf("next %d after the abort, want the committed 1", h.next)
		}
		for i, want := range []bool{false, unknown, unknown, false} {
			if h.fill[i].possible != want {
				t.Errorf("outcome unknown %v: fill frame %d possible %v, want %v", unknown, i, h.fill[i].possible, want)
			}
		}
	}
}
