package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/memberproc"
)

// metricsEndpoint is one /metrics endpoint checked by promtool.
type metricsEndpoint struct {
	name string
	url  string
}

// TestPromtoolCheckMetrics runs a real pair (the end-to-end harness: the
// feedd binary, a local broker, simulated ports) until one member is active
// and committing and the other trims its ring on echo, then feeds what every
// /metrics endpoint serves to `promtool check metrics`, which lints names,
// types, units, help texts and the exposition format. Any problem it
// reports fails the test. `make checkmetrics` runs only this test.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := needPromtool(t)
	c := newE2ECluster(t, e2eOptions{})
	active, inactive := c.waitPair()
	c.stream(300 * time.Millisecond)

	// Every process that serves /metrics, one line each.
	endpoints := []metricsEndpoint{
		{"member " + active.id + " (active)", "http://" + active.adminAddr + "/metrics"},
		{"member " + inactive.id + " (inactive)", "http://" + inactive.adminAddr + "/metrics"},
		{"audit", "http://" + startFollowingAudit(t, c) + "/metrics"},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			body := scrape(t, ep.url)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(body)
			out, err := cmd.CombinedOutput()
			// promtool prints one line per problem; it exits non-zero for
			// errors and for lint problems alike.
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("promtool check metrics on %s (%d bytes): %v\n%s", ep.url, len(body), err, out)
			}
		})
	}
}

// startFollowingAudit runs `feedd audit --follow --metrics-listen` on the
// cluster's topic until the test ends, and returns its metrics address
// once it has read the topic up to the records committed so far.
func startFollowingAudit(t *testing.T, c *e2eCluster) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(c.bin, "audit", "--kafka.brokers", c.broker.Addr(), "--kafka.topic", c.topic,
		"--follow", "--metrics-listen", addr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("feedd audit --follow: %v\n%s", err, out.String())
		}
	})
	c.waitFor("the audit to read committed records", func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return bytes.Contains(body, []byte(`feedd_audit_records_total{identity="sequence"}`)) &&
			!bytes.Contains(body, []byte(`feedd_audit_records_total{identity="sequence"} 0`)), "no record read yet"
	})
	return addr
}

// TestE2EMetrics checks, on a real pair, the values of the metrics that
// describe failovers: the first activation by reason and its duration,
// heartbeats missed while the peer is stopped, and the takeover after a
// kill -9 counted as an obituary activation, with its duration.
func TestE2EMetrics(t *testing.T) {
	c := newE2ECluster(t, e2eOptions{})
	active, inactive := c.waitPair()

	mfs := scrapeFamilies(t, active)
	// Activations of every reason (the unit tests check that each reason
	// has its series from zero).
	byReason, ok := mfs["feedd_pair_activations_total"]
	if !ok {
		t.Fatal("feedd_pair_activations_total is not exposed")
	}
	var activations float64
	for _, m := range byReason.GetMetric() {
		activations += m.GetCounter().GetValue()
	}
	if activations < 1 {
		t.Fatalf("the active member %s reports %v activations", active.id, activations)
	}
	// The histogram counts an activation once its backlog is committed,
	// which waitPair's commits have done for the current one; an earlier
	// one that ended before its flush (a start-up flap) is not counted.
	if n, err := mfs.Value("feedd_broadcast_activation_duration_seconds"); err != nil || n < 1 || n > activations {
		t.Errorf("feedd_broadcast_activation_duration_seconds count %v (%v) with %v activations: want 1 to %v", n, err, activations, activations)
	}
	commits, err := mfs.Value("feedd_broadcast_commits_total")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := mfs.Value("feedd_broadcast_commit_duration_seconds"); err != nil || n < 1 || n > commits {
		t.Errorf("feedd_broadcast_commit_duration_seconds count %v (%v), commits %v scraped after it: want 1 to %v", n, err, commits, commits)
	}

	// The inactive stops: the active counts its heartbeats as missed.
	missed := func() float64 {
		v, err := scrapeFamilies(t, active).Value("feedd_pair_heartbeats_missed_total")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := missed()
	inactive.hang()
	c.waitFor(active.id+" counting the heartbeats "+inactive.id+" misses", func() (bool, string) {
		n := missed()
		return n >= before+5, fmt.Sprintf("%v missed, %v before the stop", n, before)
	})
	inactive.resume()
	active, inactive = c.waitPair()

	// kill -9 of the active: the other takes over on the obituary.
	killedAt := time.Now()
	active.kill()
	c.waitActive(inactive, killedAt)
	c.waitFor(inactive.id+"'s takeover in its metrics", func() (bool, string) {
		mfs := scrapeFamilies(t, inactive)
		obit, err1 := mfs.Value("feedd_pair_activations_total", "reason", "obituary")
		hist, err2 := mfs.Value("feedd_broadcast_activation_duration_seconds")
		return err1 == nil && err2 == nil && obit >= 1 && hist >= obit,
			fmt.Sprintf("obituary activations %v (%v), activation durations observed %v (%v)", obit, err1, hist, err2)
	})
}

// needPromtool returns the path of promtool (Debian package prometheus). It
// skips the test without it, unless FEEDD_REQUIRE_PROMTOOL is set.
func needPromtool(t *testing.T) string {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FEEDD_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool not found and FEEDD_REQUIRE_PROMTOOL is set: install it (apt-get install prometheus, or make deps)")
		}
		t.Skip("SKIPPED: promtool not found (apt-get install prometheus, or make deps; FEEDD_REQUIRE_PROMTOOL=1 makes this a failure)")
	}
	return promtool
}

// scrape fetches a /metrics endpoint in the text format promtool reads.
func scrape(t *testing.T, url string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := e2eHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: content type %q, want the text format", url, ct)
	}
	if !bytes.Contains(body, []byte("feedd_")) {
		t.Fatalf("GET %s: no feedd_ metric in %d bytes", url, len(body))
	}
	return body
}

// scrapeFamilies scrapes a member's /metrics and parses it.
func scrapeFamilies(t *testing.T, m *e2eMember) memberproc.Metrics {
	t.Helper()
	mfs, err := m.current().Metrics(context.Background())
	if err != nil {
		t.Fatalf("member %s: %v", m.id, err)
	}
	return mfs
}
