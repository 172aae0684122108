package broadcast

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The start of a member's own stream (checkStart): the feed's first frames
// reached only the inactive's port, and the active's port marks no hole
// before its own first frame. When the member activates, it asks its peer
// for what its ring holds before that frame, publishes it first, and the
// peer's ring drains with nothing passed over as skipped.

// startCase is when the active's port begins, relative to its activation:
// with frames in its ring already (flushed on going live), or after it is
// live (its first live frame starts the stream).
var startCases = []string{"in-ring", "live"}

// runStart plays a feed of n frames (feed builds frame k for port a and
// for port b) into a pair with repair on its own topic, where a's port
// delivers from frame from on only, and a activates before the feed or
// after half of it. It checks that the start was asked about once and
// that b passed nothing over as skipped, and returns the broker's address.
func runStart(t *testing.T, topic, when string, n, from int, feed func(k int) (a, b *ingest.Frame)) (addr string, a, b *member) {
	t.Helper()
	broker, cfg := startBrokerFor(t, topic)
	a, b = startPairWithRepair(t, cfg, func() bool { return true })
	activate := func() {
		a.activate(t, 30*time.Second)
	}
	if when == "live" {
		activate()
	}
	for k := 1; k <= n; k++ {
		fa, fb := feed(k)
		if k >= from {
			a.Accept(fa)
		}
		b.Accept(fb)
		time.Sleep(time.Millisecond)
		if when == "in-ring" && k == n/2 {
			waitFor(t, "both rings to hold the first half", func() bool {
				return a.Status().Ring.Len == n/2-from+1 && b.Status().Ring.Len == n/2
			})
			activate()
		}
	}
	waitFor(t, "the active to publish the feed", func() bool {
		st := a.Status()
		return st.Ring.Len == 0 && st.Counters.CommittedFrames >= uint64(n-from+1)
	})
	// The inactive has read every record back: what its ring passed over
	// by then it counted as published or as skipped.
	records := uint64(0)
	eachCommitted(t, broker.Addr(), topic, func(*kgo.Record) { records++ })
	waitFor(t, "the inactive to read the topic back", func() bool { return b.Status().Counters.EchoRecords >= records })
	if r := b.Status().Ring; r.Skipped != 0 {
		t.Errorf("the inactive passed %d frames over as skipped by the active", r.Skipped)
	}
	if k := a.Status().Counters; k.RepairStartChecks != 1 {
		t.Errorf("start checks %d, want 1", k.RepairStartChecks)
	}
	if k := b.Status().Counters; k.RepairAsked != 1 || k.RepairAnswers != 1 {
		t.Errorf("peer: asked %d, answered %d; want 1 and 1", k.RepairAsked, k.RepairAnswers)
	}
	return broker.Addr(), a, b
}

// TestRepairStartSequenced: on a sequenced feed, the first three frames
// reached only the inactive's port. The topic is the whole feed, once
// each, in order: the three from the peer, certain by their numbers.
func TestRepairStartSequenced(t *testing.T) {
	for _, when := range startCases {
		t.Run(when, func(t *testing.T) {
			const n, from = 200, 4
			addr, a, _ := runStart(t, "start-seq-"+when, when, n, from, func(k int) (*ingest.Frame, *ingest.Frame) {
				f := frame(uint64(k), time.Now())
				return f, f
			})
			checkSequence(t, readCommitted(t, addr, "start-seq-"+when), n)
			st := a.Status()
			if k := st.Counters; k.RepairedFrames != from-1 || k.RepairedPossible != 0 || k.Holes != 0 {
				t.Fatalf("repaired %d (possible %d), holes %d; want %d, 0, 0", k.RepairedFrames, k.RepairedPossible, k.Holes, from-1)
			}
			if h := st.LastHole; h == nil || h.Kind != HoleStart || h.Repaired != from-1 || h.Unrepaired != "" {
				t.Fatalf("last hole %+v; want a repaired hole of kind start", h)
			}
		})
	}
}

// gpsLike returns a feed of cycles like a GPS receiver's: a sentence with
// a time stamp (unique), then two that repeat byte for byte every cycle.
// Frames are on the line a millisecond apart, by a clock of their own
// that no window ends after the frame is built by, whatever the machine's
// pace; each port reads a frame within its own window 20 ms wide, as a
// pseudo-terminal's are: too wide to tell it from its repeats 3 ms later
// by time.
func gpsLike() func(k int) (a, b *ingest.Frame) {
	var base int64
	return func(k int) (a, b *ingest.Frame) {
		if base == 0 {
			base = hostclock.Now() - int64(time.Millisecond)*int64(k+1)
		}
		var data []byte
		switch k % 3 {
		case 1:
			data = fmt.Appendf(nil, "$GPGGA,%06d.00,4916.45,N*", k/3)
		case 2:
			data = []byte("$GPGSA,A,3,04,05*")
		default:
			data = []byte("$GPGSV,1,1,02*")
		}
		line := base + int64(time.Millisecond)*int64(k)
		at := time.Now()
		mk := func(lo, hi time.Duration) *ingest.Frame {
			return &ingest.Frame{Data: data, ReceivedAt: at, Fingerprint: ingest.Fingerprint(data),
				Line: backlog.Window{Lo: line - int64(lo), Hi: line + int64(hi)}}
		}
		return mk(19*time.Millisecond, time.Millisecond), mk(20*time.Millisecond, time.Millisecond/2)
	}
}

