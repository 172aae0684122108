package main

import "github.com/grafana/grafana-foundation-sdk/go/units"

// ring is the backlog each member keeps until it sees its frames committed,
// and every way a frame can go missing from the topic.
func ring() section {
	return section{id: 21, title: "Backlog ring and gaps", panels: []panel{
		linesPanel(spec{
			id: 22, title: "Ring depth", w: 8, h: 8, unit: units.Short,
			desc:    "Frames held in each member's backlog ring, and its bound (backlog.max_frames). The inactive's stays near one commit interval of feed while the echo trims it; growth means it is not being trimmed.",
			queries: withBound("feedd_broadcast_ring_frames", "feedd_broadcast_ring_max_frames"),
		}),
		linesPanel(spec{
			id: 23, title: "Ring bytes", w: 8, h: 8, unit: units.BytesIEC,
			desc:    "Frame bytes held in each ring, and its bound. Overflow starts at backlog.max_bytes.",
			queries: withBound("feedd_broadcast_ring_bytes", "feedd_broadcast_ring_max_bytes"),
		}),
		linesPanel(spec{
			id: 24, title: "Ring depth in seconds of feed", w: 8, h: 8, unit: units.Seconds,
			desc: "Frames held divided by the frame rate: how much of the feed a member would flush if it took over now.",
			queries: []query{{
				// No value while the feed stops, rather than a division by 0.
				expr:   `feedd_broadcast_ring_frames` + ofMembers + ` / (` + perSecond("feedd_ingest_frames_total"+ofMembers) + ` > 0)`,
				legend: "{{member}}",
			}},
		}),
		barsPanel(spec{
			id: 25, title: "Gap frames: overflow and skipped", w: 12, h: 8, unit: units.Short,
			desc: "Frames evicted from a full ring (overflow), runs of them (gaps), frames the active never broadcast (skipped), frames too large for a Kafka record (oversize) and for the ring (rejected), per interval. Each is a frame missing from the topic: see docs/metrics.md, and run `feedd audit` for the exact extent.",
			queries: []query{
				{expr: perInterval("feedd_broadcast_ring_overflow_frames_total" + ofMembers), legend: "overflow {{member}}"},
				{expr: perInterval("feedd_broadcast_ring_overflow_gaps_total" + ofMembers), legend: "overflow runs {{member}}"},
				{expr: perInterval("feedd_broadcast_ring_skipped_total" + ofMembers), legend: "skipped {{member}}"},
				{expr: perInterval("feedd_broadcast_oversize_total" + ofMembers), legend: "oversize {{member}}"},
				{expr: perInterval("feedd_broadcast_ring_rejected_total" + ofMembers), legend: "rejected {{member}}"},
			},
		}),
		linesPanel(spec{
			id: 26, title: "Ring trims and remembered echoes", w: 12, h: 8, unit: units.Short,
			desc: "Ring entries trimmed per second by echo (inactive) or commit (active), and echoes no entry was certainly the frame of, by outcome (remembered, recognised when the port delivered the frame later, forgotten).",
			queries: []query{
				{expr: sumBy("member, by", perSecond("feedd_broadcast_ring_trimmed_total"+ofMembers)), legend: "trimmed by {{by}} {{member}}"},
				{expr: sumBy("member, outcome", perSecond("feedd_broadcast_ring_echo_memory_total"+ofMembers)), legend: "echo {{outcome}} {{member}}"},
				{expr: `feedd_broadcast_ring_remembered_echoes` + ofMembers, legend: "echoes remembered {{member}}"},
			},
		}),
		barsPanel(spec{
			id: 47, title: "Holes in the active's stream: repaired from the peer, and not", w: 24, h: 8, unit: units.Short,
			desc: "Frames that followed a hole in the active's own stream (its port reopened, dropped input, saw its sequence number skip, or went quiet), the peer's frames published in them (certain, or marked as possible duplicates), and holes that could not be repaired, by reason (decision 0011; alert FeeddHoleUnrepaired).",
			queries: []query{
				{expr: sumBy("member", perInterval("feedd_broadcast_holes_total"+ofMembers)), legend: "{{member}} holes"},
				{expr: sumBy("member, mark", perInterval("feedd_broadcast_repaired_frames_total"+ofMembers)), legend: "{{member}} repaired ({{mark}})"},
				{expr: sumBy("member, reason", perInterval("feedd_broadcast_holes_unrepaired_total"+ofMembers)), legend: "{{member}} unrepaired ({{reason}})"},
			},
		}),
	}}
}
