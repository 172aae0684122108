package link

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/prometheus/client_golang/prometheus"
)

func TestHeartbeatsBothWaysAndRestarts(t *testing.T) {
	a, b := startPair(t)

	// The first event about a peer is PeerConnected.
	for _, m := range []*member{a, b} {
		m.mu.Lock()
		first := m.events[0]
		m.mu.Unlock()
		if _, ok := first.(ftpair.PeerConnected); !ok {
			t.Fatalf("%s: first event %v, want PeerConnected", m.id, first)
		}
	}
	if st := a.peerStatus("b"); !st.Connected || !st.Dials || st.Connects != 1 || st.Sent == 0 || st.Received == 0 || st.LastMessage.IsZero() {
		t.Fatalf("a's status of b: %+v", st)
	}
	if st := b.peerStatus("a"); !st.Connected || st.Dials || st.Incarnation != a.inc {
		t.Fatalf("b's status of a: %+v", st)
	}
	if heard, gone := a.l.LastHeard(); heard.IsZero() || time.Since(heard) > time.Minute || gone {
		t.Fatalf("a last heard its peer at %v (gone %v)", heard, gone)
	}

	// Restart the acceptor: a hears it leave (an obituary: it shut down)
	// and redials the new process on the same address.
	bAddr := b.addr()
	b.stop()
	waitFor(t, "a reports b's departure", func() bool { return a.closed("b") == 1 })
	if ev := a.closedEvents()[0]; ev.Incarnation != b.inc {
		t.Fatalf("PeerClosed %v, want incarnation %d", ev, b.inc)
	}
	b2 := startMember(t, "b", testConfig(bAddr, PeerConfig{ID: "a", Address: nowhere}), hmacCreds())
	waitFlowing(t, a, b2)
	if n := a.connected("b"); n != 2 {
		t.Fatalf("a: %d PeerConnected for b, want 2", n)
	}

	// Restart the dialer: b2 hears it leave and accepts the new one.
	a.stop()
	waitFor(t, "b2 reports a's departure", func() bool { return b2.closed("a") == 1 })
	a2 := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: bAddr}), hmacCreds())
	waitFlowing(t, a2, b2)
	if n := a.closed("b"); n != 1 {
		t.Fatalf("a: %d PeerClosed, want 1", n)
	}
}

func TestCrashIsOneObituary(t *testing.T) {
	t.Run("acceptor dies", func(t *testing.T) {
		a, b := startPair(t)
		bAddr := b.addr()
		b.crash()
		waitFor(t, "a reports b's death", func() bool { return a.closed("b") == 1 })
		if ev := a.closedEvents()[0]; ev.Incarnation != b.inc {
			t.Fatalf("PeerClosed %v, want incarnation %d", ev, b.inc)
		}
		// a keeps redialing; failed dials are not obituaries.
		failures := a.peerStatus("b").DialFailures
		waitFor(t, "a redials", func() bool { return a.peerStatus("b").DialFailures >= failures+2 })
		b2 := startMember(t, "b", testConfig(bAddr, PeerConfig{ID: "a", Address: nowhere}), hmacCreds())
		waitFlowing(t, a, b2)
		// Events are in order: whatever came before the heartbeats of b2
		// has been recorded.
		if n := a.closed("b"); n != 1 {
			t.Fatalf("a: %d PeerClosed, want exactly 1", n)
		}
		if st := a.peerStatus("b"); st.Obituaries != 1 || st.Connects != 2 {
			t.Fatalf("a's status of b: %+v", st)
		}
	})
	t.Run("dialer dies", func(t *testing.T) {
		a, b := startPair(t)
		a.crash()
		waitFor(t, "b reports a's death", func() bool { return b.closed("a") == 1 })
		if heard, gone := b.l.LastHeard(); heard.IsZero() || !gone {
			t.Fatalf("after a's obituary b last heard a at %v, gone %v; want a time, and gone", heard, gone)
		}
		a2 := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds())
		waitFlowing(t, a2, b)
		if _, gone := b.l.LastHeard(); gone {
			t.Fatal("b heard a's new process, yet still takes a for gone")
		}
		if n := b.closed("a"); n != 1 {
			t.Fatalf("b: %d PeerClosed, want exactly 1", n)
		}
		if ev := b.closedEvents()[0]; ev.Incarnation != a.inc {
			t.Fatalf("PeerClosed %v, want incarnation %d", ev, a.inc)
		}
	})
}

