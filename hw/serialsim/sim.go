package serialsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/feedd/feedd/ingest/hostclock"
)

// Sim is a running serial feed simulator. Create it with New, then Start
// it; always Close it.
type Sim struct {
	cfg   Config
	ports []*port

	mu        sync.Mutex
	started   bool
	closed    bool
	errs      []error
	cancel    context.CancelFunc
	linkDir   string
	tempDir   bool
	lock      *os.File
	replay    *os.File
	feed      feed      // the source goroutine's
	rec       *recorder // nil unless Config.Record
	epoch     time.Time
	epochMono int64 // epoch on hostclock's monotonic clock, for the record
	closeErr  error

	socatPath string
	generated atomic.Uint64

	// pauseMu orders pauses against the source's dispatch of a frame: a
	// pause of several ports takes effect on all of them between two
	// frames, never in the middle of one frame's dispatch.
	pauseMu sync.Mutex
	// pausedNow is the source's scratch: which ports pause its frame.
	pausedNow []bool

	// running counts the goroutines Start started (source, scheduler,
	// ports); the last to exit closes done. feeding counts the source and
	// the ports still feeding; the last to finish closes finished.
	running  atomic.Int32
	done     chan struct{}
	feeding  atomic.Int32
	finished chan struct{}
}

// New validates cfg and returns an unstarted Sim. Validation errors are
// *ConfigError and name the field.
func New(cfg Config) (*Sim, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Sim{cfg: c, done: make(chan struct{}), finished: make(chan struct{})}, nil
}

// Config returns the configuration with defaults applied.
func (s *Sim) Config() Config { return s.cfg }

func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *Sim) addErr(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// Start creates the link directory, starts one socat per port, waits until
// every link exists and opens (polling, bounded by StartTimeout), and starts
// the feed. The Sim stops when ctx is cancelled or Close is called. If socat
// is not in PATH the error wraps ErrSocatNotFound.
func (s *Sim) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("serialsim: Start after Close")
	}
	if s.started {
		return errors.New("serialsim: Start called twice")
	}
	s.socatPath, err = exec.LookPath(s.cfg.Socat)
	if err != nil {
		return fmt.Errorf("serialsim: %w (%v)", ErrSocatNotFound, err)
	}
	if err := s.openLinkDir(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.releaseLinkDir()
		}
	}()
	if s.cfg.Replay != "" {
		if s.replay, err = os.Open(s.cfg.Replay); err != nil {
			return fmt.Errorf("serialsim: Replay: %w", err)
		}
		defer func() {
			if err != nil {
				_ = s.replay.Close()
			}
		}()
		s.feed = newReplayFeed(s.replay, s.cfg.ReplayLoop, s.logf)
	} else {
		kind, arg, err := lookupFeed(s.cfg.Feed)
		if err != nil {
			return err // validated by New
		}
		s.feed = kind.new(s.cfg, arg)
	}

	s.ports = make([]*port, s.cfg.Ports)
	for i := range s.ports {
		s.ports[i] = newPort(s, i, s.linkDir)
	}
	for i, p := range s.ports {
		if err := p.plugIn(ctx); err != nil {
			for _, q := range s.ports[:i] {
				_ = q.unplugPTY()
			}
			return err
		}
	}
	for _, f := range s.cfg.Faults {
		if f.At == 0 {
			s.applyRate(f) // in force from the first frame
		}
	}

	s.epoch, s.epochMono = time.Now(), hostclock.Now()
	if s.cfg.Record != "" {
		if s.rec, err = newRecorder(s.cfg.Record, s.recordHeader()); err != nil {
			for _, p := range s.ports {
				_ = p.unplugPTY()
			}
			return err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.started = true
	s.feeding.Store(int32(len(s.ports) + 1))
	s.running.Store(int32(len(s.ports) + 2))
	for _, p := range s.ports {
		go func() {
			defer s.exit()
			p.run(runCtx)
		}()
	}
	go func() {
		defer s.exit()
		s.runSchedule(runCtx)
	}()
	go func() {
		defer s.exit()
		s.runSource(runCtx)
	}()
	return nil
}

// exit is deferred by each goroutine Start started; the last closes done.
func (s *Sim) exit() {
	if s.running.Add(-1) == 0 {
		close(s.done)
	}
}

// feedDone is called once by the source when it ends and once by each port
// when it has handled everything queued; the last closes finished.
func (s *Sim) feedDone() {
	if s.feeding.Add(-1) == 0 {
		close(s.finished)
	}
}

func (s *Sim) openLinkDir() error {
	if s.cfg.LinkDir == "" {
		d, err := os.MkdirTemp("", "feedd-sim-")
		if err != nil {
			return fmt.Errorf("serialsim: LinkDir: %w", err)
		}
		s.linkDir, s.tempDir = d, true
	} else {
		d, err := filepath.Abs(s.cfg.LinkDir)
		if err != nil {
			return fmt.Errorf("serialsim: LinkDir: %w", err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("serialsim: LinkDir: %w", err)
		}
		s.linkDir = d
	}
	if strings.ContainsAny(s.linkDir, socatReserved) || strings.ContainsFunc(s.linkDir, isSpace) {
		if s.tempDir {
			_ = os.RemoveAll(s.linkDir)
		}
		return cfgErr("LinkDir", "%q contains a character socat's address syntax reserves (%s or white space)", s.linkDir, socatReserved)
	}
	// One simulator per directory: the lock makes it safe to remove links
	// a killed predecessor left behind.
	lock, err := os.OpenFile(filepath.Join(s.linkDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil {
			_ = lock.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				err = errors.New("another simulator is using it")
			}
		}
	}
	if err != nil {
		if s.tempDir {
			_ = os.RemoveAll(s.linkDir)
		}
		return fmt.Errorf("serialsim: LinkDir %s: %w", s.linkDir, err)
	}
	s.lock = lock
	return nil
}

func (s *Sim) releaseLinkDir() {
	if s.lock != nil {
		_ = s.lock.Close()
		s.lock = nil
	}
	if s.tempDir {
		_ = os.RemoveAll(s.linkDir)
	}
}

// Close stops the feed and the writers, stops every socat the Sim started
// (SIGTERM, then SIGKILL to its process group) and waits for all of them.
// It returns the errors met while stopping. Close may be called more than
// once and before Start.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return s.closeErr
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		close(s.done)
		return nil
	}
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec != nil {
		if err := s.rec.close(); err != nil {
			s.errs = append(s.errs, err)
		}
	}
	if s.replay != nil {
		_ = s.replay.Close()
	}
	s.releaseLinkDir()
	s.closeErr = errors.Join(s.errs...)
	return s.closeErr
}

