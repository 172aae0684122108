package broadcast

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestEnsureTopic: a missing topic is created with one partition; a topic
// whose shape breaks the ordering or durability guarantee is refused with a
// clear error, and an activation on it fails before fencing anybody.
func TestEnsureTopic(t *testing.T) {
	b := startBroker(t, "")
	cl, adm := adminClient(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := testConfig(b.Addr(), "created").WithDefaults()
	cfg.MinInsyncReplicas = 1
	if err := EnsureTopic(ctx, cl, cfg); err != nil {
		t.Fatal(err)
	}
	tds, err := adm.ListTopics(ctx, "created")
	if err != nil || len(tds["created"].Partitions) != 1 {
		t.Fatalf("created topic: %+v, %v; want one partition", tds["created"], err)
	}
	if err := EnsureTopic(ctx, cl, cfg); err != nil { // exists now: fine
		t.Fatal(err)
	}

	checkRefusesUnfit(t, b, "EnsureTopic", []unfitTopic{
		{"three-partitions", 3, nil, "3 partitions"},
		{"compacted", 1, map[string]string{"cleanup.policy": "compact"}, "cleanup.policy=compact"},
		{"compact-delete", 1, map[string]string{"cleanup.policy": "compact,delete"}, "cleanup.policy=compact,delete"},
		{"min-insync", 1, map[string]string{"min.insync.replicas": "2"}, "min.insync.replicas=2"},
	}, func(topic string) error {
		return EnsureTopic(ctx, cl, testConfig(b.Addr(), topic).WithDefaults())
	})

	m := startMember(t, testConfig(b.Addr(), "three-partitions"), "a", backlog.Config{})
	err = m.Activate(ctx)
	if !errors.Is(err, ErrTopicShape) {
		t.Fatalf("activation on a three-partition topic: %v, want ErrTopicShape", err)
	}
	if st := m.Status(); st.ProducerEpoch != -1 || st.State != StateInactive {
		t.Fatalf("after the refusal: epoch %d, role %v; want no fence (-1), inactive", st.ProducerEpoch, st.State)
	}
}

// TestActivationChecksATopicMadeAgain: a member checks the topic's shape
// when its echo starts and does not check that instance again before its
// fence. The topic deleted and created again compacted after that check
// must still be refused at the activation, with nothing committed to it:
// by the check after the fence, or by the one before it if the echo found
// the new instance first and forgot the checked one.
func TestActivationChecksATopicMadeAgain(t *testing.T) {
	b := startBroker(t, "")
	cfg := testConfig(b.Addr(), "made-again")
	m := startMember(t, cfg, "a", backlog.Config{})
	waitFor(t, "the topic checked by the echo's start", func() bool { return m.checked.last() != kadm.TopicID{} })
	checked := m.checked.last()

	deleteTopic(t, b.Addr(), cfg.Topic)
	cl, adm := adminClient(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, cfg.Topic); err != nil {
		t.Fatal(err)
	}
	if id, err := fetchTopicID(ctx, cl, cfg.Topic); err != nil || id == checked {
		t.Fatalf("the topic made again: id %s (checked %s), %v; want a new id", formatTopicID(id), formatTopicID(checked), err)
	}
	m.Accept(frame(1, time.Now()))
	err := m.Activate(ctx)
	if !errors.Is(err, ErrTopicShape) || !strings.Contains(err.Error(), "cleanup.policy=compact") {
		t.Fatalf("activation on the topic made again compacted: %v, want ErrTopicShape naming cleanup.policy=compact", err)
	}
	if st := m.Status(); st.State != StateInactive || st.Counters.CommittedFrames != 0 {
		t.Fatalf("after the refusal: %v, %d frames committed; want inactive, none", st.State, st.Counters.CommittedFrames)
	}
	if id := m.checked.last(); id != (kadm.TopicID{}) {
		t.Fatalf("after the refusal the member still counts %s as checked", formatTopicID(id))
	}
}

// TestCheckedTopic: what a member remembers of the topic's shape. The
// standby producer's check (check) never creates a missing topic, which an
// operator who deleted it may be about to create anew, and forgets the
// instance; the echo's and the activation's (ensure) create it; a check
// of a topic with the wrong shape forgets the instance checked before.
func TestCheckedTopic(t *testing.T) {
	b := startBroker(t, "")
	cl, adm := adminClient(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testConfig(b.Addr(), "checked").WithDefaults()
	var c checkedTopic

	if err := c.check(ctx, cl, cfg); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("check of a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	if tds, err := adm.ListTopics(ctx, cfg.Topic); err != nil || tds.Has(cfg.Topic) {
		t.Fatalf("after the check of a missing topic: %v, %v; want it still missing", tds.Names(), err)
	}
	id, err := c.ensure(ctx, cl, cfg)
	if err != nil || id == (kadm.TopicID{}) || c.last() != id {
		t.Fatalf("ensure: id %s, %v; remembered %s", formatTopicID(id), err, formatTopicID(c.last()))
	}
	if err := c.check(ctx, cl, cfg); err != nil || c.last() != id {
		t.Fatalf("check of the topic ensure made: %v; remembered %s, want %s", err, formatTopicID(c.last()), formatTopicID(id))
	}

	deleteTopic(t, b.Addr(), cfg.Topic)
	if _, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, cfg.Topic); err != nil {
		t.Fatal(err)
	}
	if err := c.check(ctx, cl, cfg); !errors.Is(err, ErrTopicShape) || c.last() != (kadm.TopicID{}) {
		t.Fatalf("check of the topic made again compacted: %v, remembered %s; want ErrTopicShape, nothing", err, formatTopicID(c.last()))
	}
}

// unfitTopic is a topic created with a shape that breaks a guarantee, and
// what the refusal of it must name.
type unfitTopic struct {
	topic      string
	partitions int32
	configs    map[string]string
	want       string
}

// checkRefusesUnfit creates each topic on b and checks that ensure, the
// function called what, refuses it with ErrTopicShape naming its fault.
func checkRefusesUnfit(t *testing.T, b *localbroker.Broker, what string, topics []unfitTopic, ensure func(topic string) error) {
	t.Helper()
	for _, tc := range topics {
		if err := b.Cluster().CreateTopic(tc.topic, tc.partitions, tc.configs); err != nil {
			t.Fatal(err)
		}
		if err := ensure(tc.topic); !errors.Is(err, ErrTopicShape) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %s = %v, want ErrTopicShape naming %q", tc.topic, what, err, tc.want)
		}
	}
}
