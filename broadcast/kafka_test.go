package broadcast

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast/kafkatest"
	"github.com/feedd/feedd/internal/testsupport"
)

// The pipeline against real Apache Kafka (broadcast/kafkatest), where
// kfake differs in ways that matter to the lock: Kafka answers a stale
// epoch with PRODUCER_FENCED where kfake bumps it (docs/kafka.md, "Where
// kfake differs from Kafka"). The tests share one broker, started by the
// first that needs it and stopped by TestMain; each uses topics and
// transactional ids of its own.

var sharedKafka struct {
	once sync.Once
	dir  string
	b    *kafkatest.Broker
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedKafka.b != nil {
		sharedKafka.b.Close()
	}
	if sharedKafka.dir != "" {
		os.RemoveAll(sharedKafka.dir)
	}
	os.Exit(code)
}

// startKafka returns the shared broker, starting it on first use, or skips
// the test (fails it with FEEDD_REQUIRE_KAFKA) when Kafka is not installed.
func startKafka(t *testing.T) *kafkatest.Broker {
	t.Helper()
	in := kafkatest.Need(t)
	sharedKafka.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if sharedKafka.dir, sharedKafka.err = os.MkdirTemp("", "feedd-broadcast-kafka-"); sharedKafka.err != nil {
			return
		}
		var logf func(string, ...any) // outlives the test that starts it: not t.Logf
		if testsupport.Verbose() {
			logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		}
		sharedKafka.b, sharedKafka.err = in.Start(ctx, kafkatest.Config{Dir: sharedKafka.dir, Logf: logf})
	})
	if sharedKafka.err != nil {
		t.Fatal(sharedKafka.err)
	}
	b := sharedKafka.b
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the broker's log, last lines:\n%s", b.LogTail(40))
		}
	})
	return b
}

// kafkaConfig is testConfig with a transactional id of its own, so that
// sub-tests sharing a broker do not fence each other.
func kafkaConfig(addr, topic string) Config {
	cfg := testConfig(addr, topic)
	cfg.TransactionalID = "feedd-test-" + topic
	return cfg
}

// TestKafkaHandover: TestHandover's handovers (fenced mid-transaction,
// killed, planned, immediate; lagging ports, slow echoes) on Kafka, fewer
// of them: every frame exactly once, in order.
func TestKafkaHandover(t *testing.T) {
	b := startKafka(t)
	for _, tc := range []struct {
		name       string
		topic      string
		iterations int
	}{
		{"feed-sequence", "handover-seq", 16},
		{"fingerprint", "handover-fp", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := frame
			if tc.name == "fingerprint" {
				mk = fpFrame
			}
			testHandover(t, kafkaConfig(b.Addr(), tc.topic), tc.iterations, mk, false)
		})
	}
}

// TestKafkaFencing: TestFencing on Kafka: the fenced member's next produce
// or commit fails with ErrFenced, its open transaction is aborted, its ring
// kept, and only the new holder's records are committed.
func TestKafkaFencing(t *testing.T) {
	b := startKafka(t)
	for _, next := range []string{"produce", "commit"} {
		t.Run(next, func(t *testing.T) { testFencing(t, kafkaConfig(b.Addr(), "fence-"+next), next) })
	}
}

