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
