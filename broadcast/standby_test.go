package broadcast

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

func (s *standbyProducer) state() (ready *kgo.Client, busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready, s.busy
}

// TestStandbyProducer: one client is made ready at a time, taken once,
// warmed again only after standbyRewarm, replaced after standbyRenew and
// closed with the standby; a take waits for a client being made, and no
// fill starts after close.
func TestStandbyProducer(t *testing.T) {
	var created atomic.Int32
	made := make(chan struct{}, 4) // one token lets one client be made
	warmed := make(chan *kgo.Client, 8)
	s := &standbyProducer{
		create: func() (*kgo.Client, error) {
			<-made
			created.Add(1)
			return kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
		},
		warm: func(_ context.Context, cl *kgo.Client) { warmed <- cl },
	}
	ctx := context.Background()
	idle := func() *kgo.Client {
		t.Helper()
		waitFor(t, "the standby idle", func() bool { _, busy := s.state(); return !busy })
		ready, _ := s.state()
		return ready
	}

	t0 := time.Now()
	s.fill(ctx, t0)
	s.fill(ctx, t0) // one fill at a time
	made <- struct{}{}
	first := <-warmed
	if ready := idle(); ready != first || created.Load() != 1 {
		t.Fatalf("ready %p after warming %p, %d created", ready, first, created.Load())
	}
	s.fill(ctx, t0.Add(standbyRewarm-time.Second))
	if _, busy := s.state(); busy {
		t.Fatal("warmed again before standbyRewarm")
	}
	s.fill(ctx, time.Now().Add(standbyRewarm+time.Second))
	if again := <-warmed; again != first {
		t.Fatalf("rewarmed %p, not the ready client %p", again, first)
	}
	if ready := idle(); ready != first || created.Load() != 1 {
		t.Fatalf("after the rewarm: ready %p, %d created", ready, created.Load())
	}

	if cl := s.take(ctx); cl != first {
		t.Fatalf("took %p, want %p", cl, first)
	}
	if cl := s.take(ctx); cl != nil {
		t.Fatalf("took %p twice", cl)
	}
	first.Close()

	// A take while a client is being made waits for it (or for its
	// context): otherwise the caller would make a second client.
	s.fill(ctx, time.Now())
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if cl := s.take(cancelled); cl != nil {
		t.Fatalf("a cancelled take got %p", cl)
	}
	took := make(chan *kgo.Client)
	go func() { took <- s.take(ctx) }()
	made <- struct{}{}
	second := <-took
	if second == nil || second == first || created.Load() != 2 {
		t.Fatalf("took %p during the fill, %d created", second, created.Load())
	}
	<-warmed
	idle()
	second.Close()

	// A standby kept for standbyRenew is closed and replaced.
	s.fill(ctx, time.Now())
	made <- struct{}{}
	third := <-warmed
	idle()
	made <- struct{}{}
	s.fill(ctx, time.Now().Add(standbyRenew+time.Second))
	fourth := <-warmed
	if ready := idle(); ready != fourth || fourth == third || created.Load() != 4 {
		t.Fatalf("renewed: ready %p (third %p, fourth %p), %d created", ready, third, fourth, created.Load())
	}
	if third.Context().Err() == nil {
		t.Fatal("the replaced standby is still open")
	}

	s.close()
	if fourth.Context().Err() == nil {
		t.Fatal("the ready client is open after close")
	}
	s.fill(ctx, time.Now())
	if ready, busy := s.state(); ready != nil || busy || created.Load() != 4 {
		t.Fatalf("filled after close: ready %p, busy %v, %d created", ready, busy, created.Load())
	}
}

// TestActivationTakesTheStandby: an inactive pipeline holds a connected
// producer ready; its activation fences with that client, and once it
// ends a new one is made ready.
func TestActivationTakesTheStandby(t *testing.T) {
	_, cfg := startBrokerFor(t, "standby")
	a := startMember(t, cfg, "a", backlog.Config{})
	waitFor(t, "a standby producer ready", func() bool { ready, busy := a.standby.state(); return ready != nil && !busy })
	a.activate(t, 30*time.Second)
	if ready, _ := a.standby.state(); ready != nil {
		t.Fatal("the activation did not take the standby producer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.mustDeactivate(t, ctx, Planned)
	waitFor(t, "a new standby producer after the deactivation", func() bool { ready, _ := a.standby.state(); return ready != nil })
}
