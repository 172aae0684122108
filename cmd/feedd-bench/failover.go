package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os/exec"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/member"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failoverFeedRate is the pair's feed during the failover benchmarks: a
// busy NMEA line, as in the end-to-end tests.
const failoverFeedRate = 100

// memberSettle is how long a member must have run before it is measured:
// the member that takes over in a failover, and both members of the CPU
// benchmark. A member starts on every processor and drops to one once it
// has been quiet for a while (it follows its load); the failovers and the
// CPU users meet come long after a start.
const memberSettle = 3 * time.Second

// failoverResult is one kind of failover repeated.
type failoverResult struct {
	Kind string
	// Commit is from the signal to the broker's timestamp of the commit
	// marker of the new active's first transaction; Detect to the new
	// active's role change (its /status role_since), which comes once its
	// fence and catch-up are done, as the flush of its ring begins.
	Commit, Detect []time.Duration
	// Failbacks counts repetitions after which the failed member took the
	// slot back once it was running again.
	Failbacks int
	Audit     auditSummary
}

type auditSummary struct {
	Clean               bool
	Records, Gaps, Dups int64
	Problems            []string
	Err                 string
	FirstSeq, LastSeq   uint64
	DistinctSeqs        uint64
	Handover            int64
}

func (r *runner) benchFailover(ctx context.Context) error {
	r.res.Failover = map[string]*failoverResult{}
	for _, kind := range []string{"crash", "hang"} {
		res, err := r.failovers(ctx, kind)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		r.res.Failover[kind] = res
	}
	return nil
}

