package serialsim

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultBaud         = 115200
	DefaultDataBits     = 8
	DefaultStopBits     = 1.0
	DefaultRate         = 50.0 // frames per second, for the seq feed
	DefaultStartSeq     = 1
	DefaultQueueFrames  = 1024
	DefaultStartTimeout = 10 * time.Second
	DefaultDrainTimeout = time.Second
	// DefaultMaxWriteDelay is Config.MaxWriteDelay's default.
	DefaultMaxWriteDelay = 20 * time.Millisecond
	DefaultSocat         = "socat"
	// MaxReplayChunk is the longest replay frame: replayed files are cut
	// after each '\n' and, within longer lines, every MaxReplayChunk bytes.
	MaxReplayChunk = 256
	// MaxBaud is the highest baud rate New accepts.
	MaxBaud = 4_000_000
)

// Parity is the parity setting of the simulated line. Any parity but
// ParityNone adds one bit per character to the pacing.
type Parity int

// Parity settings.
const (
	ParityNone Parity = iota
	ParityOdd
	ParityEven
	ParityMark
	ParitySpace
)

var parityNames = [...]string{"none", "odd", "even", "mark", "space"}

func (p Parity) String() string {
	if p >= 0 && int(p) < len(parityNames) {
		return parityNames[p]
	}
	return fmt.Sprintf("Parity(%d)", int(p))
}