// TestRepairStartRepeatedSentences: on a feed without sequence numbers
// whose sentences repeat, the first frames reached only the inactive's
// port. The topic holds the whole feed in order, and nothing twice: the
// active's first frames are told among the peer's by the first sentence
// with a time stamp it read (the anchor), and by the frames before it,
// one for one.
func TestRepairStartRepeatedSentences(t *testing.T) {
	for _, tc := range []struct {
		name string
		from int
	}{
		{"first-cycle", 4}, // the active's port begins at a time stamp
		{"first-frame", 2}, // at a repeated sentence, two before one
	} {
		for _, when := range startCases {
			t.Run(tc.name+"/"+when, func(t *testing.T) {
				const n = 240
				topic := "start-gps-" + tc.name + "-" + when
				addr, a, _ := runStart(t, topic, when, n, tc.from, gpsLike())
				var want []string
				feed := gpsLike()
				for k := 1; k <= n; k++ {
					f, _ := feed(k)
					want = append(want, string(f.Data))
				}
				if dups := checkValues(t, addr, topic, want); dups != 0 {
					t.Errorf("%d records marked possible beyond the feed, want none", dups)
				}
				if k := a.Status().Counters; k.RepairedFrames != uint64(tc.from-1) || k.RepairedFrames-k.RepairedPossible == 0 {
					t.Errorf("repaired %d (possible %d); want %d, the time stamp certain", k.RepairedFrames, k.RepairedPossible, tc.from-1)
				}
			})
		}
	}
}

// checkValues checks that the topic's records are the values of want, in
// order, with others only where marked as possible duplicates, and returns
// how many of those there are.
func checkValues(t *testing.T, addr, topic string, want []string) (dups int) {
	t.Helper()
	next := 0
	eachCommitted(t, addr, topic, func(r *kgo.Record) {
		dup := ParseRecordMeta(r).Possible
		switch {
		case next < len(want) && string(r.Value) == want[next]:
			next++
		case dup:
			dups++
		default:
			t.Fatalf("offset %d: %q, want %q (frame %d of the feed): a gap, a disorder or an unmarked duplicate", r.Offset, r.Value, want[min(next, len(want)-1)], next+1)
		}
	})
	if next != len(want) {
		t.Fatalf("the topic holds the feed's first %d frames of %d", next, len(want))
	}
	return dups
}

// TestRepairStartAfterHandover: a member whose port began while its peer
// was publishing takes over at a planned hand-over before any commit of
// its peer's reached its first frame; the frames its port missed before it
// are the peer's. The start is asked about from the topic's latest record
// on, and the topic is the whole feed once.
func TestRepairStartAfterHandover(t *testing.T) {
	broker, cfg := startBrokerFor(t, "start-handover")
	a, b := startPairWithRepair(t, cfg, func() bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.mustActivate(t, ctx)
	const n, cut, from = 200, 100, 104 // b publishes 1..100; a's port begins at 104
	for k := uint64(1); k <= cut; k++ {
		b.Accept(frame(k, time.Now()))
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "b to publish the first part", func() bool { return b.Status().Counters.CommittedFrames == cut })
	waitFor(t, "a to read it back", func() bool { return a.Status().Counters.EchoRecords == cut })
	b.mustDeactivate(t, ctx, Planned)
	// Past the pass margin: the topic's records are certainly older than
	// what follows.
	time.Sleep(2 * backlog.DefaultPassMargin)
	for k := uint64(cut + 1); k <= n; k++ {
		f := frame(k, time.Now())
		if k >= from {
			a.Accept(f)
		}
		b.Accept(f)
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "both rings to hold the rest", func() bool {
		return a.Status().Ring.Len == n-from+1 && b.Status().Ring.Len == n-cut
	})
	a.mustActivate(t, ctx)
	waitFor(t, "a to publish the rest and b's ring to drain", func() bool {
		return a.Status().Ring.Len == 0 && b.Status().Ring.Len == 0
	})
	checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
	if k := a.Status().Counters; k.RepairStartChecks != 1 || k.RepairedFrames != from-cut-1 || k.RepairedPossible != 0 {
		t.Fatalf("start checks %d, repaired %d (possible %d); want 1, %d, 0", k.RepairStartChecks, k.RepairedFrames, k.RepairedPossible, from-cut-1)
	}
	if r := b.Status().Ring; r.Skipped != 0 {
		t.Fatalf("b passed %d frames over as skipped", r.Skipped)
	}
}
