package link

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestClockStateBounds runs the measurement of two sessions' clock states
// over a simulated exchange: each side's clock is true time plus its own
// offset, messages take random delays (and cross), and every bound either
// side reports must contain the true offset, local minus peer.
func TestClockStateBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		offA, offB := rng.Int64N(1<<50)-1<<49, rng.Int64N(1<<50)-1<<49
		var trueNow int64 = 1e9
		var a, b clockState
		nowA := func() int64 { return trueNow + offA }
		nowB := func() int64 { return trueNow + offB }
		type inFlight struct {
			arrive int64
			t      timing
		}
		var toA, toB []inFlight
		bounds := 0
		for step := 0; step < 400; step++ {
			trueNow += 1 + rng.Int64N(3e6)
			if rng.IntN(3) == 0 {
				toB = append(toB, inFlight{trueNow + 1 + rng.Int64N(5e6), a.stampOut(nowA, 1)})
			}
			if rng.IntN(3) == 0 {
				toA = append(toA, inFlight{trueNow + 1 + rng.Int64N(5e6), b.stampOut(nowB, 2)})
			}
			// Deliver, in order per direction, what has arrived.
			deliver := func(q []inFlight, c *clockState, now func() int64, theta int64) []inFlight {
				for len(q) > 0 && q[0].arrive <= trueNow {
					lo, hi, ok := c.received(q[0].t, now())
					q = q[1:]
					if !ok {
						continue
					}
					bounds++
					if !(lo < theta && theta < hi) {
						t.Fatalf("round %d: bound (%d, %d) misses the offset %d", round, lo, hi, theta)
					}
				}
				return q
			}
			toA = deliver(toA, &a, nowA, offA-offB)
			toB = deliver(toB, &b, nowB, offB-offA)
		}
		if bounds < 50 {
			t.Fatalf("round %d: only %d bounds", round, bounds)
		}
	}
}

func TestClockStateNeedsOurOwnReflection(t *testing.T) {
	var c clockState
	clock := func() int64 { return 1000 }
	// Nothing received yet: no reflection to send.
	if tb := c.stampOut(clock, 1); tb.refl || tb.sent != 1000 {
		t.Fatalf("first timing block %+v", tb)
	}
	// No reflection: no bound (only an upper one, which is not reported).
	if _, _, ok := c.received(timing{clock: 2, sent: 5}, 1100); ok {
		t.Fatal("a bound without a reflection")
	}
	// A reflection of a stamp this session never sent is not used.
	if _, _, ok := c.received(timing{clock: 2, sent: 6, refl: true, reflSent: 999, reflRecvd: 7}, 1200); ok {
		t.Fatal("a bound from a stamp we never sent")
	}
	// Ours is: local minus peer lies in (1000-7, 1300-8).
	lo, hi, ok := c.received(timing{clock: 2, sent: 8, refl: true, reflSent: 1000, reflRecvd: 7}, 1300)
	if !ok || lo != 993 || hi != 1292 {
		t.Fatalf("bound (%d, %d) %v", lo, hi, ok)
	}
	// What we received is reflected in what we send next.
	if tb := c.stampOut(clock, 1); !tb.refl || tb.reflSent != 8 || tb.reflRecvd != 1300 {
		t.Fatalf("timing block %+v", tb)
	}
}

func TestTimingWire(t *testing.T) {
	for _, tb := range []timing{
		{clock: 1<<64 - 1, sent: -5},
		{clock: 3, sent: 1 << 62, refl: true, reflSent: -1, reflRecvd: 1<<63 - 1},
	} {
		b := appendTiming(nil, tb)
		b = append(b, 'h', 'b')
		got, rest, err := parseTiming(b)
		if err != nil || got != tb || string(rest) != "hb" {
			t.Fatalf("%+v: got %+v %q %v", tb, got, rest, err)
		}
		for i := range len(b) - 2 {
			if _, _, err := parseTiming(b[:i]); err == nil {
				t.Fatalf("%+v cut to %d bytes: accepted", tb, i)
			}
		}
	}
}

