package broadcast

import (
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/internal/tickgrid"
)

// pacedPipeline is an inactive member's pipeline whose loop does not run;
// it records how many sightings each message it streams carries.
func pacedPipeline(t *testing.T, ring backlog.Config) (*Pipeline, *[]int) {
	t.Helper()
	sent := new([]int)
	p, err := New(testConfig("127.0.0.1:1", "pace"), Options{
		Pipeline: "test", Member: "b", Logger: testsupport.Logger(), Ring: ring,
		SendRepair: func(_ string, msg []byte) bool {
			m, err := parseSightings(msg)
			if err != nil {
				t.Fatalf("not sightings: %v", err)
			}
			*sent = append(*sent, len(m.seen))
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
	return p, sent
}

// onTheGrid returns the first instant after now on the grid of the idle
// pace (tickgrid), on which every pace of the stream falls: a test that
// starts there sees each message at a whole number of periods.
func onTheGrid(now time.Time) time.Time {
	return now.Add(tickgrid.Until(now, sightingsIdleEvery))
}

// TestSightingsPace: an inactive member that sights nothing moves its
// watermark every sightingsIdleEvery; a sighting after such a silence goes
// sightingsEvery after the last message (the repair timer is armed for
// it), and the stream keeps that pace for sightingsBusyFor after the last
// sighting. The loop is not run: the sender is called at wall times the
// test chooses.
func TestSightingsPace(t *testing.T) {
	p, sent := pacedPipeline(t, backlog.Config{})
	t0 := onTheGrid(time.Now())
	// at calls the sender at t0+ms and reports how many messages it sent.
	at := func(ms int) int {
		before := len(*sent)
		p.sendSightings(t0.Add(time.Duration(ms) * time.Millisecond))
		return len(*sent) - before
	}
	count := func(from, to int) (n int) {
		for ms := from; ms <= to; ms++ {
			n += at(ms)
		}
		return n
	}
	busy := int(sightingsBusyFor.Milliseconds())

	// Idle from the start: the stream opens, then a message every 100 ms.
	if n := count(0, 949); n != 10 {
		t.Fatalf("idle: %d messages in 950 ms; want 10", n)
	}
	// A frame is sighted 50 ms after the last message (at 900 ms): the
	// timer is armed for 10 ms after that message, and it goes then.
	lo := hostclock.Now()
	p.sight(&backlog.Frame{ID: 42, Win: backlog.Window{Lo: lo, Hi: lo + 1000}, Data: []byte("$GPGSV,1*")}, 0)
	if want := t0.Add(910 * time.Millisecond); !p.rep.armed.Equal(want) {
		t.Fatalf("the repair timer is armed for %v; want %v", p.rep.armed.Sub(t0), want.Sub(t0))
	}
	if n := at(950); n != 1 || (*sent)[len(*sent)-1] != 1 {
		t.Fatalf("the sighting after a silence: %d messages, the last of %v; want one carrying it", n, *sent)
	}
	// The busy pace for a second after the last sighting, then idle again.
	if n := count(951, 950+busy-1); n < busy/10-1 || n > busy/10+1 {
		t.Fatalf("busy: %d messages in the second after a sighting; want one every 10 ms", n)
	}
	if n := count(950+busy+100, 950+busy+1099); n < 9 || n > 11 {
		t.Fatalf("idle again: %d messages in a second; want 10", n)
	}

}

// TestSightingsBusyOnTheEchoOfAHeldFrame: the active publishes a frame it
// held for the cross-check; its echo brings the busy pace back, though this
// member's port delivered nothing. (The echo is stamped with the wall
// clock: the test's times begin now.)
func TestSightingsBusyOnTheEchoOfAHeldFrame(t *testing.T) {
	p, sent := pacedPipeline(t, backlog.Config{})
	t0 := time.Now()
	p.sendSightings(t0) // the stream opens, idle
	lo := hostclock.Now()
	p.held, p.heldIdx = &echoBatch{recs: []echoRec{{offset: 1, echo: backlog.Echo{ID: 43, Win: backlog.Window{Lo: lo, Hi: lo + 1000}}, size: 9}}}, 0
	p.releaseHeld()
	for ms := 1; ms <= 200; ms++ {
		p.sendSightings(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	if n := len(*sent); n < 20 {
		t.Fatalf("after the echo of a held frame: %d messages in 200 ms; want one every 10 ms", n)
	}
}

// TestSightingsIdlePaceWithinRepairTimeout: the active takes the stream for
// gone after backlog.repair_timeout without a message, so an idle stream
// sends at least four times within it.
func TestSightingsIdlePaceWithinRepairTimeout(t *testing.T) {
	p, sent := pacedPipeline(t, backlog.Config{RepairTimeout: 200 * time.Millisecond})
	t0 := onTheGrid(time.Now())
	for ms := range 1000 {
		p.sendSightings(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	if n := len(*sent); n != 20 {
		t.Fatalf("idle with a repair timeout of 200 ms: %d messages in a second; want one every 50 ms", n)
	}
}