// recordHeader describes the line and the feed for Config.Record.
func (s *Sim) recordHeader() RecordHeader {
	feed := s.cfg.Feed
	if s.cfg.Replay != "" {
		feed = FeedReplay
	}
	return RecordHeader{
		Ports: s.cfg.Ports, Baud: s.cfg.Baud, DataBits: s.cfg.DataBits, Parity: s.cfg.Parity.String(),
		StopBits: s.cfg.StopBits, Feed: feed, Seed: s.cfg.Seed, Started: s.epoch,
		Clock: hostclock.ID(), StartedMono: s.epochMono,
	}
}

// Done is closed when the Sim has stopped (ctx cancelled or Close) and
// every socat it started has exited.
func (s *Sim) Done() <-chan struct{} { return s.done }

// Finished is closed when the feed has ended (Count frames, or the end of a
// non-looping Replay) and every port has written or accounted every frame.
func (s *Sim) Finished() <-chan struct{} { return s.finished }

// Ports returns the member-side paths, one per port, in port order. Members
// open these as serial ports. Valid after Start.
func (s *Sim) Ports() []string {
	out := make([]string, len(s.ports))
	for i, p := range s.ports {
		out[i] = p.member
	}
	return out
}

// LinkDir returns the directory holding the links. Valid after Start.
func (s *Sim) LinkDir() string { return s.linkDir }

// Generated returns how many frames the source has produced; their ids run
// from Config().StartSeq to StartSeq+Generated()-1.
func (s *Sim) Generated() uint64 { return s.generated.Load() }

func (s *Sim) port(i int) (*port, error) {
	if !s.isStarted() {
		return nil, errors.New("serialsim: Sim not started")
	}
	if i < 0 || i >= len(s.ports) {
		return nil, fmt.Errorf("serialsim: port %d out of range (Ports is %d)", i, len(s.ports))
	}
	return s.ports[i], nil
}

func (s *Sim) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// selectPorts returns port i, or every port for AllPorts.
func (s *Sim) selectPorts(i int) ([]*port, error) {
	if i == AllPorts {
		if !s.isStarted() {
			return nil, errors.New("serialsim: Sim not started")
		}
		return s.ports, nil
	}
	p, err := s.port(i)
	if err != nil {
		return nil, err
	}
	return []*port{p}, nil
}

