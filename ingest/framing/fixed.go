package framing

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ModeFixed cuts frames of a fixed size. framing.mode may also be written
// "fixed:N", which is ModeFixed with size N.
const ModeFixed = "fixed"

var fixedMode = Mode{
	Name:            ModeFixed,
	Arg:             "N",
	Delivers:        "every N bytes (after `sync`, if set)",
	DefaultMaxFrame: DefaultMaxFrame,
	parseArg:        parseFixedArg,
	options: []option{{
		key:     "size",
		set:     func(c Config) bool { return c.Size != 0 },
		resolve: resolveFixedSize,
		value:   func(s *settings) (string, bool) { return strconv.Itoa(s.size), false },
	}, {
		key:     "sync",
		set:     func(c Config) bool { return c.Sync != "" },
		resolve: resolveSync,
		value: func(s *settings) (string, bool) {
			return strings.ToUpper(hex.EncodeToString(s.sync[:s.syncLen])), s.syncLen == 0
		},
	}},
	newDecoder:  func(s settings) Decoder { return newFixed(s) },
	appendFrame: appendFixed,
	resyncs:     func(s *settings) bool { return s.syncLen > 0 },
}

// parseFixedArg reads N of fixed:N as the size, which a size setting may
// repeat but not contradict.
func parseFixedArg(r *resolver, arg string) {
	v, err := strconv.Atoi(arg)
	switch {
	case err != nil || v <= 0:
		r.bad("mode", "%q: the size after \"fixed:\" must be a positive integer", r.c.Mode)
		r.argBad = true
	case r.c.Size != 0 && r.c.Size != v:
		r.bad("size", "%d conflicts with mode %q", r.c.Size, r.c.Mode)
	default:
		r.s.size = v
	}
}

func resolveFixedSize(r *resolver) {
	size := r.c.Size
	if r.s.size != 0 {
		size = r.s.size // from fixed:N
	}
	if r.c.Size < 0 {
		r.bad("size", "%d is negative", r.c.Size)
		return
	}
	switch {
	case size == 0 && r.argBad:
	case size == 0:
		r.bad("size", "required for mode fixed (or write the mode as fixed:N)")
	case r.s.maxFrame > 0 && size > r.s.maxFrame:
		r.bad("size", "%d exceeds framing.max_frame (%d)", size, r.s.maxFrame)
	}
	r.s.size = size
}

func resolveSync(r *resolver) {
	sync := r.c.Sync
	switch {
	case sync == "":
	case len(sync)%2 != 0:
		r.bad("sync", "%q has an odd number of hex digits", sync)
	case len(sync) > 2*MaxSyncBytes:
		r.bad("sync", "%q is longer than %d bytes", sync, MaxSyncBytes)
	default:
		n, err := hex.Decode(r.s.sync[:], []byte(sync))
		if err != nil {
			r.bad("sync", "%q is not hexadecimal", sync)
		}
		r.s.syncLen = n
	}
}

// appendFixed takes a payload of exactly size bytes and prepends the sync.
func appendFixed(s *settings, dst, payload []byte) ([]byte, string) {
	if len(payload) != s.size {
		return dst, fmt.Sprintf("it has %d bytes, not size %d", len(payload), s.size)
	}
	dst = append(dst, s.sync[:s.syncLen]...)
	return append(dst, payload...), ""
}

// fixedDecoder cuts frames of a fixed size, each optionally preceded by a
// sync prefix.
type fixedDecoder struct {
	core
	size int
	sync []byte
	// fallback[k] is the length of the longest proper prefix of sync that
	// is also a suffix of sync[:k+1], so a failed partial match resumes
	// where a real sync could still start (Knuth–Morris–Pratt).
	fallback []int
	matched  int  // sync bytes matched so far
	inFrame  bool // the sync has matched (always, without a sync); buf fills
	// resync: with a sync, after New or Reset; what the hunt for the
	// first sync passes over is counted as Resync, not Noise. Without a
	// sync there is nothing to hunt for: the first byte starts a frame.
	resync bool
	noise  noiseRun // a run of noise, or of what resync discards
}

func newFixed(s settings) *fixedDecoder {
	d := &fixedDecoder{core: newCore(s.maxFrame, s.size), size: s.size}
	if s.syncLen == 0 {
		d.inFrame = true
		return d
	}
	d.resync = true
	d.sync = append([]byte(nil), s.sync[:s.syncLen]...)
	d.fallback = make([]int, len(d.sync))
	for k, m := 1, 0; k < len(d.sync); k++ {
		for m > 0 && d.sync[k] != d.sync[m] {
			m = d.fallback[m-1]
		}
		if d.sync[k] == d.sync[m] {
			m++
		}
		d.fallback[k] = m
	}
	return d
}

func (d *fixedDecoder) Decode(p []byte) (int, []byte, bool) {
	i := 0
	for i < len(p) {
		if !d.inFrame {
			i = d.hunt(p, i)
			continue
		}
		j, f, ok := d.fill(p, i, d.size)
		if ok {
			d.frameDone()
			return j, f, true
		}
		i = j
	}
	return i, nil, false
}

// hunt looks for the sync from p[i], counting what it passes over as
// noise (or resync), and returns where it stopped: just after the sync or
// at the end of p.
func (d *fixedDecoder) hunt(p []byte, i int) int {
	r := Noise
	if d.resync {
		r = Resync
	}
	for i < len(p) {
		if d.matched == 0 {
			k := bytes.IndexByte(p[i:], d.sync[0])
			if k < 0 {
				d.noise.add(&d.core, r)
				return len(p)
			}
			if k > 0 {
				d.noise.add(&d.core, r)
			}
			i += k
		}
		c := p[i]
		i++
		for d.matched > 0 && d.sync[d.matched] != c {
			// The oldest matched bytes can no longer start a sync.
			d.noise.add(&d.core, r)
			d.matched = d.fallback[d.matched-1]
		}
		if d.sync[d.matched] != c {
			d.noise.add(&d.core, r)
			continue
		}
		d.matched++
		if d.matched == len(d.sync) {
			d.matched = 0
			d.inFrame = true
			d.resync = false
			d.noise.end()
			return i
		}
	}
	return i
}

func (d *fixedDecoder) frameDone() {
	if d.sync != nil {
		d.inFrame = false
	}
}

func (d *fixedDecoder) Reset() {
	switch {
	case d.resync:
		// A partly matched sync is part of what resync discards.
		if d.matched > 0 {
			d.noise.add(&d.core, Resync)
		}
	case len(d.buf) > 0 || d.matched > 0 || (d.sync != nil && d.inFrame):
		// With a sync, a matched sync is a started frame even before its
		// first payload byte; so is a partly matched sync, as far as
		// anyone can tell.
		d.drop(Truncated)
	}
	d.buf = d.buf[:0]
	d.matched = 0
	d.inFrame = d.sync == nil
	d.resync = d.sync != nil
	d.noise.end()
}

func (d *fixedDecoder) Idle() {
	switch {
	case d.resync:
		// Still hunting for the first sync: the resync goes on.
	case d.sync == nil || d.inFrame || d.matched > 0:
		d.Reset()
	default:
		d.noise.end()
	}
}
