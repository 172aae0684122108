package link

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/testsupport"
)

func TestHandshakeRefusesOurOwnID(t *testing.T) {
	for _, mode := range []authMode{modeHMAC, modeMTLS} {
		// Configured to dial "b", it reaches a process that runs as "a"
		// too.
		err, cerr := pipeHandshake(mode, "a", "b", identNMEA, "a", identNMEA)
		for _, e := range []error{err, cerr} {
			mustReason(t, e, RejectDuplicateID)
			if !strings.Contains(e.Error(), `runs with member_id "a", which is this member's own`) {
				t.Fatalf("mode %d: %v", mode, e)
			}
		}
	}
}

// TestMemberIDClashRefusedOnBothSides runs two links under one member id:
// the first is configured with a peer "b" whose address is the second's,
// the second with a peer it waits for. Each refuses the other on every
// attempt, reports a PeerRefused naming its own id, shows the clash (with
// the other's address) in its status, and logs the error once.
func TestMemberIDClashRefusedOnBothSides(t *testing.T) {
	var logs testsupport.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	second := startMemberLog(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "0", Address: nowhere}), hmacCreds(), log)
	first := startMemberLog(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: second.addr()}), hmacCreds(), log)

	for _, m := range []*member{first, second} {
		waitFor(t, "three refusals", func() bool { return len(m.refusedEvents("a")) >= 3 })
		ev := m.refusedEvents("a")[0]
		if ev.For != testConfig("").RefusalHold() || !strings.Contains(ev.Reason, "member id clash") {
			t.Fatalf("%+v", ev)
		}
		if m.rejected(RejectDuplicateID) < 3 {
			t.Fatalf("%d clash rejections", m.rejected(RejectDuplicateID))
		}
		st := m.l.Status().MemberIDClash
		if st == nil || !st.Standing || st.At.IsZero() || !strings.Contains(st.Error, "the member at 127.0.0.1:") {
			t.Fatalf("status: %+v", st)
		}
		if n := m.count(func(ev ftpair.Event) bool { _, ok := ev.(ftpair.PeerConnected); return ok }); n != 0 {
			t.Fatalf("%d sessions came up", n)
		}
	}
	// The dialer names the address it dialed.
	if st := first.l.Status().MemberIDClash; !strings.Contains(st.Error, "the member at "+second.addr()+" ") {
		t.Fatalf("the dialer's clash: %s", st.Error)
	}
	if st := first.peerStatus("b"); st.Connected || st.DialFailures < 3 {
		t.Fatalf("the dialer's peer: %+v", st)
	}
	text := logs.String()
	if n := strings.Count(text, "level=ERROR"); n != 2 {
		t.Errorf("%d errors logged, want 2 (one on each side):\n%s", n, text)
	}
	if n := strings.Count(text, "member id clash"); n != 2 {
		t.Errorf("the clash logged %d times, want 2:\n%s", n, text)
	}
}

// TestMemberIDClashMTLS: in mTLS mode the certificate of the member
// dialed names our own id; the TLS handshake lets it through and the link
// handshake finds the clash, on both sides, as in hmac mode.
func TestMemberIDClashMTLS(t *testing.T) {
	ca := newCA(t, "feedd test CA")
	creds := Credentials{Certificate: ca.issue(t, "a"), CAs: ca.pool}
	second := startMember(t, "a", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "0", Address: nowhere}), creds)
	first := startMember(t, "a", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: second.addr()}), creds)
	for _, m := range []*member{first, second} {
		waitFor(t, "three refusals", func() bool { return len(m.refusedEvents("a")) >= 3 })
		if st := m.l.Status().MemberIDClash; st == nil || !st.Standing || !strings.Contains(st.Error, "the member at 127.0.0.1:") {
			t.Fatalf("status: %+v", st)
		}
		if n := m.rejected(RejectDuplicateID); n < 3 {
			t.Fatalf("%d clash rejections", n)
		}
	}
	if st := first.l.Status().MemberIDClash; !strings.Contains(st.Error, "the member at "+second.addr()+" ") {
		t.Fatalf("the dialer's clash: %s", st.Error)
	}
}

// TestImpostorCertificateRefused: in mTLS mode a member whose certificate
// names our own id, answering as the peer we dialed, is the wrong peer.
func TestImpostorCertificateRefused(t *testing.T) {
	ca := newCA(t, "feedd test CA")
	// The impostor runs as "b" with a's certificate.
	impostor := startMember(t, "b", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}),
		Credentials{Certificate: ca.issue(t, "a"), CAs: ca.pool})
	a := startMember(t, "a", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: impostor.addr()}),
		Credentials{Certificate: ca.issue(t, "a"), CAs: ca.pool})
	waitFor(t, "three refusals", func() bool { return a.rejected(RejectWrongPeer) >= 3 })
	if n := a.connected("b"); n != 0 {
		t.Fatalf("%d sessions with the impostor", n)
	}
}

// TestOwnConnectionComingBackIsNoClash: a member whose peer's address
// leads back to its own listener (a copied configuration, or someone
// relaying its connection back to it) reads its own hello there. That is
// refused as the wrong peer, with the address to fix, and is not taken for
// another member running under its id.
func TestOwnConnectionComingBackIsNoClash(t *testing.T) {
	t.Run("hmac", func(t *testing.T) {
		testOwnConnectionComingBack(t, func(addr string) (Config, Credentials) {
			return testConfig(addr, PeerConfig{ID: "b", Address: addr}), hmacCreds()
		})
	})
	t.Run("mtls", func(t *testing.T) {
		ca := newCA(t, "feedd test CA")
		testOwnConnectionComingBack(t, func(addr string) (Config, Credentials) {
			return mtlsConfig(addr, PeerConfig{ID: "b", Address: addr}), Credentials{Certificate: ca.issue(t, "a"), CAs: ca.pool}
		})
	})
}

func testOwnConnectionComingBack(t *testing.T, setup func(addr string) (Config, Credentials)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs testsupport.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, creds := setup(addr)
	a := startMemberLog(t, "a", cfg, creds, log)

	waitFor(t, "three refusals of its own connection", func() bool { return a.rejected(RejectWrongPeer) >= 3 })
	if n := a.rejected(RejectDuplicateID); n != 0 {
		t.Errorf("%d member id clashes counted", n)
	}
	if st := a.l.Status().MemberIDClash; st != nil {
		t.Errorf("status shows a member id clash: %+v", st)
	}
	if ev := a.refusedEvents("a"); len(ev) != 0 {
		t.Errorf("refused itself as a peer: %+v", ev)
	}
	want := "own connection came back to it: the address it dials for peer b (" + addr + ") leads here"
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the log lacks %q:\n%s", want, logs.String())
	}
	// The dialing side's status says why too, not merely that the
	// handshake ended; the listener alone logged and counted it.
	waitFor(t, "the peer's status to name the cause", func() bool {
		return strings.Contains(a.l.Status().Peers[0].LastError, want)
	})
	if n := a.rejected(RejectIncomplete); n != 0 {
		t.Errorf("the dialing side counted %d incomplete handshakes:\n%s", n, logs.String())
	}
}
