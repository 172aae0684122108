package kafkatest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy a test puts between one client and one server: a
// member and a node's listener for that member (see Config.Listeners: the
// client then reaches that node only through the proxy), or a member and
// its peer's pair listener. Cutting it cuts that client off from that
// server alone.
//
// While the server refuses connections (a node killed or stopped, a member
// restarting) the proxy refuses them too, on the same address, and listens
// again once the server does: the client meets a dead server as it would
// without the proxy.
//
// Cut makes the open connections fall silent (the bytes already sent are
// held, as on a cable pulled out while TCP retransmits) and holds new
// connections unanswered; CutHard also closes every open connection, which
// the client sees as the server's end closing. Restore forwards again what
// was held and closes the connections accepted while cut (their client has
// been waiting for an answer that never came).
type Proxy struct {
	addr   string
	target atomic.Pointer[string]

	mu     sync.Mutex
	cond   *sync.Cond
	ln     net.Listener // nil while the server is down
	cutNow bool
	closed bool
	conns  map[net.Conn]struct{}
	held   map[net.Conn]struct{} // accepted while cut
	wg     sync.WaitGroup
}

// StartProxy listens on a free 127.0.0.1 port (FreeAddr). It forwards to
// target, which may be empty until SetTarget gives it: a server whose
// configuration must name the proxy's address before it starts.
func StartProxy(target string) (*Proxy, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{addr: addr, ln: ln, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	if target != "" {
		p.SetTarget(target)
	}
	p.wg.Go(func() { p.serve(ln) })
	return p, nil
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.addr }

// SetTarget sets the server's address for the connections accepted from
// now on.
func (p *Proxy) SetTarget(addr string) { p.target.Store(&addr) }

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			c.Close()
			continue
		case p.cutNow:
			p.held[c] = struct{}{}
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		target := p.target.Load()
		var up net.Conn
		if target != nil {
			up, err = net.DialTimeout("tcp", *target, 2*time.Second)
		}
		if target == nil || err != nil {
			// The server is down: reset this connection and refuse the
			// next ones until it listens again.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			p.down(ln)
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, up) })
		p.wg.Go(func() { p.pipe(up, c) })
	}
}

// down closes the listener and listens again on the same address once the
// server accepts connections again.
func (p *Proxy) down(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ln != ln {
		return
	}
	ln.Close()
	p.ln = nil
	p.wg.Go(func() {
		for {
			time.Sleep(50 * time.Millisecond)
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if target := p.target.Load(); target != nil {
				probe, err := net.DialTimeout("tcp", *target, time.Second)
				if err != nil {
					continue
				}
				probe.Close()
			}
			ln, err := net.Listen("tcp", p.addr)
			if err != nil {
				continue // a connection's local end, for a moment
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				ln.Close()
				return
			}
			p.ln = ln
			p.mu.Unlock()
			p.serve(ln)
			return
		}
	})
}

// pipe copies src to dst, holding while the proxy is cut.
func (p *Proxy) pipe(src, dst net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.cutNow && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut makes the open connections fall silent and holds new ones.
func (p *Proxy) Cut() { p.setCut(true, false) }

// CutHard cuts and closes every open connection.
func (p *Proxy) CutHard() { p.setCut(true, true) }

// Restore forwards again.
func (p *Proxy) Restore() { p.setCut(false, false) }

// setCut cuts the proxy or restores it; hard also closes the open
// connections. Restoring wakes the held pipes and closes the connections
// accepted while cut.
func (p *Proxy) setCut(cut, hard bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutNow = cut
	if hard {
		closeAll(p.conns)
	}
	if !cut {
		p.cond.Broadcast()
		closeAll(p.held)
		clear(p.held)
	}
}

// Close closes every connection and the listener, and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	closeAll(p.conns)
	closeAll(p.held)
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func closeAll(conns map[net.Conn]struct{}) {
	for c := range conns {
		c.Close()
	}
}

// StartProxyT is StartProxy for a test: it fails the test if the proxy
// cannot listen, and closes it when the test ends.
func StartProxyT(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := StartProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// ListenerFor names the listener of one client (a member) on a node, as
// tests give them in Config.Listeners.
func ListenerFor(client string) string { return "MEMBER_" + strings.ToUpper(client) }
