package broadcast

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast/kafkatest"
)

func TestExpFirstCommitFresh(t *testing.T) {
	in := kafkatest.Need(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := in.Start(ctx, kafkatest.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer func() {
		if os.Getenv("EXP_KEEP") != "" {
			t.Logf("broker log:\n%s", b.LogTail(80))
		}
	}()
	cfg := kafkaConfig(b.Addr(), "fresh")
	cfg.CommitTimeout = 10 * time.Second
	m := startMember(t, cfg, "a", backlog.Config{})
	start := time.Now()
	if err := m.Activate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("activation took %v", time.Since(start))
	var seq uint64
	last := uint64(0)
	lastAt := time.Now()
	for i := 0; i < 1500; i++ {
		seq++
		m.Accept(frame(seq, time.Now()))
		time.Sleep(2 * time.Millisecond)
		if c := m.Status().Counters.Commits; c != last {
			t.Logf("commit %d after %v", c, time.Since(lastAt))
			last, lastAt = c, time.Now()
		}
	}
}
