package backlog

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// Defaults applied by Config.WithDefaults to fields left at zero.
const (
	// DefaultMaxFrames covers more than ten minutes of a 1,000 frames/s feed.
	DefaultMaxFrames = 1 << 20
	// DefaultMaxBytes covers more than ten minutes of 1,000 frames/s of
	// 100-byte frames.
	DefaultMaxBytes = 128 << 20
	// DefaultLookAhead is how many of the oldest entries an echo with a feed
	// sequence number is compared with before a scan of the whole ring.
	DefaultLookAhead = 256
	// DefaultEchoMemory bounds the echoes kept because no entry was
	// certainly their frame.
	DefaultEchoMemory = 1 << 16
	// DefaultEchoMemoryTTL is how long such an echo is kept.
	DefaultEchoMemoryTTL = time.Minute
	// DefaultPassMargin is how far behind a committed frame's earliest
	// possible line time an entry must lie before it is passed over.
	DefaultPassMargin = 100 * time.Millisecond
	// DefaultRepairTimeout is how long a repair may hold frames back: time
	// for the peer's port to pass the hole by its latency bound and the
	// pass margin, and for a round trip on the pair link.
	DefaultRepairTimeout = time.Second
	// DefaultRepairPatience is how long a hole may stay held while the
	// peer, heard that recently, does not answer: long enough for a pair
	// link cut for several activation intervals to come back.
	DefaultRepairPatience = 30 * time.Second
)

// NumberedLate is how much later than its window says a port may have
// delivered a frame with a feed sequence number (its reader starved by a
// loaded host). Two sightings of one number are one frame only within the
// pass margin plus this of each other: a counter may wrap, or its sender
// restart, and then the same number comes back as another frame.
const NumberedLate = time.Second

// Values of Config.CrossCheck.
const (
	CrossCheckAuto = "auto"
	CrossCheckOn   = "on"
	CrossCheckOff  = "off"
)

// Upper limits enforced by Validate. They keep indexes in range and catch
// configuration typos (an extra few zeros) before they turn into memory.
const (
	LimitMaxFrames = 1 << 30
	// LimitMaxBytes, eight times the default, lets the ring keep payload
	// offsets in 32 bits (4 bytes an entry less): the entries held span
	// less than twice MaxBytes of the arena.
	LimitMaxBytes   = 1 << 30
	LimitLookAhead  = 1 << 20
	LimitEchoMemory = 1 << 24
	// limboMax bounds the overflowed entries whose fate (reached the topic
	// or not) is still being watched for (56 bytes each, allocated as
	// needed); see Stats.OverflowLost.
	limboMax = 1 << 16
)

// Config bounds a Ring and sets how echoes are matched. Zero fields take
// their defaults in WithDefaults.
type Config struct {
	// MaxFrames bounds the number of entries held.
	MaxFrames int `yaml:"max_frames"`
	// MaxBytes bounds the payload bytes held (the sum of the frames'
	// lengths), at most LimitMaxBytes. The memory actually used is close to
	// this plus 18 bytes per entry (26 with a feed sequence number) for
	// typical frame sizes; see the package documentation for the worst
	// case.
	MaxBytes int64 `yaml:"max_bytes"`
	// LookAhead is how many of the oldest entries an echo that carries a
	// feed sequence number is compared with before the ring is scanned
	// (amortised) for it.
	LookAhead int `yaml:"look_ahead"`
	// EchoMemory bounds the echoes remembered because no entry was
	// certainly their frame (it may arrive later, or a flushed entry may be
	// that frame); when full, the oldest is forgotten and counted.
	EchoMemory int `yaml:"echo_memory"`
	// EchoMemoryTTL is how long such an echo is remembered, measured on the
	// host clock against the newest line time the ring has seen.
	EchoMemoryTTL time.Duration `yaml:"echo_memory_ttl"`
	// PassMargin: an entry whose latest possible line time lies more than
	// this before the earliest possible line time of a committed frame is
	// passed over (its frame came before a committed one, so it is either
	// committed already or was skipped by the active). The margin is what
	// is left of safety if a port delivers bytes later than its latency
	// bound says.
	PassMargin time.Duration `yaml:"pass_margin"`
	// RepairTimeout bounds how long an active member holds back the frames
	// read after a hole in its own stream (see ingest.Hole) while its peer
	// looks for the frames it lacks; past it, what the peer has not sent is
	// reported as an unrepaired hole and the held frames go out.
	RepairTimeout time.Duration `yaml:"repair_timeout"`
	// RepairPatience bounds how long a hole stays held when its answer has
	// not come in RepairTimeout but the peer was heard on the pair link
	// within RepairPatience: the request is sent again every
	// RepairTimeout, since a link that is cut may come back with the
	// frames only the peer read. Publishing stops meanwhile; nothing is
	// lost. Set it to RepairTimeout to wait no longer than that.
	RepairPatience time.Duration `yaml:"repair_patience"`
	// CrossCheck says which frames an active member holds back until its
	// peer's sightings show whether its own port dropped a frame whole
	// (decision 0012): "auto" (the default) those without a feed sequence
	// number, whose loss leaves no sign on the port; "on" every frame;
	// "off" none. A member sends its sightings to an active peer unless
	// it is "off".
	CrossCheck string `yaml:"cross_check"`
	// LineByteTime is the time the serial line takes for one character at
	// its baud rate and character format. Two distinct frames with the same
	// bytes end at least len(frame) characters apart on the line, which is
	// what lets an echo be recognised as one entry by time. Zero disables
	// that: only feed sequence numbers then identify frames. It comes from
	// the serial settings, not the backlog section.
	LineByteTime time.Duration `yaml:"-"`
}

