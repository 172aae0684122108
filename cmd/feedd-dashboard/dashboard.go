package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// The dashboard's uid and title: provisioning, bookmarks and links to it
// find it by them, so they never change.
const (
	uid   = "feedd-pipeline"
	title = "feedd"
)

// sections are the dashboard's rows, top to bottom.
func sections() []section {
	return []section{overview(), audit(), serial(), ring(), kafka(), pair(), process()}
}

// build builds the dashboard.
func build() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description("A feedd pipeline: which member is active, the serial feed, the backlog rings and gaps, Kafka commits, and the pair protocol. Metrics: docs/metrics.md; alerts: docs/prometheus/feedd-alerts.yml.").
		Tags([]string{"feedd", "kafka", "serial"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Timezone(common.TimeZoneBrowser).
		Time("now-3h", "now").
		Refresh("10s").
		Version(2).
		FiscalYearStartMonth(0).
		LiveNow(false).
		WeekStart("").
		Variables(variables()).
		Annotations(annotations())
	l := layout{b: b}
	for _, s := range sections() {
		l.section(s)
	}
	d, err := b.Build()
	if err != nil {
		return d, fmt.Errorf("building the dashboard: %w", err)
	}
	// The SDK puts every annotation's toggle in the controls menu by
	// default; ours belong on the dashboard, where they always were.
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
	return d, nil
}

// render builds the dashboard and returns the JSON the repository holds:
// indented, ending in a newline, with <, > and & as themselves, as Grafana
// writes them, so that the PromQL in it reads as written.
func render() ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encoding the dashboard: %w", err)
	}
	// The SDK marshals panels with json.Marshal, which escapes them anyway.
	return unescapeHTML(buf.Bytes()), nil
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes of JSON text back
// into <, > and &. It reads escapes pairwise, so an escaped backslash
// followed by "u003c" stays as it is.
func unescapeHTML(b []byte) []byte {
	escaped := map[string]byte{`\u003c`: '<', `\u003e`: '>', `\u0026`: '&'}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] != '\\' || i+1 == len(b):
			out = append(out, b[i])
		case i+6 <= len(b) && escaped[string(b[i:i+6])] != 0:
			out = append(out, escaped[string(b[i:i+6])])
			i += 5
		default: // any other escape, kept whole
			out = append(out, b[i], b[i+1])
			i++
		}
	}
	return out
}

// variables choose the data source, the pipeline, and the members shown.
func variables() []cog.Builder[dashboard.VariableModel] {
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus").
			Hide(dashboard.VariableHideDontHide).
			Multi(false).
			IncludeAll(false).
			Regex(""),
		labelValues("pipeline", "Pipeline", "label_values(feedd_member_active, pipeline)").
			Multi(false).
			IncludeAll(false),
		// All members by default; .* rather than a list of every one, so a
		// member added later is shown too.
		labelValues("instance", "Instance", `label_values(feedd_member_active{pipeline=~"$pipeline"}, instance)`).
			Multi(true).
			IncludeAll(true).
			AllValue(".*"),
	}
}

// labelValues is a variable whose values are a label's values in
// Prometheus, read again when the time range changes, so that a new member
// or pipeline appears without reloading the dashboard.
func labelValues(name, label, definition string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{Map: map[string]any{
			"query":   definition,
			"refId":   "PrometheusVariableQueryEditor-VariableQuery",
			"qryType": 1,
		}}).
		Definition(definition).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Regex("").
		Hide(dashboard.VariableHideDontHide)
}

// annotations mark activations and gap frames on every graph: most
// questions the dashboard answers start with "what happened then?".
func annotations() []cog.Builder[dashboard.AnnotationQuery] {
	return []cog.Builder[dashboard.AnnotationQuery]{
		// Grafana's own annotations and alerts, as in every dashboard.
		dashboard.NewAnnotationQueryBuilder().
			Name("Annotations & Alerts").
			Datasource(common.DataSourceRef{Type: cog.ToPtr("grafana"), Uid: cog.ToPtr("-- Grafana --")}).
			Enable(true).
			Hide(true).
			IconColor("rgba(0, 211, 255, 1)").
			Type("dashboard").
			BuiltIn(1),
		marker("Activations", "green", "{{member}} activated",
			`increase(feedd_broadcast_activations_total`+ofPipeline+`[1m]) > 0`),
		marker("Gaps", "red", "gap frames at {{member}}",
			`increase(feedd_broadcast_ring_overflow_lost_frames_total`+ofPipeline+`[1m]) > 0 or increase(feedd_broadcast_ring_skipped_total`+ofPipeline+`[1m]) > 0`),
	}
}

// marker is an annotation at each step where expr has a value.
func marker(name, color, titleFormat, expr string) *dashboard.AnnotationQueryBuilder {
	return dashboard.NewAnnotationQueryBuilder().
		Name(name).
		Datasource(datasource()).
		Enable(true).
		Hide(false).
		IconColor(color).
		Expr(expr).
		Step("30s").
		TitleFormat(titleFormat).
		TextFormat("").
		TagKeys("pipeline,member").
		UseValueForTime(false)
}
