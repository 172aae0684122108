package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// audit is what the consumers see, as `feedd audit --follow` reads the topic:
// the one view that does not take the members' word for it.
func audit() section {
	mustBeZero := func(id uint32, title, desc, series string) panel {
		return statPanel(spec{id: id, title: title, desc: desc, w: 6, h: 4, unit: units.Short,
			queries: []query{{expr: sumBy("pipeline", series+ofPipeline), legend: "{{pipeline}}"}},
		}, statLook{color: common.BigValueColorModeBackground, text: common.BigValueTextModeAuto,
			steps: thresholds("green", from(1, "red"))})
	}
	return section{id: 8, title: "Audit: what consumers see (feedd audit --follow)", panels: []panel{
		mustBeZero(9, "Missing frames",
			"Feed sequence numbers missing from the topic between the lowest and highest the audit has read (read_committed). Must be 0 outside a both-members-down outage.",
			"feedd_audit_missing_frames"),
		mustBeZero(10, "Duplicate records",
			"Records whose feed sequence number the audit had already read. Must be 0.",
			"feedd_audit_duplicate_records_total"),
		mustBeZero(11, "Out of order",
			"Records whose sequence number is lower than one read before them. Must be 0.",
			"feedd_audit_out_of_order_total"),
		statPanel(spec{
			id: 12, title: "Audited records/s", w: 6, h: 4, unit: units.RequestsPerSecond,
			desc: "Committed records per second the audit reads.",
			queries: []query{{
				expr:   sumBy("pipeline", perSecond("feedd_audit_records_total"+ofPipeline)),
				legend: "{{pipeline}}",
			}},
		}, statLook{color: common.BigValueColorModeBackground, text: common.BigValueTextModeAuto, steps: thresholds("green")}),
		linesPanel(spec{
			id: 13, title: "Gaps and duplicates found by the audit", w: 12, h: 8, unit: units.Short,
			desc: "Ranges and frames missing between the lowest and highest sequence number read, and duplicates and records out of order found per interval.",
			queries: []query{
				{expr: `feedd_audit_gaps` + ofPipeline, legend: "gaps {{pipeline}}"},
				{expr: `feedd_audit_missing_frames` + ofPipeline, legend: "missing frames {{pipeline}}"},
				{expr: perInterval("feedd_audit_duplicate_records_total" + ofPipeline), legend: "duplicates {{pipeline}}"},
				{expr: perInterval("feedd_audit_out_of_order_total" + ofPipeline), legend: "out of order {{pipeline}}"},
			},
		}),
		linesPanel(spec{
			id: 14, title: "End-to-end latency", w: 12, h: 8, unit: units.Seconds,
			desc:    "From a member reading a frame from its port (the receive time in the feedd header) to the audit receiving it committed; includes the commit interval. Both clocks must be synchronised (NTP).",
			queries: quantiles("feedd_audit_end_to_end_latency_seconds_bucket"+ofPipeline, "pipeline", perSecond, 0.5, 0.99, 0.999),
		}),
	}}
}
