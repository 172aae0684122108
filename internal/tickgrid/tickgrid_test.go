package tickgrid

import (
	"testing"
	"time"
)

// TestUntil: the next multiple of the period, a whole period from an
// instant on the grid, and periods that divide one another share their
// instants.
func TestUntil(t *testing.T) {
	at := func(ms, ns int64) time.Time { return time.Unix(1_796_000_000, ms*int64(time.Millisecond)+ns) }
	for _, tc := range []struct {
		now   time.Time
		every time.Duration
		want  time.Duration
	}{
		{at(0, 0), 50 * time.Millisecond, 50 * time.Millisecond},
		{at(0, 1), 50 * time.Millisecond, 50*time.Millisecond - 1},
		{at(49, 0), 50 * time.Millisecond, time.Millisecond},
		{at(49, 0), 100 * time.Millisecond, 51 * time.Millisecond},
		{at(49, 0), 250 * time.Millisecond, 201 * time.Millisecond},
		{at(49, 0), 0, 0},
		{at(49, 0), -time.Second, 0},
	} {
		if got := Until(tc.now, tc.every); got != tc.want {
			t.Errorf("Until(%v, %v) = %v, want %v", tc.now.Format(time.StampMicro), tc.every, got, tc.want)
		}
	}
	// Re-armed from where it fired, a timer keeps the grid.
	now := at(7, 3)
	for range 5 {
		now = now.Add(Until(now, 100*time.Millisecond))
		if now.UnixNano()%int64(100*time.Millisecond) != 0 {
			t.Fatalf("fired at %v, off the grid", now.Format(time.StampMicro))
		}
	}
}
