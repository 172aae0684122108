package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The chaos suite on a three-node Kafka cluster (kafkatest.StartCluster:
// replication factor 3, min.insync.replicas=2 for the topic and the
// transaction log), as users run Kafka. One cluster serves every scenario,
// each on a pipeline of its own (topic and transactional id) created with
// its partition led by another node than its transactions' coordinator,
// and each with a fresh pair of `feedd run` processes. Each member reaches
// each node only through a proxy of its own, so that one member can be cut
// off from one node alone.
//
// Besides the pair's faults of the matrix, the cluster's own: kill -9 of
// the node leading the topic and of the node coordinating the
// transactions, each while the active commits; a rolling restart of all
// three nodes; the active cut off from the leader only, and from the
// remaining follower only. For these the longest time without a commit,
// from the fault until the pair has settled again, is measured from the
// commit markers the brokers stamp, and logged.
//
// Then a GPS feed without sequence numbers takes the same faults, each
// once, and each repair case of clusterRepairCases runs on a pipeline of
// its own (chaos_feed_test.go).

// TestChaosCluster runs every scenario on the cluster.
func TestChaosCluster(t *testing.T) {
	needChaos(t)
	needE2E(t)
	requireKcat(t)
	kc := startE2EKafkaCluster(t)
	// Each scenario needs the whole cluster, also after one that failed:
	// none starts until every node is in sync again. A node a failed
	// scenario left stopped is not started here, so the test ends there.
	inSync := func(after string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := kc.WaitInSync(ctx); err != nil {
			t.Fatalf("after %s: %v", after, err)
		}
	}
	for _, f := range clusterFaults {
		t.Run(f.name, func(t *testing.T) { runScenarioOn(t, newChaos(t, kc, "chaos-"+f.name), f) })
		inSync(f.name)
	}
	// A feed without sequence numbers through the same faults, and the
	// repair of frames a port lost (chaos_feed_test.go).
	t.Run("feed", func(t *testing.T) { runFeedMatrix(t, kc) })
	inSync("the feed's faults")
	runClusterRepairs(t, kc)
}

// placement is where the run's topic and transactions live now: after a
// kill they move.
func (ch *chaos) placement() kafkatest.Placement {
	t := ch.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var p kafkatest.Placement
	var err error
	if p.Leader, err = ch.kcluster.WaitLeader(ctx, ch.topic, func(int32) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if p.Coordinator, err = ch.kcluster.WaitCoordinatorMoved(ctx, ch.txnID(), -1); err != nil {
		t.Fatal(err)
	}
	for _, n := range ch.kcluster.Nodes() {
		if id := n.ID(); id != p.Leader && id != p.Coordinator {
			p.Follower = id
			break
		}
	}
	return p
}

// stall records the longest time without a commit from at until now, read
// from the commit markers from offset from on.
func (ch *chaos) stall(kind string, at time.Time, from int64) time.Duration {
	t := ch.t
	t.Helper()
	to := ch.tracker().end(t)
	cl := ch.markerReader(kgo.NewOffset().At(from))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	last, longest := at, time.Duration(0)
	for next := from; next < to; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: reading the commits from offset %d to %d: at %d after %v", kind, from, to, next, e2eWait)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			// Key: version (int16), type (int16): 1 is a commit.
			if !r.Attrs.IsControl() || len(r.Key) < 4 || r.Key[3] != 1 || r.Timestamp.Before(at) {
				return
			}
			longest = max(longest, r.Timestamp.Sub(last))
			last = r.Timestamp
		})
	}
	longest = max(longest, time.Since(last))
	ch.stalls[kind] = append(ch.stalls[kind], longest.Round(time.Millisecond))
	return longest
}

// leaderKill: kill -9 of the node leading the topic's partition while the
// active commits; it is started again on its storage once another node
// leads.
func (ch *chaos) leaderKill(active, inactive *e2eMember) {
	p := ch.placement()
	ch.killNode("leader-kill", p.Leader, fmt.Sprintf("the topic's leader (the coordinator is node %d)", p.Coordinator), func(ctx context.Context) error {
		id, err := ch.kcluster.WaitLeader(ctx, ch.topic, func(id int32) bool { return id != p.Leader })
		ch.t.Logf("leader-kill: node %d leads the topic now", id)
		return err
	})
}

// coordinatorKill: kill -9 of the node coordinating the pipeline's
// transactions while the active commits; started again once another node
// coordinates.
func (ch *chaos) coordinatorKill(active, inactive *e2eMember) {
	p := ch.placement()
	ch.killNode("coordinator-kill", p.Coordinator, fmt.Sprintf("the transaction coordinator (the leader is node %d)", p.Leader), func(ctx context.Context) error {
		id, err := ch.kcluster.WaitCoordinatorMoved(ctx, ch.txnID(), p.Coordinator)
		ch.t.Logf("coordinator-kill: node %d coordinates the transactions now", id)
		return err
	})
}

