package main

import (
	"fmt"
	"time"
)

// target is one of the targets and whether this run met it.
type target struct {
	what, figure string
	met          bool
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// The targets for latency and failover, which the report checks and the
// figures draw: at the defaults, a frame's latency with transactions near
// the idempotent producer's, and a failover in milliseconds.
const (
	latencyP50Target     = 5 * time.Millisecond  // up to 1 k frames/s
	latencyP99Target     = 15 * time.Millisecond // up to 1 k frames/s
	latencyFastP99Target = 20 * time.Millisecond // above
	crashP50Target       = 15 * time.Millisecond
	crashP99Target       = 50 * time.Millisecond
	hangP99Target        = pairActivation + 50*time.Millisecond
)

// The targets of activation, memory and CPU, each judged at one setting of
// its section, and only when the run measured that setting.
const (
	// The whole backlog readable by a consumer, from the SIGKILL of the
	// active: what a reader waits, detection included, as the failover
	// targets are measured.
	activationTargetDepth = 100_000
	activationTarget      = 300 * time.Millisecond
	// An inactive member's resident memory, less what it uses idle, per
	// byte of the frames its ring holds.
	memoryTargetDepth   = 1_000_000
	memoryPayloadTarget = 1.3
	// Each member's CPU over kcat -P's at the same rate, in the same run.
	cpuTargetRate         = 1000
	cpuActiveKcatTarget   = 2.0
	cpuInactiveKcatTarget = 1.5
	// Each member of a pair with no frames at all, in percent of a core.
	idleCPUTarget = 1.0
)

// latencyTarget is the latency target at rate: the bound on the median
// run's p50 (0: none) and on its p99.
func latencyTarget(rate float64) (p50, p99 time.Duration) {
	if rate > 1000 {
		return 0, latencyFastP99Target
	}
	return latencyP50Target, latencyP99Target
}

func (res *results) targets() []target {
	var ts []target
	if t := res.Throughput; t != nil {
		r := summarize(t.Ratios)
		got := "median ratio " + r.format(fmtRatio)
		if len(t.FranzGo) > 0 {
			got += "; franz-go alone with feedd's header, in transactions: " + summarize(perRunRatios(t.FranzGo, t.Kcat)).format(fmtRatio)
		}
		ts = append(ts, target{"throughput: feedd at least 1.0× kcat (transactions on, default commit interval)", got, r.Median >= 1})
	}
	for _, l := range res.Latency {
		p50Bound, p99Bound := latencyTarget(l.Rate)
		p50, p99 := l.perRun(p50Of), l.perRun(p99Of)
		if p50Bound == 0 {
			ts = append(ts, target{fmt.Sprintf("latency at %s frames/s: p99 at most %s", fmtRate(l.Rate), fmtMS(ms(p99Bound))),
				"p99 " + p99.format(fmtMS), p99.Median <= ms(p99Bound)})
			continue
		}
		ts = append(ts, target{fmt.Sprintf("latency at %s frames/s: p50 at most %s, p99 at most %s", fmtRate(l.Rate), fmtMS(ms(p50Bound)), fmtMS(ms(p99Bound))),
			"p50 " + p50.format(fmtMS) + ", p99 " + p99.format(fmtMS), p50.Median <= ms(p50Bound) && p99.Median <= ms(p99Bound)})
	}
	for _, e := range res.EOS {
		if e.Interval == 50*time.Millisecond {
			r := summarize(e.Ratios)
			ts = append(ts, target{"exactly-once at 50 ms: at most 5% throughput cost against the idempotent producer",
				fmt.Sprintf("cost %s (ratio %s)", fmtPct(100*(1-r.Median)), r.format(fixed(3))), r.Median >= 0.95})
		}
	}
	if f := res.Failover["crash"]; f != nil {
		s := sortedDur(f.Commit)
		p50, p99 := percentile(s, 50), percentile(s, 99)
		ts = append(ts, target{"crash failover: p50 < 15 ms, p99 < 50 ms",
			fmt.Sprintf("p50 %s, p99 %s", fmtMS(ms(p50)), fmtMS(ms(p99))), p50 < crashP50Target && p99 < crashP99Target})
	}
	if f := res.Failover["hang"]; f != nil {
		s := sortedDur(f.Commit)
		p99 := percentile(s, 99)
		ts = append(ts, target{"hang failover: p99 < the activation interval + 50 ms (550 ms)",
			"p99 " + fmtMS(ms(p99)), p99 < hangP99Target})
	}
	if _, visible, _ := res.activationAt(activationTargetDepth); len(visible) > 0 {
		v := summarize(visible)
		ts = append(ts, target{fmt.Sprintf("activation with a %s-frame backlog: the whole backlog readable under %s after the SIGKILL of the active",
			fmtNum(activationTargetDepth), fmtMS(ms(activationTarget))),
			"median " + v.format(fmtMS), v.Median < ms(activationTarget)})
	}
	if _, _, _, ratio := res.memoryAt(memoryTargetDepth); len(ratio) > 0 {
		r := summarize(ratio)
		ts = append(ts, target{fmt.Sprintf("memory: an inactive member holding %s frames of %d bytes at most %g× the payload, resident",
			fmtNum(memoryTargetDepth), FrameSize, memoryPayloadTarget),
			"median (resident − idle) / payload " + r.format(fmtRatio), r.Median <= memoryPayloadTarget})
	}
	if active, inactive, kcat := res.cpuAt(cpuTargetRate); len(kcat) > 0 {
		prod, cons, floorKcat := res.cpuFloorAt(cpuTargetRate)
		for _, m := range []struct {
			role  string
			cpu   []float64
			bound float64
			floor []float64
			what  string
		}{{"active", active, cpuActiveKcatTarget, prod, "a franz-go transactional producer alone"},
			{"inactive", inactive, cpuInactiveKcatTarget, cons, "a franz-go read_committed consumer alone"}} {
			r := summarize(perRunRatios(m.cpu, kcat))
			got := "median ratio " + r.format(fmtRatio)
			if len(m.floor) > 0 {
				got += fmt.Sprintf("; %s: %s", m.what, summarize(perRunRatios(m.floor, floorKcat)).format(fmtRatio))
			}
			ts = append(ts, target{fmt.Sprintf("CPU at %s frames/s: %s at most %g× kcat's", fmtRate(cpuTargetRate), m.role, m.bound),
				got, r.Median <= m.bound})
		}
	}
	if active, inactive, _ := res.cpuAt(cpuIdle); len(active) > 0 {
		a, i := summarize(active), summarize(inactive)
		got := "active " + a.format(fmtPct2) + ", inactive " + i.format(fmtPct2)
		if _, _, fa, fi := res.idleFloor(); len(fa) > 0 {
			got += "; the idle floor alone: active " + summarize(fa).format(fmtPct2) + ", inactive " + summarize(fi).format(fmtPct2)
		}
		ts = append(ts, target{fmt.Sprintf("idle CPU: each member of a pair with no frames under %g%% of a core", idleCPUTarget),
			got, a.Median < idleCPUTarget && i.Median < idleCPUTarget})
	}
	return ts
}

// perRunRatios divides each run's figure by its peer's, measured in the
// same repetition.
func perRunRatios(v, peer []float64) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		out[i] = v[i] / peer[i]
	}
	return out
}
