package member

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/testsupport"
)

// countLines counts the lines of log that contain substr.
func countLines(log *testsupport.SyncBuffer, substr string) int {
	n := 0
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// kafkaDownMember is a lone member built by New and run the way Run runs
// it (pipeline, pair link with an absent peer, control loop), without its
// serial device: it may activate all the same, and /readyz names the port
// among its reasons.
type kafkaDownMember struct {
	mem *Member
	log *testsupport.SyncBuffer
}

func startKafkaDownMember(t *testing.T, brokerAddr string) *kafkaDownMember {
	t.Helper()
	cfg := loneMemberConfig(t, "kafka-down", brokerAddr)
	m := &kafkaDownMember{log: &testsupport.SyncBuffer{}}
	var err error
	if m.mem, err = New(cfg, Options{Mode: ModeAuto, Logger: slog.New(slog.NewTextHandler(m.log, nil))}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	pipeCtx, stopPipe := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.mem.pipe.Run(pipeCtx) })
	wg.Go(func() { m.mem.link.Run(pipeCtx) })
	wg.Go(func() {
		if err := m.mem.loop(ctx); err != nil {
			t.Errorf("control loop: %v", err)
		}
	})
	t.Cleanup(func() {
		stop()
		stopPipe()
		wg.Wait()
		if t.Failed() {
			t.Logf("member log:\n%s", m.log)
		}
	})
	return m
}

// status is the member's /status document, as JSON sees it.
func (m *kafkaDownMember) status(t *testing.T) Status {
	t.Helper()
	raw, err := json.Marshal(m.mem.status())
	if err != nil {
		t.Fatal(err)
	}
	var d Status
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (m *kafkaDownMember) pair() *ftpair.Status { return m.mem.pairStatus.Load() }

// TestMemberWithKafkaUnreachable: a lone member whose broker refuses
// connections says so in /readyz and /status, does not retry activation
// in a loop (its term stays put, its log stays short), and becomes active
// once a broker listens there.
func TestMemberWithKafkaUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a member for seconds and starts a local broker")
	}
	addr := testsupport.ClosedAddr(t)
	m := startKafkaDownMember(t, addr)

	testsupport.WaitFor(t, time.Minute, "/readyz to name Kafka", func() (bool, string) {
		err := m.mem.ready()
		return err != nil && strings.Contains(err.Error(), "kafka ("+addr+") unreachable"), errString(err)
	})
	// Eight activation intervals: the member used to try, fail and take a
	// new term every interval, logging five lines each time.
	time.Sleep(8 * m.mem.cfg.Pair.Core.ActivationInterval)
	ps := m.pair()
	if ps.Term > 1 || ps.Counters.ActivationFailures > 2 {
		t.Errorf("term %d after %d failed activations; want the member to wait for Kafka, not retry in a loop",
			ps.Term, ps.Counters.ActivationFailures)
	}
	if ps.Health.Kafka != ftpair.KafkaFailing {
		t.Errorf("pair health says kafka %s; want failing", ps.Health.Kafka)
	}
	st := m.status(t)
	k := st.Broadcast.Kafka
	if k.State != broadcast.KafkaFailing || !strings.Contains(k.LastError, addr) || k.LastErrorAt.IsZero() {
		t.Errorf("/status broadcast.kafka = %+v; want failing with the last error, naming %s", k, addr)
	}
	if err := m.mem.ready(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("/readyz reason %q; want the last Kafka error", errString(err))
	}
	if n := strings.Count(m.log.String(), "\n"); n > 25 {
		t.Errorf("%d log lines in %v; want the repeated failures rate-limited", n, 8*m.mem.cfg.Pair.Core.ActivationInterval)
	}

	b, err := localbroker.Start(localbroker.Options{Listen: addr})
	if err != nil {
		t.Fatalf("starting a broker on %s: %v", addr, err)
	}
	t.Cleanup(b.Close)
	testsupport.WaitFor(t, time.Minute, "the member to become active", func() (bool, string) {
		st := m.status(t)
		return st.Role == "active", "role " + st.Role + ", kafka " + st.Broadcast.Kafka.State.String()
	})
	if err := m.mem.ready(); err == nil || strings.Contains(err.Error(), "kafka") {
		t.Errorf("/readyz reason %q; want only the missing serial device", errString(err))
	}
	if st := m.status(t); st.Broadcast.Kafka.State != broadcast.KafkaOK {
		t.Errorf("/status broadcast.kafka.state = %q; want ok", st.Broadcast.Kafka.State)
	}
	if countLines(m.log, "kafka reachable again") == 0 {
		t.Errorf("the recovery is not logged:\n%s", m.log)
	}
	t.Logf("%d log lines", strings.Count(m.log.String(), "\n"))
}

