package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/feedd/feedd/broadcast/kafkatest"
)

// goBench is one package's Go micro-benchmarks.
type goBench struct {
	Title, Package, About string
	Args                  []string // after `go test`
	// Peers are ratios of medians worth stating: what the package's code
	// achieves against the standard way, measured in the same run.
	Peers []goPeer

	Results []goBenchResult // in the order the output first named them
}

type goPeer struct {
	What, Bench, Peer, Unit string
}

// goBenchResult is one benchmark's reported figures over the -count runs.
type goBenchResult struct {
	Name   string
	Units  []string // in the order reported
	Values map[string][]float64
}

func (g *goBench) command() string { return "go test " + strings.Join(g.Args, " ") }

// goBenches are the micro-benchmarks `make bench` runs: every Go benchmark
// of the packages below (the end-to-end BenchmarkFailover in e2e, on the
// embedded broker, is replaced by the failover figures on the broker above).
func goBenches(count int) []*goBench {
	c := strconv.Itoa(count)
	return []*goBench{
		{Title: "Framers (`ingest/framing`)", Package: "./ingest/framing/",
			About: "100-byte frames fed in 4 KiB reads, as a busy port or a replay file delivers them.",
			Args:  []string{"-run=NONE", "-bench=.", "-benchmem", "-count=" + c, "-benchtime=300ms", "./ingest/framing/"},
			Peers: []goPeer{{"`lines` against `bufio.Scanner` splitting the same stream", "Decode/lines", "PeerBufioScanLines", "MB/s"}}},
		{Title: "Simulator pacing (`hw/serialsim`)", Package: "./hw/serialsim/",
			About: "Bytes written per second into a drained pty against the configured baud rate, 8N1, about 2 s per run (1.000 is exact).",
			Args:  []string{"-run=NONE", "-bench=Pacing", "-count=" + c, "./hw/serialsim/"}},
		{Title: "Backlog ring (`backlog`)", Package: "./backlog/",
			About: "The ring's steady states and its memory for one million 100-byte frames; the peer is a slice of entries each owning a copy.",
			Args:  []string{"-run=NONE", "-bench=.", "-benchmem", "-count=" + c, "-benchtime=300ms", "./backlog/"},
			Peers: []goPeer{{"the inactive's work (AppendTrimEcho) against the slice queue", "AppendTrimEcho", "PeerSliceQueue", "ops/s"}}},
		{Title: "Broadcast on the embedded broker (`broadcast`)", Package: "./broadcast/",
			About: "One active pipeline in the test process producing 100-byte frames to the in-process broker (kfake), 50,000 frames per run: the pipeline alone, without a pty or a real broker.",
			Args:  []string{"-run=NONE", "-bench=.", "-benchmem", "-count=" + c, "-benchtime=50000x", "./broadcast/"},
			Peers: []goPeer{
				{"transactions against the idempotent producer, 10 ms", "Throughput/interval=10ms/transactional", "Throughput/interval=10ms/idempotent", "frames/s"},
				{"transactions against the idempotent producer, 50 ms", "Throughput/interval=50ms/transactional", "Throughput/interval=50ms/idempotent", "frames/s"},
				{"transactions against the idempotent producer, 100 ms", "Throughput/interval=100ms/transactional", "Throughput/interval=100ms/idempotent", "frames/s"},
			}},
	}
}

func (r *runner) benchGo(ctx context.Context) error {
	root, err := kafkatest.ModuleRoot()
	if err != nil {
		return err
	}
	for _, g := range goBenches(r.o.goCount) {
		log.Printf("go: %s", g.command())
		cmd := exec.CommandContext(ctx, "go", append([]string{"test"}, g.Args...)...)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		results, perr := parseGoBench(io.TeeReader(out, logWriter{}))
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%s: %w", g.command(), err)
		}
		if perr != nil {
			return fmt.Errorf("%s: %w", g.command(), perr)
		}
		if len(results) == 0 {
			return fmt.Errorf("%s: no benchmark results", g.command())
		}
		g.Results = results
		r.res.Go = append(r.res.Go, g)
	}
	return nil
}

// logWriter passes go test's output on to the log, untouched.
type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) { return os.Stderr.Write(p) }

// benchLine is a result line of go test -bench: name-GOMAXPROCS,
// iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseGoBench reads go test -bench output and gathers each benchmark's
// figures over its repeated runs.
func parseGoBench(r io.Reader) ([]goBenchResult, error) {
	var out []goBenchResult
	idx := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("benchmark line %q: values and units do not pair up", sc.Text())
		}
		i, ok := idx[m[1]]
		if !ok {
			i = len(out)
			idx[m[1]] = i
			out = append(out, goBenchResult{Name: m[1], Values: map[string][]float64{}})
		}
		res := &out[i]
		for k := 0; k < len(f); k += 2 {
			v, err := strconv.ParseFloat(f[k], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
			}
			unit := f[k+1]
			if !slices.Contains(res.Units, unit) {
				res.Units = append(res.Units, unit)
			}
			res.Values[unit] = append(res.Values[unit], v)
		}
	}
	return out, sc.Err()
}

// find returns the result named name.
func (g *goBench) find(name string) *goBenchResult {
	for i := range g.Results {
		if g.Results[i].Name == name {
			return &g.Results[i]
		}
	}
	return nil
}
