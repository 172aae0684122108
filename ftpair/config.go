package ftpair

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Default fault-tolerance parameters (the TIBCO Rendezvous defaults scaled
// down to a pair on one LAN).
const (
	DefaultWeight              = 1
	DefaultActiveGoal          = 1
	DefaultHeartbeatInterval   = 100 * time.Millisecond
	DefaultPreparationInterval = 300 * time.Millisecond
	DefaultActivationInterval  = 500 * time.Millisecond
	DefaultPreemptDelay        = 10 * time.Second
)

// Limits checked by Validate.
const (
	MaxWeight       = 65535
	MaxActiveGoal   = 64
	MaxMemberIDLen  = 64
	MinHeartbeat    = time.Millisecond
	yamlFieldPrefix = "pair."
)

// Config holds one member's fault-tolerance parameters. It is the `pair:`
// section of the member's YAML configuration. Every member of a group must
// use the same intervals and ActiveGoal; MemberID, Weight, Preempt and
// PreemptDelay are per member.
type Config struct {
	// MemberID names this member within its group. It must be unique in the
	// group, stable across restarts, and is what peers, the witness (record
	// headers) and /status call this member.
	MemberID string `yaml:"-"`
	// Weight ranks members: higher is preferred when a member must be chosen
	// to activate. Ties are broken by MemberID (lower id first).
	Weight int `yaml:"weight"`
	// ActiveGoal is how many members should be active at once (default 1).
	// Each active member holds one slot, 0..ActiveGoal-1; the edge derives
	// one lock (Kafka transactional.id) per slot.
	ActiveGoal int `yaml:"active_goal"`
	// HeartbeatInterval is how often a member broadcasts its heartbeat.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// PreparationInterval is how long an active member may be silent before
	// the next-ranked inactive member is told to prepare (warm its producer).
	// It is also how long a peer must have been heard without a break
	// before an active hands over to it for its clean feed or its request
	// for the slot.
	PreparationInterval time.Duration `yaml:"preparation_interval"`
	// ActivationInterval is how long an active member may be silent before
	// it is presumed lost (unless the Kafka witness shows it committing). It
	// is also how long a new member listens before judging that nobody is
	// active, how long an active may fail to reach Kafka, or read a bad feed
	// while a peer reads a clean one, before it steps down, and the unit of
	// the hold-offs.
	ActivationInterval time.Duration `yaml:"activation_interval"`
	// Preempt lets this member, when it outranks an active member by weight
	// (strictly heavier, health at least as good), ask that member to hand
	// over to it once the situation has lasted PreemptDelay. The handover is
	// planned: at a commit boundary, with no gap. Off by default.
	Preempt bool `yaml:"preempt"`
	// PreemptDelay is how long a heavier member must have seen the lighter
	// one active before it asks for the handover (default 10s when Preempt
	// is on). It must be at least ActivationInterval.
	PreemptDelay time.Duration `yaml:"preempt_delay"`
}

// DefaultConfig returns a configuration with every default filled in and
// MemberID left empty.
func DefaultConfig() Config {
	var c Config
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills in zero-valued fields with their defaults. It leaves
// MemberID and Preempt alone.
func (c *Config) ApplyDefaults() {
	c.Weight = cmp.Or(c.Weight, DefaultWeight)
	c.ActiveGoal = cmp.Or(c.ActiveGoal, DefaultActiveGoal)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, DefaultHeartbeatInterval)
	c.PreparationInterval = cmp.Or(c.PreparationInterval, DefaultPreparationInterval)
	c.ActivationInterval = cmp.Or(c.ActivationInterval, DefaultActivationInterval)
	if c.Preempt && c.PreemptDelay == 0 {
		c.PreemptDelay = DefaultPreemptDelay
	}
}

// Validate checks the configuration as given (call ApplyDefaults first to
// accept omitted fields). Each problem is reported on its own line, naming
// the YAML field, for example
//
//	pair.activation_interval: 200ms must be greater than pair.preparation_interval (300ms)
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", yamlFieldPrefix, field, fmt.Sprintf(format, args...)))
	}

	// The member id is the top-level member_id setting, shared with the
	// pipeline and the record headers, so its errors name that field.
	badID := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("member_id: %s", fmt.Sprintf(format, args...)))
	}
	if c.MemberID == "" {
		badID("is required")
	} else if err := CheckMemberID(c.MemberID); err != nil {
		badID("%v", err)
	}
	if c.Weight < 1 || c.Weight > MaxWeight {
		bad("weight", "%d is out of range [1, %d]", c.Weight, MaxWeight)
	}
	if c.ActiveGoal < 1 || c.ActiveGoal > MaxActiveGoal {
		bad("active_goal", "%d is out of range [1, %d]", c.ActiveGoal, MaxActiveGoal)
	}

	hb, prep, act := c.HeartbeatInterval, c.PreparationInterval, c.ActivationInterval
	if hb < MinHeartbeat {
		bad("heartbeat_interval", "%v must be at least %v", hb, MinHeartbeat)
	}
	if prep <= hb {
		bad("preparation_interval", "%v must be greater than pair.heartbeat_interval (%v)", prep, hb)
	}
	if act <= prep {
		bad("activation_interval", "%v must be greater than pair.preparation_interval (%v)", act, prep)
	}
	if hb > 0 && act < 2*hb {
		bad("activation_interval", "%v must be at least twice pair.heartbeat_interval (%v)", act, hb)
	}
	if c.PreemptDelay < 0 {
		bad("preempt_delay", "%v must not be negative", c.PreemptDelay)
	} else if c.Preempt && c.PreemptDelay < act {
		bad("preempt_delay", "%v must be at least pair.activation_interval (%v) when pair.preempt is on", c.PreemptDelay, act)
	}
	return errors.Join(errs...)
}

// CheckMemberID reports what makes a non-empty id unfit to name a member:
// the rules Validate applies to MemberID, which the pair link applies to
// the ids of peers.
func CheckMemberID(id string) error {
	switch {
	case len(id) > MaxMemberIDLen:
		return fmt.Errorf("%q is longer than %d bytes", id, MaxMemberIDLen)
	case strings.IndexFunc(id, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '='
	}) >= 0:
		return fmt.Errorf("%q must not contain spaces, control characters or '='", id)
	}
	return nil
}
