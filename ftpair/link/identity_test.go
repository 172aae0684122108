package link

import (
	"bytes"
	"crypto/sha256"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
)

func testIdentity(desc string) Identity {
	return Identity{Digest: sha256.Sum256([]byte(desc)), Description: desc}
}

var (
	identNMEA    = testIdentity("framing nmea, no sequence, identity v1")
	identNMEASeq = testIdentity("framing nmea, sequence nmea_field=1, identity v1")
)

func TestHandshakeComparesIdentities(t *testing.T) {
	for _, mode := range []authMode{modeHMAC, modeMTLS} {
		for _, same := range []bool{true, false} {
			theirs := identNMEASeq
			if same {
				theirs = identNMEA
			}
			err, cerr := pipeHandshake(mode, "a", "b", theirs, "b", identNMEA)
			if same {
				if err != nil || cerr != nil {
					t.Fatalf("mode %d, same identity: %v / %v", mode, err, cerr)
				}
				continue
			}
			// Each side refuses, naming both settings from its own point
			// of view.
			for _, c := range []struct {
				err          error
				peer         string
				theirs, ours Identity
			}{{err, "a", identNMEASeq, identNMEA}, {cerr, "b", identNMEA, identNMEASeq}} {
				mustReason(t, c.err, RejectIdentity)
				want := "refusing peer " + c.peer + `: its frame identity is "` + c.theirs.Description + `", ours is "` + c.ours.Description +
					`"; the two members would publish the same frames under different identities`
				if !strings.Contains(c.err.Error(), want) {
					t.Fatalf("mode %d: %v\nwant it to say: %s", mode, c.err, want)
				}
			}
		}
	}
	// Same description, different digest: the message shows the digests.
	err := checkIdentity("b", Identity{Digest: [IdentityDigestLen]byte{1}, Description: "x"}, Identity{Description: "x"})
	if !strings.Contains(err.Error(), "the digests do not: 010000000000, ours 000000000000") {
		t.Fatal(err)
	}
}

// TestIdentityRefusedOnBothSides runs two members configured with
// different frame identities: each refuses the other, on every attempt,
// with a clear error (rate-limited), a counted rejection, a PeerRefused
// event naming both settings and a status that says so; no session comes
// up. Restarted with matching settings, they pair and the refusal ends.
func TestIdentityRefusedOnBothSides(t *testing.T) {
	var logs testsupport.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bCfg := testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere})
	b := startMemberLog(t, "b", bCfg, hmacCreds(), log, WithIdentity(identNMEA))
	a := startMemberLog(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds(), log, WithIdentity(identNMEASeq))

	for _, m := range []*member{a, b} {
		peer := map[string]string{"a": "b", "b": "a"}[m.id]
		waitFor(t, m.id+" refuses "+peer+" three times", func() bool { return len(m.refusedEvents(peer)) >= 3 })
		ev := m.refusedEvents(peer)[0]
		if ev.For != bCfg.RefusalHold() || !strings.Contains(ev.Reason, "refusing peer "+peer) {
			t.Fatalf("%s: %+v", m.id, ev)
		}
		if m.connected(peer) != 0 || m.heartbeats(peer, 0) != 0 {
			t.Fatalf("%s: a session came up with %s", m.id, peer)
		}
		if m.rejected(RejectIdentity) < 3 {
			t.Fatalf("%s: %d identity rejections", m.id, m.rejected(RejectIdentity))
		}
		st := m.peerStatus(peer)
		theirs := map[string]Identity{"a": identNMEASeq, "b": identNMEA}[peer]
		if !st.IdentityRefused || st.RefusedAt.IsZero() || st.PeerIdentity == nil || st.PeerIdentity.Description != theirs.Description ||
			st.Refusals < 3 || !strings.Contains(st.LastError, "refusing peer") {
			t.Fatalf("%s's status of %s: %+v", m.id, peer, st)
		}
	}
	if got := a.l.Status().Identity.Description; got != identNMEASeq.Description {
		t.Fatalf("a's identity in status: %q", got)
	}
	// Both sides log the refusal, once each (rate-limited), naming both
	// settings.
	text := logs.String()
	for _, want := range []string{
		`refusing peer b: its frame identity is \"` + identNMEA.Description + `\", ours is \"` + identNMEASeq.Description + `\"`,
		`refusing peer a: its frame identity is \"` + identNMEASeq.Description + `\", ours is \"` + identNMEA.Description + `\"`,
	} {
		if n := strings.Count(text, want); n != 1 {
			t.Errorf("logged %d times, want once: %s\n%s", n, want, text)
		}
	}
	if n := strings.Count(text, "level=ERROR"); n != 2 {
		t.Errorf("%d errors logged, want 2:\n%s", n, text)
	}

	// The operator fixes a's settings.
	a.stop()
	a2 := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds(), WithIdentity(identNMEA))
	waitFlowing(t, a2, b)
	if st := b.peerStatus("a"); st.IdentityRefused || st.PeerIdentity != nil {
		t.Fatalf("b's status of a after pairing: %+v", st)
	}
}

