package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// auditTopic starts a broker and writes, in a committed transaction, one
// record per sequence number given (as a member writes them), in that
// order.
func auditTopic(t *testing.T, topic string, seqs ...uint64) string {
	t.Helper()
	addr := topicBroker(t, topic)
	appendSeqs(t, addr, topic, seqs...)
	return addr
}

// topicBroker starts a broker with topic, of one partition, on it.
func topicBroker(t *testing.T, topic string) string {
	t.Helper()
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	return b.Addr()
}

// appendSeqs writes one record per sequence number, in one committed
// transaction.
func appendSeqs(t *testing.T, addr, topic string, seqs ...uint64) {
	t.Helper()
	var recs []*kgo.Record
	for _, s := range seqs {
		value := fmt.Appendf(nil, "$FDSEQ,%d,0,x*00", s)
		m := broadcast.RecordMeta{Fingerprint: ingest.Fingerprint(value), FeedSeq: s, HasFeedSeq: true, Member: []byte("a"), ReceivedAt: time.Now().UnixNano()}
		recs = append(recs, &kgo.Record{Value: value, Headers: []kgo.RecordHeader{{Key: broadcast.RecordHeader, Value: m.Append(nil)}}})
	}
	produce(t, addr, topic, "audit-cli-test", recs...)
}