// TestHelperProcess is the member "a" of TestKilledProcessIsOneObituary, in
// a process of its own. It does nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("FEEDD_LINK_HELPER") != "1" {
		return
	}
	time.AfterFunc(waitLimit, func() { os.Exit(3) }) // never outlive a lost parent
	cfg := testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: os.Getenv("FEEDD_LINK_HELPER_PEER")})
	cfg.SecretEnv = "FEEDD_LINK_HELPER_SECRET"
	creds, err := cfg.LoadCredentials()
	if err != nil {
		t.Fatal(err)
	}
	l, err := New("a", cfg, creds, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go l.Run(context.Background())
	go func() {
		for range l.Events() {
		}
	}()
	for seq := uint64(1); ; seq++ {
		l.Send("", ftpair.Heartbeat{From: "a", Incarnation: 77, Seq: seq, Weight: 1})
		time.Sleep(hbPeriod)
	}
}

func TestKilledProcessIsOneObituary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds())
	var out testsupport.SyncBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FEEDD_LINK_HELPER=1",
		"FEEDD_LINK_HELPER_PEER="+b.addr(), "FEEDD_LINK_HELPER_SECRET="+string(testSecret))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("helper output:\n%s", out.String())
		}
	})
	waitFor(t, "b hears the helper", func() bool { return b.heartbeats("a", 77) >= 3 })
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	waited = true
	waitFor(t, "b reports the killed process", func() bool { return b.closed("a") == 1 })
	waitFor(t, "the session is over", func() bool { return b.peerStatus("a").Disconnects == 1 })
	if ev := b.closedEvents()[0]; ev.Incarnation != 77 {
		t.Fatalf("PeerClosed %v, want incarnation 77", ev)
	}
	if st := b.peerStatus("a"); st.Obituaries != 1 || st.Connects != 1 || b.closed("a") != 1 {
		t.Fatalf("want exactly one session and one obituary: %+v, %d PeerClosed", st, b.closed("a"))
	}
}

func TestCloseAfterSilenceIsNotObituary(t *testing.T) {
	cfg := testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere})
	cfg.ObituaryWindow = 50 * time.Millisecond
	b := startMember(t, "b", cfg, hmacCreds())

	c, _ := rogueSession(t, b.addr(), "a", "b", testSecret)
	waitFor(t, "session up", func() bool { return b.connected("a") == 1 })
	time.Sleep(4 * cfg.ObituaryWindow) // a lower bound: a slow machine only sleeps longer
	c.Close()
	waitFor(t, "session down", func() bool { return b.peerStatus("a").Disconnects == 1 })
	if heard, gone := b.l.LastHeard(); heard.IsZero() || gone {
		t.Fatalf("after a close that is no obituary b last heard a at %v, gone %v: it may be alive behind a cut link", heard, gone)
	}

	// A later session is a barrier: its PeerConnected follows anything the
	// first one reported.
	c2, s2 := rogueSession(t, b.addr(), "a", "b", testSecret)
	waitFor(t, "second session up", func() bool { return b.connected("a") == 2 })
	if n := b.closed("a"); n != 0 {
		t.Fatalf("%d PeerClosed for a close after silence", n)
	}
	// Within the window, a close is an obituary.
	if _, err := c2.Write(sealHB(t, s2, ftpair.Heartbeat{From: "a", Incarnation: 5, Seq: 1})); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	// (The window is 50ms: on a machine too loaded to read a heartbeat and
	// the end of stream within it, the close is correctly not an
	// obituary; the test then proves nothing more, but does not fail.)
	waitFor(t, "second session down", func() bool { return b.peerStatus("a").Disconnects == 2 })
}

