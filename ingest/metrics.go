package ingest

import (
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Source's (feedd_ingest_*), read from its own counters at
// scrape time, so status and metrics can never disagree.
var metrics = sourceMetrics()

func sourceMetrics() *metric.Table[Source] {
	t := metric.NewTable[Source]("feedd_ingest_")
	t.Counter("frames_total", "Valid frames read from the serial port.", func(s *Source) uint64 { return s.frames.Load() })
	t.Counter("frame_bytes_total", "Bytes of valid frames read from the serial port (framing excluded).", func(s *Source) uint64 { return s.bytes.Load() })
	t.CounterBy("dropped_total", "Invalid input dropped by the framer, by reason.", "reason", func(s *Source, emit func(uint64, string)) {
		for _, r := range framing.Reasons {
			emit(s.decoder.Drops().Count(r), r.String())
		}
	})
	t.Counter("reconnects_total", "Times the serial device was lost after being open.", func(s *Source) uint64 { return s.reconnects.Load() })
	t.Counter("open_failures_total", "Failed attempts to open the serial device.", func(s *Source) uint64 { return s.openFailures.Load() })
	t.Counter("quiet_periods_total", "Times the line went quiet (no valid frame for serial.quiet_after).", func(s *Source) uint64 { return s.quietPeriods.Load() })
	t.CounterBy("holes_total", "Frames delivered after something that may have lost frames before them (the port reopened, the framer dropped input, the line was quiet), by kind.", "kind", func(s *Source, emit func(uint64, string)) {
		for _, h := range Holes {
			emit(s.holes[h].Load(), h.String())
		}
	})
	t.Flag("connected", "1 while the serial device is open.", func(s *Source) bool { return s.connected.Load() })
	t.Flag("quiet", "1 while the line is quiet.", func(s *Source) bool { return s.quiet.Load() })
	t.Gauge("last_frame_timestamp_seconds", "Unix time of the last valid frame.", func(s *Source) float64 { return float64(s.lastFrame.Load()) / 1e9 })
	return t
}

// Describe implements prometheus.Collector.
func (s *Source) Describe(ch chan<- *prometheus.Desc) { metrics.Describe(ch) }

// Collect implements prometheus.Collector.
func (s *Source) Collect(ch chan<- prometheus.Metric) { metrics.Collect(ch, s) }
