package framing

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Modes, as spelled in the configuration. A fixed-size mode may also be
// written "fixed:N", which is the same as ModeFixed with Size N.
const (
	ModeLines        = "lines"
	ModeNMEA         = "nmea"
	ModeSTXETX       = "stx-etx"
	ModeFixed        = "fixed"
	ModeLengthPrefix = "length-prefix"
	ModeSLIP         = "slip"
	ModeCOBS         = "cobs"
)

// Values of Config.NMEAChecksum.
const (
	NMEAChecksumRequired = "required"
	NMEAChecksumOptional = "optional"
)

// Values of Config.Check.
const (
	CheckNone = "none"
	CheckXOR  = "xor"
	CheckLRC  = "lrc"
)

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

const modeList = "lines, nmea, stx-etx, fixed:N, length-prefix, slip, cobs"

// Config selects and tunes the framing. It is read from YAML under
// "framing:"; zero values mean the defaults that New applies.
type Config struct {
	// Mode is one of lines, nmea, stx-etx, fixed:N (or fixed with Size),
	// length-prefix, slip, cobs.
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

type checkKind uint8

const (
	checkNone checkKind = iota
	checkXOR
	checkLRC
)

// settings is a Config with defaults applied and strings parsed.
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
	var (
		s    settings
		errs []error
	)
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}

	size := c.Size
	fixedSizeBad := false // "fixed:N" with a bad N, already reported
	switch c.Mode {
	case ModeLines, ModeNMEA, ModeSTXETX, ModeFixed, ModeLengthPrefix, ModeSLIP, ModeCOBS:
		s.mode = c.Mode
	default:
		n, isFixed := strings.CutPrefix(c.Mode, ModeFixed+":")
		if !isFixed {
			bad("mode", "%q is not one of %s", c.Mode, modeList)
			break
		}
		s.mode = ModeFixed
		v, err := strconv.Atoi(n)
		switch {
		case err != nil || v <= 0:
			bad("mode", "%q: the size after \"fixed:\" must be a positive integer", c.Mode)
			fixedSizeBad = true
		case c.Size != 0 && c.Size != v:
			bad("size", "%d conflicts with mode %q", c.Size, c.Mode)
		default:
			size = v
		}
	}

	s.maxFrame = c.MaxFrame
	switch {
	case c.MaxFrame < 0:
		bad("max_frame", "%d is negative", c.MaxFrame)
	case c.MaxFrame > MaxFrameLimit:
		bad("max_frame", "%d exceeds the limit of %d bytes", c.MaxFrame, MaxFrameLimit)
	case c.MaxFrame == 0 && s.mode == ModeNMEA:
		s.maxFrame = DefaultNMEAMaxFrame
	case c.MaxFrame == 0:
		s.maxFrame = DefaultMaxFrame
	}

	onlyFor := func(field, mode string, set bool) bool {
		if set && s.mode != "" && s.mode != mode {
			bad(field, "only applies to mode %s, not %s", mode, s.mode)
			return false
		}
		return set
	}

	if onlyFor("nmea_checksum", ModeNMEA, c.NMEAChecksum != "") {
		switch c.NMEAChecksum {
		case NMEAChecksumRequired:
		case NMEAChecksumOptional:
			s.nmeaOptional = true
		default:
			bad("nmea_checksum", "%q is not one of required, optional", c.NMEAChecksum)
		}
	}

	if onlyFor("check", ModeSTXETX, c.Check != "") {
		switch c.Check {
		case CheckNone:
		case CheckXOR:
			s.check = checkXOR
		case CheckLRC:
			s.check = checkLRC
		default:
			bad("check", "%q is not one of none, xor, lrc", c.Check)
		}
	}

	if c.Size < 0 {
		bad("size", "%d is negative", c.Size)
	} else if onlyFor("size", ModeFixed, c.Size != 0) || s.mode == ModeFixed {
		switch {
		case size == 0 && fixedSizeBad:
		case size == 0:
			bad("size", "required for mode fixed (or write the mode as fixed:N)")
		case s.maxFrame > 0 && size > s.maxFrame:
			bad("size", "%d exceeds framing.max_frame (%d)", size, s.maxFrame)
		}
		s.size = size
	}

	if onlyFor("sync", ModeFixed, c.Sync != "") {
		switch {
		case len(c.Sync)%2 != 0:
			bad("sync", "%q has an odd number of hex digits", c.Sync)
		case len(c.Sync) > 2*MaxSyncBytes:
			bad("sync", "%q is longer than %d bytes", c.Sync, MaxSyncBytes)
		default:
			n, err := hex.Decode(s.sync[:], []byte(c.Sync))
			if err != nil {
				bad("sync", "%q is not hexadecimal", c.Sync)
			}
			s.syncLen = n
		}
	}

	if onlyFor("length_bytes", ModeLengthPrefix, c.LengthBytes != 0) || s.mode == ModeLengthPrefix {
		switch c.LengthBytes {
		case 1, 2, 4:
			s.lengthBytes = c.LengthBytes
		case 0:
			bad("length_bytes", "required for mode length-prefix: one of 1, 2, 4")
		default:
			bad("length_bytes", "%d is not one of 1, 2, 4", c.LengthBytes)
		}
	}

	if len(errs) > 0 {
		return settings{}, errors.Join(errs...)
	}
	return s, nil
}

// New returns a decoder for c, with defaults applied. Its buffer is
// allocated here, once; decoding does not allocate.
func New(c Config) (Decoder, error) {
	s, err := c.resolve()
	if err != nil {
		return nil, err
	}
	switch s.mode {
	case ModeLines:
		return newLines(s), nil
	case ModeNMEA:
		return newNMEA(s), nil
	case ModeSTXETX:
		return newSTXETX(s), nil
	case ModeFixed:
		return newFixed(s), nil
	case ModeLengthPrefix:
		return newLengthPrefix(s), nil
	case ModeSLIP:
		return newSLIP(s), nil
	case ModeCOBS:
		return newCOBS(s), nil
	}
	panic("framing: resolve accepted unknown mode " + s.mode)
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

func (s *settings) resyncs() bool {
	switch s.mode {
	case ModeLines, ModeNMEA, ModeSTXETX, ModeSLIP, ModeCOBS:
		return true
	case ModeFixed:
		return s.syncLen > 0
	}
	return false
}
