package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/member/admin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

// errAuditFindings marks a strict audit that ran and found gaps,
// duplicates or disorder (or could not look for them): the exit status is
// 1, as for an error, and the report has already been printed.
var errAuditFindings = errors.New("the topic is not clean")

// auditFlags holds the flags of "feedd audit".
type auditFlags struct {
	configPath                   *string
	pending                      []override
	start                        string
	from                         int64
	follow                       bool
	duration, timeout            time.Duration
	metricsListen                string
	strict, asJSON, allowRepeats bool
	maxListed                    int
	expect                       string
	maxDifferences               int
}

// runAudit runs "feedd audit": it reads a pipeline's topic with its own
// read_committed consumer and reports by frame identity every gap,
// duplicate and out-of-order record, and, while it follows the topic, the
// end-to-end latency (package broadcast/audit); with --expect it compares
// the topic with a recorded feed instead. It reads from the log start (or
// --from, or --start end) to the last stable offset, or with --follow until
// --duration has passed or it is interrupted. With --strict it exits 1 when
// the topic is not clean; it exits 1 when it could not read the topic, and
// exitConfig on a configuration it cannot use.
func runAudit(ctx context.Context, c *auditFlags, stdout, stderr io.Writer) error {
	if err := c.check(); err != nil {
		return err
	}
	opts, fc, err := c.target()
	if err != nil {
		return err
	}
	var exp *audit.Expectation
	if c.expect != "" {
		if fc.Mode == "" {
			return usageErrorf("--expect needs the members' framing: --config member.yaml (its framing section) or --framing.mode")
		}
		if exp, err = readExpectation(c.expect, fc); err != nil {
			return err
		}
	}
	opts.From, opts.MaxListed, opts.AllowRepeatedFrames = c.from, c.maxListed, c.allowRepeats
	opts.FromEnd = c.start == "end"
	opts.Follow = c.follow || c.duration > 0
	opts.Monitor = audit.NewMonitor()

	readCtx, done := c.readContext(ctx, &opts)
	defer done()
	if c.metricsListen != "" {
		stop, err := serveAuditMetrics(c.metricsListen, opts.Monitor, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}

	var rep interface{ WriteText(io.Writer) error }
	var verdict error
	if exp != nil {
		r, err := audit.RunExpect(readCtx, opts, exp, audit.ExpectOptions{MaxDifferences: c.maxDifferences})
		if err != nil {
			return readError(readCtx, err)
		}
		rep, verdict = r, expectVerdict(r)
	} else {
		r, err := audit.Run(readCtx, opts)
		if err != nil {
			return readError(readCtx, err)
		}
		rep, verdict = r, auditVerdict(r)
	}
	if c.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !c.strict {
		return nil
	}
	return verdict
}

func auditCommand() *cobra.Command {
	c := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "check a pipeline's topic: every gap, duplicate and out-of-order frame",
		Long: "Reads the pipeline's topic as its consumers do (read_committed) and reports, by the feed\n" +
			"sequence number in each record's header (or the fingerprint), every gap, duplicate and out-of-order record, and frames published\n" +
			"both with and without a sequence number by members configured differently. By default it reads\n" +
			"from the log start to the last stable offset; --follow keeps reading new commits and measures\n" +
			"their end-to-end latency.\n\n" +
			"With --expect FILE it compares the topic, in order, with the feed a simulator recorded\n" +
			"(feedd sim --record): every frame that some port received intact must be there once, in feed\n" +
			"order. It reports missing runs, duplicates (allowed when the member marked them possible),\n" +
			"foreign records and moved frames, and so finds gaps in feeds without sequence numbers.\n\n" +
			"Where the topic is and the members' framing and sequence settings come from a member's\n" +
			"--config, FEEDD_* variables and the flags, as for feedd run.\n" +
			"Exits 78 on a configuration it cannot use, 1 on any other error, and with --strict 1 when\n" +
			"the topic is not clean.",
		Example: "  feedd audit --config /etc/feedd/feedd.yaml --strict\n" +
			"  feedd audit --kafka.brokers kafka-1:9092 --kafka.topic ais-north --follow --start end --metrics-listen :9464",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), c, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&c.start, "start", "beginning", "where to start: beginning (the log start) or end (the last stable offset: only what is committed from now on)")
	fs.Int64Var(&c.from, "from", 0, "first offset to read (overrides --start when higher)")
	fs.BoolVar(&c.follow, "follow", false, "keep reading what is committed after the audit began, until interrupted (Ctrl-C) or --duration has passed; then report")
	fs.DurationVar(&c.duration, "duration", 0, "follow the topic for this long, then report (implies --follow)")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "serve the audit's Prometheus metrics on this host:port at /metrics while it runs")
	fs.BoolVar(&c.strict, "strict", false, "exit 1 when the topic is not clean: a gap, a duplicate, a record out of order, or no sequence numbers to check; "+
		"with --expect: a missing or moved frame, or an extra record that is not a duplicate marked possible")
	fs.BoolVar(&c.asJSON, "json", false, "print the report as JSON instead of a summary")
	fs.IntVar(&c.maxListed, "max-listed", audit.DefaultMaxListed, "list at most this many gaps, duplicates, out-of-order records and handovers each, or with --expect missing, extra and moved runs each (counts are always exact)")
	fs.BoolVar(&c.allowRepeats, "allow-repeated-frames", false, "do not count repeated fingerprints (records without a sequence number whose bytes repeat) as a problem, for feeds whose frames can repeat")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up reading after this long; when following, counted from the end of following (0: never)")
	fs.StringVar(&c.expect, "expect", "", "compare the topic with the feed recorded in this file (written by feedd sim --record) instead of checking sequence numbers")
	fs.IntVar(&c.maxDifferences, "max-differences", audit.DefaultMaxDifferences, "with --expect: give up when the topic and the feed differ by more frames than this (missing plus extra)")
	c.configPath = configFlags(fs, &c.pending, "kafka.brokers", "kafka.topic", "framing", "sequence")
	fs.Lookup("config").Usage = "a member's YAML configuration: its kafka section says where the topic is, its sequence section how to read a sequence number in records without one, its framing section how to read --expect (or FEEDD_CONFIG)"
	// The spellings before the flags were named after the configuration.
	renamedFlag(cmd, "brokers", "kafka.brokers")
	renamedFlag(cmd, "topic", "kafka.topic")
	renamedFlag(cmd, "framing", "framing.mode")
	return cmd
}

