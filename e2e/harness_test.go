package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/kafkatest"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/internal/memberproc"
	"github.com/feedd/feedd/member"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The end-to-end harness runs the real feedd binary: an in-process kfake
// broker (or, for the chaos suite, a real Apache Kafka broker, each member
// reaching it through a proxy of its own), an in-process serialsim with one
// socat port per member, and two `feedd run` processes (members a and b)
// with generated configurations, a shared pair secret and admin endpoints
// on 127.0.0.1 ports picked here.
// Processes are killed in t.Cleanup; when a test fails, the last lines of
// every member's log are dumped.

// e2eBin is the feedd binary, built once per test process on first use;
// TestMain removes its directory.
var e2eBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// feeddBinary builds (once) and returns the feedd binary.
func feeddBinary(t testing.TB) string {
	t.Helper()
	e2eBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "feedd-e2e-bin-")
		if err != nil {
			e2eBin.err = err
			return
		}
		e2eBin.dir = dir // TestMain removes it
		e2eBin.path, e2eBin.err = memberproc.Build(context.Background(), dir)
	})
	if e2eBin.err != nil {
		t.Fatal(e2eBin.err)
	}
	return e2eBin.path
}

// needE2E skips end-to-end tests in -short mode and without socat.
func needE2E(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("FEEDD_REQUIRE_SOCAT") != "" {
			t.Fatal("socat is not installed and FEEDD_REQUIRE_SOCAT is set (apt-get install socat, or make deps)")
		}
		t.Skip("SKIPPED: socat is not installed (apt-get install socat, or make deps)")
	}
}

// Feed settings: 100 frames a second of 64 bytes at 115200 baud (a busy
// NMEA line), light enough for two members and a broker on two cores.
const (
	e2eBaud = 115200
	e2eRate = 100
	// e2eActivation is the pair's activation interval (the default).
	e2eActivation = 500 * time.Millisecond
	// e2eWait bounds every wait for a condition: generous, so that a loaded
	// machine slows the tests down rather than failing them.
	e2eWait = 30 * time.Second
	// fastRedials is a pairYAML whose members redial and give up on a
	// handshake quickly.
	fastRedials = "reconnect_max: 200ms\ndial_timeout: 500ms\nhandshake_timeout: 1s"
)

type e2eOptions struct {
	// proxy puts a TCP proxy the test controls between a (which dials,
	// its id being lower) and b's pair listener.
	proxy bool
	// kafka runs the members against a real Kafka broker (kafkatest)
	// instead of kfake: each member has a listener of its own, advertised
	// at a proxy of its own (e2eMember.kafkaProxies), which is the only
	// broker address in its configuration.
	kafka bool
	// cluster runs the members against a running three-node cluster
	// instead (implies kafka), each member reaching each node through a
	// proxy of its own. name then gives the pipeline and its topic, which
	// must differ between the runs that share the cluster.
	cluster *e2eKafkaCluster
	name    string
	// rate and baud are the feed's frames per second and line speed;
	// zero: e2eRate and e2eBaud.
	rate float64
	baud int
	// activation is the pair's activation interval; zero: e2eActivation
	// (the default). pairYAML must not set it too.
	activation time.Duration
	// pairYAML is added to every member's pair section, indented by two
	// spaces, e.g. "reconnect_max: 500ms".
	pairYAML string
	// feed is the simulator's generated feed (serialsim.Config.Feed);
	// empty: the sequenced feed. simSeed seeds its content (zero: 1), and
	// record, when set, is where the simulator writes the truth of the run.
	feed    string
	simSeed uint64
	record  string
	// fingerprint configures the members without a sequence extractor:
	// frames are known by their content and line time.
	fingerprint bool
	// readTimeout is the members' serial.read_timeout; zero: 50ms.
	readTimeout time.Duration
	// holdFeed starts the simulator with every frame dropped (fate
	// "dropped": no member owes it) until the test calls releaseFeed,
	// so that a recorded feed starts only once both members read it.
	holdFeed bool
}

// e2eCluster is a broker, a simulated feed and two members.
type e2eCluster struct {
	t      testing.TB
	dir    string
	broker *localbroker.Broker // nil on real Kafka
	kafka  *kafkatest.Broker   // a single node of real Kafka, or nil
	// kcluster is the three-node cluster the run shares, or nil.
	kcluster *e2eKafkaCluster
	// bootstrap is the broker addresses the test's own clients use,
	// separated by commas (seeds splits them).
	bootstrap  string
	baud       int
	activation time.Duration
	sim        *serialsim.Sim
	topic      string
	secret     []byte
	proxy      *kafkatest.Proxy
	members    []*e2eMember // a, b
	bin        string
	// The members' identity and read timeout (e2eOptions).
	fingerprint bool
	readTimeout time.Duration
	// inStep, when set, replaces canCover in waitPair: when an inactive
	// member is in step with the active.
	inStep func(member.Status) bool
	// lostToBoth counts the gaps, and their frames, that the simulator
	// delivered to neither port (lostByBoth).
	lostToBoth struct {
		windows int
		frames  uint64
	}
	// kills are the members killed (SIGKILL), each with the port it read
	// and the feed's position at the kill; lostWithKilled counts the gaps,
	// and their frames, that only a killed member's port delivered, just
	// before its kill (lostByBoth).
	kills          []memberKill
	lostWithKilled struct {
		windows int
		frames  uint64
	}
}

