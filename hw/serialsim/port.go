package serialsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// rxWindow bounds the bytes between the simulator's write and a reader:
	// in the writer-side pty, in socat, and in the member side's input queue.
	// It is below the 4095 bytes the kernel's line discipline holds, so all
	// that socat forwarded and no reader took is in that input queue, where
	// TIOCINQ counts it exactly, and none waits in the kernel's flip buffers,
	// which nothing counts. It stands for the kernel's buffer of a real
	// port: a port whose reader falls this far behind loses what follows
	// (overflow) until the reader takes some.
	rxWindow = 3072
	// writeSlice bounds one blocking write, so the port goroutine keeps
	// answering control commands.
	writeSlice = 100 * time.Millisecond
	// recentKeep is how many written bytes the unplug accounting remembers;
	// more than can ever be in flight.
	recentKeep = 4 * rxWindow
	// writeMargin is how long before a frame's write deadline a port whose
	// reader is not reading gives up on it: the write and the bookkeeping
	// around it must fit before the deadline.
	writeMargin = time.Millisecond
	// settleEvery is how often a recording port checks what its reader has
	// taken, to settle those frames as delivered.
	settleEvery = 50 * time.Millisecond
)

// Stats are one port's counters. Once the feed has finished (Sim.Finished),
// or the Sim has stopped (Sim.Done), every generated frame is counted in
// exactly one of Delivered, Corrupted, Dropped, Paused, Unplugged and
// Overflow.
type Stats struct {
	// Written counts frames written completely to the port, intact or
	// corrupted.
	Written uint64
	// Delivered counts intact frames a reader of the port has received or
	// can still read: len(Delivered(port)).
	Delivered uint64
	// Corrupted counts frames written with corrupted bytes: by the corrupt
	// fault, or by a baud fault that changed them.
	Corrupted uint64
	// Dropped counts frames the drop fault kept from the port.
	Dropped uint64
	// Paused counts frames due while the port was paused.
	Paused uint64
	// Unplugged counts frames lost to an unplug: due while unplugged, cut
	// off mid-write, or written but not yet taken by a reader when the pty
	// closed (also when the Sim stopped with frames not yet written).
	Unplugged uint64
	// Overflow counts frames that could not be written within
	// Config.MaxWriteDelay of their due time because the port's reader
	// left the kernel's buffer full (it stopped reading, or nobody opened
	// the port), or because the port's queue was full.
	Overflow uint64
	// Late counts frames written later than MaxWriteDelay after their due
	// time because the simulator itself was held up (a loaded machine), not
	// its reader. They are also counted in Written and in Delivered or
	// Corrupted.
	Late uint64
	// Bytes counts bytes written to the port, fragments included.
	Bytes uint64
	// Unplugs counts unplug events, including socat exiting on its own.
	Unplugs uint64
}

func (s Stats) String() string {
	return fmt.Sprintf("written=%d delivered=%d corrupted=%d dropped=%d paused=%d unplugged=%d overflow=%d late=%d bytes=%d unplugs=%d",
		s.Written, s.Delivered, s.Corrupted, s.Dropped, s.Paused, s.Unplugged, s.Overflow, s.Late, s.Bytes, s.Unplugs)
}

// item is one frame queued for a port.
type item struct {
	index uint64    // in the feed, from 0
	id    uint64    // Config.StartSeq + index
	due   time.Time // when its last byte left the line
	data  []byte    // what the port receives
	fate  Fate      // FateDelivered (intact), FateCorrupted or FateGarbled
}

// sentFrame remembers where a written frame ended in the current socat's
// byte stream, so an unplug can tell which frames a reader had not taken.
type sentFrame struct {
	index, id uint64
	end       uint64
	intact    bool
	settled   bool          // intact frames: its record fate is final
	written   time.Duration // when the write finished, since the epoch
}

type ctlKind int

const (
	ctlUnplug ctlKind = iota
	ctlReplug
)

type command struct {
	kind  ctlKind
	d     time.Duration
	reply chan error // buffered; nil when nobody waits
}

func (c command) answer(err error) {
	if c.reply != nil {
		c.reply <- err
	}
}