func TestIdentityRefusedMTLS(t *testing.T) {
	ca := newCA(t, "feedd test CA")
	b := startMember(t, "b", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}),
		Credentials{Certificate: ca.issue(t, "b"), CAs: ca.pool}, WithIdentity(identNMEA))
	a := startMember(t, "a", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}),
		Credentials{Certificate: ca.issue(t, "a"), CAs: ca.pool}, WithIdentity(identNMEASeq))
	waitFor(t, "both refuse", func() bool { return len(a.refusedEvents("b")) >= 2 && len(b.refusedEvents("a")) >= 2 })
	if a.connected("b") != 0 || b.connected("a") != 0 {
		t.Fatal("a session came up")
	}
}

// TestIdentityBoundToTheHandshake: someone in between who changes either
// side's identity in the handshake breaks its authentication; nobody is
// refused (or accepted) on an identity the peer did not send.
func TestIdentityBoundToTheHandshake(t *testing.T) {
	for _, c := range []struct {
		name string
		t    msgType
		desc bool // change the description instead of the digest
	}{
		{"hello digest", msgHello, false}, {"welcome digest", msgWelcome, false},
		{"hello description", msgHello, true}, {"welcome description", msgWelcome, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds(), WithIdentity(identNMEA))
			px := newFrameProxy(t, b.addr(), func(toAcceptor bool, frame []byte) []byte {
				h, err := parseHello(frame, c.t)
				if err != nil {
					return frame
				}
				if c.desc {
					h.ident.Description += "!"
				} else {
					h.ident.Digest[0] ^= 1
				}
				return appendHello(nil, c.t, h)
			}, nil)
			a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: px.addr()}), hmacCreds(), WithIdentity(identNMEA))
			waitFor(t, "the tampered handshake fails", func() bool { return a.rejected(RejectMAC)+b.rejected(RejectMAC) >= 2 })
			if n := a.rejected(RejectIdentity) + b.rejected(RejectIdentity); n != 0 || len(a.refusedEvents("b"))+len(b.refusedEvents("a")) != 0 {
				t.Fatalf("%d refusals on a tampered identity", n)
			}
			if a.connected("b") != 0 || b.connected("a") != 0 {
				t.Fatal("a session came up")
			}
		})
	}
}

// frameProxy relays connections to target frame by frame in both
// directions, letting a test rewrite frames (mutate) or delay them
// (delay, called before each frame is forwarded; frames keep their order).
type frameProxy struct {
	tcpRelay
	mutate func(toAcceptor bool, frame []byte) []byte
	delay  func(toAcceptor bool) time.Duration
}

func newFrameProxy(t *testing.T, target string, mutate func(bool, []byte) []byte, delay func(bool) time.Duration) *frameProxy {
	t.Helper()
	p := &frameProxy{mutate: mutate, delay: delay}
	p.start(t, target, func(down, up net.Conn) {
		p.wg.Go(func() { p.relay(down, up, true) })
		p.wg.Go(func() { p.relay(up, down, false) })
	})
	return p
}

func (p *frameProxy) relay(from, to net.Conn, toAcceptor bool) {
	defer to.Close()
	defer from.Close()
	buf := make([]byte, MaxFrame)
	for {
		frame, err := readFrame(from, buf)
		if err != nil {
			return
		}
		f := bytes.Clone(frame)
		if p.mutate != nil {
			f = p.mutate(toAcceptor, f)
		}
		if p.delay != nil {
			time.Sleep(p.delay(toAcceptor))
		}
		if _, err := to.Write(f); err != nil {
			return
		}
	}
}
