package framing

import (
	"errors"
	"fmt"
)

// ErrUnencodable is wrapped by AppendFrame's errors for a payload that the
// configured mode cannot carry, or that its decoder would not return
// unchanged.
var ErrUnencodable = errors.New("payload cannot be framed")

// AppendFrame appends payload framed in c's mode to dst, such that a
// decoder made by New(c) that is in step with the stream returns exactly
// payload. A new decoder does not know where the stream stands and skips
// to its first certain boundary (see the package documentation), so a
// stream meant for one should start at such a boundary, e.g. with an LF
// for lines. It is for tests, benchmarks and the simulator; it allocates
// only when dst must grow.
//
// For nmea, payload is a whole sentence as the decoder returns it: from
// '$' or '!' through the checksum digits, without CR LF (AppendNMEA builds
// one from a body). For fixed, payload is exactly size bytes; the sync, if
// any, is prepended. Empty payloads are refused: no mode delivers an empty
// frame.
func (c Config) AppendFrame(dst, payload []byte) ([]byte, error) {
	s, err := c.resolve()
	if err != nil {
		return dst, err
	}
	return s.appendFrame(dst, payload)
}

func (s *settings) appendFrame(dst, payload []byte) ([]byte, error) {
	var whyNot string
	switch {
	case len(payload) == 0:
		whyNot = "it is empty"
	case len(payload) > s.maxFrame:
		whyNot = fmt.Sprintf("its %d bytes exceed max_frame %d", len(payload), s.maxFrame)
	default:
		out, why := mustMode(s.mode).appendFrame(s, dst, payload)
		if why == "" {
			return out, nil
		}
		whyNot = why
	}
	return dst, fmt.Errorf("framing: %w in mode %s: %s", ErrUnencodable, s.mode, whyNot)
}