// Stats returns a snapshot of port i's counters.
func (s *Sim) Stats(i int) (Stats, error) {
	p, err := s.port(i)
	if err != nil {
		return Stats{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats, nil
}

// Delivered returns, in increasing order, the ids (sequence numbers) of the
// frames port i delivered intact: written completely, not dropped, not
// corrupted, not lost to a pause, an unplug or an overflow. A reader that
// kept reading the port has received exactly these (plus the corrupted
// frames, which fail their checksum). Frames a reader discards itself, for
// example by flushing the port's input on open, are still counted here.
func (s *Sim) Delivered(i int) ([]uint64, error) {
	p, err := s.port(i)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delivered.ids(), nil
}

// LateWrites returns, by id, how long after its due time port i was
// written each frame it counted Late (Stats.Late): more than
// Config.MaxWriteDelay, the simulator having been held up. A member's
// port latency bound does not hold for those frames.
func (s *Sim) LateWrites(i int) (map[uint64]time.Duration, error) {
	p, err := s.port(i)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.late), nil
}

// SetCorrupt makes a fraction (0 to 1) of the frames sent to port i (or to
// every port, with AllPorts) corrupted from now on; 0 stops corrupting.
func (s *Sim) SetCorrupt(i int, fraction float64) error {
	return s.setRate(i, fraction, func(p *port) *atomic.Uint64 { return &p.corruptRate })
}

// SetDrop makes a fraction (0 to 1) of the frames meant for port i (or for
// every port, with AllPorts) dropped from now on; 0 stops dropping.
func (s *Sim) SetDrop(i int, fraction float64) error {
	return s.setRate(i, fraction, func(p *port) *atomic.Uint64 { return &p.dropRate })
}

// SetReceiverBaud makes port i (or every port, with AllPorts) deliver, from
// now on, what a receiver set to baud would read from the line (see the baud
// fault); 0 or the line's own baud rate ends it.
func (s *Sim) SetReceiverBaud(i int, baud int) error {
	if baud < 0 || baud > MaxBaud {
		return fmt.Errorf("serialsim: baud must be between 0 and %d, got %d", MaxBaud, baud)
	}
	ps, err := s.selectPorts(i)
	if err != nil {
		return err
	}
	for _, p := range ps {
		p.rxBaud.Store(int64(baud))
	}
	return nil
}

func (s *Sim) setRate(i int, fraction float64, field func(*port) *atomic.Uint64) error {
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return fmt.Errorf("serialsim: fraction must be between 0 and 1, got %v", fraction)
	}
	ps, err := s.selectPorts(i)
	if err != nil {
		return err
	}
	for _, p := range ps {
		field(p).Store(math.Float64bits(fraction))
	}
	return nil
}

// Pause makes port i (or every port, with AllPorts) silent for d from now:
// frames due in that window are not delivered to it. Overlapping pauses
// extend each other.
func (s *Sim) Pause(i int, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("serialsim: pause duration must be positive, got %v", d)
	}
	return s.changePause(i, func(old *pauseWindow, now int64) *pauseWindow {
		w := &pauseWindow{from: now, until: now + int64(d)}
		if old != nil && old.until >= now { // overlapping: extend
			w.from, w.until = min(old.from, w.from), max(old.until, w.until)
		}
		return w
	})
}

// Resume ends port i's pause (or every port's, with AllPorts) now: frames
// due from now on are delivered again.
func (s *Sim) Resume(i int) error {
	return s.changePause(i, func(old *pauseWindow, now int64) *pauseWindow {
		if old == nil || old.until <= now {
			return old
		}
		return &pauseWindow{from: old.from, until: now}
	})
}

// changePause replaces the pause window of port i (or of every port, with
// AllPorts) by change's, given the old window and the time now. It holds
// pauseMu throughout, so that the source dispatches each frame before or
// after the change of every port, and so that no other change comes
// between a port's load and its store.
func (s *Sim) changePause(i int, change func(old *pauseWindow, now int64) *pauseWindow) error {
	ps, err := s.selectPorts(i)
	if err != nil {
		return err
	}
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	now := int64(time.Since(s.epoch))
	for _, p := range ps {
		p.pause.Store(change(p.pause.Load(), now))
	}
	return nil
}

// Unplug pulls port i's cable: it stops writing to the port, lets the
// port's reader take what is already in flight (bounded by DrainTimeout),
// then stops the port's socat, so the pty closes and the member-side link
// disappears; a reader sees EOF. It returns once the port is unplugged.
// After d it starts socat again at the same path (readers must reopen it);
// with d <= 0 the port stays unplugged until Replug. With AllPorts it
// unplugs every port.
func (s *Sim) Unplug(i int, d time.Duration) error {
	return s.control(i, command{kind: ctlUnplug, d: d})
}

// Replug plugs an unplugged port back in now and returns once socat's links
// are ready again and frames flow.
func (s *Sim) Replug(i int) error {
	return s.control(i, command{kind: ctlReplug})
}

func (s *Sim) control(i int, c command) error {
	ps, err := s.selectPorts(i)
	if err != nil {
		return err
	}
	var errs []error
	replies := make([]chan error, len(ps))
	for k, p := range ps {
		c.reply = make(chan error, 1)
		replies[k] = c.reply
		select {
		case p.ctl <- c:
		case <-p.exited:
			return errors.New("serialsim: Sim stopped")
		}
	}
	for k, p := range ps {
		select {
		case err := <-replies[k]:
			if err != nil {
				errs = append(errs, err)
			}
		case <-p.exited:
			return errors.New("serialsim: Sim stopped")
		}
	}
	return errors.Join(errs...)
}

// sendControl hands a command to port i (or every port) without waiting
// for the result; the scheduler uses it so one port's drain does not delay
// another port's fault.
func (s *Sim) sendControl(ctx context.Context, i int, c command) {
	ps := s.ports
	if i != AllPorts {
		ps = s.ports[i : i+1]
	}
	for _, p := range ps {
		select {
		case p.ctl <- c:
		case <-p.exited:
		case <-ctx.Done():
		}
	}
}
