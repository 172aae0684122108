package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resultsFormat is the version of the saved results. A file of another
// version is refused rather than rendered with fields silently missing.
const resultsFormat = 1

// resultsFile is the name of the saved results in the report's directory.
const resultsFile = "results.json"

// benchCommand starts every command line the report states.
const benchCommand = "go run ./cmd/feedd-bench"

// assetDir is where the report's figures and saved results go: beside the
// report, in a directory named after it (docs/benchmarks.md gets
// docs/benchmarks/), so that the report links them by a relative path.
func assetDir(report string) string {
	return strings.TrimSuffix(report, filepath.Ext(report))
}

// marshal is the saved form of the results. The settings are saved as the
// command line the report states (Command), and parsed back on loading:
// that line names every setting explicitly, so a file saved by one version
// of the harness renders the same after a default changed.
//
// The per-frame latency samples are not saved: they are up to a few
// hundred thousand numbers per run, and every figure drawn from them (the
// per-run quantiles and the pooled ones) is saved instead.
func (res *results) marshal() ([]byte, error) {
	res.Format, res.Command = resultsFormat, res.command()
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saving the results: %w", err)
	}
	return append(data, '\n'), nil
}

// unmarshalResults reads results saved by marshal, settings included.
func unmarshalResults(data []byte) (*results, error) {
	var res results
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("reading saved results: %w", err)
	}
	if res.Format != resultsFormat {
		return nil, fmt.Errorf("saved results of format %d, this harness reads format %d", res.Format, resultsFormat)
	}
	args, err := commandArgs(res.Command)
	if err != nil {
		return nil, err
	}
	if res.o, err = parseFlags(args); err != nil {
		return nil, fmt.Errorf("the saved command line %q: %w", res.Command, err)
	}
	return &res, nil
}

// commandArgs are the arguments of a command line as command() writes it.
func commandArgs(cmd string) ([]string, error) {
	rest, ok := strings.CutPrefix(cmd, benchCommand+" ")
	if !ok {
		return nil, fmt.Errorf("the saved command line %q does not start with %q", cmd, benchCommand)
	}
	return strings.Fields(strings.ReplaceAll(rest, "\\\n", " ")), nil
}

// loadResults reads the results saved in path.
func loadResults(path string) (*results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	res, err := unmarshalResults(data)
	if err != nil {
		return nil, fmt.Errorf("--from %s: %w", path, err)
	}
	return res, nil
}

// errFromWithBroker: --from measures nothing, so a broker given with it is
// a mistake about what the command will do.
var errFromWithBroker = errors.New("--from draws from saved results and measures nothing: give no --kafka, --brokers or --embedded")
