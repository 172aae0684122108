package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedd/feedd/broadcast/kafkatest"
	"github.com/feedd/feedd/broadcast/localbroker"
	"log/slog"
)

// options are the command line: what to run, how often, and where.
type options struct {
	brokers  string
	kafka    bool
	embedded bool
	feedd    string
	out      string
	workDir  string
	profile  string
	from     string
	only     map[string]bool
	// baseline is a second build to compare feedd with, rounds times
	// (compare.go).
	baseline string
	rounds   int

	reps            int
	frames          int
	latencyRates    []float64
	latencyReps     int
	latencyMinSecs  time.Duration
	latencyMinN     int
	eosIntervals    []time.Duration
	eosLatencyRate  float64
	eosFrames       int
	failoverReps    int
	activationDepth []int
	activationReps  int
	memoryDepths    []int
	memoryReps      int
	cpuRates        []float64
	cpuDuration     time.Duration
	cpuReps         int
	goCount         int
}

// sections, in the order they run and appear.
var sections = []string{"throughput", "latency", "eos", "failover", "activation", "memory", "cpu", "go"}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("feedd-bench: ")
	if len(os.Args) > 1 {
		child := map[string]func([]string) error{floorCommand: runFloor, idleFloorCommand: runIdleFloor}[os.Args[1]]
		if child != nil {
			if err := child(os.Args[2:]); err != nil {
				log.Fatal(err)
			}
			return
		}
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "feedd-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Args[1:]); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("feedd-bench", flag.ContinueOnError)
	fs.BoolVar(&o.kafka, "kafka", false, "start Apache Kafka from the installation make kafka caches (the tests' own single KRaft node) and measure on it")
	fs.StringVar(&o.brokers, "brokers", "", "a running broker to measure on instead, host:port (127.0.0.1 only)")
	fs.BoolVar(&o.embedded, "embedded", false, "start the embedded broker (kfake) instead: for trying the harness, not for figures")
	fs.StringVar(&o.feedd, "feedd", "bin/feedd", "the feedd binary to measure")
	fs.StringVar(&o.out, "out", "docs/benchmarks.md", "the report to write; what follows its notes marker is kept")
	fs.StringVar(&o.workDir, "work-dir", "", "where members keep configurations and logs (default: a new temporary directory, removed at the end)")
	fs.StringVar(&o.from, "from", "", "measure nothing: draw the report (--out) and its figures again from the results a run saved (docs/benchmarks/results.json), with that run's settings")
	fs.StringVar(&o.profile, "profile", "", "write every member's CPU and allocation profiles and execution trace into this directory (they then stop with SIGTERM)")
	only := fs.String("only", strings.Join(sections, ","), "sections to run: "+strings.Join(sections, ","))
	fs.StringVar(&o.baseline, "baseline", "", "compare --feedd with this build of feedd instead of writing the report: both run the sections, alternating, --rounds times, and the figures of both with their ratio go to --out, a file of its own (default: the standard output)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of a comparison (--baseline)")
	fs.IntVar(&o.reps, "reps", 5, "repetitions of each throughput measurement (feedd and kcat alternate)")
	fs.IntVar(&o.frames, "frames", 300_000, "frames in the throughput file")
	rates := fs.String("latency-rates", "100,1000,10000", "steady rates of the latency benchmark, frames/s")
	fs.IntVar(&o.latencyReps, "latency-reps", 3, "runs per latency rate")
	fs.DurationVar(&o.latencyMinSecs, "latency-min-time", 5*time.Second, "shortest latency run")
	fs.IntVar(&o.latencyMinN, "latency-min-frames", 3000, "fewest frames measured in a latency run (so slow rates run longer)")
	intervals := fs.String("eos-intervals", "10ms,50ms,100ms", "commit intervals compared with and without transactions")
	fs.Float64Var(&o.eosLatencyRate, "eos-latency-rate", 1000, "rate of the exactly-once latency comparison, frames/s")
	fs.IntVar(&o.eosFrames, "eos-frames", 1_000_000, "frames in each exactly-once throughput run (runs of a few seconds: the target is a 5 % difference)")
	fs.IntVar(&o.failoverReps, "failover-reps", 30, "failovers of each kind")
	depths := fs.String("activation-depths", "0,10000,100000", "backlog depths of the activation benchmark, frames")
	fs.IntVar(&o.activationReps, "activation-reps", 5, "activations per depth")
	mem := fs.String("memory-depths", "100000,1000000", "frames an inactive member holds in the memory benchmark")
	fs.IntVar(&o.memoryReps, "memory-reps", 3, "runs per memory depth")
	cpu := fs.String("cpu-rates", "0,1000,10000", "feed rates of the CPU benchmark, frames/s; 0 measures the settled pair idle: its feed stopped, no frame at all, no kcat")
	fs.DurationVar(&o.cpuDuration, "cpu-time", 10*time.Second, "length of one CPU measurement")
	fs.IntVar(&o.cpuReps, "cpu-reps", 3, "CPU measurements per rate")
	fs.IntVar(&o.goCount, "go-count", 6, "-count of the Go micro-benchmarks")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	if o.baseline != "" {
		// The Go micro-benchmarks run no member: the same for both builds.
		if !set["only"] {
			*only = strings.Join(slices.DeleteFunc(slices.Clone(sections), func(s string) bool { return s == "go" }), ",")
		}
		if !set["out"] {
			o.out = "-"
		}
		if o.from != "" {
			errs = append(errs, errors.New("--baseline measures; --from only draws a saved run again"))
		}
		if o.rounds < 1 {
			errs = append(errs, errors.New("--rounds: must be at least 1"))
		}
	}
	o.only = map[string]bool{}
	for s := range strings.SplitSeq(*only, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(sections, s) {
			errs = append(errs, fmt.Errorf("--only: %q is not one of %s", s, strings.Join(sections, ",")))
		}
		o.only[s] = true
	}
	if o.baseline != "" && o.only["go"] {
		errs = append(errs, errors.New("--only: the Go micro-benchmarks (go) run no member, so a comparison of builds leaves them out"))
	}
	var err error
	if o.latencyRates, err = parseList(*rates, parseRate); err != nil {
		errs = append(errs, fmt.Errorf("--latency-rates: %w", err))
	}
	if o.eosIntervals, err = parseList(*intervals, parsePositiveDuration); err != nil {
		errs = append(errs, fmt.Errorf("--eos-intervals: %w", err))
	}
	if o.activationDepth, err = parseList(*depths, parseCount); err != nil {
		errs = append(errs, fmt.Errorf("--activation-depths: %w", err))
	}
	if o.memoryDepths, err = parseList(*mem, parseCount); err != nil {
		errs = append(errs, fmt.Errorf("--memory-depths: %w", err))
	}
	if o.cpuRates, err = parseList(*cpu, parseCPURate); err != nil {
		errs = append(errs, fmt.Errorf("--cpu-rates: %w", err))
	}
	switch n := btoi(o.kafka) + btoi(o.brokers != "") + btoi(o.embedded); {
	case o.from != "" && n > 0:
		errs = append(errs, errFromWithBroker)
	case o.from == "" && n != 1:
		errs = append(errs, errors.New("give exactly one of --kafka, --brokers and --embedded"))
	}
	for name, v := range map[string]int{"reps": o.reps, "frames": o.frames, "eos-frames": o.eosFrames, "latency-reps": o.latencyReps,
		"failover-reps": o.failoverReps, "activation-reps": o.activationReps, "memory-reps": o.memoryReps,
		"cpu-reps": o.cpuReps, "go-count": o.goCount, "latency-min-frames": o.latencyMinN} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("--%s: must be at least 1", name))
		}
	}
	if o.cpuDuration <= 0 || o.latencyMinSecs <= 0 || o.eosLatencyRate <= 0 {
		errs = append(errs, errors.New("--cpu-time, --latency-min-time and --eos-latency-rate must be positive"))
	}
	return o, errors.Join(errs...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for f := range strings.SplitSeq(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseRate(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v > 1e6 {
		return 0, fmt.Errorf("%q: want a rate in frames/s, above 0 and at most 1000000", s)
	}
	return v, nil
}

// parseCPURate is a rate, or cpuIdle.
func parseCPURate(s string) (float64, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil && v == cpuIdle {
		return cpuIdle, nil
	}
	v, err := parseRate(s)
	if err != nil {
		return 0, fmt.Errorf("%w, or 0 for no feed", err)
	}
	return v, nil
}

func parseCount(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 10_000_000 {
		return 0, fmt.Errorf("%q: want a count from 0 to 10000000", s)
	}
	return v, nil
}

func parsePositiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration", s)
	}
	return d, nil
}

