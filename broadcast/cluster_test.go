package broadcast

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/broadcast/kafkatest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/feedd/feedd/internal/testsupport"
)

// The pipeline against a three-node Apache Kafka cluster (kafkatest's
// StartCluster: every node a broker and a controller, replication factor 3
// and min.insync.replicas=2 for the topic and the transaction log), as users
// run it. A pair of members reads a sequenced feed at clusterRate frames a
// second while a node fails under the active member; the supervisor below
// moves the pipeline to the other member when the active's commits fail for
// as long as the pair protocol lets them (ftpair steps down after
// kafka.commit_timeout plus pair.activation_interval). Each scenario then
// reads the topic with an independent read_committed consumer: every frame
// exactly once, in order. The longest time without a commit by either
// member is measured and logged (docs/testing.md has the figures).

const (
	// clusterRate is the feed's rate, frames a second.
	clusterRate = 500
	// clusterStepDown is how long a member's commits may fail before the
	// supervisor moves the pipeline: the default kafka.commit_timeout
	// (which sets CommitFailingSince) is counted from the commit's start,
	// plus the default pair.activation_interval.
	clusterStepDown = 500 * time.Millisecond
)

// TestKafkaCluster runs the cluster scenarios on one cluster, each on a
// topic and a transactional id of its own; each leaves the cluster whole
// (every node up, every replica in sync) for the next.
func TestKafkaCluster(t *testing.T) {
	in := kafkatest.Need(t)
	names := [2]string{"a", "b"}
	// Each member reaches each node through a listener of its own,
	// advertised at a proxy of the test's: the member's clients reconnect
	// to what the node advertises, so closing one proxy cuts that member
	// off from that node only.
	proxies := map[string]map[int32]*kafkatest.Proxy{}
	for _, n := range names {
		proxies[n] = map[int32]*kafkatest.Proxy{}
	}
	var logf func(string, ...any)
	if testsupport.Verbose() {
		logf = t.Logf
	}
	c := in.StartClusterT(t, kafkatest.ClusterConfig{
		Dir:  t.TempDir(),
		Logf: logf,
		Listeners: func(id int32) []kafkatest.Listener {
			var ls []kafkatest.Listener
			for _, n := range names {
				p := kafkatest.StartProxyT(t, "")
				proxies[n][id] = p
				ls = append(ls, kafkatest.Listener{Name: kafkatest.ListenerFor(n), Advertise: p.Addr()})
			}
			return ls
		},
	})
	for n, byNode := range proxies {
		for id, p := range byNode {
			p.SetTarget(c.Node(id).ListenerAddr(kafkatest.ListenerFor(n)))
		}
	}
	cl := &testCluster{Cluster: c, proxies: proxies}

	t.Run("leader-kill", func(t *testing.T) {
		cl.run(t, "leader-kill", func(r *clusterRun) {
			r.killAndRestart(r.leader, "the topic's leader")
		})
	})
	t.Run("coordinator-kill", func(t *testing.T) {
		cl.run(t, "coordinator-kill", func(r *clusterRun) {
			r.killAndRestart(r.coordinator, "the transaction coordinator")
		})
	})
	t.Run("rolling-restart", func(t *testing.T) {
		cl.run(t, "rolling-restart", func(r *clusterRun) {
			if err := r.c.RollingRestart(r.ctx, func(id int32) { r.logf("node %d restarted and in sync", id) }); err != nil {
				r.t.Fatal(err)
			}
			r.waitCommits("after the rolling restart", clusterRate/2)
		})
	})
	t.Run("cut-from-leader", func(t *testing.T) {
		cl.run(t, "cut-from-leader", func(r *clusterRun) {
			r.cutActive(r.leader, "the topic's leader", true)
		})
	})
	t.Run("cut-from-follower", func(t *testing.T) {
		cl.run(t, "cut-from-follower", func(r *clusterRun) {
			r.cutActive(r.follower, "a follower (neither leader nor coordinator)", false)
		})
	})
}