func (ch *chaos) killNode(kind string, id int32, what string, moved func(context.Context) error) {
	t := ch.t
	from := ch.tracker().end(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	at := time.Now()
	t.Logf("%s: kill -9 of node %d, %s", kind, id, what)
	ch.kcluster.Kill(id)
	if err := moved(ctx); err != nil {
		t.Fatal(err)
	}
	ch.stream(ch.between(200*time.Millisecond, time.Second))
	if err := ch.kcluster.Restart(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := ch.kcluster.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	ch.waitPair()
	t.Logf("%s: node %d back and in sync, the pair settled %v after the kill; longest time without a commit %v",
		kind, id, time.Since(at).Round(time.Millisecond), ch.stall(kind, at, from).Round(time.Millisecond))
	ch.checkNoOverflow(kind)
}

// rollingRestart: every node in turn stopped (SIGTERM, a controlled
// shutdown), started, and waited for until every replica is in sync, while
// the active commits.
func (ch *chaos) rollingRestart(active, inactive *e2eMember) {
	t := ch.t
	from := ch.tracker().end(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	at := time.Now()
	if err := ch.kcluster.RollingRestart(ctx, func(id int32) { t.Logf("rolling-restart: node %d restarted and in sync", id) }); err != nil {
		t.Fatal(err)
	}
	ch.waitPair()
	t.Logf("rolling-restart: the pair settled %v after the restart began; longest time without a commit %v",
		time.Since(at).Round(time.Millisecond), ch.stall("rolling-restart", at, from).Round(time.Millisecond))
	ch.checkNoOverflow("rolling-restart")
}

// cutFromLeader: the active cut off from the topic's leader alone (its
// connections to that node fall silent, new ones are held) while its peer
// reaches every node. The active cannot commit: it steps down for Kafka
// and the peer takes over; once the cut is over it rejoins as inactive.
func (ch *chaos) cutFromLeader(active, inactive *e2eMember) {
	t := ch.t
	p := ch.placement()
	from := ch.tracker().end(t)
	before := active.mustStatus()
	proxy := active.kafkaProxies[p.Leader-1]
	at := time.Now()
	proxy.Cut()
	ch.waitActive(inactive, at)
	ch.waitSteppedDown(active)
	if after := active.mustStatus(); after.Pair.Counters.StepDowns["kafka"] <= before.Pair.Counters.StepDowns["kafka"] {
		t.Errorf("cut-from-leader: %s stepped down for %v, not for Kafka", active.id, after.Pair.Counters.StepDowns)
	}
	ch.stream(ch.between(200*time.Millisecond, time.Second))
	proxy.Restore()
	if a, _ := ch.waitPair(); a != inactive {
		t.Errorf("cut-from-leader: after the cut %s is active, want %s", a.id, inactive.id)
	}
	t.Logf("cut-from-leader: %s cut off from node %d; %s active and the pair settled %v after the cut; longest time without a commit %v",
		active.id, p.Leader, inactive.id, time.Since(at).Round(time.Millisecond), ch.stall("cut-from-leader", at, from).Round(time.Millisecond))
}

// cutFromFollower: the active cut off for 2 to 5 s from the node that
// neither leads the topic nor coordinates its transactions. It needs
// nothing from that node: the pipeline must stay where it is.
func (ch *chaos) cutFromFollower(active, inactive *e2eMember) {
	t := ch.t
	p := ch.placement()
	from := ch.tracker().end(t)
	before := inactive.mustStatus()
	proxy := active.kafkaProxies[p.Follower-1]
	at := time.Now()
	w := ch.watchRoles()
	proxy.Cut()
	ch.stream(ch.between(2*time.Second, 5*time.Second))
	holders, polls, both := w.end()
	proxy.Restore()
	after := inactive.mustStatus()
	if activations := after.Pair.Counters.Activations - before.Pair.Counters.Activations; activations != 0 || len(holders) != 1 || both != 0 {
		t.Errorf("cut-from-follower: %s cut off from node %d only, yet %s activated %d times; members active over %d polls: %v (both %d)",
			active.id, p.Follower, inactive.id, activations, polls, holders, both)
	}
	if a, _ := ch.waitPair(); a != active {
		t.Errorf("cut-from-follower: %s is active, want %s", a.id, active.id)
	}
	t.Logf("cut-from-follower: %s cut off from node %d for %v; longest time without a commit %v",
		active.id, p.Follower, time.Since(at).Round(time.Millisecond), ch.stall("cut-from-follower", at, from).Round(time.Millisecond))
}

// checkNoOverflow: a broker's fault must not overflow either ring (I4).
func (ch *chaos) checkNoOverflow(kind string) {
	for _, m := range ch.members {
		if st := m.mustStatus(); st.Broadcast.Ring.OverflowFrames != 0 {
			ch.t.Errorf("%s: %s's ring overflowed (%d frames)", kind, m.id, st.Broadcast.Ring.OverflowFrames)
		}
	}
}
