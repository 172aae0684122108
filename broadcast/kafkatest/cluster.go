package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Defaults of ClusterConfig.
const (
	DefaultClusterNodes = 3
	DefaultClusterHeap  = "384m"
)

// ClusterConfig says how to run a cluster of combined KRaft nodes.
type ClusterConfig struct {
	// Dir holds one directory per node (node1, node2, ...); it is created
	// if missing. Required.
	Dir string
	// Nodes is how many nodes, each a broker and a controller voter
	// (default DefaultClusterNodes). Topics and internal topics get one
	// replica per node and min.insync.replicas of one less.
	Nodes int
	// Listeners, if set, gives node id's extra listeners (Config.Listeners):
	// a listener per client, advertised at a proxy of the test's, lets a
	// test cut that client off from one node only.
	Listeners func(id int32) []Listener
	// Heap is each JVM's heap size, default DefaultClusterHeap.
	Heap string
	// StartTimeout bounds the start of the cluster and of each node, and
	// each wait for the replicas to be back in sync (default
	// DefaultStartTimeout).
	StartTimeout time.Duration
	// Logf, if set, receives what the nodes' lifecycles do.
	Logf func(format string, args ...any)
}

// Cluster is a running Kafka cluster of combined broker and controller
// nodes on 127.0.0.1: node id i (from 1) is Nodes()[i-1].
type Cluster struct {
	cfg   ClusterConfig
	nodes []*Broker
}

// StartCluster formats every node's storage with one cluster id and the
// static quorum of all the nodes (transaction protocol version 2), starts
// them together (a controller needs a majority of the voters to elect a
// leader, a broker needs a leader to register) and returns once each lists
// itself in a metadata request and every partition has all its replicas in
// sync. On error nothing is left running.
func (in *Install) StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("kafkatest: ClusterConfig.Dir is required")
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = DefaultClusterNodes
	}
	if cfg.Heap == "" {
		cfg.Heap = DefaultClusterHeap
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	id, err := clusterID()
	if err != nil {
		return nil, err
	}
	q := &quorum{clusterID: id, replicas: min(cfg.Nodes, 3)}
	c := &Cluster{cfg: cfg}
	var voters []string
	for i := range cfg.Nodes {
		id := int32(i + 1)
		ncfg := Config{Dir: filepath.Join(cfg.Dir, "node"+strconv.Itoa(int(id))), Heap: cfg.Heap, StartTimeout: cfg.StartTimeout, Logf: cfg.Logf}
		if cfg.Listeners != nil {
			ncfg.Listeners = cfg.Listeners(id)
		}
		b, err := in.prepare(ncfg, id)
		if err != nil {
			return nil, err
		}
		b.quorum = q
		c.nodes = append(c.nodes, b)
		voters = append(voters, fmt.Sprintf("%d@%s", id, b.ctrl))
	}
	q.voters = strings.Join(voters, ",")
	start := time.Now()
	if err := c.each(func(b *Broker) error { return b.setUp(ctx) }); err != nil {
		return nil, err
	}
	if err := c.each(func(b *Broker) error { return b.launch(ctx) }); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.WaitInSync(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.logf("kafka %s: a cluster of %d nodes ready after %v", in.Version, len(c.nodes), time.Since(start).Round(time.Millisecond))
	return c, nil
}

// StartClusterT is StartCluster for a test: it fails the test if the
// cluster does not start, and kills every node when the test ends, after
// logging the tail of each node's log if the test failed.
func (in *Install) StartClusterT(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*cmpDuration(cfg.StartTimeout, DefaultStartTimeout))
	defer cancel()
	c, err := in.StartCluster(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, b := range c.nodes {
				t.Logf("node %d's log, last lines:\n%s", b.id, b.LogTail(30))
			}
		}
		c.Close()
	})
	return c
}

func cmpDuration(d, otherwise time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return otherwise
}

