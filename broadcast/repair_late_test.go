package broadcast

import (
	"testing"
	"time"

	"github.com/feedd/feedd/ingest"
)

// TestRepairFromAPeerThatReadLate: the peer's port delivered the frames of
// the active's hole later than its latency bound (a reader starved by a
// loaded host), so by their line windows they come after the frame that
// follows the hole. They are numbered: the peer answers them all the same
// and the active takes them by number, marked as possible duplicates since
// time and number disagree. The topic is the whole feed, in order.
// (make test-e2e once lost 101 frames this way.)
func TestRepairFromAPeerThatReadLate(t *testing.T) {
	addr, cfg, a, b := startActivePairWithRepair(t, "repair-late", func() bool { return true })
	const n, holeFrom, holeTo = 200, 100, 120 // a loses 100..119
	for seq := uint64(1); seq < holeFrom; seq++ {
		f := frame(seq, time.Now())
		a.Accept(f)
		b.Accept(f)
	}
	// a read the frames from the hole's end on in time; b read the whole
	// feed from the hole's start 400 ms late, past the pass margin.
	var own []*ingest.Frame
	for seq := uint64(holeTo); seq <= n; seq++ {
		own = append(own, frame(seq, time.Now()))
	}
	own[0].Hole = ingest.HoleDropped
	time.Sleep(400 * time.Millisecond)
	for seq := uint64(holeFrom); seq <= n; seq++ {
		b.Accept(frame(seq, time.Now()))
	}
	for _, f := range own {
		a.Accept(f)
	}
	waitFor(t, "the active to commit its ring", func() bool { return a.Status().Ring.Len == 0 && a.Status().Counters.CommittedFrames > 0 })
	checkSequence(t, readCommitted(t, addr, cfg.Topic), n)
	if k := a.Status().Counters; k.RepairedFrames != holeTo-holeFrom || k.RepairedPossible != holeTo-holeFrom {
		t.Fatalf("repaired %d (possible %d); want %d, all marked possible", k.RepairedFrames, k.RepairedPossible, holeTo-holeFrom)
	}
	checkPeerSkippedNothing(t, b)
}
