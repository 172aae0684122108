package broadcast

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCrossCheckFindsSilentDrops: on a feed without sequence numbers the
// active's port drops frames whole, with no sign (no bad checksum, no
// reopen, no quiet line); the inactive read them. The inactive's sightings
// show the active what it lacks, and it repairs those holes from its peer:
// the topic is the whole feed, once each, in order, nothing marked.
func TestCrossCheckFindsSilentDrops(t *testing.T) {
	addr, cfg, a, b := startActivePairWithRepair(t, "crosscheck", func() bool { return true })
	waitFor(t, "the active to take the inactive's sightings", func() bool { return a.Status().CrossCheck.Covered })
	// Frames that may have ended before the stream began are published
	// unchecked: start the feed past the pass margin.
	time.Sleep(2 * backlog.DefaultPassMargin)
	const n = 600
	lost := map[uint64]bool{200: true, 350: true, 351: true, 352: true, 500: true}
	for seq := uint64(1); seq <= n; seq++ {
		f := fpFrame(seq, time.Now())
		if !lost[seq] {
			a.Accept(f)
		}
		b.Accept(f)
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "the active to commit the whole feed", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames >= n && st.Ring.Len == 0
	})
	// Each hole goes where no own frame after it may precede the lost
	// one: the frames between go out again in the fill, marked.
	dups := checkCoverage(t, readCommitted(t, addr, cfg.Topic), n)
	st := a.Status()
	if k := st.Counters; k.CrossCheckMissed != uint64(len(lost)) || k.RepairedFrames-k.RepairedPossible != uint64(len(lost)) || k.CrossCheckUnchecked != 0 {
		t.Fatalf("missed %d, repaired %d certain, unchecked %d; want %d, %d, 0", k.CrossCheckMissed, k.RepairedFrames-k.RepairedPossible, k.CrossCheckUnchecked, len(lost), len(lost))
	}
	t.Logf("%d records marked as possible duplicates for %d frames lost", dups, len(lost))
	if h := st.LastHole; h == nil || h.Kind != HoleMissed || h.Unrepaired != "" {
		t.Fatalf("last hole %+v; want a repaired hole of kind missed", h)
	}
	if k := b.Status().Counters; k.SightingsSent < n {
		t.Fatalf("the inactive sent %d sightings, want at least %d", k.SightingsSent, n)
	}
	checkPeerSkippedNothing(t, b)
}

// TestCrossCheckRepeatsNoFalseHoles: a feed of a few sentences repeated
// byte for byte, read whole by both members: the cross-check matches every
// sighting and repairs nothing.
func TestCrossCheckRepeatsNoFalseHoles(t *testing.T) {
	addr, cfg, a, b := startActivePairWithRepair(t, "crosscheck-repeats", func() bool { return true })
	waitFor(t, "the active to take the inactive's sightings", func() bool { return a.Status().CrossCheck.Covered })
	const n = 400
	for i := range n {
		data := []byte(fmt.Sprintf("$GPGSV,%d*", i%3))
		now := hostclock.Now()
		f := &ingest.Frame{Data: data, ReceivedAt: time.Now(), Fingerprint: ingest.Fingerprint(data),
			Line: backlog.Window{Lo: now - int64(500*time.Microsecond), Hi: now}}
		a.Accept(f)
		b.Accept(f)
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "the active to commit the whole feed", func() bool { return a.Status().Counters.CommittedFrames >= n })
	if k := a.Status().Counters; k.CrossCheckMissed != 0 || k.Holes != 0 || k.PossibleDuplicates != 0 || k.SightingsTaken < n {
		t.Fatalf("missed %d, holes %d, possible duplicates %d, sightings taken %d; want 0, 0, 0 and at least %d",
			k.CrossCheckMissed, k.Holes, k.PossibleDuplicates, k.SightingsTaken, n)
	}
	got := 0
	eachCommitted(t, addr, cfg.Topic, func(*kgo.Record) { got++ })
	if got != n {
		t.Fatalf("topic holds %d records, want %d", got, n)
	}
}

// TestCrossCheckWithoutPeer: with no sightings coming, the active holds
// nothing back and counts what it published unchecked.
func TestCrossCheckWithoutPeer(t *testing.T) {
	_, _, a, _ := startActivePairWithRepair(t, "crosscheck-nopeer", func() bool { return false })
	for seq := uint64(1); seq <= 50; seq++ {
		a.Accept(fpFrame(seq, time.Now()))
	}
	waitFor(t, "the active to commit what it read", func() bool { return a.Status().Counters.CommittedFrames >= 50 })
	if k := a.Status().Counters; k.CrossCheckUnchecked != 50 || k.SightingsTaken != 0 {
		t.Fatalf("unchecked %d, sightings taken %d; want 50 and 0", k.CrossCheckUnchecked, k.SightingsTaken)
	}
}