// TestMemberWithKafkaRefusingActivation: Kafka answers the echo consumer
// but refuses the transactional id (an ACL, say). The member's retries
// back off, reuse one term, are logged once, and /readyz says why; once
// Kafka accepts, the member activates.
func TestMemberWithKafkaRefusingActivation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a member for seconds against a local broker")
	}
	var refuse atomic.Bool
	refuse.Store(true)
	var attempts atomic.Int64
	b := startRefusingBroker(t, &refuse, &attempts)
	m := startKafkaDownMember(t, b.Addr())
	ai := m.mem.cfg.Pair.Core.ActivationInterval

	testsupport.WaitFor(t, time.Minute, "a first refused activation", func() (bool, string) {
		return attempts.Load() > 0, "no attempt yet"
	})
	// Sixteen activation intervals (8s): retrying every interval made 16
	// attempts; backing off from one interval, doubling, at most 6.
	time.Sleep(16 * ai)
	n := attempts.Load()
	t.Logf("%d attempts in %v", n, 16*ai)
	if n > 6 {
		t.Errorf("%d attempts to activate in %v; want them backed off", n, 16*ai)
	}
	ps := m.pair()
	if ps.Term != 1 {
		t.Errorf("term %d after %d failed attempts; want the failed term reused", ps.Term, ps.Counters.ActivationFailures)
	}
	if got := countLines(m.log, "activation failed"); got != 1 {
		t.Errorf("%d log lines of a failed activation; want 1 (then one per %v)", got, maxActivationRetry)
	}
	st := m.status(t)
	if st.Broadcast.Kafka.State != broadcast.KafkaOK {
		t.Errorf("/status broadcast.kafka.state = %q; want ok (Kafka answers, it refuses)", st.Broadcast.Kafka.State)
	}
	if a := st.Activation; a == nil || a.FailuresInARow < 2 || !strings.Contains(a.LastError, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED") {
		t.Errorf("/status activation = %+v; want the failures in a row and the last error", a)
	}
	if err := m.mem.ready(); err == nil || !strings.Contains(err.Error(), "activation failed") {
		t.Errorf("/readyz reason %q; want the failed activations", errString(err))
	}

	refuse.Store(false)
	testsupport.WaitFor(t, time.Minute, "the member to become active", func() (bool, string) {
		st := m.status(t)
		return st.Role == "active", "role " + st.Role
	})
	if ps := m.pair(); ps.Term != 1 {
		t.Errorf("active at term %d; want 1", ps.Term)
	}
	if err := m.mem.ready(); err == nil || strings.Contains(err.Error(), "activation") {
		t.Errorf("/readyz reason %q; want only the missing serial device", errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestMemberBackoffRestartsOnPeerCommit: a member whose activations fail
// (here refused) backs off further with each failure; once its echo shows
// a peer committing after its last failure, Kafka takes the pair's
// transactions again, and the count starts over. Without that, a member
// that lost the race to activate after each broker restart started the
// next outage further up the backoff, and the pair took longer to go live
// after every restart.
func TestMemberBackoffRestartsOnPeerCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a member for seconds against a local broker")
	}
	var refuse atomic.Bool
	refuse.Store(true)
	b := startRefusingBroker(t, &refuse, new(atomic.Int64))
	m := startKafkaDownMember(t, b.Addr())
	var before int
	testsupport.WaitFor(t, time.Minute, "failed activations in a row", func() (bool, string) {
		a := m.status(t).Activation
		if a == nil {
			return false, "none yet"
		}
		before = a.FailuresInARow
		return before >= 2, fmt.Sprintf("%d in a row", before)
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(m.mem.cfg.Kafka.Topic), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	meta := broadcast.RecordMeta{Fingerprint: 1, Member: []byte("peer")}
	rec := &kgo.Record{Value: []byte("a frame the peer committed"), Headers: []kgo.RecordHeader{{Key: broadcast.RecordHeader, Value: meta.Append(nil)}}}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, time.Minute, "the backoff to start over", func() (bool, string) {
		a := m.status(t).Activation
		return a != nil && a.FailuresInARow < before, fmt.Sprintf("%+v (%d before the peer's commit)", a, before)
	})
}

// startRefusingBroker starts a local broker that refuses every
// transactional id's InitProducerID (as an ACL would) while refuse is set,
// counting the refusals in attempts.
func startRefusingBroker(t *testing.T, refuse *atomic.Bool, attempts *atomic.Int64) *localbroker.Broker {
	t.Helper()
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	b.Cluster().ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.Cluster().KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		if r.TransactionalID == nil || !refuse.Load() {
			return nil, nil, false
		}
		attempts.Add(1)
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil, true
	})
	return b
}
