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

// TestMarkersNotAskedOfABrokerThatCannotSay: a broker that refuses
// DescribeTransactions is asked once; the commits go on without it.
func TestMarkersNotAskedOfABrokerThatCannotSay(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "feed")
	cfg.ControlInterval = -1
	a := startMember(t, cfg, "a", backlog.Config{})
	a.activate(t, 30*time.Second)
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
	checkSequence(t, readCommitted(t, b.Addr(), "feed"), n)
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
