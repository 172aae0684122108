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
		ts = append(ts, target{"throughput: feedd at least 1.0× kcat (transactions on, default commit interval)",
			"median ratio " + r.format(fmtRatio), r.Median >= 1})
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
	return ts
}
