package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/member"
	"github.com/feedd/feedd/member/admin"
)

// fakeMember serves the real admin mux with a status built from the real
// types, so the commands read exactly what `feedd run` sends.
type fakeMember struct {
	mu       sync.Mutex
	id, peer string
	role     ftpair.Role
	term     uint64
	peerRole ftpair.Role
	peerTerm uint64
	// accept switches the roles on a switchover request; otherwise the
	// request is refused as the core refuses it.
	accept   bool
	requests []string
	// notReady is what /readyz answers when set; peerView is the core's
	// view of the peer ("heard" when empty); unheard is a configured
	// peer only the link knows of.
	notReady error
	peerView string
	unheard  string

	srv *httptest.Server
}

func newFakeMember(t *testing.T, secret []byte, role, peerRole ftpair.Role) *fakeMember {
	t.Helper()
	f := &fakeMember{id: "host-a", peer: "host-b", role: role, term: 7, peerRole: peerRole, peerTerm: 7, accept: true}
	h := admin.Handlers{
		Status:  f.status,
		Healthy: func() error { return nil },
		Ready: func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.notReady
		},
		Switchover: f.switchover,
		Secret:     secret,
	}
	f.srv = httptest.NewServer(admin.NewMux(h, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMember) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeMember) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeMember) switchover(_ context.Context, target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, target)
	switch {
	case f.role != ftpair.RoleActive && f.peerRole == ftpair.RoleActive:
		return errors.New("not active; ask " + f.peer)
	case f.role != ftpair.RoleActive:
		return errors.New("not active")
	case !f.accept:
		return nil // accepted, but the handover never shows
	}
	f.role, f.peerRole, f.peerTerm = ftpair.RoleInactive, ftpair.RoleActive, f.term+1
	return nil
}

func (f *fakeMember) status() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	since := now.Add(-3 * time.Minute)
	view := cmp.Or(f.peerView, "heard")
	linkPeers := []link.PeerStatus{{ID: f.peer, Address: "10.0.0.2:7400", Connected: true, Since: since}}
	if f.unheard != "" {
		linkPeers = append(linkPeers, link.PeerStatus{ID: f.unheard, Address: "10.0.0.3:7400"})
	}
	return member.Status{
		Pipeline: "ais-north", Member: f.id, Version: "v1.2.3", Mode: member.ModeAuto, Role: f.role.String(),
		Ingest: ingest.Health{Connected: true, LastFrameAt: now.Add(-40 * time.Millisecond),
			Frames: 123456, Bytes: 7_654_321, Dropped: 2, Reconnects: 1},
		Broadcast: broadcast.Status{
			Pipeline: "ais-north", Member: f.id, Topic: "ais-north", TransactionalID: "feedd-ais-north",
			State: broadcast.StateActive, StateSince: since,
			Ring:         backlog.Stats{Len: 3, Bytes: 186, OverflowFrames: 10, OverflowBytes: 620, OverflowLost: 7, OverflowGaps: 1, LimboLen: 1, OverflowResolved: 2},
			LastCommitAt: now.Add(-20 * time.Millisecond), LastCommitOffset: 1234,
			ProducerID: 42, ProducerEpoch: 5,
			Counters: broadcast.Counters{Commits: 900, CommittedFrames: 123450, Fenced: 1, Holes: 4, RepairedFrames: 31},
			LastHole: &broadcast.HoleReport{At: now.Add(-2 * time.Second), Kind: "reopened", Span: 120 * time.Millisecond,
				Repaired: 12, Possible: 2, Unrepaired: broadcast.UnrepairedPeerLacks, MissingSeq: 3, Held: 210 * time.Millisecond},
		},
		Pair: &ftpair.Status{
			MemberID: f.id, Role: f.role, RoleSince: since, Term: f.term,
			Peers: []ftpair.PeerStatus{{ID: f.peer, View: view, Connected: true, Role: f.peerRole, Term: f.peerTerm,
				LastHeard: now.Add(-50 * time.Millisecond)}},
			Transitions: []ftpair.Transition{
				{At: since.Add(-time.Second), From: ftpair.RoleInactive, To: ftpair.RoleActivating, Reason: ftpair.ReasonObituary},
				{At: since, From: ftpair.RoleActivating, To: ftpair.RoleActive},
			},
			Counters: ftpair.Counters{Activations: 3, Obituaries: 1,
				StepDowns: map[ftpair.Reason]uint64{ftpair.ReasonFenced: 1, ftpair.ReasonSwitchover: 1}},
		},
		Link: &link.Status{MemberID: f.id, Listen: "127.0.0.1:7400", Auth: link.AuthHMAC,
			Peers: linkPeers},
	}
}

