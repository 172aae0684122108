package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
)

// startPairWithRepair starts two members whose repair messages go straight
// to each other, as the pair link carries them; linkUp says whether the
// link is up.
func startPairWithRepair(t *testing.T, cfg Config, linkUp func() bool) (a, b *member) {
	t.Helper()
	ring := backlog.Config{LineByteTime: 87 * time.Microsecond}
	var pa, pb *Pipeline
	send := func(from string, to **Pipeline) func(string, []byte) bool {
		return func(_ string, msg []byte) bool {
			if !linkUp() {
				return false
			}
			(*to).HandleRepair(from, msg)
			return true
		}
	}
	start := func(name string, sendRepair func(string, []byte) bool) *member {
		p, err := New(cfg, Options{Pipeline: "test", Member: name, Ring: ring, Logger: testLogger().With("member", name), SendRepair: sendRepair})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		m := &member{Pipeline: p, cancel: cancel, ran: make(chan struct{})}
		go func() {
			defer close(m.ran)
			if err := p.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
		t.Cleanup(m.stop)
		return m
	}
	a = start("a", send("a", &pb))
	b = start("b", send("b", &pa))
	pa, pb = a.Pipeline, b.Pipeline
	return a, b
}

// TestRepairFromPeer: the active's port loses a run of frames and knows it
// (the next frame follows a hole); the inactive read them. The active holds
// back what follows, gets the run from its peer and publishes it in place:
// the topic is the whole feed, once each, in order.
func TestRepairFromPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(uint64, time.Time) *ingest.Frame
	}{
		{"sequenced", frame},
		{"fingerprinted", fpFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := startBroker(t, "")
			cfg := testConfig(broker.Addr(), "repair-"+tc.name)
			a, b := startPairWithRepair(t, cfg, func() bool { return true })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.Activate(ctx); err != nil {
				t.Fatal(err)
			}
			const n, holeFrom, holeTo = 600, 400, 420 // a loses 400..419
			for seq := uint64(1); seq <= n; seq++ {
				f := tc.build(seq, time.Now())
				if seq < holeFrom || seq >= holeTo {
					if seq == holeTo {
						f.Hole = ingest.HoleDropped
					}
					a.Accept(f)
					f.Hole = ingest.NoHole
				}
				b.Accept(f)
				time.Sleep(time.Millisecond)
			}
			waitFor(t, "the active to commit the whole feed", func() bool {
				return a.Status().Counters.CommittedFrames >= n
			})
			checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
			st := a.Status()
			if k := st.Counters; k.Holes != 1 || k.RepairRequests != 1 || k.RepairedFrames != holeTo-holeFrom || k.RepairedPossible != 0 {
				t.Fatalf("holes %d, requests %d, repaired %d (possible %d); want 1, 1, %d, 0", k.Holes, k.RepairRequests, k.RepairedFrames, k.RepairedPossible, holeTo-holeFrom)
			}
			if h := st.LastHole; h == nil || h.Kind != "dropped" || h.Repaired != holeTo-holeFrom || h.Unrepaired != "" || h.MissingSeq != 0 {
				t.Fatalf("last hole %+v", h)
			}
			if k := b.Status().Counters; k.RepairAsked != 1 || k.RepairAnswers != 1 {
				t.Fatalf("peer: asked %d, answered %d; want 1 and 1", k.RepairAsked, k.RepairAnswers)
			}
			waitFor(t, "the inactive's ring to drain", func() bool { return b.Status().Ring.Len == 0 })
			if r := b.Status().Ring; r.Skipped != 0 {
				t.Fatalf("the inactive counted %d frames skipped by the active", r.Skipped)
			}
		})
	}
}

// TestRepairWithoutPeer: with nobody to ask, the hole is reported at once
// (with the sequence numbers it lacks) and nothing is held back.
func TestRepairWithoutPeer(t *testing.T) {
	broker := startBroker(t, "")
	cfg := testConfig(broker.Addr(), "repair-nopeer")
	a, _ := startPairWithRepair(t, cfg, func() bool { return false })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Activate(ctx); err != nil {
		t.Fatal(err)
	}
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
}