// port is one member's pty pair and its writer. The goroutine running run
// owns socat, the open ptys and every field below "owned by run"; the
// source goroutine owns rng and reads the atomics.
type port struct {
	sim            *Sim
	idx            int
	member, writer string

	queue  chan item
	ctl    chan command
	exited chan struct{} // closed when run returns

	plugged     atomic.Bool
	pause       atomic.Pointer[pauseWindow]
	dropRate    atomic.Uint64
	corruptRate atomic.Uint64
	rxBaud      atomic.Int64 // the receiver's baud rate under a baud fault; 0: the line's
	rng         *rand.Rand   // source goroutine only

	mu        sync.Mutex
	stats     Stats
	delivered idSet
	late      map[uint64]time.Duration // by id: how long after due+MaxWriteDelay a frame counted Late was written

	// owned by run
	proc        *socatProc
	w, hold     *os.File
	discardDone chan struct{}
	useDeadline bool
	instWritten uint64 // bytes written to the current socat
	taken       uint64 // of those, how many a reader is known to have taken
	recent      []sentFrame
	pending     *command
	replugAt    *time.Timer
	warnedLog   bool
}

func newPort(s *Sim, idx int, dir string) *port {
	p := &port{
		sim:    s,
		idx:    idx,
		member: fmt.Sprintf("%s/port%d", dir, idx),
		writer: fmt.Sprintf("%s/.port%d.in", dir, idx),
		queue:  make(chan item, s.cfg.QueueFrames),
		ctl:    make(chan command, 4),
		exited: make(chan struct{}),
		rng:    rand.New(rand.NewPCG(s.cfg.Seed, 0x706f7274_00000000|uint64(idx))),
	}
	return p
}

func (p *port) logf(format string, args ...any) {
	p.sim.logf("port%d: "+format, append([]any{p.idx}, args...)...)
}

func (p *port) count(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// settle records port p's final fate for frame index, when recording.
func (p *port) settle(index uint64, pf PortFate) {
	if r := p.sim.rec; r != nil {
		r.settle(index, p.idx, pf)
	}
}

// lose counts a frame the port never wrote, with its fate.
func (p *port) lose(index uint64, fate Fate, f func(*Stats)) {
	p.count(f)
	p.settle(index, PortFate{Fate: fate})
}

// pauseWindow is a pause, [from, until) in nanoseconds since the Sim's
// epoch.
type pauseWindow struct{ from, until int64 }

// paused reports whether a frame dispatched at (since the epoch) falls in
// the port's pause.
func (p *port) paused(at int64) bool {
	w := p.pause.Load()
	return w != nil && at >= w.from && at < w.until
}

func loadRate(a *atomic.Uint64) float64 { return math.Float64frombits(a.Load()) }

// plugIn starts socat and opens the writer side. On success the port is
// plugged.
func (p *port) plugIn(ctx context.Context) error {
	for _, l := range []string{p.member, p.writer} {
		if err := removeStaleLink(l); err != nil {
			return err
		}
	}
	proc, err := startSocat(p.sim.socatPath, p.member, p.writer)
	if err != nil {
		return err
	}
	w, hold, err := proc.waitReady(ctx, p.sim.cfg.StartTimeout, p.member, p.writer)
	if err != nil {
		_ = proc.stop()
		_ = removeStaleLink(p.member)
		_ = removeStaleLink(p.writer)
		return fmt.Errorf("serialsim: port%d: %w", p.idx, err)
	}
	p.proc, p.w, p.hold = proc, w, hold
	p.useDeadline = w.SetWriteDeadline(time.Time{}) == nil
	p.instWritten, p.taken = 0, 0
	p.recent = p.recent[:0]
	p.warnedLog = false
	// Bytes a reader writes to the member side reach the writer side;
	// read and discard them, like a transmit line nobody listens to.
	p.discardDone = make(chan struct{})
	go func(f *os.File, done chan struct{}) {
		defer close(done)
		buf := make([]byte, 512)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
		}
	}(w, p.discardDone)
	p.plugged.Store(true)
	return nil
}