// runCmd runs "feedd name args..." and returns its output and the error
// it ended with (which dispatch turns into the exit status).
func runCmd(t *testing.T, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	_, err := execute(ctx, newRoot(&stdout, &stderr, commands()...), append([]string{name}, args...))
	return stdout.String(), stderr.String(), err
}

func TestStatusShowsTheMemberForAPerson(t *testing.T) {
	f := newFakeMember(t, nil, ftpair.RoleActive, ftpair.RoleInactive)
	out, _, err := runCmd(t, "status", "--admin", f.addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"member host-a of pipeline ais-north",
		"ACTIVE since", "term 7",
		"connected, frames arriving; 123456 frames", "2 dropped", "1 reconnects",
		"3 frames, 186 B held",
		"offset 1234",
		"id 42, epoch 5",
		"activations 3", "step-downs 2 (fenced 1, switchover 1)", "obituaries 1", "fenced 1",
		"OVERFLOW 10 frames (620 B): 7 frames lost in 1 gap, 1 pending, 2 reached the topic",
		"reopened 2s ago, spanning 120ms: 12 frames from the peer (2 marked possible), held 210ms, NOT REPAIRED: peer_lacks, 3 sequence numbers MISSING (4 holes, 31 frames repaired in all)",
		"host-b", "heard, link up", "inactive",
		"inactive → activating  (obituary)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestStatusPeers: a configured peer not heard of yet is listed, and a
// dead peer's last role is not shown as its role.
func TestStatusPeers(t *testing.T) {
	f := newFakeMember(t, nil, ftpair.RoleInactive, ftpair.RoleActive)
	f.peerView, f.unheard = "dead", "host-c"
	out, _, err := runCmd(t, "status", "--admin", f.addr())
	if err != nil {
		t.Fatal(err)
	}
	var peerLines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  host-b ") || strings.HasPrefix(l, "  host-c ") {
			peerLines = append(peerLines, l)
		}
	}
	if len(peerLines) != 2 || strings.Contains(out, "none configured") {
		t.Fatalf("want a line for host-b and host-c:\n%s", out)
	}
	if b := peerLines[0]; !strings.Contains(b, "dead") || !strings.Contains(b, "- (was active)") {
		t.Errorf("dead peer shown as %q", b)
	}
	if c := peerLines[1]; !strings.Contains(c, "not heard yet, link down") {
		t.Errorf("configured peer shown as %q", c)
	}
}

// TestStatusCheck: --check exits non-zero, saying why, unless the member is
// healthy and ready.
func TestStatusCheck(t *testing.T) {
	f := newFakeMember(t, nil, ftpair.RoleActive, ftpair.RoleInactive)
	if _, _, err := runCmd(t, "status", "--admin", f.addr(), "--check"); err != nil {
		t.Fatalf("healthy member: %v", err)
	}
	f.mu.Lock()
	f.notReady = errors.New("serial device /dev/ttyUSB0 is not open")
	f.mu.Unlock()
	out, _, err := runCmd(t, "status", "--admin", f.addr(), "--check")
	if err == nil || !strings.Contains(err.Error(), "member host-a is not healthy: /readyz: serial device /dev/ttyUSB0 is not open") {
		t.Fatalf("member not ready: err %v", err)
	}
	if !strings.Contains(out, "member host-a of pipeline ais-north") {
		t.Errorf("--check printed no status:\n%s", out)
	}
	if _, _, err := runCmd(t, "status", "--admin", f.addr()); err != nil {
		t.Fatalf("without --check the status alone: %v", err)
	}
}

