package metric

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Table declares a collector's metrics each with how it is read from S,
// the snapshot the collector takes at scrape time: a metric is one row,
// and Collect emits them all, so no metric is declared in one place and
// emitted in another.
type Table[S any] struct {
	set  Set
	rows []func(ch chan<- prometheus.Metric, s *S)
}

// NewTable starts a table whose metrics are named prefix+name.
func NewTable[S any](prefix string) *Table[S] { return &Table[S]{set: Set{prefix: prefix}} }

// emitter is how a Desc emits a value of type V: one of its methods.
type emitter[V any] func(d *Desc, ch chan<- prometheus.Metric, v V, labels ...string)

// single adds a row that emits value's one series through d.
func single[S, V any](t *Table[S], d *Desc, emit emitter[V], value func(*S) V) {
	t.rows = append(t.rows, func(ch chan<- prometheus.Metric, s *S) { emit(d, ch, value(s)) })
}

// labelled adds a row that emits each series series sends, with its
// label, through d.
func labelled[S, V any](t *Table[S], d *Desc, emit emitter[V], series func(s *S, emit func(v V, label string))) {
	t.rows = append(t.rows, func(ch chan<- prometheus.Metric, s *S) {
		series(s, func(v V, l string) { emit(d, ch, v, l) })
	})
}

// Counter declares a counter.
func (t *Table[S]) Counter(name, help string, value func(*S) uint64) {
	single(t, t.set.Counter(name, help), (*Desc).Uint, value)
}

// FloatCounter declares a counter of a quantity that is not a count, such
// as seconds spent.
func (t *Table[S]) FloatCounter(name, help string, value func(*S) float64) {
	single(t, t.set.Counter(name, help), (*Desc).Float, value)
}

// CounterBy declares a counter with one label; series emits each labelled
// count.
func (t *Table[S]) CounterBy(name, help, label string, series func(s *S, emit func(v uint64, label string))) {
	labelled(t, t.set.Counter(name, help, label), (*Desc).Uint, series)
}

// Gauge declares a gauge.
func (t *Table[S]) Gauge(name, help string, value func(*S) float64) {
	single(t, t.set.Gauge(name, help), (*Desc).Float, value)
}

// Flag declares a gauge that is 1 while value is true, 0 otherwise.
func (t *Table[S]) Flag(name, help string, value func(*S) bool) {
	single(t, t.set.Gauge(name, help), (*Desc).Bool, value)
}

// FlagBy declares a Flag with one label; series emits each labelled flag.
func (t *Table[S]) FlagBy(name, help, label string, series func(s *S, emit func(v bool, label string))) {
	labelled(t, t.set.Gauge(name, help, label), (*Desc).Bool, series)
}

// Time declares a gauge of a time in Unix seconds, 0 for the zero time
// (never happened).
func (t *Table[S]) Time(name, help string, value func(*S) time.Time) {
	single(t, t.set.Gauge(name, help), (*Desc).Time, value)
}

// TimeIfSet is Time for a time that is absent rather than 0 until it
// has happened.
func (t *Table[S]) TimeIfSet(name, help string, value func(*S) time.Time) {
	d := t.set.Gauge(name, help)
	t.rows = append(t.rows, func(ch chan<- prometheus.Metric, s *S) {
		if at := value(s); !at.IsZero() {
			d.Time(ch, at)
		}
	})
}

// Describe sends every descriptor of the table, for a collector's Describe.
func (t *Table[S]) Describe(ch chan<- *prometheus.Desc) { t.set.Describe(ch) }

// Collect emits every metric of the table as read from s, for a
// collector's Collect.
func (t *Table[S]) Collect(ch chan<- prometheus.Metric, s *S) {
	for _, emit := range t.rows {
		emit(ch, s)
	}
}
