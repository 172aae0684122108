package main

import (
	"fmt"
	"strconv"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The label selectors of the queries. A member labels its metrics with
// nothing that says which pipeline or member it is: the scrape configuration
// adds pipeline and member (docs/monitoring.md), and instance tells two
// members apart.
const (
	ofPipeline = `{pipeline=~"$pipeline"}`
	ofMembers  = `{pipeline=~"$pipeline", instance=~"$instance"}`
)

// datasource is the $datasource variable: every panel and query takes its
// data source from it, so the dashboard works whatever the Prometheus data
// source is called.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// spec is what every panel has. The id is kept stable because links to a
// single panel (viewPanel=ID) name it.
type spec struct {
	id          uint32
	title, desc string
	w, h        uint32
	unit        string
	queries     []query
}

// A query is one PromQL expression of a panel and its legend. An instant
// query is evaluated once, at the end of the time range.
type query struct {
	expr, legend string
	instant      bool
}

// A counter's change, as each kind of panel shows it. Lines show rates
// over $__rate_interval, which Grafana keeps long enough for rate to find
// two scrapes; bars show the increase over each bar's $__interval; a
// figure for the whole dashboard spans its $__range.
func perSecond(series string) string   { return "rate(" + series + "[$__rate_interval])" }
func perInterval(series string) string { return "increase(" + series + "[$__interval])" }
func inRange(series string) string     { return "increase(" + series + "[$__range])" }

// sumBy sums expr's series by the labels, a comma-separated list.
func sumBy(labels, expr string) string { return "sum by (" + labels + ") (" + expr + ")" }

// sinceLast is the seconds since each member's timestamp series. A
// timestamp of 0 means nothing yet, not an event in 1970, and shows no value.
func sinceLast(timestamp string) string {
	return "time() - (" + timestamp + ofMembers + " > 0)"
}

// ageWhereActive is the seconds since the timestamp series of the members
// whose feedd_member_active is active: 1 for the active member, 0 for an
// inactive one.
func ageWhereActive(timestamp string, active int) string {
	return "(time() - " + timestamp + ofMembers + ") and on (instance) (feedd_member_active" + ofMembers + " == " + strconv.Itoa(active) + ")"
}

// withBound is a gauge of each member and the bound it must stay under.
func withBound(gauge, bound string) []query {
	return []query{
		{expr: gauge + ofMembers, legend: "{{member}}"},
		{expr: bound + ofMembers, legend: "bound {{member}}"},
	}
}

// byReason is a counter's change per member and reason.
func byReason(change func(string) string, counter string) query {
	return query{expr: sumBy("member, reason", change(counter+ofMembers)), legend: "{{member}} {{reason}}"}
}

// quantiles are the queries of a histogram's quantiles qs: its buckets'
// change (perSecond, perInterval or inRange), summed by the label by (""
// for all series together).
func quantiles(buckets, by string, change func(string) string, qs ...float64) []query {
	groups, legend := "le", ""
	if by != "" {
		groups, legend = by+", le", " {{"+by+"}}"
	}
	out := make([]query, 0, len(qs))
	for _, q := range qs {
		out = append(out, query{
			expr:   fmt.Sprintf("histogram_quantile(%g, %s)", q, sumBy(groups, change(buckets))),
			legend: "p" + strconv.FormatFloat(q*100, 'f', -1, 64) + legend,
		})
	}
	return out
}

// targets builds a panel's queries, lettered A, B, C… in order.
func targets(qs []query) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, q := range qs {
		b := prometheus.NewDataqueryBuilder().
			Datasource(datasource()).
			Expr(q.expr).
			LegendFormat(q.legend).
			RefId(string(rune('A' + i))).
			EditorMode(prometheus.QueryEditorModeCode)
		if q.instant {
			b.Instant()
		} else {
			b.Range()
		}
		out = append(out, b)
	}
	return out
}

// thresholds starts at base and changes colour at each step.
func thresholds(base string, steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().
		Mode(dashboard.ThresholdsModeAbsolute).
		Steps(append([]dashboard.Threshold{{Value: nil, Color: base}}, steps...))
}

// from is a threshold step: the colour from value up.
func from(value float64, color string) dashboard.Threshold {
	return dashboard.Threshold{Value: &value, Color: color}
}

// A state is the text and colour a state panel shows for a value.
type state struct{ text, color string }

// states maps the values 0, 1, 2… to the states in order.
func states(ss ...state) []dashboard.ValueMapping {
	options := map[string]dashboard.ValueMappingResult{}
	for i, s := range ss {
		options[strconv.Itoa(i)] = dashboard.ValueMappingResult{
			Text: cog.ToPtr(s.text), Color: cog.ToPtr(s.color), Index: cog.ToPtr(int32(i)),
		}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: options}}}
}

// A statLook is how a stat panel shows its last value.
type statLook struct {
	color    common.BigValueColorMode // background: the threshold's colour fills the panel
	text     common.BigValueTextMode
	steps    *dashboard.ThresholdsConfigBuilder
	mappings []dashboard.ValueMapping
}

// statPanel shows the last value of each query as a big number, or a name.
func statPanel(s spec, look statLook) panel {
	b := stat.NewPanelBuilder().
		Id(s.id).Title(s.title).Description(s.desc).
		Datasource(datasource()).Targets(targets(s.queries)).
		Unit(s.unit).
		Thresholds(look.steps).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)).
		ColorMode(look.color).
		GraphMode(common.BigValueGraphModeNone).
		JustifyMode(common.BigValueJustifyModeAuto).
		TextMode(look.text).
		Orientation(common.VizOrientationAuto).
		WideLayout(true)
	if look.mappings != nil {
		b.Mappings(look.mappings)
	}
	return panel{s.w, s.h, b}
}

// linesPanel draws each query's series as a line, from 0 up, with a legend
// table of each series' last and highest value.
func linesPanel(s spec) panel {
	return panel{s.w, s.h, graph(s, common.GraphDrawStyleLine, 10)}
}

// barsPanel draws counts per interval as bars. Its interval is at least a
// minute, so that a bar holds the events of a minute rather than of one
// scrape, and a rare event is not lost between two points of the graph.
func barsPanel(s spec) panel {
	return panel{s.w, s.h, graph(s, common.GraphDrawStyleBars, 80).Interval("1m")}
}

func graph(s spec, style common.GraphDrawStyle, fillOpacity float64) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(s.id).Title(s.title).Description(s.desc).
		Datasource(datasource()).Targets(targets(s.queries)).
		Unit(s.unit).
		Min(0).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic)).
		DrawStyle(style).
		LineWidth(1).
		FillOpacity(fillOpacity).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNone).Group("A")).
		AxisPlacement(common.AxisPlacementAuto).
		LineInterpolation(common.LineInterpolationLinear).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

// statePanel shows, per series, which state it was in over time: its values
// are 0, 1, 2… as mapped by ss. A gap is a time the series was not scraped.
func statePanel(s spec, ss ...state) panel {
	b := statetimeline.NewPanelBuilder().
		Id(s.id).Title(s.title).Description(s.desc).
		Datasource(datasource()).Targets(targets(s.queries)).
		Mappings(states(ss...)).
		Thresholds(thresholds("text")).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		FillOpacity(80).
		LineWidth(0).
		MergeValues(true).
		ShowValue(common.VisibilityModeAuto).
		AlignValue(common.TimelineValueAlignmentLeft).
		RowHeight(0.9).
		// The states' colours say it all; a legend would repeat the series.
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(false).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeSingle).
			Sort(common.SortOrderNone))
	return panel{s.w, s.h, b}
}
