package kafkatest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/feedd/feedd/internal/childproc"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Defaults of Config.
const (
	DefaultHeap         = "512m"
	DefaultStartTimeout = 2 * time.Minute
	DefaultStopTimeout  = time.Minute
)

// nodeID is the single node's id, broker and controller.
const nodeID = 1

// quorum is what the nodes of a cluster share: the cluster id their
// storage is formatted with and the static controller quorum.
type quorum struct {
	clusterID string
	// voters is controller.quorum.voters: id@host:port of every node.
	voters string
	// replicas is the replication factor of the test topics and of the
	// internal ones; min.insync.replicas is one less.
	replicas int
}

// Listener is an extra listener of the broker.
type Listener struct {
	// Name is the listener's name: upper-case letters, digits and '_'
	// (PLAINTEXT and CONTROLLER are taken).
	Name string
	// Addr is where it listens: 127.0.0.1:port. Empty: a free port.
	Addr string
	// Advertise is the host:port the broker tells clients that connected
	// to this listener to reach it at. Empty: the listener's own address.
	Advertise string
}

// Config says how to run a broker.
type Config struct {
	// Dir holds the broker's configuration, data and logs; it is created
	// if missing. Required.
	Dir string
	// Listen is the bootstrap listener's address (PLAINTEXT). Empty:
	// 127.0.0.1 and a free port. Only 127.0.0.1 is accepted.
	Listen string
	// Listeners are extra listeners, each on 127.0.0.1.
	Listeners []Listener
	// Heap is the JVM's heap size (-Xms and -Xmx), default DefaultHeap.
	Heap string
	// StartTimeout bounds Start and Restart (default DefaultStartTimeout).
	StartTimeout time.Duration
	// Detach lets the broker outlive this process (make kafka-up). Without
	// it the kernel kills the broker when the process that started it
	// dies, so a test killed by its timeout leaves no broker behind.
	Detach bool
	// Logf, if set, receives what the broker's lifecycle does.
	Logf func(format string, args ...any)
	// Properties are extra lines of server.properties ("key=value"),
	// after the ones written here: a test that needs a broker set
	// otherwise than users run it says so here.
	Properties []string
}

// Broker is a running (or stopped) single-node Kafka.
type Broker struct {
	in        *Install
	cfg       Config
	id        int32
	quorum    *quorum // nil: a standalone single node
	addr      string
	ctrl      string
	listeners map[string]string // name -> its own address

	mu   sync.Mutex
	proc *childproc.Process // the broker's JVM, nil until it is launched
}

