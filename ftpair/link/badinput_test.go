package link

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/feedd/feedd/ftpair"
)

// TestBadInput sends the acceptor b every kind of bad input while its real
// peer a is connected (through a proxy that records a's frames). Each is
// rejected and counted under its reason; b keeps working with a; neither
// side reports an obituary.
func TestBadInput(t *testing.T) {
	// b also knows c, which it must dial itself (c > b), and a2, a member
	// that never runs: a rogue holding the secret claims to be a2.
	b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere},
		PeerConfig{ID: "a2", Address: nowhere}, PeerConfig{ID: "c", Address: nowhere}), hmacCreds())
	px := newProxy(t, b.addr())
	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: px.addr()}), hmacCreds())
	waitFlowing(t, a, b)

	var first [][]byte // a's first session, as recorded
	waitFor(t, "frames recorded", func() bool { first = px.captured(); return len(first) >= 5 })

	step := func(name string, r RejectReason, act func()) {
		t.Helper()
		before := b.rejected(r)
		act()
		waitFor(t, name+": rejected as "+string(r), func() bool { return b.rejected(r) > before })
		// b still (or again) exchanges heartbeats with the real a; those
		// events follow any obituary the bad input could have caused.
		waitFlowing(t, a, b)
		if n, m := a.closed("b"), b.closed("a"); n != 0 || m != 0 {
			t.Fatalf("%s: obituaries reported (a: %d, b: %d)", name, n, m)
		}
	}
	raw := func(input ...[]byte) func() {
		return func() {
			c := dialRaw(t, b.addr())
			c.Write(bytes.Join(input, nil))
			c.(*net.TCPConn).CloseWrite()
			drain(c)
		}
	}
	frame := func(body ...byte) []byte {
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(body))), body...)
	}

	// Garbage and framing, before any handshake.
	step("an HTTP request", RejectOversized, raw([]byte("GET / HTTP/1.1\r\nHost: b\r\n\r\n")))
	step("a huge length", RejectOversized, raw([]byte{0xff, 0xff}, bytes.Repeat([]byte{'x'}, 100)))
	step("an empty frame", RejectMalformed, raw([]byte{0, 0}))
	step("an unknown message type", RejectMalformed, raw(frame(WireVersion, 99, 0, 0)))
	step("a hello with a bad id length", RejectMalformed, raw(frame(WireVersion, byte(msgHello), byte(modeHMAC), 200, 'a')))
	step("a wrong wire version", RejectVersion, raw(frame(9, byte(msgHello), 1, 2, 3)))
	step("a hello of wire version 1 (a feedd without frame identity)", RejectVersion, raw(v1Hello("a", "b")))
	step("a truncated frame", RejectTruncated, func() {
		c := dialRaw(t, b.addr())
		c.Write([]byte{0, 50, WireVersion, byte(msgHello), 1})
		c.(*net.TCPConn).CloseWrite()
		drain(c)
	})
	step("a silent connection", RejectIncomplete, raw())
	step("the other mode", RejectMode, raw(appendHello(nil, msgHello, hello{mode: modeMTLS, from: "a", to: "b"})))

	// Identity.
	step("an unknown member", RejectUnknownPeer, raw(appendHello(nil, msgHello, hello{mode: modeHMAC, from: "z", to: "b"})))
	step("a hello for another member", RejectWrongPeer, raw(appendHello(nil, msgHello, hello{mode: modeHMAC, from: "a", to: "x"})))
	step("a dial from a member b dials", RejectWrongPeer, raw(appendHello(nil, msgHello, hello{mode: modeHMAC, from: "c", to: "b"})))

	// Authentication.
	step("a proof made with the wrong secret", RejectMAC, func() {
		c := dialRaw(t, b.addr())
		w, nd := rogueHello(t, c, "a", "b")
		c.Write(appendProof(nil, derive([]byte("wrong secret, same length!!!!!!!"), labelProof, transcript(modeHMAC, "a", "b", nd, w.nonce, Identity{}, w.ident))))
		drain(c)
	})
	step("a's first session replayed in a new connection", RejectMAC, func() {
		c := dialRaw(t, b.addr())
		c.Write(first[0]) // a's hello
		readFrame(c, make([]byte, MaxFrame))
		c.Write(bytes.Join(first[1:], nil)) // a's proof and heartbeats
		drain(c)
	})

	// Inside a's real session, between its frames.
	injectInto := func(mutate func(cur [][]byte) []byte) func() {
		return func() {
			var cur [][]byte
			waitFor(t, "current session recorded", func() bool { cur = px.captured(); return len(cur) >= 5 })
			px.inject(mutate(cur))
		}
	}
	step("a's heartbeat replayed in the same session", RejectReplay, injectInto(func(cur [][]byte) []byte {
		return cur[2] // proof is cur[1]; cur[2] is the first heartbeat
	}))
	step("a's heartbeat forged", RejectMAC, injectInto(func(cur [][]byte) []byte {
		f := bytes.Clone(cur[3])
		f[len(f)-macLen-1] ^= 1 // a payload bit
		return f
	}))
	step("a's heartbeats reordered", RejectReplay, func() {
		waitFor(t, "current session recorded", func() bool { return len(px.captured()) >= 3 })
		px.swapNext()
	})
	step("an oversized frame in the session", RejectOversized, injectInto(func([][]byte) []byte { return []byte{0x10, 0x01} }))
	step("a sealed message too short", RejectMalformed, injectInto(func([][]byte) []byte {
		return frame(WireVersion, byte(msgHeartbeat), 0, 0, 0) // too short to hold a sequence number and tag
	}))

	// A rogue that holds the secret can claim to be any member (mTLS
	// prevents that), here a2; what it sends is still checked.
	step("a heartbeat from another member", RejectWrongPeer, func() {
		c, s := rogueSession(t, b.addr(), "a2", "b", testSecret)
		c.Write(sealHB(t, s, ftpair.Heartbeat{From: "a", Incarnation: 1, Seq: 1}))
		drain(c)
	})
	step("a's heartbeat replayed in a new session", RejectMAC, func() {
		c, _ := rogueSession(t, b.addr(), "a2", "b", testSecret)
		c.Write(first[2])
		drain(c)
	})
	step("an undecodable heartbeat", RejectMalformed, func() {
		c, s := rogueSession(t, b.addr(), "a2", "b", testSecret)
		f, _ := s.seal(nil, msgHeartbeat, withTiming([]byte{ftpair.HeartbeatWireVersion, 0}))
		c.Write(f)
		drain(c)
	})
	step("a heartbeat of an unknown version", RejectVersion, func() {
		c, s := rogueSession(t, b.addr(), "a2", "b", testSecret)
		f, _ := s.seal(nil, msgHeartbeat, withTiming([]byte{99, 1, 'a'}))
		c.Write(f)
		drain(c)
	})
	step("a heartbeat without a timing block", RejectMalformed, func() {
		c, s := rogueSession(t, b.addr(), "a2", "b", testSecret)
		payload, _ := ftpair.Heartbeat{From: "a2", Incarnation: 1, Seq: 1}.MarshalBinary()
		f, _ := s.seal(nil, msgHeartbeat, payload[:timingMin-1])
		c.Write(f)
		drain(c)
	})
	step("a timing block with unknown flags", RejectMalformed, func() {
		c, s := rogueSession(t, b.addr(), "a2", "b", testSecret)
		tb := appendTiming(nil, timing{clock: 1, sent: 1})
		tb[len(tb)-1] = 2
		payload, _ := ftpair.Heartbeat{From: "a2", Incarnation: 1, Seq: 1}.MarshalBinary()
		f, _ := s.seal(nil, msgHeartbeat, append(tb, payload...))
		c.Write(f)
		drain(c)
	})
	// A member holding the secret, with other frame identity settings:
	// authenticated, then refused.
	step("another frame identity", RejectIdentity, func() {
		c := dialRaw(t, b.addr())
		_, _, err := clientHandshake(c, modeHMAC, "a2", "b", testSecret, Identity{Digest: [IdentityDigestLen]byte{1}, Description: "framing lines"}, newNonce())
		mustReason(t, err, RejectIdentity)
		drain(c)
	})
	// A member holding the secret that runs under b's own id: authenticated,
	// then refused as a member id clash.
	step("our own member id", RejectDuplicateID, func() {
		c := dialRaw(t, b.addr())
		_, _, err := clientHandshake(c, modeHMAC, "b", "c", testSecret, Identity{}, newNonce())
		mustReason(t, err, RejectDuplicateID)
		drain(c)
	})
	if n := b.closed("a2"); n != 0 {
		t.Fatalf("%d obituaries for sessions b dropped", n)
	}

	st := b.l.Status()
	for _, r := range RejectReasons {
		if r != RejectTLS && r != RejectBusy && st.Rejected[r] == 0 {
			t.Errorf("reason %s never counted", r)
		}
	}
	t.Logf("b rejected: %v; a's status of b: %+v", st.Rejected, a.peerStatus("b"))
}

// v1Hello is a hello as wire version 1 wrote it: mode, ids and nonce, no
// frame identity.
func v1Hello(from, to string) []byte {
	body := []byte{1, byte(msgHello), byte(modeHMAC)}
	body = appendID(body, from)
	body = appendID(body, to)
	body = append(body, make([]byte, nonceLen)...)
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(body))), body...)
}
