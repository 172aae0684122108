package link

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestIdleConnectionsCannotKeepThePeerOut: someone who can reach
// pair.listen holds every handshake slot with connections that send
// nothing, and opens a new one whenever one is closed. The peer's own
// connection still gets in (the oldest idle one is closed for it), and the
// idle ones are counted as busy.
func TestIdleConnectionsCannotKeepThePeerOut(t *testing.T) {
	cfg := testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere})
	cfg.HandshakeTimeout = 10 * time.Minute // the idle connections outlast the test
	b := startMember(t, "b", cfg, hmacCreds())

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for range maxPendingHandshakes {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", b.addr())
				if err != nil {
					return
				}
				stop := context.AfterFunc(ctx, func() { c.Close() })
				io.Copy(io.Discard, c) // until b closes it
				stop()
				c.Close()
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	waitFor(t, "b holds every handshake slot", func() bool {
		b.l.pendingMu.Lock()
		defer b.l.pendingMu.Unlock()
		return len(b.l.pending) == maxPendingHandshakes
	})

	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds())
	waitFlowing(t, a, b)
	if n := b.rejected(RejectBusy); n == 0 {
		t.Error("no idle connection was counted as busy")
	}
	if n := b.rejected(RejectIncomplete); n != 0 {
		t.Errorf("%d idle connections closed for room counted as incomplete handshakes; want them as busy only", n)
	}
}
