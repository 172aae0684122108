package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The demo's members are child processes of "this executable". Under go
// test that is the test binary, so the demo test starts it again running
// only TestDemoChildProcess, which acts as `feedd` with the arguments after
// "--".
const demoChildEnv = "FEEDD_DEMO_TEST_CHILD"

func TestDemoChildProcess(t *testing.T) {
	if os.Getenv(demoChildEnv) != "1" {
		t.Skip("runs only as a member started by TestDemo")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func testDemoChild(args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestDemoChildProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), demoChildEnv+"=1")
	return cmd, nil
}

func demoNeedsSocat(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err == nil {
		return
	}
	if os.Getenv("FEEDD_REQUIRE_SOCAT") != "" {
		t.Fatal("socat is not installed and FEEDD_REQUIRE_SOCAT is set (apt-get install socat, or make deps)")
	}
	t.Skip("socat is not installed (apt-get install socat, or make deps)")
}

func TestDemoFailoversLeaveNoGapAndNoDuplicate(t *testing.T) {
	demoNeedsSocat(t)
	if testing.Short() {
		t.Skip("starts a broker, a simulated feed and two member processes")
	}
	dir := t.TempDir()
	o, err := parseDemoFlags([]string{"--duration", "8s", "--failover-every", "3s", "--dir", dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.command = testDemoChild
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := playDemo(ctx, o, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	failed := false
	if !res.clean() || !strings.Contains(out.String(), "audit of the topic (read_committed, by feedd-seq): clean: no gap, no duplicate") {
		t.Errorf("audit: %s", res.verdict())
		failed = true
	}
	if !res.Drained {
		t.Error("the audit did not read the topic to its end")
		failed = true
	}
	if res.Kills < 1 || len(res.Takeovers) < 1 {
		t.Errorf("%d kills and %d takeovers; want at least one failover", res.Kills, len(res.Takeovers))
		failed = true
	}
	if res.Live.Records < 20 {
		t.Errorf("only %d records committed", res.Live.Records)
		failed = true
	}
	if failed {
		for _, id := range demoMemberIDs {
			log, _ := os.ReadFile(filepath.Join(dir, id+".log"))
			t.Logf("%s.log:\n%s", id, log)
		}
	}
}

func TestDemoFlags(t *testing.T) {
	o, err := parseDemoFlags(nil, io.Discard)
	if err != nil || o.Duration != 0 || o.FailoverEvery != 15*time.Second {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	if o = o.withDefaults(); o.RestartAfter != 3*time.Second || o.Refresh != time.Second {
		t.Fatalf("derived defaults: restart after %v, refresh %v", o.RestartAfter, o.Refresh)
	}
	if o, _ := parseDemoFlags([]string{"--failover-every", "3s"}, io.Discard); o.withDefaults().RestartAfter != 1500*time.Millisecond {
		t.Fatalf("restart after %v for a 3s failover period; want half of it", o.withDefaults().RestartAfter)
	}
	for _, bad := range [][]string{
		{"--duration", "-1s"}, {"--failover-every", "500ms"}, {"--rate", "0"}, {"extra"}, {"--bogus"},
	} {
		if _, err := parseDemoFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestDemoSeqAudit(t *testing.T) {
	feed := func(seqs ...uint64) seqAudit {
		var a seqAudit
		for _, s := range seqs {
			a.add(s, true)
		}
		return a
	}
	if a := feed(5, 6, 7, 8); !a.ok() || a.First != 5 || a.Last != 8 || !strings.Contains(a.verdict(), "no gap, no duplicate") {
		t.Errorf("complete run: %+v %s", a, a.verdict())
	}
	if a := feed(1, 2, 5, 6, 9); a.ok() || a.Missing != 4 || len(a.Gaps) != 2 || !strings.Contains(a.verdict(), "GAP: 4 missing (feed-seq 3-4, 7-8)") {
		t.Errorf("gaps: %+v %s", a, a.verdict())
	}
	if a := feed(1, 2, 3, 2, 3, 4); a.ok() || a.Duplicates != 2 || a.Missing != 0 || !strings.Contains(a.verdict(), "DUPLICATE: 2") {
		t.Errorf("duplicates: %+v %s", a, a.verdict())
	}
	if a := feed(1, 2, 6, 4, 3, 5); a.ok() || a.OutOfOrder != 3 || a.Missing != 0 || len(a.Gaps) != 0 {
		t.Errorf("a gap filled late is out of order, not missing: %+v %s", a, a.verdict())
	}
	if a := feed(1, 5, 3); a.Missing != 2 || len(a.Gaps) != 2 || a.Gaps[0] != (seqRange{2, 2}) || a.Gaps[1] != (seqRange{4, 4}) {
		t.Errorf("split gap: %+v", a)
	}
	var a seqAudit
	a.add(1, true)
	a.add(0, false)
	if a.ok() || !strings.Contains(a.verdict(), "1 record without a feedd-seq header") {
		t.Errorf("record without a sequence: %s", a.verdict())
	}
	if empty := (seqAudit{}); empty.ok() {
		t.Error("an empty topic passes the audit")
	}
}
