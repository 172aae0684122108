package ingest

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/feedd/feedd/internal/decimal"
)

// SequenceConfig tells how to find the feed's own sequence number in a frame,
// if it has one. The YAML section is `sequence:`. With neither field set the
// frame's fingerprint is its identity.
type SequenceConfig struct {
	// NMEAField is the index of the comma-separated field that holds the
	// sequence number in an NMEA-style sentence; field 0 is the address
	// (e.g. "$GPGGA"). 0 means unset.
	NMEAField int `yaml:"nmea_field"`
	// Regex is a regular expression with exactly one capture group that
	// matches the decimal sequence number.
	Regex string `yaml:"regex"`
}

// Validate reports the first invalid field, named by its YAML path.
func (c SequenceConfig) Validate() error {
	if c.NMEAField < 0 {
		return fmt.Errorf("sequence.nmea_field: %d must be >= 1 (0 leaves it unset)", c.NMEAField)
	}
	if c.NMEAField > 0 && c.Regex != "" {
		return errors.New("sequence: set either nmea_field or regex, not both")
	}
	if c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			return fmt.Errorf("sequence.regex: %w", err)
		}
		if re.NumSubexp() != 1 {
			return fmt.Errorf("sequence.regex: %q has %d capture groups, want exactly 1", c.Regex, re.NumSubexp())
		}
	}
	return nil
}

// SequenceExtractor takes the feed's sequence number out of a frame.
type SequenceExtractor struct {
	field int
	re    *regexp.Regexp
}

// NewSequenceExtractor returns nil when c configures no extractor; a nil
// extractor finds nothing.
func NewSequenceExtractor(c SequenceConfig) (*SequenceExtractor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch {
	case c.NMEAField > 0:
		return &SequenceExtractor{field: c.NMEAField}, nil
	case c.Regex != "":
		return &SequenceExtractor{re: regexp.MustCompile(c.Regex)}, nil
	}
	return nil, nil
}

// Extract returns the sequence number in frame, or ok=false when the frame
// has none that parses as a decimal uint64.
func (x *SequenceExtractor) Extract(frame []byte) (seq uint64, ok bool) {
	switch {
	case x == nil:
		return 0, false
	case x.re != nil:
		m := x.re.FindSubmatchIndex(frame)
		if m == nil || m[2] < 0 {
			return 0, false
		}
		return decimal.Parse(frame[m[2]:m[3]])
	default:
		return decimal.Parse(nmeaField(frame, x.field))
	}
}

// nmeaField returns field i of a sentence, stopping at the checksum
// delimiter so the last field does not carry "*hh".
func nmeaField(frame []byte, i int) []byte {
	start := 0
	for n := 0; n < i; n++ {
		j := indexComma(frame[start:])
		if j < 0 {
			return nil
		}
		start += j + 1
	}
	end := start
	for end < len(frame) && frame[end] != ',' && frame[end] != '*' {
		end++
	}
	return frame[start:end]
}

func indexComma(b []byte) int {
	for i, c := range b {
		if c == ',' {
			return i
		}
		if c == '*' {
			return -1
		}
	}
	return -1
}
