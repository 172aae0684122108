package member

import (
	"testing"
	"time"
)

// TestHeardSinceTakeOver: a peer this member took over from on its silence
// is not waited on by a repair (a stopped process keeps its link open and
// would hold the stream for backlog.repair_patience), until it is heard
// again.
func TestHeardSinceTakeOver(t *testing.T) {
	heard := time.Date(2026, 12, 5, 6, 8, 0, 0, time.UTC)
	tookOver := heard.Add(1500 * time.Millisecond).UnixNano()
	cases := []struct {
		name     string
		heard    time.Time
		takeOver int64
		want     time.Time
	}{
		{"never took over", heard, 0, heard},
		{"heard last before the take-over", heard, tookOver, time.Time{}},
		{"heard last at the take-over", heard, heard.UnixNano(), time.Time{}},
		{"heard again after it", heard.Add(2 * time.Second), tookOver, heard.Add(2 * time.Second)},
		{"never heard", time.Time{}, 0, time.Time{}},
		{"never heard, took over", time.Time{}, tookOver, time.Time{}},
	}
	for _, c := range cases {
		if got := heardSinceTakeOver(c.heard, c.takeOver); !got.Equal(c.want) {
			t.Errorf("%s: heardSinceTakeOver = %v, want %v", c.name, got, c.want)
		}
	}
}