// runner holds what every benchmark of a run shares.
type runner struct {
	o      options
	bin    string
	dir    string
	broker *broker
	res    *results
}

// run measures what o says; args, the command line, goes into a
// comparison's report.
func run(ctx context.Context, o options, args []string) error {
	if o.from != "" {
		res, err := loadResults(o.from)
		if err != nil {
			return err
		}
		return res.write(o.out)
	}
	bin, err := filepath.Abs(o.feedd)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the feedd binary: %w (make build)", err)
	}
	var baseline string
	if o.baseline != "" {
		if baseline, err = filepath.Abs(o.baseline); err != nil {
			return err
		}
		if _, err := os.Stat(baseline); err != nil {
			return fmt.Errorf("--baseline: %w", err)
		}
	}
	fedCPU := slices.ContainsFunc(o.cpuRates, func(rate float64) bool { return rate != cpuIdle })
	if o.only["throughput"] || (o.only["cpu"] && fedCPU) {
		if _, err := exec.LookPath("kcat"); err != nil {
			return errors.New("kcat is not installed (apt-get install kcat, or make deps)")
		}
	}
	dir := o.workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "feedd-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if o.profile != "" {
		// The members open their profiles there, and would stop at once
		// without it.
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
	}
	b, err := startBroker(ctx, o, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	log.Printf("broker: %s at %s; feedd: %s; work directory: %s", b.Kind, b.Addr, bin, dir)

	if baseline != "" {
		c, err := compare(ctx, o, b, dir, [2]string{baseline, bin}, "go run ./cmd/feedd-bench "+strings.Join(args, " "))
		if len(c.rounds) > 0 {
			// What the rounds before a failure measured is written too.
			if werr := writeComparison(c, o.out); werr != nil {
				return errors.Join(err, werr)
			}
		}
		return err
	}
	r := &runner{o: o, bin: bin, dir: dir, broker: b, res: newResults(o, b, bin)}
	if err := r.runSections(ctx); err != nil {
		return err
	}
	return r.res.write(o.out)
}

