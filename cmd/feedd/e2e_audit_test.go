package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// auditTopic starts a broker and writes, in committed transactions, one
// record per sequence number given (as a member writes them), in that
// order.
func auditTopic(t *testing.T, topic string, seqs ...uint64) string {
	t.Helper()
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("audit-cli-test"),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, s := range seqs {
		r := &kgo.Record{Value: fmt.Appendf(nil, "$FDSEQ,%d,0,x*00", s), Headers: []kgo.RecordHeader{
			{Key: broadcast.HeaderFeedSeq, Value: strconv.AppendUint(nil, s, 10)},
			{Key: broadcast.HeaderMember, Value: []byte("a")},
		}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	return b.Addr()
}

func runAuditCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), append([]string{"audit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditCommandClean(t *testing.T) {
	addr := auditTopic(t, "feed", 1, 2, 3, 4, 5)
	code, out, errs := runAuditCLI(t, "--brokers", addr, "--topic", "feed")
	if code != 0 || !strings.Contains(out, "verdict: clean") || !strings.Contains(out, "5 distinct sequence numbers, 1 to 5") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	// The member's configuration says where the topic is; nothing but its
	// kafka section is needed.
	cfg := filepath.Join(t.TempDir(), "member.yaml")
	yaml := fmt.Sprintf("pipeline: p\nkafka:\n  brokers: [%s]\n  topic: feed\n", addr)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runAuditCLI(t, "--config", cfg, "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Clean || rep.Sequenced.Last != 5 {
		t.Fatalf("--config --json: exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
}

func TestAuditCommandFindings(t *testing.T) {
	addr := auditTopic(t, "feed", 1, 2, 3, 7, 8, 8, 10, 9)
	code, out, errs := runAuditCLI(t, "--brokers", addr, "--topic", "feed")
	for _, want := range []string{"[4, 6] 3 missing", "seq 8, 2 copies", "seq 9 at offset 7", "verdict: NOT CLEAN"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if code != 1 || !strings.Contains(errs, "not clean") {
		t.Fatalf("exit %d (want 1)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, _ = runAuditCLI(t, "--brokers", addr, "--topic", "feed", "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Clean || rep.Sequenced.GapCount != 1 ||
		rep.Sequenced.DuplicatedSeqs != 1 || rep.Sequenced.OutOfOrderCount != 1 {
		t.Fatalf("--json: exit %d, err %v, report %+v", code, err, rep.Sequenced)
	}
}

func TestAuditCommandUsage(t *testing.T) {
	if code, _, errs := runAuditCLI(t); code != 2 || !strings.Contains(errs, "--brokers and --topic") {
		t.Fatalf("no topic: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runAuditCLI(t, "extra"); code != 2 {
		t.Fatalf("extra argument: exit %d", code)
	}
	if code, _, errs := runAuditCLI(t, "--brokers", "127.0.0.1:1", "--topic", "t", "--timeout", "300ms"); code != 1 || errs == "" {
		t.Fatalf("unreachable broker: exit %d, stderr %q", code, errs)
	}
}
