package main

import "github.com/grafana/grafana-foundation-sdk/go/units"

// serial is each member's own port: what it reads, whether its line is
// alive, and what its framer throws away.
func serial() section {
	return section{id: 15, title: "Serial feed", panels: []panel{
		linesPanel(spec{
			id: 16, title: "Frames read vs committed", w: 12, h: 8, unit: units.Short,
			desc: "Frames each member reads from its port, and frames the pipeline commits. On a healthy pipeline the committed rate equals the read rate of each member.",
			queries: []query{
				{expr: perSecond("feedd_ingest_frames_total" + ofMembers), legend: "read {{member}}"},
				{expr: sumBy("pipeline", perSecond("feedd_broadcast_committed_frames_total"+ofPipeline)), legend: "committed {{pipeline}}"},
			},
		}),
		statePanel(spec{
			id: 17, title: "Serial line", w: 12, h: 4,
			desc: "ok, quiet (no valid frame for serial.quiet_after) or disconnected (device not open).",
			queries: []query{{
				// 0 ok, 1 quiet, 2 or 3 disconnected: a closed device is
				// disconnected whether or not the line also counts as quiet.
				expr:   `(1 - feedd_ingest_connected` + ofMembers + `) * 2 + feedd_ingest_quiet` + ofMembers,
				legend: "{{member}}",
			}},
		}, state{"ok", "green"}, state{"quiet", "orange"}, state{"disconnected", "red"}, state{"disconnected", "red"}),
		linesPanel(spec{
			id: 18, title: "Time since last frame", w: 12, h: 4, unit: units.Seconds,
			desc:    "How long each member's line has delivered no valid frame.",
			queries: []query{{expr: sinceLast("feedd_ingest_last_frame_timestamp_seconds"), legend: "{{member}}"}},
		}),
		linesPanel(spec{
			id: 19, title: "Ingest drops by reason", w: 12, h: 7, unit: units.Short,
			desc:    "Invalid input dropped by the framer, per second: bad_checksum, noise, truncated, oversize (docs/framing.md). A member whose drops exceed its frames is judged noisy and steps down for a clean peer.",
			queries: []query{byReason(perSecond, "feedd_ingest_dropped_total")},
		}),
		barsPanel(spec{
			id: 20, title: "Reconnects and open failures", w: 12, h: 7, unit: units.Short,
			desc: "Serial devices lost, failed opens and quiet periods, per interval.",
			queries: []query{
				{expr: perInterval("feedd_ingest_reconnects_total" + ofMembers), legend: "reconnects {{member}}"},
				{expr: perInterval("feedd_ingest_open_failures_total" + ofMembers), legend: "open failures {{member}}"},
				{expr: perInterval("feedd_ingest_quiet_periods_total" + ofMembers), legend: "quiet periods {{member}}"},
			},
		}),
	}}
}