var listenerName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Start formats a fresh node in cfg.Dir (--standalone, transaction
// protocol version 2), starts it and returns once it answers a metadata
// request listing itself.
func (in *Install) Start(ctx context.Context, cfg Config) (*Broker, error) {
	b, err := in.prepare(cfg, nodeID)
	if err != nil {
		return nil, err
	}
	if err := b.setUp(ctx); err != nil {
		return nil, err
	}
	if err := b.launch(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// prepare checks cfg, applies its defaults and picks the node's addresses.
func (in *Install) prepare(cfg Config, id int32) (*Broker, error) {
	if cfg.Dir == "" {
		return nil, errors.New("kafkatest: Config.Dir is required")
	}
	if cfg.Heap == "" {
		cfg.Heap = DefaultHeap
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	b := &Broker{in: in, cfg: cfg, id: id, listeners: map[string]string{}}
	var err error
	if b.addr, err = loopbackAddr(cfg.Listen); err != nil {
		return nil, err
	}
	if b.ctrl, err = loopbackAddr(""); err != nil {
		return nil, err
	}
	for _, l := range cfg.Listeners {
		if !listenerName.MatchString(l.Name) || l.Name == "PLAINTEXT" || l.Name == "CONTROLLER" || b.listeners[l.Name] != "" {
			return nil, fmt.Errorf("kafkatest: listener name %q: want a new name of upper-case letters, digits and '_'", l.Name)
		}
		if b.listeners[l.Name], err = loopbackAddr(l.Addr); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// setUp writes the node's configuration and formats its storage.
func (b *Broker) setUp(ctx context.Context) error {
	for _, d := range []string{b.dataDir(), b.logDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("kafkatest: %w", err)
		}
	}
	if err := os.WriteFile(b.propertiesPath(), []byte(b.properties()), 0o644); err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	if err := os.WriteFile(b.log4jPath(), []byte(b.log4j()), 0o644); err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	return b.format(ctx)
}

// loopbackAddr checks a 127.0.0.1 address, or picks one with a port free
// at the time of the call (freePort).
func loopbackAddr(addr string) (string, error) {
	if addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			return "", fmt.Errorf("kafkatest: listen address %q: want 127.0.0.1:port", addr)
		}
		return addr, nil
	}
	return freePort()
}

// FreeAddr is a 127.0.0.1 address with a port free at the time of the
// call, below the ephemeral range where it can, never handed out before
// by this process: for a proxy or a listener a test closes and opens again
// on the same address.
func FreeAddr() (string, error) { return freePort() }

// picked holds the ports freePort handed out in this process, so that two
// nodes of a cluster never get the same one.
var picked struct {
	sync.Mutex
	ports map[int]bool
}

// freePort returns a 127.0.0.1 address with a port free at the time of the
// call, below the kernel's range of ephemeral ports where it can: a node
// killed and restarted binds its ports again, and a port from the ephemeral
// range can meanwhile have become the local end of some outgoing
// connection.
func freePort() (string, error) {
	picked.Lock()
	defer picked.Unlock()
	if picked.ports == nil {
		picked.ports = map[int]bool{}
	}
	low := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	if low > 11000 {
		for range 100 {
			port := 10000 + mrand.IntN(low-11000)
			if picked.ports[port] {
				continue
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if ln, err := net.Listen("tcp", addr); err == nil {
				ln.Close()
				picked.ports[port] = true
				return addr, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("kafkatest: picking a port: %w", err)
	}
	defer ln.Close()
	picked.ports[ln.Addr().(*net.TCPAddr).Port] = true
	return ln.Addr().String(), nil
}

func (b *Broker) logf(format string, args ...any) {
	if b.cfg.Logf != nil {
		b.cfg.Logf(format, args...)
	}
}

func (b *Broker) dataDir() string        { return filepath.Join(b.cfg.Dir, "data") }
func (b *Broker) logDir() string         { return filepath.Join(b.cfg.Dir, "logs") }
func (b *Broker) propertiesPath() string { return filepath.Join(b.cfg.Dir, "server.properties") }
func (b *Broker) log4jPath() string      { return filepath.Join(b.cfg.Dir, "log4j2.properties") }
func (b *Broker) pidPath() string        { return filepath.Join(b.cfg.Dir, "broker.pid") }

// LogPath is the broker's own log (log4j2).
func (b *Broker) LogPath() string { return filepath.Join(b.logDir(), "server.log") }

// Addr is the bootstrap listener's address.
func (b *Broker) Addr() string { return b.addr }

// ListenerAddr is the address an extra listener listens on (which is not
// the address it advertises if Listener.Advertise was set).
func (b *Broker) ListenerAddr(name string) string { return b.listeners[name] }

// ID is the node's id (1 for a single node).
func (b *Broker) ID() int32 { return b.id }

// Dir is the broker's directory.
func (b *Broker) Dir() string { return b.cfg.Dir }

// Version is the Kafka release the broker runs.
func (b *Broker) Version() string { return b.in.Version }

// properties is the node's server.properties: one combined broker and
// controller, alone or as one of a cluster's, everything sized for a
// test's load.
func (b *Broker) properties() string {
	listeners := []string{"PLAINTEXT://" + b.addr, "CONTROLLER://" + b.ctrl}
	advertised := []string{"PLAINTEXT://" + b.addr}
	protocols := []string{"PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"}
	for _, l := range b.cfg.Listeners {
		own := b.listeners[l.Name]
		listeners = append(listeners, l.Name+"://"+own)
		advertised = append(advertised, l.Name+"://"+cmp.Or(l.Advertise, own))
		protocols = append(protocols, l.Name+":PLAINTEXT")
	}
	head := []string{
		"# Written by broadcast/kafkatest: a single KRaft node for tests.",
		"controller.quorum.bootstrap.servers=" + b.ctrl,
	}
	// One node: every internal topic has one replica.
	replicas, minISR := "1", "1"
	if q := b.quorum; q != nil {
		head = []string{
			fmt.Sprintf("# Written by broadcast/kafkatest: node %d of a KRaft cluster for tests.", b.id),
			// A static quorum: every node knows every voter from the
			// start, so the three start together without a bootstrap
			// controller.
			"controller.quorum.voters=" + q.voters,
		}
		replicas, minISR = strconv.Itoa(q.replicas), strconv.Itoa(max(q.replicas-1, 1))
	}
	return strings.Join(append(append(head,
		"process.roles=broker,controller",
		"node.id="+strconv.Itoa(int(b.id)),
		"controller.listener.names=CONTROLLER",
		"listeners="+strings.Join(listeners, ","),
		"advertised.listeners="+strings.Join(advertised, ","),
		"listener.security.protocol.map="+strings.Join(protocols, ","),
		"inter.broker.listener.name=PLAINTEXT",
		"log.dirs="+b.dataDir(),
		"num.partitions=1",
		// Topics created without a replication factor, and every internal
		// topic, have one replica per node (at most three) and need all
		// but one in sync to take a write (acks=all); one partition is
		// plenty (and starts faster than 50), which also puts every
		// transactional id on the same coordinator.
		"default.replication.factor="+replicas,
		"min.insync.replicas="+minISR,
		"offsets.topic.replication.factor="+replicas,
		"offsets.topic.num.partitions=1",
		"transaction.state.log.replication.factor="+replicas,
		"transaction.state.log.min.isr="+minISR,
		"transaction.state.log.num.partitions=1",
		"share.coordinator.state.topic.replication.factor="+replicas,
		"share.coordinator.state.topic.min.isr="+minISR,
		// A committed record must never vanish with a replica that was
		// out of sync (the default, named because the tests rely on it).
		"unclean.leader.election.enable=false",
		"group.initial.rebalance.delay.ms=0",
		// A broker killed with SIGKILL stays registered until its session
		// times out: its partitions keep it as their leader, and the
		// restarted one cannot register before that
		// (DUPLICATE_BROKER_REGISTRATION): 3s rather than 9s.
		"broker.heartbeat.interval.ms=500",
		"broker.session.timeout.ms=3000",
		// Two cores: fewer threads than the defaults (3 and 8).
		"num.network.threads=2",
		"num.io.threads=4",
	), b.cfg.Properties...), "\n") + "\n"
}

// log4j is the broker's logging configuration: INFO to logs/server.log.
func (b *Broker) log4j() string {
	return strings.Join([]string{
		"rootLogger.level=INFO",
		"rootLogger.appenderRef.file.ref=file",
		"appender.file.type=File",
		"appender.file.name=file",
		"appender.file.fileName=" + b.LogPath(),
		"appender.file.append=true",
		"appender.file.layout.type=PatternLayout",
		"appender.file.layout.pattern=[%d] %p %m (%c)%n",
		// The request logger is chatty at INFO on some versions.
		"logger.request.name=kafka.request.logger",
		"logger.request.level=WARN",
		"",
	}, "\n")
}

// jvm is the java command line up to the main class.
func (b *Broker) jvm(mainClass string, args ...string) *exec.Cmd {
	jargs := []string{
		"-Xms" + b.cfg.Heap, "-Xmx" + b.cfg.Heap,
		"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
		// The client compiler alone: the broker starts with half the CPU
		// time (a test starts many brokers on two cores), and a test's
		// load never needs the optimising compiler.
		"-XX:TieredStopAtLevel=1",
		"-XX:+ExitOnOutOfMemoryError",
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + b.log4jPath(),
		"-cp", b.in.Classpath(),
		mainClass,
	}
	cmd := exec.Command(b.in.Java, append(jargs, args...)...)
	cmd.Dir = b.cfg.Dir
	if b.cfg.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		// The kernel sends the signal when the thread that started the
		// broker exits; Go's runtime keeps its threads for the life of
		// the process.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	return cmd
}

// format writes the node's storage: a fresh cluster id and the dynamic
// quorum of this one controller (or a cluster's shared id and its static
// quorum), and the transaction protocol of KIP-890
// (transaction.version=2) named explicitly rather than left to the
// release's default.
func (b *Broker) format(ctx context.Context) error {
	args := []string{"format", "--config", b.propertiesPath(), "--feature", "transaction.version=2"}
	if b.quorum != nil {
		// The voters are in the configuration (controller.quorum.voters).
		args = append(args, "--cluster-id", b.quorum.clusterID)
	} else {
		id, err := clusterID()
		if err != nil {
			return err
		}
		args = append(args, "--cluster-id", id, "--standalone")
	}
	cmd := b.jvm("kafka.tools.StorageTool", args...)
	out, err := runBounded(ctx, cmd, b.cfg.StartTimeout)
	b.logf("kafka: formatted %s: %s", b.dataDir(), strings.TrimSpace(lastLine(out)))
	if err != nil {
		return fmt.Errorf("kafkatest: formatting the storage: %w\n%s", err, out)
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// runBounded runs cmd to its end, killing it after d or when ctx ends.
func runBounded(ctx context.Context, cmd *exec.Cmd, d time.Duration) (string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return out.String(), err
	case <-ctx.Done():
	case <-timer.C:
	}
	cmd.Process.Kill()
	<-done
	return out.String(), fmt.Errorf("did not finish within %v", d)
}

// clusterID is a random Kafka Uuid in its text form (URL-safe base64 of 16
// bytes); Kafka's own generator avoids a leading '-' so that the id cannot
// be taken for a command-line option.
func clusterID() (string, error) {
	for {
		var u [16]byte
		if _, err := rand.Read(u[:]); err != nil {
			return "", err
		}
		if s := base64.RawURLEncoding.EncodeToString(u[:]); s[0] != '-' {
			return s, nil
		}
	}
}

// launch starts the broker's JVM on the formatted storage and waits until
// it is ready.
func (b *Broker) launch(ctx context.Context) error {
	out, err := os.OpenFile(filepath.Join(b.logDir(), "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := b.jvm("kafka.Kafka", b.propertiesPath())
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kafkatest: starting the broker: %w", err)
	}
	p := childproc.Reap(cmd, nil)
	b.mu.Lock()
	b.proc = p
	b.mu.Unlock()
	if err := os.WriteFile(b.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	if err := b.waitReady(ctx, p); err != nil {
		p.Kill()
		return err
	}
	b.logf("kafka %s: node %d ready on %s after %v (pid %d)", b.in.Version, b.id, b.addr, time.Since(start).Round(time.Millisecond), cmd.Process.Pid)
	return nil
}

// waitReady polls until the broker lists itself in a metadata response,
// the process exits, ctx ends or StartTimeout passes. Each poll is a fresh
// client, so that no connection backoff carries over from the attempts made
// before the broker listened.
func (b *Broker) waitReady(ctx context.Context, p *childproc.Process) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.StartTimeout)
	defer cancel()
	var last error = errors.New("not polled yet")
	for {
		if err := b.probe(ctx); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-p.Done():
			return fmt.Errorf("kafkatest: the broker exited while starting: %v\n%s", p.Wait(), b.LogTail(40))
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: the broker was not ready after %v: %v\n%s", b.cfg.StartTimeout, last, b.LogTail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe is one metadata request, answered only by a broker that has
// registered with its controller and opened its listeners.
func (b *Broker) probe(ctx context.Context) error {
	conn, err := net.DialTimeout("tcp", b.addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0), kgo.DisableClientMetrics())
	if err != nil {
		return err
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(m.Brokers, func(d kadm.BrokerDetail) bool { return d.NodeID == b.id }) {
		return fmt.Errorf("metadata lists brokers %v", m.Brokers.NodeIDs())
	}
	return nil
}

func (b *Broker) current() *childproc.Process {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.proc
}

// Running reports whether the broker's process is alive.
func (b *Broker) Running() bool {
	p := b.current()
	return p != nil && !p.Exited()
}

// Stop stops the broker as an operator does (SIGTERM: a controlled
// shutdown), killing it if it has not exited after DefaultStopTimeout.
func (b *Broker) Stop() error {
	p := b.current()
	if p == nil || !p.Stop(DefaultStopTimeout, nil) {
		return nil
	}
	return fmt.Errorf("kafkatest: the broker ignored SIGTERM for %v; killed", DefaultStopTimeout)
}

// Kill kills the broker at once (SIGKILL) and waits for it to be gone.
func (b *Broker) Kill() {
	if p := b.current(); p != nil {
		p.Kill()
	}
}

// Restart stops the broker if it runs (gracefully, or with SIGKILL if
// hard), starts it again on the same storage and addresses, and waits until
// it is ready.
func (b *Broker) Restart(ctx context.Context, hard bool) error {
	if hard {
		b.Kill()
	} else if err := b.Stop(); err != nil {
		return err
	}
	return b.launch(ctx)
}

// Close kills the broker; its directory is left to the caller.
func (b *Broker) Close() { b.Kill() }

// LogTail returns the last n lines of the broker's log.
func (b *Broker) LogTail(n int) string {
	data, err := os.ReadFile(b.LogPath())
	if err != nil {
		return fmt.Sprintf("(no broker log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FinalizedFeatures asks the broker (ApiVersions) for its finalized
// feature levels, e.g. transaction.version.
func (b *Broker) FinalizedFeatures(ctx context.Context) (map[string]int16, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DisableClientMetrics())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "feedd-kafkatest", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: ApiVersions: %w", err)
	}
	out := map[string]int16{}
	for _, f := range resp.FinalizedFeatures {
		out[f.Name] = f.MaxVersionLevel
	}
	return out, nil
}
