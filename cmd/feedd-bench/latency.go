package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// warmUp is how much of the start of a latency run is not measured: the
// first transaction registers the partition with the coordinator and the
// consumer finds its first fetch position.
const warmUp = time.Second

// latencyRun is one steady-rate run: the latency of every frame written
// after the warm-up, from the write that puts it into the pty (the write
// of its last byte) to its arrival at a read_committed consumer.
type latencyRun struct {
	Rate     float64
	Duration time.Duration
	Stats    LatencyStats
	// Samples are not saved with the results (see marshal): Stats and the
	// result's Pooled hold what the report shows of them.
	Samples []time.Duration `json:"-"`
	// Commits and CommitMean are the member's commits during the run and
	// their mean duration (its commit histogram), to tell the commit's
	// share of the latency.
	Commits    int
	CommitMean time.Duration
}

// latencyDuration is how long a run at rate lasts: at least the minimum
// time, and long enough for the minimum number of frames.
func latencyDuration(rate float64, minTime time.Duration, minFrames int) time.Duration {
	d := time.Duration(float64(minFrames) / rate * float64(time.Second))
	return max(d, minTime) + warmUp
}

// measureLatency feeds one active member at rate for d and measures each
// frame's latency with a read_committed consumer in this process (the same
// clock as the writer's).
func (r *runner) measureLatency(ctx context.Context, rate float64, d time.Duration, interval time.Duration, producer string) (latencyRun, error) {
	run := latencyRun{Rate: rate, Duration: d}
	m, p, topic, err := r.activeMember(ctx, "lat", interval, producer)
	if err != nil {
		return run, err
	}
	defer p.Close()
	defer m.stop()
	n := int(rate * d.Seconds())
	skip := uint64(rate * warmUp.Seconds())
	st := newStamps(1, n)
	cl, err := r.broker.reader(topic, false)
	if err != nil {
		return run, err
	}
	defer cl.Close()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		samples []time.Duration
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		got := 0
		for got < n {
			fs := cl.PollFetches(rctx)
			now := time.Now()
			if rctx.Err() != nil {
				o.err = fmt.Errorf("the consumer received %d of %d frames", got, n)
				break
			}
			for _, fe := range fs.Errors() {
				o.err = fmt.Errorf("consuming: %w", fe.Err)
			}
			fs.EachRecord(func(rec *kgoRecord) {
				seq, ok := serialsim.ParseSeq(rec.Value)
				if !ok {
					o.err = fmt.Errorf("offset %d: not a benchmark frame: %q", rec.Offset, rec.Value)
					return
				}
				got++
				if seq <= skip {
					return
				}
				if d, ok := st.since(seq, now); ok {
					o.samples = append(o.samples, d)
				} else {
					o.err = fmt.Errorf("frame %d arrived but was never written", seq)
				}
			})
			if o.err != nil {
				break
			}
		}
		done <- o
	}()
	if _, err := pace(ctx, []sink{p}, 1, n, rate, st); err != nil {
		return run, err
	}
	var o outcome
	select {
	case o = <-done:
	case <-time.After(waitTimeout):
		cancel()
		o = <-done
	}
	if o.err != nil {
		return run, o.err
	}
	run.Samples = o.samples
	run.Stats = latencyStats(o.samples)
	sum, err1 := m.metric(ctx, "feedd_broadcast_commit_duration_seconds_sum")
	cnt, err2 := m.metric(ctx, "feedd_broadcast_commit_duration_seconds_count")
	if err1 == nil && err2 == nil && cnt > 0 {
		run.Commits, run.CommitMean = int(cnt), time.Duration(sum/cnt*float64(time.Second))
	}
	return run, nil
}

// latencyResult is every run at one rate.
type latencyResult struct {
	Rate float64
	Runs []latencyRun
	// Pooled are the statistics of every sample of every run, taken once
	// the runs are done (pool), since the samples are not saved.
	Pooled LatencyStats
}

// pool sets Pooled from the runs' samples.
func (l *latencyResult) pool() { l.Pooled = l.pooled() }

// pooled returns the statistics of every sample of every run.
func (l latencyResult) pooled() LatencyStats {
	var all []time.Duration
	for _, r := range l.Runs {
		all = append(all, r.Samples...)
	}
	return latencyStats(all)
}

