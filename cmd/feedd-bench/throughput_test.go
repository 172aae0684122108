package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestKcatProduceArgs(t *testing.T) {
	got := strings.Join(kcatProduceArgs("127.0.0.1:9092", "t", "f.txt", false), " ")
	if got != "-P -b 127.0.0.1:9092 -t t -p 0 -X acks=all -X enable.idempotence=true -l f.txt" {
		t.Fatalf("kcat arguments: %s", got)
	}
	args := kcatProduceArgs("127.0.0.1:9092", "t", "", true)
	got = strings.Join(args, " ")
	if strings.Contains(got, " -l") || strings.Count(got, "-H ") != 1 || args[len(args)-2] != "-H" {
		t.Fatalf("kcat arguments for standard input with headers: %s", got)
	}
	// The static header is one feedd writes, of the size it writes for a
	// sequenced frame read by member "a".
	key, value, _ := strings.Cut(args[len(args)-1], "=")
	meta := broadcast.ParseRecordMeta(&kgo.Record{Headers: []kgo.RecordHeader{{Key: key, Value: []byte(value)}}})
	if meta.Format != broadcast.RecordFormat || !meta.HasFeedSeq || !meta.HasWindow || string(meta.Member) != "a" || meta.ReceivedAt <= 0 {
		t.Fatalf("header %s=%q reads as %+v", key, value, meta)
	}
	if n := len(meta.Append(nil)); n != len(value) {
		t.Fatalf("header value of %d bytes, feedd writes %d for it", len(value), n)
	}
}

// TestReportKeepsNotesAndJudgesTargets renders a report from made-up
// results into a file that has notes, and checks that the notes survive,
// the figures appear with their commands, and each target is judged from
// the medians.
func TestReportKeepsNotesAndJudgesTargets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	notes := notesMarker + "\n\n## Notes\n\nThe fix that moved the figure.\n"
	if err := os.WriteFile(path, []byte("# old figures\n\n"+notes), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	res := &results{o: o, Started: time.Now(), Machine: "2 cores", Versions: "test", Real: true, Durations: map[string]time.Duration{"throughput": time.Minute},
		Throughput: newThroughputResult(1000),
		Latency: []latencyResult{{Rate: 100, Runs: []latencyRun{{Rate: 100, Duration: 30 * time.Second,
			Samples: []time.Duration{2 * time.Millisecond, 12 * time.Millisecond},
			Stats:   latencyStats([]time.Duration{2 * time.Millisecond, 12 * time.Millisecond})}}}},
	}
	tr := res.Throughput
	tr.Feedd, tr.Kcat, tr.KcatHeaders = []float64{50e3, 60e3, 70e3}, []float64{100e3, 100e3, 100e3}, []float64{70e3, 70e3, 70e3}
	tr.KcatStart, tr.Ratios, tr.HeaderRatios = []float64{0.02}, []float64{0.5, 0.6, 0.7}, []float64{0.7, 0.9, 1}
	if err := res.write(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, want := range []string{
		"# Benchmarks",
		"| feedd run (transactions, commit_interval 25ms) | 60 k (50 k–70 k) |",
		"kcat -P -b <broker> -t <topic> -p 0 -X acks=all -X enable.idempotence=true -l frames.txt",
		"median ratio 0.60× (0.50×–0.70×) | **missed** |",
		"p50 2.00 ms, p99 12.0 ms | met |",
		"The fix that moved the figure.",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(doc, "# old figures") || strings.Count(doc, notesMarker) != 1 {
		t.Errorf("the old figures or a second notes marker survived:\n%s", doc)
	}
}

// TestReportShowsFranzGoAlone: where franz-go alone produced the file, the
// throughput section has its row and its ratios, and the target names it
// without judging by it; results saved before it was measured have none.
func TestReportShowsFranzGoAlone(t *testing.T) {
	o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--only", "throughput"})
	if err != nil {
		t.Fatal(err)
	}
	res := &results{o: o, Started: time.Now(), Machine: "2 cores", Versions: "test", Real: true, Durations: map[string]time.Duration{},
		Throughput: newThroughputResult(1000)}
	tr := res.Throughput
	tr.Feedd, tr.Kcat, tr.KcatHeaders = []float64{50e3, 60e3, 70e3}, []float64{100e3, 100e3, 100e3}, []float64{70e3, 70e3, 70e3}
	tr.KcatStart, tr.Ratios, tr.HeaderRatios = []float64{0.02}, []float64{0.5, 0.6, 0.7}, []float64{0.7, 0.9, 1}
	if doc := renderString(res); strings.Contains(doc, "franz-go alone") {
		t.Errorf("a run without franz-go alone mentions it:\n%s", doc)
	}
	tr.FranzGo = []float64{35e3, 35e3, 42e3}
	doc := renderString(res)
	for _, want := range []string{
		"| franz-go alone, feedd's header, transactions | 35 k (35 k–42 k) |",
		"franz-go alone / kcat with headers, each set of runs: 0.50, 0.50, 0.60; median **0.50×**; feedd / franz-go alone: median **1.67×**.",
		"| throughput: feedd at least 1.0× kcat (transactions on, default commit interval) | median ratio 0.60× (0.50×–0.70×); franz-go alone with feedd's header, in transactions: 0.35× (0.35×–0.42×) | **missed** |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}
}

func TestParseKcatVersion(t *testing.T) {
	out := "kcat - Apache Kafka producer and consumer tool\nVersion 1.7.1 (JSON, Transactions, IncrementalAssign, librdkafka 2.0.2 builtin.features=gzip,snappy)\n"
	if got := parseKcatVersion(out); got != "kcat 1.7.1 (librdkafka 2.0.2)" {
		t.Fatalf("parseKcatVersion = %q", got)
	}
}
