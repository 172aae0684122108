package metric

import (
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
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	if mf := got["feedd_test_frames_total"]; mf == nil || mf.GetType() != dto.MetricType_COUNTER || len(mf.GetMetric()) != 2 ||
		mf.GetMetric()[0].GetCounter().GetValue() != 7 || mf.GetMetric()[1].GetCounter().GetValue() != 2 {
		t.Fatalf("frames_total: %v", mf)
	}
	for name, want := range map[string]float64{"feedd_test_up": 1, "feedd_test_last_timestamp_seconds": 1700000000.5, "feedd_test_never_timestamp_seconds": 0} {
		mf := got[name]
		if mf == nil || mf.GetType() != dto.MetricType_GAUGE || mf.GetMetric()[0].GetGauge().GetValue() != want {
			t.Fatalf("%s: %v, want a gauge of %v", name, mf, want)
		}
	}
}
