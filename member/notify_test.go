package member

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
)

// TestRoleNotifierBoundsAndReports: the command sees the change in its
// environment; one that fails or outlives pair.notify_timeout is reported
// with its output, and the member goes on.
func TestRoleNotifierBoundsAndReports(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	n := &roleNotifier{timeout: 200 * time.Millisecond, pipeline: "ais-north", member: "host-a", peers: "host-b",
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	change := roleChange{Transition: ftpair.Transition{At: time.Now(), From: ftpair.RoleActivating, To: ftpair.RoleActive, Reason: ftpair.ReasonObituary}, term: 9}

	n.command = `echo "$FEEDD_PIPELINE $FEEDD_MEMBER $FEEDD_PREVIOUS_ROLE $FEEDD_ROLE $FEEDD_REASON $FEEDD_TERM $FEEDD_PEERS" > ` + out
	if err := n.notify(t.Context(), change); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); strings.TrimSpace(string(got)) != "ais-north host-a activating active obituary 9 host-b" {
		t.Fatalf("the command saw %q", got)
	}

	n.command = "echo went wrong; exit 3"
	if err := n.notify(t.Context(), change); err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "went wrong") {
		t.Fatalf("a failing command: %v", err)
	}

	n.command = "sleep 10"
	start := time.Now()
	if err := n.notify(t.Context(), change); err == nil || !strings.Contains(err.Error(), "killed after pair.notify_timeout") {
		t.Fatalf("a command past its timeout: %v", err)
	}
	if d := time.Since(start); d > 9*time.Second { // the command sleeps 10s unless killed
		t.Fatalf("a command past its timeout of 200ms ran %v", d)
	}
}

// TestRoleNotifierWithholdsSecrets: the variables that hold the pair
// link's secret and SASL's password are not passed on to the command, which
// may print its environment into a log; the rest of the environment is.
func TestRoleNotifierWithholdsSecrets(t *testing.T) {
	t.Setenv("FEEDD_TEST_PAIR_KEY", "pair-secret-value-0123456789")
	t.Setenv("FEEDD_TEST_SASL_PASSWORD", "sasl-password-value")
	t.Setenv("FEEDD_TEST_KEPT", "kept-value")
	var cfg Config
	cfg.Pipeline, cfg.MemberID = "ais-north", "host-a"
	cfg.Pair.NotifyTimeout = 5 * time.Second
	cfg.Pair.Link.SecretEnv = "FEEDD_TEST_PAIR_KEY"
	cfg.Kafka.SASL.PasswordEnv = "FEEDD_TEST_SASL_PASSWORD"
	n := newRoleNotifier(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))

	out := filepath.Join(t.TempDir(), "env")
	n.command = "env > " + out
	change := roleChange{Transition: ftpair.Transition{At: time.Now(), From: ftpair.RoleInactive, To: ftpair.RoleActivating}, term: 2}
	if err := n.notify(t.Context(), change); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env := string(got)
	for _, secret := range []string{"FEEDD_TEST_PAIR_KEY", "pair-secret-value", "FEEDD_TEST_SASL_PASSWORD", "sasl-password-value"} {
		if strings.Contains(env, secret) {
			t.Errorf("the command's environment holds %q:\n%s", secret, env)
		}
	}
	for _, kept := range []string{"FEEDD_TEST_KEPT=kept-value", "FEEDD_ROLE=activating", "FEEDD_MEMBER=host-a"} {
		if !strings.Contains(env, kept) {
			t.Errorf("the command's environment lacks %q:\n%s", kept, env)
		}
	}
}
