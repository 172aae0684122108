package broadcast

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Defaults applied by Config.WithDefaults to fields left at zero.
const (
	// DefaultCommitInterval bounds how long a transaction stays open: a
	// frame becomes visible to read_committed consumers at most this long
	// (plus the round trips of the transaction's first record and of its
	// commit) after the active read it. Below
	// saturation a transaction commits sooner, as soon as it holds every
	// frame read; the interval cuts the transactions of a backlog or of a
	// feed faster than the commits. See docs/kafka.md.
	DefaultCommitInterval = 25 * time.Millisecond
	// DefaultCommitMaxFrames caps one transaction in frames; a backlog
	// flush after activation commits this many at a time (fewer when
	// commit_max_bytes or commit_interval cuts first). Each transaction of
	// a backlog pays its first record alone, its EndTxn and its markers:
	// at 5,000 a 100 k backlog paid that twenty times and flushed a third
	// slower (docs/benchmarks.md). What the producer holds of a
	// transaction (400 bytes of record and header structures a frame, and
	// copies of the frames and header values) grows to the largest
	// transaction of an activation, some 25 to 35 MB at these caps for
	// 100-byte frames, and is released when the activation ends.
	DefaultCommitMaxFrames = 50000
	// DefaultCommitMaxBytes caps one transaction in frame bytes.
	DefaultCommitMaxBytes = 4 << 20
	// DefaultTransactionTimeout bounds how long an open transaction of a
	// member that hangs without being fenced can hold back every
	// read_committed consumer (the peer's activation aborts it at once).
	DefaultTransactionTimeout = 10 * time.Second
	// DefaultCommitTimeout is how long one commit may take before the
	// pipeline reports "commit failing since".
	DefaultCommitTimeout = 2 * time.Second
	// DefaultControlInterval is how long the active member's feed may stay
	// quiet (no data committed) before it commits a control keepalive on
	// the control topic. It matches the pair protocol's default heartbeat
	// interval, so that the Kafka witness is as fresh as the pair link's
	// heartbeats; each keepalive costs one small transaction. See
	// docs/kafka.md.
	DefaultControlInterval = 100 * time.Millisecond
	// ControlTopicSuffix makes the default control topic name:
	// <topic>.control.
	ControlTopicSuffix = ".control"
	// ControlRetention is the retention.ms (and ControlSegment the
	// segment.ms) of a control topic feedd creates: the keepalives are
	// liveness only, worth nothing once read.
	ControlRetention = time.Hour
	ControlSegment   = 10 * time.Minute
	// minControlInterval bounds kafka.control_interval from below: each
	// keepalive is a whole transaction.
	minControlInterval = 10 * time.Millisecond
)

// Key modes for Config.Key.
const (
	KeyNone     = "none"     // no record key (the default)
	KeyIdentity = "identity" // the frame identity, as 16 hexadecimal digits
	KeyPipeline = "pipeline" // the pipeline name, the same on every record
)

// Producer modes for Config.Producer.
const (
	// ProducerTransactional is the default and the only mode that keeps the
	// pair's guarantees: frames are committed in transactions under the
	// shared transactional id, which is also the lock that fences a zombie.
	ProducerTransactional = "transactional"
	// ProducerIdempotent produces with an idempotent producer and no
	// transactions: no transactional id, so nothing fences the previous
	// active, and no commit marks what a failover may replay. It exists to
	// measure what exactly-once costs and for a single member that accepts
	// duplicates and split-brain writes across a failover; it is unsafe in
	// a pair. See docs/kafka.md.
	ProducerIdempotent = "idempotent"
)

// Compression codecs for Config.Compression.
var compressions = []string{"none", "snappy", "lz4", "zstd"}

// SASL mechanisms for SASLConfig.Mechanism.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Config is the `kafka:` section: where the pipeline's topic lives and how the
// active commits to it. Every field has a YAML path, an environment variable
// and a flag (see docs/configuration.md); docs/kafka.md explains the choices.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// Topic is the pipeline's topic. It must have one partition and must not
	// be compacted; it is created with that shape if missing.
	Topic string `yaml:"topic"`
	// TransactionalID is the pair's lock. Empty means feedd-<pipeline>.
	// Both members of a pipeline must use the same one.
	TransactionalID string `yaml:"transactional_id"`

	CommitInterval time.Duration `yaml:"commit_interval"`
	// CommitLinger is how long a transaction stays open at least, from
	// when its first frame was read, before it commits the frames it
	// holds. Zero (the default) commits as soon as the transaction holds
	// every frame read: a commit per commit round trip, the lowest
	// latency. Longer gathers more frames per transaction: fewer commits,
	// less broker and CPU load, more latency. At most CommitInterval.
	CommitLinger       time.Duration `yaml:"commit_linger"`
	CommitMaxFrames    int           `yaml:"commit_max_frames"`
	CommitMaxBytes     int64         `yaml:"commit_max_bytes"`
	CommitTimeout      time.Duration `yaml:"commit_timeout"`
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`

	// ControlTopic is the topic of the control keepalives; empty means
	// <topic>.control. It is created with one partition and a short
	// retention if missing.
	ControlTopic string `yaml:"control_topic"`
	// ControlInterval is how long the active member's feed may be quiet
	// (nothing committed) before it commits a control keepalive; 0 means
	// DefaultControlInterval and a negative value disables the keepalives
	// (neither written nor read). It must be the same on both members.
	ControlInterval time.Duration `yaml:"control_interval"`

	// Partitions, ReplicationFactor and MinInsyncReplicas shape the topic
	// when feedd creates it. Partitions must be 1. 0 for the other two
	// means the broker's default.
	Partitions        int `yaml:"partitions"`
	ReplicationFactor int `yaml:"replication_factor"`
	MinInsyncReplicas int `yaml:"min_insync_replicas"`

	// Producer is ProducerTransactional (the default) or
	// ProducerIdempotent, which is unsafe across a failover.
	Producer string `yaml:"producer"`

	// Key is none, identity or pipeline.
	Key string `yaml:"key"`
	// Compression is none, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`

	TLS  TLSConfig  `yaml:"tls"`
	SASL SASLConfig `yaml:"sasl"`
}

