package framing

import "bytes"

// ModeCOBS reads Consistent Overhead Byte Stuffing frames.
const ModeCOBS = "cobs"

var cobsMode = Mode{
	Name:            ModeCOBS,
	Delivers:        "COBS-decoded bytes before each 0x00",
	Delimiters:      []byte{0x00},
	DefaultMaxFrame: DefaultMaxFrame,
	newDecoder:      func(s settings) Decoder { return newCOBS(s) },
	appendFrame:     func(_ *settings, dst, payload []byte) ([]byte, string) { return appendCOBS(dst, payload), "" },
	resyncs:         always,
}

// cobsDecoder undoes Consistent Overhead Byte Stuffing, one 0x00-delimited
// frame at a time, as bytes arrive, so that it never holds more than the
// decoded frame.
type cobsDecoder struct {
	core
	// rem is how many data bytes of the current block are still to come;
	// zero means the next byte is a block's code byte.
	rem int
	// zeroNext: the current block stands for its data and a zero, which
	// belongs to the frame only if another block follows.
	zeroNext bool
	started  bool // bytes since the last delimiter
	sync     delimSync
}

func newCOBS(s settings) *cobsDecoder {
	return &cobsDecoder{core: newCore(s.maxFrame, s.maxFrame), sync: delimSync{delim: 0, resync: true}}
}

func (d *cobsDecoder) Decode(p []byte) (int, []byte, bool) {
	i := d.sync.start(&d.core, p)
	for i < len(p) {
		if d.sync.skipping {
			i = d.sync.skipFrame(p, i)
			continue
		}
		c := p[i]
		if c == 0 {
			i++
			if !d.started {
				continue // empty frame
			}
			if d.rem > 0 {
				d.drop(Noise) // the last block claimed more bytes than came
				d.clear()
				continue
			}
			f := d.buf
			d.clear()
			if len(f) > 0 {
				return i, f, true
			}
			continue
		}
		if d.rem == 0 {
			i++
			d.started = true
			if d.zeroNext {
				if len(d.buf) == d.max {
					d.oversize()
					continue
				}
				d.buf = append(d.buf, 0)
			}
			d.rem = int(c) - 1
			d.zeroNext = c != 0xFF
			continue
		}
		end := min(i+d.rem, len(p))
		j := end
		if k := bytes.IndexByte(p[i:end], 0); k >= 0 {
			j = i + k
		}
		if len(d.buf)+j-i > d.max {
			d.oversize()
			i = j
			continue
		}
		d.buf = append(d.buf, p[i:j]...)
		d.rem -= j - i
		i = j
	}
	return i, nil, false
}

func (d *cobsDecoder) clear() {
	d.buf = d.buf[:0]
	d.rem = 0
	d.zeroNext = false
	d.started = false
}

func (d *cobsDecoder) oversize() {
	d.drop(Oversize)
	d.clear()
	d.sync.skipping = true
}

func (d *cobsDecoder) Reset() {
	if d.started {
		d.drop(Truncated)
	}
	d.clear()
	d.sync.reset()
}

func (d *cobsDecoder) Idle() {
	if d.started {
		d.Reset()
	}
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
