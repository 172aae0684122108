package ingest

import (
	"github.com/feedd/feedd/ingest/framing"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descFrames = prometheus.NewDesc("feedd_ingest_frames_total",
		"Valid frames read from the serial port.", nil, nil)
	descBytes = prometheus.NewDesc("feedd_ingest_frame_bytes_total",
		"Bytes of valid frames read from the serial port (framing excluded).", nil, nil)
	descDropped = prometheus.NewDesc("feedd_ingest_dropped_total",
		"Invalid input dropped by the framer, by reason.", []string{"reason"}, nil)
	descReconnects = prometheus.NewDesc("feedd_ingest_reconnects_total",
		"Times the serial device was lost after being open.", nil, nil)
	descOpenFailures = prometheus.NewDesc("feedd_ingest_open_failures_total",
		"Failed attempts to open the serial device.", nil, nil)
	descQuietPeriods = prometheus.NewDesc("feedd_ingest_quiet_periods_total",
		"Times the line went quiet (no valid frame for serial.quiet_after).", nil, nil)
	descHoles = prometheus.NewDesc("feedd_ingest_holes_total",
		"Frames delivered after something that may have lost frames before them (the port reopened, the framer dropped input, the line was quiet), by kind.", []string{"kind"}, nil)
	descConnected = prometheus.NewDesc("feedd_ingest_connected",
		"1 while the serial device is open.", nil, nil)
	descQuiet = prometheus.NewDesc("feedd_ingest_quiet",
		"1 while the line is quiet.", nil, nil)
	descLastFrame = prometheus.NewDesc("feedd_ingest_last_frame_timestamp_seconds",
		"Unix time of the last valid frame.", nil, nil)
)

// Describe implements prometheus.Collector: the Source's own counters are the
// metrics, so status and metrics can never disagree.
func (s *Source) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFrames, descBytes, descDropped, descReconnects,
		descOpenFailures, descQuietPeriods, descHoles, descConnected, descQuiet, descLastFrame} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Source) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descFrames, s.frames.Load())
	counter(descBytes, s.bytes.Load())
	for _, r := range framing.Reasons {
		counter(descDropped, s.decoder.Drops().Count(r), r.String())
	}
	counter(descReconnects, s.reconnects.Load())
	counter(descOpenFailures, s.openFailures.Load())
	counter(descQuietPeriods, s.quietPeriods.Load())
	for _, h := range Holes {
		counter(descHoles, s.holes[h].Load(), h.String())
	}
	gauge(descConnected, boolFloat(s.connected.Load()))
	gauge(descQuiet, boolFloat(s.quiet.Load()))
	gauge(descLastFrame, float64(s.lastFrame.Load())/1e9)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