// testCluster is the cluster and the members' proxies to each node.
type testCluster struct {
	*kafkatest.Cluster
	proxies map[string]map[int32]*kafkatest.Proxy // member -> node id -> proxy
}

// clusterRun is one scenario: the pair, its feed, the supervisor and the
// stall measurement.
type clusterRun struct {
	t   *testing.T
	c   *testCluster
	ctx context.Context
	cfg map[string]Config

	names   [2]string
	members [2]*member
	ports   [2]*port

	// leader leads the topic's partition when the scenario starts,
	// coordinator coordinates its transactional id, follower is the third
	// node.
	leader, coordinator, follower int32

	sent     atomic.Uint64
	stopFeed chan struct{}
	feed     sync.WaitGroup

	stopWatch chan struct{}
	watch     sync.WaitGroup
	mu        sync.Mutex
	active    int // index of the member the supervisor made active
	handovers []string
	lastAt    time.Time     // latest commit by either member
	stall     time.Duration // longest time between two commits
	stallEnd  time.Time     // when it ended
	faultAt   time.Time
}

func (r *clusterRun) logf(format string, args ...any) {
	r.t.Helper()
	r.t.Logf("%s: "+format, append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// run sets up the scenario's topic and pair, feeds it, runs fault, and
// checks the topic.
func (tc *testCluster) run(t *testing.T, name string, fault func(r *clusterRun)) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := &clusterRun{t: t, c: tc, ctx: ctx, cfg: map[string]Config{}, names: [2]string{"a", "b"},
		stopFeed: make(chan struct{}), stopWatch: make(chan struct{})}
	topic := "cluster-" + name
	txnID := "feedd-test-" + topic
	r.placeTopic(topic, txnID)
	r.logf("%s/0 led by node %d, transactions of %s coordinated by node %d, node %d follows", topic, r.leader, txnID, r.coordinator, r.follower)

	for i, n := range r.names {
		cfg := testConfig("", topic)
		cfg.Brokers = nil
		for _, b := range tc.Nodes() {
			cfg.Brokers = append(cfg.Brokers, tc.proxies[n][b.ID()].Addr())
		}
		cfg.TransactionalID = txnID
		cfg.ReplicationFactor, cfg.MinInsyncReplicas = 3, 2
		r.cfg[n] = cfg
		r.members[i] = startMember(t, cfg, n, backlog.Config{})
		r.ports[i] = newPort(r.members[i])
	}
	r.members[0].mustActivate(t, ctx)
	r.feed.Go(r.runFeed)
	defer r.stopFeeding()
	r.waitCommits("the first commits", clusterRate/2)
	r.watch.Go(r.supervise)
	defer r.stopWatching()

	r.faultAt = time.Now()
	fault(r)
	// The pipeline goes on committing after the fault is over.
	r.waitCommits("after the fault", clusterRate/2)

	r.stopFeeding()
	n := r.sent.Load()
	// Generous: each commit that meets CONCURRENT_TRANSACTIONS waits for
	// the client's next metadata refresh (docs/testing.md), and the
	// backlog of the stalls is drained after the feed ends.
	deadline := time.Now().Add(2 * time.Minute)
	for done := false; !done; time.Sleep(10 * time.Millisecond) {
		for _, m := range r.members {
			st := m.Status()
			done = done || st.State == StateActive && st.Ring.Len == 0 && st.Ring.Appended+st.Ring.Recognised+st.Ring.Rejected == st.Counters.Accepted
		}
		if !done && time.Now().After(deadline) {
			for _, m := range r.members {
				st := m.Status()
				r.logf("%s: role %v since %s, ring %d, committed %d, commit failing since %s, kafka %+v, last error %q",
					st.Member, st.State, st.StateSince.Format("15:04:05.000"), st.Ring.Len, st.Counters.CommittedFrames,
					st.CommitFailingSince.Format("15:04:05.000"), st.Kafka, st.LastError)
			}
			t.Fatalf("no member committed the whole feed (%d frames) within two minutes of its end", n)
		}
	}
	r.stopWatching()
	recs := readCommitted(t, tc.Addrs()[0], topic)
	checkSequence(t, recs, n)

	var failures, aborts uint64
	for _, m := range r.members {
		st := m.Status()
		failures += st.Counters.CommitFailures
		aborts += st.Counters.Aborts
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logf("%d frames at %d/s, each once and in order; longest time without a commit %v (ended %v after the fault began); %d commit failures, %d aborts; handovers %q",
		n, clusterRate, r.stall.Round(time.Millisecond), r.stallEnd.Sub(r.faultAt).Round(time.Millisecond), failures, aborts, r.handovers)
}

// placeTopic creates the topic and its control topic led by another node
// than txnID's coordinator (kafkatest.Cluster.PlaceApart).
func (r *clusterRun) placeTopic(topic, txnID string) {
	p, err := r.c.PlaceApart(r.ctx, txnID, topic, topic+ControlTopicSuffix)
	if err != nil {
		r.t.Fatal(err)
	}
	r.leader, r.coordinator, r.follower = p.Leader, p.Coordinator, p.Follower
}

// waitLeader polls until the topic's leader satisfies ok.
func (r *clusterRun) waitLeader(topic string, ok func(int32) bool, what string) int32 {
	r.t.Helper()
	id, err := r.c.WaitLeader(r.ctx, topic, ok)
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", what, err)
	}
	return id
}

// runFeed hands both ports clusterRate frames a second, sequenced, until
// stopFeed closes: as many as the time since the start calls for at each
// tick, so that a late tick does not lower the rate.
func (r *clusterRun) runFeed() {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-r.stopFeed:
			return
		case <-tick.C:
		}
		for due := uint64(time.Since(start) * clusterRate / time.Second); r.sent.Load() < due; {
			f := frame(r.sent.Add(1), time.Time{})
			now, line := time.Now(), hostclock.Now()
			for _, p := range r.ports {
				p.in <- portFrame{f, now, line}
			}
		}
	}
}