// perRun summarises one statistic over the runs.
func (l latencyResult) perRun(f func(LatencyStats) time.Duration) Summary {
	var v []float64
	for _, r := range l.Runs {
		v = append(v, ms(f(r.Stats)))
	}
	return summarize(v)
}

func (r *runner) benchLatency(ctx context.Context) error {
	for _, rate := range r.o.latencyRates {
		res := latencyResult{Rate: rate}
		d := latencyDuration(rate, r.o.latencyMinSecs, r.o.latencyMinN)
		for i := range r.o.latencyReps {
			run, err := r.measureLatency(ctx, rate, d, 0, "")
			if err != nil {
				return fmt.Errorf("%.0f frames/s, run %d: %w", rate, i+1, err)
			}
			s := run.Stats
			log.Printf("latency %.0f frames/s %d/%d: %d frames, p50 %v p99 %v p99.9 %v max %v; %d commits, %v each on average", rate, i+1, r.o.latencyReps,
				s.N, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.P999.Round(10*time.Microsecond), s.Max.Round(10*time.Microsecond),
				run.Commits, run.CommitMean.Round(10*time.Microsecond))
			res.Runs = append(res.Runs, run)
		}
		res.pool()
		r.res.Latency = append(r.res.Latency, res)
	}
	return nil
}

// eosResult compares transactions with the idempotent producer at one
// commit interval.
type eosResult struct {
	Interval            time.Duration
	TxnTput, IdemTput   []float64 // frames/s
	Ratios              []float64 // transactional / idempotent, per back-to-back pair
	TxnLat, IdemLat     latencyResult
	LatencyRate         float64
	LatencyRunDuration  time.Duration
	ThroughputFrames    int
	ThroughputRunsEach  int
	LatencyRunsEach     int
	ThroughputFirstMode string
}

func (r *runner) benchExactlyOnce(ctx context.Context) error {
	file, err := r.frameFileOf(r.o.eosFrames)
	if err != nil {
		return err
	}
	d := latencyDuration(r.o.eosLatencyRate, r.o.latencyMinSecs, r.o.latencyMinN)
	for _, iv := range r.o.eosIntervals {
		res := eosResult{Interval: iv, LatencyRate: r.o.eosLatencyRate, LatencyRunDuration: d, ThroughputFrames: r.o.eosFrames,
			TxnLat: latencyResult{Rate: r.o.eosLatencyRate}, IdemLat: latencyResult{Rate: r.o.eosLatencyRate}}
		for i := range r.o.reps {
			// Each pair's first run alternates: whichever goes first
			// meets the broker as the previous pair left it.
			modes := []string{"transactional", "idempotent"}
			if i%2 == 1 {
				modes[0], modes[1] = modes[1], modes[0]
			}
			tput := map[string]float64{}
			for _, mode := range modes {
				f, err := r.feeddThroughput(ctx, file, r.o.eosFrames, iv, mode)
				if err != nil {
					return fmt.Errorf("interval %v, %s, run %d: %w", iv, mode, i+1, err)
				}
				tput[mode] = f
			}
			t, id := tput["transactional"], tput["idempotent"]
			res.TxnTput, res.IdemTput = append(res.TxnTput, t), append(res.IdemTput, id)
			res.Ratios = append(res.Ratios, t/id)
			log.Printf("exactly-once %v %d/%d: transactional %.0f frames/s, idempotent %.0f frames/s (%.3f)", iv, i+1, r.o.reps, t, id, t/id)
		}
		for i := range r.o.latencyReps {
			for _, mode := range []string{"transactional", "idempotent"} {
				run, err := r.measureLatency(ctx, r.o.eosLatencyRate, d, iv, mode)
				if err != nil {
					return fmt.Errorf("interval %v, %s latency, run %d: %w", iv, mode, i+1, err)
				}
				if mode == "transactional" {
					res.TxnLat.Runs = append(res.TxnLat.Runs, run)
				} else {
					res.IdemLat.Runs = append(res.IdemLat.Runs, run)
				}
				log.Printf("exactly-once %v %s latency %d/%d: p50 %v p99 %v", iv, mode, i+1, r.o.latencyReps,
					run.Stats.P50.Round(10*time.Microsecond), run.Stats.P99.Round(10*time.Microsecond))
			}
		}
		res.TxnLat.pool()
		res.IdemLat.pool()
		r.res.EOS = append(r.res.EOS, res)
	}
	return nil
}
