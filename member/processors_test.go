package member

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadFollower: the count drops to one only after loadQuietFor of
// samples below loadQuiet, comes back with one sample at loadBusy or with
// a boost, and stays where it is between the two shares.
func TestLoadFollower(t *testing.T) {
	start := time.Unix(1000, 0)
	f := newLoadFollower(4, start)
	now, cpu := start, time.Duration(0)
	// step advances the clock by one sample at the given share of a core.
	step := func(share float64) int {
		now = now.Add(loadSampleEvery)
		cpu += time.Duration(share * float64(loadSampleEvery))
		return f.sample(now, cpu)
	}
	want := func(what string, got, n int) {
		t.Helper()
		if got != n {
			t.Fatalf("%s: %d processors, want %d", what, got, n)
		}
	}
	want("first sample", f.sample(now, cpu), 4)
	for now.Sub(start) < loadQuietFor-loadSampleEvery {
		want("quiet, not yet for loadQuietFor", step(0.05), 4)
	}
	want("quiet for loadQuietFor", step(0.05), 1)
	want("between the shares on one", step(0.45), 1)
	want("busy", step(0.6), 4)
	busy := now
	for now.Sub(busy) < loadQuietFor-loadSampleEvery {
		want("between the shares, then quiet: not yet", step(0.1), 4)
	}
	want("between the shares on the default keeps it busy", step(0.4), 4)
	busy = now
	for now.Sub(busy) < loadQuietFor-loadSampleEvery {
		want("quiet after a busy sample, not yet", step(0), 4)
	}
	want("quiet again", step(0), 1)
	want("boost", f.boost(now), 4)
	booted := now
	for now.Sub(booted) < loadQuietFor-loadSampleEvery {
		want("quiet after a boost, not yet", step(0), 4)
	}
	want("quiet after a boost", step(0), 1)

	// The runtime's default changes (a container's CPU limit): the new one
	// is what busy means, and it takes effect at once on the default.
	f.setAll(2)
	want("busy after the default changed", step(1), 2)
	f.setAll(3)
	want("on the default when it changed", f.procs, 3)
}

// TestFollowLoadSetsTheRuntime: processors sets the process's real
// processor count: one once the process is quiet, the default while a
// goroutine keeps a core busy, at once on a boost, and the default again
// when it stops.
func TestFollowLoadSetsTheRuntime(t *testing.T) {
	all := runtime.GOMAXPROCS(0)
	if all < 2 {
		t.Skipf("the runtime's default is %d processor here: there is no count to follow the load with", all)
	}
	p := newProcessors(true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Shares a spinning goroutine reaches, and an idle test process stays
	// under, even on a machine whose other work leaves this process a
	// fraction of a core.
	p.f.busy, p.f.quiet = 0.15, 0.08
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	waitFor := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(4 * loadQuietFor)
		for runtime.GOMAXPROCS(0) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS stays %d, want %d", what, runtime.GOMAXPROCS(0), n)
			}
			time.Sleep(loadSampleEvery / 5)
		}
	}
	waitFor("quiet", 1)

	var stop atomic.Bool
	var spin sync.WaitGroup
	spin.Go(func() {
		for !stop.Load() {
		}
	})
	waitFor("a goroutine using a whole core", all)
	stop.Store(true)
	spin.Wait()
	waitFor("quiet again", 1)

	p.boost()
	if got := runtime.GOMAXPROCS(0); got != all {
		t.Fatalf("boost returned with GOMAXPROCS %d, want %d", got, all)
	}
	waitFor("quiet after the boost", 1)

	cancel()
	wg.Wait()
	var none *processors
	none.boost() // a member that does not follow the load
	if got := runtime.GOMAXPROCS(0); got != all {
		t.Fatalf("after run returned, GOMAXPROCS is %d, want the default %d", got, all)
	}
}