// unplugPTY stops socat and closes the ptys; readers of the member side see
// EOF (or EIO). It returns socat's stop error.
func (p *port) unplugPTY() error {
	p.plugged.Store(false)
	var err error
	if p.proc != nil {
		err = p.proc.stop()
	}
	closeFile(p.w)
	closeFile(p.hold)
	if p.discardDone != nil {
		<-p.discardDone
	}
	for _, l := range []string{p.member, p.writer} {
		if e := removeStaleLink(l); e != nil && err == nil {
			err = e
		}
	}
	p.proc, p.w, p.hold, p.discardDone = nil, nil, nil, nil
	return err
}

// run is the port goroutine: it writes queued frames and carries out
// unplugs and replugs. Start starts it after plugIn succeeded.
func (p *port) run(ctx context.Context) {
	defer close(p.exited)
	defer func() {
		if p.replugAt != nil {
			p.replugAt.Stop()
		}
		// Let readers take what is in flight, so Delivered stays exact,
		// then stop socat.
		if p.plugged.Load() {
			p.pull(context.Background(), true, false)
		}
		if err := p.unplugPTY(); err != nil {
			p.sim.addErr(err)
		}
		// What the source dispatched and the port did not write is lost
		// with the pty. The source closes the queue as it stops.
		for it := range p.queue {
			p.lose(it.index, FateUnplugged, func(s *Stats) { s.Unplugged++ })
		}
	}()
	var settleTick <-chan time.Time
	if p.sim.rec != nil {
		t := time.NewTicker(settleEvery)
		defer t.Stop()
		settleTick = t.C
	}
	queue := p.queue
	for {
		if c := p.pending; c != nil {
			p.pending = nil
			p.handle(ctx, *c)
			continue
		}
		var procDone <-chan struct{}
		if p.proc != nil {
			procDone = p.proc.Done()
		}
		var replug <-chan time.Time
		if p.replugAt != nil {
			replug = p.replugAt.C
		}
		select {
		case <-ctx.Done():
			return
		case c := <-p.ctl:
			p.handle(ctx, c)
		case <-replug:
			p.replugAt = nil
			if err := p.replug(ctx); err != nil && ctx.Err() == nil {
				p.logf("replug failed, retrying in 1s: %v", err)
				p.replugAt = time.NewTimer(time.Second)
			}
		case <-settleTick:
			if p.plugged.Load() && p.unsettled() {
				p.noteTaken(p.inFlight())
			}
		case <-procDone:
			p.logf("socat exited on its own (%s); the port is unplugged, replug in 1s", p.proc.describe())
			p.pull(ctx, false, true)
			p.replugAt = time.NewTimer(time.Second)
		case it, ok := <-queue:
			if !ok {
				queue = nil
				p.sim.feedDone()
				continue
			}
			if !p.plugged.Load() {
				p.lose(it.index, FateUnplugged, func(s *Stats) { s.Unplugged++ })
				continue
			}
			p.write(ctx, it)
		}
	}
}

func (p *port) handle(ctx context.Context, c command) {
	switch c.kind {
	case ctlUnplug:
		if !p.plugged.Load() {
			c.answer(fmt.Errorf("serialsim: port%d is already unplugged", p.idx))
			return
		}
		began := time.Now()
		p.pull(ctx, true, true)
		if c.d > 0 {
			// The port stays unplugged for d from the command, drain
			// included.
			p.replugAt = time.NewTimer(max(0, c.d-time.Since(began)))
		}
		c.answer(nil)
	case ctlReplug:
		if p.plugged.Load() {
			c.answer(fmt.Errorf("serialsim: port%d is not unplugged", p.idx))
			return
		}
		if p.replugAt != nil {
			p.replugAt.Stop()
			p.replugAt = nil
		}
		c.answer(p.replug(ctx))
	}
}

func (p *port) replug(ctx context.Context) error {
	if err := p.plugIn(ctx); err != nil {
		return err
	}
	p.logf("replugged at %s", p.member)
	return nil
}

