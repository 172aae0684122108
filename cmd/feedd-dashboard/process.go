package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// process is the member as a process: what it costs the host, and whether
// the host keeps up with it.
func process() section {
	return section{id: 43, title: "Process", panels: []panel{
		linesPanel(spec{
			id: 44, title: "Resident memory", w: 8, h: 6, unit: units.BytesIEC,
			desc:    "Resident memory of each member; the ring is most of it.",
			queries: []query{{expr: `process_resident_memory_bytes` + ofMembers, legend: "{{member}}"}},
		}),
		linesPanel(spec{
			id: 45, title: "CPU", w: 8, h: 6, unit: units.PercentUnit,
			desc:    "CPU time per second: 100% is one core.",
			queries: []query{{expr: perSecond("process_cpu_seconds_total" + ofMembers), legend: "{{member}}"}},
		}),
		stallsAndGoroutines(),
	}}
}

// stallsAndGoroutines draws stalls per minute, like the other panels of
// events, but as lines: the goroutines beside them are a level, not events.
func stallsAndGoroutines() panel {
	s := spec{
		id: 46, title: "Handoff stalls and goroutines", w: 8, h: 6, unit: units.Short,
		desc: "Times the port reader waited for the pipeline (an overloaded host), per interval, and goroutines.",
		queries: []query{
			{expr: perInterval("feedd_broadcast_handoff_stalls_total" + ofMembers), legend: "stalls {{member}}"},
			{expr: `go_goroutines` + ofMembers, legend: "goroutines {{member}}"},
		},
	}
	return panel{s.w, s.h, graph(s, common.GraphDrawStyleLine, 10).Interval("1m")}
}
