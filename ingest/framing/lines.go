package framing

import "bytes"

// linesDecoder splits at LF and strips one CR before it.
type linesDecoder struct {
	core
	// skipping: the current line was dropped as oversize; discard up to
	// its LF.
	skipping bool
}

func newLines(s settings) *linesDecoder {
	// One byte more than max: a line of exactly max bytes may arrive with
	// its CR before the LF shows the CR was the line's last byte.
	return &linesDecoder{core: newCore(s.maxFrame, s.maxFrame+1)}
}

func (d *linesDecoder) Decode(p []byte) (int, []byte, bool) {
	i := 0
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
}
