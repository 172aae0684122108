package member

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// The monitoring files checked against a member's metrics.
const (
	metricsDoc     = "../docs/metrics.md"
	alertRules     = "../docs/prometheus/feedd-alerts.yml"
	alertTests     = "../docs/prometheus/feedd-alerts.test.yml"
	dashboardJSON  = "../docs/grafana/feedd-dashboard.json"
	kafkaClientPfx = "feedd_kafka_"
)

// TestMonitoringMetricsDocumented builds a member with New, activates its
// pipeline against the local broker so that the Kafka clients register
// their metrics too, and checks that docs/metrics.md documents every
// feedd_* metric family and names no metric that does not exist, and that
// the alert rules, their tests and the dashboard only use metrics a member
// exposes.
func TestMonitoringMetricsDocumented(t *testing.T) {
	doc := testsupport.ReadFile(t, metricsDoc)
	docNames, docPrefixes := metricTokens(doc)
	clients := kafkaClients(docPrefixes)
	if len(clients) == 0 {
		t.Fatalf("%s documents no Kafka client (feedd_kafka_<client>_*)", metricsDoc)
	}
	exposed := memberMetricNames(t, clients)
	for name := range describedNames(t, audit.NewMonitor().Collector()) {
		exposed[name] = true
	}
	t.Logf("a member exposes %d metric names; %s documents %d names and the Kafka clients %v", len(exposed), metricsDoc, len(docNames), clients)

	t.Run("exposed metrics are documented", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(exposed)) {
			if !strings.HasPrefix(name, "feedd_") {
				continue
			}
			if !documented(name, docNames, clients) {
				t.Errorf("%s is exposed by a member but not documented in %s", name, metricsDoc)
			}
		}
	})

	t.Run("documented metrics exist", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(docNames)) {
			if !exists(name, exposed, clients) {
				t.Errorf("%s names %s, which no member exposes", metricsDoc, name)
			}
		}
	})

	for _, f := range []string{alertRules, alertTests, dashboardJSON} {
		t.Run("metrics in "+filepath.Base(f)+" exist", func(t *testing.T) {
			names, prefixes := metricTokens(testsupport.ReadFile(t, f))
			if len(names) == 0 {
				t.Fatalf("%s names no feedd metric", f)
			}
			for _, name := range slices.Sorted(maps.Keys(names)) {
				if !exists(name, exposed, clients) {
					t.Errorf("%s uses %s, which no member exposes", f, name)
				}
			}
			for _, p := range slices.Sorted(maps.Keys(prefixes)) {
				if !hasPrefix(exposed, p) {
					t.Errorf("%s refers to %s*, but no exposed metric starts so", f, p)
				}
			}
			for _, name := range otherMetricNames(testsupport.ReadFile(t, f)) {
				if _, ok := exposed[name]; !ok {
					t.Errorf("%s uses %s, which no member exposes", f, name)
				}
			}
		})
	}
}

// memberMetricNames returns the name of every metric a member exposes: the
// descriptors of every registered collector (which include counter vectors
// with no series yet and unobserved histograms) and the families gathered
// after an activation (which include the Kafka clients' metrics, registered
// when each client starts). It waits until each of the Kafka clients named
// has registered its metrics.
func memberMetricNames(t *testing.T, clients []string) map[string]bool {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a local broker and activates a pipeline")
	}
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	reg, pipe, _ := newMonitoringMember(t, b.Addr())

	names := map[string]bool{}
	describe := func() {
		for name := range describedNames(t, reg) {
			names[name] = true
		}
	}
	gather := func() {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			names[mf.GetName()] = true
		}
	}
	describe()
	gather()

	// Run and activate the pipeline: the producer, echo and control
	// clients register their metrics as they start.
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = pipe.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	if err := pipe.Activate(actx); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "the Kafka clients documented in "+metricsDoc+" to register metrics after an activation", func() (bool, string) {
		describe()
		gather()
		var missing []string
		for _, c := range clients {
			if !hasPrefix(names, kafkaClientPfx+c+"_") {
				missing = append(missing, c)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%v registered none", missing)
	})
	if err := pipe.Deactivate(actx, broadcast.Planned); err != nil && !errors.Is(err, broadcast.ErrNotActive) {
		t.Fatal(err)
	}
	return names
}

