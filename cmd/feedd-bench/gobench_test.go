package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedd/feedd/broadcast/kafkatest"
)

const sampleBench = `goos: linux
goarch: amd64
pkg: github.com/feedd/feedd/backlog
cpu: AMD EPYC
BenchmarkAppendTrimEcho-2   	 4279161	        72.40 ns/op	  13812345 ops/s	       0 B/op	       0 allocs/op
BenchmarkAppendTrimEcho-2   	 4279161	        70.00 ns/op	  14285714 ops/s	       0 B/op	       0 allocs/op
BenchmarkDecode/nmea-2      	     100	   1000 ns/op	 551.00 MB/s	 0.000 allocs/frame
BenchmarkPacing/baud=9600-2 	       1	2000000000 ns/op	         0.9999 rate/baud
PASS
ok  	github.com/feedd/feedd/backlog	3.1s
`

func TestParseGoBench(t *testing.T) {
	res, err := parseGoBench(strings.NewReader(sampleBench))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(res), res)
	}
	echo := res[0]
	if echo.Name != "AppendTrimEcho" || strings.Join(echo.Units, ",") != "ns/op,ops/s,B/op,allocs/op" {
		t.Fatalf("first result %q with units %v", echo.Name, echo.Units)
	}
	if v := echo.Values["ops/s"]; len(v) != 2 || v[0] != 13812345 || v[1] != 14285714 {
		t.Fatalf("ops/s = %v", v)
	}
	if res[1].Name != "Decode/nmea" || res[1].Values["MB/s"][0] != 551 {
		t.Fatalf("second result %+v", res[1])
	}
	if res[2].Name != "Pacing/baud=9600" || res[2].Values["rate/baud"][0] != 0.9999 {
		t.Fatalf("third result %+v", res[2])
	}
}

func TestParseGoBenchRejectsUnpairedValues(t *testing.T) {
	if _, err := parseGoBench(strings.NewReader("BenchmarkX-2  10  5 ns/op 7\n")); err == nil {
		t.Fatal("an unpaired value was accepted")
	}
}

// TestGoBenchPeersExist: every peer ratio names benchmarks its package
// has, so the report never shows an empty ratio for a renamed benchmark.
func TestGoBenchPeersExist(t *testing.T) {
	for _, g := range goBenches(1) {
		for _, p := range g.Peers {
			for _, name := range []string{p.Bench, p.Peer} {
				top := strings.SplitN(name, "/", 2)[0]
				if !benchmarkDeclared(t, g.Package, "Benchmark"+top) {
					t.Errorf("%s: peer ratio %q names Benchmark%s, which the package does not declare", g.Package, p.What, top)
				}
			}
		}
	}
}

// benchmarkDeclared reports whether a _test.go file of the package (a path
// from the module root) declares func name.
func benchmarkDeclared(t *testing.T, pkg, name string) bool {
	t.Helper()
	root, err := kafkatest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no test files (%v)", pkg, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "func "+name+"(") {
			return true
		}
	}
	return false
}
