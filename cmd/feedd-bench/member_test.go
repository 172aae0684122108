package main

import (
	"strings"
	"testing"

	"github.com/feedd/feedd/member"
	"gopkg.in/yaml.v3"
)

// TestMemberLockIsPerTopic: the two members of a pair share their
// transactional id, and a pair on another topic (another benchmark, or
// another run on the same broker) has its own.
func TestMemberLockIsPerTopic(t *testing.T) {
	lock := func(id, topic string) string {
		t.Helper()
		m := &benchMember{spec: memberSpec{ID: id, Port: &pty{Path: "/dev/pts/0"}, Brokers: "127.0.0.1:9092", Topic: topic, Role: "auto",
			PairListen: "127.0.0.1:1", PeerID: "x", PeerAddr: "127.0.0.1:2", SecretFile: "s"}, adminAddr: "127.0.0.1:3"}
		var cfg member.Config
		dec := yaml.NewDecoder(strings.NewReader(m.config()))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			t.Fatalf("the member's configuration: %v\n%s", err, m.config())
		}
		return cfg.Kafka.TransactionalIDFor(cfg.Pipeline)
	}
	a, b, other := lock("a", "bench-cpu-1-1"), lock("b", "bench-cpu-1-1"), lock("a", "bench-cpu-1-2")
	if a != b || a == other {
		t.Fatalf("transactional ids: a %q, b %q on the same topic, %q on another", a, b, other)
	}
}