func (r *runner) failovers(ctx context.Context, kind string) (*failoverResult, error) {
	pp, err := r.startPair(ctx, "failover-"+kind, 0)
	if err != nil {
		return nil, err
	}
	defer pp.close()
	pp.startFeed(failoverFeedRate)
	active, inactive, err := pp.settled(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := r.broker.reader(pp.topic, true)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	mt := &markerTracker{cl: cl}
	res := &failoverResult{Kind: kind}
	for rep := range r.o.failoverReps {
		// A few commits of the settled pair, and the inactive past its
		// first seconds.
		time.Sleep(max(200*time.Millisecond, memberSettle-inactive.uptime()))
		from, err := r.broker.lastStable(ctx, pp.topic)
		if err != nil {
			return nil, err
		}
		at := time.Now()
		if kind == "hang" {
			err = active.current().Hang()
		} else {
			active.current().Kill()
		}
		if err != nil {
			return nil, err
		}
		st, err := inactive.waitStatus(ctx, inactive.spec.ID+" active and committing", func(st *member.Status) bool {
			return st.Role == "active" && st.Broadcast.LastCommitAt.After(at)
		})
		if err != nil {
			return nil, err
		}
		committed, err := mt.firstCommitAfter(ctx, from, byMember(inactive.spec.ID))
		if err != nil {
			return nil, err
		}
		res.Commit = append(res.Commit, committed.Sub(at))
		res.Detect = append(res.Detect, st.Pair.RoleSince.Sub(at))
		log.Printf("failover %s %d/%d: %s -> %s, first commit after %v (active after %v)", kind, rep+1, r.o.failoverReps,
			active.spec.ID, inactive.spec.ID, committed.Sub(at).Round(100*time.Microsecond), st.Pair.RoleSince.Sub(at).Round(100*time.Microsecond))
		if kind == "hang" {
			err = active.current().Resume()
		} else {
			err = active.start()
		}
		if err != nil {
			return nil, err
		}
		a2, i2, err := pp.settled(ctx)
		if err != nil {
			return nil, err
		}
		if a2 != inactive {
			res.Failbacks++
		}
		active, inactive = a2, i2
	}
	if err := pp.stopFeed(); err != nil {
		return nil, err
	}
	res.Audit = r.auditTopic(ctx, pp.topic, pp.seq-1)
	return res, nil
}

// auditTopic runs `feedd audit --strict --json` on a pair's topic, once it
// holds the last frame written (or the wait ends).
func (r *runner) auditTopic(ctx context.Context, topic string, lastSeq uint64) auditSummary {
	var s auditSummary
	deadline := time.Now().Add(waitTimeout)
	for {
		out, err := exec.CommandContext(ctx, r.bin, "audit", "--strict", "--json", "--kafka.brokers", r.broker.Addr, "--kafka.topic", topic).Output()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
			s.Err = err.Error()
			return s
		}
		var rep audit.Report
		if err := json.NewDecoder(bytes.NewReader(out)).Decode(&rep); err != nil {
			s.Err = fmt.Sprintf("feedd audit --json: %v", err)
			return s
		}
		q := rep.Sequenced
		s = auditSummary{Clean: rep.Clean, Records: rep.Records, Gaps: q.GapCount, Dups: q.DuplicatedSeqs, Problems: rep.Problems,
			FirstSeq: q.First, LastSeq: q.Last, DistinctSeqs: q.Distinct, Handover: rep.HandoverCount}
		if q.Last >= lastSeq || time.Now().After(deadline) {
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// activationRun is one activation with a backlog in the new active's ring.
type activationRun struct {
	Depth int
	// Member is the member's own feedd_broadcast_activation_duration_seconds
	// observation: from the start of the activation (fencing) until the
	// backlog its ring held when it went live is committed.
	Member time.Duration
	// Visible is from the SIGKILL of the active to the broker's timestamp
	// of the commit marker after the last frame of the backlog: when a
	// read_committed consumer can read the whole backlog. None for depth 0.
	Visible time.Duration
	Ring    int // frames in the ring when the active was killed
}

const activationMetric = "feedd_broadcast_activation_duration_seconds"

// activationQuietAfter is the activation benchmark's serial.quiet_after:
// while the backlog is written into the inactive's port only, the
// active's port is idle, and on a loaded machine the steps around it can
// take longer than the default 5s, after which the active would step down
// for a quiet port while its peer reads a live one.
const activationQuietAfter = time.Minute

func (r *runner) benchActivation(ctx context.Context) error {
	pp, err := r.startPair(ctx, "activation", activationQuietAfter)
	if err != nil {
		return err
	}
	defer pp.close()
	cl, err := r.broker.reader(pp.topic, true)
	if err != nil {
		return err
	}
	defer cl.Close()
	mt := &markerTracker{cl: cl}
	for _, depth := range r.o.activationDepth {
		for rep := range r.o.activationReps {
			run, err := r.activateWithBacklog(ctx, pp, mt, depth)
			if err != nil {
				return fmt.Errorf("depth %d, run %d: %w", depth, rep+1, err)
			}
			log.Printf("activation, backlog %d frames, %d/%d: member %v, visible after %v", depth, rep+1, r.o.activationReps,
				run.Member.Round(100*time.Microsecond), run.Visible.Round(100*time.Microsecond))
			r.res.Activation = append(r.res.Activation, run)
		}
	}
	return nil
}

// activateWithBacklog settles the pair, stops the feed, lets the inactive
// trim everything the active committed, writes depth frames into the
// inactive's port only (frames the active never reads), and kills the
// active: the inactive takes over on the obituary and must flush them.
// The killed member is restarted afterwards.
func (r *runner) activateWithBacklog(ctx context.Context, pp *memberPair, mt *markerTracker, depth int) (activationRun, error) {
	run := activationRun{Depth: depth}
	pp.startFeed(failoverFeedRate)
	active, inactive, err := pp.settled(ctx)
	if err != nil {
		return run, err
	}
	if err := pp.stopFeed(); err != nil {
		return run, err
	}
	if _, err := inactive.waitStatus(ctx, "the inactive's ring trimmed", func(st *member.Status) bool {
		return st.Broadcast.Ring.Len == 0
	}); err != nil {
		return run, err
	}
	var port *pty
	for i, m := range pp.members {
		if m == inactive {
			port = pp.ports[i]
		}
	}
	first := pp.seq
	if pp.seq, err = burst([]sink{port}, first, depth); err != nil {
		return run, err
	}
	st, err := inactive.waitStatus(ctx, "the backlog in the inactive's ring", func(st *member.Status) bool {
		return st.Broadcast.Ring.Len >= depth || st.Role != "inactive"
	})
	if err != nil {
		return run, err
	}
	if st.Role != "inactive" {
		return run, fmt.Errorf("%s became %s while its backlog was written: the pair moved before the kill", inactive.spec.ID, st.Role)
	}
	run.Ring = st.Broadcast.Ring.Len
	count0, err := inactive.metric(ctx, activationMetric+"_count")
	if err != nil {
		return run, err
	}
	sum0, err := inactive.metric(ctx, activationMetric+"_sum")
	if err != nil {
		return run, err
	}
	from, err := r.broker.lastStable(ctx, pp.topic)
	if err != nil {
		return run, err
	}
	at := time.Now()
	active.current().Kill()
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := inactive.metric(ctx, activationMetric+"_count")
		if err == nil && c > count0 {
			sum, err := inactive.metric(ctx, activationMetric+"_sum")
			if err != nil {
				return run, err
			}
			run.Member = time.Duration((sum - sum0) * float64(time.Second))
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("the inactive observed no activation within %v", waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if depth > 0 {
		last := first + uint64(depth) - 1
		committed, err := mt.firstCommitAfter(ctx, from, func(rec *kgo.Record) bool {
			seq, ok := serialsim.ParseSeq(rec.Value)
			return ok && seq == last
		})
		if err != nil {
			return run, err
		}
		run.Visible = committed.Sub(at)
	}
	active.stop()
	return run, active.start()
}
