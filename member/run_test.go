package member

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
)

// TestAdminFailureStopsThePairLink: when the admin endpoint cannot start,
// Run returns only after the stages it started have stopped, the pair
// link's listener among them.
func TestAdminFailureStopsThePairLink(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := loneMemberConfig(t, "admin-taken", "127.0.0.1:1")
	cfg.Admin.Listen = taken.Addr().String()
	m, err := New(cfg, Options{Mode: ModeAuto, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	linkAddr := m.link.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err == nil || !strings.Contains(err.Error(), "admin.listen") {
		t.Fatalf("Run = %v, want the admin endpoint's error", err)
	}
	if c, err := net.DialTimeout("tcp", linkAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the pair link still listens on %s after Run returned", linkAddr)
	}
}

// TestKafkaHealth: an inactive member whose echo consumer has had no answer
// yet reports Kafka failing, so that the core listens for an active's
// commits for a whole activation interval from when Kafka answered, not
// from the start of the process.
func TestKafkaHealth(t *testing.T) {
	since := time.Unix(100, 0)
	for _, c := range []struct {
		name  string
		st    broadcast.Status
		want  ftpair.KafkaState
		since time.Time
	}{
		{"inactive, no answer yet", broadcast.Status{State: broadcast.StateInactive}, ftpair.KafkaFailing, time.Time{}},
		{"inactive, echo failing", broadcast.Status{State: broadcast.StateInactive, Kafka: broadcast.KafkaStatus{State: broadcast.KafkaFailing, Since: since}}, ftpair.KafkaFailing, since},
		{"inactive, echo reading", broadcast.Status{State: broadcast.StateInactive, Kafka: broadcast.KafkaStatus{State: broadcast.KafkaOK}}, ftpair.KafkaOK, time.Time{}},
		{"active, committing", broadcast.Status{State: broadcast.StateActive}, ftpair.KafkaOK, time.Time{}},
		{"active, commits failing", broadcast.Status{State: broadcast.StateActive, CommitFailingSince: since}, ftpair.KafkaFailing, since},
	} {
		if got, s := kafkaHealth(c.st); got != c.want || !s.Equal(c.since) {
			t.Errorf("%s: %v since %v, want %v since %v", c.name, got, s, c.want, c.since)
		}
	}
}
