package framing

import "errors"

const (
	// DefaultMaxFrame is max_frame for every mode but nmea.
	DefaultMaxFrame = 4096
	// DefaultNMEAMaxFrame is max_frame for nmea: the 82 characters NMEA 0183
	// allows a sentence. The standard counts the CR LF, which the frame does
	// not, so the default lets through two characters more than the
	// standard; real receivers exceed it anyway and operators raise it.
	DefaultNMEAMaxFrame = 82
	// MaxFrameLimit is the largest max_frame accepted. Each decoder
	// preallocates a buffer of about max_frame bytes, so the limit bounds
	// its memory.
	MaxFrameLimit = 1 << 20
	// MaxSyncBytes is the longest sync prefix for fixed frames.
	MaxSyncBytes = 8
)

// Config selects and tunes the framing. It is read from YAML under
// "framing:"; zero values mean the defaults that New applies.
type Config struct {
	// Mode is one of lines, nmea, stx-etx, fixed:N (or fixed with Size),
	// length-prefix, slip, cobs: a Name of Modes, or a short form.
	Mode string `yaml:"mode"`
	// MaxFrame is the largest frame delivered, in bytes, measured on the
	// frame as Decode returns it. Default DefaultNMEAMaxFrame for nmea,
	// DefaultMaxFrame otherwise; at most MaxFrameLimit.
	MaxFrame int `yaml:"max_frame,omitempty"`
	// NMEAChecksum is "required" (default) or "optional"; nmea only.
	NMEAChecksum string `yaml:"nmea_checksum,omitempty"`
	// Check is the check byte after ETX: "none" (default), "xor" or "lrc";
	// stx-etx only.
	Check string `yaml:"check,omitempty"`
	// Size is the payload size of a fixed frame, not counting Sync; fixed
	// only.
	Size int `yaml:"size,omitempty"`
	// Sync is an optional hexadecimal prefix (e.g. "AA55", at most
	// MaxSyncBytes bytes) sent before every fixed frame; fixed only.
	Sync string `yaml:"sync,omitempty"`
	// LengthBytes is the width of the big-endian length prefix: 1, 2 or 4;
	// length-prefix only, and required there because guessing a wire
	// format wrong would silently turn every frame into noise.
	LengthBytes int `yaml:"length_bytes,omitempty"`
}

// ConfigError reports one invalid setting.
type ConfigError struct {
	// Field is the setting's YAML key under "framing:", e.g. "max_frame".
	Field string
	// Problem says what is wrong with it.
	Problem string
}

func (e *ConfigError) Error() string { return "framing." + e.Field + ": " + e.Problem }

// settings is a Config with defaults applied and strings parsed. A mode's
// own options (Mode.options) resolve into fields here, as they are read
// from fields of Config.
type settings struct {
	mode         string // canonical; "fixed:N" becomes ModeFixed
	maxFrame     int
	nmeaOptional bool
	check        checkKind
	size         int
	sync         [MaxSyncBytes]byte
	syncLen      int
	lengthBytes  int
}

// Validate reports every invalid setting, each as a *ConfigError naming its
// YAML field, joined with errors.Join. Unset fields are valid: they take
// their defaults. A setting that does not apply to the mode is an error
// rather than silently ignored.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

// resolve validates c and applies the defaults.
func (c Config) resolve() (settings, error) {
	r := resolver{c: c}
	m := r.mode()

	r.s.maxFrame = c.MaxFrame
	switch {
	case c.MaxFrame < 0:
		r.bad("max_frame", "%d is negative", c.MaxFrame)
	case c.MaxFrame > MaxFrameLimit:
		r.bad("max_frame", "%d exceeds the limit of %d bytes", c.MaxFrame, MaxFrameLimit)
	case c.MaxFrame == 0 && m != nil:
		r.s.maxFrame = m.DefaultMaxFrame
	case c.MaxFrame == 0:
		r.s.maxFrame = DefaultMaxFrame
	}

	r.options()

	if len(r.errs) > 0 {
		return settings{}, errors.Join(r.errs...)
	}
	return r.s, nil
}

// New returns a decoder for c, with defaults applied. Its buffer is
// allocated here, once; decoding does not allocate.
func New(c Config) (Decoder, error) {
	s, err := c.resolve()
	if err != nil {
		return nil, err
	}
	return mustMode(s.mode).newDecoder(s), nil
}

// Resyncs reports whether the mode has a certain frame boundary: a point
// in the byte stream that a decoder which knows nothing about where the
// stream stands (after New, or after Reset on a reconnect) can wait for,
// sure that a frame starts there. Such a decoder drops the bytes before it
// (counted as Resync) and never delivers the rest of a frame it came in
// halfway through.
//
// Without a certain boundary a decoder can only assume that the first
// byte it reads starts a frame. Two members of a pair open their ports at
// different moments, so they can cut the same bytes into different frames,
// and nothing on the wire brings them back into step: they then publish
// and trim against frames that do not match. A pair cannot safely use
// such a framing; the configuration should refuse it or warn. An invalid
// configuration reports false.
func (c Config) Resyncs() bool {
	s, err := c.resolve()
	return err == nil && s.resyncs()
}

func (s *settings) resyncs() bool { return mustMode(s.mode).resyncs(s) }
