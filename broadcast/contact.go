package broadcast

import (
	"sync"
	"time"

	"github.com/feedd/feedd/internal/enum"
)

// KafkaState is how a member's echo consumer finds Kafka.
type KafkaState uint8

const (
	// KafkaUnknown: no answer and no failure yet (just started).
	KafkaUnknown KafkaState = iota
	// KafkaOK: the last exchange with Kafka succeeded.
	KafkaOK
	// KafkaFailing: the last exchange failed: no broker could be reached,
	// or Kafka refused (authentication, a topic feedd cannot use).
	KafkaFailing
)

var kafkaStateNames = enum.New("state", func(KafkaState) string { return "unknown" }, "unknown", "ok", "failing")

func (s KafkaState) String() string { return kafkaStateNames.String(s) }

// MarshalText makes the state read as its name in JSON status.
func (s KafkaState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the name MarshalText writes.
func (s *KafkaState) UnmarshalText(b []byte) error { return kafkaStateNames.Set(s, b) }

// KafkaStatus is this member's view of Kafka, from its echo consumer, which
// every member runs for as long as the pipeline runs: the one client that
// talks to Kafka whatever the member's role. (The active's commits are
// judged on their own: Status.CommitFailingSince.) It holds no secret: the
// broker addresses and the clients' error messages, never credentials.
type KafkaStatus struct {
	State KafkaState `json:"state"`
	// Since is when State last changed.
	Since time.Time `json:"since,omitzero"`
	// LastOK is the last successful exchange.
	LastOK time.Time `json:"last_ok,omitzero"`
	// LastError and LastErrorAt are the last failure, kept after recovery.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Brokers are the configured seed brokers.
	Brokers []string `json:"brokers"`
}

// kafkaContact tracks KafkaStatus for the echo goroutine (which writes)
// and the owner (which reads).
type kafkaContact struct {
	mu     sync.Mutex
	st     KafkaStatus
	notify func()
}

func (k *kafkaContact) ok(now time.Time) {
	k.mu.Lock()
	changed := k.st.State != KafkaOK
	if changed {
		k.st.State, k.st.Since = KafkaOK, now
	}
	k.st.LastOK = now
	k.mu.Unlock()
	if changed {
		k.notify()
	}
}

func (k *kafkaContact) failed(err error, now time.Time) {
	k.mu.Lock()
	changed := k.st.State != KafkaFailing
	if changed {
		k.st.State, k.st.Since = KafkaFailing, now
	}
	k.st.LastError, k.st.LastErrorAt = err.Error(), now
	k.mu.Unlock()
	if changed {
		k.notify()
	}
}

func (k *kafkaContact) status() KafkaStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st
}