// check refuses flags that contradict each other.
func (c *auditFlags) check() error {
	framingFlag := slices.ContainsFunc(c.pending, func(o override) bool { return strings.HasPrefix(o.path, "framing.") })
	switch {
	case c.start != "beginning" && c.start != "end":
		return usageErrorf("--start: %q is neither beginning nor end", c.start)
	case c.duration < 0:
		return usageErrorf("--duration must not be negative")
	case c.expect == "" && (framingFlag || c.maxDifferences != audit.DefaultMaxDifferences):
		return usageErrorf("--framing.* and --max-differences go with --expect")
	case c.expect != "" && c.allowRepeats:
		return usageErrorf("--allow-repeated-frames does not apply to --expect, which tells repeated frames from duplicates")
	case c.maxDifferences <= 0:
		return usageErrorf("--max-differences must be positive")
	}
	return nil
}

// target returns where the topic is, the members' sequence extractor and
// their framing, from --config (or FEEDD_CONFIG), the environment and the
// flags. Only the kafka, framing and sequence sections matter here, so the
// rest of the member's configuration is not validated.
func (c *auditFlags) target() (audit.Options, framing.Config, error) {
	cfg, err := readConfig(*c.configPath, c.pending, os.LookupEnv)
	if err != nil {
		return audit.Options{}, framing.Config{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	opts, err := audit.OptionsFor(cfg.Kafka)
	if err != nil {
		return opts, cfg.Framing, fmt.Errorf("%w: %w", errConfig, err)
	}
	// A record without feedd-seq is audited by the number the member's
	// extractor reads in it, if the member has one.
	if opts.Sequence, err = ingest.NewSequenceExtractor(cfg.Sequence); err != nil {
		return opts, cfg.Framing, fmt.Errorf("%w: %w", errConfig, err)
	}
	if len(opts.Brokers) == 0 || opts.Topic == "" {
		return opts, cfg.Framing, usageErrorf("say where the topic is: --config member.yaml, or --kafka.brokers and --kafka.topic")
	}
	return opts, cfg.Framing, nil
}

// readContext returns the context the audit reads with, and sets
// opts.Stop when it follows the topic. Following ends with ctx (Ctrl-C) or
// --duration; reading on to the end and the second reading still need a
// context, bounded by --timeout from then on. Without following, --timeout
// bounds the whole reading. done releases what readContext started.
func (c *auditFlags) readContext(ctx context.Context, opts *audit.Options) (context.Context, func()) {
	if !opts.Follow {
		if c.timeout <= 0 {
			return ctx, func() {}
		}
		readCtx, cancel := context.WithTimeout(ctx, c.timeout)
		return readCtx, cancel
	}
	stop := make(chan struct{})
	opts.Stop = stop
	readCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		var expired <-chan time.Time
		if c.duration > 0 {
			t := time.NewTimer(c.duration)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-ctx.Done():
		case <-expired:
		case <-readCtx.Done():
			return
		}
		close(stop)
		if c.timeout > 0 {
			t := time.NewTimer(c.timeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancel(fmt.Errorf("--timeout: still reading %v after following ended", c.timeout))
			case <-readCtx.Done():
			}
		}
	}()
	return readCtx, func() { cancel(nil); <-watching }
}

// serveAuditMetrics serves the audit's metrics at addr until stop is
// called.
func serveAuditMetrics(addr string, mon *audit.Monitor, stderr io.Writer) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(mon.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srvCtx, stopServer := context.WithCancel(context.Background())
	srv, err := admin.Start(srvCtx, addr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		stopServer()
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	fmt.Fprintf(stderr, "feedd audit: metrics on http://%s/metrics\n", srv.Addr)
	return func() { stopServer(); srv.Wait() }, nil
}

// readError adds to an error of the reading why its context ended, when
// that was --timeout.
func readError(readCtx context.Context, err error) error {
	if cause := context.Cause(readCtx); cause != nil && !errors.Is(cause, readCtx.Err()) {
		return fmt.Errorf("%w (%v)", err, cause)
	}
	return err
}

// auditVerdict is what --strict makes of a report by identity.
func auditVerdict(rep *audit.Report) error {
	switch {
	case !rep.Clean:
		return fmt.Errorf("%w: %s", errAuditFindings, strings.Join(rep.Problems, "; "))
	case rep.NoSequenceNumbers():
		return fmt.Errorf("%w: no record carries a feed sequence number, so gaps cannot be ruled out", errAuditFindings)
	}
	return nil
}

// expectVerdict is what --strict makes of a comparison with the recorded
// feed: any missing frame, any moved frame, any extra record that is not a
// duplicate marked possible.
func expectVerdict(rep *audit.ExpectReport) error {
	if !rep.Clean {
		return fmt.Errorf("%w: %s", errAuditFindings, strings.Join(rep.Problems, "; "))
	}
	return nil
}

// readExpectation reads the record file at path and decodes its frames
// with the members' framing.
func readExpectation(path string, fc framing.Config) (*audit.Expectation, error) {
	if err := fc.Validate(); err != nil {
		return nil, fmt.Errorf("%w: the members' framing: %w", errConfig, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--expect: %w", err)
	}
	defer f.Close()
	return audit.ReadExpectation(bufio.NewReaderSize(f, 1<<20), path, fc)
}