// unforwarded returns the bytes written to the current socat that it has
// not yet reported forwarding to the member side.
func (p *port) unforwarded() uint64 {
	if p.proc == nil {
		return 0
	}
	if !p.proc.sawTransfer.Load() {
		if p.instWritten > 2*rxWindow {
			// socat's transfer log is not what this package parses;
			// work without it.
			if !p.warnedLog {
				p.warnedLog = true
				p.logf("no transfer lines in socat's log; unplug accounting is approximate")
			}
			return 0
		}
		return p.instWritten
	}
	if f := p.proc.forwarded.Load(); f < p.instWritten {
		return p.instWritten - f
	}
	return 0
}

// inFlight returns the bytes written that no reader has taken: still in
// the writer-side pty or in socat, or queued on the member side. Zero is
// exact: the member side's input queue is empty only after the kernel has
// flushed its flip buffers into it. A non-zero count can miss bytes the
// kernel has not yet moved out of its flip buffers while the queue holds
// others; that only matters if a reader is still behind when DrainTimeout
// runs out.
func (p *port) inFlight() uint64 {
	n := p.unforwarded()
	if p.hold != nil {
		if q, err := ptyInputQueued(p.hold); err == nil {
			n += uint64(q)
		}
	}
	return n
}

// interrupted checks, without waiting, whether the port goroutine must stop
// what it is doing: the context ended, socat exited, or an unplug came.
// Other commands are kept for later.
func (p *port) interrupted(ctx context.Context) bool {
	if ctx.Err() != nil || (p.proc != nil && p.proc.Exited()) {
		return true
	}
	if p.pending != nil {
		return p.pending.kind == ctlUnplug
	}
	select {
	case c := <-p.ctl:
		p.pending = &c
		return c.kind == ctlUnplug
	default:
		return false
	}
}

// noteTaken takes note of the bytes in flight, just measured. Only zero is
// exact (see inFlight): then a reader has taken everything written, and
// the intact frames among it are settled as delivered. An unplug never
// takes those back.
func (p *port) noteTaken(inFlight uint64) {
	if inFlight != 0 || p.taken == p.instWritten {
		return
	}
	p.taken = p.instWritten
	if p.sim.rec == nil {
		return
	}
	for i := range p.recent {
		f := &p.recent[i]
		if f.end > p.taken {
			break
		}
		if f.intact && !f.settled {
			f.settled = true
			p.settle(f.index, PortFate{Fate: FateDelivered, Written: f.written})
		}
	}
}

// unsettled reports whether an intact frame written awaits its reader.
func (p *port) unsettled() bool {
	for i := len(p.recent) - 1; i >= 0; i-- {
		if f := p.recent[i]; f.intact && !f.settled {
			return true
		}
	}
	return false
}

// write writes one frame. While the pipeline to the reader holds rxWindow
// bytes (the reader is not reading), it waits, up to MaxWriteDelay after
// the frame's due time; then the frame is lost as an overflow. A frame
// with room is written at once, even if the simulator itself is late (a
// loaded machine), and then counted Late: losing it would put the same
// hole in every port. An interruption (unplug, socat exit) cuts the frame
// off.
func (p *port) write(ctx context.Context, it item) {
	deadline := it.due.Add(p.sim.cfg.MaxWriteDelay)
	wait := time.Millisecond
	for {
		n := p.inFlight()
		p.noteTaken(n)
		if n == 0 || n+uint64(len(it.data)) <= rxWindow {
			break
		}
		if p.interrupted(ctx) {
			p.cut(it, 0)
			return
		}
		left := time.Until(deadline) - writeMargin
		if left <= 0 {
			p.lose(it.index, FateOverflow, func(s *Stats) { s.Overflow++ })
			return
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, 16*time.Millisecond)
	}
	off := 0
	for off < len(it.data) {
		if p.useDeadline {
			_ = p.w.SetWriteDeadline(time.Now().Add(writeSlice))
		}
		n, err := p.w.Write(it.data[off:])
		off += n
		p.instWritten += uint64(n)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && !p.interrupted(ctx) {
			continue
		}
		p.cut(it, off)
		return
	}
	now := time.Now()
	written := now.Sub(p.sim.epoch)
	intact := it.fate == FateDelivered
	p.recent = append(p.recent, sentFrame{index: it.index, id: it.id, end: p.instWritten, intact: intact, written: written})
	for len(p.recent) > 0 && p.recent[0].end+recentKeep < p.instWritten {
		// Long taken by the reader: at most rxWindow bytes are in flight.
		if f := p.recent[0]; f.intact && !f.settled {
			p.settle(f.index, PortFate{Fate: FateDelivered, Written: f.written})
		}
		p.recent = p.recent[1:]
	}
	p.mu.Lock()
	p.stats.Bytes += uint64(len(it.data))
	p.stats.Written++
	if now.After(deadline) {
		p.stats.Late++
		if p.late == nil {
			p.late = make(map[uint64]time.Duration)
		}
		p.late[it.id] = now.Sub(it.due)
	}
	if intact {
		p.stats.Delivered++
		p.delivered.add(it.id)
	} else {
		p.stats.Corrupted++
	}
	p.mu.Unlock()
	if !intact {
		p.settle(it.index, PortFate{Fate: it.fate, Bytes: it.data, Written: written})
	}
}