// FuzzSightings: whatever a peer sends, decoding neither panics nor takes
// a message it cannot account for byte by byte; what is encoded decodes to
// what was given.
func FuzzSightings(f *testing.F) {
	f.Add([]byte{repairSightings}, uint64(1), int64(5), uint16(3))
	f.Add(appendSightings(nil, sightingsMsg{clock: 1, seq: 2, ring: 5, from: 3, through: 4, seen: []peerSighting{{backlog.Sighting{ID: 9, Exact: true, Win: backlog.Window{Lo: 1, Hi: 2}, Size: 7}, 8}}}), uint64(2), int64(-1), uint16(0))
	f.Fuzz(func(t *testing.T, msg []byte, id uint64, w int64, n uint16) {
		if m, err := parseSightings(msg); err == nil {
			if got := appendSightings(nil, m); string(got) != string(msg) {
				t.Fatalf("sightings %x decode to %+v, which encode to %x", msg, m, got)
			}
		}
		m := sightingsMsg{clock: id, seq: ^id, ring: id / 3, from: w, through: w + int64(n)}
		if m.through < m.from {
			m.from, m.through = m.through, m.from
		}
		for i := range int(n % 140) {
			m.seen = append(m.seen, peerSighting{backlog.Sighting{ID: id * uint64(i), Exact: i%2 == 0, Win: backlog.Window{Lo: w - int64(i), Hi: w + int64(i)}, Size: int(n) + i}, uint64(i) * id})
		}
		got, err := parseSightings(appendSightings(nil, m))
		if err != nil {
			t.Fatal(err)
		}
		if got.clock != m.clock || got.seq != m.seq || got.ring != m.ring || got.from != m.from || got.through != m.through || len(got.seen) != len(m.seen) {
			t.Fatalf("sent %+v, decoded %+v", m, got)
		}
		for i := range got.seen {
			if got.seen[i] != m.seen[i] {
				t.Fatalf("sighting %d: sent %+v, decoded %+v", i, m.seen[i], got.seen[i])
			}
		}
	})
}

// TestCrossCheckAfterLinkHeld: the pair link holds the inactive's
// sightings for longer than the repair timeout (a link gone silent, its
// bytes held, then delivered when it heals), while the active reads more
// frames than it remembers. The sightings that come late are of frames the
// active published unchecked meanwhile and can no longer compare: they must
// not be taken for frames its port dropped (repaired from the peer, marked
// possible duplicates, and counted as holes that judge its feed noisy).
func TestCrossCheckAfterLinkHeld(t *testing.T) {
	var held sync.Mutex
	broker, cfg := startBrokerFor(t, "crosscheck-held")
	a, b := startRepairPair(t, cfg, repairLink{up: func() bool { return true }, hold: func(from string, msg []byte) {
		if from == "b" && len(msg) > 0 && msg[0] == repairSightings {
			held.Lock()
			held.Unlock() //nolint:staticcheck // waits for the link to heal
		}
	}})
	a.activate(t, 30*time.Second)
	waitFor(t, "the active to take the inactive's sightings", func() bool { return a.Status().CrossCheck.Covered })
	time.Sleep(2 * backlog.DefaultPassMargin)
	const before, during, after = 100, 3 * recentFrames, 100
	seq := uint64(0)
	feed := func(n int) {
		for range n {
			seq++
			f := fpFrame(seq, time.Now())
			a.Accept(f)
			b.Accept(f)
			time.Sleep(time.Millisecond)
		}
	}
	feed(before)
	held.Lock()
	feed(during)
	waitFor(t, "the active to publish what it read while the link was held", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames >= before+during && !st.CrossCheck.Covered
	})
	held.Unlock()
	feed(after)
	const n = before + during + after
	waitFor(t, "the active to commit the whole feed", func() bool {
		st := a.Status()
		return st.Counters.CommittedFrames >= n && st.Ring.Len == 0
	})
	time.Sleep(100 * time.Millisecond)
	k := a.Status().Counters
	if k.CrossCheckMissed != 0 || k.Holes != 0 || k.PossibleDuplicates != 0 {
		t.Errorf("missed %d, holes %d, possible duplicates %d; want none (the active's port dropped nothing)", k.CrossCheckMissed, k.Holes, k.PossibleDuplicates)
	}
	if k.CrossCheckUnchecked == 0 || k.SightingsLate == 0 {
		t.Errorf("unchecked %d, late sightings %d; want both counted, the link having held the sightings past the repair timeout", k.CrossCheckUnchecked, k.SightingsLate)
	}
	checkSequence(t, readCommitted(t, broker.Addr(), cfg.Topic), n)
}
