package broadcast

import (
	"math"
	"sync"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/hostclock"
)

// driftBy bounds how much the offset between two hosts' monotonic clocks
// can change in d nanoseconds: time synchronisation slews each clock by at
// most 500 ppm, so two drift apart by at most 1000 ppm (one nanosecond per
// microsecond), plus a microsecond for rounding. A measured bound is widened
// by this much for the time between the measurement and the moment it is
// applied to.
func driftBy(d int64) int64 {
	if d < 0 {
		d = -d
	}
	return d/1000 + 1000
}

// clockBounds is what this member knows of other hosts' clocks: for each
// clock id, bounds on this host's clock minus that one, as the pair link
// measured them. It turns a record's feedd-rxw window (on the producer's
// clock) into a window on this host's clock. Safe for concurrent use: the
// link's readers observe, the echo goroutine converts.
type clockBounds struct {
	own uint64
	mu  sync.Mutex
	by  map[uint64]clockBound
}

// clockBound: at local time at, lo < local - remote < hi.
type clockBound struct{ lo, hi, at int64 }

func newClockBounds() *clockBounds {
	return &clockBounds{own: hostclock.ID(), by: map[uint64]clockBound{}}
}

// widened is the bound as it stands at local time t, drift included.
func (b clockBound) widened(t int64) (lo, hi int64) {
	w := driftBy(t - b.at)
	return b.lo - w, b.hi + w
}

// observe keeps a new measurement if it is tighter, by now, than the one
// held.
func (c *clockBounds) observe(clock uint64, lo, hi, at int64) {
	if clock == c.own || lo >= hi {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	nb := clockBound{lo: lo, hi: hi, at: at}
	if old, ok := c.by[clock]; ok {
		olo, ohi := old.widened(at)
		nlo, nhi := nb.widened(at)
		if ohi-olo <= nhi-nlo {
			return
		}
	}
	c.by[clock] = nb
}

// known reports whether a bound on clock is held (or clock is this host's).
func (c *clockBounds) known(clock uint64) bool {
	if clock == c.own {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.by[clock]
	return ok
}

// window converts w, on the given clock, to this host's clock; received is
// when this member read the record (the frame was on the line before). ok
// is false when nothing is known of the clock: the window is then bounded
// by received alone.
func (c *clockBounds) window(clock uint64, w backlog.Window, received int64) (backlog.Window, bool) {
	if clock == c.own {
		return backlog.Window{Lo: w.Lo, Hi: min(w.Hi, received)}, true
	}
	c.mu.Lock()
	b, ok := c.by[clock]
	c.mu.Unlock()
	if !ok {
		return backlog.Window{Lo: backlog.NoLo, Hi: received}, false
	}
	lo, hi := b.widened(satAdd(w.Hi, b.hi))
	out := backlog.Window{Lo: backlog.NoLo, Hi: min(satAdd(w.Hi, hi), received)}
	if w.Lo != backlog.NoLo {
		out.Lo = satAdd(w.Lo, lo)
	}
	if out.Lo != backlog.NoLo && out.Lo > out.Hi {
		// The record says its frame was on the line after this member
		// read it: a stamp or a bound is wrong. Keep only the safe end.
		out.Lo = backlog.NoLo
	}
	return out, true
}

// satAdd adds without wrapping around.
func satAdd(a, b int64) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64 + 1
	}
	return s
}
