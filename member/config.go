package member

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/member/admin"
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

// LogConfig is the `log:` section. The program that runs the member builds
// its logger from it.
type LogConfig struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// DefaultNotifyTimeout bounds a role-change command.
const DefaultNotifyTimeout = 10 * time.Second

// DefaultActivationTimeout leaves a slow transaction coordinator room to
// answer while keeping a broken member from holding the slot for long.
const DefaultActivationTimeout = 10 * time.Second

// Modes a member runs in (feedd run --role, and "mode" in /status).
// ModeAuto runs the pair protocol; the fixed roles are an override for
// tests and for a member without a peer.
const (
	ModeAuto     = "auto"
	ModeActive   = "active"
	ModeInactive = "inactive"
)

// WithDefaults returns c with every unset setting at its default, and the
// settings derived from others (the transactional id from the pipeline, the
// core's member id) filled in.
func (c Config) WithDefaults() Config {
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
	c.Pair.ActivationTimeout = cmp.Or(c.Pair.ActivationTimeout, DefaultActivationTimeout)
	c.Pair.NotifyTimeout = cmp.Or(c.Pair.NotifyTimeout, DefaultNotifyTimeout)
	c.Admin = c.Admin.WithDefaults()
	c.Log = c.Log.withDefaults()
	return c
}

// Validate reports every invalid section at once (within a section, what
// its Validate reports), each error naming its field by YAML path. The
// pair section is checked only when the pair protocol runs (mode auto).
func (c Config) Validate(mode string) error {
	var errs []error
	switch {
	case c.Pipeline == "":
		errs = append(errs, errors.New("pipeline: required (a name shared by the members of the pair, e.g. ais-north)"))
	case strings.ContainsAny(c.Pipeline, " \t\n/"):
		errs = append(errs, fmt.Errorf("pipeline: %q must not contain spaces or slashes", c.Pipeline))
	}
	switch {
	case c.MemberID == "":
		errs = append(errs, errors.New("member_id: required (the host name could not be read)"))
	case mode != ModeAuto:
		// With the pair protocol its core checks the id; without it the
		// id still names the member in every record's feedd header.
		if err := ftpair.CheckMemberID(c.MemberID); err != nil {
			errs = append(errs, fmt.Errorf("member_id: %w", err))
		}
	}
	checks := []interface{ Validate() error }{c.Serial, c.Framing, c.Sequence, c.Kafka, c.Backlog}
	if mode == ModeAuto {
		checks = append(checks, c.Pair.Core, c.Pair.Link)
	}
	for _, v := range checks {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if mode == ModeAuto {
		errs = append(errs, c.Pair.validate(c.Framing)...)
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Log.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validate reports what a pair cannot run with beyond what the core and
// the link check themselves, framing being the member's framing.
func (c PairConfig) validate(f framing.Config) []error {
	var errs []error
	if c.ActivationTimeout < c.Core.ActivationInterval {
		errs = append(errs, fmt.Errorf("pair.activation_timeout: %v must be at least pair.activation_interval (%v)", c.ActivationTimeout, c.Core.ActivationInterval))
	}
	if c.NotifyTimeout < 0 || c.NotifyTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("pair.notify_timeout: %v must be between 0 (the default, %v) and 5m", c.NotifyTimeout, DefaultNotifyTimeout))
	}
	if c.Core.ActiveGoal != 1 {
		errs = append(errs, fmt.Errorf("pair.active_goal: %d: feedd run supports one active member per pipeline (one transactional id)", c.Core.ActiveGoal))
	}
	if f.Validate() == nil && !f.Resyncs() {
		errs = append(errs, fmt.Errorf("framing.mode: %s has no byte that marks where a frame starts (set framing.sync for fixed frames): "+
			"two members that open their ports at different moments could cut the same bytes into different frames, "+
			"for good; a pair cannot use it", f.Mode))
	}
	return errs
}

func (c LogConfig) withDefaults() LogConfig {
	c.Format = cmp.Or(c.Format, "text")
	c.Level = cmp.Or(c.Level, "info")
	return c
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

func (c LogConfig) validate() error {
	if c.Format != "text" && c.Format != "json" {
		return fmt.Errorf("log.format: %q is not one of text, json", c.Format)
	}
	if _, ok := logLevels[c.Level]; !ok {
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Level)
	}
	return nil
}

// SlogLevel is the level c names (info for a level Validate refuses).
func (c LogConfig) SlogLevel() slog.Level { return logLevels[c.Level] }