// TLSConfig enables TLS on every broker connection.
type TLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs to trust; empty means the system
	// roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the broker's certificate.
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig authenticates every broker connection. The password never
// appears in the configuration: it is read from PasswordFile or from the
// environment variable named by PasswordEnv each time a connection
// authenticates, and is never logged or reported.
type SASLConfig struct {
	// Mechanism is empty (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism    string `yaml:"mechanism"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.CommitInterval = cmp.Or(c.CommitInterval, DefaultCommitInterval)
	c.CommitMaxFrames = cmp.Or(c.CommitMaxFrames, DefaultCommitMaxFrames)
	c.CommitMaxBytes = cmp.Or(c.CommitMaxBytes, DefaultCommitMaxBytes)
	c.CommitTimeout = cmp.Or(c.CommitTimeout, DefaultCommitTimeout)
	c.TransactionTimeout = cmp.Or(c.TransactionTimeout, DefaultTransactionTimeout)
	c.ControlInterval = cmp.Or(c.ControlInterval, DefaultControlInterval)
	if c.ControlTopic == "" && c.Topic != "" {
		c.ControlTopic = c.Topic + ControlTopicSuffix
	}
	c.Partitions = cmp.Or(c.Partitions, 1)
	c.Producer = cmp.Or(c.Producer, ProducerTransactional)
	c.Key = cmp.Or(c.Key, KeyNone)
	c.Compression = cmp.Or(c.Compression, "none")
	return c
}

// TransactionalIDFor returns the transactional id of the pipeline: the
// configured one, or feedd-<pipeline>.
func (c Config) TransactionalIDFor(pipeline string) string {
	if c.TransactionalID != "" {
		return c.TransactionalID
	}
	return "feedd-" + pipeline
}

// maxCommitFrames bounds commit_max_frames: the producer buffers at most one
// transaction, and this keeps that buffer sane.
const maxCommitFrames = 1 << 20

