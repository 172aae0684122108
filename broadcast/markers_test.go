package broadcast

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCommitsOnceCaughtUp: a transaction that holds every frame read so far
// commits at once; the commit interval only bounds how long it may stay
// open. With a ten-minute interval, fresh frames are still committed one
// after the other.
func TestCommitsOnceCaughtUp(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "feed")
	cfg.CommitInterval, cfg.TransactionTimeout = 10*time.Minute, 14*time.Minute
	a := startMember(t, cfg, "a", backlog.Config{})
	a.activate(t, 30*time.Second)
	for i := uint64(1); i <= 3; i++ {
		a.Accept(frame(i, time.Now()))
		waitFor(t, "the fresh frame committed", func() bool { return a.Status().Counters.CommittedFrames == i })
	}
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), 3)
}

// answerDescribe makes the broker answer DescribeTransactions with answer
// while it returns a response, and counts the requests.
func answerDescribe(c *kfake.Cluster, answer func(req *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse) *atomic.Int64 {
	var n atomic.Int64
	c.ControlKey(int16(kmsg.DescribeTransactions), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n.Add(1)
		if resp := answer(req.(*kmsg.DescribeTransactionsRequest)); resp != nil {
			return resp, nil, true
		}
		return nil, nil, false
	})
	return &n
}

// waitStandbyWarmed waits until the standby producer that the activation
// took has finished warming: its DescribeTransactions, sent in the
// background from Run's start, would otherwise reach a test's answerDescribe
// as though a commit had asked.
func waitStandbyWarmed(t *testing.T, a *member) {
	t.Helper()
	waitFor(t, "the standby producer warmed", func() bool { _, busy := a.standby.state(); return !busy })
}

func describeAnswer(req *kmsg.DescribeTransactionsRequest, state string, code int16) *kmsg.DescribeTransactionsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID, s.State, s.ErrorCode = id, state, code
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp
}

// TestNextTransactionWaitsForMarkers: after a commit, the next transaction
// takes no record until the coordinator says the commit is complete, so that
// its first record is not held by the broker behind the commit markers.
func TestNextTransactionWaitsForMarkers(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "feed")
	cfg.ControlInterval = -1 // only the frames' commits ask
	a := startMember(t, cfg, "a", backlog.Config{})
	a.activate(t, 30*time.Second)
	waitStandbyWarmed(t, a)
	var preparing atomic.Int64
	preparing.Store(3)
	asked := answerDescribe(b.Cluster(), func(req *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
		if preparing.Add(-1) >= 0 {
			return describeAnswer(req, "PrepareCommit", 0)
		}
		return nil // the broker's own answer: the commit is complete
	})
	a.Accept(frame(1, time.Now()))
	waitFor(t, "the frame committed", func() bool { return a.Status().Counters.CommittedFrames == 1 })
	if n := asked.Load(); n < 4 {
		t.Fatalf("the coordinator was asked %d times, want 3 answers of PrepareCommit and then one more", n)
	}
	a.Accept(frame(2, time.Now()))
	waitFor(t, "the next frame committed", func() bool { return a.Status().Counters.CommittedFrames == 2 })
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), 2)
}

