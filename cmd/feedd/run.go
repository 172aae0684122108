package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/member/admin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

// Config is the whole configuration of a `feedd run` member. Its YAML layout
// is documented in docs/configuration.md.
type Config struct {
	// Pipeline names the feed; both members of a pair use the same name.
	Pipeline string `yaml:"pipeline"`
	// MemberID tells members apart; defaults to the host name.
	MemberID string                `yaml:"member_id"`
	Serial   ingest.SerialConfig   `yaml:"serial"`
	Framing  framing.Config        `yaml:"framing"`
	Sequence ingest.SequenceConfig `yaml:"sequence"`
	Kafka    broadcast.Config      `yaml:"kafka"`
	Backlog  backlog.Config        `yaml:"backlog"`
	Pair     PairConfig            `yaml:"pair"`
	Admin    admin.Config          `yaml:"admin"`
	Log      LogConfig             `yaml:"log"`
}

// PairConfig is the `pair:` section: the fault-tolerance parameters of the
// protocol core and the pair link that carries its heartbeats.
type PairConfig struct {
	Core ftpair.Config `yaml:",inline"`
	Link link.Config   `yaml:",inline"`
	// ActivationTimeout bounds one activation (fence, catch up, start the
	// flush). A member whose own path to Kafka is broken would otherwise
	// stay "activating", holding the slot, and its peer would never take
	// over; when it expires the activation fails and the core holds off.
	ActivationTimeout time.Duration `yaml:"activation_timeout"`
	// Notify is a shell command run on every role change (docs/operations.md).
	Notify        string        `yaml:"notify"`
	NotifyTimeout time.Duration `yaml:"notify_timeout"`
}

// defaultNotifyTimeout bounds a role-change command.
const defaultNotifyTimeout = 10 * time.Second

// defaultActivationTimeout leaves a slow transaction coordinator room to
// answer while keeping a broken member from holding the slot for long.
const defaultActivationTimeout = 10 * time.Second

// Roles for --role. auto runs the pair protocol; the fixed roles are an
// override for tests and for a member without a peer.
const (
	roleAuto     = "auto"
	roleActive   = "active"
	roleInactive = "inactive"
)

func (c Config) withDefaults() Config {
	if c.MemberID == "" {
		c.MemberID, _ = os.Hostname()
	}
	c.Serial = c.Serial.WithDefaults()
	c.Kafka = c.Kafka.WithDefaults()
	if c.Pipeline != "" {
		c.Kafka.TransactionalID = c.Kafka.TransactionalIDFor(c.Pipeline)
	}
	c.Backlog = c.Backlog.WithDefaults()
	c.Pair.Core.MemberID = c.MemberID
	c.Pair.Core.ApplyDefaults()
	c.Pair.Link = c.Pair.Link.WithDefaults()
	if c.Pair.ActivationTimeout == 0 {
		c.Pair.ActivationTimeout = defaultActivationTimeout
	}
	if c.Pair.NotifyTimeout == 0 {
		c.Pair.NotifyTimeout = defaultNotifyTimeout
	}
	c.Admin = c.Admin.WithDefaults()
	c.Log = c.Log.withDefaults()
	return c
}