// produce writes recs to partition 0 of topic one after the other: in one
// committed transaction as txnID, or, if txnID is empty, without one.
func produce(t *testing.T, addr, topic, txnID string, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableClientMetrics()}
	if txnID != "" {
		opts = append(opts, kgo.TransactionalID(txnID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if txnID != "" {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if txnID != "" {
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
}

// reportHas fails the test for each of wants that report does not contain.
func reportHas(t *testing.T, report string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

func runAuditCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runAuditCLIContext(context.Background(), args...)
}

// runAuditCLIContext runs `feedd audit` until it exits; cancelling ctx is
// what Ctrl-C does to it.
func runAuditCLIContext(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = dispatch(ctx, append([]string{"audit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditCommandClean(t *testing.T) {
	addr := auditTopic(t, "feed", 1, 2, 3, 4, 5)
	code, out, errs := runAuditCLI(t, "--kafka.brokers", addr, "--kafka.topic", "feed")
	if code != 0 || !strings.Contains(out, "verdict: clean") || !strings.Contains(out, "5 distinct sequence numbers, 1 to 5") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	// The member's configuration says where the topic is; nothing but its
	// kafka section is needed.
	cfg := writeConfig(t, fmt.Sprintf("pipeline: p\nkafka:\n  brokers: [%s]\n  topic: feed\n", addr))
	code, out, errs = runAuditCLI(t, "--config", cfg, "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Clean || rep.Sequenced.Last != 5 {
		t.Fatalf("--config --json: exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
}

func TestAuditCommandFindings(t *testing.T) {
	addr := auditTopic(t, "feed", 1, 2, 3, 7, 8, 8, 10, 9)
	code, out, errs := runAuditCLI(t, "--kafka.brokers", addr, "--kafka.topic", "feed")
	reportHas(t, out, "[4, 6] 3 missing", "seq 8, 2 copies", "seq 9 at offset 7", "verdict: NOT CLEAN")
	if code != 0 {
		t.Fatalf("without --strict: exit %d (want 0: the report is the result)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runAuditCLI(t, "--strict", "--kafka.brokers", addr, "--kafka.topic", "feed")
	if code != 1 || !strings.Contains(errs, "not clean") || !strings.Contains(out, "verdict: NOT CLEAN") {
		t.Fatalf("--strict: exit %d (want 1)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, _ = runAuditCLI(t, "--strict", "--kafka.brokers", addr, "--kafka.topic", "feed", "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Clean || rep.Sequenced.GapCount != 1 ||
		rep.Sequenced.DuplicatedSeqs != 1 || rep.Sequenced.OutOfOrderCount != 1 {
		t.Fatalf("--json: exit %d, err %v, report %+v", code, err, rep.Sequenced)
	}
}

// TestAuditCommandFollows follows a topic from its end while records are
// committed, serving its metrics, and reports when interrupted.
func TestAuditCommandFollows(t *testing.T) {
	addr := auditTopic(t, "feed", 1, 2, 3) // offsets 0-2, marker 3
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := runAuditCLIContext(ctx, "--kafka.brokers", addr, "--kafka.topic", "feed", "--start", "end", "--follow",
			"--strict", "--json", "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		done <- result{code, out, errs}
	}()
	metric := func(name string) string {
		resp, err := http.Get(metricsURL)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	testsupport.Until(t, 30*time.Second, "the audit to start at the end of the topic", func() bool { return metric("feedd_audit_next_offset") == "4" })
	appendSeqs(t, addr, "feed", 4, 5, 6)
	testsupport.Until(t, 30*time.Second, "the audit to read the new records", func() bool { return metric("feedd_audit_last_sequence") == "6" })
	if got := metric("feedd_audit_missing_frames"); got != "0" {
		t.Errorf("feedd_audit_missing_frames = %q", got)
	}
	interrupt()
	res := <-done
	var rep audit.Report
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil || res.code != 0 {
		t.Fatalf("exit %d, %v\nstdout:\n%s\nstderr:\n%s", res.code, err, res.out, res.errs)
	}
	if !rep.Clean || !rep.Followed || rep.From != 4 || rep.Sequenced.First != 4 || rep.Sequenced.Last != 6 || rep.End != 8 || rep.Latency.Count != 3 {
		t.Fatalf("report: clean %v, followed %v, offsets [%d, %d), seqs %d-%d, latency %+v",
			rep.Clean, rep.Followed, rep.From, rep.End, rep.Sequenced.First, rep.Sequenced.Last, rep.Latency)
	}

	// --duration ends following by itself; an idle topic is clean and says
	// it saw no latency.
	code, out, errs := runAuditCLI(t, "--kafka.brokers", addr, "--kafka.topic", "feed", "--start", "end", "--duration", "300ms")
	if code != 0 || !strings.Contains(out, "no record was committed while the audit followed the topic") {
		t.Fatalf("--duration: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

// TestAuditCommandStrictWithoutSequenceNumbers: a strict audit cannot vouch
// for a topic whose records carry no sequence number, and says why.
func TestAuditCommandStrictWithoutSequenceNumbers(t *testing.T) {
	addr := topicBroker(t, "plain")
	produce(t, addr, "plain", "", &kgo.Record{Value: []byte("a frame")}, &kgo.Record{Value: []byte("another")})
	code, out, errs := runAuditCLI(t, "--strict", "--kafka.brokers", addr, "--kafka.topic", "plain")
	if code != 1 || !strings.Contains(errs, "no record carries a feed sequence number") || !strings.Contains(out, "configure a sequence extractor") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

func TestAuditCommandUsage(t *testing.T) {
	if code, _, errs := runAuditCLI(t); code != 2 || !strings.Contains(errs, "--kafka.brokers and --kafka.topic") {
		t.Fatalf("no topic: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runAuditCLI(t, "extra"); code != 2 {
		t.Fatalf("extra argument: exit %d", code)
	}
	if code, _, errs := runAuditCLI(t, "--kafka.brokers", "b:9092", "--kafka.topic", "t", "--start", "middle"); code != 2 || !strings.Contains(errs, "--start") {
		t.Fatalf("--start middle: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runAuditCLI(t, "--kafka.brokers", "127.0.0.1:1", "--kafka.topic", "t", "--timeout", "300ms"); code != 1 || errs == "" {
		t.Fatalf("unreachable broker: exit %d, stderr %q", code, errs)
	}
	// A configuration the audit cannot use exits as feedd run does on one,
	// so a job that runs it can tell a broken file from a dirty topic.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("kafka:\n  brokerz: [b:9092]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runAuditCLI(t, "--config", bad); code != exitConfig || !strings.Contains(errs, "brokerz") {
		t.Fatalf("unknown key: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runAuditCLI(t, "--config", filepath.Join(t.TempDir(), "none.yaml")); code != exitConfig || !strings.Contains(errs, "config file") {
		t.Fatalf("no config file: exit %d, stderr %q", code, errs)
	}
}
