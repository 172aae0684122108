package audit

import (
	"math"
	"sync"
	"time"

	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
)

// Progress is what an audit has found so far, while it reads. The gap and
// missing counts are exact for what has been read: a late frame that fills
// a hole removes it again, as in the final report.
type Progress struct {
	// Records counts committed data records read; Sequenced those that
	// carry a feed sequence number, Unsequenced the others.
	Records     int64 `json:"records"`
	Sequenced   int64 `json:"sequenced"`
	Unsequenced int64 `json:"unsequenced"`
	// Started is set once the audit has found where to start (From) and
	// began reading: with FromEnd, what is committed from then on is read.
	Started bool  `json:"started"`
	From    int64 `json:"from_offset"`
	// NextOffset is the offset the audit reads next.
	NextOffset int64 `json:"next_offset"`
	// FirstSeq and LastSeq are the lowest and highest sequence numbers read
	// (valid when Sequenced > 0).
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// Gaps and Missing are the holes between FirstSeq and LastSeq.
	Gaps    int64  `json:"gaps"`
	Missing uint64 `json:"missing"`
	// DuplicateRecords counts copies beyond the first of a sequence number;
	// OutOfOrder first copies lower than a number read before them.
	DuplicateRecords int64 `json:"duplicate_records"`
	OutOfOrder       int64 `json:"out_of_order"`
	// LastRecordTime is the newest record's own timestamp.
	LastRecordTime time.Time `json:"last_record_time,omitzero"`
	// Latency summarises the end-to-end latency of the records read live.
	Latency Latency `json:"latency"`
}

// Latency summarises end-to-end latencies: from the moment a member read a
// frame from its port (the receive time in its feedd header, on the member's clock) to the
// moment the audit received the committed record (the audit's clock). Only
// records committed after the audit reached the end of the topic count:
// for older ones the figure would measure how late the audit started. The
// quantiles are upper bounds within 1% of the true value.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P99   float64 `json:"p99_seconds"`
	P999  float64 `json:"p999_seconds"`
	Max   float64 `json:"max_seconds"`
}

// Monitor lets a caller watch an audit while it runs: Progress returns a
// snapshot at any time, and Collector exports it to Prometheus as the
// feedd_audit_* metrics. One Monitor serves one audit.
type Monitor struct {
	mu sync.Mutex
	p  Progress
	// live is the latency sketch behind p.Latency.
	live latencySketch
	// histogram feeds feedd_audit_end_to_end_latency_seconds; it is safe
	// for concurrent use on its own.
	histogram prometheus.Histogram
}

// NewMonitor returns a Monitor to pass in Options.Monitor.
func NewMonitor() *Monitor {
	return &Monitor{histogram: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "feedd_audit_end_to_end_latency_seconds",
		Help:    "Time from a member reading a frame from its port (the receive time in its feedd header) to the audit receiving it committed, for records committed while the audit follows the topic.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})}
}

// Progress returns what the audit has found so far.
func (m *Monitor) Progress() Progress {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.p
	p.Latency = m.live.summary()
	return p
}

// update runs fn with the progress locked.
func (m *Monitor) update(fn func(p *Progress)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	fn(&m.p)
	m.mu.Unlock()
}

// observeLatency records one record's end-to-end latency.
func (m *Monitor) observeLatency(d time.Duration) {
	if m == nil {
		return
	}
	s := max(d.Seconds(), 0) // the members' clocks may run ahead of ours
	m.histogram.Observe(s)
	m.mu.Lock()
	m.live.add(s)
	m.mu.Unlock()
}

// Collector returns a Prometheus collector of the audit's metrics, read at
// scrape time.
func (m *Monitor) Collector() prometheus.Collector { return monitorCollector{m} }

type monitorCollector struct{ m *Monitor }

// auditMetrics are the audit's (feedd_audit_*), each read from its
// Progress.
var auditMetrics = progressMetrics()

func progressMetrics() *metric.Table[Progress] {
	t := metric.NewTable[Progress]("feedd_audit_")
	t.CounterBy("records_total", "Committed data records the audit has read.", "identity", func(p *Progress, emit func(uint64, string)) {
		emit(uint64(p.Sequenced), "sequence")
		emit(uint64(p.Unsequenced), "fingerprint")
	})
	t.Gauge("next_offset", "The topic offset the audit reads next.", func(p *Progress) float64 { return float64(p.NextOffset) })
	t.Gauge("last_sequence", "Highest feed sequence number read (0 before the first).", func(p *Progress) float64 { return float64(p.LastSeq) })
	t.Gauge("gaps", "Ranges of feed sequence numbers missing between the lowest and highest read.", func(p *Progress) float64 { return float64(p.Gaps) })
	t.Gauge("missing_frames", "Feed sequence numbers missing between the lowest and highest read.", func(p *Progress) float64 { return float64(p.Missing) })
	t.Counter("duplicate_records_total", "Records carrying a feed sequence number already read (copies beyond the first).", func(p *Progress) uint64 { return uint64(p.DuplicateRecords) })
	t.Counter("out_of_order_total", "Records whose sequence number is lower than one read before them.", func(p *Progress) uint64 { return uint64(p.OutOfOrder) })
	t.Time("last_record_timestamp_seconds", "Timestamp of the newest record read (0 before the first).", func(p *Progress) time.Time { return p.LastRecordTime })
	return t
}

func (c monitorCollector) Describe(ch chan<- *prometheus.Desc) {
	auditMetrics.Describe(ch)
	c.m.histogram.Describe(ch)
}

func (c monitorCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.m.Progress()
	auditMetrics.Collect(ch, &p)
	c.m.histogram.Collect(ch)
}

// latencySketch is a histogram of latencies in logarithmic buckets 1%
// wide from 1µs up, so that quantiles over any number of records cost a
// few kilobytes and are exact to within 1%.
type latencySketch struct {
	counts []int64
	n      int64
	max    float64
}

const (
	sketchMin    = 1e-6 // seconds; everything below falls in bucket 0
	sketchGrowth = 1.01
)

var sketchLogGrowth = math.Log(sketchGrowth)

func (s *latencySketch) add(seconds float64) {
	i := 0
	if seconds > sketchMin {
		i = int(math.Ceil(math.Log(seconds/sketchMin) / sketchLogGrowth))
	}
	if i >= len(s.counts) {
		s.counts = append(s.counts, make([]int64, i+1-len(s.counts))...)
	}
	s.counts[i]++
	s.n++
	s.max = max(s.max, seconds)
}

// quantile returns the upper bound of the bucket holding the q-quantile.
func (s *latencySketch) quantile(q float64) float64 {
	if s.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(s.n)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			return min(sketchMin*math.Pow(sketchGrowth, float64(i)), s.max)
		}
	}
	return s.max
}

func (s *latencySketch) summary() Latency {
	return Latency{Count: s.n, P50: s.quantile(.5), P99: s.quantile(.99), P999: s.quantile(.999), Max: s.max}
}
