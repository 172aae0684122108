package broadcast

import (
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/testsupport"
)

// TestSightingsPace: an inactive member that sights nothing moves its
// watermark every sightingsIdleEvery; a sighting after such a silence goes
// sightingsEvery after the last message, and the stream keeps that pace
// for sightingsBusyFor after the last sighting. The loop is not run: the
// sender is called at wall times the test chooses.
func TestSightingsPace(t *testing.T) {
	var sent []int // sightings per message, in order
	p, err := New(testConfig("127.0.0.1:1", "pace"), Options{
		Pipeline: "test", Member: "b", Logger: testsupport.Logger(),
		SendRepair: func(_ string, msg []byte) bool {
			m, err := parseSightings(msg)
			if err != nil {
				t.Fatalf("not sightings: %v", err)
			}
			sent = append(sent, len(m.seen))
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.rep.timer = time.NewTimer(time.Hour)
	p.rep.timer.Stop()
	if !p.crossCheckStreaming() {
		t.Fatal("an inactive member does not stream its sightings")
	}

	t0 := time.Now()
	// at calls the sender at t0+ms and reports how many messages it sent.
	at := func(ms int) int {
		before := len(sent)
		p.sendSightings(t0.Add(time.Duration(ms) * time.Millisecond))
		return len(sent) - before
	}
	count := func(from, to, step int) (n int) {
		for ms := from; ms <= to; ms += step {
			n += at(ms)
		}
		return n
	}
	// Idle from the start: the stream opens, then a message every 100 ms.
	if n := count(0, 949, 1); n != 10 {
		t.Fatalf("idle: %d messages in 950 ms; want 10", n)
	}
	// A frame is sighted 50 ms after the last message (at 900 ms): it goes
	// at once, at the busy pace, not 100 ms after that message.
	lo := hostclock.Now()
	p.sight(&backlog.Frame{ID: 42, Win: backlog.Window{Lo: lo, Hi: lo + 1000}, Data: []byte("$GPGSV,1*")}, 0)
	if n := at(950); n != 1 || sent[len(sent)-1] != 1 {
		t.Fatalf("the sighting after a silence: %d messages, the last of %v; want one carrying it", n, sent)
	}
	// The busy pace for a second after the last sighting, then idle again.
	busy := int(sightingsBusyFor.Milliseconds())
	if n := count(951, 950+busy-1, 1); n < busy/10-1 {
		t.Fatalf("busy: %d messages in the second after a sighting; want one every 10 ms", n)
	}
	if n := count(950+busy+100, 950+busy+1099, 1); n < 9 || n > 11 {
		t.Fatalf("idle again: %d messages in a second; want 10", n)
	}
}
