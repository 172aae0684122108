package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// errAuditFindings marks a strict audit that ran and found gaps,
// duplicates or disorder (or could not look for them): the exit status is
// 1, as for an error, and the report has already been printed.
var errAuditFindings = errors.New("the topic is not clean")

// runAudit runs "feedd audit": it reads a pipeline's topic with its own
// read_committed consumer and reports by frame identity every gap,
// duplicate and out-of-order record, and, while it follows the topic, the
// end-to-end latency (package broadcast/audit). It reads from the log start
// (or --from, or --start end) to the last stable offset, or with --follow
// until --duration has passed or it is interrupted. With --strict it exits
// 1 when the topic is not clean; it exits 1 when it could not read the
// topic.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedd audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "a member's YAML configuration: its kafka section says where the topic is (or FEEDD_CONFIG)")
	brokers := fs.String("brokers", "", "seed brokers, host:port, comma-separated (overrides the configuration)")
	topic := fs.String("topic", "", "the pipeline's topic (overrides the configuration)")
	start := fs.String("start", "beginning", "where to start: beginning (the log start) or end (the last stable offset: only what is committed from now on)")
	from := fs.Int64("from", 0, "first offset to read (overrides --start when higher)")
	followFlag := fs.Bool("follow", false, "keep reading what is committed after the audit began, until interrupted (Ctrl-C) or --duration has passed; then report")
	duration := fs.Duration("duration", 0, "follow the topic for this long, then report (implies --follow)")
	metricsListen := fs.String("metrics-listen", "", "serve the audit's Prometheus metrics on this host:port at /metrics while it runs")
	strict := fs.Bool("strict", false, "exit 1 when the topic is not clean: a gap, a duplicate, a record out of order, or no sequence numbers to check")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a summary")
	maxListed := fs.Int("max-listed", audit.DefaultMaxListed, "list at most this many gaps, duplicates, out-of-order records and handovers each (counts are always exact)")
	allowRepeats := fs.Bool("allow-repeated-frames", false, "do not count repeated fingerprints (records without a sequence number whose bytes repeat) as a problem, for feeds whose frames can repeat")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up reading after this long; when following, counted from the end of following (0: never)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: feedd audit [--config member.yaml] [--brokers host:port,...] [--topic NAME] [flags]\n\n"+
			"Reads the pipeline's topic as its consumers do (read_committed) and reports, by the feedd-seq\n"+
			"header (or the fingerprint), every gap, duplicate and out-of-order record. By default it reads\n"+
			"from the log start to the last stable offset; --follow keeps reading new commits and measures\n"+
			"their end-to-end latency. Exits 1 on an error, and with --strict when the topic is not clean.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	if *start != "beginning" && *start != "end" {
		fmt.Fprintf(stderr, "feedd audit: --start: %q is neither beginning nor end\n", *start)
		return errUsage
	}
	if *duration < 0 {
		fmt.Fprintln(stderr, "feedd audit: --duration must not be negative")
		return errUsage
	}

	var opts audit.Options
	if path := *configPath; path != "" || os.Getenv("FEEDD_CONFIG") != "" {
		if path == "" {
			path = os.Getenv("FEEDD_CONFIG")
		}
		// Only the kafka section matters here, so the rest of the member's
		// configuration is not validated; FEEDD_* variables apply as they
		// do to the member.
		var cfg Config
		if err := loadYAML(path, &cfg); err != nil {
			return err
		}
		if err := applyEnv(settingsOf(&cfg), os.LookupEnv); err != nil {
			return err
		}
		var err error
		if opts, err = audit.OptionsFor(cfg.Kafka.WithDefaults()); err != nil {
			return err
		}
	}
	if *brokers != "" {
		opts.Brokers = strings.Split(*brokers, ",")
	}
	if *topic != "" {
		opts.Topic = *topic
	}
	if len(opts.Brokers) == 0 || opts.Topic == "" {
		fmt.Fprintln(stderr, "feedd audit: say where the topic is: --config member.yaml, or --brokers and --topic")
		return errUsage
	}
	opts.From, opts.MaxListed, opts.AllowRepeatedFrames = *from, *maxListed, *allowRepeats
	opts.FromEnd = *start == "end"
	opts.Follow = *followFlag || *duration > 0
	opts.Monitor = audit.NewMonitor()

	// Following ends with ctx (Ctrl-C) or the duration; reading on to the
	// end and the second reading still need a context, bounded by --timeout
	// from then on.
	readCtx := ctx
	if opts.Follow {
		stop := make(chan struct{})
		opts.Stop = stop
		var cancel context.CancelCauseFunc
		readCtx, cancel = context.WithCancelCause(context.WithoutCancel(ctx))
		watching := make(chan struct{})
		defer func() { cancel(nil); <-watching }()
		go func() {
			defer close(watching)
			var expired <-chan time.Time
			if *duration > 0 {
				t := time.NewTimer(*duration)
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
			if *timeout > 0 {
				t := time.NewTimer(*timeout)
				defer t.Stop()
				select {
				case <-t.C:
					cancel(fmt.Errorf("--timeout: still reading %v after following ended", *timeout))
				case <-readCtx.Done():
				}
			}
		}()
	} else if *timeout > 0 {
		var cancel context.CancelFunc
		readCtx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	if *metricsListen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(opts.Monitor.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		srvCtx, stopServer := context.WithCancel(context.Background())
		srv, err := startAdmin(srvCtx, *metricsListen, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			stopServer()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		defer func() { stopServer(); srv.wait() }()
		fmt.Fprintf(stderr, "feedd audit: metrics on http://%s/metrics\n", srv.addr)
	}

	rep, err := audit.Run(readCtx, opts)
	if err != nil {
		if cause := context.Cause(readCtx); cause != nil && !errors.Is(cause, readCtx.Err()) {
			return fmt.Errorf("%w (%v)", err, cause)
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !*strict {
		return nil
	}
	switch {
	case !rep.Clean:
		return fmt.Errorf("%w: %s", errAuditFindings, strings.Join(rep.Problems, "; "))
	case rep.NoSequenceNumbers():
		return fmt.Errorf("%w: no record carries a feed sequence number, so gaps cannot be ruled out", errAuditFindings)
	}
	return nil
}
