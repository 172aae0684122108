package framing

import "bytes"

// ModeSTXETX reads the payload between STX and ETX.
const ModeSTXETX = "stx-etx"

// Values of Config.Check.
const (
	CheckNone = "none"
	CheckXOR  = "xor"
	CheckLRC  = "lrc"
)

const (
	stx = 0x02
	etx = 0x03
)

var stxetxMode = Mode{
	Name:            ModeSTXETX,
	Delivers:        "payload between STX (0x02) and ETX (0x03)",
	Delimiters:      []byte{stx, etx},
	DefaultMaxFrame: DefaultMaxFrame,
	options: []option{{
		key:     "check",
		set:     func(c Config) bool { return c.Check != "" },
		resolve: resolveCheck,
		value: func(s *settings) (string, bool) {
			return checkNames[s.check], s.check == checkNone
		},
	}},
	newDecoder:  func(s settings) Decoder { return newSTXETX(s) },
	appendFrame: appendSTXETX,
	resyncs:     always,
}

type checkKind uint8

const (
	checkNone checkKind = iota
	checkXOR
	checkLRC
)

var checkNames = [...]string{checkNone: CheckNone, checkXOR: CheckXOR, checkLRC: CheckLRC}

func resolveCheck(r *resolver) {
	switch r.c.Check {
	case "", CheckNone:
	case CheckXOR:
		r.s.check = checkXOR
	case CheckLRC:
		r.s.check = checkLRC
	default:
		r.bad("check", "%q is not one of none, xor, lrc", r.c.Check)
	}
}

func appendSTXETX(s *settings, dst, payload []byte) ([]byte, string) {
	if bytes.IndexByte(payload, stx) >= 0 || bytes.IndexByte(payload, etx) >= 0 {
		return dst, "it contains STX or ETX"
	}
	dst = append(dst, stx)
	dst = append(dst, payload...)
	dst = append(dst, etx)
	if s.check != checkNone {
		dst = append(dst, stxCheckByte(s.check, payload))
	}
	return dst, ""
}

type stxState uint8

const (
	stxIdle      stxState = iota // between frames
	stxFrame                     // after STX; buf holds the payload so far
	stxCheck                     // after ETX; the check byte is next
	stxSkip                      // inside a dropped frame; discard to ETX
	stxSkipCheck                 // after a dropped frame's ETX; discard its check byte

	// After New or Reset, where the stream stands is unknown. Without a
	// check byte every STX starts a frame. With one, the check byte after
	// ETX may be an STX, so an STX is certain only when the byte before
	// it was read and could not have been the ETX it is the check byte of.
	stxResyncFirst // nothing read yet
	stxResync      // waiting for a certain STX
	stxResyncCheck // after an ETX: the next byte may be its check byte
)

type stxetxDecoder struct {
	core
	check checkKind
	state stxState
	noise noiseRun
	head  noiseRun // counts what resync discards, once
}

func newSTXETX(s settings) *stxetxDecoder {
	d := &stxetxDecoder{core: newCore(s.maxFrame, s.maxFrame), check: s.check}
	d.state = d.resyncState()
	return d
}

// resyncState is the state after New and Reset.
func (d *stxetxDecoder) resyncState() stxState {
	if d.check == checkNone {
		return stxResync
	}
	return stxResyncFirst
}

// isSTXOrETX reports whether c is STX or ETX in one comparison.
func isSTXOrETX(c byte) bool { return c-stx < 2 }