// runSections runs the sections o.only names, in their order, into r.res.
func (r *runner) runSections(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"throughput", r.benchThroughput},
		{"latency", r.benchLatency},
		{"eos", r.benchExactlyOnce},
		{"failover", r.benchFailover},
		{"activation", r.benchActivation},
		{"memory", r.benchMemory},
		{"cpu", r.benchCPU},
		{"go", r.benchGo},
	}
	for _, s := range steps {
		if !r.o.only[s.name] {
			continue
		}
		start := time.Now()
		log.Printf("%s: starting", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		r.res.Durations[s.name] = time.Since(start)
		log.Printf("%s: done in %v", s.name, time.Since(start).Round(time.Second))
	}
	return nil
}

// startBroker starts Apache Kafka, or connects to the broker given, or
// starts the embedded one.
func startBroker(ctx context.Context, o options, dir string) (*broker, error) {
	b := &broker{Addr: o.brokers}
	switch {
	case o.kafka:
		in, err := kafkatest.Find()
		if err != nil {
			return nil, err
		}
		kb, err := in.Start(ctx, kafkatest.Config{Dir: filepath.Join(dir, "kafka"), Logf: log.Printf})
		if err != nil {
			return nil, err
		}
		b.Addr, b.Real, b.close = kb.Addr(), true, kb.Close
		b.Kind = fmt.Sprintf("Apache Kafka %s, one combined KRaft broker and controller on 127.0.0.1 as the tests run it "+
			"(broadcast/kafkatest: %s heap, the JVM's client compiler only)", kb.Version(), kafkatest.DefaultHeap)
	case o.embedded:
		lb, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return nil, err
		}
		b.Addr, b.Kind, b.close = lb.Addr(), "the embedded broker (franz-go's kfake, in this process)", lb.Close
	default:
		if !strings.HasPrefix(o.brokers, "127.0.0.1:") {
			return nil, fmt.Errorf("--brokers %s: the benchmarks load the broker; only 127.0.0.1 is accepted", o.brokers)
		}
		b.Kind, b.Real = "the Kafka broker at "+o.brokers, true
	}
	if err := b.connect(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}
