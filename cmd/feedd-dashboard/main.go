// Command feedd-dashboard writes the Grafana dashboard of a feedd pipeline,
// docs/grafana/feedd-dashboard.json. The dashboard is Go, built with
// Grafana's foundation SDK (github.com/grafana/grafana-foundation-sdk/go),
// so that its JSON is valid by construction; to change it, edit the Go and
// run
//
//	make dashboard
//
// (or go generate ./cmd/feedd-dashboard), and commit both. A test fails
// while the committed JSON differs from what this command writes.
//
// One file per row of the dashboard; panels.go has a helper per kind of
// panel, layout.go places them on Grafana's grid.
package main

//go:generate go run . -o ../../docs/grafana/feedd-dashboard.json

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "-", "write the dashboard `file` (- for standard output)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "feedd-dashboard:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	b, err := render()
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("writing the dashboard: %w", err)
	}
	return nil
}