// ParseParity accepts "none", "odd", "even", "mark", "space" or their first
// letter, in any case.
func ParseParity(s string) (Parity, error) {
	l := strings.ToLower(s)
	for i, n := range parityNames {
		if l == n || l == n[:1] {
			return Parity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown parity %q (want none, odd, even, mark or space)", s)
}

// Config configures a Sim. Zero fields take the defaults named on them.
type Config struct {
	// Ports is the number of member ports (one socat pty pair each). At
	// least 1.
	Ports int
	// LinkDir holds the member-side links <LinkDir>/port0, port1, … and the
	// hidden writer-side links <LinkDir>/.port0.in, …. It is created if
	// missing. Empty: a fresh temporary directory, removed by Close. It must
	// not contain characters socat's address syntax reserves (, : ! " ' \
	// ( ) [ ] { } or white space).
	LinkDir string

	// Baud is the line speed in bits per second (default DefaultBaud).
	Baud int
	// DataBits is 5 to 8 (default 8).
	DataBits int
	// Parity adds one bit per character unless ParityNone (the default).
	Parity Parity
	// StopBits is 1, 1.5 or 2 (default 1).
	StopBits float64

	// Feed names the generated feed (see Feeds): "seq" (the default),
	// "nmea-gps", "no-fix", "ais" or "alphabet:K". Not used with Replay.
	Feed string
	// Rate is the feed's rate (default: the feed's FeedInfo.DefaultRate).
	// For seq it counts frames per second, evenly spread; for the other
	// feeds, cycles per second: a receiver's burst of sentences starts
	// every 1/Rate seconds and goes out back to back. When the feed asks
	// for more than the line carries, frames go back to back and the line
	// rate is the limit. Not used with Replay.
	Rate float64
	// FrameSize is the seq feed's sentence length in bytes, "\r\n"
	// included (default DefaultFrameSize). Sentences whose fixed part is
	// longer are not padded. Only used with the seq feed.
	FrameSize int
	// Count stops the feed after this many frames (sentences, not cycles);
	// 0 means unlimited.
	Count uint64
	// StartSeq is the first sequence number (default 1). With Replay it is
	// the id of the first replayed frame.
	StartSeq uint64
	// Seed seeds all randomness: the generated feeds' content (the seq
	// feed's padding; everything but the seq feed's time field), drop and
	// corrupt decisions, the bytes a corruption changes. The same seed and
	// settings give the same frames and the same per-frame decisions.
	Seed uint64

	// Replay, when set, is a captured file whose bytes are written as they
	// are, back to back at the line rate, instead of generated sentences.
	// Frames (the unit of faults and accounting) are the file's lines, cut
	// after each '\n' and every MaxReplayChunk bytes; their ids count up
	// from StartSeq.
	Replay string
	// ReplayLoop restarts the file at its end; otherwise the feed ends there.
	ReplayLoop bool

	// Faults are scheduled faults, relative to Start (see ParseFault).
	Faults []Fault

	// Record, when set, is a file the Sim writes the truth of the run to
	// (see RecordHeader): every frame of the feed, in feed order, with what
	// became of it on each port. A frame's line is written once its fate is
	// final on every port; the file is flushed regularly and completely by
	// Close.
	Record string

	// MaxWriteDelay bounds how late a frame may reach a port: a frame is
	// written to the port at its due time (when its last byte leaves the
	// line), and one that its reader's full buffer holds back is written
	// within MaxWriteDelay of that or not at all, lost for that port as an
	// overflow, as a UART loses what arrives while the kernel's buffer is
	// full. Default DefaultMaxWriteDelay (20 ms). The simulator moves its
	// schedule on when it falls MaxWriteDelay/2 behind (see Stats.Late for
	// what a loaded machine can still do).
	MaxWriteDelay time.Duration
	// QueueFrames bounds each port's queue of frames waiting to be written
	// (default DefaultQueueFrames). With MaxWriteDelay it rarely holds more
	// than the frames of a few milliseconds.
	QueueFrames int
	// StartTimeout bounds how long Start and a replug wait for socat's links
	// (default DefaultStartTimeout).
	StartTimeout time.Duration
	// DrainTimeout bounds how long an unplug waits for a port's reader to
	// take what is already in the pty before pulling it (default
	// DefaultDrainTimeout). What the reader has not taken by then is lost
	// and accounted as such.
	DrainTimeout time.Duration
	// Socat is the socat executable, looked up in PATH (default "socat").
	Socat string
	// Logf, if set, receives notices: unplugs, replugs, socat exits.
	Logf func(format string, args ...any)
}

// ConfigError is a validation error of New; Field names the Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "serialsim: invalid Config." + e.Field + ": " + e.Reason
}

func cfgErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// socatReserved are characters that socat 1.7's address parser treats
// specially inside an address option value.
const socatReserved = ",:!\"'\\()[]{}"

// withDefaults returns c with defaults applied, or the first validation error.
func (c Config) withDefaults() (Config, error) {
	if c.Ports < 1 {
		return c, cfgErr("Ports", "must be at least 1, got %d", c.Ports)
	}
	if strings.ContainsAny(c.LinkDir, socatReserved) || strings.ContainsFunc(c.LinkDir, isSpace) {
		return c, cfgErr("LinkDir", "%q contains a character socat's address syntax reserves (%s or white space)", c.LinkDir, socatReserved)
	}
	if c.LinkDir != "" {
		if fi, err := os.Stat(c.LinkDir); err == nil && !fi.IsDir() {
			return c, cfgErr("LinkDir", "%q exists and is not a directory", c.LinkDir)
		}
	}
	c.Baud = cmp.Or(c.Baud, DefaultBaud)
	if c.Baud < 0 || c.Baud > MaxBaud {
		return c, cfgErr("Baud", "must be between 1 and %d, got %d", MaxBaud, c.Baud)
	}
	c.DataBits = cmp.Or(c.DataBits, DefaultDataBits)
	if c.DataBits < 5 || c.DataBits > 8 {
		return c, cfgErr("DataBits", "must be 5, 6, 7 or 8, got %d", c.DataBits)
	}
	if c.Parity < ParityNone || c.Parity > ParitySpace {
		return c, cfgErr("Parity", "unknown value %d", int(c.Parity))
	}
	c.StopBits = cmp.Or(c.StopBits, DefaultStopBits)
	if c.StopBits != 1 && c.StopBits != 1.5 && c.StopBits != 2 {
		return c, cfgErr("StopBits", "must be 1, 1.5 or 2, got %v", c.StopBits)
	}
	if c.Replay == "" {
		c.Feed = cmp.Or(c.Feed, FeedSeq)
		kind, _, err := lookupFeed(c.Feed)
		if err != nil {
			return c, cfgErr("Feed", "%v", err)
		}
		c.Rate = cmp.Or(c.Rate, kind.DefaultRate)
		if math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0 {
			return c, cfgErr("Rate", "must be a positive number of %s per second, got %v", kind.Unit, c.Rate)
		}
		if kind.MaxRate != 0 && c.Rate > kind.MaxRate {
			return c, cfgErr("Rate", "feed %s sends at most %v %s per second, got %v", c.Feed, kind.MaxRate, kind.Unit, c.Rate)
		}
		if c.Feed == FeedSeq {
			c.FrameSize = cmp.Or(c.FrameSize, DefaultFrameSize)
			if c.FrameSize < 0 || c.FrameSize > MaxFrameSize {
				return c, cfgErr("FrameSize", "must be between 1 and %d bytes, got %d", MaxFrameSize, c.FrameSize)
			}
		} else if c.FrameSize != 0 {
			return c, cfgErr("FrameSize", "only used with the %s feed, not with %s", FeedSeq, c.Feed)
		}
	} else {
		if c.Feed != "" {
			return c, cfgErr("Feed", "not used with Replay (the file is the feed), got %q", c.Feed)
		}
		fi, err := os.Stat(c.Replay)
		switch {
		case err != nil:
			return c, cfgErr("Replay", "%v", err)
		case !fi.Mode().IsRegular():
			return c, cfgErr("Replay", "%q is not a regular file", c.Replay)
		case fi.Size() == 0:
			return c, cfgErr("Replay", "%q is empty", c.Replay)
		}
	}
	c.StartSeq = cmp.Or(c.StartSeq, DefaultStartSeq)
	if c.Record != "" {
		if fi, err := os.Stat(c.Record); err == nil && fi.IsDir() {
			return c, cfgErr("Record", "%q is a directory", c.Record)
		}
	}
	for _, d := range []struct {
		field string
		v     *time.Duration
		def   time.Duration
	}{
		{"MaxWriteDelay", &c.MaxWriteDelay, DefaultMaxWriteDelay},
		{"StartTimeout", &c.StartTimeout, DefaultStartTimeout},
		{"DrainTimeout", &c.DrainTimeout, DefaultDrainTimeout},
	} {
		*d.v = cmp.Or(*d.v, d.def)
		if *d.v < 0 {
			return c, cfgErr(d.field, "must be positive, got %v", *d.v)
		}
	}
	c.QueueFrames = cmp.Or(c.QueueFrames, DefaultQueueFrames)
	if c.QueueFrames < 1 {
		return c, cfgErr("QueueFrames", "must be at least 1, got %d", c.QueueFrames)
	}
	c.Socat = cmp.Or(c.Socat, DefaultSocat)
	c.Faults = append([]Fault(nil), c.Faults...)
	for i, f := range c.Faults {
		if err := f.validate(c.Ports); err != nil {
			return c, &ConfigError{Field: fmt.Sprintf("Faults[%d]", i), Reason: err.Error()}
		}
	}
	return c, nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// BitsPerChar is the number of bits the line spends on one byte: a start
// bit, DataBits, a parity bit unless ParityNone, and StopBits.
func (c Config) BitsPerChar() float64 {
	bits := 1 + float64(c.DataBits) + c.StopBits
	if c.Parity != ParityNone {
		bits++
	}
	return bits
}

// BytesPerSecond is the line's capacity: Baud / BitsPerChar.
func (c Config) BytesPerSecond() float64 {
	return float64(c.Baud) / c.BitsPerChar()
}
