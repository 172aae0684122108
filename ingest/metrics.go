package ingest

import (
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	metrics = metric.NewSet("feedd_ingest_")

	descFrames       = metrics.Counter("frames_total", "Valid frames read from the serial port.")
	descBytes        = metrics.Counter("frame_bytes_total", "Bytes of valid frames read from the serial port (framing excluded).")
	descDropped      = metrics.Counter("dropped_total", "Invalid input dropped by the framer, by reason.", "reason")
	descReconnects   = metrics.Counter("reconnects_total", "Times the serial device was lost after being open.")
	descOpenFailures = metrics.Counter("open_failures_total", "Failed attempts to open the serial device.")
	descQuietPeriods = metrics.Counter("quiet_periods_total", "Times the line went quiet (no valid frame for serial.quiet_after).")
	descHoles        = metrics.Counter("holes_total", "Frames delivered after something that may have lost frames before them (the port reopened, the framer dropped input, the line was quiet), by kind.", "kind")
	descConnected    = metrics.Gauge("connected", "1 while the serial device is open.")
	descQuiet        = metrics.Gauge("quiet", "1 while the line is quiet.")
	descLastFrame    = metrics.Gauge("last_frame_timestamp_seconds", "Unix time of the last valid frame.")
)

// Describe implements prometheus.Collector: the Source's own counters are the
// metrics, so status and metrics can never disagree.
func (s *Source) Describe(ch chan<- *prometheus.Desc) { metrics.Describe(ch) }

// Collect implements prometheus.Collector.
func (s *Source) Collect(ch chan<- prometheus.Metric) {
	descFrames.Uint(ch, s.frames.Load())
	descBytes.Uint(ch, s.bytes.Load())
	for _, r := range framing.Reasons {
		descDropped.Uint(ch, s.decoder.Drops().Count(r), r.String())
	}
	descReconnects.Uint(ch, s.reconnects.Load())
	descOpenFailures.Uint(ch, s.openFailures.Load())
	descQuietPeriods.Uint(ch, s.quietPeriods.Load())
	for _, h := range Holes {
		descHoles.Uint(ch, s.holes[h].Load(), h.String())
	}
	descConnected.Bool(ch, s.connected.Load())
	descQuiet.Bool(ch, s.quiet.Load())
	descLastFrame.Float(ch, float64(s.lastFrame.Load())/1e9)
}
