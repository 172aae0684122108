package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
)

// errAuditFindings marks an audit that ran and found gaps, duplicates or
// disorder: the exit status is 1, as for an error, and the report has
// already been printed.
var errAuditFindings = errors.New("the topic is not clean")

// runAudit runs "feedd audit": it reads a pipeline's topic with its own
// read_committed consumer, from the start of the log (or --from) to the last
// stable offset, and reports by frame identity every gap, duplicate and
// out-of-order record (package broadcast/audit). It exits 0 when the topic is
// clean and 1 otherwise, or when it could not read the topic.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedd audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "a member's YAML configuration: its kafka section says where the topic is (or FEEDD_CONFIG)")
	brokers := fs.String("brokers", "", "seed brokers, host:port, comma-separated (overrides the configuration)")
	topic := fs.String("topic", "", "the pipeline's topic (overrides the configuration)")
	from := fs.Int64("from", 0, "first offset to read (default: the log start)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a summary")
	maxListed := fs.Int("max-listed", audit.DefaultMaxListed, "list at most this many gaps, duplicates, out-of-order records and handovers each (counts are always exact)")
	allowRepeats := fs.Bool("allow-repeated-frames", false, "do not fail on repeated fingerprints (records without a sequence number whose bytes repeat), for feeds whose frames can repeat")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long (0: never)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: feedd audit [--config member.yaml] [--brokers host:port,...] [--topic NAME] [flags]\n\n"+
			"Reads the pipeline's topic as its consumers do (read_committed) up to the last stable offset and\n"+
			"reports, by the feedd-seq header (or the fingerprint), every gap, duplicate and out-of-order\n"+
			"record. Exits 0 when the topic is clean, 1 otherwise.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "feedd audit: unexpected argument %q\n", fs.Arg(0))
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

	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	rep, err := audit.Run(ctx, opts)
	if err != nil {
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
	if !rep.Clean {
		return fmt.Errorf("%w: %s", errAuditFindings, strings.Join(rep.Problems, "; "))
	}
	return nil
}
