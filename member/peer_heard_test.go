package member

import (
	"testing"
	"time"
)

// TestSilentSinceTakeOver: a peer this member took over from on its
// silence is gone for a repair (a stopped process keeps its link open and
// would hold the stream for backlog.repair_patience), until it is heard
// again.
func TestSilentSinceTakeOver(t *testing.T) {
	heard := time.Date(2026, 12, 5, 6, 8, 0, 0, time.UTC)
	tookOver := heard.Add(1500 * time.Millisecond).UnixNano()
	cases := []struct {
		name     string
		heard    time.Time
		takeOver int64
		want     bool
	}{
		{"never took over", heard, 0, false},
		{"heard last before the take-over", heard, tookOver, true},
		{"heard last at the take-over", heard, heard.UnixNano(), true},
		{"heard again after it", heard.Add(2 * time.Second), tookOver, false},
		{"never heard", time.Time{}, 0, false},
		{"never heard, took over", time.Time{}, tookOver, false},
	}
	for _, c := range cases {
		if got := silentSinceTakeOver(c.heard, c.takeOver); got != c.want {
			t.Errorf("%s: silentSinceTakeOver = %v, want %v", c.name, got, c.want)
		}
	}
}
