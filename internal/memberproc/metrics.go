package memberproc

import (
	"bytes"
	"context"
	"fmt"

	"github.com/feedd/feedd/internal/metric"
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
	return metric.Value(ms, name, labels...)
}
