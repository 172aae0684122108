package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/spf13/cobra"
)

// simFlagOf maps serialsim.Config fields to the "feedd sim" flags that set
// them, so validation errors name what the user typed.
var simFlagOf = map[string]string{
	"Ports":         "--ports",
	"LinkDir":       "--link-dir",
	"Baud":          "--serial.baud",
	"DataBits":      "--serial.data_bits",
	"Parity":        "--serial.parity",
	"StopBits":      "--serial.stop_bits",
	"Feed":          "--feed",
	"Rate":          "--rate",
	"FrameSize":     "--frame-size",
	"Replay":        "--replay",
	"Record":        "--record",
	"MaxWriteDelay": "--max-write-delay",
}

// simFeedUsage is the --feed help: the feeds and the default --rate of
// each.
func simFeedUsage() string {
	var b strings.Builder
	b.WriteString("the generated feed:")
	for _, f := range serialsim.Feeds() {
		fmt.Fprintf(&b, "\n  %-11s %s\n  %-11s --rate default %g %s/s", f.Name, f.Summary, "", f.DefaultRate, f.Unit)
		if f.MaxRate != 0 {
			fmt.Fprintf(&b, ", at most %g", f.MaxRate)
		}
	}
	return b.String()
}

// simCommand is "feedd sim": a serial feed simulator that gives the same
// paced byte stream to --ports socat pseudo-terminals, as a hardware
// splitter feeds two members, with scripted faults.
func simCommand() *cobra.Command {
	var (
		cfg        serialsim.Config
		parity     string
		statsEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "simulate a serial feed split to several members (socat ptys)",
		Long: "Simulates a serial feed split to several members through socat pseudo-terminals.\n" +
			"Members open the printed port paths as serial ports. It prints one \"portN PATH\" line per\n" +
			"member-side port on stdout, then a counter summary every --stats-interval and on exit.",
		Example: "  feedd sim --ports 2 --link-dir /tmp/feedd-sim --rate 100\n" +
			"  feedd sim --feed nmea-gps --record /tmp/feed.jsonl --fault port=1,at=5s,kind=unplug,for=2s",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			par, err := serialsim.ParseParity(parity)
			if err != nil {
				return fmt.Errorf("--serial.parity: %w", err)
			}
			cfg.Parity = par
			if cfg.Replay != "" && !cmd.Flags().Changed("feed") {
				cfg.Feed = "" // the file is the feed
			}
			if cfg.Feed != serialsim.FeedSeq && !cmd.Flags().Changed("frame-size") {
				cfg.FrameSize = 0 // only the seq feed has a frame size
			}
			return runSim(cmd.Context(), cfg, statsEvery, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	simFlags(cmd, &cfg, &parity, &statsEvery)
	return cmd
}

func simFlags(cmd *cobra.Command, cfg *serialsim.Config, parity *string, statsEvery *time.Duration) {
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.IntVar(&cfg.Ports, "ports", 2, "number of member ports, one socat pty pair each")
	fs.StringVar(&cfg.LinkDir, "link-dir", "/tmp/feedd-sim", "directory of the member-side links port0, port1, …")
	fs.IntVar(&cfg.Baud, "serial.baud", serialsim.DefaultBaud, "line speed in bits per second")
	fs.IntVar(&cfg.DataBits, "serial.data_bits", serialsim.DefaultDataBits, "data bits per character (5-8), for pacing")
	fs.StringVar(parity, "serial.parity", "none", "parity: none, odd, even, mark or space, for pacing")
	fs.Float64Var(&cfg.StopBits, "serial.stop_bits", serialsim.DefaultStopBits, "stop bits: 1, 1.5 or 2, for pacing")
	fs.StringVar(&cfg.Feed, "feed", serialsim.FeedSeq, simFeedUsage())
	fs.Float64Var(&cfg.Rate, "rate", 0, "the feed's rate; 0 = the feed's default (see --feed). For seq, frames per second, "+
		"evenly spread; for the other feeds, cycles per second: a receiver's burst of sentences starts "+
		"every 1/rate seconds and goes out back to back at the line speed. The line speed caps it")
	fs.IntVar(&cfg.FrameSize, "frame-size", serialsim.DefaultFrameSize, "seq feed only: sentence length in bytes, CR LF included")
	fs.Uint64Var(&cfg.Count, "count", 0, "stop after this many frames (sentences, not cycles); 0 = unlimited")
	fs.StringVar(&cfg.Replay, "replay", "", "replay this captured file, paced at the line speed, instead of generating sentences")
	fs.BoolVar(&cfg.ReplayLoop, "replay-loop", false, "with --replay, start the file again at its end instead of stopping")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed for all randomness: the feed's content, drop and corrupt decisions")
	fs.Uint64Var(&cfg.StartSeq, "start-seq", 1, "id of the first frame (the seq feed's first sequence number)")
	fs.StringVar(&cfg.Record, "record", "", "write the truth of the run to this file: every frame, in feed order, and what "+
		"became of it on each port (JSON lines; see hw/serialsim/record.go)")
	fs.DurationVar(&cfg.MaxWriteDelay, "max-write-delay", serialsim.DefaultMaxWriteDelay, "a frame that a port's unread buffer holds back is written within this of its "+
		"due time, or lost for that port (overflow), as a UART loses what its buffer cannot hold")
	fs.DurationVar(statsEvery, "stats-interval", 10*time.Second, "print the counters this often; 0 = only on exit")
	fs.Func("fault", "fault script, repeatable, e.g. port=1,at=5s,kind=unplug,for=2s or port=0,kind=corrupt,rate=0.01 "+
		"or port=1,kind=baud,baud=9600 (port 1 reads as if its receiver were set to 9600 baud) "+
		"(keys: kind=corrupt|drop|pause|unplug|baud, port=N|all, at=DURATION, for=DURATION, rate=FRACTION, baud=N)",
		func(v string) error {
			f, err := serialsim.ParseFault(v)
			if err != nil {
				return err
			}
			cfg.Faults = append(cfg.Faults, f)
			return nil
		})
	// The spellings before the line settings were named as in the
	// configuration's serial: section.
	renamedFlag(cmd, "baud", "serial.baud")
	renamedFlag(cmd, "data-bits", "serial.data_bits")
	renamedFlag(cmd, "parity", "serial.parity")
	renamedFlag(cmd, "stop-bits", "serial.stop_bits")
}

// runSim runs the simulator of cfg until ctx is cancelled or cfg.Count
// frames have been sent, then stops every socat it started.
func runSim(ctx context.Context, cfg serialsim.Config, statsEvery time.Duration, stdout, stderr io.Writer) error {
	var logMu sync.Mutex
	cfg.Logf = func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stderr, "feedd sim: "+format+"\n", args...)
	}
	sim, err := serialsim.New(cfg)
	if err != nil {
		return simConfigError(err)
	}
	if err := sim.Start(ctx); err != nil {
		_ = sim.Close()
		return err
	}
	started := time.Now()
	for i, p := range sim.Ports() {
		fmt.Fprintf(stdout, "port%d %s\n", i, p)
	}

	var tick <-chan time.Time
	if statsEvery > 0 {
		t := time.NewTicker(statsEvery)
		defer t.Stop()
		tick = t.C
	}
	summary := func(final bool) {
		var b strings.Builder
		word := "sim"
		if final {
			word = "sim final"
		}
		fmt.Fprintf(&b, "%s: t=%s generated=%d", word, time.Since(started).Round(100*time.Millisecond), sim.Generated())
		for i := range sim.Ports() {
			if st, err := sim.Stats(i); err == nil {
				fmt.Fprintf(&b, " | port%d %s", i, st)
			}
		}
		fmt.Fprintln(stdout, b.String())
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-sim.Finished():
			break loop
		case <-tick:
			summary(false)
		}
	}
	err = sim.Close()
	summary(true)
	return err
}

// simConfigError rewords a serialsim validation error in terms of flags.
func simConfigError(err error) error {
	var ce *serialsim.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	if f, ok := simFlagOf[ce.Field]; ok {
		return fmt.Errorf("%s: %s", f, ce.Reason)
	}
	var i int
	if _, e := fmt.Sscanf(ce.Field, "Faults[%d]", &i); e == nil {
		return fmt.Errorf("--fault (number %d): %s", i+1, ce.Reason)
	}
	return err
}
