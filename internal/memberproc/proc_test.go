package memberproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/member"
)

// The tests run this test binary as the member: with fakeMemberEnv set,
// TestMain turns it into a process that serves a /status document on the
// admin address it is given, as `feedd run` does, and behaves as its
// arguments say.
const fakeMemberEnv = "MEMBERPROC_FAKE_MEMBER"

func TestMain(m *testing.M) {
	if os.Getenv(fakeMemberEnv) != "" {
		os.Exit(fakeMember(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeMember: the arguments are the admin address and a behaviour:
// "serve" (exit 0 on SIGTERM), "ignore-term" (never exit by itself) or
// "exit" (print to stderr and exit with status 3 at once). The role it
// reports is inactive for its first three /status requests, then active.
func fakeMember(args []string) int {
	admin, how := args[0], args[1]
	fmt.Fprintf(os.Stderr, "fake member %s, %s, env %s\n", admin, how, os.Getenv("FAKE_MEMBER_NOTE"))
	if how == "exit" {
		return 3
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if how == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	}
	var reads atomic.Int64
	ln, err := net.Listen("tcp", admin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			fmt.Fprint(w, fakeMetrics)
			return
		}
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		st := member.Status{StatusVersion: member.StatusVersion, Member: "fake", Role: "inactive"}
		if reads.Add(1) > 3 {
			st.Role = "active"
		}
		json.NewEncoder(w).Encode(st)
	}))
	<-term
	return 0
}

// fakeMetrics is what the fake member serves on /metrics.
const fakeMetrics = `# HELP feedd_pair_activations_total Activations.
# TYPE feedd_pair_activations_total counter
feedd_pair_activations_total{reason="no-active"} 1
feedd_pair_activations_total{reason="obituary"} 2
# HELP feedd_broadcast_commit_duration_seconds Commits.
# TYPE feedd_broadcast_commit_duration_seconds histogram
feedd_broadcast_commit_duration_seconds_bucket{le="0.1"} 3
feedd_broadcast_commit_duration_seconds_bucket{le="+Inf"} 4
feedd_broadcast_commit_duration_seconds_sum 0.5
feedd_broadcast_commit_duration_seconds_count 4
`

// start starts a fake member.
func start(t *testing.T, how string, cfg Config) *Proc {
	t.Helper()
	admin := testsupport.ClosedAddr(t)
	cfg.Path, cfg.Args, cfg.Admin = os.Args[0], []string{admin, how}, admin
	cfg.Env = append(os.Environ(), fakeMemberEnv+"=1", "FAKE_MEMBER_NOTE=hello")
	if cfg.Log == "" {
		cfg.Log = filepath.Join(t.TempDir(), "member.log")
	}
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func isActive(st *member.Status) bool { return st.Role == "active" }

// TestWaitForThenStop: WaitFor reads /status until the condition holds
// (the fake reports active from its fourth read on); SIGTERM ends the
// process cleanly within the grace.
func TestWaitForThenStop(t *testing.T) {
	p := start(t, "serve", Config{})
	st, err := p.WaitFor(context.Background(), isActive)
	if err != nil {
		t.Fatal(err)
	}
	if st.Member != "fake" || st.StatusVersion != member.StatusVersion {
		t.Errorf("status %+v", st)
	}
	if p.EndRequested() {
		t.Error("EndRequested before Stop")
	}
	if err := p.Stop(time.Hour); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !p.EndRequested() || !p.Exited() || p.Wait() != nil {
		t.Errorf("after Stop: end requested %v, exited %v, wait %v", p.EndRequested(), p.Exited(), p.Wait())
	}
	if err := p.Hang(); !errors.Is(err, ErrExited) {
		t.Errorf("Hang of an exited process: %v, want ErrExited", err)
	}
	log, err := os.ReadFile(p.LogPath())
	if err != nil || !strings.Contains(string(log), "serve, env hello") {
		t.Errorf("log %q (%v): want the member's stderr, with its environment", log, err)
	}
}

// TestMetrics: one scrape, read by family and labels.
func TestMetrics(t *testing.T) {
	p := start(t, "serve", Config{})
	if _, err := p.WaitFor(context.Background(), isActive); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"feedd_pair_activations_total", []string{"reason", "obituary"}, 2},
		{"feedd_pair_activations_total", []string{"reason", "no-active"}, 1},
		{"feedd_broadcast_commit_duration_seconds", nil, 4},
	} {
		if got, err := ms.Value(c.name, c.labels...); err != nil || got != c.want {
			t.Errorf("%s %v = %v (%v), want %v", c.name, c.labels, got, err, c.want)
		}
	}
	if _, err := ms.Value("feedd_pair_activations_total", "reason", "silence"); err == nil {
		t.Error("a series that is not exposed has a value")
	}
	if _, err := ms.Value("feedd_nothing"); err == nil {
		t.Error("a family that is not exposed has a value")
	}
}

