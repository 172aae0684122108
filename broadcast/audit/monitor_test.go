package audit

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestMonitorExposition pins the text the monitor's collector serves on
// /metrics for a known progress: the names, help, types, labels and values
// dashboards and alerts read.
func TestMonitorExposition(t *testing.T) {
	mon := NewMonitor()
	mon.update(func(p *Progress) {
		p.Sequenced, p.Unsequenced = 7, 3
		p.NextOffset = 42
		p.LastSeq = 9
		p.Gaps, p.Missing = 2, 5
		p.DuplicateRecords, p.OutOfOrder = 1, 4
		p.LastRecordTime = time.Unix(1700000000, 500000000)
	})
	for _, d := range []time.Duration{3 * time.Millisecond, 40 * time.Millisecond, 2 * time.Second} {
		mon.observeLatency(d)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(mon.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(&got, f); err != nil {
			t.Fatal(err)
		}
	}
	if got.String() != monitorExposition {
		t.Errorf("exposition:\n%s\nwant:\n%s", got.String(), monitorExposition)
	}
}

const monitorExposition = `# HELP feedd_audit_duplicate_records_total Records carrying a feed sequence number already read (copies beyond the first).
# TYPE feedd_audit_duplicate_records_total counter
feedd_audit_duplicate_records_total 1
# HELP feedd_audit_end_to_end_latency_seconds Time from a member reading a frame from its port (the receive time in its feedd header) to the audit receiving it committed, for records committed while the audit follows the topic.
# TYPE feedd_audit_end_to_end_latency_seconds histogram
feedd_audit_end_to_end_latency_seconds_bucket{le="0.001"} 0
feedd_audit_end_to_end_latency_seconds_bucket{le="0.0025"} 0
feedd_audit_end_to_end_latency_seconds_bucket{le="0.005"} 1
feedd_audit_end_to_end_latency_seconds_bucket{le="0.01"} 1
feedd_audit_end_to_end_latency_seconds_bucket{le="0.025"} 1
feedd_audit_end_to_end_latency_seconds_bucket{le="0.05"} 2
feedd_audit_end_to_end_latency_seconds_bucket{le="0.1"} 2
feedd_audit_end_to_end_latency_seconds_bucket{le="0.25"} 2
feedd_audit_end_to_end_latency_seconds_bucket{le="0.5"} 2
feedd_audit_end_to_end_latency_seconds_bucket{le="1"} 2
feedd_audit_end_to_end_latency_seconds_bucket{le="2.5"} 3
feedd_audit_end_to_end_latency_seconds_bucket{le="5"} 3
feedd_audit_end_to_end_latency_seconds_bucket{le="10"} 3
feedd_audit_end_to_end_latency_seconds_bucket{le="30"} 3
feedd_audit_end_to_end_latency_seconds_bucket{le="+Inf"} 3
feedd_audit_end_to_end_latency_seconds_sum 2.043
feedd_audit_end_to_end_latency_seconds_count 3
# HELP feedd_audit_gaps Ranges of feed sequence numbers missing between the lowest and highest read.
# TYPE feedd_audit_gaps gauge
feedd_audit_gaps 2
# HELP feedd_audit_last_record_timestamp_seconds Timestamp of the newest record read (0 before the first).
# TYPE feedd_audit_last_record_timestamp_seconds gauge
feedd_audit_last_record_timestamp_seconds 1.7000000005e+09
# HELP feedd_audit_last_sequence Highest feed sequence number read (0 before the first).
# TYPE feedd_audit_last_sequence gauge
feedd_audit_last_sequence 9
# HELP feedd_audit_missing_frames Feed sequence numbers missing between the lowest and highest read.
# TYPE feedd_audit_missing_frames gauge
feedd_audit_missing_frames 5
# HELP feedd_audit_next_offset The topic offset the audit reads next.
# TYPE feedd_audit_next_offset gauge
feedd_audit_next_offset 42
# HELP feedd_audit_out_of_order_total Records whose sequence number is lower than one read before them.
# TYPE feedd_audit_out_of_order_total counter
feedd_audit_out_of_order_total 4
# HELP feedd_audit_records_total Committed data records the audit has read.
# TYPE feedd_audit_records_total counter
feedd_audit_records_total{identity="fingerprint"} 3
feedd_audit_records_total{identity="sequence"} 7
`
