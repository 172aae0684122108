package framing

import "bytes"

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
		if len(d.buf) == 0 && len(p)-i >= d.size {
			d.frameDone()
			return i + d.size, p[i : i+d.size], true
		}
		take := min(d.size-len(d.buf), len(p)-i)
		d.buf = append(d.buf, p[i:i+take]...)
		i += take
		if len(d.buf) == d.size {
			f := d.buf
			d.buf = d.buf[:0]
			d.frameDone()
			return i, f, true
		}
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
