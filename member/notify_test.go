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
