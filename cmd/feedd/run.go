package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/member"
	"github.com/spf13/cobra"
)

// runOptions are the flags of "feedd run".
type runOptions struct {
	configPath  *string
	pending     []override
	check       bool
	printFrames bool
	role        string
}

func runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "run a pipeline member: read the serial feed and broadcast it",
		Long: "Runs one member of a pair: reads the serial feed, keeps a backlog ring of its frames and,\n" +
			"while it is the active member, broadcasts them to the Kafka topic in transactions.\n\n" +
			"Settings come from the YAML file of --config, then FEEDD_* environment variables, then\n" +
			"the flags below, each overriding the one before; docs/configuration.md explains every one.\n" +
			"Exits 78 on a configuration that cannot run, before it opens the port or the network.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.BoolVar(&o.check, "check-config", false, "validate the configuration, and what it names outside itself, and exit")
	fs.BoolVar(&o.printFrames, "print-frames", false, "also write each frame read to standard output, one per line")
	fs.StringVar(&o.role, "role", member.ModeAuto, "auto (the pair protocol decides), or a fixed role for tests and a member without a peer: active, inactive")
	o.configPath = configFlags(fs, &o.pending)
	return cmd
}

func runRun(ctx context.Context, o runOptions, stdout, stderr io.Writer) error {
	path, role := *o.configPath, o.role
	if role != member.ModeAuto && role != member.ModeActive && role != member.ModeInactive {
		return usageErrorf("--role %q is not one of auto, active, inactive", role)
	}
	cfg, err := loadConfig(path, o.pending, os.LookupEnv, role)
	if err == nil {
		err = preflight(cfg, role)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	warnings := configWarnings(cfg)
	if o.check {
		if w := deviceWarning(cfg.Serial); w != "" {
			warnings = append(warnings, w)
		}
		warnings = append(warnings, unknownEnvWarnings(os.Environ(), &cfg)...)
		for _, w := range warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		fmt.Fprintf(stdout, "configuration OK: pipeline %q, member %q, device %s, framing %s, %s\n",
			cfg.Pipeline, cfg.MemberID, cfg.Serial.Device, cfg.Framing.Mode, cfg.Kafka)
		return nil
	}
	level := new(slog.LevelVar)
	log := newLogger(cfg.Log, level, stderr).With("pipeline", cfg.Pipeline, "member", cfg.MemberID)
	for _, w := range warnings {
		log.Warn("configuration: " + w)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupCtx, stopHups := context.WithCancel(ctx)
	hupsDone := make(chan struct{})
	go func() {
		defer close(hupsDone)
		watchHangups(hupCtx, hup, func() (member.LogConfig, error) {
			c, err := loadConfig(path, o.pending, os.LookupEnv, role)
			return c.Log, err
		}, level, log)
	}()
	defer func() { stopHups(); <-hupsDone }()
	var frames io.Writer
	if o.printFrames {
		frames = stdout
	}
	stopProfiles, err := startProfiles(log)
	if err != nil {
		return err
	}
	defer stopProfiles()
	// An operator's GOMAXPROCS is a fixed processor count to keep.
	followLoad := os.Getenv("GOMAXPROCS") == ""
	m, err := member.New(cfg, member.Options{Mode: role, Logger: log, Version: versionString(), Frames: frames, FollowLoad: followLoad})
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

// preflight runs the checks of a valid configuration that read files or
// the environment, every one that the member would meet before it opens the
// port or the network, so that --check-config and a start refuse alike and
// name every problem at once: the Kafka TLS files and SASL password, and
// for the pair protocol the pair's secret or certificates, the member's id
// among its peers, and the frame identity.
func preflight(cfg member.Config, role string) error {
	var errs []error
	if err := cfg.Kafka.CheckFiles(); err != nil {
		errs = append(errs, err)
	}
	if role == member.ModeAuto {
		creds, err := cfg.Pair.Link.LoadCredentials()
		if err != nil {
			errs = append(errs, err)
		}
		clear(creds.Secret)
		if err := link.CheckMember(cfg.MemberID, cfg.Pair.Link); err != nil {
			errs = append(errs, err)
		}
		if _, err := member.FrameIdentity(cfg.Framing, cfg.Sequence); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deviceWarning says, for --check-config, that the serial device cannot be
// found now. A member waits for it (an adapter plugged in later, a
// simulator started after it), so it is not an error, unless
// serial.fail_fast makes a start fail on it.
func deviceWarning(c ingest.SerialConfig) string {
	then := "a member waits for it, retrying"
	if c.FailFast {
		then = "with serial.fail_fast a start fails on it"
	}
	path, err := ingest.ResolveDevice(c.Device, ingest.ListPorts)
	switch {
	case errors.Is(err, ingest.ErrDeviceMissing):
		return fmt.Sprintf("serial.device: %v; %s", err, then)
	case err != nil:
		return fmt.Sprintf("serial.device: %v", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("serial.device: %s cannot be found now; %s (is the adapter plugged in, or the simulator running?)", path, then)
	} else if err != nil {
		return fmt.Sprintf("serial.device: %s cannot be checked: %v", path, err)
	}
	return ""
}

// configWarnings reports what in a valid configuration is likely a
// mistake: a secret file that every user of the host can read, or that its
// group can change, a baud rate no UART offers as standard, brokers whose
// certificates are not checked, and a SASL password sent in the clear. A
// secret its group can read is the runbook's layout (owner root, the
// member's group, 0640), not a mistake.
func configWarnings(cfg member.Config) []string {
	warnings := cfg.Serial.Warnings()
	if cfg.Kafka.TLS.Enabled && cfg.Kafka.TLS.InsecureSkipVerify {
		warnings = append(warnings, "kafka.tls.insecure_skip_verify: the brokers' certificates are not checked, "+
			"so anyone between this host and Kafka can pose as a broker (meant for tests; set kafka.tls.ca_file instead)")
	}
	if cfg.Kafka.SASL.Mechanism == "PLAIN" && !cfg.Kafka.TLS.Enabled {
		warnings = append(warnings, "kafka.sasl.mechanism: PLAIN without kafka.tls.enabled sends the password to the brokers in the clear; "+
			"enable TLS or use SCRAM-SHA-512")
	}
	for _, f := range []struct{ field, path string }{
		{"pair.secret_file", cfg.Pair.Link.SecretFile},
		{"pair.tls.key_file", cfg.Pair.Link.TLS.KeyFile},
		{"kafka.sasl.password_file", cfg.Kafka.SASL.PasswordFile},
		{"kafka.tls.key_file", cfg.Kafka.TLS.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		st, err := os.Stat(f.path)
		if err != nil {
			continue
		}
		switch perm := st.Mode().Perm(); {
		case perm&0o007 != 0:
			warnings = append(warnings, fmt.Sprintf("%s: %s is open to every user of this host (mode %04o); chmod o-rwx it "+
				"(0640 owned by root and the member's group, or 0600 owned by the member's user)", f.field, f.path, perm))
		case perm&0o020 != 0:
			warnings = append(warnings, fmt.Sprintf("%s: %s can be changed by its group (mode %04o); chmod g-w it", f.field, f.path, perm))
		}
	}
	return warnings
}
