package framing

import "bytes"

// Decoder is a framing state machine: bytes in, frames out. One goroutine
// decodes; Drops may be read from any goroutine.
type Decoder interface {
	// Decode consumes a prefix of p and returns how many bytes it consumed
	// and, when a valid frame completed within them, the frame with ok=true.
	// The frame aliases the decoder's buffer (or p) and is valid only until
	// the next call to Decode or Reset. Callers loop until p is fully
	// consumed. Decode consumes at least one byte of a non-empty p.
	Decode(p []byte) (n int, frame []byte, ok bool)
	// Reset discards a partial frame (counting it as Truncated if it held
	// any bytes of a started frame) and forgets where the stream stands:
	// the decoder is as New left it, and drops what comes before its
	// mode's first certain frame boundary (counted as Resync). Call it on
	// every open and reopen of the port, whenever bytes may have been
	// lost.
	Reset()
	// Idle tells the decoder that the line has been quiet long enough
	// that a half frame can no longer complete, while the port stayed
	// open and no byte was lost. A decoder at a frame boundary stays in
	// step, so the next frame is kept; one holding a half frame does as
	// Reset does. It ends a run of noise. In the modes without a certain
	// boundary (see Config.Resyncs), the quiet line is the only sign of
	// one, and Idle is Reset.
	Idle()
	// Drops returns the decoder's drop counters.
	Drops() *Drops
}

// core is what every decoder has: a buffer for a frame that spans Decode
// calls, allocated once at New and never grown, the size limit and the
// counters.
type core struct {
	buf   []byte
	max   int
	drops Drops
}

func newCore(max, bufCap int) core {
	return core{buf: make([]byte, 0, bufCap), max: max}
}

func (c *core) Drops() *Drops { return &c.drops }

func (c *core) drop(r Reason) { c.drops.add(r) }

// hold returns the buffer so tests can check that it never grows.
func (c *core) hold() []byte { return c.buf }

// The modes that find a frame's end by scanning for a delimiter read each
// frame as a span: it began at p[start] when start >= 0, or, when start is
// -1, in an earlier call, its head in the buffer and the rest from p[i];
// p[j] is where the scan stopped.

// overflows reports whether the span up to p[j] is longer than the
// maximum; if so it counts the frame as Oversize and empties the buffer.
func (c *core) overflows(start, i, j int) bool {
	length := len(c.buf) + j - i
	if start >= 0 {
		length = j - start
	}
	if length <= c.max {
		return false
	}
	c.drop(Oversize)
	c.buf = c.buf[:0]
	return true
}

// keep saves what p holds of the span, up to p[j], for the next call.
func (c *core) keep(p []byte, start, i, j int) {
	if start >= 0 {
		c.buf = append(c.buf[:0], p[start:j]...)
	} else {
		c.buf = append(c.buf, p[i:j]...)
	}
}

// span returns the whole span, ending at p[j], from p when it lies wholly
// in p and from the buffer otherwise, and leaves the buffer empty for the
// next frame.
func (c *core) span(p []byte, start, i, j int) []byte {
	var f []byte
	if start >= 0 {
		f = p[start:j]
	} else {
		f = append(c.buf, p[i:j]...)
	}
	c.buf = c.buf[:0]
	return f
}

// fill reads a frame of exactly n bytes from p[i:]: straight from p when
// nothing of it is buffered and p holds it whole, otherwise through the
// buffer. It returns where it stopped in p and, once complete, the frame.
func (c *core) fill(p []byte, i, n int) (int, []byte, bool) {
	if len(c.buf) == 0 && len(p)-i >= n {
		return i + n, p[i : i+n], true
	}
	take := min(n-len(c.buf), len(p)-i)
	c.buf = append(c.buf, p[i:i+take]...)
	i += take
	if len(c.buf) < n {
		return i, nil, false
	}
	f := c.buf
	c.buf = c.buf[:0]
	return i, f, true
}

// noiseRun counts a contiguous run of noise once: the first discarded byte
// counts, the rest of the run does not, until something that could be a
// frame ends the run.
type noiseRun struct{ in bool }

func (n *noiseRun) add(c *core, r Reason) {
	if !n.in {
		c.drop(r)
		n.in = true
	}
}

func (n *noiseRun) end() { n.in = false }

// skipTo passes over the bytes of p from i up to the next delim, counting
// any it passes over in the run as r. It returns the index just after the
// delimiter, ending the run, or -1 when p holds none (the run goes on into
// the next call).
func (n *noiseRun) skipTo(c *core, p []byte, i int, delim byte, r Reason) int {
	k := bytes.IndexByte(p[i:], delim)
	if k != 0 {
		n.add(c, r)
	}
	if k < 0 {
		return -1
	}
	n.end()
	return i + k + 1
}

// delimSync is how a decoder of frames that end at one delimiter byte,
// which never stands inside a frame, finds its footing: after New or Reset
// it cannot tell whether the next byte starts a frame (resync), and after
// dropping a frame it must pass over the rest of it (skipping); either way
// it discards up to the next delimiter.
type delimSync struct {
	delim    byte
	resync   bool
	skipping bool
	head     noiseRun // counts what resync discards, once
}

// start returns where decoding p begins: 0, or after a resync's discard,
// or len(p) when all of p was discarded.
func (s *delimSync) start(c *core, p []byte) int {
	if !s.resync {
		return 0
	}
	return s.discardHead(c, p)
}

func (s *delimSync) discardHead(c *core, p []byte) int {
	i := s.head.skipTo(c, p, 0, s.delim, Resync)
	if i < 0 {
		return len(p)
	}
	s.resync = false
	return i
}

// skipFrame passes over the rest of a dropped frame from p[i:] and returns
// the index after its delimiter, or len(p) when p ends first.
func (s *delimSync) skipFrame(p []byte, i int) int {
	k := bytes.IndexByte(p[i:], s.delim)
	if k < 0 {
		return len(p)
	}
	s.skipping = false
	return i + k + 1
}

// reset makes the decoder resync, as after New.
func (s *delimSync) reset() {
	s.skipping = false
	s.resync = true
	s.head.end()
}
