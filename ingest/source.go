package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/ingest/hostclock"
)

// Source reads one serial device and turns its bytes into frames. It keeps
// the device open across faults: a missing or vanished device is retried
// with capped backoff, and a line that delivers no valid frame for
// SerialConfig.QuietAfter is reported quiet.
type Source struct {
	cfg     SerialConfig
	open    OpenFunc
	list    ListPortsFunc
	decoder framing.Decoder
	seq     *SequenceExtractor
	log     *slog.Logger
	now     func() time.Time
	mono    func() int64
	// resolved is the path a usb-serial setting last resolved to; only Run
	// touches it.
	resolved string
	// arr turns read times into frames' line-time windows; only Run
	// touches it.
	arr *arrivals
	// hole is the strongest reason, since the last frame delivered, that
	// frames may have been lost; dropsSeen the framer's drop count then.
	// Only Run touches them.
	hole      Hole
	dropsSeen uint64
	// lastFeedSeq is the previous frame's feed sequence number, if it had
	// one (hadFeedSeq); only Run touches them.
	lastFeedSeq uint64
	hadFeedSeq  bool

	path         atomic.Pointer[string] // the device path last opened
	connected    atomic.Bool
	quiet        atomic.Bool
	lastFrame    atomic.Int64 // unix nanoseconds of the last valid frame
	readThrough  atomic.Int64 // see ReadThrough
	frames       atomic.Uint64
	bytes        atomic.Uint64
	reconnects   atomic.Uint64
	openFailures atomic.Uint64
	quietPeriods atomic.Uint64
	holes        [HoleReopened + 1]atomic.Uint64
}

// SourceOptions are the parts of a Source that tests and callers may replace.
type SourceOptions struct {
	Open OpenFunc // default OpenSerial
	// ListPorts finds the port a usb-serial device setting names; default
	// ListPorts.
	ListPorts ListPortsFunc
	Now       func() time.Time // default time.Now
	// HostClock reads the host clock frames' line windows are on; default
	// hostclock.Now.
	HostClock func() int64
	Logger    *slog.Logger // default slog.Default()
}

// NewSource validates the configuration and builds a Source. Nothing is
// opened until Run.
func NewSource(sc SerialConfig, fc framing.Config, qc SequenceConfig, o SourceOptions) (*Source, error) {
	sc = sc.WithDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	dec, err := framing.New(fc)
	if err != nil {
		return nil, err
	}
	seq, err := NewSequenceExtractor(qc)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: sc, open: o.Open, list: o.ListPorts, decoder: dec, seq: seq, log: o.Logger, now: o.Now, mono: o.HostClock}
	if s.mono == nil {
		s.mono = hostclock.Now
	}
	if s.open == nil {
		s.open = OpenSerial
	}
	if s.list == nil {
		s.list = ListPorts
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("device", sc.Device)
	return s, nil
}

// Run reads frames until ctx is cancelled and hands each to handle in the
// calling goroutine. The frame, and its Data, are valid only during the call.
//
// Run returns nil when ctx is cancelled. It returns an error only when the
// device cannot be opened at start and SerialConfig.FailFast is set.
func (s *Source) Run(ctx context.Context, handle func(*Frame)) error {
	buf := make([]byte, 4096)
	var frame Frame
	backoff := s.cfg.ReconnectMin
	first := true
	var lastOpenLog time.Time
	for ctx.Err() == nil {
		port, err := s.openResolved()
		if err != nil {
			s.openFailures.Add(1)
			if first && s.cfg.FailFast {
				return fmt.Errorf("ingest: %w", err)
			}
			if now := s.now(); first || now.Sub(lastOpenLog) >= 30*time.Second {
				msg := "cannot open serial device; retrying"
				if errors.Is(err, ErrDeviceBusy) {
					// Another member on this host, or a probe or
					// terminal program left running: it must let go.
					msg = "serial device in use by another process; retrying until it lets go"
				}
				s.log.Error(msg, "err", err, "retry_max", s.cfg.ReconnectMax)
				lastOpenLog = now
			}
			first = false
			if !sleepCtx(ctx, backoff) {
				break
			}
			backoff = min(2*backoff, s.cfg.ReconnectMax)
			continue
		}
		if !first {
			s.log.Info("serial device open")
		}
		s.startArrivals(first)
		first = false
		backoff = s.cfg.ReconnectMin
		s.connected.Store(true)
		err = s.readPort(ctx, port, buf, &frame, handle)
		s.connected.Store(false)
		port.Close()
		s.decoder.Reset()
		if err == nil { // cancelled
			break
		}
		s.reconnects.Add(1)
		s.hole = HoleReopened
		s.log.Warn("serial device lost; reconnecting", "err", err)
		if !sleepCtx(ctx, s.cfg.ReconnectMin) {
			break
		}
	}
	return nil
}

