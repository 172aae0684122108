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
	// start is, during Decode, where the current payload began in p, or -1
	// when it began in an earlier call and its head is in buf.
	start int
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

// Decode hands each run of bytes to the handler of the state it finds the
// decoder in; each returns where it stopped in p and, when a frame is
// complete, the frame.
func (d *stxetxDecoder) Decode(p []byte) (int, []byte, bool) {
	d.start = -1
	i := 0
	for i < len(p) {
		var f []byte
		var ok bool
		switch d.state {
		case stxResyncFirst, stxResyncCheck, stxResync:
			i = d.resync(p, i)
		case stxIdle:
			i = d.seekSTX(p, i, &d.noise, Noise)
		case stxSkip, stxSkipCheck:
			i = d.skip(p, i)
		case stxCheck:
			i, f, ok = d.checkByte(p, i)
		case stxFrame:
			i, f, ok = d.payload(p, i)
		}
		if ok {
			return i, f, true
		}
	}
	if d.state == stxFrame && d.start >= 0 {
		// STX was the last byte of p.
		d.buf = d.buf[:0]
	}
	return i, nil, false
}

// seekSTX passes over the bytes from p[i] to the next STX, counted in run
// as r, and starts a frame after it. It returns where it stopped.
func (d *stxetxDecoder) seekSTX(p []byte, i int, run *noiseRun, r Reason) int {
	if i = run.skipTo(&d.core, p, i, stx, r); i < 0 {
		return len(p)
	}
	d.state, d.start = stxFrame, i
	return i
}

// resync discards what comes before the first certain STX after New or
// Reset.
func (d *stxetxDecoder) resync(p []byte, i int) int {
	switch {
	case d.state == stxResyncFirst:
		// With a check byte: the first byte read may be a check byte, of
		// any value. If it is an ETX, the next may be its check byte.
		d.head.add(&d.core, Resync)
		d.state = stxResync
		if p[i] == etx {
			d.state = stxResyncCheck
		}
	case d.state == stxResyncCheck:
		// Skip the byte after an ETX, which may be its check byte. If
		// that ETX was itself a check byte, the byte skipped may be a real
		// STX: its frame is lost, but no false one delivered. A skipped
		// ETX starts no skip of its own: the byte before a frame's ETX is
		// never an ETX.
		d.state = stxResync
	case d.check == checkNone:
		return d.seekSTX(p, i, &d.head, Resync)
	case p[i] == stx:
		d.state = stxFrame
		d.start = i + 1
	case p[i] == etx:
		d.head.add(&d.core, Resync)
		d.state = stxResyncCheck
	default:
		d.head.add(&d.core, Resync)
	}
	return i + 1
}

// skip discards a dropped frame up to its ETX and the check byte after it;
// an STX on the way starts the next frame.
func (d *stxetxDecoder) skip(p []byte, i int) int {
	switch {
	case d.state == stxSkipCheck:
		d.state = stxIdle
	case p[i] == etx:
		d.state = stxIdle
		if d.check != checkNone {
			d.state = stxSkipCheck
		}
	case p[i] == stx:
		d.state = stxFrame
		d.start = i + 1
	}
	return i + 1
}

// checkByte takes the check byte of a payload that the previous call
// ended with its ETX.
func (d *stxetxDecoder) checkByte(p []byte, i int) (int, []byte, bool) {
	d.state = stxIdle
	payload := d.buf
	d.buf = d.buf[:0]
	f, ok := d.verify(payload, p[i])
	return i + 1, f, ok
}

// payload reads the payload from p[i] up to the next STX or ETX, and
// ends it at an ETX.
func (d *stxetxDecoder) payload(p []byte, i int) (int, []byte, bool) {
	j := i
	for len(p)-j >= 8 && !hasByte(word(p[j:])&^lo8, stx) {
		j += 8 // no STX or ETX, which differ only in bit 0
	}
	for j < len(p) && !isSTXOrETX(p[j]) {
		j++
	}
	switch {
	case d.overflows(d.start, i, j):
		d.state = stxSkip
		d.start = -1
		return j, nil, false
	case j == len(p):
		d.keep(p, d.start, i, j)
		d.start = -1 // the head is in buf now
		return j, nil, false
	case p[j] == stx:
		d.drop(Truncated)
		d.buf = d.buf[:0]
		d.start = j + 1
		return j + 1, nil, false
	case d.check != checkNone && j+1 == len(p):
		// ETX, its check byte in the next call.
		d.keep(p, d.start, i, j)
		d.start = -1 // the head is in buf now
		d.state = stxCheck
		return len(p), nil, false
	}
	// ETX: the frame, once its check byte (if any) confirms it.
	d.state = stxIdle
	payload := d.span(p, d.start, i, j)
	d.start = -1
	if d.check == checkNone {
		return j + 1, payload, len(payload) > 0
	}
	f, ok := d.verify(payload, p[j+1])
	return j + 2, f, ok
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