// memberKill is one kill -9 of a member: the simulator port it read, and
// the sequence number of the next frame the simulator would generate.
type memberKill struct {
	port int
	next uint64
}

// killedReadWindow is how long before its kill a frame only the killed
// member's port delivered may be lost with it: the active commits what it
// read within a commit interval, and an inactive answers a repair within
// the repair timeout, but a loaded machine can stretch both.
const killedReadWindow = 2 * time.Second

// e2eMember is one member's configuration and its successive processes.
type e2eMember struct {
	c         *e2eCluster
	id        string
	port      int // simulator port
	cfgPath   string
	adminAddr string
	pairAddr  string
	// kafkaAddrs are the broker addresses in the member's configuration;
	// on real Kafka those of kafkaProxies, one per node.
	kafkaAddrs   []string
	kafkaProxies []*kafkatest.Proxy

	mu    sync.Mutex
	procs []*memberproc.Proc
}

func newE2ECluster(t testing.TB, o e2eOptions) *e2eCluster {
	t.Helper()
	needE2E(t)
	c := &e2eCluster{t: t, topic: cmpOr(o.name, "e2e"), bin: feeddBinary(t), baud: cmpOr(o.baud, e2eBaud), activation: cmpOr(o.activation, e2eActivation),
		fingerprint: o.fingerprint, readTimeout: cmpOr(o.readTimeout, 50*time.Millisecond)}
	if o.activation != 0 {
		o.pairYAML = strings.TrimSpace(o.pairYAML + "\nactivation_interval: " + o.activation.String())
	}
	dir, err := os.MkdirTemp("", "feedd-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	// Cleanups run last registered first: processes are killed, then (on
	// failure) their logs dumped, then the directory removed, unless the
	// test failed: the simulator's record and the broker's log are what
	// explain a failure that the load of the moment made.
	t.Cleanup(func() {
		if os.Getenv("FEEDD_E2E_KEEP") != "" || t.Failed() {
			t.Logf("kept the members' configurations and logs, the simulator's record and the broker's directory in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(60)
		}
	})

	a := &e2eMember{c: c, id: "a", port: 0, pairAddr: freeAddr(t), adminAddr: freeAddr(t)}
	b := &e2eMember{c: c, id: "b", port: 1, pairAddr: freeAddr(t), adminAddr: freeAddr(t)}
	c.members = []*e2eMember{a, b}
	switch {
	case o.cluster != nil:
		c.useKafkaCluster(o.cluster)
	case o.kafka:
		c.startKafka(dir)
	default:
		c.broker, err = localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.broker.Close)
		c.bootstrap = c.broker.Addr()
		a.kafkaAddrs, b.kafkaAddrs = []string{c.bootstrap}, []string{c.bootstrap}
	}

	// Every run records what each port got and when, kept with the
	// directory when the test fails.
	simCfg := serialsim.Config{
		Ports: 2, LinkDir: filepath.Join(dir, "sim"), Baud: c.baud, Rate: cmpOr(o.rate, e2eRate), Seed: cmpOr(o.simSeed, 1),
		DrainTimeout: 200 * time.Millisecond, Feed: o.feed, Record: cmpOr(o.record, filepath.Join(dir, "sim.record")),
	}
	if o.holdFeed {
		simCfg.Faults = []serialsim.Fault{{Kind: serialsim.FaultDrop, Port: serialsim.AllPorts, Rate: 1}}
	}
	c.sim, err = serialsim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.sim.Close() })
	if err := c.sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	c.secret = make([]byte, 32)
	rand.Read(c.secret)
	secretPath := filepath.Join(dir, "pair.secret")
	if err := os.WriteFile(secretPath, []byte(hex.EncodeToString(c.secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The secret is what the file holds once white space is trimmed: the
	// hex text.
	c.secret = []byte(hex.EncodeToString(c.secret))

	aPeer := b.pairAddr
	if o.proxy {
		c.proxy = kafkatest.StartProxyT(t, b.pairAddr)
		aPeer = c.proxy.Addr()
	}
	a.writeConfig(secretPath, b.id, aPeer, o.pairYAML)
	b.writeConfig(secretPath, a.id, a.pairAddr, o.pairYAML)

	t.Cleanup(c.killAll)
	a.start()
	b.start()
	return c
}

// startKafka starts a real broker with a listener per member, each
// advertised at the member's own proxy.
func (c *e2eCluster) startKafka(dir string) {
	t := c.t
	t.Helper()
	in := kafkatest.Need(t)
	var listeners []kafkatest.Listener
	for _, m := range c.members {
		listen := freeAddr(t)
		p := kafkatest.StartProxyT(t, listen)
		m.kafkaProxies, m.kafkaAddrs = []*kafkatest.Proxy{p}, []string{p.Addr()}
		listeners = append(listeners, kafkatest.Listener{Name: kafkatest.ListenerFor(m.id), Addr: listen, Advertise: p.Addr()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	c.kafka, err = in.Start(ctx, kafkatest.Config{Dir: filepath.Join(dir, "kafka"), Listeners: listeners})
	if err != nil {
		t.Fatal(err)
	}
	// Killed before the proxies close (cleanups run last registered
	// first) and before the directory is removed.
	t.Cleanup(c.kafka.Close)
	c.bootstrap = c.kafka.Addr()
}

// e2eKafkaCluster is a three-node Kafka cluster several runs share, each on
// a pipeline of its own: every member id ("a", "b") reaches each node
// through a listener of its own, advertised at a proxy of the test's, so
// that a run can cut a member off from one node only.
type e2eKafkaCluster struct {
	*kafkatest.Cluster
	proxies map[string][]*kafkatest.Proxy // member id -> one per node, node id 1 first
}

// startE2EKafkaCluster starts the cluster for the test and its subtests.
func startE2EKafkaCluster(t testing.TB) *e2eKafkaCluster {
	t.Helper()
	in := kafkatest.Need(t)
	kc := &e2eKafkaCluster{proxies: map[string][]*kafkatest.Proxy{}}
	ids := []string{"a", "b"}
	var logf func(string, ...any)
	if testing.Verbose() {
		logf = t.Logf
	}
	kc.Cluster = in.StartClusterT(t, kafkatest.ClusterConfig{
		Dir:  t.TempDir(),
		Logf: logf,
		Listeners: func(int32) []kafkatest.Listener {
			var ls []kafkatest.Listener
			for _, id := range ids {
				p := kafkatest.StartProxyT(t, "")
				kc.proxies[id] = append(kc.proxies[id], p)
				ls = append(ls, kafkatest.Listener{Name: kafkatest.ListenerFor(id), Advertise: p.Addr()})
			}
			return ls
		},
	})
	for id, ps := range kc.proxies {
		for i, p := range ps {
			p.SetTarget(kc.Node(int32(i + 1)).ListenerAddr(kafkatest.ListenerFor(id)))
		}
	}
	return kc
}

// useKafkaCluster puts the members on the shared cluster and creates the
// run's topic and control topic led by another node than the coordinator
// of its transactional id (kafkatest.Cluster.PlaceApart).
func (c *e2eCluster) useKafkaCluster(kc *e2eKafkaCluster) {
	c.kcluster = kc
	c.bootstrap = strings.Join(kc.Addrs(), ",")
	for _, m := range c.members {
		m.kafkaProxies = kc.proxies[m.id]
		m.kafkaAddrs = nil
		for _, p := range m.kafkaProxies {
			m.kafkaAddrs = append(m.kafkaAddrs, p.Addr())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kc.PlaceApart(ctx, c.txnID(), c.topic, c.topic+broadcast.ControlTopicSuffix); err != nil {
		c.t.Fatal(err)
	}
}

// txnID is the pipeline's transactional id (the default, from its name).
func (c *e2eCluster) txnID() string { return broadcast.Config{}.TransactionalIDFor(c.topic) }

// seeds are the broker addresses for the test's own clients.
func (c *e2eCluster) seeds() []string { return strings.Split(c.bootstrap, ",") }

// realKafka reports whether the run is on Apache Kafka (one node or the
// cluster) rather than the embedded broker.
func (c *e2eCluster) realKafka() bool { return c.kafka != nil || c.kcluster != nil }

// cutKafka cuts the member off from every node (hard: its connections
// closed too); restoreKafka undoes it.
func (m *e2eMember) cutKafka(hard bool) {
	for _, p := range m.kafkaProxies {
		if hard {
			p.CutHard()
		} else {
			p.Cut()
		}
	}
}

func (m *e2eMember) restoreKafka() {
	for _, p := range m.kafkaProxies {
		p.Restore()
	}
}

func cmpOr[T comparable](v, otherwise T) T {
	var zero T
	if v == zero {
		return otherwise
	}
	return v
}

// freeAddr returns a 127.0.0.1 address with a port free at the time of
// the call and never handed out before in this process (two members once
// got the same pair port and each dialled itself), below the kernel's range
// of ephemeral ports: a restarted member binds its pair and admin ports
// again.
func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := kafkatest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func (m *e2eMember) writeConfig(secretPath, peerID, peerAddr, pairExtra string) {
	c := m.c
	if pairExtra != "" {
		pairExtra = "  " + strings.ReplaceAll(strings.TrimSpace(pairExtra), "\n", "\n  ") + "\n"
	}
	sequence := "sequence:\n  nmea_field: 1\n"
	if c.fingerprint {
		sequence = ""
	}
	cfg := fmt.Sprintf(`pipeline: %s
member_id: %s
serial:
  device: %s
  baud: %d
  read_timeout: %v
  reconnect_min: 20ms
  reconnect_max: 200ms
framing:
  mode: nmea
%skafka:
  brokers: [%s]
  topic: %s
pair:
  listen: %s
  peers:
    - id: %s
      address: %s
  secret_file: %s
%sadmin:
  listen: %s
log:
  level: info
`, c.topic, m.id, c.sim.Ports()[m.port], c.baud, c.readTimeout, sequence, strings.Join(m.kafkaAddrs, ", "), c.topic, m.pairAddr, peerID, peerAddr, secretPath, pairExtra, m.adminAddr)
	m.cfgPath = filepath.Join(c.dir, m.id+".yaml")
	m.setConfig(cfg)
}

// config is the member's configuration file as it is now.
func (m *e2eMember) config() string {
	m.c.t.Helper()
	b, err := os.ReadFile(m.cfgPath)
	if err != nil {
		m.c.t.Fatal(err)
	}
	return string(b)
}

// setConfig rewrites the member's configuration file: the member's next
// process runs with it.
func (m *e2eMember) setConfig(text string) {
	m.c.t.Helper()
	if err := os.WriteFile(m.cfgPath, []byte(text), 0o600); err != nil {
		m.c.t.Fatal(err)
	}
}

// start starts a new process of the member.
func (m *e2eMember) start() {
	t := m.c.t
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := memberproc.Start(memberproc.Config{
		Path:  m.c.bin,
		Args:  []string{"run", "--config", m.cfgPath},
		Log:   filepath.Join(m.c.dir, fmt.Sprintf("%s-%d.log", m.id, len(m.procs)+1)),
		Admin: m.adminAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.procs = append(m.procs, p)
}

func (m *e2eMember) current() *memberproc.Proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.procs[len(m.procs)-1]
}

func (m *e2eMember) alive() bool { return !m.current().Exited() }

func (m *e2eMember) signal(sig syscall.Signal) {
	m.c.t.Helper()
	if err := m.current().Signal(sig); err != nil {
		m.c.t.Fatalf("member %s: %v", m.id, err)
	}
}

// hang stops the process (SIGSTOP) until resume (SIGCONT).
func (m *e2eMember) hang() {
	m.c.t.Helper()
	if err := m.current().Hang(); err != nil {
		m.c.t.Fatalf("member %s: %v", m.id, err)
	}
}

func (m *e2eMember) resume() {
	m.c.t.Helper()
	if err := m.current().Resume(); err != nil {
		m.c.t.Fatalf("member %s: %v", m.id, err)
	}
}

// kill sends SIGKILL and waits for the process to be gone. The kill is
// noted, for the frames only this member's port had delivered (lostByBoth).
func (m *e2eMember) kill() {
	if c := m.c; c.sim != nil {
		c.kills = append(c.kills, memberKill{port: m.port, next: c.sim.Generated() + c.sim.Config().StartSeq})
	}
	m.current().Kill()
}

// terminate sends SIGTERM, a clean stop, and waits for the process to
// exit; it returns the exit error (nil for status 0).
func (m *e2eMember) terminate() error {
	m.c.t.Helper()
	err := m.current().Stop(e2eWait)
	if errors.Is(err, memberproc.ErrKilledAfterGrace) {
		m.c.t.Fatalf("member %s did not exit within %v of SIGTERM", m.id, e2eWait)
	}
	return err
}

// killAll kills every process still running.
func (c *e2eCluster) killAll() {
	for _, m := range c.members {
		m.mu.Lock()
		procs := slices.Clone(m.procs)
		m.mu.Unlock()
		for _, p := range procs {
			p.Kill()
		}
	}
}

// dumpLogs logs the last n lines of every process's log.
func (c *e2eCluster) dumpLogs(n int) {
	for _, m := range c.members {
		m.mu.Lock()
		procs := slices.Clone(m.procs)
		m.mu.Unlock()
		for i, p := range procs {
			data, _ := os.ReadFile(p.LogPath())
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			if len(lines) > n {
				lines = lines[len(lines)-n:]
			}
			state := "running"
			if p.Exited() {
				state = fmt.Sprintf("exited: %v", p.Wait())
			}
			c.t.Logf("==== member %s, process %d (%s), last %d lines of %s:\n%s", m.id, i+1, state, len(lines), p.LogPath(), strings.Join(lines, "\n"))
		}
	}
	for i := range 2 {
		if st, err := c.sim.Stats(i); err == nil {
			c.t.Logf("==== simulator port %d: %s", i, st)
		}
	}
	if c.kafka != nil {
		c.t.Logf("==== Kafka broker (%s), last lines:\n%s", c.kafka.LogPath(), c.kafka.LogTail(30))
	}
	if c.kcluster != nil {
		for _, n := range c.kcluster.Nodes() {
			c.t.Logf("==== Kafka node %d (%s), last lines:\n%s", n.ID(), n.LogPath(), n.LogTail(20))
		}
	}
}

// rejected sums the link's rejection counters.
func rejected(s member.Status) uint64 {
	var n uint64
	for _, v := range s.Link.Rejected {
		n += v
	}
	return n
}

func linkUp(s member.Status) bool {
	return len(s.Link.Peers) == 1 && s.Link.Peers[0].Connected
}

// canCover: an inactive member whose ring has been trimmed by the active's
// commits can take over without a duplicate (docs/kafka.md, "A rejoining
// member").
func canCover(s member.Status) bool {
	return s.Role == "inactive" && (s.Broadcast.Counters.EchoMatched > 0 || s.Broadcast.Ring.Recognised > 0)
}

// inStepWith reports whether an inactive member is in step with the
// active: canCover, unless the test set inStep.
func (c *e2eCluster) inStepWith(s member.Status) bool {
	if c.inStep != nil {
		return c.inStep(s)
	}
	return canCover(s)
}

var e2eHTTP = &http.Client{Timeout: 2 * time.Second}

// status fetches the current process's /status. Every member of these
// tests is one of a pair: the pair and link sections are never nil, even
// in the zero status returned with an error.
func (m *e2eMember) status() (member.Status, error) {
	st, err := m.current().Status(context.Background())
	if err != nil {
		st = &member.Status{}
	}
	if st.Pair == nil {
		st.Pair = &ftpair.Status{}
	}
	if st.Link == nil {
		st.Link = &link.Status{}
	}
	return *st, err
}

// statusJSON fetches the current process's /status as it was sent.
func (m *e2eMember) statusJSON() ([]byte, error) {
	return m.current().Get(context.Background(), "/status")
}

// mustStatus fetches the status, waiting for the endpoint if need be.
func (m *e2eMember) mustStatus() member.Status {
	m.c.t.Helper()
	var st member.Status
	m.c.waitFor("status of "+m.id, func() (bool, string) {
		var err error
		st, err = m.status()
		return err == nil, fmt.Sprint(err)
	})
	return st
}

// waitStatus polls m's /status until cond holds of it, as waitFor does,
// and returns the status that satisfied it.
func (m *e2eMember) waitStatus(what string, cond func(st member.Status) (bool, string)) member.Status {
	m.c.t.Helper()
	var st member.Status
	m.c.waitFor(what, func() (bool, string) {
		var err error
		if st, err = m.status(); err != nil {
			return false, err.Error()
		}
		return cond(st)
	})
	return st
}

// waitRejoined waits until m, restarted, is inactive again, linked to its
// peer and trimming its ring on echo: able to cover a failover.
func (m *e2eMember) waitRejoined() {
	m.c.t.Helper()
	m.waitStatus(m.id+" rejoined inactive and trimming", func(st member.Status) (bool, string) {
		return canCover(st) && linkUp(st), fmt.Sprintf("role %s, trimmed %d, link up %v", st.Role, st.Broadcast.Counters.EchoMatched, linkUp(st))
	})
}

// waitFor polls cond until it holds; it fails the test after e2eWait,
// with the last state cond described.
func (c *e2eCluster) waitFor(what string, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.logStatuses()
			c.t.Fatalf("timed out after %v waiting for %s; last: %s", e2eWait, what, state)
		}
		for _, m := range c.members {
			if p := m.current(); exitedUnexpectedly(p) {
				c.t.Fatalf("waiting for %s: member %s exited: %v", what, m.id, p.Wait())
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logStatuses logs the parts of each member's /status that say why it is
// where it is (its activation's last error, Kafka's state, the pair's view),
// so that a timeout explains itself.
func (c *e2eCluster) logStatuses() {
	defer c.logTransactions()
	for _, m := range c.members {
		st, err := m.status()
		if err != nil {
			c.t.Logf("status of %s: %v", m.id, err)
			continue
		}
		b := st.Broadcast
		activation, _ := json.Marshal(st.Activation)
		kafka, _ := json.Marshal(b.Kafka)
		pair, _ := json.Marshal(st.Pair)
		c.t.Logf("status of %s: role %s; activation %s; pipeline %s, producer %d epoch %d, commits failing since %v, kafka %s; pair %s",
			m.id, st.Role, activation, b.State, b.ProducerID, b.ProducerEpoch, b.CommitFailingSince, kafka, pair)
	}
}

// logTransactions logs what real Kafka says of the topic's transactions:
// the partitions' producers with the first offset of a transaction each
// holds open, the transactional id's state at its coordinator, and the last
// stable offset beside the high watermark. A transaction open on the
// partition that the coordinator does not know of is a hanging one.
func (c *e2eCluster) logTransactions() {
	if c.kafka == nil && c.kcluster == nil {
		return
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DisableClientMetrics())
	if err != nil {
		c.t.Logf("kafka transactions: %v", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ps, err := adm.DescribeProducers(ctx, kadm.TopicsSet{c.topic: nil}); err != nil {
		c.t.Logf("kafka: describe producers of %s: %v", c.topic, err)
	} else {
		ps.EachProducer(func(p kadm.DescribedProducer) {
			c.t.Logf("kafka: %s-%d producer %d epoch %d, last sequence %d at %v, coordinator epoch %d, open transaction from offset %d",
				p.Topic, p.Partition, p.ProducerID, p.ProducerEpoch, p.LastSequence, time.UnixMilli(p.LastTimestamp).UTC(), p.CoordinatorEpoch, p.CurrentTxnStartOffset)
		})
	}
	if txns, err := adm.DescribeTransactions(ctx); err != nil {
		c.t.Logf("kafka: describe transactions: %v", err)
	} else {
		for _, d := range txns.Sorted() {
			c.t.Logf("kafka: transactional id %s: state %s, producer %d epoch %d, started %v, timeout %d ms, partitions %v, err %v",
				d.TxnID, d.State, d.ProducerID, d.ProducerEpoch, time.UnixMilli(d.StartTimestamp).UTC(), d.TimeoutMillis, d.Topics, d.Err)
		}
	}
	stable, err1 := adm.ListCommittedOffsets(ctx, c.topic)
	end, err2 := adm.ListEndOffsets(ctx, c.topic)
	if err := errors.Join(err1, err2); err != nil {
		c.t.Logf("kafka: offsets of %s: %v", c.topic, err)
		return
	}
	if s, ok := stable.Lookup(c.topic, 0); ok {
		e, _ := end.Lookup(c.topic, 0)
		c.t.Logf("kafka: %s-0 last stable offset %d, high watermark %d", c.topic, s.Offset, e.Offset)
	}
}

// exitedUnexpectedly reports a process that ended though no test killed
// or stopped it (its exit was not caused by a signal).
func exitedUnexpectedly(p *memberproc.Proc) bool {
	if !p.Exited() || p.EndRequested() {
		return false
	}
	var ee *exec.ExitError
	if errors.As(p.Wait(), &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return false
		}
	}
	return true
}

// other returns the member that is not m.
func (c *e2eCluster) other(m *e2eMember) *e2eMember {
	if m == c.members[0] {
		return c.members[1]
	}
	return c.members[0]
}

// waitPair waits until the pair has settled: one member active and
// committing, the other inactive and able to cover a failover, the link up,
// neither holding off, and all that unchanged (same active, same term) for
// an activation interval, so that a decision already under way (a member
// that has just woken, a hold-off ending) has shown itself. It returns the
// two members.
func (c *e2eCluster) waitPair() (active, inactive *e2eMember) {
	c.t.Helper()
	var (
		since   time.Time
		lastAct *e2eMember
		lastTrm uint64
	)
	c.waitFor("one active member and one inactive able to take over, settled", func() (bool, string) {
		var sts [2]member.Status
		for i, m := range c.members {
			st, err := m.status()
			if err != nil {
				since = time.Time{}
				return false, fmt.Sprintf("%s: %v", m.id, err)
			}
			sts[i] = st
		}
		desc := fmt.Sprintf("a %s (term %d, trimmed %d, hold-off %v), b %s (term %d, trimmed %d, hold-off %v)",
			sts[0].Role, sts[0].Pair.Term, sts[0].Broadcast.Counters.EchoMatched, sts[0].Pair.HoldOff,
			sts[1].Role, sts[1].Pair.Term, sts[1].Broadcast.Counters.EchoMatched, sts[1].Pair.HoldOff)
		for i := range 2 {
			if sts[i].Role == "active" && sts[i].Broadcast.State == broadcast.StateActive && sts[i].Broadcast.Counters.Commits > 0 &&
				c.inStepWith(sts[1-i]) && linkUp(sts[0]) && linkUp(sts[1]) && !sts[0].Pair.HoldOff && !sts[1].Pair.HoldOff {
				if since.IsZero() || lastAct != c.members[i] || lastTrm != sts[i].Pair.Term {
					since, lastAct, lastTrm = time.Now(), c.members[i], sts[i].Pair.Term
				}
				active, inactive = c.members[i], c.members[1-i]
				return time.Since(since) >= c.activation, desc
			}
		}
		since = time.Time{}
		return false, desc
	})
	return active, inactive
}

// waitActive waits until m is active and has committed after since.
func (c *e2eCluster) waitActive(m *e2eMember, since time.Time) member.Status {
	c.t.Helper()
	return m.waitStatus(m.id+" active and committing", func(st member.Status) (bool, string) {
		return st.Role == "active" && st.Broadcast.LastCommitAt.After(since),
			fmt.Sprintf("role %s, last commit %v", st.Role, st.Broadcast.LastCommitAt)
	})
}

// stream lets the feed run for d while checking that no member dies.
func (c *e2eCluster) stream(d time.Duration) {
	c.t.Helper()
	time.Sleep(d)
	for _, m := range c.members {
		if p := m.current(); exitedUnexpectedly(p) {
			c.t.Fatalf("member %s exited: %v", m.id, p.Wait())
		}
	}
}

// releaseFeed ends the hold of e2eOptions.holdFeed: frames due from now
// on reach the ports.
func (c *e2eCluster) releaseFeed() {
	c.t.Helper()
	if err := c.sim.SetDrop(serialsim.AllPorts, 0); err != nil {
		c.t.Fatal(err)
	}
}

// e2eRoleWatch polls both members' roles in the background and records
// which members ever reported themselves active or activating.
type e2eRoleWatch struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	holders map[string]int // member -> polls in which it held the slot
	polls   int
	both    int // polls in which both held it
	// unaware counts the polls among both in which one of the two held an
	// earlier term and had not stepped down since the watch began: it
	// learns of the fence at its next commit, so a handover that does not
	// wait for the old active's word (an obituary) shows both briefly.
	unaware   int
	stepDowns map[string]uint64 // each member's step-downs at its first poll
}

func (c *e2eCluster) watchRoles() *e2eRoleWatch {
	w := &e2eRoleWatch{stop: make(chan struct{}), done: make(chan struct{}), holders: map[string]int{}, stepDowns: map[string]uint64{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			var held []member.Status
			w.mu.Lock()
			for _, m := range c.members {
				st, err := m.status()
				if err != nil {
					continue
				}
				if _, ok := w.stepDowns[m.id]; !ok {
					w.stepDowns[m.id] = stepDowns(st)
				}
				if st.Role == "active" || st.Role == "activating" {
					w.holders[m.id]++
					held = append(held, st)
				}
			}
			w.polls++
			if len(held) > 1 {
				w.both++
				older := slices.MinFunc(held, func(x, y member.Status) int { return cmp.Compare(x.Pair.Term, y.Pair.Term) })
				newer := slices.MaxFunc(held, func(x, y member.Status) int { return cmp.Compare(x.Pair.Term, y.Pair.Term) })
				if older.Pair.Term < newer.Pair.Term && stepDowns(older) == w.stepDowns[older.Member] {
					w.unaware++
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// stepDowns is how many times the member's pair core stepped down: read
// with its role, from the same step.
func stepDowns(st member.Status) uint64 {
	var n uint64
	for _, c := range st.Pair.Counters.StepDowns {
		n += c
	}
	return n
}

// end stops the watch and returns who held the slot.
func (w *e2eRoleWatch) end() (holders map[string]int, polls, both int) {
	close(w.stop)
	<-w.done
	return w.holders, w.polls, w.both
}

// e2eExpect is what the topic must hold after a scenario.
type e2eExpect struct {
	// gap: the topic must lack exactly one range of sequence numbers (the
	// frames no member read or committed while none was alive); the test
	// checks its extent against the simulator itself.
	gap bool
	// gaps: the topic must lack exactly this many ranges (a scenario that
	// kills both members several times); gap is gaps: 1.
	gaps int
	// killed, when set, holds a span of sequence numbers around each time
	// both members were dead (the frames generated from before the kills
	// to after the ports came back). A gap elsewhere made only of frames
	// the simulator delivered to neither port is then told apart from
	// them (lostByBoth).
	killed [][2]uint64
}

func (e e2eExpect) wantGaps() int {
	if e.gap {
		return max(e.gaps, 1)
	}
	return e.gaps
}

// finish stops the feed, waits until the topic holds the last frame
// delivered, audits the topic with `feedd audit --json` and checks it
// against the simulator's accounting: every sequence number from the
// first in the topic to the last delivered exactly once and in order (all
// of them delivered to the members' ports), and none missing but the
// expected gap. It returns the report.
func (c *e2eCluster) finish(exp e2eExpect) *audit.Report {
	c.t.Helper()
	// Stop the feed: frames due from now are not delivered to any port.
	if err := c.sim.Pause(serialsim.AllPorts, time.Hour); err != nil {
		c.t.Fatal(err)
	}
	// A frame being written when the pause began still arrives: wait
	// until the accounting stops moving.
	var delivered []uint64
	c.waitFor("the simulator's accounting to settle", func() (bool, string) {
		d1 := c.delivered()
		time.Sleep(200 * time.Millisecond)
		delivered = c.delivered()
		return len(d1) == len(delivered), fmt.Sprintf("%d then %d frames delivered", len(d1), len(delivered))
	})
	if len(delivered) == 0 {
		c.t.Fatal("the simulator delivered nothing")
	}
	last := delivered[len(delivered)-1]
	var rep *audit.Report
	c.waitFor(fmt.Sprintf("the topic to hold seq %d, the last frame delivered", last), func() (bool, string) {
		var err error
		if rep, _, err = c.auditTopic(); err != nil {
			return false, err.Error()
		}
		return rep.Sequenced.Last >= last, fmt.Sprintf("topic ends at seq %d", rep.Sequenced.Last)
	})
	// Audit again a few commit intervals later, so that a late duplicate
	// (a replay after the last frame) would be seen too.
	time.Sleep(200 * time.Millisecond)
	rep, text, err := c.auditTopic()
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() {
		if testing.Verbose() || c.t.Failed() {
			c.t.Logf("audit:\n%s", text)
		}
	}()
	s := rep.Sequenced
	wantGaps := exp.wantGaps()
	feeddGaps, lost := s.Gaps, []audit.Gap(nil)
	if wantGaps == 0 || exp.killed != nil {
		feeddGaps, lost = c.lostByBoth(s.Gaps, delivered, exp.killed)
	}
	if c.realKafka() {
		c.crossCheck(rep, exp, lost)
	}

	if rep.Unsequenced.Records != 0 {
		c.t.Errorf("audit: %d records without a feed sequence number", rep.Unsequenced.Records)
	}
	if s.DuplicatedSeqs != 0 || s.OutOfOrderCount != 0 {
		c.t.Errorf("audit: %d duplicated sequence numbers, %d out of order (I2, order)", s.DuplicatedSeqs, s.OutOfOrderCount)
	}
	switch {
	case wantGaps == 0 && (len(feeddGaps) != 0 || !rep.Clean && len(lost) == 0):
		c.t.Errorf("audit: not clean (I1/I2): %v", rep.Problems)
	case wantGaps > 0 && len(feeddGaps) != wantGaps:
		c.t.Errorf("audit: %d gaps, want exactly %d (the frames no member read): %v", len(feeddGaps), wantGaps, rep.Problems)
	}
	if s.First != delivered[0] {
		c.t.Errorf("audit: topic starts at seq %d, the simulator's first delivered frame is %d", s.First, delivered[0])
	}
	if s.Last != last {
		c.t.Errorf("audit: topic ends at seq %d, the simulator's last delivered frame is %d", s.Last, last)
	}
	// The topic holds [First, Last] but for its gaps (the audit's gaps are
	// the holes in that range). It must hold exactly the frames delivered
	// in that range, but for the expected gaps.
	gaps := lost
	if wantGaps > 0 && len(feeddGaps) == wantGaps {
		gaps = append(slices.Clip(gaps), feeddGaps...)
	}
	var gapSize uint64
	for _, g := range gaps {
		gapSize += g.Size
	}
	inGap := func(v uint64) bool {
		return slices.ContainsFunc(gaps, func(g audit.Gap) bool { return v >= g.From && v <= g.To })
	}
	var want uint64
	var notDelivered []uint64
	next := s.First
	for _, d := range delivered {
		if d < s.First || d > s.Last || inGap(d) {
			continue
		}
		for ; next < d; next++ {
			if !inGap(next) {
				notDelivered = append(notDelivered, next)
			}
		}
		next = d + 1
		want++
	}
	if span := s.Last - s.First + 1 - gapSize; s.Distinct != want || want != span {
		c.t.Errorf("audit: topic holds %d distinct sequence numbers; the simulator delivered %d of the %d in [%d, %d] outside the gap; not delivered: %v",
			s.Distinct, want, span, s.First, s.Last, trimList(notDelivered))
	}
	return rep
}

// lostByBoth splits the audit's gaps: those made only of frames the
// simulator delivered to neither port, away from the spans where both
// members were killed, are not the pair's (I1 asks for every frame a
// member read): both ports' buffers overflowed while neither member read,
// which a loaded machine can cause, as an overrun of both UARTs would.
// Nor are those whose frames only a member's port delivered, within
// killedReadWindow before that member was killed, while its peer's port
// lost them: a double fault, as when the inactive's port overruns while
// the active reads the frames and is killed before it commits them.
// They are logged and counted in c.lostToBoth and c.lostWithKilled; the
// others are returned.
func (c *e2eCluster) lostByBoth(gaps []audit.Gap, delivered []uint64, killed [][2]uint64) (feedds, lost []audit.Gap) {
	var perPort [2][]uint64
	var lateWrites [2]map[uint64]time.Duration
	for i := range perPort {
		d, err := c.sim.Delivered(i)
		if err != nil {
			c.t.Fatal(err)
		}
		perPort[i] = d
		if lateWrites[i], err = c.sim.LateWrites(i); err != nil {
			c.t.Fatal(err)
		}
	}
	within := func(d []uint64, g audit.Gap) []uint64 {
		lo, _ := slices.BinarySearch(d, g.From)
		hi, _ := slices.BinarySearch(d, g.To+1)
		return d[lo:hi]
	}
	var withKilled []audit.Gap
	for _, g := range gaps {
		inKilled := slices.ContainsFunc(killed, func(k [2]uint64) bool { return g.From <= k[1] && g.To >= k[0] })
		if inKilled || g.Size != g.To-g.From+1 {
			feedds = append(feedds, g)
			continue
		}
		if len(within(delivered, g)) == 0 {
			lost = append(lost, g)
			c.lostToBoth.windows++
			c.lostToBoth.frames += g.Size
			continue
		}
		if c.onlyKilledRead(g, perPort, within) {
			lost = append(lost, g)
			withKilled = append(withKilled, g)
			c.lostWithKilled.windows++
			c.lostWithKilled.frames += g.Size
			continue
		}
		feedds = append(feedds, g)
		// What each port got of a gap the pair is to answer for says
		// which member's ring should have held it, and a frame the
		// simulator wrote late came past the port's latency bound.
		for port := range perPort {
			got := within(perPort[port], g)
			var late []uint64
			var latest time.Duration
			for _, id := range got {
				if d, ok := lateWrites[port][id]; ok {
					late, latest = append(late, id), max(latest, d)
				}
			}
			c.t.Logf("gap [%d, %d]: port %d was delivered %s; written late (up to %v after due): %s",
				g.From, g.To, port, seqRanges(got), latest.Round(time.Millisecond), seqRanges(late))
		}
	}
	if n := len(lost) - len(withKilled); n > 0 {
		c.t.Logf("audit: %d gap(s), %d frames, that the simulator delivered to neither port (both ports' buffers overflowed while neither member read: a loaded machine); not the pair's: %+v",
			n, c.lostToBoth.frames, lost[:n:n])
	}
	if len(withKilled) > 0 {
		c.t.Logf("audit: %d gap(s), %d frames, whose frames only the port of a member killed within %v after delivered (its peer's port lost them: a double fault); not the pair's: %+v",
			len(withKilled), c.lostWithKilled.frames, killedReadWindow, withKilled)
	}
	return feedds, lost
}

// onlyKilledRead reports whether the frames of gap g that the simulator
// delivered went to one port only, that of a member killed at most
// killedReadWindow of the feed after each of them.
func (c *e2eCluster) onlyKilledRead(g audit.Gap, perPort [2][]uint64, within func([]uint64, audit.Gap) []uint64) bool {
	window := uint64(c.sim.Config().Rate * killedReadWindow.Seconds())
	for port := range perPort {
		mine, theirs := within(perPort[port], g), within(perPort[1-port], g)
		if len(mine) == 0 || len(theirs) != 0 {
			continue
		}
		return slices.ContainsFunc(c.kills, func(k memberKill) bool {
			return k.port == port && mine[len(mine)-1] < k.next && mine[0]+window >= k.next
		})
	}
	return false
}

// seqRanges writes increasing sequence numbers as runs: "none", or
// "3 frames: 7-8, 10".
func seqRanges(v []uint64) string {
	if len(v) == 0 {
		return "none"
	}
	var runs []string
	for i := 0; i < len(v); {
		j := i
		for j+1 < len(v) && v[j+1] == v[j]+1 {
			j++
		}
		if j == i {
			runs = append(runs, strconv.FormatUint(v[i], 10))
		} else {
			runs = append(runs, fmt.Sprintf("%d-%d", v[i], v[j]))
		}
		i = j + 1
	}
	return fmt.Sprintf("%d frames: %s", len(v), strings.Join(runs, ", "))
}

func trimList(v []uint64) []uint64 {
	if len(v) > 20 {
		return v[:20]
	}
	return v
}

// delivered is the union of what the simulator delivered intact to either
// port, in increasing order.
func (c *e2eCluster) delivered() []uint64 {
	c.t.Helper()
	var all []uint64
	for i := range 2 {
		d, err := c.sim.Delivered(i)
		if err != nil {
			c.t.Fatal(err)
		}
		all = append(all, d...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// audit runs `feedd audit --strict --json` against the topic.
func (c *e2eCluster) audit() (*audit.Report, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	args := []string{"audit", "--strict", "--kafka.brokers", c.broker.Addr(), "--kafka.topic", c.topic}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, c.bin, append(args, "--json")...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1 && out.Len() > 0) {
		return nil, "", fmt.Errorf("feedd audit: %v: %s", err, errb.String())
	}
	var rep audit.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, "", fmt.Errorf("feedd audit --json: %v", err)
	}
	if rep.Clean != (err == nil) {
		return nil, "", fmt.Errorf("feedd audit: exit status %v but clean=%v", err, rep.Clean)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	return &rep, text.String(), nil
}
