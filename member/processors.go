package member

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/feedd/feedd/internal/tickgrid"
)

// A member's processor count (GOMAXPROCS) follows its load when
// Options.FollowLoad is set. A quiet member runs its Go code on one
// processor: with more, each of the many wake-ups a second of a member (a
// port read, a heartbeat, a fetch that returns) also wakes a second thread
// to look for work, which costs about a fifth of the CPU under a feed of
// 1 k frames/s (docs/benchmarks.md). One processor also slows a backlog
// flush by two thirds, so an activation, and a member using half a core or
// more, get the runtime's default back at once; the count drops to one
// again only after loadQuietFor below loadQuiet.
const (
	// loadSampleEvery is how often the member's CPU use is sampled.
	loadSampleEvery = 250 * time.Millisecond
	// loadBusy is the share of one core, over one sample, from which the
	// member is busy: it gets the runtime's default processor count.
	loadBusy = 0.5
	// loadQuiet is the share of one core below which a member on the
	// default count is quiet; below loadBusy and above it, the count in
	// force stays, so that the lower cost of one processor cannot make a
	// member flap between the two.
	loadQuiet = 0.35
	// loadQuietFor is how long a member must have been quiet, since it was
	// last busy or began to activate, before it drops to one processor.
	loadQuietFor = 2 * time.Second
)

// loadFollower decides the processor count from samples of the process's
// CPU time. It does no I/O and never reads the clock: processors feeds it.
type loadFollower struct {
	busy   float64       // loadBusy
	quiet  float64       // loadQuiet
	all    int           // the runtime's default count: while busy
	procs  int           // the count decided
	at     time.Time     // the last sample's time (zero: none yet)
	cpu    time.Duration // the process's CPU time at the last sample
	busyAt time.Time     // when the member was last busy or boosted
}

// newLoadFollower starts on the runtime's default count, as busy at now:
// a member starting up connects and catches up first.
func newLoadFollower(all int, now time.Time) *loadFollower {
	return &loadFollower{busy: loadBusy, quiet: loadQuiet, all: all, procs: all, busyAt: now}
}

// sample takes the process's CPU time at now and returns the count.
func (f *loadFollower) sample(now time.Time, cpu time.Duration) int {
	if !f.at.IsZero() && now.After(f.at) {
		share := float64(cpu-f.cpu) / float64(now.Sub(f.at))
		switch {
		case share >= f.busy:
			f.procs, f.busyAt = f.all, now
		case share >= f.quiet && f.procs == f.all:
			f.busyAt = now
		case f.procs == f.all && now.Sub(f.busyAt) >= loadQuietFor:
			f.procs = 1
		}
	}
	f.at, f.cpu = now, cpu
	return f.procs
}

// boost returns the runtime's default count at once: an activation is
// starting (its flush must not wait for a sample), and it counts as busy.
func (f *loadFollower) boost(now time.Time) int {
	f.procs, f.busyAt = f.all, now
	return f.procs
}

// setAll records the runtime's default count, which may change while the
// process runs (a container's CPU limit).
func (f *loadFollower) setAll(n int) {
	if f.procs == f.all {
		f.procs = n
	}
	f.all = n
}

// processors applies the load follower's decisions to the runtime. Its
// methods are the only code of the process that sets the processor count.
type processors struct {
	log *slog.Logger

	mu      sync.Mutex
	f       *loadFollower
	applied int // the count last set
}

// newProcessors returns nil (nothing followed) unless followLoad.
func newProcessors(followLoad bool, log *slog.Logger) *processors {
	if !followLoad {
		return nil
	}
	all := runtime.GOMAXPROCS(0)
	return &processors{log: log, f: newLoadFollower(all, time.Now()), applied: all}
}

// run samples the process's CPU use until ctx ends, then restores the
// runtime's default.
func (p *processors) run(ctx context.Context) {
	defer runtime.SetDefaultGOMAXPROCS()
	tick := time.NewTimer(tickgrid.Until(time.Now(), loadSampleEvery))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			tick.Reset(tickgrid.Until(time.Now(), loadSampleEvery))
			p.mu.Lock()
			p.apply(p.f.sample(now, processCPU()))
			p.mu.Unlock()
		}
	}
}

// boost sets the runtime's default count before it returns: the caller
// is about to activate, and the fence and the flush must not wait for a
// sample, nor for another goroutine to be scheduled on the one processor.
// Nil-safe: without FollowLoad it does nothing.
func (p *processors) boost() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.apply(p.f.boost(time.Now()))
}

// apply sets the count n, if it is not the one in force. Called with mu
// held.
func (p *processors) apply(n int) {
	if n == p.applied {
		return
	}
	if n == p.f.all {
		// The default, not a fixed count: the runtime then follows the
		// CPU limit again.
		runtime.SetDefaultGOMAXPROCS()
		p.f.setAll(runtime.GOMAXPROCS(0))
		n = p.f.all
	} else {
		runtime.GOMAXPROCS(n)
	}
	p.log.Debug("processors follow the load", "gomaxprocs", n, "was", p.applied)
	p.applied = n
}

// processorsNote says how many processors the member runs its Go code on,
// for its start-up log line.
func (m *Member) processorsNote() string {
	n := runtime.GOMAXPROCS(0)
	if m.procs == nil || n < 2 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("1 to %d, following the load", n)
}

// processCPU is the CPU time the process has used, user and system, in
// all its threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
