package broadcast

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
)

// TestHeldFramesGoOutWhenThePortCloses: the active holds its frames after a
// hole the cross-check found (frames only the peer read) when its port
// closes. The hole waited for the port to pass the peer's frames, which a
// closed port never does; the feed gone quiet, the active handed over with
// the frames still held, and among them were frames only it had read: the
// next active's ring lacked them, and they were lost. A closed port has
// delivered all it will of the hole, so the hole is decided and the held
// frames go out before the hand-over. With the port left open the test is
// the plain hand-over.
func TestHeldFramesGoOutWhenThePortCloses(t *testing.T) {
	for _, closes := range []bool{false, true} {
		name := "port stays open"
		if closes {
			name = "port closes"
		}
		t.Run(name, func(t *testing.T) { heldFramesAtHandover(t, closes) })
	}
}

func heldFramesAtHandover(t *testing.T, closes bool) {
	var aOpen atomic.Bool
	var aThrough atomic.Int64
	aOpen.Store(true)
	aThrough.Store(hostclock.Now())
	stop := make(chan struct{})
	ticking := make(chan struct{})
	defer func() { close(stop); <-ticking }()
	go func() {
		defer close(ticking)
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if aOpen.Load() { // a closed port's watermark stands still
					aThrough.Store(hostclock.Now())
				}
			}
		}
	}()
	name := map[bool]string{true: "closes", false: "open"}[closes]
	broker, cfg := startBrokerFor(t, "held-at-handover-"+name)
	a, b := startRepairPair(t, cfg, repairLink{
		up: func() bool { return true },
		readThrough: func(m string) func() int64 {
			if m == "a" {
				return aThrough.Load
			}
			return nil
		},
		portOpen: func(m string) func() bool {
			if m == "a" {
				return aOpen.Load
			}
			return nil
		},
	})
	a.activate(t, 30*time.Second)
	waitFor(t, "the active to take the inactive's sightings", func() bool { return a.Status().CrossCheck.Covered })
	time.Sleep(2 * backlog.DefaultPassMargin)

	const n, closeAt = 400, 160
	aLacks := func(s uint64) bool { return s >= 140 && s < 146 }  // only b reads them
	bLacks := func(s uint64) bool { return s == 150 || s == 156 } // only a reads them
	aReads := func(s uint64) bool { return (s < closeAt || !closes) && !aLacks(s) }
	for seq := uint64(1); seq <= 220; seq++ {
		f := fpFrame(seq, time.Now())
		if aReads(seq) {
			a.Accept(f)
		}
		if seq == closeAt && closes {
			aOpen.Store(false)
		}
		if !bLacks(seq) {
			b.Accept(f)
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.mustDeactivate(t, ctx, Planned)
	b.mustActivate(t, ctx)
	for seq := uint64(221); seq <= n; seq++ {
		b.Accept(fpFrame(seq, time.Now()))
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, "b to commit the whole feed", func() bool { s := b.Status(); return s.Ring.Len == 0 && s.Counters.CommittedFrames > 0 })
	seen := map[uint64]bool{}
	for _, r := range readCommitted(t, broker.Addr(), cfg.Topic) {
		seen[r.seq] = true
	}
	for s := uint64(1); s <= n; s++ {
		if !seen[s] {
			t.Errorf("frame %d is not in the topic (a read it: %v, b read it: %v)", s, aReads(s), !bLacks(s))
		}
	}
}

// TestClosedPeerPortStillAnswersWhole: both ports were unplugged; the
// active's came back first and asked about its hole while the peer's port
// was still closed. The peer's port, once open again, delivers frames of
// the hole that ended on the line while it was closed (a device keeps what
// came before it is opened), so the peer must not answer while it is
// closed as if it had passed the hole: it waits for its port as ever.
func TestClosedPeerPortStillAnswersWhole(t *testing.T) {
	var bOpen, asked atomic.Bool
	var bThrough atomic.Int64
	bOpen.Store(true)
	bThrough.Store(hostclock.Now())
	broker, cfg := startBrokerFor(t, "closed-peer-answers")
	a, b := startRepairPair(t, cfg, repairLink{
		up: func() bool { return true },
		hold: func(from string, msg []byte) {
			if from == "a" && len(msg) > 0 && msg[0] == repairRequest {
				asked.Store(true)
			}
		},
		readThrough: func(m string) func() int64 {
			if m == "b" {
				return bThrough.Load
			}
			return nil
		},
		portOpen: func(m string) func() bool {
			if m == "b" {
				return bOpen.Load
			}
			return nil
		},
	})
	a.activate(t, 30*time.Second)
	const n, from, to = 200, 100, 110 // a lacks from..to-1; b delivers them late
	var held []*ingest.Frame
	for seq := uint64(1); seq <= n; seq++ {
		f := fpFrame(seq, time.Now())
		f.FeedSeq, f.HasFeedSeq = seq, true
		switch {
		case seq < from:
			a.Accept(f)
			b.Accept(f)
			bThrough.Store(hostclock.Now())
		case seq < to:
			if seq == from {
				bOpen.Store(false) // both ports unplugged; b's watermark stands still
			}
			held = append(held, f) // on the line while both were closed; b's device keeps them
		default:
			if seq == to {
				f.Hole = ingest.HoleReopened
			}
			a.Accept(f)
		}
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "the active to ask its peer about the hole", asked.Load)
	time.Sleep(100 * time.Millisecond)
	bOpen.Store(true)
	for _, f := range held {
		b.Accept(f)
	}
	bThrough.Store(hostclock.Now())
	waitFor(t, "the active to commit what it read", func() bool {
		st := a.Status()
		return st.Ring.Len == 0 && st.Counters.CommittedFrames >= n-(to-from)
	})
	checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
}