// TestKafkaZombie: a member fenced while its transaction is open (a zombie:
// it was hung, or cut off, while its peer activated) is then told to stop
// in each of the three ways. Whatever it sends on the way out, the new
// active must not be disturbed: not fenced, still active, committing, and
// the topic holds the new active's frames exactly once and nothing of the
// zombie's. On kfake an Immediate stop can fence the new active (the
// zombie's client re-initialises its producer id at the stale epoch, which
// kfake accepts); Kafka refuses it, which this test checks, and the pair
// protocol stops a superseded member with Superseded anyway.
func TestKafkaZombie(t *testing.T) {
	b := startKafka(t)
	for _, tc := range []struct {
		mode DeactivateMode
		name string
	}{{Superseded, "superseded"}, {Immediate, "immediate"}, {Planned, "planned"}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafkaConfig(b.Addr(), "zombie-"+tc.name)
			zcfg := cfg
			// The zombie's transaction stays open until the fence.
			zcfg.CommitInterval, zcfg.CommitLinger, zcfg.TransactionTimeout = 10*time.Minute, 10*time.Minute, 14*time.Minute
			zombie := startMember(t, zcfg, "z", backlog.Config{})
			next := startMember(t, cfg, "n", backlog.Config{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			zombie.mustActivate(t, ctx)
			const n = 30
			for i := uint64(1); i <= n; i++ {
				zombie.Accept(frame(i, time.Now()))
			}
			waitFor(t, "the zombie's records in the log", func() bool { return highWatermark(t, cfg.Brokers[0], cfg.Topic) >= n })

			next.mustActivate(t, ctx)
			epoch := next.Status().ProducerEpoch
			for i := uint64(1); i <= n; i++ {
				next.Accept(frame(i, time.Now()))
			}
			waitFor(t, "the new active's first commits", func() bool { return next.Status().Counters.CommittedFrames == n })

			err := zombie.Deactivate(ctx, tc.mode)
			switch {
			case tc.mode == Planned && !errors.Is(err, ErrFenced):
				t.Fatalf("the zombie's planned stop (its final commit): %v, want ErrFenced", err)
			case tc.mode != Planned && err != nil:
				t.Fatalf("the zombie's %s stop: %v", tc.name, err)
			}

			// The new active goes on committing, unfenced.
			for i := uint64(n + 1); i <= 2*n; i++ {
				next.Accept(frame(i, time.Now()))
			}
			waitFor(t, "the new active's later commits", func() bool { return next.Status().Counters.CommittedFrames == 2*n })
			time.Sleep(100 * time.Millisecond) // anything the zombie's exit set off has reached the broker
			next.Accept(frame(2*n+1, time.Now()))
			waitFor(t, "one more commit", func() bool {
				st := next.Status()
				return st.Counters.CommittedFrames == 2*n+1 || st.State != StateActive
			})
			st := next.Status()
			if st.State != StateActive || st.Counters.Fenced != 0 || st.Counters.CommitFailures != 0 {
				t.Fatalf("the new active after the zombie's %s stop: role %v, fenced %d, commit failures %d, cause %v",
					tc.name, st.State, st.Counters.Fenced, st.Counters.CommitFailures, st.Cause)
			}
			if st.ProducerEpoch < epoch {
				t.Fatalf("the new active's producer epoch went from %d to %d", epoch, st.ProducerEpoch)
			}
			zs := zombie.Status()
			if zs.State != StateInactive || zs.Counters.Commits != 0 {
				t.Fatalf("the zombie: role %v, commits %d; want inactive, none", zs.State, zs.Counters.Commits)
			}
			recs := readCommitted(t, cfg.Brokers[0], cfg.Topic)
			checkSequence(t, recs, 2*n+1)
			for _, r := range recs {
				if r.member != "n" {
					t.Fatalf("offset %d: a record from %q: the zombie committed", r.offset, r.member)
				}
			}
		})
	}
}

// TestKafkaFreshTopic: a member that creates the topic can use it at once.
// Kafka answers CreateTopics before its broker hosts the partition, so
// EnsureTopic must wait for the topic to show with a leader; it once
// described the topic straight after creating it and failed the member's
// first activation with UNKNOWN_TOPIC_OR_PARTITION.
func TestKafkaFreshTopic(t *testing.T) {
	b := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, _ := adminClient(t, b.Addr())
	for i := range 5 {
		cfg := kafkaConfig(b.Addr(), fmt.Sprintf("fresh-%d", i)).WithDefaults()
		if err := EnsureTopic(ctx, cl, cfg); err != nil {
			t.Fatalf("topic %d: %v", i, err)
		}
		if err := EnsureControlTopic(ctx, cl, cfg); err != nil {
			t.Fatalf("control topic %d: %v", i, err)
		}
		if _, err := lastStableOffset(ctx, cl, cfg.Topic); err != nil {
			t.Fatalf("topic %d, just created: %v", i, err)
		}
	}
	// And a member's first activation on a topic nobody created yet.
	m := startMember(t, kafkaConfig(b.Addr(), "fresh-activation"), "a", backlog.Config{})
	if err := m.Activate(ctx); err != nil {
		t.Fatalf("first activation on a fresh topic: %v", err)
	}
}