// TestClockBoundsContainTheOffset runs two members over real sockets,
// through a proxy that delays every frame at random, each stamping with its
// own clock (the same time base, shifted by a different offset), and
// checks that every bound either side measures contains the true offset,
// that a bound names the peer's clock, and that status and metrics show
// the latest one.
func TestClockBoundsContainTheOffset(t *testing.T) {
	base := time.Now()
	clock := func(off int64) func() int64 {
		return func() int64 { return int64(time.Since(base)) + off }
	}
	const (
		offA, idA = int64(3*time.Hour + 17), uint64(0xa)
		offB, idB = -int64(41*time.Second + 5), uint64(0xb)
	)
	type got struct {
		mu     sync.Mutex
		bounds []ClockBound
	}
	var atA, atB got
	observe := func(g *got) func(ClockBound) {
		return func(b ClockBound) {
			g.mu.Lock()
			g.bounds = append(g.bounds, b)
			g.mu.Unlock()
		}
	}
	count := func(g *got) int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.bounds)
	}

	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(3, 4))
	delay := func(bool) time.Duration {
		rmu.Lock()
		defer rmu.Unlock()
		return time.Duration(rng.Int64N(int64(4 * time.Millisecond)))
	}
	b := startMemberObs(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds(),
		testLogger(t), observe(&atB), WithClock(clock(offB), idB))
	px := newFrameProxy(t, b.addr(), nil, delay)
	a := startMemberObs(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: px.addr()}), hmacCreds(),
		testLogger(t), observe(&atA), WithClock(clock(offA), idA))
	waitFor(t, "50 bounds each side", func() bool { return count(&atA) >= 50 && count(&atB) >= 50 })

	check := func(g *got, peer string, peerClock uint64, theta int64) {
		g.mu.Lock()
		defer g.mu.Unlock()
		for i, bd := range g.bounds {
			if !(bd.Lo < theta && theta < bd.Hi) || bd.Peer != peer || bd.Clock != peerClock {
				t.Fatalf("bound %d of %s: %+v misses the offset %d", i, peer, bd, theta)
			}
		}
		last := g.bounds[len(g.bounds)-1]
		t.Logf("from %s: %d bounds, the last %v wide", peer, len(g.bounds), time.Duration(last.Width()))
	}
	check(&atA, "b", idB, offA-offB)
	check(&atB, "a", idA, offB-offA)

	st := a.peerStatus("b")
	if c := st.Clock; c == nil || c.PeerClock != idB || !(c.Lo < offA-offB && offA-offB < c.Hi) ||
		c.Width != time.Duration(c.Hi-c.Lo) || c.Age < 0 || c.Age > waitLimit || st.ClockBounds < 50 || st.ClockDiscarded != 0 {
		t.Fatalf("a's status of b: %+v", st)
	}
	if a.l.Status().Clock != idA {
		t.Fatalf("a's clock in status: %x", a.l.Status().Clock)
	}
}

// TestClockBoundDiscarded: a peer whose clock steps backwards between
// stamping our heartbeat and its own gives an impossible bound, which is
// counted and dropped, not reported.
func TestClockBoundDiscarded(t *testing.T) {
	l := &Link{now: func() int64 { return 0 }}
	p := &peer{id: "b"}
	s := &session{l: l, p: p}
	reported := 0
	l.SetClockObserver(func(ClockBound) { reported++ })
	sent := s.clk.stampOut(func() int64 { return 100 }, 1).sent
	// Lo = 100 - 50 = 50, Hi = 120 - 80 = 40.
	s.measure(timing{clock: 2, sent: 80, refl: true, reflSent: sent, reflRecvd: 50}, 120)
	if reported != 0 || p.clockDiscarded.Load() != 1 || p.clockBounds.Load() != 0 || p.haveBound {
		t.Fatalf("reported %d, discarded %d", reported, p.clockDiscarded.Load())
	}
	// A sound one is kept and reported.
	s.measure(timing{clock: 2, sent: 10, refl: true, reflSent: sent, reflRecvd: 50}, 120)
	if reported != 1 || p.clockBounds.Load() != 1 || p.bound != (ClockBound{Peer: "b", Clock: 2, Lo: 50, Hi: 110, At: 120}) {
		t.Fatalf("reported %d, bound %+v", reported, p.bound)
	}
}