// openResolved opens the configured device. A usb-serial setting is looked
// up again on every attempt, because the path a USB adapter gets can change
// when it is replugged; each newly resolved path is logged.
func (s *Source) openResolved() (Port, error) {
	cfg := s.cfg
	path, err := ResolveDevice(cfg.Device, s.list)
	if err != nil {
		return nil, err
	}
	if path != cfg.Device && path != s.resolved {
		s.log.Info("serial device resolved", "path", path)
		s.resolved = path
	}
	cfg.Device = path
	port, err := s.open(cfg)
	if err == nil {
		s.path.Store(&path)
	}
	return port, err
}

// startArrivals readies the line-time windows for a freshly opened port.
// The latency bound is the configured one, or one for the kind of device
// just opened.
func (s *Source) startArrivals(first bool) {
	latency := s.cfg.MaxLatency
	if latency == 0 {
		path := s.cfg.Device
		if p := s.path.Load(); p != nil {
			path = *p
		}
		latency = autoLatency(path)
	}
	if s.arr == nil || s.arr.latency != int64(latency) {
		if !first || s.cfg.MaxLatency == 0 {
			s.log.Info("serial device latency bound", "max_latency", latency)
		}
		lastLo := backlog.NoLo
		if s.arr != nil {
			lastLo = s.arr.lastLo
		}
		s.arr = newArrivals(latency, s.cfg.LineByteTime())
		s.arr.lastLo = lastLo
	}
	s.arr.opened()
}