// Validate reports every invalid field, each error naming the field by its
// YAML path, e.g. "kafka.commit_interval: must be > 0".
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka."+field+": "+format, args...))
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "required (at least one host:port)")
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad("brokers", "%q is not host:port", b)
		}
	}
	switch {
	case c.Topic == "":
		bad("topic", "required")
	case !legalTopic(c.Topic):
		bad("topic", "%q is not a legal topic name (letters, digits, '.', '_', '-', at most 249)", c.Topic)
	}
	if strings.ContainsAny(c.TransactionalID, " \t\n") {
		bad("transactional_id", "%q must not contain white space", c.TransactionalID)
	}
	if c.CommitInterval <= 0 {
		bad("commit_interval", "must be > 0")
	}
	if c.CommitLinger < 0 || c.CommitLinger > max(c.CommitInterval, 0) {
		bad("commit_linger", "must be between 0 and kafka.commit_interval (%v)", c.CommitInterval)
	}
	switch {
	case c.CommitMaxFrames <= 0:
		bad("commit_max_frames", "must be > 0")
	case c.CommitMaxFrames > maxCommitFrames:
		bad("commit_max_frames", "must be <= %d", maxCommitFrames)
	}
	if c.CommitMaxBytes <= 0 {
		bad("commit_max_bytes", "must be > 0")
	}
	if c.CommitTimeout <= 0 {
		bad("commit_timeout", "must be > 0")
	}
	switch {
	case c.TransactionTimeout < time.Second:
		bad("transaction_timeout", "must be >= 1s")
	case c.TransactionTimeout <= c.CommitInterval:
		bad("transaction_timeout", "must be longer than kafka.commit_interval (%v)", c.CommitInterval)
	}
	switch {
	case c.ControlInterval == 0:
		bad("control_interval", "must be > 0, or negative to disable the control keepalives")
	case c.ControlInterval > 0 && c.ControlInterval < minControlInterval:
		bad("control_interval", "must be at least %v (each keepalive is a transaction), or negative to disable", minControlInterval)
	}
	switch {
	case c.ControlTopic == "" && c.ControlInterval > 0 && c.Topic != "":
		bad("control_topic", "required while kafka.control_interval is positive")
	case c.ControlTopic == "":
	case !legalTopic(c.ControlTopic):
		bad("control_topic", "%q is not a legal topic name (letters, digits, '.', '_', '-', at most 249); with a long kafka.topic, set kafka.control_topic", c.ControlTopic)
	case c.ControlTopic == c.Topic:
		bad("control_topic", "%q must differ from kafka.topic: control keepalives never go into the feed", c.ControlTopic)
	case topicCollides(c.ControlTopic, c.Topic):
		bad("control_topic", "%q collides with kafka.topic %q ('.' and '_' are the same in Kafka's metric names)", c.ControlTopic, c.Topic)
	}
	if c.Partitions != 1 {
		bad("partitions", "must be 1: the order of the feed holds only within one partition")
	}
	if c.ReplicationFactor < 0 || c.ReplicationFactor > 32767 {
		bad("replication_factor", "must be between 0 (broker default) and 32767")
	}
	if c.MinInsyncReplicas < 0 {
		bad("min_insync_replicas", "must be >= 0 (0: broker default)")
	}
	if c.ReplicationFactor > 0 && c.MinInsyncReplicas > c.ReplicationFactor {
		bad("min_insync_replicas", "%d exceeds kafka.replication_factor %d: every acks=all write would fail", c.MinInsyncReplicas, c.ReplicationFactor)
	}
	if c.Producer != ProducerTransactional && c.Producer != ProducerIdempotent {
		bad("producer", "%q is not one of %s, %s", c.Producer, ProducerTransactional, ProducerIdempotent)
	}
	if c.Key != KeyNone && c.Key != KeyIdentity && c.Key != KeyPipeline {
		bad("key", "%q is not one of none, identity, pipeline", c.Key)
	}
	if !slices.Contains(compressions, c.Compression) {
		bad("compression", "%q is not one of %s", c.Compression, strings.Join(compressions, ", "))
	}
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.SASL.validate()...)
	return errors.Join(errs...)
}

// legalTopic reports whether name is a legal Kafka topic name.
func legalTopic(name string) bool {
	return len(name) <= 249 && name != "" && name != "." && name != ".." &&
		strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

// topicCollides reports whether Kafka would refuse a and b side by side:
// they differ only in '.' against '_'.
func topicCollides(a, b string) bool {
	r := strings.NewReplacer(".", "_")
	return a != b && r.Replace(a) == r.Replace(b)
}

func (c TLSConfig) validate() []error {
	var errs []error
	if !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.InsecureSkipVerify) {
		errs = append(errs, errors.New("kafka.tls.enabled: must be true when other kafka.tls fields are set"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("kafka.tls.key_file: kafka.tls.cert_file and kafka.tls.key_file go together"))
	}
	return errs
}

func (c SASLConfig) validate() []error {
	var errs []error
	if c.Mechanism == "" {
		if c.Username != "" || c.PasswordFile != "" || c.PasswordEnv != "" {
			errs = append(errs, errors.New("kafka.sasl.mechanism: required when other kafka.sasl fields are set"))
		}
		return errs
	}
	if !slices.Contains(saslMechanisms, c.Mechanism) {
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: %q is not one of %s", c.Mechanism, strings.Join(saslMechanisms, ", ")))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("kafka.sasl.username: required with kafka.sasl.mechanism"))
	}
	switch {
	case c.PasswordFile == "" && c.PasswordEnv == "":
		errs = append(errs, errors.New("kafka.sasl.password_file: set kafka.sasl.password_file or kafka.sasl.password_env"))
	case c.PasswordFile != "" && c.PasswordEnv != "":
		errs = append(errs, errors.New("kafka.sasl.password_env: set either kafka.sasl.password_file or kafka.sasl.password_env, not both"))
	}
	return errs
}

// String describes the configuration for logs and status. It names where the
// SASL password comes from, never the password.
func (c Config) String() string {
	control := "off"
	if c.ControlInterval > 0 {
		control = fmt.Sprintf("%s/%v", c.ControlTopic, c.ControlInterval)
	}
	tls := fmt.Sprint(c.TLS.Enabled)
	if c.TLS.Enabled && c.TLS.InsecureSkipVerify {
		tls = "true,insecure-skip-verify"
	}
	return fmt.Sprintf("brokers=%s topic=%s producer=%s transactional_id=%s commit_interval=%v commit_max_frames=%d control=%s tls=%s sasl=%s",
		strings.Join(c.Brokers, ","), c.Topic, c.Producer, c.TransactionalID, c.CommitInterval, c.CommitMaxFrames, control, tls, c.SASL)
}

// String names the mechanism, the user and where the password is read from.
func (c SASLConfig) String() string {
	if c.Mechanism == "" {
		return "none"
	}
	from := "file " + c.PasswordFile
	if c.PasswordEnv != "" {
		from = "env " + c.PasswordEnv
	}
	return fmt.Sprintf("%s user=%s password=[redacted, from %s]", c.Mechanism, c.Username, from)
}