// each runs fn on every node at once and joins the errors.
func (c *Cluster) each(fn func(b *Broker) error) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, b := range c.nodes {
		wg.Go(func() {
			if err := fn(b); err != nil {
				errs[i] = fmt.Errorf("node %d: %w", b.id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// Nodes are the cluster's nodes, in the order of their ids.
func (c *Cluster) Nodes() []*Broker { return c.nodes }

// Node is the node with the given id, nil if there is none.
func (c *Cluster) Node(id int32) *Broker {
	if id < 1 || int(id) > len(c.nodes) {
		return nil
	}
	return c.nodes[id-1]
}

// Addrs are the bootstrap (PLAINTEXT) addresses of every node.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, b := range c.nodes {
		out[i] = b.addr
	}
	return out
}

// Kill kills node id at once (SIGKILL, as kill -9) and waits for its
// process to be gone. Its storage stays for Restart.
func (c *Cluster) Kill(id int32) {
	if b := c.Node(id); b != nil {
		b.Kill()
		c.logf("kafka: node %d killed", id)
	}
}

// Restart stops node id if it runs (gracefully, or with SIGKILL if hard),
// starts it again on the same storage and addresses, and waits until it
// lists itself in a metadata request. Its replicas may still be catching
// up: WaitInSync waits for them.
func (c *Cluster) Restart(ctx context.Context, id int32, hard bool) error {
	b := c.Node(id)
	if b == nil {
		return fmt.Errorf("kafkatest: no node %d", id)
	}
	if err := b.Restart(ctx, hard); err != nil {
		return fmt.Errorf("node %d: %w", id, err)
	}
	return nil
}

// RollingRestart restarts the nodes one after the other as an operator
// upgrading them does: a graceful stop (a controlled shutdown that moves
// the node's leaderships away first), a start on the same storage, and a
// wait until every replica is in sync again before the next node. between,
// if set, is called after each node is back in sync.
func (c *Cluster) RollingRestart(ctx context.Context, between func(id int32)) error {
	for _, b := range c.nodes {
		start := time.Now()
		if err := b.Restart(ctx, false); err != nil {
			return fmt.Errorf("kafkatest: rolling restart, node %d: %w", b.id, err)
		}
		if err := c.WaitInSync(ctx); err != nil {
			return fmt.Errorf("kafkatest: rolling restart, node %d: %w", b.id, err)
		}
		c.logf("kafka: rolling restart: node %d back in sync after %v", b.id, time.Since(start).Round(time.Millisecond))
		if between != nil {
			between(b.id)
		}
	}
	return nil
}

// Close kills every node; the directories are left to the caller.
func (c *Cluster) Close() {
	c.each(func(b *Broker) error { b.Kill(); return nil })
}

// client is a fresh client seeded with the running nodes, so that nothing
// it learnt before (metadata, coordinators, backoffs) colours its answer.
func (c *Cluster) client() (*kgo.Client, error) {
	var seeds []string
	for _, b := range c.nodes {
		if b.Running() {
			seeds = append(seeds, b.addr)
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("kafkatest: no node of the cluster runs")
	}
	return kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DisableClientMetrics(), kgo.RequestRetries(2))
}

// metadata asks a running node for the metadata of topics (nil: all
// topics, the internal ones included).
func (c *Cluster) metadata(ctx context.Context, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: metadata: %w", err)
	}
	return resp, nil
}

// Leader is the node the cluster names as the leader of a topic
// partition. Right after a node dies the cluster still names it, until
// the controller fences it (broker.session.timeout.ms).
func (c *Cluster) Leader(ctx context.Context, topic string, partition int32) (int32, error) {
	resp, err := c.metadata(ctx, topic)
	if err != nil {
		return -1, err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return -1, fmt.Errorf("kafkatest: topic %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			if p.Partition != partition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil && p.Leader < 0 {
				return -1, fmt.Errorf("kafkatest: %s/%d: %w", topic, partition, err)
			}
			if p.Leader < 0 {
				return -1, fmt.Errorf("kafkatest: %s/%d has no leader", topic, partition)
			}
			return p.Leader, nil
		}
	}
	return -1, fmt.Errorf("kafkatest: the metadata has no partition %s/%d", topic, partition)
}

// TxnCoordinator is the node that coordinates the transactions of a
// transactional id (FindCoordinator, key type transaction): the leader of
// its __transaction_state partition. The first request for an id creates
// that topic, and the answer is COORDINATOR_NOT_AVAILABLE until it is
// ready; the error says so and the caller polls.
func (c *Cluster) TxnCoordinator(ctx context.Context, txnID string) (int32, error) {
	cl, err := c.client()
	if err != nil {
		return -1, err
	}
	defer cl.Close()
	r, ok := kadm.NewClient(cl).FindTxnCoordinators(ctx, txnID)[txnID]
	switch {
	case !ok:
		return -1, fmt.Errorf("kafkatest: FindCoordinator did not answer for %q", txnID)
	case r.Err != nil:
		return -1, fmt.Errorf("kafkatest: the coordinator of %q: %w", txnID, r.Err)
	}
	return r.NodeID, nil
}

// WaitInSync polls until every running node is registered, every node is
// running, and every partition of every topic (internal ones included)
// has a leader and all its replicas in sync; at most StartTimeout.
func (c *Cluster) WaitInSync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	var last error
	for {
		if last = c.inSync(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: the cluster was not in sync after %v: %w", c.cfg.StartTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) inSync(ctx context.Context) error {
	for _, b := range c.nodes {
		if !b.Running() {
			return fmt.Errorf("node %d does not run", b.id)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.metadata(ctx)
	if err != nil {
		return err
	}
	for _, b := range c.nodes {
		if !slices.ContainsFunc(resp.Brokers, func(d kmsg.MetadataResponseBroker) bool { return d.NodeID == b.id }) {
			return fmt.Errorf("node %d is not registered", b.id)
		}
	}
	for _, t := range resp.Topics {
		name := kmsg.StringPtr("")
		if t.Topic != nil {
			name = t.Topic
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return fmt.Errorf("topic %s: %w", *name, err)
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				return fmt.Errorf("%s/%d has no leader", *name, p.Partition)
			}
			if len(p.ISR) < len(p.Replicas) {
				return fmt.Errorf("%s/%d has replicas %v, in sync %v", *name, p.Partition, p.Replicas, p.ISR)
			}
		}
	}
	return nil
}

// Placement is where a scenario's topic and transactions live: Leader leads
// the topic's partition, Coordinator coordinates its transactional id, and
// Follower is the third node, which does neither.
type Placement struct {
	Leader, Coordinator, Follower int32
}

// PlaceApart finds the coordinator of txnID (the first request creates the
// transaction log, so it polls for up to a minute), then creates the
// topics, one partition each with a replica on every node of a
// three-node cluster and min.insync.replicas=2, led by another node than
// the coordinator, so that a test can fail the leader and the coordinator
// apart. It returns once the first topic is led by that node.
func (c *Cluster) PlaceApart(ctx context.Context, txnID string, topics ...string) (Placement, error) {
	var p Placement
	if len(c.nodes) != 3 {
		return p, fmt.Errorf("kafkatest: PlaceApart needs three nodes, the cluster has %d", len(c.nodes))
	}
	coordinator := func() (int32, error) { return c.TxnCoordinator(ctx, txnID) }
	anyNode := func(int32) bool { return true }
	var err error
	p.Coordinator, err = pollNode(ctx, coordinator, anyNode, func(_ int32, err error) error {
		return fmt.Errorf("kafkatest: no coordinator for %s after a minute: %w", txnID, err)
	})
	if err != nil {
		return p, err
	}
	p.Leader = p.Coordinator%3 + 1
	p.Follower = 6 - p.Leader - p.Coordinator
	cl, err := c.client()
	if err != nil {
		return p, err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	for _, name := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, -1, -1
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = 0, []int32{p.Leader, p.Coordinator, p.Follower}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = "min.insync.replicas", kmsg.StringPtr("2")
		rt.Configs = append(rt.Configs, cfg)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return p, fmt.Errorf("kafkatest: creating %v: %w", topics, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return p, fmt.Errorf("kafkatest: creating %s: %w", rt.Topic, err)
		}
	}
	if len(topics) > 0 {
		if _, err := c.WaitLeader(ctx, topics[0], func(id int32) bool { return id == p.Leader }); err != nil {
			return p, err
		}
	}
	return p, c.waitKnown(ctx, cl, topics)
}

// waitKnown polls, for up to a minute, until every node describes the
// topics' configurations: a new topic reaches each node's metadata in its
// own time, and a member activating at once asks whichever node it likes
// (a node that did not know it yet answered UNKNOWN_TOPIC_OR_PARTITION).
func (c *Cluster) waitKnown(ctx context.Context, cl *kgo.Client, topics []string) error {
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, name := range topics {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, name
		req.Resources = append(req.Resources, r)
	}
	for _, n := range c.nodes {
		_, err := pollNode(ctx, func() (int32, error) {
			resp, err := req.RequestWith(ctx, cl.Broker(int(n.ID())))
			if err != nil {
				return 0, err
			}
			for _, r := range resp.Resources {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					return 0, fmt.Errorf("%s: %w", r.ResourceName, err)
				}
			}
			return n.ID(), nil
		}, func(int32) bool { return true }, func(_ int32, err error) error {
			return fmt.Errorf("kafkatest: node %d does not know %v after a minute: %w", n.ID(), topics, err)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// WaitLeader polls, for up to a minute, until the leader of the topic's
// partition 0 satisfies ok, and returns it.
func (c *Cluster) WaitLeader(ctx context.Context, topic string, ok func(int32) bool) (int32, error) {
	return pollNode(ctx, func() (int32, error) { return c.Leader(ctx, topic, 0) }, ok, func(id int32, err error) error {
		return fmt.Errorf("kafkatest: %s/0 is led by node %d after a minute, not the node wanted (%v)", topic, id, err)
	})
}

// WaitCoordinatorMoved polls, for up to a minute, until another node than
// id coordinates txnID, and returns it.
func (c *Cluster) WaitCoordinatorMoved(ctx context.Context, txnID string, id int32) (int32, error) {
	moved := func(co int32) bool { return co != id }
	return pollNode(ctx, func() (int32, error) { return c.TxnCoordinator(ctx, txnID) }, moved, func(_ int32, err error) error {
		return fmt.Errorf("kafkatest: node %d still coordinates %s after a minute (%v)", id, txnID, err)
	})
}

// pollNode asks query every 50ms, for up to a minute, until it names a
// node ok accepts, and returns that node. After a minute it returns the
// last answer with the error late makes of it.
func pollNode(ctx context.Context, query func() (int32, error), ok func(int32) bool, late func(id int32, err error) error) (int32, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		id, err := query()
		if err == nil && ok(id) {
			return id, nil
		}
		if time.Now().After(deadline) {
			return id, late(id, err)
		}
		select {
		case <-ctx.Done():
			return id, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
