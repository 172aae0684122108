package member

import (
	"testing"
	"time"
)

// TestActivationBackoff: each failure in a row doubles the delay, drawn
// from [d/2, d], up to the cap; a reset starts again from the minimum.
func TestActivationBackoff(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b := activationBackoff{min: 500 * time.Millisecond, max: 30 * time.Second, rand: func() float64 { return r }}
		d := 500 * time.Millisecond
		for i := 1; i <= 12; i++ {
			got := b.failed()
			if got < d/2 || got > d {
				t.Fatalf("rand %v, failure %d: delay %v not in [%v, %v]", r, i, got, d/2, d)
			}
			d = min(2*d, 30*time.Second)
		}
		if b.failures != 12 {
			t.Fatalf("failures = %d", b.failures)
		}
		b.reset()
		if got := b.failed(); got > 500*time.Millisecond {
			t.Fatalf("after a reset: delay %v", got)
		}
	}
}

// TestFailureLog: the first failure of a run is logged, the next ones at
// most once per interval with the count of those left out.
func TestFailureLog(t *testing.T) {
	f := failureLog{every: 30 * time.Second}
	t0 := time.Unix(1000, 0)
	var logged []int
	for i := range 100 {
		if skipped, ok := f.failure(t0.Add(time.Duration(i) * time.Second)); ok {
			logged = append(logged, skipped)
		}
	}
	// At 0s, 30s, 60s, 90s: 29 left out before each but the first.
	want := []int{0, 29, 29, 29}
	if len(logged) != len(want) {
		t.Fatalf("logged %v; want %v", logged, want)
	}
	for i := range want {
		if logged[i] != want[i] {
			t.Fatalf("logged %v; want %v", logged, want)
		}
	}
	if n := f.recovered(); n != 100 {
		t.Fatalf("recovered() = %d; want 100", n)
	}
	if _, ok := f.failure(t0.Add(101 * time.Second)); !ok {
		t.Fatal("the first failure of a new run is not logged")
	}
}
