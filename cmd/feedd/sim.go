package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// simFlagOf maps serialsim.Config fields to the "feedd sim" flags that set
// them, so validation errors name what the user typed.
var simFlagOf = map[string]string{
	"Ports":         "--ports",
	"LinkDir":       "--link-dir",
	"Baud":          "--baud",
	"DataBits":      "--data-bits",
	"Parity":        "--parity",
	"StopBits":      "--stop-bits",
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

// runSim runs "feedd sim": a serial feed simulator that gives the same
// paced byte stream to --ports socat pseudo-terminals, as a hardware
// splitter feeds two members, with scripted faults. It prints one
// "portN PATH" line per member-side port on stdout, then a counter summary
// every --stats-interval and on exit. It runs until ctx is cancelled or
// --count frames have been sent, then stops every socat it started. -h
// prints the usage on stderr and returns flag.ErrHelp; a flag error is
// printed with the usage and returned wrapping errUsage.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedd sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ports := fs.Int("ports", 2, "number of member ports, one socat pty pair each")
	linkDir := fs.String("link-dir", "/tmp/feedd-sim", "directory of the member-side links port0, port1, …")
	baud := fs.Int("baud", serialsim.DefaultBaud, "line speed in bits per second")
	dataBits := fs.Int("data-bits", serialsim.DefaultDataBits, "data bits per character (5-8), for pacing")
	parity := fs.String("parity", "none", "parity: none, odd, even, mark or space, for pacing")
	stopBits := fs.Float64("stop-bits", serialsim.DefaultStopBits, "stop bits: 1, 1.5 or 2, for pacing")
	feed := fs.String("feed", serialsim.FeedSeq, simFeedUsage())
	rate := fs.Float64("rate", 0, "the feed's rate; 0 = the feed's default (see --feed). For seq, frames per second,\n"+
		"evenly spread; for the other feeds, cycles per second: a receiver's burst of sentences starts\n"+
		"every 1/rate seconds and goes out back to back at the line speed. The line speed caps it")
	frameSize := fs.Int("frame-size", serialsim.DefaultFrameSize, "seq feed only: sentence length in bytes, CR LF included")
	count := fs.Uint64("count", 0, "stop after this many frames (sentences, not cycles); 0 = unlimited")
	replay := fs.String("replay", "", "replay this captured file, paced at the line speed, instead of generating sentences")
	replayLoop := fs.Bool("replay-loop", false, "with --replay, start the file again at its end instead of stopping")
	seed := fs.Uint64("seed", 1, "seed for all randomness: the feed's content, drop and corrupt decisions")
	startSeq := fs.Uint64("start-seq", 1, "id of the first frame (the seq feed's first sequence number)")
	record := fs.String("record", "", "write the truth of the run to this file: every frame, in feed order, and what\n"+
		"became of it on each port (JSON lines; see hw/serialsim/record.go)")
	maxWriteDelay := fs.Duration("max-write-delay", serialsim.DefaultMaxWriteDelay, "a frame that a port's unread buffer holds back is written within this of its\n"+
		"due time, or lost for that port (overflow), as a UART loses what its buffer cannot hold")
	statsEvery := fs.Duration("stats-interval", 10*time.Second, "print the counters this often; 0 = only on exit")
	var faults []serialsim.Fault
	fs.Func("fault", "fault script, repeatable, e.g. port=1,at=5s,kind=unplug,for=2s or port=0,kind=corrupt,rate=0.01\n"+
		"or port=1,kind=baud,baud=9600 (port 1 reads as if its receiver were set to 9600 baud)\n"+
		"(keys: kind=corrupt|drop|pause|unplug|baud, port=N|all, at=DURATION, for=DURATION, rate=FRACTION, baud=N)",
		func(v string) error {
			f, err := serialsim.ParseFault(v)
			if err != nil {
				return err
			}
			faults = append(faults, f)
			return nil
		})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedd sim [flags]\n\n"+
			"Simulates a serial feed split to several members through socat pseudo-terminals.\n"+
			"Members open the printed port paths as serial ports.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	par, err := serialsim.ParseParity(*parity)
	if err != nil {
		return fmt.Errorf("--parity: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	feedName, size := *feed, *frameSize
	if *replay != "" && !set["feed"] {
		feedName = "" // the file is the feed
	}
	if feedName != serialsim.FeedSeq && !set["frame-size"] {
		size = 0 // only the seq feed has a frame size
	}

	var logMu sync.Mutex
	cfg := serialsim.Config{
		Ports:         *ports,
		LinkDir:       *linkDir,
		Baud:          *baud,
		DataBits:      *dataBits,
		Parity:        par,
		StopBits:      *stopBits,
		Feed:          feedName,
		Rate:          *rate,
		FrameSize:     size,
		Count:         *count,
		StartSeq:      *startSeq,
		Seed:          *seed,
		Replay:        *replay,
		ReplayLoop:    *replayLoop,
		Record:        *record,
		MaxWriteDelay: *maxWriteDelay,
		Faults:        faults,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintf(stderr, "feedd sim: "+format+"\n", args...)
		},
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
	if *statsEvery > 0 {
		t := time.NewTicker(*statsEvery)
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
