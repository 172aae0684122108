package broadcast

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEnsureTopic: a missing topic is created with one partition; a topic
// whose shape breaks the ordering or durability guarantee is refused with a
// clear error, and an activation on it fails before fencing anybody.
func TestEnsureTopic(t *testing.T) {
	b := startBroker(t, "")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := testConfig(b.Addr(), "created").WithDefaults()
	cfg.MinInsyncReplicas = 1
	if err := EnsureTopic(ctx, cl, cfg); err != nil {
		t.Fatal(err)
	}
	tds, err := kadm.NewClient(cl).ListTopics(ctx, "created")
	if err != nil || len(tds["created"].Partitions) != 1 {
		t.Fatalf("created topic: %+v, %v; want one partition", tds["created"], err)
	}
	if err := EnsureTopic(ctx, cl, cfg); err != nil { // exists now: fine
		t.Fatal(err)
	}

	for _, tc := range []struct {
		topic      string
		partitions int32
		configs    map[string]string
		want       string
	}{
		{"three-partitions", 3, nil, "3 partitions"},
		{"compacted", 1, map[string]string{"cleanup.policy": "compact"}, "cleanup.policy=compact"},
		{"compact-delete", 1, map[string]string{"cleanup.policy": "compact,delete"}, "cleanup.policy=compact,delete"},
		{"min-insync", 1, map[string]string{"min.insync.replicas": "2"}, "min.insync.replicas=2"},
	} {
		if err := b.Cluster().CreateTopic(tc.topic, tc.partitions, tc.configs); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(b.Addr(), tc.topic).WithDefaults()
		err := EnsureTopic(ctx, cl, cfg)
		if !errors.Is(err, ErrTopicShape) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: EnsureTopic = %v, want ErrTopicShape naming %q", tc.topic, err, tc.want)
		}
	}

	m := startMember(t, testConfig(b.Addr(), "three-partitions"), "a", backlog.Config{})
	err = m.Activate(ctx)
	if !errors.Is(err, ErrTopicShape) {
		t.Fatalf("activation on a three-partition topic: %v, want ErrTopicShape", err)
	}
	if st := m.Status(); st.ProducerEpoch != -1 || st.State != StateInactive {
		t.Fatalf("after the refusal: epoch %d, role %v; want no fence (-1), inactive", st.ProducerEpoch, st.State)
	}
}
