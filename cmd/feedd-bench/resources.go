package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/feedd/feedd/member"
)

// memoryRun is the resident memory of one inactive member holding Depth
// frames, and of the same process before it read any.
type memoryRun struct {
	Depth           int
	Idle, Holding   int64 // VmRSS, bytes
	RingBytes       int64 // payload bytes in the ring
	RingLen         int
	FramesPerSecond float64 // how fast it read them
}

func (run memoryRun) String() string {
	return fmt.Sprintf("RSS %.1f MiB (idle %.1f MiB), ring %d frames, %.1f MiB payload",
		float64(run.Holding)/(1<<20), float64(run.Idle)/(1<<20), run.RingLen, float64(run.RingBytes)/(1<<20))
}

func (r *runner) benchMemory(ctx context.Context) error {
	runs, err := measureEach("memory", "%d frames", r.o.memoryDepths, r.o.memoryReps,
		func(depth int) (memoryRun, error) { return r.memoryOnce(ctx, depth) })
	r.res.Memory = append(r.res.Memory, runs...)
	return err
}

// measureEach measures each setting reps times, in order, and logs every
// run as "<what> <setting> <run>/<reps>: <the run's figures>", the setting
// written with format. It stops at the first failure.
func measureEach[S any, R fmt.Stringer](what, format string, settings []S, reps int, once func(S) (R, error)) ([]R, error) {
	var runs []R
	for _, s := range settings {
		setting := fmt.Sprintf(format, s)
		for rep := range reps {
			run, err := once(s)
			if err != nil {
				return runs, fmt.Errorf("%s, run %d: %w", setting, rep+1, err)
			}
			log.Printf("%s %s %d/%d: %v", what, setting, rep+1, reps, run)
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// memoryOnce starts `feedd run --role inactive` on a fresh topic nobody
// writes to (so nothing ever trims its ring), writes depth frames into its
// port and reads its resident memory once its ring holds them all.
func (r *runner) memoryOnce(ctx context.Context, depth int) (memoryRun, error) {
	run := memoryRun{Depth: depth}
	topic, err := r.broker.freshTopic(ctx, "mem")
	if err != nil {
		return run, err
	}
	p, err := openPTY()
	if err != nil {
		return run, err
	}
	defer p.Close()
	m, err := newMember(r.bin, r.dir, memberSpec{ID: "a", Port: p, Brokers: r.broker.Addr, Topic: topic, ProfileDir: r.o.profile, Role: "inactive"})
	if err == nil {
		err = m.start()
	}
	if err != nil {
		return run, err
	}
	defer m.stop()
	if _, err := m.waitStatus(ctx, "the member's port open", func(st *member.Status) bool { return st.Ingest.Connected }); err != nil {
		return run, err
	}
	time.Sleep(time.Second) // past start-up
	idle, err := readProcStats(m.pid())
	if err != nil {
		return run, err
	}
	run.Idle = idle.RSS
	start := time.Now()
	written := make(chan error, 1)
	go func() {
		_, err := burst([]sink{p}, 1, depth)
		written <- err
	}()
	st, err := pollStatus(ctx, fmt.Sprintf("%d frames in the ring", depth), 20*time.Millisecond, []*benchMember{m}, func(sts []*member.Status) bool {
		return sts[0].Broadcast.Ring.Len >= depth
	})
	if werr := <-written; werr != nil {
		return run, werr
	}
	if err != nil {
		return run, err
	}
	run.FramesPerSecond = float64(depth) / time.Since(start).Seconds()
	run.RingLen, run.RingBytes = st.Broadcast.Ring.Len, st.Broadcast.Ring.Bytes
	held, err := readProcStats(m.pid())
	if err != nil {
		return run, err
	}
	run.Holding = held.RSS
	return run, nil
}

// cpuRun is the CPU time each process spent per second of a steady feed,
// or of no feed at all (Rate cpuIdle, with no kcat).
type cpuRun struct {
	Rate                   float64
	Active, Inactive, Kcat float64 // CPU seconds per second of feed
	// FloorProducer and FloorConsumer are franz-go alone doing the least a
	// member must (floor.go); zero in results saved before they were
	// measured.
	FloorProducer, FloorConsumer float64 `json:",omitempty"`
	// FloorActive and FloorInactive are, for the idle pair, two processes
	// doing only what an idle pair must (idlefloor.go).
	FloorActive, FloorInactive float64 `json:",omitempty"`
}

// cpuIdle, as a rate of the CPU benchmark, measures the pair with no
// frames at all.
const cpuIdle = 0

func (run cpuRun) String() string {
	if run.Rate == cpuIdle {
		return fmt.Sprintf("idle: active %.2f%%, inactive %.2f%% of a core; the idle floor's active %.2f%%, inactive %.2f%%",
			100*run.Active, 100*run.Inactive, 100*run.FloorActive, 100*run.FloorInactive)
	}
	return fmt.Sprintf("active %.1f%%, inactive %.1f%%, kcat %.1f%%, franz-go producer %.1f%% and consumer %.1f%% of a core",
		100*run.Active, 100*run.Inactive, 100*run.Kcat, 100*run.FloorProducer, 100*run.FloorConsumer)
}

func (r *runner) benchCPU(ctx context.Context) error {
	runs, err := measureEach("cpu", "%.0f frames/s", r.o.cpuRates, r.o.cpuReps,
		func(rate float64) (cpuRun, error) { return r.cpuOnce(ctx, rate) })
	r.res.CPU = append(r.res.CPU, runs...)
	return err
}

// cpuOnce feeds a settled pair at rate for the configured time and reads
// each member's CPU time before and after; then kcat -P is fed the same
// frames at the same rate through its standard input, and so are
// franz-go's producer and consumer alone (floorCPU). At cpuIdle the pair is
// measured with its feed stopped, and the peers not at all.
func (r *runner) cpuOnce(ctx context.Context, rate float64) (cpuRun, error) {
	run := cpuRun{Rate: rate}
	pp, err := r.startPair(ctx, "cpu", 0)
	if err != nil {
		return run, err
	}
	defer pp.close()
	pp.startFeed(failoverFeedRate)
	active, inactive, err := pp.settled(ctx)
	if err == nil {
		err = pp.stopFeed()
	}
	if err != nil {
		return run, err
	}
	// Members past their first seconds, which they run on every
	// processor, as members have long been when users look at their CPU.
	time.Sleep(memberSettle - min(active.uptime(), inactive.uptime()))
	if rate != cpuIdle {
		pp.startFeed(rate)
	}
	cpu, err := cpuPerSecond(r.o.cpuDuration, active.pid(), inactive.pid())
	if err := pp.stopFeed(); err != nil {
		return run, err
	}
	if err != nil {
		return run, err
	}
	if st, err := active.status(ctx); err != nil || st.Role != "active" {
		return run, fmt.Errorf("%s is no longer active after the measurement (%v): the figures would mix roles", active.spec.ID, err)
	}
	run.Active, run.Inactive = cpu[0], cpu[1]
	if rate == cpuIdle {
		run.FloorActive, run.FloorInactive, err = r.idleFloorCPU(ctx)
		return run, err
	}
	if run.Kcat, err = r.kcatCPU(ctx, rate); err != nil {
		return run, err
	}
	if run.FloorProducer, run.FloorConsumer, err = r.floorCPU(ctx, rate); err != nil {
		return run, err
	}
	return run, nil
}

// kcatCPU runs kcat -P reading its standard input, fed at rate, and
// returns its CPU seconds per second over the same measurement time.
func (r *runner) kcatCPU(ctx context.Context, rate float64) (float64, error) {
	topic, err := r.broker.freshTopic(ctx, "kcatcpu")
	if err != nil {
		return 0, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, "kcat", kcatProduceArgs(r.broker.Addr, topic, "", false)...)
	cmd.Stdin = pr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, err
	}
	pr.Close()
	defer func() {
		pw.Close()
		_ = cmd.Wait()
	}()
	n := int(rate * (r.o.cpuDuration + 2*time.Second).Seconds())
	fed := make(chan error, 1)
	go func() {
		_, err := pace(ctx, []sink{pipeSink{pw}}, 1, n, rate, nil)
		fed <- err
	}()
	cpu, err := cpuPerSecond(r.o.cpuDuration, cmd.Process.Pid)
	if err := <-fed; err != nil {
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	return cpu[0], nil
}

// cpuPerSecond waits a second for the processes to reach their steady
// state, then returns each one's CPU seconds per second over d. The
// processes are read together, so that their figures cover the same time.
func cpuPerSecond(d time.Duration, pids ...int) ([]float64, error) {
	time.Sleep(time.Second)
	before, err1 := readProcsStats(pids)
	start := time.Now()
	time.Sleep(d)
	after, err2 := readProcsStats(pids)
	elapsed := time.Since(start).Seconds()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	out := make([]float64, len(pids))
	for i := range pids {
		out[i] = (after[i].CPU - before[i].CPU).Seconds() / elapsed
	}
	return out, nil
}

// readProcsStats reads each process's statistics, in order.
func readProcsStats(pids []int) ([]procStats, error) {
	out := make([]procStats, len(pids))
	for i, pid := range pids {
		ps, err := readProcStats(pid)
		if err != nil {
			return nil, err
		}
		out[i] = ps
	}
	return out, nil
}
