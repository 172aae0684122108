package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
	"gopkg.in/yaml.v3"
)

// TestDemoChaosWithPrometheus runs what an operator runs to see feedd at
// work, `feedd demo --duration 60s --chaos --json`, and while it runs has a
// real Prometheus server (Debian's prometheus package) scrape it with the
// shipped alert rules loaded. It checks that every query of every dashboard
// panel returns data, that every alert rule evaluates without error and
// every series it reads exists, and that the demo's summary shows at least
// three failovers with no gap, no missing frame, no duplicate and nothing
// out of order.
func TestDemoChaosWithPrometheus(t *testing.T) {
	demoNeedsSocat(t)
	if testing.Short() {
		t.Skip("runs the demo for a minute")
	}
	promBin := lookPrometheus(t)

	dir := t.TempDir()
	o, err := parseDemoFlags([]string{"--duration", "60s", "--chaos", "--seed", "7", "--json", "--dir", dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.command = testDemoChild
	var view testsupport.SyncBuffer
	o.Status = &view
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	demoErr := make(chan error, 1)
	start := time.Now()
	go func() { demoErr <- demoMain(ctx, o, &out) }()
	keepLogs := func() {
		t.Logf("demo view:\n%s", view.String())
		for _, id := range demoMemberIDs {
			log, _ := os.ReadFile(filepath.Join(dir, id+".log"))
			t.Logf("%s.log:\n%s", id, log)
		}
	}

	// The demo writes a Prometheus configuration for its members and its
	// audit; scrape every second and load the shipped rules.
	demoProm := filepath.Join(dir, "prometheus.yml")
	testsupport.Until(t, time.Minute, "the demo's prometheus.yml", func() bool { _, err := os.Stat(demoProm); return err == nil })
	cfg, err := os.ReadFile(demoProm)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	testCfg := strings.NewReplacer("scrape_interval: 5s", "scrape_interval: 1s", "evaluation_interval: 5s", "evaluation_interval: 1s").Replace(string(cfg)) +
		fmt.Sprintf("rule_files: [%q]\n", rules)
	promCfg := filepath.Join(dir, "prometheus-test.yml")
	if err := os.WriteFile(promCfg, []byte(testCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, promBin, promCfg, filepath.Join(dir, "tsdb"))

	// On a loaded machine Prometheus can start scraping late: the queries
	// below need a series of every target, so wait for the first scrape of
	// each (up is written for every scrape, failed or not) and give the
	// rate windows some samples after it.
	targets := strings.Count(testCfg, "- targets:")
	testsupport.Until(t, time.Minute, fmt.Sprintf("Prometheus to scrape all %d targets", targets), func() bool {
		n, err := prom.query("up")
		return err == nil && n >= targets
	})
	scraped := time.Now()

	// Query once the pipeline has run long enough for failovers and for the
	// rate windows to fill, while the demo still runs.
	time.Sleep(time.Until(start.Add(40 * time.Second)))
	time.Sleep(time.Until(scraped.Add(10 * time.Second)))
	t.Run("dashboard panels return data", func(t *testing.T) {
		checkQueries(t, prom, dashboardQueries(t))
	})
	t.Run("alert rules evaluate", func(t *testing.T) {
		checkAlertRules(t, prom)
	})

	if err := <-demoErr; err != nil {
		keepLogs()
		t.Fatalf("demo: %v\nstdout:\n%s", err, out.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		keepLogs()
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	t.Logf("summary: %s", out.String())
	num := func(k string) float64 {
		v, ok := sum[k].(float64)
		if !ok {
			t.Errorf("summary has no number %q", k)
		}
		return v
	}
	for _, k := range []string{"gaps", "missing_frames", "duplicates", "out_of_order"} {
		if v := num(k); v != 0 {
			t.Errorf("%s = %v, want 0", k, v)
		}
	}
	if f := num("failovers"); f < 3 {
		t.Errorf("failovers = %v, want at least 3", f)
	}
	if m := num("max_failover_ms"); m <= 0 {
		t.Errorf("max_failover_ms = %v", m)
	}
	if sent, delivered := num("frames_sent"), num("frames_delivered"); delivered < 500 || delivered > sent {
		t.Errorf("frames_delivered %v of frames_sent %v", delivered, sent)
	}
	if t.Failed() {
		keepLogs()
	}
}

// lookPrometheus finds the prometheus server, or skips (fails when
// FEEDD_REQUIRE_PROMTOOL is set: promtool and the server come in the same
// package).
func lookPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err == nil {
		return bin
	}
	if os.Getenv("FEEDD_REQUIRE_PROMTOOL") != "" {
		t.Fatal("the prometheus server is not installed and FEEDD_REQUIRE_PROMTOOL is set (apt-get install prometheus, or make deps)")
	}
	t.Skip("the prometheus server is not installed (apt-get install prometheus, or make deps)")
	return ""
}

// promServer is a running Prometheus server's API base URL.
type promServer string

// startPrometheus runs a Prometheus server on a free loopback port until
// the test ends, and waits until it is ready.
func startPrometheus(t *testing.T, bin, config, storage string) promServer {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	logPath := filepath.Join(filepath.Dir(config), "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+storage,
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("prometheus.log:\n%s", log)
		}
	})
	base := "http://" + addr
	testsupport.Until(t, time.Minute, "prometheus to be ready", func() bool {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("prometheus exited:\n%s", log)
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return promServer(base)
}

// query runs an instant query and returns how many series it returned.
func (p promServer) query(expr string) (int, error) {
	resp, err := http.Get(string(p) + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s", r.Error)
	}
	return len(r.Data.Result), nil
}

// panelQuery is one query of one dashboard panel or annotation, its
// Grafana variables replaced by what they are in the demo. An annotation's
// query may rightly return nothing: the gaps it marks must not happen.
type panelQuery struct {
	panel, expr string
	mayBeEmpty  bool
}

// dashboardQueries returns the query of every panel, those in collapsed
// rows included, and of every annotation.
func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	d := readDashboard(t)
	vars := strings.NewReplacer(`"$pipeline"`, `"`+demoPipeline+`"`, `"$instance"`, `".*"`,
		"$__rate_interval", "10s", "$__interval", "10s", "$__range", "1m")
	var qs []panelQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			qs = append(qs, panelQuery{panel: p.Title, expr: vars.Replace(tg.Expr)})
		}
	}
	if len(qs) < 20 {
		t.Fatalf("only %d dashboard queries", len(qs))
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			qs = append(qs, panelQuery{panel: "annotation " + a.Name, expr: vars.Replace(a.Expr), mayBeEmpty: true})
		}
	}
	return qs
}

