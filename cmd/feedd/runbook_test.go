package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The runbook's "What every alert means" has one entry per alert of the
// Prometheus rules, and no entry for an alert the rules do not have.
func TestRunbookDescribesEveryAlert(t *testing.T) {
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
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(rules, &doc); err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	var alerts []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	if len(alerts) < 10 {
		t.Fatalf("only %d alerts read from %s", len(alerts), rulesPath)
	}

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
		if !slices.Contains(described, a) {
			t.Errorf("alert %s (%s) has no entry in docs/operations.md's \"What every alert means\"", a, rulesPath)
		}
	}
	for _, d := range described {
		if !slices.Contains(alerts, d) {
			t.Errorf("docs/operations.md describes alert %s, which %s does not have", d, rulesPath)
		}
	}
}
