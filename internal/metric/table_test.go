package metric

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type tableSnapshot struct {
	frames, dropsA, dropsB uint64
	seconds                float64
	up                     bool
	at, never              time.Time
}

type tableCollector struct {
	t *Table[tableSnapshot]
	s tableSnapshot
}

func (c *tableCollector) Describe(ch chan<- *prometheus.Desc) { c.t.Describe(ch) }
func (c *tableCollector) Collect(ch chan<- prometheus.Metric) { c.t.Collect(ch, &c.s) }

// TestTableEmitsEachRow: every row comes out under the table's prefix, as
// the type it was declared with, read from the snapshot; a TimeIfSet row
// is absent while its time is zero; the registry accepts the table's
// descriptions as the collector's.
func TestTableEmitsEachRow(t *testing.T) {
	tb := NewTable[tableSnapshot]("feedd_test_")
	tb.Counter("frames_total", "Frames.", func(s *tableSnapshot) uint64 { return s.frames })
	tb.CounterBy("dropped_total", "Drops.", "reason", func(s *tableSnapshot, emit func(uint64, string)) {
		emit(s.dropsA, "a")
		emit(s.dropsB, "b")
	})
	tb.FloatCounter("busy_seconds_total", "Busy.", func(s *tableSnapshot) float64 { return s.seconds })
	tb.Gauge("depth", "Depth.", func(s *tableSnapshot) float64 { return float64(s.frames) / 2 })
	tb.Flag("up", "Up.", func(s *tableSnapshot) bool { return s.up })
	tb.FlagBy("role", "Role.", "role", func(s *tableSnapshot, emit func(bool, string)) {
		emit(s.up, "on")
		emit(!s.up, "off")
	})
	tb.Time("at_timestamp_seconds", "At.", func(s *tableSnapshot) time.Time { return s.at })
	tb.Time("never_timestamp_seconds", "Never.", func(s *tableSnapshot) time.Time { return s.never })
	tb.TimeIfSet("seen_timestamp_seconds", "Seen.", func(s *tableSnapshot) time.Time { return s.never })

	c := &tableCollector{t: tb, s: tableSnapshot{frames: 7, dropsA: 1, dropsB: 2, seconds: 1.5, up: true, at: time.Unix(1700000000, 500_000_000)}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	got := gatherByName(t, reg)
	counter := func(name string, want ...float64) {
		t.Helper()
		checkFamily(t, got, name, dto.MetricType_COUNTER, want...)
	}
	gauge := func(name string, want ...float64) {
		t.Helper()
		checkFamily(t, got, name, dto.MetricType_GAUGE, want...)
	}
	counter("feedd_test_frames_total", 7)
	counter("feedd_test_dropped_total", 1, 2) // labels sorted: a, b
	counter("feedd_test_busy_seconds_total", 1.5)
	gauge("feedd_test_depth", 3.5)
	gauge("feedd_test_up", 1)
	gauge("feedd_test_role", 0, 1) // labels sorted: off, on
	gauge("feedd_test_at_timestamp_seconds", 1700000000.5)
	gauge("feedd_test_never_timestamp_seconds", 0)
	if mf := got["feedd_test_seen_timestamp_seconds"]; mf != nil {
		t.Fatalf("seen_timestamp_seconds emitted for a zero time: %v", mf)
	}
}
