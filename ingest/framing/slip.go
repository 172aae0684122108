package framing

// ModeSLIP reads RFC 1055 frames.
const ModeSLIP = "slip"

var slipMode = Mode{
	Name:            ModeSLIP,
	Delivers:        "RFC 1055 frames between END bytes",
	Delimiters:      []byte{slipEnd},
	DefaultMaxFrame: DefaultMaxFrame,
	newDecoder:      func(s settings) Decoder { return newSLIP(s) },
	appendFrame:     func(_ *settings, dst, payload []byte) ([]byte, string) { return appendSLIP(dst, payload), "" },
	resyncs:         always,
}

// SLIP special bytes (RFC 1055).
const (
	slipEnd    = 0xC0
	slipEsc    = 0xDB
	slipEscEnd = 0xDC
	slipEscEsc = 0xDD
)

// slipDecoder undoes SLIP framing. Unlike RFC 1055's sample receiver, which
// keeps the byte after a bad escape, it drops the frame as Noise: a bad
// escape means the line corrupted the frame and nothing else would notice.
type slipDecoder struct {
	core
	esc  bool // the last byte was ESC
	sync delimSync
}

func newSLIP(s settings) *slipDecoder {
	return &slipDecoder{core: newCore(s.maxFrame, s.maxFrame), sync: delimSync{delim: slipEnd, resync: true}}
}

func (d *slipDecoder) Decode(p []byte) (int, []byte, bool) {
	i := d.sync.start(&d.core, p)
	for i < len(p) {
		if d.sync.skipping {
			i = d.sync.skipFrame(p, i)
			continue
		}
		if d.esc {
			d.esc = false
			c := p[i]
			i++
			switch c {
			case slipEscEnd:
				c = slipEnd
			case slipEscEsc:
				c = slipEsc
			default:
				d.drop(Noise)
				d.buf = d.buf[:0]
				// ESC END aborts the frame at its END; anything else
				// leaves the rest of the frame to discard.
				d.sync.skipping = c != slipEnd
				continue
			}
			if len(d.buf) == d.max {
				d.oversize()
				continue
			}
			d.buf = append(d.buf, c)
			continue
		}
		j := i
		for len(p)-j >= 8 {
			if w := word(p[j:]); hasByte(w, slipEnd) || hasByte(w, slipEsc) {
				break
			}
			j += 8
		}
		for j < len(p) && p[j] != slipEnd && p[j] != slipEsc {
			j++
		}
		if len(d.buf)+j-i > d.max {
			d.oversize()
			i = j
			continue
		}
		if j == len(p) || p[j] == slipEsc {
			d.buf = append(d.buf, p[i:j]...)
			if j < len(p) {
				d.esc = true
				j++
			}
			i = j
			continue
		}
		// END.
		f := p[i:j]
		if len(d.buf) > 0 {
			f = append(d.buf, f...)
			d.buf = d.buf[:0]
		}
		i = j + 1
		if len(f) > 0 {
			return i, f, true
		}
	}
	return i, nil, false
}

func (d *slipDecoder) oversize() {
	d.drop(Oversize)
	d.buf = d.buf[:0]
	d.sync.skipping = true
}

func (d *slipDecoder) Reset() {
	if len(d.buf) > 0 || d.esc {
		d.drop(Truncated)
	}
	d.buf = d.buf[:0]
	d.esc = false
	d.sync.reset()
}

func (d *slipDecoder) Idle() {
	if len(d.buf) > 0 || d.esc {
		d.Reset()
	}
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