// describedNames returns the names of the metrics c describes, including
// vectors with no series yet and unobserved histograms.
func describedNames(t *testing.T, c prometheus.Collector) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	var unnamed []string
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		} else {
			unnamed = append(unnamed, d.String())
		}
	}
	if len(unnamed) > 0 {
		t.Fatalf("cannot read the names of %v", unnamed)
	}
	return names
}

// loneMemberConfig decodes, completes and validates the configuration of member a of
// pipeline name (also its topic) for the broker at brokerAddr: its serial
// device does not exist and its one peer never answers.
func loneMemberConfig(t *testing.T, name, brokerAddr string) Config {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(name+"-test-secret-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgYAML := `pipeline: ` + name + `
member_id: a
serial: {device: ` + filepath.Join(dir, "no-such-tty") + `, baud: 115200}
framing: {mode: nmea}
sequence: {nmea_field: 1}
kafka: {brokers: [` + brokerAddr + `], topic: ` + name + `}
pair:
  listen: 127.0.0.1:0
  peers: [{id: b, address: 127.0.0.1:1}]
  secret_file: ` + secret + `
admin: {listen: "off"}
`
	dec := yaml.NewDecoder(strings.NewReader(cfgYAML))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(ModeAuto); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newMonitoringMember builds a member (its registry, port, pipeline, pair
// link and control loop) with New, for the broker at brokerAddr, without
// running any of it: the serial device does not exist, and the pipeline is
// not Run (nothing dials the broker until the caller runs it).
func newMonitoringMember(t *testing.T, brokerAddr string) (*prometheus.Registry, *broadcast.Pipeline, *Member) {
	t.Helper()
	cfg := loneMemberConfig(t, "monitoring", brokerAddr)
	m, err := New(cfg, Options{Mode: ModeAuto, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.link.Close() })
	return m.registry, m.pipe, m
}

var (
	// feedd_... names, including the <client> placeholder of the Kafka
	// client table; a name ending in _ is a prefix (feedd_kafka_echo_*).
	feeddToken = regexp.MustCompile(`feedd_[a-z0-9_]*(?:<client>[a-z0-9_]*)?`)
	// The other members' metrics the monitoring files may use.
	otherToken = regexp.MustCompile(`\b(?:process|go)_[a-z0-9_]+`)
	// A descriptor's name in its String form (Desc has no accessor).
	descName = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// metricTokens returns the feedd metric names and the name prefixes in s.
func metricTokens(s string) (names, prefixes map[string]bool) {
	names, prefixes = map[string]bool{}, map[string]bool{}
	for _, tok := range feeddToken.FindAllString(s, -1) {
		if strings.HasSuffix(tok, "_") {
			prefixes[tok] = true
		} else {
			names[tok] = true
		}
	}
	return names, prefixes
}

// otherMetricNames returns the process_* and go_* names in s.
func otherMetricNames(s string) []string {
	var out []string
	for _, tok := range otherToken.FindAllString(s, -1) {
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	sort.Strings(out)
	return out
}

// kafkaClients lists the clients the documentation names as
// feedd_kafka_<client>_*.
func kafkaClients(prefixes map[string]bool) []string {
	var out []string
	for p := range prefixes {
		if c, ok := strings.CutPrefix(p, kafkaClientPfx); ok && c != "" && !strings.Contains(strings.TrimSuffix(c, "_"), "_") {
			out = append(out, strings.TrimSuffix(c, "_"))
		}
	}
	sort.Strings(out)
	return out
}

// documented reports whether name is in the documentation, literally or, for
// a Kafka client's metric, as feedd_kafka_<client>_<rest> of a documented
// client.
func documented(name string, doc map[string]bool, clients []string) bool {
	if doc[name] {
		return true
	}
	for _, c := range clients {
		if rest, ok := strings.CutPrefix(name, kafkaClientPfx+c+"_"); ok {
			return doc[kafkaClientPfx+"<client>_"+rest]
		}
	}
	return false
}

// exists reports whether a member exposes name, allowing a histogram's
// series suffixes and the <client> placeholder (any documented client).
func exists(name string, exposed map[string]bool, clients []string) bool {
	if strings.Contains(name, "<client>") {
		for _, c := range clients {
			if exists(strings.Replace(name, "<client>", c, 1), exposed, nil) {
				return true
			}
		}
		return false
	}
	if exposed[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exposed[base] {
			return true
		}
	}
	return false
}

func hasPrefix(names map[string]bool, prefix string) bool {
	for n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