// TestNextTransactionWaitsForSlowMarkers: a coordinator that takes longer
// to finish a commit than a partition leader holds a record for it (100 ms
// by default; then it refuses the record, and franz-go sends it again only
// after a metadata refresh) is waited for, up to a quarter of the commit
// timeout, asking no more often than every few milliseconds; one that
// never says the commit is complete holds the next transaction no longer.
func TestNextTransactionWaitsForSlowMarkers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		complete time.Duration // after the commit; 0: never
	}{{"slow", 200 * time.Millisecond}, {"never", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, "")
			cfg := testConfig(b.Addr(), "feed")
			cfg.ControlInterval = -1
			a := startMember(t, cfg, "a", backlog.Config{})
			a.activate(t, 30*time.Second)
			waitStandbyWarmed(t, a)
			a.Accept(frame(1, time.Now()))
			waitFor(t, "the first frame committed", func() bool { return a.Status().Counters.CommittedFrames == 1 })

			var completeAt atomic.Int64 // unix nanoseconds; 0 until the commit ends
			var firstProduce atomic.Int64
			var pacedAsks atomic.Int64 // questions later than the back-to-back ones
			c := b.Cluster()
			answerDescribe(c, func(req *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
				if at := completeAt.Load(); at != 0 && firstProduce.Load() == 0 && time.Since(time.Unix(0, at-int64(tc.complete))) > markersHeldFor+5*time.Millisecond {
					pacedAsks.Add(1)
				}
				if at := completeAt.Load(); at == 0 || tc.complete == 0 || time.Now().UnixNano() < at {
					return describeAnswer(req, "PrepareCommit", 0)
				}
				return nil
			})
			c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				completeAt.CompareAndSwap(0, time.Now().Add(tc.complete).UnixNano())
				return nil, nil, false
			})
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if completeAt.Load() != 0 { // frame 3's, after frame 2's commit
					firstProduce.CompareAndSwap(0, time.Now().UnixNano())
				}
				return nil, nil, false
			})
			a.Accept(frame(2, time.Now()))
			waitFor(t, "the second frame's commit sent", func() bool { return completeAt.Load() != 0 })
			a.Accept(frame(3, time.Now())) // the next transaction's first record
			waitFor(t, "the frames committed", func() bool { return a.Status().Counters.CommittedFrames == 3 })

			committed := completeAt.Load() - int64(tc.complete)
			waited := time.Duration(firstProduce.Load() - committed)
			if tc.complete != 0 && waited < tc.complete {
				t.Fatalf("the next transaction's first record went %v after the commit, before the coordinator finished it (%v)", waited, tc.complete)
			}
			if tc.complete == 0 && waited < cfg.WithDefaults().CommitTimeout/4 {
				t.Fatalf("the next transaction's first record went %v after the commit, want it held a quarter of the commit timeout", waited)
			}
			// Back to back for 20 ms, then every 10 ms at most: some 20
			// or 50 questions in the 200 or 500 ms after, not hundreds.
			if n, most := pacedAsks.Load(), int64(waited/markersPace)+5; n > most {
				t.Fatalf("the coordinator was asked %d times in the %v after the first 20 ms, want at most %d", n, waited-markersHeldFor, most)
			}
			checkSequence(t, readCommitted(t, b.Addr(), "feed"), 3)
		})
	}
}

// TestMarkersNotAskedOfABrokerThatCannotSay: a broker that refuses
// DescribeTransactions is asked once; the commits go on without it. It is
// asked again a minute later (the coordinator may have moved in the middle
// of a question, and the next one answers).
func TestMarkersNotAskedOfABrokerThatCannotSay(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "feed")
	cfg.ControlInterval = -1
	a := startMember(t, cfg, "a", backlog.Config{})
	a.activate(t, 30*time.Second)
	waitStandbyWarmed(t, a)
	asked := answerDescribe(b.Cluster(), func(req *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
		return describeAnswer(req, "", kerr.TransactionalIDAuthorizationFailed.Code)
	})
	const n = 5
	for i := uint64(1); i <= n; i++ {
		a.Accept(frame(i, time.Now()))
		waitFor(t, "the frame committed", func() bool { return a.Status().Counters.CommittedFrames == i })
	}
	if got := asked.Load(); got != 1 {
		t.Fatalf("the coordinator was asked %d times over %d commits, want once", got, n)
	}
	a.markersAskAfter.Store(time.Now().Add(-time.Second).UnixNano()) // the minute is over
	a.Accept(frame(n+1, time.Now()))
	waitFor(t, "the frame committed", func() bool { return a.Status().Counters.CommittedFrames == n+1 })
	if got := asked.Load(); got != 2 {
		t.Fatalf("the coordinator was asked %d times, want once more after the minute", got)
	}
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n+1)
}

// TestFirstMarkersQuestionWaitsHalfTheUsualTime: the first question after a
// commit waits for half of what the markers usually take, and one slow
// commit moves that by an eighth of the difference only.
func TestFirstMarkersQuestionWaitsHalfTheUsualTime(t *testing.T) {
	var m markerTimes
	if got := m.firstAsk(); got != 0 {
		t.Fatalf("before any commit: first question after %v, want at once", got)
	}
	for range 100 {
		m.observe(2 * time.Millisecond)
	}
	if got := m.firstAsk(); got < 990*time.Microsecond || got > time.Millisecond {
		t.Fatalf("after markers of 2 ms: first question after %v, want about 1 ms", got)
	}
	before := m.firstAsk()
	m.observe(18 * time.Millisecond)
	if got, want := m.firstAsk()-before, time.Millisecond; got < want-10*time.Microsecond || got > want+10*time.Microsecond {
		t.Fatalf("one commit 16 ms slower moved the first question by %v, want %v", got, want)
	}
}
