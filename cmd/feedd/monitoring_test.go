package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
	"gopkg.in/yaml.v3"
)

// The monitoring files checked here. Package member checks that they and
// docs/metrics.md name only the metrics a member exposes.
const (
	alertRules    = "../../docs/prometheus/feedd-alerts.yml"
	alertTests    = "../../docs/prometheus/feedd-alerts.test.yml"
	dashboardJSON = "../../docs/grafana/feedd-dashboard.json"
	// The files a stock Prometheus and Grafana load.
	prometheusConfig   = "../../docs/prometheus/prometheus.yml"
	grafanaDatasources = "../../docs/grafana/provisioning/datasources/feedd.yml"
	grafanaDashboards  = "../../docs/grafana/provisioning/dashboards/feedd.yml"
)

// grafanaDashboard is the part of the dashboard's JSON the tests read.
type grafanaDashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string          `json:"name"`
			BuiltIn    int             `json:"builtIn"`
			Datasource json.RawMessage `json:"datasource"`
			Expr       string          `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		Expr       string          `json:"expr"`
		RefID      string          `json:"refId"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	// A collapsed row holds its panels itself.
	Panels []grafanaPanel `json:"panels"`
}

// readDashboard reads the dashboard the repository ships (written by
// cmd/feedd-dashboard).
func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	if err := json.Unmarshal([]byte(testsupport.ReadFile(t, dashboardJSON)), &d); err != nil {
		t.Fatalf("%s: %v", dashboardJSON, err)
	}
	return d
}

// allPanels returns every panel and row, with the panels of collapsed rows
// after their row.
func (d grafanaDashboard) allPanels() []grafanaPanel {
	var out []grafanaPanel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// TestMonitoringDashboard checks the dashboard's shape: valid JSON, the
// variables the queries use, and a query and a data source on every panel
// (those of collapsed rows included) and annotation.
func TestMonitoringDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 30 {
		t.Errorf("title %q, uid %q, schemaVersion %d: want all set, schemaVersion of a current Grafana", d.Title, d.UID, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	for _, v := range []string{"datasource", "pipeline", "instance"} {
		if _, ok := vars[v]; !ok {
			t.Errorf("no $%s variable", v)
		}
	}
	checkExpr := func(what, expr string) {
		if !strings.Contains(expr, "$pipeline") {
			t.Errorf("%s: does not filter by $pipeline", what)
		}
		for _, m := range regexp.MustCompile(`\$(\w+)`).FindAllStringSubmatch(expr, -1) {
			if _, ok := vars[m[1]]; !ok && !strings.HasPrefix(m[1], "__") {
				t.Errorf("%s: unknown variable $%s", what, m[1])
			}
		}
	}
	ids := map[int]bool{}
	for _, p := range d.allPanels() {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
		if !isDatasourceVariable(p.Datasource) {
			t.Errorf("panel %q: data source %s is not the $datasource variable", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if !isDatasourceVariable(tg.Datasource) {
				t.Errorf("panel %q, query %s: data source %s is not the $datasource variable", p.Title, tg.RefID, tg.Datasource)
			}
			checkExpr(fmt.Sprintf("panel %q, query %s", p.Title, tg.RefID), tg.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 1 { // Grafana's own annotations and alerts
			continue
		}
		if !isDatasourceVariable(a.Datasource) {
			t.Errorf("annotation %q: data source %s is not the $datasource variable", a.Name, a.Datasource)
		}
		checkExpr(fmt.Sprintf("annotation %q", a.Name), a.Expr)
	}
}

// isDatasourceVariable reports whether a panel's or query's data source is
// the dashboard's $datasource variable, so that the dashboard works with
// whatever the Prometheus data source is called.
func isDatasourceVariable(raw json.RawMessage) bool {
	var ds struct{ Type, UID string }
	return json.Unmarshal(raw, &ds) == nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

// TestMonitoringGrafanaProvisioning checks that the provisioning files
// give a stock Grafana a Prometheus data source and a file provider for
// the dashboard.
func TestMonitoringGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, Type, URL, Access string
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal([]byte(testsupport.ReadFile(t, grafanaDatasources)), &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL == "" || ds.Datasources[0].Access != "proxy" {
		t.Errorf("%s: %+v", grafanaDatasources, ds)
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct{ Path string }
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(testsupport.ReadFile(t, grafanaDashboards)), &dash); err != nil {
		t.Fatal(err)
	}
	if dash.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || !filepath.IsAbs(dash.Providers[0].Options.Path) {
		t.Errorf("%s: %+v", grafanaDashboards, dash)
	}
}

// TestMonitoringPromtool checks the alert rules and runs their unit tests
// with promtool (Debian package prometheus). Without promtool it skips,
// unless FEEDD_REQUIRE_PROMTOOL is set.
func TestMonitoringPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FEEDD_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool not found and FEEDD_REQUIRE_PROMTOOL is set: install it (apt-get install prometheus)")
		}
		t.Skip("promtool not found: the alert rules are not checked (apt-get install prometheus; FEEDD_REQUIRE_PROMTOOL=1 makes this a failure)")
	}
	for _, args := range [][]string{
		{"check", "rules", alertRules},
		{"test", "rules", alertTests},
		{"check", "config", prometheusConfig},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, promtool, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
