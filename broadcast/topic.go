package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrTopicShape is returned (wrapped, with the reason) for a topic whose
// configuration breaks the pipeline's ordering or durability guarantee. It
// is not retried: an operator must fix the topic or the configuration.
var ErrTopicShape = errors.New("topic unfit for a feedd pipeline")

// EnsureTopic creates the pipeline's topic if it is missing and checks that
// its shape keeps the guarantees: exactly one partition (order), no
// compaction (every frame stays), min.insync.replicas no larger than the
// replication factor (acks=all can succeed), and no unclean leader election
// (a committed record cannot vanish).
func EnsureTopic(ctx context.Context, cl *kgo.Client, c Config) error {
	_, err := ensureTopic(ctx, cl, c, c.Topic, nil, true)
	return err
}

// EnsureControlTopic creates the control topic (c.ControlTopic) if it is
// missing, with one partition, cleanup.policy=delete and a short retention
// (ControlRetention, rolled every ControlSegment), and checks that the
// keepalives can go there: one partition, no compaction (a compacted topic
// refuses records without a key), min.insync.replicas no larger than the
// replication factor. The keepalives are liveness only: retention and
// unclean leader election are the operator's business.
func EnsureControlTopic(ctx context.Context, cl *kgo.Client, c Config) error {
	if c.ControlTopic == "" {
		return errors.New("kafka.control_topic: not set")
	}
	_, err := ensureTopic(ctx, cl, c, c.ControlTopic, map[string]*string{
		"retention.ms": kadm.StringPtr(strconv.FormatInt(ControlRetention.Milliseconds(), 10)),
		"segment.ms":   kadm.StringPtr(strconv.FormatInt(ControlSegment.Milliseconds(), 10)),
	}, false)
	return err
}

// checkedTopic remembers the instance of the feed's topic whose shape was
// last found right, zero if none: the echo's start and each activation
// check it (ensureTopic, which creates it if missing), the standby
// producer's warming too (without creating it), and an activation
// on the instance last checked does not check it again before its fence,
// two requests fewer between an obituary and the first commit. Any failed
// check forgets it, so that the next activation checks first, as the first
// one does. Safe for concurrent use.
type checkedTopic struct {
	mu sync.Mutex
	id kadm.TopicID
}

// ensure is ensureTopic for the feed's topic, remembering the result.
func (c *checkedTopic) ensure(ctx context.Context, cl *kgo.Client, cfg Config) (kadm.TopicID, error) {
	id, err := ensureTopic(ctx, cl, cfg, cfg.Topic, nil, true)
	c.remember(id, err)
	return id, err
}

// check is ensure without creating a missing topic: the standby
// producer's warming must not make again a topic just deleted, which an
// operator may be about to create anew.
func (c *checkedTopic) check(ctx context.Context, cl *kgo.Client, cfg Config) error {
	replicas, id, err := describeTopic(ctx, cl, cfg.Topic)
	if err == nil {
		err = checkTopicConfigs(ctx, kadm.NewClient(cl), cfg.Topic, replicas, true)
	}
	c.remember(id, err)
	return err
}

// remember takes the result of a check of the instance id.
func (c *checkedTopic) remember(id kadm.TopicID, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id = id; err != nil {
		c.id = kadm.TopicID{}
	}
}

// last is the instance last found right; zero if none, or if the broker
// has no topic ids.
func (c *checkedTopic) last() kadm.TopicID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// ensureTopic creates topic if it is missing (with the extra configs) and
// checks its shape; durable asks for the checks that only the feed's topic
// needs. It returns the id of the topic instance it described (zero from a
// broker without topic ids).
func ensureTopic(ctx context.Context, cl *kgo.Client, c Config, topic string, extra map[string]*string, durable bool) (kadm.TopicID, error) {
	adm := kadm.NewClient(cl)
	replicas, id, err := describeTopic(ctx, cl, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		if err := createTopic(ctx, adm, c, topic, extra); err != nil {
			return id, err
		}
		replicas, id, err = awaitTopic(ctx, cl, topic)
	}
	if err != nil {
		return id, err
	}
	return id, checkTopicConfigs(ctx, adm, topic, replicas, durable)
}

// checkTopicConfigs checks the configs of a topic with that many replicas
// against what feedd needs of it; durable as for ensureTopic.
func checkTopicConfigs(ctx context.Context, adm *kadm.Client, topic string, replicas int, durable bool) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka topic %s: describing configs: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Errorf("kafka topic %s: describing configs: %w", topic, err)
	}
	cfg := make(map[string]string, len(rc.Configs))
	for _, kv := range rc.Configs {
		cfg[kv.Key] = kv.MaybeValue()
	}
	if strings.Contains(cfg["cleanup.policy"], "compact") {
		if !durable {
			return fmt.Errorf("%w: %s has cleanup.policy=%s; a compacted topic refuses the control keepalives (records without a key), feedd needs cleanup.policy=delete", ErrTopicShape, topic, cfg["cleanup.policy"])
		}
		return fmt.Errorf("%w: %s has cleanup.policy=%s; compaction would delete frames, feedd needs cleanup.policy=delete", ErrTopicShape, topic, cfg["cleanup.policy"])
	}
	if v, ok := cfg["min.insync.replicas"]; ok && replicas > 0 {
		if n, err := strconv.Atoi(v); err == nil && n > replicas {
			return fmt.Errorf("%w: %s has min.insync.replicas=%d but only %d replicas; every acks=all write would fail", ErrTopicShape, topic, n, replicas)
		}
	}
	if durable && cfg["unclean.leader.election.enable"] == "true" {
		return fmt.Errorf("%w: %s has unclean.leader.election.enable=true; an unclean election can drop committed frames", ErrTopicShape, topic)
	}
	return nil
}

