package broadcast

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/internal/testsupport"
)

// A member whose path to Kafka is broken (here: a broker that accepts
// connections and never answers) must give up an activation when its
// context ends, and stay inactive, so that the pair protocol can let a
// healthier member take the slot.
func TestActivateGivesUpWhenItsContextEnds(t *testing.T) {
	addr, stop := testsupport.Serve(t, func(net.Conn) {}) // held open, never answered
	defer stop()
	m := startMember(t, testConfig(addr, "feed"), "a", backlog.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := m.Activate(ctx)
	if err == nil {
		t.Fatal("Activate succeeded against a broker that never answers")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("Activate: %v", err)
	}
	waitFor(t, "the member to be inactive", func() bool { return m.Status().State == StateInactive })
}