// cut accounts a frame of which only off bytes were written.
func (p *port) cut(it item, off int) {
	pf := PortFate{Fate: FateUnplugged}
	if off > 0 {
		p.recent = append(p.recent, sentFrame{index: it.index, id: it.id, end: p.instWritten})
		pf = PortFate{Fate: FateCut, Bytes: it.data[:off]}
	}
	p.count(func(s *Stats) {
		s.Bytes += uint64(off)
		s.Unplugged++
	})
	p.settle(it.index, pf)
}

// pull unplugs the port: stop writing, let the reader take what is in
// flight (drain, bounded by DrainTimeout), close the ptys and stop socat,
// and move frames the reader did not take from Delivered to Unplugged.
// event says whether this counts as an unplug (not when the Sim stops).
func (p *port) pull(ctx context.Context, drain, event bool) {
	p.plugged.Store(false)
	if drain && p.proc != nil {
		deadline := time.Now().Add(p.sim.cfg.DrainTimeout)
		wait := time.Millisecond
		for p.inFlight() > 0 && time.Now().Before(deadline) && ctx.Err() == nil && !p.proc.Exited() {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			wait = min(2*wait, 16*time.Millisecond)
		}
	}
	var lostBytes uint64
	if p.proc != nil && !p.proc.Exited() {
		lostBytes = p.inFlight()
	} else {
		// socat is gone: whatever it had not passed on, and whatever the
		// reader had not taken, went with the pty.
		lostBytes = p.unforwarded()
		if p.hold != nil {
			if q, err := ptyInputQueued(p.hold); err == nil {
				lostBytes += uint64(q)
			}
		}
	}
	if err := p.unplugPTY(); err != nil {
		p.sim.addErr(err)
	}
	cutAt := uint64(0)
	if lostBytes < p.instWritten {
		cutAt = p.instWritten - lostBytes
	}
	// What a reader is known to have taken stays delivered.
	cutAt = max(cutAt, p.taken)
	p.mu.Lock()
	if event {
		p.stats.Unplugs++
	}
	var settled []sentFrame
	for i := range p.recent {
		f := &p.recent[i]
		if !f.intact || f.settled {
			continue
		}
		if f.end > cutAt && p.delivered.remove(f.id) {
			p.stats.Delivered--
			p.stats.Unplugged++
			f.intact = false // now lost
		}
		settled = append(settled, *f)
	}
	p.mu.Unlock()
	for _, f := range settled {
		fate := FateDelivered
		if !f.intact {
			fate = FateUnplugged
		}
		p.settle(f.index, PortFate{Fate: fate, Written: f.written})
	}
	p.recent = p.recent[:0]
	switch {
	case !event && lostBytes > 0:
		p.logf("stopped; %d bytes were not taken by a reader", lostBytes)
	case !event:
	case lostBytes > 0:
		p.logf("unplugged; %d bytes were not taken by a reader", lostBytes)
	default:
		p.logf("unplugged")
	}
}
