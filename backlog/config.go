package backlog

import (
	"errors"
	"time"
)

// Defaults applied by Config.WithDefaults to fields left at zero.
const (
	// DefaultMaxFrames covers more than ten minutes of a 1,000 frames/s feed.
	DefaultMaxFrames = 1 << 20
	// DefaultMaxBytes covers more than ten minutes of 1,000 frames/s of
	// 100-byte frames.
	DefaultMaxBytes = 128 << 20
	// DefaultLookAhead is how many of the oldest entries an echo is compared
	// with before it is treated as an early echo.
	DefaultLookAhead = 256
	// DefaultEarlyEchoMax bounds the set of echoes seen before the local port
	// delivered the frame.
	DefaultEarlyEchoMax = 4096
	// DefaultEarlyEchoTTL is how long an early echo waits for its frame.
	DefaultEarlyEchoTTL = 30 * time.Second
)

// Upper limits enforced by Validate. They keep indexes in range and catch
// configuration typos (an extra few zeros) before they turn into memory.
const (
	LimitMaxFrames    = 1 << 30
	LimitLookAhead    = 1 << 20
	LimitEarlyEchoMax = 1 << 24
)

// Config bounds a Ring. Zero fields take their defaults in WithDefaults.
type Config struct {
	// MaxFrames bounds the number of entries held.
	MaxFrames int `yaml:"max_frames"`
	// MaxBytes bounds the payload bytes held (the sum of the frames'
	// lengths). The memory actually used is close to this plus 24 bytes per
	// entry for typical frame sizes; see the package documentation for the
	// worst case.
	MaxBytes int64 `yaml:"max_bytes"`
	// LookAhead is the FIFO match window: an echo is compared with the
	// oldest LookAhead entries (the oldest included). 1 means the oldest
	// entry only.
	LookAhead int `yaml:"look_ahead"`
	// EarlyEchoMax bounds the early-echo set; when full, the oldest early
	// echo is evicted (and counted) to make room.
	EarlyEchoMax int `yaml:"early_echo_max"`
	// EarlyEchoTTL is how long an early echo is kept: one older than this,
	// relative to the time passed to TrimEcho, Append or ExpireEarlyEchoes,
	// is expired (and counted).
	EarlyEchoTTL time.Duration `yaml:"early_echo_ttl"`
}

// WithDefaults returns c with every zero field set to its default. Negative
// values are kept so that Validate reports them.
func (c Config) WithDefaults() Config {
	if c.MaxFrames == 0 {
		c.MaxFrames = DefaultMaxFrames
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.LookAhead == 0 {
		c.LookAhead = DefaultLookAhead
	}
	if c.EarlyEchoMax == 0 {
		c.EarlyEchoMax = DefaultEarlyEchoMax
	}
	if c.EarlyEchoTTL == 0 {
		c.EarlyEchoTTL = DefaultEarlyEchoTTL
	}
	return c
}

// Validate reports every invalid field, each error naming the field by its
// configuration key, e.g. "backlog.max_frames: must be > 0".
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.MaxFrames <= 0:
		errs = append(errs, errors.New("backlog.max_frames: must be > 0"))
	case c.MaxFrames > LimitMaxFrames:
		errs = append(errs, errors.New("backlog.max_frames: must be <= 1073741824"))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, errors.New("backlog.max_bytes: must be > 0"))
	}
	switch {
	case c.LookAhead <= 0:
		errs = append(errs, errors.New("backlog.look_ahead: must be > 0"))
	case c.LookAhead > LimitLookAhead:
		errs = append(errs, errors.New("backlog.look_ahead: must be <= 1048576"))
	}
	switch {
	case c.EarlyEchoMax <= 0:
		errs = append(errs, errors.New("backlog.early_echo_max: must be > 0"))
	case c.EarlyEchoMax > LimitEarlyEchoMax:
		errs = append(errs, errors.New("backlog.early_echo_max: must be <= 16777216"))
	}
	if c.EarlyEchoTTL <= 0 {
		errs = append(errs, errors.New("backlog.early_echo_ttl: must be > 0"))
	}
	return errors.Join(errs...)
}
