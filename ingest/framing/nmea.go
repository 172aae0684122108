package framing

import (
	"bytes"
	"fmt"
)

// ModeNMEA reads NMEA 0183 sentences.
const ModeNMEA = "nmea"

// Values of Config.NMEAChecksum.
const (
	NMEAChecksumRequired = "required"
	NMEAChecksumOptional = "optional"
)

var nmeaMode = Mode{
	Name:            ModeNMEA,
	Delivers:        "from `$` or `!` through the two checksum digits, without CR LF",
	Delimiters:      []byte{'\r', '\n'},
	DefaultMaxFrame: DefaultNMEAMaxFrame,
	options: []option{{
		key:     "nmea_checksum",
		set:     func(c Config) bool { return c.NMEAChecksum != "" },
		resolve: resolveNMEAChecksum,
		value: func(s *settings) (string, bool) {
			if s.nmeaOptional {
				return NMEAChecksumOptional, false
			}
			return NMEAChecksumRequired, true
		},
	}},
	newDecoder:  func(s settings) Decoder { return newNMEA(s) },
	appendFrame: appendNMEAFrame,
	resyncs:     always,
}

func resolveNMEAChecksum(r *resolver) {
	switch r.c.NMEAChecksum {
	case "", NMEAChecksumRequired:
	case NMEAChecksumOptional:
		r.s.nmeaOptional = true
	default:
		r.bad("nmea_checksum", "%q is not one of required, optional", r.c.NMEAChecksum)
	}
}

// appendNMEAFrame takes a whole sentence, as the decoder delivers it.
func appendNMEAFrame(s *settings, dst, payload []byte) ([]byte, string) {
	if payload[0] != '$' && payload[0] != '!' {
		return dst, "it does not start with '$' or '!'"
	}
	for _, c := range payload[1:] {
		if nmeaClass[c] != nmeaBody {
			return dst, fmt.Sprintf("it contains %q", c)
		}
	}
	if r, ok := verifyNMEA(payload, s.nmeaOptional); !ok {
		return dst, fmt.Sprintf("the decoder would drop it as %s", r)
	}
	return append(append(dst, payload...), '\r', '\n'), ""
}

// Byte classes inside and between NMEA sentences.
const (
	nmeaBody    = iota // printable, may appear in a sentence
	nmeaEnd            // CR or LF: ends a sentence
	nmeaStart          // '$' or '!': starts a sentence
	nmeaInvalid        // control or 8-bit: never in a sentence
)

var nmeaClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '\r' || c == '\n':
			t[c] = nmeaEnd
		case c == '$' || c == '!':
			t[c] = nmeaStart
		case c < 0x20 || c > 0x7e:
			t[c] = nmeaInvalid
		}
	}
	return t
}()

type nmeaState uint8

const (
	// nmeaResync: after New or Reset, where the stream stands is unknown;
	// discard to the first start character, which only ever starts a
	// sentence.
	nmeaResync   nmeaState = iota
	nmeaIdle               // between sentences
	nmeaSentence           // inside a sentence; buf holds it so far
	nmeaSkip               // inside a dropped sentence; discard to its end
)

type nmeaDecoder struct {
	core
	optional bool // a sentence without "*hh" is accepted
	state    nmeaState
	noise    noiseRun
	head     noiseRun // counts what resync discards, once
}

func newNMEA(s settings) *nmeaDecoder {
	return &nmeaDecoder{core: newCore(s.maxFrame, s.maxFrame), optional: s.nmeaOptional, state: nmeaResync}
}