// topicAppearTimeout bounds how long a member waits for a topic it (or its
// peer) has just created to show in the broker's metadata with a leader.
const topicAppearTimeout = 30 * time.Second

// awaitTopic describes a topic that has just been created. Kafka answers
// CreateTopics once its controller has recorded the topic; each broker
// learns of it from the controller's log a moment later, and the partition
// has no leader until then, so a metadata request can still answer
// UNKNOWN_TOPIC_OR_PARTITION, or the partition LEADER_NOT_AVAILABLE. An
// activation that went on to list the last stable offset would fail. (kfake
// creates topics synchronously, which is why only Kafka shows this.)
func awaitTopic(ctx context.Context, cl *kgo.Client, topic string) (replicas int, id kadm.TopicID, err error) {
	deadline := time.Now().Add(topicAppearTimeout)
	for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, 500*time.Millisecond) {
		var leader int32
		replicas, leader, id, err = describePartition(ctx, cl, topic)
		switch {
		case err == nil && leader >= 0:
			return replicas, id, nil
		case err == nil:
			err = fmt.Errorf("kafka topic %s: %w", topic, kerr.LeaderNotAvailable)
		case !errors.Is(err, kerr.UnknownTopicOrPartition) && !errors.Is(err, kerr.LeaderNotAvailable):
			return 0, id, err
		}
		if time.Now().After(deadline) {
			return 0, id, fmt.Errorf("created, but not ready after %v: %w", topicAppearTimeout, err)
		}
		select {
		case <-ctx.Done():
			return 0, id, fmt.Errorf("%w (waiting for it after creating it: %w)", err, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// describeTopic checks the partition count and returns the number of
// replicas. It asks the broker directly: franz-go's metadata cache (which
// kadm's listings use) would keep answering "unknown topic" for a few
// seconds after the peer created it.
func describeTopic(ctx context.Context, cl *kgo.Client, topic string) (replicas int, id kadm.TopicID, err error) {
	replicas, _, id, err = describePartition(ctx, cl, topic)
	return replicas, id, err
}

// describePartition is describeTopic that also returns the partition's
// leader (-1 while it has none).
func describePartition(ctx context.Context, cl *kgo.Client, topic string) (replicas int, leader int32, id kadm.TopicID, err error) {
	t, err := topicMetadata(ctx, cl, topic)
	if err != nil {
		return 0, -1, id, err
	}
	id = kadm.TopicID(t.TopicID)
	if n := len(t.Partitions); n != 1 {
		return 0, -1, id, fmt.Errorf("%w: %s has %d partitions; feedd needs exactly 1, because the feed's order holds only within one partition", ErrTopicShape, topic, n)
	}
	// A partition error (LEADER_NOT_AVAILABLE, REPLICA_NOT_AVAILABLE for
	// an offline follower) is not the topic's shape: producing and
	// listing offsets report what matters of it.
	part := t.Partitions[0]
	return len(part.Replicas), part.Leader, id, nil
}

// topicMetadata asks the broker (not franz-go's cache) for one topic's
// metadata.
func topicMetadata(ctx context.Context, cl *kgo.Client, topic string) (kmsg.MetadataResponseTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false // feedd creates it, with the shape it needs
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.MetadataResponseTopic{}, fmt.Errorf("kafka topic %s: metadata: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return kmsg.MetadataResponseTopic{}, fmt.Errorf("kafka topic %s: metadata: %d topics in the answer", topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return kmsg.MetadataResponseTopic{}, fmt.Errorf("kafka topic %s: %w", topic, err)
	}
	return t, nil
}

func createTopic(ctx context.Context, adm *kadm.Client, c Config, topic string, extra map[string]*string) error {
	configs := map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}
	for k, v := range extra {
		configs[k] = v
	}
	if c.MinInsyncReplicas > 0 {
		configs["min.insync.replicas"] = kadm.StringPtr(strconv.Itoa(c.MinInsyncReplicas))
	}
	rf := int16(-1) // the broker's default.replication.factor
	if c.ReplicationFactor > 0 {
		rf = int16(c.ReplicationFactor)
	}
	// One partition, whatever kafka.partitions says (Validate insists on
	// 1 anyway): the feed's order needs it, and the keepalives need no more.
	_, err := adm.CreateTopic(ctx, 1, rf, configs, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) { // the peer may have won the race
		return fmt.Errorf("kafka topic %s: creating (partitions 1, replication factor %d): %w", topic, rf, err)
	}
	return nil
}