func (r *clusterRun) stopFeeding() {
	if !closeOnce(r.stopFeed) {
		return
	}
	r.feed.Wait()
	for _, p := range r.ports {
		close(p.in)
		p.wg.Wait()
	}
}

// committed is the frames the members have committed between them.
func (r *clusterRun) committed() uint64 {
	var n uint64
	for _, m := range r.members {
		n += m.Status().Counters.CommittedFrames
	}
	return n
}

// waitCommits waits until the members have committed n more frames.
func (r *clusterRun) waitCommits(what string, n uint64) {
	r.t.Helper()
	from := r.committed()
	deadline := time.Now().Add(time.Minute)
	for r.committed() < from+n {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: fewer than %d frames committed in a minute", what, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// supervise measures the time between commits and plays the pair
// protocol's part: the active member whose commits have been failing for
// clusterStepDown steps down (Immediate) and the other one activates,
// retrying until it can.
func (r *clusterRun) supervise() {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stopWatch:
			return
		case <-tick.C:
		}
		var sts [2]Status
		for i, m := range r.members {
			sts[i] = m.Status()
		}
		r.mu.Lock()
		for _, st := range sts {
			if last := st.LastCommitAt; last.After(r.lastAt) {
				if !r.lastAt.IsZero() && last.Sub(r.lastAt) > r.stall {
					r.stall, r.stallEnd = last.Sub(r.lastAt), last
				}
				r.lastAt = last
			}
		}
		from := r.active
		r.mu.Unlock()
		st := sts[from]
		if st.State != StateActive || st.CommitFailingSince.IsZero() || time.Since(st.CommitFailingSince) < DefaultCommitTimeout+clusterStepDown {
			continue
		}
		r.handOver(from, fmt.Sprintf("commits failing since %s, last error %q", st.CommitFailingSince.Format("15:04:05.000"), st.LastError))
	}
}

