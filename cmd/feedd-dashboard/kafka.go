package main

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// kafka is the transactions the active commits and the Kafka clients every
// member runs.
func kafka() section {
	return section{id: 27, title: "Kafka", panels: []panel{
		linesPanel(spec{
			id: 28, title: "Commit latency", w: 8, h: 8, unit: units.Seconds,
			desc: "Wall time of each transaction commit (flush and EndTxn) of the active member: percentiles from feedd_broadcast_commit_duration_seconds, and the mean EndTxn time.",
			queries: append(quantiles("feedd_broadcast_commit_duration_seconds_bucket"+ofMembers, "member", perSecond, 0.5, 0.99),
				query{
					expr:   perSecond("feedd_broadcast_end_txn_seconds_total"+ofMembers) + " / " + perSecond("feedd_broadcast_commits_total"+ofMembers),
					legend: "mean EndTxn {{member}}",
				}),
		}),
		linesPanel(spec{
			id: 29, title: "EndTxn share", w: 8, h: 8, unit: units.PercentUnit,
			desc: "Share of wall time the active spends committing, and in EndTxn: the direct cost of transactions (docs/kafka.md). Lengthen kafka.commit_interval if it is high.",
			queries: []query{
				{expr: perSecond("feedd_broadcast_commit_seconds_total" + ofMembers), legend: "committing {{member}}"},
				{expr: perSecond("feedd_broadcast_end_txn_seconds_total" + ofMembers), legend: "EndTxn {{member}}"},
			},
		}),
		linesPanel(spec{
			id: 30, title: "Commits, failures and aborts", w: 8, h: 8, unit: units.Short,
			desc: "Transactions committed, failed (aborted and replayed) and aborted, per second.",
			queries: []query{
				{expr: perSecond("feedd_broadcast_commits_total" + ofMembers), legend: "commits {{member}}"},
				{expr: perSecond("feedd_broadcast_commit_failures_total" + ofMembers), legend: "failures {{member}}"},
				{expr: perSecond("feedd_broadcast_aborts_total" + ofMembers), legend: "aborts {{member}}"},
			},
		}),
		statePanel(spec{
			id: 31, title: "Commits failing", w: 12, h: 4,
			desc:    "Whether a member's commits fail or take longer than kafka.commit_timeout.",
			queries: []query{{expr: `feedd_broadcast_commit_failing` + ofMembers, legend: "{{member}}"}},
		}, state{"ok", "green"}, state{"failing", "red"}),
		linesPanel(spec{
			id: 33, title: "Kafka client throughput", w: 12, h: 8, unit: units.BytesPerSecondSI,
			desc: "Bytes produced by the active's producer, and fetched by each member's echo and control consumers. kprom creates a client series at its first event; until then the member shows 0.",
			queries: []query{
				{expr: perClient(perSecond("feedd_kafka_producer_produce_bytes_total" + ofMembers)), legend: "produced {{member}}"},
				{expr: perClient(perSecond("feedd_kafka_echo_fetch_bytes_total" + ofMembers)), legend: "echo fetched {{member}}"},
				{expr: perClient(perSecond("feedd_kafka_control_fetch_bytes_total" + ofMembers)), legend: "control fetched {{member}}"},
			},
		}),
		linesPanel(spec{
			id: 32, title: "Time since last commit (active)", w: 12, h: 4, unit: units.Seconds,
			desc:    "Age of the active member's last successful commit.",
			queries: []query{{expr: ageWhereActive("feedd_broadcast_last_commit_timestamp_seconds", 1), legend: "{{member}}"}},
		}),
		barsPanel(spec{
			id: 34, title: "Kafka connection errors", w: 12, h: 7, unit: units.Short,
			desc: "Failed connections and read/write errors of each Kafka client, per interval. kprom creates a client series at its first event; until then the member shows 0.",
			queries: []query{
				{expr: perClient(perInterval("feedd_kafka_producer_connect_errors_total" + ofMembers)), legend: "producer connect {{member}}"},
				{expr: perClient(perInterval("feedd_kafka_echo_connect_errors_total" + ofMembers)), legend: "echo connect {{member}}"},
				{expr: perClient(perInterval("feedd_kafka_control_connect_errors_total" + ofMembers)), legend: "control connect {{member}}"},
				{expr: perClient(perInterval("feedd_kafka_producer_write_errors_total"+ofMembers) + " + " + perInterval("feedd_kafka_producer_read_errors_total"+ofMembers)), legend: "producer read/write {{member}}"},
			},
		}),
		linesPanel(spec{
			id: 35, title: "Kafka witness age (inactive)", w: 12, h: 7, unit: units.Seconds,
			desc:    "How long ago an inactive member last saw the active's commits (or control keepalives) through Kafka: the witness it consults before taking over on silence. Small while the active works: up to a second on a quiet feed while the inactive hears the active over the pair link, up to kafka.control_interval when it does not.",
			queries: []query{{expr: ageWhereActive("feedd_broadcast_witness_seen_timestamp_seconds", 0), legend: "witness age {{member}}"}},
		}),
	}}
}

// perClient sums expr, a Kafka client's metric, by member, and shows 0 for a
// member whose client has no series yet: kprom creates a client's series at
// its first event, and a member missing from the graph reads as one down.
func perClient(expr string) string {
	return strings.Join([]string{
		"(sum by (member) (" + expr + "))",
		"or",
		"sum by (member) (feedd_member_active" + ofMembers + ") * 0",
	}, "\n")
}
