package metric

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type testCollector struct {
	set  *Set
	emit func(ch chan<- prometheus.Metric)
}

func (c testCollector) Describe(ch chan<- *prometheus.Desc) { c.set.Describe(ch) }
func (c testCollector) Collect(ch chan<- prometheus.Metric) { c.emit(ch) }

// TestSetEmitsDeclaredTypes: a value comes out under the set's prefix, as
// the type its metric was declared with, whichever method emitted it; the
// registry accepts the set's descriptions as the collector's.
func TestSetEmitsDeclaredTypes(t *testing.T) {
	set := NewSet("feedd_test_")
	frames := set.Counter("frames_total", "Frames.", "kind")
	up := set.Gauge("up", "Up.")
	last := set.Gauge("last_timestamp_seconds", "Last.")
	never := set.Gauge("never_timestamp_seconds", "Never.")
	at := time.Unix(1700000000, 500_000_000)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(testCollector{set: set, emit: func(ch chan<- prometheus.Metric) {
		frames.Uint(ch, 7, "a")
		frames.Float(ch, 2, "b")
		up.Bool(ch, true)
		last.Time(ch, at)
		never.Time(ch, time.Time{})
	}})
	got := gatherByName(t, reg)
	checkFamily(t, got, "feedd_test_frames_total", dto.MetricType_COUNTER, 7, 2)
	checkFamily(t, got, "feedd_test_up", dto.MetricType_GAUGE, 1)
	checkFamily(t, got, "feedd_test_last_timestamp_seconds", dto.MetricType_GAUGE, 1700000000.5)
	checkFamily(t, got, "feedd_test_never_timestamp_seconds", dto.MetricType_GAUGE, 0)
}

// gatherByName gathers g, failing the test on an error, and returns the
// families by name.
func gatherByName(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	return got
}

// checkFamily fails the test unless got holds a family name of type typ
// (a counter or a gauge) whose values, in label order, are want.
func checkFamily(t *testing.T, got map[string]*dto.MetricFamily, name string, typ dto.MetricType, want ...float64) {
	t.Helper()
	mf := got[name]
	if mf == nil || mf.GetType() != typ || len(mf.GetMetric()) != len(want) {
		t.Fatalf("%s: %v, want a %s of %v", name, mf, strings.ToLower(typ.String()), want)
	}
	for i, m := range mf.GetMetric() {
		v := m.GetGauge().GetValue()
		if typ == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		if v != want[i] {
			t.Fatalf("%s: %v, want %v", name, mf, want)
		}
	}
}
