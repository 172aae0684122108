package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
)

// Config is the whole configuration of a `feedd run` member. Its YAML layout
// is documented in docs/configuration.md.
type Config struct {
	// Pipeline names the feed; both members of a pair use the same name.
	Pipeline string `yaml:"pipeline" help:"pipeline name, the same on every member of the pair"`
	// MemberID tells members apart; defaults to the host name.
	MemberID string                `yaml:"member_id" help:"this member's id (default: host name)"`
	Serial   ingest.SerialConfig   `yaml:"serial"`
	Framing  framing.Config        `yaml:"framing"`
	Sequence ingest.SequenceConfig `yaml:"sequence"`
	Log      LogConfig             `yaml:"log"`
}

func (c Config) withDefaults() Config {
	if c.MemberID == "" {
		c.MemberID, _ = os.Hostname()
	}
	c.Serial = c.Serial.WithDefaults()
	c.Log = c.Log.withDefaults()
	return c
}

// validate reports the first invalid field, named by its YAML path.
func (c Config) validate() error {
	switch {
	case c.Pipeline == "":
		return errors.New("pipeline: required (a name shared by the members of the pair, e.g. ais-north)")
	case strings.ContainsAny(c.Pipeline, " \t\n/"):
		return fmt.Errorf("pipeline: %q must not contain spaces or slashes", c.Pipeline)
	case c.MemberID == "":
		return errors.New("member_id: required (the host name could not be read)")
	}
	for _, v := range []interface{ Validate() error }{c.Serial, c.Framing, c.Sequence} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return c.Log.validate()
}

// loadConfig builds the configuration from the file named by --config (or
// FEEDD_CONFIG), the environment and the flags already parsed into pending.
func loadConfig(path string, pending []override, lookupEnv func(string) (string, bool)) (Config, error) {
	var cfg Config
	if path == "" {
		path, _ = lookupEnv("FEEDD_CONFIG")
	}
	if path != "" {
		if err := loadYAML(path, &cfg); err != nil {
			return cfg, err
		}
	}
	settings := settingsOf(&cfg)
	if err := applyEnv(settings, lookupEnv); err != nil {
		return cfg, err
	}
	if err := applyOverrides(settings, pending); err != nil {
		return cfg, err
	}
	cfg = cfg.withDefaults()
	return cfg, cfg.validate()
}

// configFlags registers --config and one flag per configuration leaf.
func configFlags(fs *flag.FlagSet, pending *[]override) (configPath *string) {
	configPath = fs.String("config", "", "YAML configuration file (or FEEDD_CONFIG)")
	var probe Config
	for _, s := range settingsOf(&probe) {
		help := s.help
		if help == "" {
			help = "see docs/configuration.md"
		}
		fs.Var(&overrideFlag{path: s.path, isBool: s.field.Kind() == reflect.Bool, pending: pending},
			s.path, help+" (env "+s.envName()+")")
	}
	return configPath
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedd run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pending []override
	configPath := configFlags(fs, &pending)
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	printFrames := fs.Bool("print-frames", false, "write each frame to standard output, one per line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "feedd run: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	cfg, err := loadConfig(*configPath, pending, os.LookupEnv)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	if *check {
		fmt.Fprintf(stdout, "configuration OK: pipeline %q, member %q, device %s, framing %s\n",
			cfg.Pipeline, cfg.MemberID, cfg.Serial.Device, cfg.Framing.Mode)
		return nil
	}
	log := newLogger(cfg.Log, stderr).With("pipeline", cfg.Pipeline, "member", cfg.MemberID)
	src, err := ingest.NewSource(cfg.Serial, cfg.Framing, cfg.Sequence, ingest.SourceOptions{Logger: log})
	if err != nil {
		return err
	}
	log.Info("feedd run starting", "version", versionString(), "device", cfg.Serial.Device,
		"baud", cfg.Serial.Baud, "framing", cfg.Framing.Mode)

	out := bufio.NewWriter(stdout)
	handle := func(f *ingest.Frame) {}
	if *printFrames {
		handle = func(f *ingest.Frame) {
			out.Write(f.Data)
			out.WriteByte('\n')
			out.Flush()
		}
	}

	var wg sync.WaitGroup
	summaryCtx, stopSummary := context.WithCancel(context.Background())
	wg.Go(func() { logSummaries(summaryCtx, log, src, 10*time.Second) })
	err = src.Run(ctx, handle)
	stopSummary()
	wg.Wait()
	h := src.Health()
	log.Info("feedd run stopped", "frames", h.Frames, "dropped", h.Dropped, "reconnects", h.Reconnects)
	return err
}

// logSummaries logs the reader's counters every interval until ctx ends.
func logSummaries(ctx context.Context, log *slog.Logger, src *ingest.Source, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h := src.Health()
			log.Info("ingest", "frames", h.Frames, "dropped", h.Dropped, "connected", h.Connected,
				"quiet", h.Quiet, "reconnects", h.Reconnects)
		}
	}
}