// TestStopKillsAfterGrace: a process that ignores SIGTERM is killed once
// the grace has passed.
func TestStopKillsAfterGrace(t *testing.T) {
	p := start(t, "ignore-term", Config{})
	if _, err := p.WaitFor(context.Background(), isActive); err != nil {
		t.Fatal(err)
	}
	err := p.Stop(50 * time.Millisecond)
	var ee *exec.ExitError
	if !errors.Is(err, ErrKilledAfterGrace) || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("Stop: %v, want ErrKilledAfterGrace and SIGKILL", err)
	}
}

// TestKill: kill -9 ends the process at once; Wait says so.
func TestKill(t *testing.T) {
	p := start(t, "ignore-term", Config{})
	if _, err := p.WaitFor(context.Background(), isActive); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	var ee *exec.ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("Wait after Kill: %v", err)
	}
	if !p.EndRequested() {
		t.Error("EndRequested false after Kill")
	}
	p.Kill() // a second Kill is harmless
}

// TestHangResume: a hung process answers nothing; resumed, it answers
// again; a hung process still stops cleanly (Stop resumes it first).
func TestHangResume(t *testing.T) {
	p := start(t, "serve", Config{AdminTimeout: 100 * time.Millisecond})
	if _, err := p.WaitFor(context.Background(), isActive); err != nil {
		t.Fatal(err)
	}
	if err := p.Hang(); err != nil {
		t.Fatal(err)
	}
	waitProcState(t, p.Pid(), 'T')
	if !p.Hung() {
		t.Error("Hung false after Hang")
	}
	// The kernel accepts the connection; nobody answers it.
	if st, err := p.Status(context.Background()); err == nil {
		t.Fatalf("a stopped process answered /status: %+v", st)
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if p.Hung() {
		t.Error("Hung true after Resume")
	}
	if _, err := p.WaitFor(context.Background(), isActive); err != nil {
		t.Fatal(err)
	}
	if err := p.Hang(); err != nil {
		t.Fatal(err)
	}
	waitProcState(t, p.Pid(), 'T')
	if err := p.Stop(time.Hour); err != nil {
		t.Fatalf("Stop of a hung process: %v", err)
	}
}

// TestWaitForExit: WaitFor fails when the process exits, with how it
// ended; the log is appended to when asked.
func TestWaitForExit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "member.log")
	if err := os.WriteFile(log, []byte("an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "exit", Config{Log: log, AppendLog: true})
	_, err := p.WaitFor(context.Background(), isActive)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("WaitFor: %v, want the process's exit", err)
	}
	p.Kill()
	if p.EndRequested() {
		t.Error("EndRequested after a Kill of a process that had exited by itself")
	}
	if got, _ := os.ReadFile(log); !strings.HasPrefix(string(got), "an earlier run\nfake member") {
		t.Errorf("log %q: want the earlier run kept and this one appended", got)
	}
}

// TestWaitForContext: WaitFor gives up when its context ends, saying what
// it read last.
func TestWaitForContext(t *testing.T) {
	p := start(t, "serve", Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.WaitFor(ctx, func(*member.Status) bool { return false })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor: %v, want context.Canceled", err)
	}
}

// waitProcState waits until /proc says the process is in state (e.g. 'T',
// stopped): a signal is delivered asynchronously.
func waitProcState(t *testing.T, pid int, state byte) {
	t.Helper()
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.LastIndexByte(string(stat), ')')
		if i >= 0 && i+2 < len(stat) && stat[i+2] == state {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