// readPort reads until the port fails (returning the error) or ctx is
// cancelled (returning nil).
func (s *Source) readPort(ctx context.Context, port Port, buf []byte, frame *Frame, handle func(*Frame)) error {
	quietSince := s.now()
	pace := newReadPace(port, s.cfg.ReadTimeout, s.mono())
	for ctx.Err() == nil {
		start := s.mono()
		n, err := port.Read(buf)
		end := s.mono()
		now := s.now()
		s.arr.read(start, end, n, len(buf))
		p := buf[:n]
		for len(p) > 0 {
			used, data, ok := s.decoder.Decode(p)
			p = p[used:]
			if !ok {
				continue
			}
			quietSince = now
			s.emit(now, s.arr.frame(len(data)), data, frame, handle)
		}
		if err == nil && n < len(buf) {
			// The read took everything the port held: every byte on the
			// line up to its latency bound before now is read, and every
			// frame that ended in them handed over.
			s.readThrough.Store(end - s.arr.latency)
		}
		if err != nil {
			if n == 0 && errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if err := pace.after(n, end); err != nil {
			return fmt.Errorf("pace the reads: %w", err)
		}
		s.checkQuiet(now, quietSince)
	}
	return nil
}

// A port that has delivered no byte for idleReadAfter is read every
// idleReadTimeout instead of every SerialConfig.ReadTimeout: on an idle line
// the short reads, each returning nothing, cost about a point of a core. A
// read returns as soon as bytes come, so the pace goes back to the short
// reads with the first byte; what the longer reads cost is the window of
// the first frame after such a silence, as wide as the longer read (on a
// repeating feed, perhaps a possible duplicate more; never a gap), and a
// watermark that moves every idleReadTimeout while the line is silent. A
// feed that sends at least once a second keeps the short reads throughout.
// An idle line is also read another way, in the runtime's poller (see
// lockedPort), and its first frame pays that way's slower wake-up.
const (
	idleReadAfter   = time.Second
	idleReadTimeout = 50 * time.Millisecond
)

// readPace switches a port's read timeout between the configured one and
// the idle one, and tells a port that reads an idle line another way
// (lockedPort) when the line goes idle and when it comes back. Ports that
// can do neither (tests' fakes) keep their ways.
type readPace struct {
	port      interface{ SetReadTimeout(time.Duration) error }
	idlePort  interface{ setIdle(bool) error }
	short     time.Duration
	lastBytes int64 // host clock, when a read last returned bytes
	idle      bool
}

func newReadPace(port Port, short time.Duration, now int64) *readPace {
	p := &readPace{short: short, lastBytes: now}
	if sp, ok := port.(interface{ SetReadTimeout(time.Duration) error }); ok && short < idleReadTimeout {
		p.port = sp
	}
	p.idlePort, _ = port.(interface{ setIdle(bool) error })
	return p
}

// after takes a read that returned n bytes at end and sets the timeout of
// the next.
func (p *readPace) after(n int, end int64) error {
	if p.port == nil && p.idlePort == nil {
		return nil
	}
	if n > 0 {
		p.lastBytes = end
	}
	idle := end-p.lastBytes >= int64(idleReadAfter)
	if idle == p.idle {
		return nil
	}
	p.idle = idle
	if p.idlePort != nil {
		if err := p.idlePort.setIdle(idle); err != nil {
			return err
		}
	}
	switch {
	case p.port == nil:
		return nil
	case idle:
		return p.port.SetReadTimeout(idleReadTimeout)
	default:
		return p.port.SetReadTimeout(p.short)
	}
}

func (s *Source) emit(now time.Time, line backlog.Window, data []byte, f *Frame, handle func(*Frame)) {
	*f = Frame{
		Data:        data,
		ReceivedAt:  now,
		Line:        line,
		Seq:         s.frames.Add(1),
		Fingerprint: Fingerprint(data),
	}
	f.FeedSeq, f.HasFeedSeq = s.seq.Extract(data)
	if f.HasFeedSeq && s.hadFeedSeq && f.FeedSeq > s.lastFeedSeq+1 {
		// Numbers that go back are a sender's restart or wrap, not a loss.
		s.hole = max(s.hole, HoleSequence)
	}
	s.lastFeedSeq, s.hadFeedSeq = f.FeedSeq, f.HasFeedSeq
	if d := s.decoder.Drops().Total(); d != s.dropsSeen {
		s.dropsSeen = d
		s.hole = max(s.hole, HoleDropped)
	}
	// The first frame has no frame before it to have lost anything after.
	if s.hole != NoHole && f.Seq > 1 {
		f.Hole = s.hole
		s.holes[s.hole].Add(1)
	}
	s.hole = NoHole
	s.bytes.Add(uint64(len(data)))
	s.lastFrame.Store(now.UnixNano())
	if s.quiet.Swap(false) {
		s.log.Info("serial line delivering frames again")
	}
	handle(f)
}

// checkQuiet marks the line quiet once no valid frame has arrived for
// QuietAfter, and drops any half frame: after that long it cannot complete.
func (s *Source) checkQuiet(now, since time.Time) {
	if s.quiet.Load() || now.Sub(since) < s.cfg.QuietAfter {
		return
	}
	s.quiet.Store(true)
	s.quietPeriods.Add(1)
	s.hole = max(s.hole, HoleQuiet)
	// The port stayed open: a decoder between frames stays in step, one
	// holding half a frame drops it (it cannot complete after this long).
	s.decoder.Idle()
	s.log.Warn("serial line quiet: no valid frame", "for", s.cfg.QuietAfter)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Health is a snapshot of the reader's state for status and the pair
// protocol.
type Health struct {
	// Path is the device last opened: the configured path, or the port a
	// usb-serial setting resolved to.
	Path         string    `json:"path,omitempty"`
	Connected    bool      `json:"connected"`
	Quiet        bool      `json:"quiet"`
	LastFrameAt  time.Time `json:"last_frame_at,omitzero"`
	Frames       uint64    `json:"frames"`
	Bytes        uint64    `json:"bytes"`
	Dropped      uint64    `json:"dropped"`
	Reconnects   uint64    `json:"reconnects"`
	OpenFailures uint64    `json:"open_failures"`
	// Holes counts frames delivered after a sign that the port lost
	// frames before them: it reopened, dropped input or saw the feed's
	// sequence skip (see Hole; a quiet line is counted in QuietPeriods).
	Holes uint64 `json:"holes"`
}

// ReadThrough returns a time on the host clock (ingest/hostclock) before
// which every frame that ended on the line has been handed over, or 0
// before the first read. It stands still while the port is closed or the
// reader is starved of the processor, which wall time alone would not
// show. Safe for concurrent use.
func (s *Source) ReadThrough() int64 { return s.readThrough.Load() }

// Connected reports whether the port is open now; after it closes, every
// frame it delivered has been handed over. Safe for concurrent use.
func (s *Source) Connected() bool { return s.connected.Load() }

// Health returns the current state; safe to call from any goroutine.
func (s *Source) Health() Health {
	h := Health{
		Connected:    s.connected.Load(),
		Quiet:        s.quiet.Load(),
		Frames:       s.frames.Load(),
		Bytes:        s.bytes.Load(),
		Dropped:      s.decoder.Drops().Total(),
		Reconnects:   s.reconnects.Load(),
		OpenFailures: s.openFailures.Load(),
	}
	for _, k := range Holes {
		if k != HoleQuiet {
			h.Holes += s.holes[k].Load()
		}
	}
	if p := s.path.Load(); p != nil {
		h.Path = *p
	}
	if ns := s.lastFrame.Load(); ns != 0 {
		h.LastFrameAt = time.Unix(0, ns)
	}
	return h
}

// HoleCount returns how many frames followed a hole of kind h.
func (s *Source) HoleCount(h Hole) uint64 {
	if h > HoleReopened {
		return 0
	}
	return s.holes[h].Load()
}

// Drops returns the framing drop counters by reason.
func (s *Source) Drops() *framing.Drops { return s.decoder.Drops() }
