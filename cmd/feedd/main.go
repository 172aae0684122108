// Command feedd is a fault-tolerant continuous data-distribution pipeline:
// two members read the same serial feed, and exactly one broadcasts every
// frame to a Kafka topic, with no gap and no duplicate across failovers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run a pipeline member: read the serial feed and broadcast it", runRun},
		{"broker", "run an embedded Kafka-protocol broker for demos and tests", runBroker},
		{"sim", "simulate a serial feed split to several members (socat ptys)", runSim},
		{"ports", "list the serial ports of this host: USB ids, serial numbers, by-id links", runPorts},
		{"probe", "read the serial port for a while and say whether the settings fit the feed", runProbe},
		{"status", "show a running member's role, peers, ring, commits and feed", runStatus},
		{"switchover", "ask the active member to hand over at a commit boundary (maintenance)", runSwitchover},
		{"demo", "run a whole pair on this machine: broker, simulated feed, two members, failovers", runDemo},
		{"audit", "check a pipeline's topic: every gap, duplicate and out-of-order frame", runAudit},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks an error whose message already went to stderr with usage.
var errUsage = errors.New("usage")

// errConfig marks a configuration that cannot run: starting again will not
// help, so it exits with exitConfig (EX_CONFIG of sysexits.h), which the
// systemd unit does not restart on.
var errConfig = errors.New("invalid configuration")

const exitConfig = 78

// parseFlags parses a command's flags: -h gives flag.ErrHelp (exit 0), a bad
// flag errUsage (exit 2); the flag package has printed either.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseCommandFlags is parseFlags for a command that takes no arguments
// besides its flags.
func parseCommandFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, errConfig):
			fmt.Fprintf(stderr, "feedd %s: %v\n", c.name, err)
			return exitConfig
		default:
			fmt.Fprintf(stderr, "feedd %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "feedd: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: feedd <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'feedd <command> -h' for a command's flags.")
}