// handOver moves the pipeline from member from to the other one.
func (r *clusterRun) handOver(from int, why string) {
	to := 1 - from
	r.logf("%s steps down (%s), %s activates", r.names[from], why, r.names[to])
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	if err := r.members[from].Deactivate(ctx, Immediate); err != nil {
		r.logf("%s's deactivation: %v", r.names[from], err)
	}
	cancel()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
		err := r.members[to].Activate(ctx)
		cancel()
		if err == nil {
			break
		}
		r.logf("%s's activation, attempt %d: %v", r.names[to], attempt, err)
		if r.ctx.Err() != nil || time.Since(start) > time.Minute {
			r.t.Errorf("%s could not activate for a minute: %v", r.names[to], err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.logf("%s active after %v", r.names[to], time.Since(start).Round(time.Millisecond))
	r.mu.Lock()
	r.active = to
	r.handovers = append(r.handovers, r.names[from]+">"+r.names[to])
	r.mu.Unlock()
}

func (r *clusterRun) stopWatching() {
	if !closeOnce(r.stopWatch) {
		return
	}
	r.watch.Wait()
}

// killAndRestart kills node id (SIGKILL) while the active commits, waits
// until the cluster has moved what the node led and the pipeline commits
// again, then starts the node again on its storage and waits until every
// replica is in sync.
func (r *clusterRun) killAndRestart(id int32, what string) {
	t := r.t
	r.waitCommits("before the kill", 50)
	switch {
	case id == r.leader:
		if l, err := r.c.Leader(r.ctx, r.cfg["a"].Topic, 0); err != nil || l != id {
			t.Fatalf("node %d was to lead the topic; it is node %d (%v)", id, l, err)
		}
	case id == r.coordinator:
		if co, err := r.c.TxnCoordinator(r.ctx, r.cfg["a"].TransactionalID); err != nil || co != id {
			t.Fatalf("node %d was to coordinate the transactions; it is node %d (%v)", id, co, err)
		}
	}
	r.logf("kill -9 of node %d, %s", id, what)
	r.c.Kill(id)
	r.waitCommits("after the kill", clusterRate/2)
	switch {
	case id == r.leader:
		l := r.waitLeader(r.cfg["a"].Topic, func(l int32) bool { return l != id }, "a new leader")
		r.logf("node %d leads the topic now", l)
	case id == r.coordinator:
		co, err := r.c.WaitCoordinatorMoved(r.ctx, r.cfg["a"].TransactionalID, id)
		if err != nil {
			t.Fatal(err)
		}
		r.logf("node %d coordinates the transactions now", co)
	}
	if err := r.c.Restart(r.ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := r.c.WaitInSync(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.logf("node %d restarted and every replica in sync", id)
}

// cutActive cuts the active member off from node id alone (its
// connections to the node fall silent, new ones are closed at once) while
// the other member reaches every node. Cut off from the leader, the
// active's commits cannot succeed and the pipeline must move to the other
// member (handover); cut off from a follower, nothing should change.
func (r *clusterRun) cutActive(id int32, what string, handover bool) {
	t := r.t
	r.mu.Lock()
	from := r.active
	r.mu.Unlock()
	name := r.names[from]
	p := r.c.proxies[name][id]
	r.logf("%s cut off from node %d, %s", name, id, what)
	p.Cut()
	if handover {
		waitFor(t, "the supervisor to move the pipeline", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.active != from
		})
	} else {
		time.Sleep(5 * time.Second)
	}
	r.waitCommits("while cut off", clusterRate)
	p.Restore()
	r.logf("%s reaches node %d again", name, id)
	if !handover {
		r.mu.Lock()
		moved := len(r.handovers)
		r.mu.Unlock()
		if st := r.members[from].Status(); moved != 0 || st.State != StateActive {
			t.Errorf("cut off from %s only, %s lost the pipeline: role %v, handovers %d, last error %q", what, name, st.State, moved, st.LastError)
		}
	}
}
