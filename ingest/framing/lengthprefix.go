package framing

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// ModeLengthPrefix reads a big-endian length, then that many bytes.
const ModeLengthPrefix = "length-prefix"

var lengthPrefixMode = Mode{
	Name:            ModeLengthPrefix,
	Delivers:        "the payload after a 1-, 2- or 4-byte big-endian length",
	DefaultMaxFrame: DefaultMaxFrame,
	options: []option{{
		key:     "length_bytes",
		set:     func(c Config) bool { return c.LengthBytes != 0 },
		resolve: resolveLengthBytes,
		value:   func(s *settings) (string, bool) { return strconv.Itoa(s.lengthBytes), false },
	}},
	newDecoder:  func(s settings) Decoder { return newLengthPrefix(s) },
	appendFrame: appendLengthPrefixed,
	resyncs:     never,
}

// resolveLengthBytes requires the width: guessing a wire format wrong
// would silently turn every frame into noise.
func resolveLengthBytes(r *resolver) {
	switch r.c.LengthBytes {
	case 1, 2, 4:
		r.s.lengthBytes = r.c.LengthBytes
	case 0:
		r.bad("length_bytes", "required for mode length-prefix: one of 1, 2, 4")
	default:
		r.bad("length_bytes", "%d is not one of 1, 2, 4", r.c.LengthBytes)
	}
}

func appendLengthPrefixed(s *settings, dst, payload []byte) ([]byte, string) {
	n := len(payload)
	switch s.lengthBytes {
	case 1:
		if n > 0xFF {
			return dst, fmt.Sprintf("its %d bytes do not fit a 1-byte length", n)
		}
		dst = append(dst, byte(n))
	case 2:
		if n > 0xFFFF {
			return dst, fmt.Sprintf("its %d bytes do not fit a 2-byte length", n)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	case 4:
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, payload...), ""
}

// lengthPrefixDecoder reads a big-endian payload length, then the payload.
// The stream carries no delimiter, so the only sign of lost sync is an
// implausible length: zero or over max_frame. Such a header is dropped and
// the decoder tries again one byte later, until a plausible length lines
// up.
type lengthPrefixDecoder struct {
	core
	width  int     // bytes in the length prefix
	hdr    [4]byte // header bytes read so far
	hn     int     // len of hdr in use
	length int     // payload length, while inBody
	inBody bool
	noise  noiseRun
}

func newLengthPrefix(s settings) *lengthPrefixDecoder {
	bufCap := s.maxFrame
	if lim := 1<<(8*s.lengthBytes) - 1; bufCap > lim {
		bufCap = lim // a 1-byte prefix never needs more than 255
	}
	return &lengthPrefixDecoder{core: newCore(s.maxFrame, bufCap), width: s.lengthBytes}
}

func (d *lengthPrefixDecoder) Decode(p []byte) (int, []byte, bool) {
	i := 0
	for i < len(p) {
		if !d.inBody {
			for d.hn < d.width && i < len(p) {
				d.hdr[d.hn] = p[i]
				d.hn++
				i++
			}
			if d.hn < d.width {
				return i, nil, false
			}
			var n uint32
			for _, c := range d.hdr[:d.width] {
				n = n<<8 | uint32(c)
			}
			if n == 0 || uint64(n) > uint64(d.max) {
				r := Noise
				if n != 0 {
					r = Oversize
				}
				d.noise.add(&d.core, r)
				copy(d.hdr[:], d.hdr[1:d.hn])
				d.hn--
				continue
			}
			d.noise.end()
			d.hn = 0
			d.inBody = true
			d.length = int(n)
		}
		j, f, ok := d.fill(p, i, d.length)
		if ok {
			d.inBody = false
			return j, f, true
		}
		i = j
	}
	return i, nil, false
}

func (d *lengthPrefixDecoder) Reset() {
	// Header bytes left over from a run of bad headers are noise already
	// counted; those after a good frame start the next one.
	if d.inBody || (d.hn > 0 && !d.noise.in) {
		d.drop(Truncated)
	}
	d.buf = d.buf[:0]
	d.hn = 0
	d.inBody = false
	d.noise.end()
}

func (d *lengthPrefixDecoder) Idle() { d.Reset() }
