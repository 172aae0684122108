package audit

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFollowFromEnd follows a topic from its end: what was committed
// before the audit began is not read, what is committed while it follows
// is, aborted transactions included, and the running Progress agrees with
// the final report.
func TestFollowFromEnd(t *testing.T) {
	r := newRig(t)
	r.txn(true, seqs("a", 1, 10)...) // before the audit: offsets 0-9, marker 10

	mon := NewMonitor()
	stop := make(chan struct{})
	wait := background(func() (*Report, error) {
		return Run(r.ctx, Options{Brokers: []string{r.addr}, Topic: r.topic,
			FromEnd: true, Follow: true, Stop: stop, Monitor: mon})
	})
	waitFor(t, "the audit to start", func() bool { return mon.Progress().Started })
	r.txn(true, seqs("a", 11, 20)...)
	r.txn(false, seqs("a", 21, 30)...) // aborted: never counted
	r.txn(true, seqs("b", 21, 25)...)
	r.txn(true, seqs("b", 28, 30)...)      // 26, 27 missing
	r.txn(true, seqs("b", 26, 26)...)      // late: fills one, 27 still missing
	r.txn(true, rec{seq: 30, member: "b"}) // a duplicate
	waitFor(t, "the audit to read the live records", func() bool { return mon.Progress().LastSeq == 30 && mon.Progress().DuplicateRecords == 1 })
	p := mon.Progress()
	if p.Gaps != 1 || p.Missing != 1 || p.OutOfOrder != 1 || p.FirstSeq < 11 {
		t.Fatalf("progress while following = %+v", p)
	}
	close(stop)
	rep, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Sequenced
	if rep.From != 11 || !rep.Followed || s.First != 11 || s.Last != 30 || s.Records != 20 {
		t.Fatalf("followed report: from %d, followed %v, sequenced %+v", rep.From, rep.Followed, s)
	}
	if s.GapCount != 1 || s.Missing != 1 || s.Gaps[0].From != 27 || s.DuplicateRecords != 1 || s.OutOfOrderCount != 1 || rep.Clean {
		t.Fatalf("findings: %+v", s)
	}
	if rep.Latency.Count != 20 || rep.Latency.Max <= 0 || rep.Latency.P50 > rep.Latency.Max {
		t.Fatalf("latency = %+v", rep.Latency)
	}
	if p := mon.Progress(); p.NextOffset != rep.End || p.Records != rep.Records {
		t.Fatalf("progress %+v disagrees with the report (end %d, records %d)", p, rep.End, rep.Records)
	}

	// The metrics read the same progress, and pass the client library's
	// lint.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(mon.Collector())
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", err, probs)
	}
	for name, want := range map[string]float64{
		"feedd_audit_missing_frames":          1,
		"feedd_audit_gaps":                    1,
		"feedd_audit_duplicate_records_total": 1,
		"feedd_audit_last_sequence":           30,
	} {
		got, err := gatheredValue(reg, name)
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, err, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "feedd_audit_end_to_end_latency_seconds"); err != nil || n != 1 {
		t.Errorf("latency histogram: %d series, %v", n, err)
	}
}

// TestBatchAuditMeasuresNoLatency: records that were already committed
// when the audit began say how late it started, not how late they were.
func TestBatchAuditMeasuresNoLatency(t *testing.T) {
	r := newRig(t)
	r.txn(true, seqs("a", 1, 5)...)
	rep := r.audit(Options{})
	if rep.Followed || rep.Latency.Count != 0 {
		t.Fatalf("latency measured without following: %+v", rep.Latency)
	}
}

// TestTopicWithoutSequenceNumbers: the report says plainly that gaps could
// not be looked for.
func TestTopicWithoutSequenceNumbers(t *testing.T) {
	r := newRig(t)
	r.txn(true, rec{noSeq: true, value: "one"}, rec{noSeq: true, value: "two"})
	rep := r.audit(Options{})
	if !rep.NoSequenceNumbers() || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "no record carries a feed sequence number") {
		t.Fatalf("notes = %q", rep.Notes)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "note: no record carries a feed sequence number") {
		t.Fatalf("the summary does not say so:\n%s", text.String())
	}
}

// TestRunningHolesMatchTheFinalCount feeds sequence numbers in random
// orders, with repeats, and checks the running gap and missing counts
// against the set's own walk after every step.
func TestRunningHolesMatchTheFinalCount(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 7))
		a := newAuditor(&Report{}, DefaultMaxListed, nil)
		base := uint64(rng.IntN(3)) * chunkBits // sometimes across a chunk boundary
		for step := range 300 {
			seq := base + uint64(rng.IntN(200))
			if step%50 == 0 {
				seq = base + chunkBits - 2 + uint64(rng.IntN(4))
			}
			a.trackHoles(seq)
			a.seqs.add(seq)
			var gaps int64
			var missing uint64
			a.seqs.gaps(func(from, to uint64) bool { gaps++; missing += to - from + 1; return true })
			if gaps != a.gaps || missing != a.missing {
				t.Fatalf("seed %d step %d (seq %d): running %d gaps / %d missing, set says %d / %d", seed, step, seq, a.gaps, a.missing, gaps, missing)
			}
		}
	}
}

func TestLatencySketchQuantiles(t *testing.T) {
	var s latencySketch
	var all []float64
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		v := math.Exp(rng.NormFloat64()*1.5 - 4) // log-normal around 18 ms
		s.add(v)
		all = append(all, v)
	}
	slices.Sort(all)
	for _, q := range []float64{.5, .99, .999} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := s.quantile(q)
		if got < exact || got > exact*1.0101 {
			t.Errorf("q%v = %v, exact %v: not within 1%% above", q, got, exact)
		}
	}
	if sum := s.summary(); sum.Max != all[len(all)-1] || sum.Count != int64(len(all)) {
		t.Errorf("summary = %+v", sum)
	}
	var empty latencySketch
	if q := empty.quantile(.5); q != 0 {
		t.Errorf("empty sketch q50 = %v", q)
	}
}

func gatheredValue(g prometheus.Gatherer, name string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue(), nil
		}
		return m.GetGauge().GetValue(), nil
	}
	return math.NaN(), nil
}

// background runs f in a goroutine, as a followed audit runs until it is
// stopped; wait returns what f returned.
func background[T any](f func() (T, error)) (wait func() (T, error)) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	return func() (T, error) {
		res := <-done
		return res.v, res.err
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, 30*time.Second, 10*time.Millisecond, what, cond)
}