// validate reports every invalid section at once (within a section, what
// its Validate reports), each error naming its field by YAML path. The
// pair section is checked only when the pair protocol runs (role auto).
func (c Config) validate(role string) error {
	var errs []error
	switch {
	case c.Pipeline == "":
		errs = append(errs, errors.New("pipeline: required (a name shared by the members of the pair, e.g. ais-north)"))
	case strings.ContainsAny(c.Pipeline, " \t\n/"):
		errs = append(errs, fmt.Errorf("pipeline: %q must not contain spaces or slashes", c.Pipeline))
	}
	if c.MemberID == "" {
		errs = append(errs, errors.New("member_id: required (the host name could not be read)"))
	}
	checks := []interface{ Validate() error }{c.Serial, c.Framing, c.Sequence, c.Kafka, c.Backlog}
	if role == roleAuto {
		checks = append(checks, c.Pair.Core, c.Pair.Link)
	}
	for _, v := range checks {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if role == roleAuto && c.Pair.ActivationTimeout < c.Pair.Core.ActivationInterval {
		errs = append(errs, fmt.Errorf("pair.activation_timeout: %v must be at least pair.activation_interval (%v)", c.Pair.ActivationTimeout, c.Pair.Core.ActivationInterval))
	}
	if role == roleAuto && (c.Pair.NotifyTimeout < 0 || c.Pair.NotifyTimeout > 5*time.Minute) {
		errs = append(errs, fmt.Errorf("pair.notify_timeout: %v must be between 0 (the default, %v) and 5m", c.Pair.NotifyTimeout, defaultNotifyTimeout))
	}
	if role == roleAuto && c.Pair.Core.ActiveGoal != 1 {
		errs = append(errs, fmt.Errorf("pair.active_goal: %d: feedd run supports one active member per pipeline (one transactional id)", c.Pair.Core.ActiveGoal))
	}
	if role == roleAuto && c.Framing.Validate() == nil && !c.Framing.Resyncs() {
		errs = append(errs, fmt.Errorf("framing.mode: %s has no byte that marks where a frame starts (set framing.sync for fixed frames): "+
			"two members that open their ports at different moments could cut the same bytes into different frames, "+
			"for good; a pair cannot use it", c.Framing.Mode))
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Log.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// loadConfig builds the configuration from the file named by --config (or
// FEEDD_CONFIG), the environment and the flags already parsed into pending,
// applies the defaults and validates it for the given --role.
func loadConfig(path string, pending []override, lookupEnv func(string) (string, bool), role string) (Config, error) {
	cfg, err := readConfig(path, pending, lookupEnv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.validate(role)
}

// readConfig is loadConfig without the validation, for commands that use
// only some sections (feedd probe and feedd ports need no Kafka or pair).
func readConfig(path string, pending []override, lookupEnv func(string) (string, bool)) (Config, error) {
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
	return cfg.withDefaults(), nil
}

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
	fs.StringVar(&o.role, "role", roleAuto, "auto (the pair protocol decides), or a fixed role for tests and a member without a peer: active, inactive")
	o.configPath = configFlags(fs, &o.pending)
	return cmd
}

func runRun(ctx context.Context, o runOptions, stdout, stderr io.Writer) error {
	path, role := *o.configPath, o.role
	if role != roleAuto && role != roleActive && role != roleInactive {
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
		watchHangups(hupCtx, hup, func() (LogConfig, error) {
			c, err := loadConfig(path, o.pending, os.LookupEnv, role)
			return c.Log, err
		}, level, log)
	}()
	defer func() { stopHups(); <-hupsDone }()
	var out *bufio.Writer
	if o.printFrames {
		out = bufio.NewWriter(stdout)
	}
	stopProfiles, err := startProfiles(log)
	if err != nil {
		return err
	}
	defer stopProfiles()
	return runMember(ctx, cfg, role, log, out)
}

// preflight runs the checks of a valid configuration that read files or
// the environment, every one that runMember would meet before it opens the
// port or the network, so that --check-config and a start refuse alike and
// name every problem at once: the Kafka TLS files and SASL password, and
// for the pair protocol the pair's secret or certificates, the member's id
// among its peers, and the frame identity.
func preflight(cfg Config, role string) error {
	var errs []error
	if err := cfg.Kafka.CheckFiles(); err != nil {
		errs = append(errs, err)
	}
	if role == roleAuto {
		creds, err := cfg.Pair.Link.LoadCredentials()
		if err != nil {
			errs = append(errs, err)
		}
		clear(creds.Secret)
		if err := link.CheckMember(cfg.MemberID, cfg.Pair.Link); err != nil {
			errs = append(errs, err)
		}
		if _, err := frameIdentity(cfg.Framing, cfg.Sequence); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// configWarnings reports what in a valid configuration is likely a
// mistake: a secret file that other users of the host can read, a baud rate
// no UART offers as standard.
func configWarnings(cfg Config) []string {
	warnings := cfg.Serial.Warnings()
	for _, f := range []struct{ field, path string }{
		{"pair.secret_file", cfg.Pair.Link.SecretFile},
		{"pair.tls.key_file", cfg.Pair.Link.TLS.KeyFile},
		{"kafka.sasl.password_file", cfg.Kafka.SASL.PasswordFile},
		{"kafka.tls.key_file", cfg.Kafka.TLS.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err == nil && st.Mode().Perm()&0o077 != 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s can be read by other users of this host (mode %04o); chmod 600 it",
				f.field, f.path, st.Mode().Perm()))
		}
	}
	return warnings
}

// runMember wires ingest → backlog → broadcast under the pair protocol and
// runs them until ctx is cancelled, then shuts down in dependency order:
// the control loop first (an active member deactivates at a commit
// boundary), then the pair link (peers are told this member is leaving, so
// they take over at once), then the port, the pipeline and the admin
// endpoint.
func runMember(ctx context.Context, cfg Config, role string, log *slog.Logger, printTo *bufio.Writer) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	src, err := ingest.NewSource(cfg.Serial, cfg.Framing, cfg.Sequence, ingest.SourceOptions{Logger: log})
	if err != nil {
		return err
	}
	reg.MustRegister(src)
	ring := cfg.Backlog
	ring.LineByteTime = cfg.Serial.WithDefaults().LineByteTime()
	var (
		pairLink *link.Link
		secret   []byte
	)
	// Repair messages (decision 0011) travel on the pair link, set up
	// below; a member with a fixed role has none and repairs nothing.
	sendRepair := func(to string, msg []byte) bool { return pairLink != nil && pairLink.SendRepair(to, msg) }
	pipe, err := broadcast.New(cfg.Kafka, broadcast.Options{
		Pipeline: cfg.Pipeline, Member: cfg.MemberID, Ring: ring,
		Logger: log, Registerer: reg,
		SendRepair: sendRepair, RepairMessageMax: min(broadcast.RepairMessageMax, link.MaxRepairPayload),
		ReadThrough: src.ReadThrough,
	})
	if err != nil {
		return err
	}
	if role == roleAuto {
		if pairLink, secret, err = newPairLink(cfg, pipe, log); err != nil {
			return err
		}
		reg.MustRegister(pairLink)
	}
	ctl, err := newController(cfg, role, src, pipe, pairLink, log)
	if err != nil {
		return err
	}
	reg.MustRegister(ctl)
	sd, err := newSystemdNotifier()
	if err != nil {
		log.Warn("systemd notification socket not usable; readiness and watchdog not reported", "err", err)
	}
	defer sd.Close()
	ctl.sd = sd

	log.Info("feedd run starting", "version", versionString(), "role", role, "device", cfg.Serial.Device,
		"framing", cfg.Framing.Mode, "kafka", cfg.Kafka.String())

	// Each stage has its own context so shutdown can go in order.
	pipeCtx, stopPipe := context.WithCancel(context.Background())
	srcCtx, stopSrc := context.WithCancel(context.Background())
	linkCtx, stopLink := context.WithCancel(context.Background())
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer func() { stopPipe(); stopSrc(); stopLink(); stopAdmin() }()

	var pipeErr error
	var pipeWG, srcWG, linkWG sync.WaitGroup
	pipeWG.Go(func() { pipeErr = pipe.Run(pipeCtx) })
	if pairLink != nil {
		linkWG.Go(func() {
			if err := pairLink.Run(linkCtx); err != nil {
				log.Error("pair link stopped", "err", err)
			}
		})
	}
	var srcErr error
	srcWG.Go(func() {
		srcErr = src.Run(srcCtx, func(f *ingest.Frame) {
			pipe.Accept(f)
			if printTo != nil {
				printTo.Write(f.Data)
				printTo.WriteByte('\n')
				printTo.Flush()
			}
		})
		if srcErr != nil {
			log.Error("serial reader stopped", "err", srcErr)
			ctl.fatal(srcErr)
		}
	})

	var srv *admin.Server
	if cfg.Admin.Listen != admin.Off {
		handlers := admin.Handlers{
			Status: ctl.status, Healthy: ctl.healthy, Ready: ctl.ready,
			Switchover: ctl.requestSwitchover, Secret: secret,
		}
		srv, err = admin.Start(adminCtx, cfg.Admin.Listen, admin.NewMux(handlers, reg, log), log)
		if err != nil {
			err = fmt.Errorf("admin.listen: %w", err)
			stopSrc()
			srcWG.Wait()
			stopPipe()
			pipeWG.Wait()
			return err
		}
		log.Info("admin endpoint listening", "addr", srv.Addr)
	}

	var notified chan struct{}
	if cfg.Pair.Notify != "" && role == roleAuto {
		n := newRoleNotifier(cfg, log)
		ctl.notify = n.enqueue
		notified = make(chan struct{})
		notifyCtx, stopNotify := context.WithCancel(context.Background())
		go func() { defer close(notified); n.run(notifyCtx) }()
		defer func() { stopNotify(); <-notified }()
	}

	runErr := ctl.run(ctx)

	stopLink()
	linkWG.Wait()
	stopSrc()
	srcWG.Wait()
	stopPipe()
	pipeWG.Wait()
	stopAdmin()
	if srv != nil {
		srv.Wait()
	}
	h := src.Health()
	log.Info("feedd run stopped", "frames", h.Frames, "dropped", h.Dropped, "reconnects", h.Reconnects)
	return errors.Join(runErr, srcErr, pipeErr)
}

// newPairLink builds the member's pair link, which carries the pair
// protocol's heartbeats and the pipeline's repair messages, and returns it
// with the pair's secret (the admin endpoint authenticates switchovers with
// it).
func newPairLink(cfg Config, pipe *broadcast.Pipeline, log *slog.Logger) (*link.Link, []byte, error) {
	creds, err := cfg.Pair.Link.LoadCredentials()
	if err != nil {
		return nil, nil, err
	}
	ident, err := frameIdentity(cfg.Framing, cfg.Sequence)
	if err != nil {
		return nil, nil, err
	}
	log.Info("frame identity", "identity", ident.Description)
	l, err := link.New(cfg.MemberID, cfg.Pair.Link, creds, log, link.WithIdentity(ident), link.WithRepairHandler(pipe.HandleRepair))
	if err != nil {
		return nil, nil, err
	}
	// The link measures the peers' clocks; the pipeline places their
	// records' line windows on this host's clock with it.
	l.SetClockObserver(func(b link.ClockBound) { pipe.ObserveClock(b.Clock, b.Lo, b.Hi, b.At) })
	return l, creds.Secret, nil
}

// stepTimeout bounds actions the control loop waits for (a planned
// deactivation's final commit), so a stuck broker cannot stall the loop.
const stepTimeout = 10 * time.Second
