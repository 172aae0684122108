package link

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
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
		b.l.handshakesMu.Lock()
		defer b.l.handshakesMu.Unlock()
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

// TestEvictedHandshakeIsNoObituary: a dialer's handshake is closed by the
// acceptor to make room after the dialer sent its proof, so the dialer's
// session starts and at once reads the close. That is not the peer's
// death: it never sent a message on that session. The dialer dials again.
func TestEvictedHandshakeIsNoObituary(t *testing.T) {
	b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds())
	var toB atomic.Int32
	proofHeld, evicted := make(chan struct{}), make(chan struct{})
	proxy := newFrameProxy(t, b.addr(), nil, func(toAcceptor bool) time.Duration {
		if toAcceptor && toB.Add(1) == 2 { // a's first proof
			close(proofHeld)
			select {
			case <-evicted:
			case <-time.After(waitLimit):
			}
		}
		return 0
	})
	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: proxy.addr()}), hmacCreds())

	<-proofHeld
	for range maxPendingHandshakes {
		dialRaw(t, b.addr()) // idle: each takes a slot
	}
	waitFor(t, "b to close a's handshake for room", func() bool { return b.rejected(RejectBusy) >= 1 })
	close(evicted)
	waitFlowing(t, a, b)
	if n := a.closed("b"); n != 0 {
		t.Errorf("a reported %d obituaries of b, whose handshake b closed for room: %+v", n, a.closedEvents())
	}
}

// TestAFloodFromOneHostCannotKeepThePeerOut: someone opens connections to
// pair.listen from one host as fast as they are closed, far more than
// eight during any handshake (each of the peer's messages is held 50 ms on
// its way, as over a slow network). The peer, dialing from another host,
// still gets in: a connection closed for room is the oldest of the
// busiest host's.
func TestAFloodFromOneHostCannotKeepThePeerOut(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.2 as a second loopback address, which only Linux has without an alias")
	}
	flooder := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}} // another address, on loopback
	b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds())

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	var opened atomic.Int64
	for range 2 * maxPendingHandshakes {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := flooder.DialContext(ctx, "tcp", b.addr())
				if err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				opened.Add(1)
				stop := context.AfterFunc(ctx, func() { c.Close() })
				io.Copy(io.Discard, c) // until b closes it
				stop()
				c.Close()
			}
		})
	}
	waitFor(t, "the flood to close connections for room", func() bool { return b.rejected(RejectBusy) >= 100 })

	slow := newFrameProxy(t, b.addr(), nil, func(toAcceptor bool) time.Duration {
		if toAcceptor {
			return 50 * time.Millisecond
		}
		return 0
	})
	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: slow.addr()}), hmacCreds())
	waitFlowing(t, a, b)
	t.Logf("%d flood connections opened, %d closed for room", opened.Load(), b.rejected(RejectBusy))
}