// WithDefaults returns c with every zero field set to its default. Negative
// values are kept so that Validate reports them.
func (c Config) WithDefaults() Config {
	c.MaxFrames = cmp.Or(c.MaxFrames, DefaultMaxFrames)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.LookAhead = cmp.Or(c.LookAhead, DefaultLookAhead)
	c.EchoMemory = cmp.Or(c.EchoMemory, DefaultEchoMemory)
	c.EchoMemoryTTL = cmp.Or(c.EchoMemoryTTL, DefaultEchoMemoryTTL)
	c.PassMargin = cmp.Or(c.PassMargin, DefaultPassMargin)
	c.RepairTimeout = cmp.Or(c.RepairTimeout, DefaultRepairTimeout)
	c.RepairPatience = cmp.Or(c.RepairPatience, max(DefaultRepairPatience, c.RepairTimeout))
	c.CrossCheck = cmp.Or(c.CrossCheck, CrossCheckAuto)
	return c
}

// Validate reports every invalid field, each error naming the field by its
// configuration key, e.g. "backlog.max_frames: must be > 0".
func (c Config) Validate() error {
	var errs []error
	errs = appendOutOfRange(errs, "backlog.max_frames", c.MaxFrames, LimitMaxFrames)
	switch {
	case c.MaxBytes <= 0:
		errs = append(errs, errors.New("backlog.max_bytes: must be > 0"))
	case c.MaxBytes > LimitMaxBytes:
		errs = append(errs, fmt.Errorf("backlog.max_bytes: must be <= %d (1 GiB)", LimitMaxBytes))
	}
	errs = appendOutOfRange(errs, "backlog.look_ahead", c.LookAhead, LimitLookAhead)
	errs = appendOutOfRange(errs, "backlog.echo_memory", c.EchoMemory, LimitEchoMemory)
	if c.EchoMemoryTTL <= 0 {
		errs = append(errs, errors.New("backlog.echo_memory_ttl: must be > 0"))
	}
	if c.PassMargin < 0 {
		errs = append(errs, errors.New("backlog.pass_margin: must be >= 0"))
	}
	if c.RepairTimeout < 0 || c.RepairTimeout > time.Minute {
		errs = append(errs, errors.New("backlog.repair_timeout: must be between 0 (the default, 1s) and 1m"))
	}
	if c.RepairPatience != 0 && (c.RepairPatience < cmp.Or(c.RepairTimeout, DefaultRepairTimeout) || c.RepairPatience > 10*time.Minute) {
		errs = append(errs, errors.New("backlog.repair_patience: must be 0 (the default, 30s) or between backlog.repair_timeout and 10m"))
	}
	switch c.CrossCheck {
	case "", CrossCheckAuto, CrossCheckOn, CrossCheckOff:
	default:
		errs = append(errs, fmt.Errorf("backlog.cross_check: %q is not one of auto, on, off", c.CrossCheck))
	}
	if c.LineByteTime < 0 {
		errs = append(errs, errors.New("backlog: the line's character time must be >= 0"))
	}
	return errors.Join(errs...)
}

// appendOutOfRange appends an error naming key unless 0 < v <= limit.
func appendOutOfRange(errs []error, key string, v, limit int) []error {
	switch {
	case v <= 0:
		return append(errs, fmt.Errorf("%s: must be > 0", key))
	case v > limit:
		return append(errs, fmt.Errorf("%s: must be <= %d", key, limit))
	}
	return errs
}
