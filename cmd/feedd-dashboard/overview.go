package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// overview answers the first questions: is exactly one member
// broadcasting, which, are both up, has anything been lost.
func overview() section {
	return section{id: 1, title: "Overview", panels: []panel{
		statPanel(spec{
			id: 2, title: "Active members", w: 4, h: 4, unit: units.Short,
			desc: "Members of the pipeline broadcasting now. Must be 1: 0 means nobody broadcasts (the rings buffer), 2 a split brain.",
			queries: []query{{
				expr:   sumBy("pipeline", "feedd_member_active"+ofPipeline),
				legend: "{{pipeline}}",
			}},
		}, statLook{color: common.BigValueColorModeBackground, text: common.BigValueTextModeAuto,
			steps: thresholds("red", from(1, "green"), from(2, "red"))}),
		statPanel(spec{
			id: 3, title: "Active member", w: 5, h: 4, unit: units.Short,
			desc:    "The member broadcasting now.",
			queries: []query{{expr: `feedd_member_active` + ofMembers + ` == 1`, legend: "{{member}}"}},
		}, statLook{color: common.BigValueColorModeNone, text: common.BigValueTextModeName,
			steps: thresholds("green")}),
		statPanel(spec{
			id: 4, title: "Members up", w: 5, h: 4, unit: units.Short,
			desc:    "Whether Prometheus can scrape each member.",
			queries: []query{{expr: `up` + ofMembers, legend: "{{member}}"}},
		}, statLook{color: common.BigValueColorModeBackground, text: common.BigValueTextModeAuto,
			steps: thresholds("red", from(1, "green")), mappings: states(state{"down", "red"}, state{"up", "green"})}),
		statPanel(spec{
			id: 5, title: "Gap frames in range", w: 5, h: 4, unit: units.Short,
			desc: "Frames evicted from a full ring and lost (the member that publishes no longer had them) or never broadcast by the active (skipped) over the dashboard's time range. Anything above 0 is a gap: run `feedd audit` for its extent.",
			queries: []query{
				{expr: `sum(` + inRange("feedd_broadcast_ring_overflow_lost_frames_total"+ofMembers) + `)`, legend: "lost to overflow", instant: true},
				{expr: `sum(` + inRange("feedd_broadcast_ring_skipped_total"+ofMembers) + `)`, legend: "skipped", instant: true},
			},
		}, statLook{color: common.BigValueColorModeBackground, text: common.BigValueTextModeValueAndName,
			steps: thresholds("green", from(1, "red"))}),
		statPanel(spec{
			id: 6, title: "Committed frames/s", w: 5, h: 4, unit: units.Short,
			desc: "Frames the pipeline commits to the topic per second (all members).",
			queries: []query{{
				expr:   `sum(` + perSecond("feedd_broadcast_committed_frames_total"+ofPipeline) + `)`,
				legend: "frames/s",
			}},
		}, statLook{color: common.BigValueColorModeNone, text: common.BigValueTextModeAuto,
			steps: thresholds("green")}),
		statePanel(spec{
			id: 7, title: "Role per member", w: 24, h: 6,
			desc:    "Each member's role over time. Gaps are times it could not be scraped. A failover shows as the roles swapping, with a short `activating` on the new active (fence, read the topic to its end, flush the ring).",
			queries: []query{{expr: roleExpr, legend: "{{member}}"}},
		}, state{"inactive", "blue"}, state{"activating", "yellow"}, state{"active", "green"}, state{"deactivating", "orange"}),
	}}
}

// roleExpr turns feedd_broadcast_role, one series per role of which the
// current one is 1, into one series per member whose value is the role's
// number in the state panel.
const roleExpr = `max by (pipeline, member, instance) (
  (feedd_broadcast_role{pipeline=~"$pipeline", instance=~"$instance", role="inactive"} == 1) * 0
  or (feedd_broadcast_role{pipeline=~"$pipeline", instance=~"$instance", role="activating"} == 1) * 1
  or (feedd_broadcast_role{pipeline=~"$pipeline", instance=~"$instance", role="active"} == 1) * 2
  or (feedd_broadcast_role{pipeline=~"$pipeline", instance=~"$instance", role="deactivating"} == 1) * 3
)`
