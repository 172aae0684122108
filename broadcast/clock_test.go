package broadcast

import (
	"math"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
)

func TestClockBoundsWindow(t *testing.T) {
	c := newClockBounds()
	const other = 0xfeed
	w := backlog.Window{Lo: 1_000_000, Hi: 1_500_000}

	// Our own clock: the window as it is, bounded by when we read it.
	if got, ok := c.window(c.own, w, 1_200_000); !ok || got != (backlog.Window{Lo: 1_000_000, Hi: 1_200_000}) {
		t.Fatalf("own clock: %+v, %v", got, ok)
	}
	// An unknown clock: only "before we read it".
	if got, ok := c.window(other, w, 9_000_000); ok || got != (backlog.Window{Lo: backlog.NoLo, Hi: 9_000_000}) {
		t.Fatalf("unknown clock: %+v, %v", got, ok)
	}
	// Our clock is 5 s ahead of the other, measured to within ±1 ms at
	// local time 6 s: the window moves by the offset and widens by the
	// bound and the drift since the measurement.
	c.observe(other, 5*int64(time.Second)-int64(time.Millisecond), 5*int64(time.Second)+int64(time.Millisecond), 6*int64(time.Second))
	got, ok := c.window(other, w, math.MaxInt64)
	if !ok {
		t.Fatal("a measured clock is unknown")
	}
	truth := backlog.Window{Lo: w.Lo + 5*int64(time.Second), Hi: w.Hi + 5*int64(time.Second)}
	if got.Lo > truth.Lo || got.Hi < truth.Hi {
		t.Fatalf("converted %+v does not contain %+v", got, truth)
	}
	if got.Lo < truth.Lo-2*int64(time.Millisecond) || got.Hi > truth.Hi+2*int64(time.Millisecond) {
		t.Fatalf("converted %+v is much wider than the bound allows around %+v", got, truth)
	}
	// Far from the measurement the drift allowance grows: 1000 ppm. A
	// stamp at 100 s on the other clock is at about 105 s on ours, 99 s
	// after the measurement: 99 ms of drift each way, plus the 2 ms bound.
	far := backlog.Window{Lo: 100 * int64(time.Second), Hi: 100*int64(time.Second) + 1}
	got, _ = c.window(other, far, math.MaxInt64)
	if width := got.Hi - got.Lo; width < int64(198*time.Millisecond) || width > int64(202*time.Millisecond) {
		t.Fatalf("99 s after the measurement the window is %v wide, want 2 × 99 ms of drift and the 2 ms bound", time.Duration(width))
	}
	// An unbounded start stays unbounded.
	if got, _ := c.window(other, backlog.Window{Lo: backlog.NoLo, Hi: w.Hi}, math.MaxInt64); got.Lo != backlog.NoLo {
		t.Fatalf("unbounded start became %d", got.Lo)
	}
}

func TestClockBoundsKeepTheTightest(t *testing.T) {
	c := newClockBounds()
	const other = 7
	s := int64(time.Second)
	c.observe(other, 100, 200, 10*s)
	c.observe(other, 0, 1000, 10*s) // wider at the same time: ignored
	if b := c.by[other]; b.lo != 100 || b.hi != 200 {
		t.Fatalf("kept %+v", b)
	}
	// A minute later the old bound has drifted by 2 × 60 ms: a fresh one
	// 1 ms wide is tighter.
	c.observe(other, 1000, 1000+int64(time.Millisecond), 70*s)
	if b := c.by[other]; b.at != 70*s {
		t.Fatalf("kept %+v", b)
	}
	c.observe(other, 5, 5, 80*s) // empty: ignored
	c.observe(c.own, 1, 2, 80*s) // our own clock needs no bound
	if b := c.by[other]; b.at != 70*s || len(c.by) != 1 {
		t.Fatalf("kept %+v of %d", b, len(c.by))
	}
}

func TestReadWindowHeader(t *testing.T) {
	const clock = 0x5b0f1c2d3e4f6a7b
	for _, w := range []backlog.Window{{Lo: 1, Hi: 2}, {Lo: backlog.NoLo, Hi: 2}, {Lo: -5, Hi: 7}} {
		v := appendReadWindow(nil, clock, w)
		c, got, ok := parseReadWindow(v)
		if !ok || c != 0x5b0f1c2d3e4f6a7b || got != w {
			t.Fatalf("%q parsed as %x %+v %v", v, c, got, ok)
		}
	}
	for _, bad := range []string{"", "x/1/2", "5b0f/1", "5b0f/a/2", "5b0f/3/2", "5b0f/1/2x"} {
		if _, _, ok := parseReadWindow([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