// checkQueries requires every query to succeed and, unless it may be empty,
// to return data at least once in a few rounds a few seconds apart: the
// demo's faults take the active member away for a moment, and a query about
// "the active member" has nothing to say then.
func checkQueries(t *testing.T, p promServer, qs []panelQuery) {
	t.Helper()
	pending := qs
	for round := 0; len(pending) > 0 && round < 5; round++ {
		if round > 0 {
			time.Sleep(2 * time.Second)
		}
		var again []panelQuery
		for _, q := range pending {
			n, err := p.query(q.expr)
			if err != nil {
				t.Errorf("panel %q: %s: %v", q.panel, q.expr, err)
				continue
			}
			if n == 0 && !q.mayBeEmpty {
				again = append(again, q)
			}
		}
		pending = again
	}
	for _, q := range pending {
		t.Errorf("panel %q: no data: %s", q.panel, q.expr)
	}
}

// checkAlertRules requires the server to report every shipped rule loaded
// and healthy (evaluated without error), and every series an alert
// expression reads to exist: an alert that reads a misspelt metric never
// fires.
func checkAlertRules(t *testing.T, p promServer) {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(testsupport.ReadFile(t, alertRules)), &file); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			want[r.Alert] = r.Expr
		}
	}

	// Each rule group is evaluated every second; give each a few rounds.
	var health map[string]string
	testsupport.Until(t, 30*time.Second, "every rule to be evaluated", func() bool {
		health = ruleHealth(t, p)
		for name := range want {
			if h := health[name]; h == "" || h == "unknown" {
				return false
			}
		}
		return true
	})
	for name, expr := range want {
		if h := health[name]; h != "ok" {
			t.Errorf("alert %s: health %q: %s", name, h, expr)
		}
		for _, metric := range seriesNames(expr) {
			sel := fmt.Sprintf(`{__name__=%q}`, metric)
			if n, err := p.query(sel); err != nil || n == 0 {
				t.Errorf("alert %s reads %s, which the demo's targets do not expose (%v)", name, metric, err)
			}
		}
	}
}

// ruleHealth returns each alerting rule's health as the server reports it
// ("ok", "err" with lastError, "unknown" before its first evaluation).
func ruleHealth(t *testing.T, p promServer) map[string]string {
	resp, err := http.Get(string(p) + "/api/v1/rules?type=alert")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			h[rule.Name] = rule.Health
			if rule.LastError != "" {
				h[rule.Name] += ": " + rule.LastError
			}
		}
	}
	return h
}

// seriesNames returns the metric names an expression reads: feedd's and
// the scrape's own (up) and the client library's (process_, go_).
func seriesNames(expr string) []string {
	names := regexp.MustCompile(`\b(?:feedd_[a-z0-9_]+|up|process_[a-z_]+|go_[a-z_]+)\b`).FindAllString(expr, -1)
	slices.Sort(names)
	return slices.Compact(names)
}