func (d *stxetxDecoder) Decode(p []byte) (int, []byte, bool) {
	// start is where the payload began in p, or -1 when it began in an
	// earlier call and its head is in d.buf.
	start := -1
	i := 0
	for i < len(p) {
		switch d.state {
		case stxResyncFirst:
			// With a check byte: the first byte read may be a check byte,
			// of any value. If it is an ETX, the next may be its check
			// byte.
			d.head.add(&d.core, Resync)
			d.state = stxResync
			if p[i] == etx {
				d.state = stxResyncCheck
			}
			i++

		case stxResyncCheck:
			// Skip the byte after an ETX, which may be its check byte. If
			// that ETX was itself a check byte, the byte skipped may be a
			// real STX: its frame is lost, but no false one delivered. A
			// skipped ETX starts no skip of its own: the byte before a
			// frame's ETX is never an ETX.
			d.state = stxResync
			i++

		case stxResync:
			if d.check == checkNone {
				k := bytes.IndexByte(p[i:], stx)
				if k != 0 {
					d.head.add(&d.core, Resync)
				}
				if k < 0 {
					return len(p), nil, false
				}
				i += k + 1
				d.state = stxFrame
				start = i
				continue
			}
			switch p[i] {
			case stx:
				d.state = stxFrame
				start = i + 1
			case etx:
				d.head.add(&d.core, Resync)
				d.state = stxResyncCheck
			default:
				d.head.add(&d.core, Resync)
			}
			i++

		case stxIdle:
			k := bytes.IndexByte(p[i:], stx)
			if k != 0 {
				d.noise.add(&d.core, Noise)
			}
			if k < 0 {
				return len(p), nil, false
			}
			i += k + 1
			d.state = stxFrame
			d.noise.end()
			start = i

		case stxSkip:
			switch p[i] {
			case etx:
				d.state = stxIdle
				if d.check != checkNone {
					d.state = stxSkipCheck
				}
			case stx:
				d.state = stxFrame
				start = i + 1
			}
			i++

		case stxSkipCheck:
			d.state = stxIdle
			i++

		case stxCheck:
			d.state = stxIdle
			payload := d.buf
			d.buf = d.buf[:0]
			if f, ok := d.verify(payload, p[i]); ok {
				return i + 1, f, true
			}
			i++

		case stxFrame:
			j := i
			for len(p)-j >= 8 && !hasByte(word(p[j:])&^lo8, stx) {
				j += 8 // no STX or ETX, which differ only in bit 0
			}
			for j < len(p) && !isSTXOrETX(p[j]) {
				j++
			}
			var length int
			if start >= 0 {
				length = j - start
			} else {
				length = len(d.buf) + j - i
			}
			if length > d.max {
				d.drop(Oversize)
				d.buf = d.buf[:0]
				d.state = stxSkip
				start = -1
				i = j
				continue
			}
			if j == len(p) {
				d.keep(p, start, i, j)
				return len(p), nil, false
			}
			if p[j] == stx {
				d.drop(Truncated)
				d.buf = d.buf[:0]
				start = j + 1
				i = j + 1
				continue
			}
			// ETX.
			if d.check == checkNone {
				d.state = stxIdle
				payload := d.payload(p, start, i, j)
				start = -1
				i = j + 1
				if len(payload) > 0 {
					return i, payload, true
				}
				continue
			}
			if j+1 == len(p) {
				d.keep(p, start, i, j)
				d.state = stxCheck
				return len(p), nil, false
			}
			d.state = stxIdle
			payload := d.payload(p, start, i, j)
			start = -1
			i = j + 2
			if f, ok := d.verify(payload, p[j+1]); ok {
				return i, f, true
			}
		}
	}
	if d.state == stxFrame && start >= 0 {
		// STX was the last byte of p.
		d.buf = d.buf[:0]
	}
	return i, nil, false
}

// keep saves p[i:j], the part of the payload in p, for the next call.
func (d *stxetxDecoder) keep(p []byte, start, i, j int) {
	if start >= 0 {
		d.buf = append(d.buf[:0], p[start:j]...)
	} else {
		d.buf = append(d.buf, p[i:j]...)
	}
}

// payload returns the whole payload, ending at p[j], from p when it lies
// wholly in p and from the buffer otherwise.
func (d *stxetxDecoder) payload(p []byte, start, i, j int) []byte {
	if start >= 0 {
		return p[start:j]
	}
	f := append(d.buf, p[i:j]...)
	d.buf = d.buf[:0]
	return f
}

// verify checks the payload against its check byte and counts a failure.
// An empty payload is not delivered, but a bad check on it still counts.
func (d *stxetxDecoder) verify(payload []byte, check byte) ([]byte, bool) {
	if stxCheckByte(d.check, payload) != check {
		d.drop(BadChecksum)
		return nil, false
	}
	return payload, len(payload) > 0
}

// stxCheckByte computes the check byte sent after ETX. Both checks cover
// the payload and the ETX, not the STX: xor is their XOR (the usual BCC),
// lrc the two's complement of their 8-bit sum, so that payload, ETX and
// check byte sum to zero.
func stxCheckByte(k checkKind, payload []byte) byte {
	switch k {
	case checkXOR:
		return xorBytes(payload) ^ etx
	case checkLRC:
		s := byte(etx)
		for _, c := range payload {
			s += c
		}
		return -s
	}
	return 0
}

func (d *stxetxDecoder) Reset() {
	if d.state == stxFrame || d.state == stxCheck {
		d.drop(Truncated)
	}
	d.buf = d.buf[:0]
	d.state = d.resyncState()
	d.noise.end()
	d.head.end()
}

func (d *stxetxDecoder) Idle() {
	if d.state == stxFrame || d.state == stxCheck {
		d.Reset()
	}
	d.noise.end()
}
