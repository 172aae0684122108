package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/member"
	"github.com/feedd/feedd/member/admin"
)

func TestSwitchoverSignsTheRequestTheMemberVerifies(t *testing.T) {
	f := newFakeMember(t, []byte(testSecret), ftpair.RoleActive, ftpair.RoleInactive)
	path := writeMemberConfig(t, f.addr(), "")
	out, _, err := runCmd(t, "switchover", "--config", path, "--to", "host-b")
	if err != nil {
		t.Fatalf("switchover: %v\n%s", err, out)
	}
	if !slices.Equal(f.got(), []string{"host-b"}) {
		t.Fatalf("the member received %v; want one request for host-b", f.got())
	}
	for _, want := range []string{"switchover requested: host-a hands over to host-b", "done: host-b is active (term 8)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testSecret) {
		t.Fatal("the output shows the secret")
	}
}

func TestSwitchoverWithoutATarget(t *testing.T) {
	f := newFakeMember(t, []byte(testSecret), ftpair.RoleActive, ftpair.RoleInactive)
	// --admin overrides the configuration's address.
	path := writeMemberConfig(t, testsupport.ClosedAddr(t), "")
	out, _, err := runCmd(t, "switchover", "--config", path, "--admin", f.addr(), "--wait", "0")
	if err != nil || !strings.Contains(out, "hands over to the next-ranked ready member") {
		t.Fatalf("switchover = %v\n%s", err, out)
	}
	if !slices.Equal(f.got(), []string{""}) {
		t.Fatalf("the member received %v; want one request without a target", f.got())
	}
}

