package framing

import (
	"bytes"
	"encoding/binary"
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
	refuse := func(format string, args ...any) ([]byte, error) {
		return dst, fmt.Errorf("framing: %w in mode %s: %s", ErrUnencodable, s.mode, fmt.Sprintf(format, args...))
	}
	switch {
	case len(payload) == 0:
		return refuse("it is empty")
	case len(payload) > s.maxFrame:
		return refuse("its %d bytes exceed max_frame %d", len(payload), s.maxFrame)
	}

	switch s.mode {
	case ModeLines:
		if bytes.IndexByte(payload, '\n') >= 0 {
			return refuse("it contains LF")
		}
		if payload[len(payload)-1] == '\r' {
			return refuse("it ends with CR, which the decoder strips")
		}
		return append(append(dst, payload...), '\n'), nil

	case ModeNMEA:
		if payload[0] != '$' && payload[0] != '!' {
			return refuse("it does not start with '$' or '!'")
		}
		for _, c := range payload[1:] {
			if nmeaClass[c] != nmeaBody {
				return refuse("it contains %q", c)
			}
		}
		if r, ok := verifyNMEA(payload, s.nmeaOptional); !ok {
			return refuse("the decoder would drop it as %s", r)
		}
		return append(append(dst, payload...), '\r', '\n'), nil

	case ModeSTXETX:
		if bytes.IndexByte(payload, stx) >= 0 || bytes.IndexByte(payload, etx) >= 0 {
			return refuse("it contains STX or ETX")
		}
		dst = append(dst, stx)
		dst = append(dst, payload...)
		dst = append(dst, etx)
		if s.check != checkNone {
			dst = append(dst, stxCheckByte(s.check, payload))
		}
		return dst, nil

	case ModeFixed:
		if len(payload) != s.size {
			return refuse("it has %d bytes, not size %d", len(payload), s.size)
		}
		dst = append(dst, s.sync[:s.syncLen]...)
		return append(dst, payload...), nil

	case ModeLengthPrefix:
		n := len(payload)
		switch s.lengthBytes {
		case 1:
			if n > 0xFF {
				return refuse("its %d bytes do not fit a 1-byte length", n)
			}
			dst = append(dst, byte(n))
		case 2:
			if n > 0xFFFF {
				return refuse("its %d bytes do not fit a 2-byte length", n)
			}
			dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		case 4:
			dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		}
		return append(dst, payload...), nil

	case ModeSLIP:
		return appendSLIP(dst, payload), nil

	case ModeCOBS:
		return appendCOBS(dst, payload), nil
	}
	panic("framing: resolve accepted unknown mode " + s.mode)
}

// appendSLIP frames payload with an END before it as well as after, as RFC
// 1055 recommends: the leading END flushes any line noise received since
// the last frame into an empty or malformed frame of its own.
func appendSLIP(dst, payload []byte) []byte {
	dst = append(dst, slipEnd)
	for _, c := range payload {
		switch c {
		case slipEnd:
			dst = append(dst, slipEsc, slipEscEnd)
		case slipEsc:
			dst = append(dst, slipEsc, slipEscEsc)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, slipEnd)
}

// appendCOBS appends the COBS encoding of payload and the 0x00 delimiter.
// A full block (code 0xFF) is closed only when more of the payload
// follows, so a payload ending in one gets no empty final block: the
// shorter of the two encodings in use, which decode alike.
func appendCOBS(dst, payload []byte) []byte {
	code := len(dst) // index of the current block's code byte
	dst = append(dst, 0)
	for _, c := range payload {
		if len(dst)-code == 0xFF {
			dst[code] = 0xFF
			code = len(dst)
			dst = append(dst, 0)
		}
		if c == 0 {
			dst[code] = byte(len(dst) - code)
			code = len(dst)
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, c)
	}
	dst[code] = byte(len(dst) - code)
	return append(dst, 0)
}
