package member

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/hostclock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Member is one member of a pair: its port, its pipeline, its pair link
// and the control loop, the one goroutine that owns the pair protocol core,
// feeds it events from the pair link, the pipeline and the port, and
// performs the actions it returns. Build it with New and run it with Run,
// once.
type Member struct {
	cfg      Config
	mode     string
	version  string
	log      *slog.Logger
	frames   io.Writer // each frame read, one a line (nil: none)
	registry *prometheus.Registry
	src      *ingest.Source
	pipe     *broadcast.Pipeline
	link     *link.Link   // nil for a fixed role
	node     *ftpair.Node // nil for a fixed role
	peers    []string     // the configured peers' member ids
	secret   []byte       // the pair's, for operator requests (nil for a fixed role)

	// Owned by the loop goroutine.
	activation  *pendingActivation
	lastFenced  uint64
	lastWitness time.Time
	lastTwin    time.Time
	clash       bool // a member id clash stands (logged once per episode)
	health      ftpair.Health
	feed        feedJudge
	refused     string
	retry       activationBackoff
	failLog     failureLog           // failed activations
	kafkaLog    failureLog           // the echo consumer losing Kafka
	lastKafka   broadcast.KafkaState // as last observed

	results chan activationResult
	// finals carries the outcome of a planned deactivation (its final
	// commit), run in a worker so that heartbeats go on meanwhile;
	// deactivating is set while one runs.
	finals       chan error
	deactivating bool
	requests     chan switchoverRequest
	fatalCh      chan error
	stopped      chan struct{}
	workers      sync.WaitGroup
	// procs sets the processor count by the load (nil unless
	// Options.FollowLoad).
	procs *processors

	pairStatus atomic.Pointer[ftpair.Status]
	actStatus  atomic.Pointer[ActivationStatus]
	lastLoop   atomic.Int64 // hostclock.Now() at the loop's last turn: a step of the wall clock must not fail /healthz
	// tookOverOnSilence is when this member last activated because its
	// peer had gone silent (unix nanoseconds; 0: never): peerHeard.
	tookOverOnSilence atomic.Int64
	// sd speaks to systemd when the member runs under it (nil in tests).
	sd *systemdNotifier
	// notify takes each role change for pair.notify (nil without one);
	// lastTrans is the latest transition handed to it.
	notify    func(roleChange)
	lastTrans ftpair.Transition
}

// Options are what a member takes from the program that runs it, besides
// its configuration.
type Options struct {
	// Mode is ModeAuto (the pair protocol decides the role; the default)
	// or a fixed role, ModeActive or ModeInactive.
	Mode string
	// Logger receives the member's log; nil discards it.
	Logger *slog.Logger
	// Version is the program's version, shown in /status and in
	// feedd_member_info.
	Version string
	// Frames, when set, receives each frame read, one a line
	// (feedd run --print-frames).
	Frames io.Writer
	// FollowLoad lets the member set the Go runtime's processor count
	// (GOMAXPROCS) by its load: one while it is quiet, the runtime's
	// default while it activates or is busy (processors.go). The count is
	// the whole process's, so only a process's one member may follow the
	// load; feedd run does unless GOMAXPROCS is in its environment.
	FollowLoad bool
}