func TestStatusJSONPassesTheDocumentThrough(t *testing.T) {
	f := newFakeMember(t, nil, ftpair.RoleInactive, ftpair.RoleActive)
	out, _, err := runCmd(t, "status", "--admin", "http://"+f.addr(), "--json")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(f.srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	direct, _ := io.ReadAll(resp.Body)
	// The timestamps are made per request; everything before them matches.
	cut := func(s string) string { s, _, _ = strings.Cut(s, `"last_frame_at"`); return s }
	if cut(out) != cut(string(direct)) || !strings.HasPrefix(out, "{") {
		t.Fatalf("--json printed\n%s\nthe member sent\n%s", out, direct)
	}
}

func TestStatusTakesTheAdminAddressFromTheConfig(t *testing.T) {
	f := newFakeMember(t, nil, ftpair.RoleActive, ftpair.RoleInactive)
	path := writeMemberConfig(t, f.addr(), "")
	out, _, err := runCmd(t, "status", "--config", path)
	if err != nil || !strings.Contains(out, "member host-a") {
		t.Fatalf("status --config = %v\n%s", err, out)
	}

	off := writeMemberConfig(t, "off", "")
	if _, _, err := runCmd(t, "status", "--config", off); err == nil || !strings.Contains(err.Error(), "admin.listen is off") {
		t.Fatalf("admin.listen off: err = %v", err)
	}
}

func TestStatusUnreachableMember(t *testing.T) {
	addr := testsupport.ClosedAddr(t)
	_, _, err := runCmd(t, "status", "--admin", addr)
	if !errors.Is(err, errUnreachable) || !strings.Contains(err.Error(), "cannot reach the admin endpoint at "+addr) ||
		!strings.Contains(err.Error(), "is `feedd run` running there") {
		t.Fatalf("err = %v; want a clear unreachable error", err)
	}

	notFeedd := httptest.NewServer(http.NotFoundHandler())
	defer notFeedd.Close()
	_, _, err = runCmd(t, "status", "--admin", strings.TrimPrefix(notFeedd.URL, "http://"))
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v; want the HTTP status named", err)
	}

	// A stopped or hung member still has its listening socket: the kernel
	// takes the connection and nothing answers. That is not "not running".
	silent, _ := testsupport.Serve(t, func(net.Conn) {}) // takes each connection and holds it
	_, _, err = runCmd(t, "status", "--admin", silent, "--timeout", "200ms")
	if !errors.Is(err, errUnreachable) || !strings.Contains(err.Error(), "took the connection but did not answer") ||
		!strings.Contains(err.Error(), "stopped or hung") || strings.Contains(err.Error(), "is `feedd run` running there") {
		t.Fatalf("silent member: err = %v; want it told from one that is not running", err)
	}

	if _, _, err := runCmd(t, "status", "--admin", "nowhere"); err == nil || !strings.Contains(err.Error(), "--admin") {
		t.Fatalf("bad --admin: err = %v", err)
	}
	if _, _, err := runCmd(t, "status", "extra"); !errors.Is(err, errUsage) {
		t.Fatalf("extra argument: err = %v; want errUsage", err)
	}
}

func TestStatusDialAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:7070":        "127.0.0.1:7070",
		":7070":                 "127.0.0.1:7070",
		"0.0.0.0:7070":          "127.0.0.1:7070",
		"[::]:7070":             "[::1]:7070",
		"host-a.example:7070":   "host-a.example:7070",
		"http://10.0.0.1:7070/": "10.0.0.1:7070",
	} {
		if got, err := dialAddress(in); err != nil || got != want {
			t.Errorf("dialAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"7070", "host", "http://"} {
		if _, err := dialAddress(bad); err == nil {
			t.Errorf("dialAddress(%q) accepted", bad)
		}
	}
}

// writeMemberConfig writes a valid member configuration whose admin.listen
// is admin and whose pair secret is in a file holding secret (or a dummy).
// extra is appended to the pair section.
func writeMemberConfig(t *testing.T, admin, extra string) string {
	t.Helper()
	text := requiredYAML + extra
	if !strings.Contains(extra, "auth:") {
		secretPath := filepath.Join(t.TempDir(), "pair.secret")
		if err := os.WriteFile(secretPath, []byte(testSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		text += "  secret_file: " + secretPath + "\n"
	}
	return writeConfig(t, text+"admin:\n  listen: \""+admin+"\"\n")
}

const testSecret = "a-pair-secret-for-the-tests-0123456789"
