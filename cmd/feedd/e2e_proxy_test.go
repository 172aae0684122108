package main

import (
	"net"
	"sync"
	"testing"
	"time"
)

// e2eProxy is a TCP proxy between one member's dial and its peer's pair
// listener, so that a test can cut the pair link while both members stay
// up.
//
// cut stops accepting and stops forwarding: the bytes already sent stay in
// the sockets' buffers (as on a cable pulled out, while TCP retransmits),
// so the members see silence, never a closed connection. restore accepts
// again and forwards what was held. cutHard also closes every connection,
// which each member sees as its peer's end closing.
type e2eProxy struct {
	t      testing.TB
	addr   string
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	ln     net.Listener
	cutNow bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	closed bool
}

func startE2EProxy(t testing.TB, target string) *e2eProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &e2eProxy{t: t, addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *e2eProxy) serve(ln net.Listener) {
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.closed || p.cutNow {
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
	})
}

// pipe copies src to dst, holding while the link is cut.
func (p *e2eProxy) pipe(src, dst net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 4096)
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
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut stops accepting and forwarding; connections stay open and silent.
func (p *e2eProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutNow = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// cutHard cuts and closes every connection.
func (p *e2eProxy) cutHard() {
	p.cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// restore accepts again, on the same address, and forwards what was held.
func (p *e2eProxy) restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		var err error
		deadline := time.Now().Add(e2eWait)
		for p.ln, err = net.Listen("tcp", p.addr); err != nil; p.ln, err = net.Listen("tcp", p.addr) {
			if time.Now().After(deadline) {
				p.t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		p.serve(p.ln)
	}
	p.cutNow = false
	p.cond.Broadcast()
}

func (p *e2eProxy) close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}