// New builds the member cfg configures (cfg with its defaults applied and
// validated for opts.Mode): its metrics registry, port, pipeline and, in
// mode auto, pair link and protocol core. It opens nothing; Run does.
func New(cfg Config, opts Options) (*Member, error) {
	if opts.Mode == "" {
		opts.Mode = ModeAuto
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Member{
		cfg: cfg, mode: opts.Mode, version: opts.Version, log: log, frames: opts.Frames,
		results:  make(chan activationResult, 1),
		finals:   make(chan error, 1),
		requests: make(chan switchoverRequest),
		fatalCh:  make(chan error, 1),
		stopped:  make(chan struct{}),
		procs:    newProcessors(opts.FollowLoad, log),
		feed:     feedJudge{window: cfg.Pair.Core.ActivationInterval},
		retry:    activationBackoff{min: cfg.Pair.Core.ActivationInterval, max: max(maxActivationRetry, cfg.Pair.Core.ActivationInterval)},
		failLog:  failureLog{every: maxActivationRetry},
		kafkaLog: failureLog{every: maxActivationRetry},
	}
	m.actStatus.Store(&ActivationStatus{})
	if err := m.build(); err != nil {
		return nil, err
	}
	if m.mode == ModeAuto {
		// The start time in nanoseconds differs at every process start,
		// which is all the core needs to tell a peer's runs apart. It does
		// not always grow: a clock stepped back between two runs (a host
		// without a battery clock, without NTP, a restored snapshot) gives
		// the later run the smaller one, and the peer takes it once the
		// earlier run is buried or silent. Making it grow across such a
		// step, reboots included, would take a counter kept on disk.
		node, err := ftpair.NewNode(cfg.Pair.Core, uint64(time.Now().UnixNano()), time.Now())
		if err != nil {
			return nil, err
		}
		m.node = node
		for _, p := range cfg.Pair.Link.Peers {
			m.peers = append(m.peers, p.ID)
		}
		st := node.Status()
		m.pairStatus.Store(&st)
	}
	m.registry.MustRegister(collector{m})
	m.lastLoop.Store(hostclock.Now())
	return m, nil
}

// build makes the member's parts, ingest → backlog → broadcast, and in
// mode auto the pair link, each registering its metrics.
func (m *Member) build() error {
	cfg, log := m.cfg, m.log
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	src, err := ingest.NewSource(cfg.Serial, cfg.Framing, cfg.Sequence, ingest.SourceOptions{Logger: log})
	if err != nil {
		return err
	}
	m.src = src
	m.registry.MustRegister(src)
	ring := cfg.Backlog
	ring.LineByteTime = cfg.Serial.WithDefaults().LineByteTime()
	// Repair messages (decision 0011) travel on the pair link, set up
	// below; a member with a fixed role has none and repairs nothing.
	sendRepair := func(to string, msg []byte) bool { return m.link != nil && m.link.SendRepair(to, msg) }
	peerHeard := func() (time.Time, bool, bool) {
		if m.link == nil {
			return time.Time{}, false, false
		}
		at, gone := m.link.LastHeard()
		return at, gone, silentSinceTakeOver(at, m.tookOverOnSilence.Load())
	}
	m.pipe, err = broadcast.New(cfg.Kafka, broadcast.Options{
		Pipeline: cfg.Pipeline, Member: cfg.MemberID, Ring: ring,
		Logger: log, Registerer: m.registry,
		SendRepair: sendRepair, RepairMessageMax: min(broadcast.RepairMessageMax, link.MaxRepairPayload), PeerHeard: peerHeard,
		ReadThrough: src.ReadThrough, PortOpen: src.Connected,
	})
	if err != nil {
		return err
	}
	if m.mode != ModeAuto {
		return nil
	}
	if m.link, m.secret, err = newPairLink(cfg, m.pipe, log); err != nil {
		return err
	}
	m.registry.MustRegister(m.link)
	return nil
}

// silentSinceTakeOver reports whether the peer, last heard at heard, has
// not been heard since takeOver (unix nanoseconds; 0: never), when this
// member took its place because it had gone silent: a stopped process, a
// frozen host, or one starved of the processor. A repair of a hole that
// may have lost nothing does not hold the stream on it for
// backlog.repair_patience (broadcast.Options.PeerHeard): its successor
// would publish nothing meanwhile, perhaps for nothing. Once it is heard
// again it may answer, and is waited on as before.
func silentSinceTakeOver(heard time.Time, takeOver int64) bool {
	return takeOver != 0 && !heard.IsZero() && heard.UnixNano() <= takeOver
}

// newPairLink builds the member's pair link, which carries the pair
// protocol's heartbeats and the pipeline's repair messages, and returns it
// with the pair's secret (the admin endpoint authenticates switchovers with
// it).
func newPairLink(cfg Config, pipe *broadcast.Pipeline, log *slog.Logger) (*link.Link, []byte, error) {
	creds, err := cfg.Pair.Link.LoadCredentials()
	if err != nil {
		return nil, nil, err
	}
	ident, err := FrameIdentity(cfg.Framing, cfg.Sequence)
	if err != nil {
		return nil, nil, err
	}
	log.Info("frame identity", "identity", ident.Description)
	l, err := link.New(cfg.MemberID, cfg.Pair.Link, creds, log, link.WithIdentity(ident), link.WithRepairHandler(pipe.HandleRepair))
	if err != nil {
		return nil, nil, err
	}
	// The link measures the peers' clocks; the pipeline places their
	// records' line windows on this host's clock with it.
	l.SetClockObserver(func(b link.ClockBound) { pipe.ObserveClock(b.Clock, b.Lo, b.Hi, b.At) })
	return l, creds.Secret, nil
}

// fatal stops the loop with err (from another goroutine).
func (m *Member) fatal(err error) {
	select {
	case m.fatalCh <- err:
	default:
	}
}
