package broadcast

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
)

// TestRepairAfterAnEarlyAnswer: the active's port loses frames 20..29 and
// shows it; the peer's port has delivered only 20..24 of them when its
// answer is due (half of backlog.repair_timeout after the request: a
// reader starved of the processor, bytes written late). Its answer says it
// came before its port passed the hole, and lacks numbers: the active asks
// again rather than publishing past the hole, and takes the rest once the
// peer's port delivers it. (make test-e2e once lost 316 frames in
// TestChaosUnplugActive, in a way this fits.) When the peer's port never
// delivers the rest, the second answer, or without one the first, is
// decided: the numbers neither port read are reported missing.
func TestRepairAfterAnEarlyAnswer(t *testing.T) {
	const n, holeFrom, holeTo, peerHas = 60, 20, 30, 25 // a loses 20..29; b has read up to 24
	for _, tc := range []struct {
		name string
		// then plays what happens once the peer's early answer went.
		then             func(link *cutLink, b *member, rest []*ingest.Frame, bThrough *atomic.Int64)
		repaired, missed uint64
	}{
		{"the peer's port goes on", func(_ *cutLink, b *member, rest []*ingest.Frame, bThrough *atomic.Int64) {
			for _, f := range rest {
				b.Accept(f)
			}
			bThrough.Store(hostclock.Now())
		}, holeTo - holeFrom, 0},
		{"the peer's port stops", func(*cutLink, *member, []*ingest.Frame, *atomic.Int64) {}, peerHas - holeFrom, holeTo - peerHas},
		{"the link is cut", func(link *cutLink, _ *member, _ []*ingest.Frame, _ *atomic.Int64) { link.cut() }, peerHas - holeFrom, holeTo - peerHas},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frames []*ingest.Frame
			for seq := uint64(1); seq <= n; seq++ {
				frames = append(frames, frame(seq, time.Now()))
				time.Sleep(time.Millisecond)
			}
			// b's port watermark stays at frame 24's line time until its
			// port goes on.
			var bThrough atomic.Int64
			bThrough.Store(frames[peerHas-2].Line.Hi)
			link := newCutLink()
			broker, cfg := startBrokerFor(t, "repair-early")
			addr := broker.Addr()
			a, b := startRepairPair(t, cfg, repairLink{up: link.up.Load, heard: link.heard,
				ring: backlog.Config{RepairTimeout: time.Second, RepairPatience: 2 * time.Second},
				readThrough: func(name string) func() int64 {
					if name == "b" {
						return bThrough.Load
					}
					return nil
				}})
			a.activate(t, 30*time.Second)
			for i, f := range frames {
				seq := uint64(i + 1)
				if seq >= holeFrom && seq < holeTo {
					continue
				}
				if seq == holeTo {
					f.Hole = ingest.HoleSequence
				}
				a.Accept(f)
				f.Hole = ingest.NoHole
			}
			for _, f := range frames[:peerHas-1] {
				b.Accept(f)
			}
			waitFor(t, "the peer to answer the start of the stream and, early, the hole", func() bool {
				k := b.Status().Counters
				return k.RepairAsked >= 2 && k.RepairAnswers >= 2
			})
			tc.then(link, b, frames[peerHas-1:], &bThrough)
			// Accept hands frames over; counting what reached the ring
			// keeps the wait from passing before they are in it.
			want, own := n-tc.missed, uint64(n-(holeTo-holeFrom))
			waitFor(t, "the active to commit what its port read", func() bool {
				st := a.Status()
				return st.Ring.Appended == own && st.Ring.Len == 0
			})
			recs := readCommitted(t, addr, cfg.Topic)
			if tc.missed == 0 {
				checkSequence(t, recs, n)
			} else if uint64(len(recs)) != want {
				t.Fatalf("%d records in the topic, want %d", len(recs), want)
			}
			st := a.Status()
			if k := st.Counters; k.RepairRequestsAgain < 1 || k.RepairedFrames != tc.repaired {
				t.Fatalf("asked again %d, repaired %d; want at least once and %d", k.RepairRequestsAgain, k.RepairedFrames, tc.repaired)
			}
			if h := st.LastHole; h == nil || h.MissingSeq != tc.missed {
				t.Fatalf("last hole %+v; want %d numbers missing", h, tc.missed)
			}
		})
	}
}

// TestTakeFallback: the early answer kept while a hole is asked again is
// joined with what came of the later question, by position in the peer's
// ring, and taken alone when nothing came or another ring answered.
func TestTakeFallback(t *testing.T) {
	frames := func(ps ...uint64) []peerFrame {
		out := make([]peerFrame, len(ps))
		for i, pos := range ps {
			out[i].pos = pos
		}
		return out
	}
	positions := func(fs []peerFrame) []uint64 {
		var out []uint64
		for _, f := range fs {
			out = append(out, f.pos)
		}
		return out
	}
	early := &takenAnswer{clock: 1, ring: 7, got: frames(20, 21, 22)}
	for _, tc := range []struct {
		name   string
		later  hole
		want   []uint64
		ringOf uint64
	}{
		{"nothing came", hole{}, []uint64{20, 21, 22}, 7},
		{"part of the later answer", hole{clock: 1, ring: 7, chunks: 1, got: frames(21, 22, 23, 24)}, []uint64{20, 21, 22, 23, 24}, 7},
		{"the whole later answer", hole{clock: 1, ring: 7, chunks: 2, complete: true, got: frames(20, 21, 22, 23, 24, 25)}, []uint64{20, 21, 22, 23, 24, 25}, 7},
		{"another ring", hole{clock: 1, ring: 8, chunks: 1, complete: true, got: frames(1, 2)}, []uint64{20, 21, 22}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.later
			h.fallback = early
			h.takeFallback()
			if got := positions(h.got); !slices.Equal(got, tc.want) || h.ring != tc.ringOf || !h.complete || h.fallback != nil {
				t.Fatalf("got positions %v of ring %d (complete %v, fallback kept %v); want %v of ring %d", got, h.ring, h.complete, h.fallback != nil, tc.want, tc.ringOf)
			}
		})
	}
}