func (d *nmeaDecoder) Decode(p []byte) (int, []byte, bool) {
	// start is where the current sentence began in p, or -1 when it began
	// in an earlier call and its head is in d.buf. A sentence that lies
	// wholly in p is returned from p without copying.
	start := -1
	i := 0
	for i < len(p) {
		switch d.state {
		case nmeaResync:
			if d.between(p[i], &d.head, Resync) {
				start = i
			}
			i++

		case nmeaIdle:
			if d.between(p[i], &d.noise, Noise) {
				start = i
			}
			i++

		case nmeaSkip:
			switch nmeaClass[p[i]] {
			case nmeaEnd:
				d.state = nmeaIdle
			case nmeaStart:
				d.state = nmeaSentence
				start = i
			}
			i++

		case nmeaSentence:
			j := i
			for len(p)-j >= 8 && nmeaBodyWord(word(p[j:])) {
				j += 8
			}
			for j < len(p) && nmeaClass[p[j]] == nmeaBody {
				j++
			}
			if d.overflows(start, i, j) {
				d.state = nmeaSkip
				start = -1
				i = j
				continue
			}
			if j == len(p) {
				d.keep(p, start, i, j)
				return len(p), nil, false
			}
			sentence := d.span(p, start, i, j)
			start = -1
			i = j + 1
			switch nmeaClass[p[j]] {
			case nmeaEnd:
				d.state = nmeaIdle
				if r, ok := verifyNMEA(sentence, d.optional); !ok {
					d.drop(r)
					continue
				}
				return i, sentence, true
			case nmeaStart:
				d.drop(Truncated)
				start = j
			case nmeaInvalid:
				d.drop(Noise)
				d.state = nmeaSkip
			}
		}
	}
	if d.state == nmeaSentence && start >= 0 {
		// A sentence began at the very last byte of p.
		d.buf = append(d.buf[:0], p[start:]...)
	}
	return i, nil, false
}

// between takes a byte read between sentences: a start character starts
// a sentence (between reports it), line endings (the LF after a CR, blank
// lines) are no noise, anything else is, counted in run as r.
func (d *nmeaDecoder) between(c byte, run *noiseRun, r Reason) bool {
	switch nmeaClass[c] {
	case nmeaStart:
		d.state = nmeaSentence
		run.end()
		return true
	case nmeaEnd:
	default:
		run.add(&d.core, r)
	}
	return false
}

func (d *nmeaDecoder) Reset() {
	if d.state == nmeaSentence {
		d.drop(Truncated)
	}
	d.buf = d.buf[:0]
	d.state = nmeaResync
	d.noise.end()
	d.head.end()
}

// verifyNMEA checks a sentence that runs from its start character up to,
// not including, its line ending and holds no other start character and
// no control characters. It returns the reason to drop it, or ok.
func verifyNMEA(s []byte, optional bool) (Reason, bool) {
	star := bytes.IndexByte(s, '*')
	if len(s) < 2 || star == 1 {
		return Noise, false // nothing between the start character and '*'
	}
	if star < 0 {
		return BadChecksum, optional
	}
	if star != len(s)-3 {
		return BadChecksum, false
	}
	hi, ok1 := unhex(s[star+1])
	lo, ok2 := unhex(s[star+2])
	if !ok1 || !ok2 || NMEAChecksum(s[1:star]) != hi<<4|lo {
		return BadChecksum, false
	}
	return 0, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// NMEAChecksum returns the NMEA 0183 checksum of a sentence body: the XOR
// of the bytes between the '$' or '!' and the '*'.
func NMEAChecksum(body []byte) byte { return xorBytes(body) }

// nmeaBodyWord reports whether all eight bytes of x are of class nmeaBody.
func nmeaBodyWord(x uint64) bool {
	return !hasLess(x, 0x20) && !hasMore(x, 0x7e) && !hasByte(x, '$') && !hasByte(x, '!')
}

const hexUpper = "0123456789ABCDEF"

// AppendNMEA appends a complete sentence: '$', body, '*', the checksum as
// two upper-case hex digits, and CR LF. An empty body makes a sentence the
// decoder drops as Noise.
func AppendNMEA(dst, body []byte) []byte {
	x := NMEAChecksum(body)
	dst = append(dst, '$')
	dst = append(dst, body...)
	return append(dst, '*', hexUpper[x>>4], hexUpper[x&0x0f], '\r', '\n')
}

func (d *nmeaDecoder) Idle() {
	if d.state == nmeaSentence {
		d.Reset()
	}
	d.noise.end()
}