func TestWrongSecret(t *testing.T) {
	b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds())
	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}),
		Credentials{Secret: []byte("another secret, not the group's")})
	// The acceptor proves itself first: the dialer finds that proof bad.
	waitFor(t, "a rejects b's proof", func() bool { return a.rejected(RejectMAC) >= 2 })
	waitFor(t, "b sees the handshakes abandoned", func() bool { return b.rejected(RejectIncomplete) >= 2 })
	if a.connected("b") != 0 || b.connected("a") != 0 {
		t.Fatal("a session came up with the wrong secret")
	}
	if st := a.peerStatus("b"); st.Connected || !strings.Contains(st.LastError, string(RejectMAC)) {
		t.Fatalf("a's status of b: %+v", st)
	}
}

func TestDialerChecksWhoAnswers(t *testing.T) {
	// A fake acceptor answers a's hello as "x".
	impostor, _ := testsupport.Serve(t, func(c net.Conn) {
		frame, err := readFrame(c, make([]byte, MaxFrame))
		if err == nil {
			h, _ := parseHello(frame, msgHello)
			c.Write(appendHello(nil, msgWelcome, hello{mode: modeHMAC, from: "x", to: h.from, mac: make([]byte, macLen)}))
		}
		c.Close()
	})
	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: impostor}), hmacCreds())
	waitFor(t, "a rejects the impostor", func() bool { return a.rejected(RejectWrongPeer) >= 1 })
	if a.connected("b") != 0 {
		t.Fatal("connected to an impostor")
	}
}

func TestRunOnceAndShutdown(t *testing.T) {
	a, _ := startPair(t)
	if err := a.l.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
	a.stop()
	if _, ok := <-a.l.Events(); ok {
		t.Fatal("Events still open after Run returned")
	}
	if st := a.peerStatus("b"); st.Connected {
		t.Fatalf("still connected after shutdown: %+v", st)
	}
}

func TestSendNeverBlocks(t *testing.T) {
	q := hbQueue{buf: make([]ftpair.Heartbeat, 2)}
	for i := uint64(1); i <= 3; i++ {
		if dropped := q.push(ftpair.Heartbeat{Seq: i}); dropped != (i == 3) {
			t.Fatalf("push %d: dropped=%v", i, dropped)
		}
	}
	for _, want := range []uint64{2, 3} {
		if hb, ok := q.pop(); !ok || hb.Seq != want {
			t.Fatalf("pop: %v %v, want seq %d", hb, ok, want)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue")
	}

	// Nobody connected: sends are dropped and counted, never blocked.
	l, err := New("a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: nowhere}), hmacCreds(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 1000 {
		l.Send("", ftpair.Heartbeat{From: "a"})
		l.Send("b", ftpair.Heartbeat{From: "a"})
		l.Send("nobody", ftpair.Heartbeat{From: "a"})
	}
	if n := l.Status().Peers[0].SendNotConnected; n != 2000 {
		t.Fatalf("SendNotConnected = %d, want 2000", n)
	}
}

func TestSecretNeverShown(t *testing.T) {
	secret := []byte("Zq8-unmistakable-pair-secret-7731")
	creds := Credentials{Secret: secret}
	var logs testsupport.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	jlog := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	b := startMemberLog(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), creds, log)
	a := startMemberLog(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), creds, jlog)
	waitFlowing(t, a, b)
	// Failed handshakes both ways, a dropped session, a shutdown.
	c := dialRaw(t, b.addr())
	w, nd := rogueHello(t, c, "a", "b")
	tr := transcript(modeHMAC, "a", "b", nd, w.nonce, Identity{}, w.ident)
	c.Write(appendProof(nil, derive([]byte("guess"), labelProof, tr)))
	drain(c)
	waitFor(t, "bad proof rejected", func() bool { return b.rejected(RejectMAC) >= 1 })
	rogue := startMemberLog(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}),
		Credentials{Secret: []byte("not the secret at all, a guess")}, log)
	waitFor(t, "rogue rejects b", func() bool { return rogue.rejected(RejectMAC) >= 1 })
	rogue.stop()
	log.Info("credentials", "creds", creds)
	jlog.Info("credentials", "creds", creds)
	b.stop()
	a.stop()

	st, err := json.Marshal([]Status{a.l.Status(), b.l.Status()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.l)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	for _, mf := range mfs {
		fmt.Fprintln(&metrics, mf.String())
	}
	shown := map[string]string{
		"logs":    logs.String(),
		"status":  string(st) + fmt.Sprintf("%+v %#v", a.l.Status(), b.l.Status()),
		"metrics": metrics.String(),
		"creds":   fmt.Sprintf("%v %+v %#v %s %x", creds, creds, creds, creds, creds),
	}
	for where, text := range shown {
		for _, form := range []string{string(secret), hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), string(secret[:12])} {
			if strings.Contains(text, form) {
				t.Errorf("the secret appears in %s", where)
			}
		}
	}
	if !strings.Contains(logs.String(), "bad_mac") || !strings.Contains(logs.String(), "[redacted]") {
		t.Errorf("logs lack the rejection or the redacted credentials:\n%s", logs.String())
	}
}

