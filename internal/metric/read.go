package metric

import (
	"fmt"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// ByName indexes gathered (or scraped and parsed) metric families by name.
func ByName(mfs []*dto.MetricFamily) map[string]*dto.MetricFamily {
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// Value returns the value of the series of family name with exactly the
// labels given (name, value, ...): a counter's or gauge's value, a
// histogram's sample count. Tests read what a collector emitted with it.
func Value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, error) {
	mf, ok := mfs[name]
	if !ok {
		return 0, fmt.Errorf("%s is not exposed", name)
	}
	var want []string
	for i := 0; i+1 < len(labels); i += 2 {
		want = append(want, labels[i]+"="+labels[i+1])
	}
	slices.Sort(want)
	var seen []string
	for _, m := range mf.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), nil
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), nil
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), nil
			}
			return m.GetUntyped().GetValue(), nil
		}
		seen = append(seen, "{"+strings.Join(got, ",")+"}")
	}
	return 0, fmt.Errorf("%s has no series {%s}; it has %v", name, strings.Join(want, ","), seen)
}
