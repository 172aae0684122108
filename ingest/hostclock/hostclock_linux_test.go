package hostclock

import "testing"

// TestNowReadsTheRuntimeClock: on Linux the runtime's clock is
// CLOCK_MONOTONIC, so Now reads it without a system call; a Go release that
// changed it would fail here rather than make every port read slower.
func TestNowReadsTheRuntimeClock(t *testing.T) {
	if !runtimeIsMonotonic {
		t.Fatal("the Go runtime's clock is not CLOCK_MONOTONIC: Now falls back to a system call")
	}
	for range 100 {
		a := syscallNow()
		b := Now()
		c := syscallNow()
		if b < a || b > c {
			t.Fatalf("Now %d is outside the system call's readings [%d, %d]", b, a, c)
		}
	}
}

// TestBracketedRefusesAnotherClock: a clock a second off, as CLOCK_BOOTTIME
// after a suspend would be, is not taken for CLOCK_MONOTONIC.
func TestBracketedRefusesAnotherClock(t *testing.T) {
	if bracketed(syscallNow, func() int64 { return syscallNow() + 1e9 }) {
		t.Fatal("a clock a second ahead passed the check")
	}
	if !bracketed(syscallNow, syscallNow) {
		t.Fatal("the clock itself failed the check")
	}
}

func BenchmarkNow(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		for b.Loop() {
			Now()
		}
	})
	b.Run("syscall", func(b *testing.B) {
		for b.Loop() {
			syscallNow()
		}
	})
}
