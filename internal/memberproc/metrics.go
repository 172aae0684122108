package memberproc

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a member's /metrics, by family name.
type Metrics map[string]*dto.MetricFamily

// Metrics scrapes the member's /metrics.
func (p *Proc) Metrics(ctx context.Context) (Metrics, error) {
	body, err := p.Get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("/metrics: %w", err)
	}
	return mfs, nil
}

// Value returns the value of the series of family name with exactly the
// labels given (name, value, ...): a counter's or gauge's value, a
// histogram's sample count.
func (ms Metrics) Value(name string, labels ...string) (float64, error) {
	mf, ok := ms[name]
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
