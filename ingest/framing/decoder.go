package framing

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
