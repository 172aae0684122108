package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// alertRule is an alert of the Prometheus rules and its severity.
type alertRule struct{ name, severity string }

// readAlertRules returns every alert of the project's Prometheus rules, in
// their order.
func readAlertRules(t *testing.T) []alertRule {
	t.Helper()
	// The rules' home is docs/prometheus/; docs/monitoring/ is where they
	// were before.
	var rules []byte
	var rulesPath string
	for _, p := range []string{"../../docs/prometheus/feedd-alerts.yml", "../../docs/monitoring/feedd-alerts.yml"} {
		if b, err := os.ReadFile(p); err == nil {
			rules, rulesPath = b, p
			break
		}
	}
	if rules == nil {
		t.Fatal("no alert rules file in docs/prometheus or docs/monitoring")
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(rules, &doc); err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	var alerts []alertRule
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, alertRule{r.Alert, r.Labels["severity"]})
			}
		}
	}
	if len(alerts) < 10 {
		t.Fatalf("only %d alerts read from %s", len(alerts), rulesPath)
	}
	return alerts
}

// The runbook's "What every alert means" has one entry per alert of the
// Prometheus rules, and no entry for an alert the rules do not have.
func TestRunbookDescribesEveryAlert(t *testing.T) {
	alerts := readAlertRules(t)
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(ops), "\n## What every alert means\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "## What every alert means" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var described []string
	for _, m := range regexp.MustCompile("(?m)^### `([A-Za-z]+)`$").FindAllStringSubmatch(section, -1) {
		described = append(described, m[1])
	}
	for _, a := range alerts {
		if !slices.Contains(described, a.name) {
			t.Errorf("alert %s has no entry in docs/operations.md's \"What every alert means\"", a.name)
		}
	}
	for _, d := range described {
		if !slices.ContainsFunc(alerts, func(a alertRule) bool { return a.name == d }) {
			t.Errorf("docs/operations.md describes alert %s, which the rules do not have", d)
		}
	}
}

// The table of docs/monitoring.md lists every alert of the rules with its
// severity, and no alert the rules do not have.
func TestMonitoringListsEveryAlert(t *testing.T) {
	alerts := readAlertRules(t)
	page, err := os.ReadFile("../../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(Feedd[A-Za-z]+)` \\| ([a-z]+) \\|").FindAllStringSubmatch(string(page), -1) {
		listed[m[1]] = m[2]
	}
	for _, a := range alerts {
		switch sev, ok := listed[a.name]; {
		case !ok:
			t.Errorf("alert %s is not in docs/monitoring.md's table of alerts", a.name)
		case sev != a.severity:
			t.Errorf("docs/monitoring.md gives alert %s severity %s; the rules say %s", a.name, sev, a.severity)
		}
	}
	for name := range listed {
		if !slices.ContainsFunc(alerts, func(a alertRule) bool { return a.name == name }) {
			t.Errorf("docs/monitoring.md lists alert %s, which the rules do not have", name)
		}
	}
}