func TestSwitchoverRefusedByAnInactiveMemberNamesTheActive(t *testing.T) {
	f := newFakeMember(t, []byte(testSecret), ftpair.RoleInactive, ftpair.RoleActive)
	path := writeMemberConfig(t, f.addr(), "")
	_, _, err := runCmd(t, "switchover", "--config", path)
	if !errors.Is(err, errRefused) {
		t.Fatalf("err = %v; want a refusal", err)
	}
	for _, want := range []string{"member host-a refused the switchover: not active; ask host-b",
		"the active member is host-b (pair link 10.0.0.2:7400): ask it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestSwitchoverWithTheWrongSecret(t *testing.T) {
	f := newFakeMember(t, []byte("the-member-has-another-secret"), ftpair.RoleActive, ftpair.RoleInactive)
	path := writeMemberConfig(t, f.addr(), "")
	_, _, err := runCmd(t, "switchover", "--config", path)
	if err == nil || !strings.Contains(err.Error(), "did not accept the request's signature") {
		t.Fatalf("err = %v; want the signature refused", err)
	}
	if len(f.got()) != 0 {
		t.Fatalf("a wrongly signed request reached the member: %v", f.got())
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Fatal("the error shows the secret")
	}
}

func TestSwitchoverNotConfirmed(t *testing.T) {
	f := newFakeMember(t, []byte(testSecret), ftpair.RoleActive, ftpair.RoleInactive)
	f.mu.Lock()
	f.accept = false
	f.mu.Unlock()
	path := writeMemberConfig(t, f.addr(), "")
	_, _, err := runCmd(t, "switchover", "--config", path, "--wait", "300ms")
	if err == nil || !strings.Contains(err.Error(), "has not seen a successor active within 300ms") {
		t.Fatalf("err = %v; want the unconfirmed handover reported", err)
	}
}

func TestSwitchoverErrorPaths(t *testing.T) {
	t.Setenv("FEEDD_CONFIG", "")
	if _, stderr, err := runCmd(t, "switchover"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--config is required") {
		t.Errorf("no config: err = %v, stderr %q", err, stderr)
	}

	_, _, err := runCmd(t, "switchover", "--config", writeMemberConfig(t, testsupport.ClosedAddr(t), ""))
	if !errors.Is(err, errUnreachable) {
		t.Errorf("unreachable member: err = %v", err)
	}

	path := writeMemberConfig(t, "127.0.0.1:7070", "")
	if _, _, err := runCmd(t, "switchover", "--config", path, "--to", "host-z"); err == nil || !strings.Contains(err.Error(), "not a member of this pair (host-a, host-b)") {
		t.Errorf("unknown target: err = %v", err)
	}

	mtls := writeMemberConfig(t, "127.0.0.1:7070", "  auth: mtls\n  tls:\n    ca_file: ca.pem\n    cert_file: a.pem\n    key_file: a.key\n")
	if _, _, err := runCmd(t, "switchover", "--config", mtls); err == nil || !strings.Contains(err.Error(), "pair.auth is mtls") {
		t.Errorf("mtls pair: err = %v", err)
	}

	missing := writeMemberConfig(t, "127.0.0.1:7070", "")
	if _, _, err := runCmd(t, "switchover", "--config", filepath.Join(filepath.Dir(missing), "nothing.yaml")); err == nil {
		t.Error("a missing configuration file was accepted")
	}
}

func TestSwitchoverSignatureExpires(t *testing.T) {
	// The header the command sends verifies for the same action and target
	// within the window, and for nothing else.
	secret := []byte(testSecret)
	now := time.Now()
	h := admin.SignRequest(secret, "switchover", "host-b", now)
	if err := admin.VerifyRequest(secret, h, "switchover", "host-b", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if admin.VerifyRequest(secret, h, "switchover", "", now) == nil || admin.VerifyRequest(secret, h, "switchover", "host-b", now.Add(2*admin.AuthWindow)) == nil {
		t.Fatal("the signature verifies for another target or after the window")
	}
}

// TestSwitchoverBetweenRealMembers runs the demo's pair (two `feedd run`
// processes on a simulated feed and the embedded broker) and switches the
// active role over with the command, as an operator would.
func TestSwitchoverBetweenRealMembers(t *testing.T) {
	demoNeedsSocat(t)
	if testing.Short() {
		t.Skip("starts a broker, a simulated feed and two member processes")
	}
	dir := t.TempDir()
	o, err := parseDemoFlags([]string{"--duration", "25s", "--failover-every", "0", "--dir", dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.command = testDemoChild
	configs := map[string]string{"host-a": filepath.Join(dir, "host-a.yaml"), "host-b": filepath.Join(dir, "host-b.yaml")}

	type outcome struct {
		active, inactive string // as found before the requests; "" if the pair never settled
		refused, done    error
		out              string
	}
	result := make(chan outcome, 1)
	go func() {
		var r outcome
		defer func() { result <- r }()
		// Wait until one member is active and the other could take over;
		// either may win the first activation.
		deadline := time.Now().Add(20 * time.Second)
		for ; time.Now().Before(deadline) && r.active == ""; time.Sleep(200 * time.Millisecond) {
			for active, inactive := range map[string]string{"host-a": "host-b", "host-b": "host-a"} {
				stA, stI := demoStatus(configs[active]), demoStatus(configs[inactive])
				if stA != nil && stI != nil && stA.Role == "active" && stI.Role == "inactive" &&
					stI.Broadcast.Counters.EchoMatched > 0 && stI.ActivePeer() == active {
					r.active, r.inactive = active, inactive
				}
			}
		}
		if r.active == "" {
			return
		}
		_, _, r.refused = runCmd(t, "switchover", "--config", configs[r.inactive])
		r.out, _, r.done = runCmd(t, "switchover", "--config", configs[r.active], "--to", r.inactive)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := playDemo(ctx, o, &out)
	r := <-result
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.active == "" {
		t.Fatal("the pair never had one member active and the other ready to take over")
	}
	if !errors.Is(r.refused, errRefused) || !strings.Contains(r.refused.Error(), "the active member is "+r.active) {
		t.Errorf("switchover asked of the inactive member %s: %v; want a refusal naming %s", r.inactive, r.refused, r.active)
	}
	if r.done != nil || !strings.Contains(r.out, "done: "+r.inactive+" is active") {
		t.Errorf("switchover asked of the active member %s: %v\n%s", r.active, r.done, r.out)
	}
	if !res.clean() || res.Report.HandoverCount < 1 {
		t.Errorf("after the switchover the audit says: %s", res.verdict())
	}
}

// demoStatus reads the status of the member configured in path, or nil.
func demoStatus(path string) *member.Status {
	cfg, _, err := memberConfig(path, func(string) (string, bool) { return "", false }, member.ModeAuto)
	if err != nil {
		return nil
	}
	addr, err := adminOf(cfg, path)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, st, err := newAdminClient(addr, time.Second).status(ctx)
	if err != nil {
		return nil
	}
	return st
}
