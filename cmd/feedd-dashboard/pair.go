package main

import "github.com/grafana/grafana-foundation-sdk/go/units"

// pair is the protocol that decides which member is active, and the link
// its heartbeats travel on.
func pair() section {
	return section{id: 36, title: "Pair protocol and link", panels: []panel{
		barsPanel(spec{
			id: 37, title: "Failovers: activations and step-downs by reason", w: 12, h: 8, unit: units.Short,
			desc: "Activations, the pair protocol's step-downs by reason (fenced, superseded, kafka, feed, switchover, preempted), fences, obituaries (a peer's process died) and withheld activations (the Kafka witness showed a silent active still committing), per interval.",
			queries: []query{
				{expr: sumBy("member, reason", perInterval("feedd_pair_activations_total"+ofMembers)), legend: "activation {{member}} ({{reason}})"},
				{expr: sumBy("member, reason", perInterval("feedd_pair_step_downs_total"+ofMembers)), legend: "step-down {{reason}} {{member}}"},
				{expr: sumBy("member", perInterval("feedd_broadcast_fenced_total"+ofMembers)), legend: "fenced {{member}}"},
				{expr: sumBy("member", perInterval("feedd_pair_obituaries_total"+ofMembers)), legend: "obituary seen by {{member}}"},
				{expr: sumBy("member", perInterval("feedd_pair_witness_suppressed_total"+ofMembers)), legend: "witness held {{member}}"},
			},
		}),
		statePanel(spec{
			id: 38, title: "Pair link", w: 6, h: 8,
			desc:    "Whether each member has an authenticated pair-link connection to each peer.",
			queries: []query{{expr: `feedd_pair_link_connected` + ofMembers, legend: "{{member}} → {{peer}}"}},
		}, state{"down", "red"}, state{"up", "green"}),
		linesPanel(spec{
			id: 39, title: "Activation time", w: 6, h: 8, unit: units.Seconds,
			desc:    "From the start of an activation (fencing) to live: catch-up and backlog flush included. Percentiles over the range shown.",
			queries: quantiles("feedd_broadcast_activation_duration_seconds_bucket"+ofMembers, "", inRange, 0.5, 0.99),
		}),
		barsPanel(spec{
			id: 40, title: "Pair link rejected by reason", w: 8, h: 7, unit: units.Short,
			desc:    "Input the pair link refused, per interval: bad_mac (secrets differ), unknown_peer/wrong_peer (ids disagree), wrong_mode, tls, bad_version, replay, malformed, oversized, truncated, incomplete, busy, identity (frame identity settings differ), duplicate_member_id.",
			queries: []query{byReason(perInterval, "feedd_pair_link_rejected_total")},
		}),
		linesPanel(spec{
			id: 41, title: "Heartbeat age", w: 8, h: 7, unit: units.Seconds,
			desc:    "Time since the last authenticated message from each peer; normally below pair.heartbeat_interval.",
			queries: []query{{expr: sinceLast("feedd_pair_link_last_message_timestamp_seconds"), legend: "{{member}} ← {{peer}}"}},
		}),
		linesPanel(spec{
			id: 42, title: "Heartbeats", w: 8, h: 7, unit: units.Short,
			desc: "Heartbeats sent to and received from each peer, heartbeats that did not arrive from a peer when due (missed), and authenticated heartbeats the protocol dropped as stale (rejected), per second.",
			queries: []query{
				{expr: perSecond("feedd_pair_link_messages_sent_total" + ofMembers), legend: "sent {{member}}"},
				{expr: perSecond("feedd_pair_heartbeats_missed_total" + ofMembers), legend: "missed {{member}}"},
				{expr: perSecond("feedd_pair_heartbeats_rejected_total" + ofMembers), legend: "rejected {{member}}"},
				{expr: perSecond("feedd_pair_link_messages_received_total" + ofMembers), legend: "received {{member}} ← {{peer}}"},
			},
		}),
	}}
}
