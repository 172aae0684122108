package metric

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Desc is a metric's descriptor with its type, so that a value is emitted as
// what the metric was declared to be.
type Desc struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

// Set holds the descriptors of one collector, all named under one prefix.
type Set struct {
	prefix string
	descs  []*prometheus.Desc
}

// NewSet starts a set whose metrics are named prefix+name.
func NewSet(prefix string) *Set { return &Set{prefix: prefix} }

// Counter declares a counter.
func (s *Set) Counter(name, help string, labels ...string) *Desc {
	return s.add(name, help, prometheus.CounterValue, labels)
}

// Gauge declares a gauge.
func (s *Set) Gauge(name, help string, labels ...string) *Desc {
	return s.add(name, help, prometheus.GaugeValue, labels)
}

func (s *Set) add(name, help string, kind prometheus.ValueType, labels []string) *Desc {
	d := &Desc{desc: prometheus.NewDesc(s.prefix+name, help, labels, nil), kind: kind}
	s.descs = append(s.descs, d.desc)
	return d
}

// Describe sends every descriptor of the set, for a collector's Describe.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range s.descs {
		ch <- d
	}
}

// Float emits v with the given label values.
func (d *Desc) Float(ch chan<- prometheus.Metric, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d.desc, d.kind, v, labels...)
}

// Uint emits a count.
func (d *Desc) Uint(ch chan<- prometheus.Metric, v uint64, labels ...string) {
	d.Float(ch, float64(v), labels...)
}

// Bool emits 1 for true and 0 for false.
func (d *Desc) Bool(ch chan<- prometheus.Metric, v bool, labels ...string) {
	d.Float(ch, boolValue(v), labels...)
}

// Time emits t as Unix seconds, and 0 for the zero time (never happened).
func (d *Desc) Time(ch chan<- prometheus.Metric, t time.Time, labels ...string) {
	d.Float(ch, Seconds(t), labels...)
}

// Seconds is t as Unix seconds, 0 for the zero time.
func Seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func boolValue(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