func TestMetrics(t *testing.T) {
	a, _ := startPair(t)
	waitFor(t, "a clock bound", func() bool { return a.peerStatus("b").Clock != nil })
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.l)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{
		"feedd_pair_link_messages_sent_total", "feedd_pair_link_messages_received_total",
		"feedd_pair_link_send_dropped_total", "feedd_pair_link_rejected_total",
		"feedd_pair_link_connects_total", "feedd_pair_link_disconnects_total",
		"feedd_pair_link_obituaries_total", "feedd_pair_link_dial_failures_total",
		"feedd_pair_link_connected", "feedd_pair_link_last_message_timestamp_seconds",
		"feedd_pair_link_identity_refused", "feedd_pair_link_clock_bound_width_seconds",
		"feedd_pair_link_clock_bound_age_seconds", "feedd_pair_link_clock_bounds_total",
	} {
		if !got[name] {
			t.Errorf("metric %s missing", name)
		}
	}
}

// TestRepairMessages: repair messages cross the link both ways, whole and
// in order, interleaved with heartbeats; a message too long for a frame,
// or for a peer not connected, is refused.
func TestRepairMessages(t *testing.T) {
	type got struct {
		mu   sync.Mutex
		msgs []string
	}
	var atA, atB got
	handler := func(g *got, want string) func(string, []byte) {
		return func(from string, p []byte) {
			if from != want {
				t.Errorf("repair message from %q, want %q", from, want)
			}
			g.mu.Lock()
			g.msgs = append(g.msgs, string(p))
			g.mu.Unlock()
		}
	}
	b := startMember(t, "b", testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), hmacCreds(), WithRepairHandler(handler(&atB, "a")))
	a := startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds(), WithRepairHandler(handler(&atA, "b")))
	waitFlowing(t, a, b)
	if a.l.SendRepair("b", make([]byte, MaxRepairPayload+1)) {
		t.Fatal("a repair message longer than MaxRepairPayload was queued")
	}
	if a.l.SendRepair("c", []byte("x")) {
		t.Fatal("a repair message for an unknown peer was queued")
	}
	const n = 300
	big := strings.Repeat("r", MaxRepairPayload-8)
	for i := range n {
		msg := fmt.Sprintf("%08d", i)
		if i%50 == 0 {
			msg += big
		}
		for !a.l.SendRepair("", []byte(msg)) {
			time.Sleep(time.Millisecond) // the queue is full: the link drains it
		}
		if i < 10 {
			waitFor(t, "b to queue a repair message for a", func() bool { return b.l.SendRepair("a", []byte("back"+msg[:8])) })
		}
	}
	waitFor(t, "b to receive every repair message", func() bool {
		atB.mu.Lock()
		defer atB.mu.Unlock()
		return len(atB.msgs) == n
	})
	for i, m := range atB.msgs {
		if m[:8] != fmt.Sprintf("%08d", i) || (i%50 == 0) != (len(m) > 8) {
			t.Fatalf("message %d arrived as %.20q (%d bytes)", i, m, len(m))
		}
	}
	waitFor(t, "a to receive b's", func() bool {
		atA.mu.Lock()
		defer atA.mu.Unlock()
		return len(atA.msgs) == 10
	})
	if a.heartbeats("b", b.inc) == 0 {
		t.Fatal("no heartbeats got through")
	}
}
