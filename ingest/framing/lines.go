package framing

import "bytes"

// ModeLines splits at LF.
const ModeLines = "lines"

var linesMode = Mode{
	Name:            ModeLines,
	Delivers:        "bytes before each LF, one trailing CR removed",
	Delimiters:      []byte{'\n'},
	DefaultMaxFrame: DefaultMaxFrame,
	newDecoder:      func(s settings) Decoder { return newLines(s) },
	appendFrame:     appendLine,
	resyncs:         always,
}

func appendLine(_ *settings, dst, payload []byte) ([]byte, string) {
	if bytes.IndexByte(payload, '\n') >= 0 {
		return dst, "it contains LF"
	}
	if payload[len(payload)-1] == '\r' {
		return dst, "it ends with CR, which the decoder strips"
	}
	return append(append(dst, payload...), '\n'), ""
}

// linesDecoder splits at LF and strips one CR before it.
type linesDecoder struct {
	core
	// skipping: the current line was dropped as oversize; discard up to
	// its LF.
	skipping bool
	// resync: after New or Reset, the decoder cannot tell whether the
	// next byte starts a line, so it discards up to the first LF.
	resync bool
	// head is what resync has discarded so far: headNone, headCR (a lone
	// CR, which with its LF is an empty line and loses nothing) or
	// headCounted.
	head uint8
}

const (
	headNone uint8 = iota
	headCR
	headCounted
)

func newLines(s settings) *linesDecoder {
	// One byte more than max: a line of exactly max bytes may arrive with
	// its CR before the LF shows the CR was the line's last byte.
	return &linesDecoder{core: newCore(s.maxFrame, s.maxFrame+1), resync: true}
}

func (d *linesDecoder) Decode(p []byte) (int, []byte, bool) {
	i := 0
	if d.resync {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			d.discardHead(p)
			return len(p), nil, false
		}
		d.discardHead(p[:nl])
		d.resync = false
		i = nl + 1
	}
	for i < len(p) {
		nl := bytes.IndexByte(p[i:], '\n')
		if nl < 0 {
			d.keepPartial(p[i:])
			return len(p), nil, false
		}
		seg := p[i : i+nl]
		i += nl + 1
		if d.skipping {
			d.skipping = false
			continue
		}
		line := seg
		if len(d.buf) > 0 {
			if len(d.buf)+len(seg) > d.max+1 {
				d.buf = d.buf[:0]
				d.drop(Oversize)
				continue
			}
			line = append(d.buf, seg...)
			// The line stays readable until the next call overwrites it.
			d.buf = d.buf[:0]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		switch {
		case len(line) > d.max:
			d.drop(Oversize)
		case len(line) > 0:
			return i, line, true
		}
	}
	return i, nil, false
}

// discardHead counts what resync discards before the first LF: once, and
// only if it would have been a line.
func (d *linesDecoder) discardHead(seg []byte) {
	switch {
	case len(seg) == 0 || d.head == headCounted:
	case d.head == headNone && len(seg) == 1 && seg[0] == '\r':
		d.head = headCR
	default:
		d.drop(Resync)
		d.head = headCounted
	}
}

// keepPartial keeps the start of a line whose LF has not arrived yet.
func (d *linesDecoder) keepPartial(seg []byte) {
	if d.skipping {
		return
	}
	if len(d.buf)+len(seg) > d.max+1 {
		d.buf = d.buf[:0]
		d.skipping = true
		d.drop(Oversize)
		return
	}
	d.buf = append(d.buf, seg...)
}

func (d *linesDecoder) Reset() {
	if len(d.buf) > 0 {
		d.drop(Truncated)
	}
	d.buf = d.buf[:0]
	d.skipping = false
	d.resync = true
	d.head = headNone
}

func (d *linesDecoder) Idle() {
	if len(d.buf) > 0 {
		d.Reset()
	}
}
