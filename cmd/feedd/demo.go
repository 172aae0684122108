package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/member/admin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The demo's fixed names.
const (
	demoPipeline = "demo"
	demoTopic    = "feedd-demo"
)

// demoMemberIDs are the two members the demo runs, one per simulated port.
var demoMemberIDs = [2]string{"host-a", "host-b"}

// demoOptions configure `feedd demo`.
type demoOptions struct {
	// Duration ends the demo; 0 runs it until ctx is cancelled (Ctrl-C).
	Duration time.Duration
	// FailoverEvery kills the active member with SIGKILL this often and
	// restarts it RestartAfter later; 0 disables it.
	FailoverEvery time.Duration
	RestartAfter  time.Duration
	// Chaos makes the faults random: each one, after a random interval
	// around FailoverEvery, either kills the active member (SIGKILL) or
	// stops it (SIGSTOP, a hang) and resumes it RestartAfter later.
	Chaos bool
	// Seed seeds the chaos; 0 picks one (printed, so a run can be
	// repeated).
	Seed uint64
	// JSON prints a final summary as JSON on out, and the live view on
	// Status instead.
	JSON bool
	// Status receives the live view when JSON is set (default: discarded).
	Status io.Writer
	// AuditMetrics is where the demo's audit serves its metrics
	// (host:port; port 0 picks one).
	AuditMetrics string
	// Dir holds the generated configurations, the pair secret, the
	// members' logs and the simulated ports. Empty: a temporary directory,
	// removed at the end unless the audit found a problem.
	Dir string
	// Rate is the simulated feed's frames per second.
	Rate float64
	// Refresh is how often the view is redrawn (and the members polled).
	Refresh time.Duration
	// Plain prints one line per refresh instead of redrawing a terminal.
	Plain bool
	// Self is how the demo names its own executable in the hints it shows.
	Self string
	// command returns the command that runs `feedd <args>` (a member);
	// nil means this executable.
	command func(args ...string) (*exec.Cmd, error)
}

// demoResult is what the demo saw, for its final line and its tests.
type demoResult struct {
	Elapsed   time.Duration
	Generated uint64
	Kills     int // SIGKILLs of the active member
	Stops     int // SIGSTOPs of the active member
	Takeovers []time.Duration
	Seed      uint64
	// Live is the report of the audit that followed the topic while the
	// demo ran (the live view's), read to the last stable offset at the
	// end; nil if it failed with LiveErr.
	Live    *audit.Report
	LiveErr error
	// Report is a second audit of the whole topic once everything has
	// stopped (what `feedd audit` runs), nil if it failed with AuditErr.
	Report   *audit.Report
	AuditErr error
}

// clean reports whether the topic passed the audit: every frame once and in
// order. Both readings must agree.
func (r *demoResult) clean() bool {
	return r.Report != nil && r.Report.Clean && r.Report.Sequenced.Records > 0 &&
		r.Live != nil && r.Live.Clean && r.Live.Records == r.Report.Records
}

// verdict is the audit's finding in one line.
func (r *demoResult) verdict() string {
	switch {
	case r.Report == nil:
		return fmt.Sprintf("the audit could not read the topic: %v", r.AuditErr)
	case !r.Report.Clean:
		return "NOT CLEAN: " + strings.Join(r.Report.Problems, "; ")
	case r.Report.Sequenced.Records == 0:
		return "NO RECORDS with a feed sequence number were committed"
	case r.Live == nil:
		return fmt.Sprintf("the live audit failed: %v", r.LiveErr)
	case !r.Live.Clean:
		return "the live audit disagrees: " + strings.Join(r.Live.Problems, "; ")
	case r.Live.Records != r.Report.Records:
		return fmt.Sprintf("the live audit read %d records, the final one %d", r.Live.Records, r.Report.Records)
	}
	sq := &r.Report.Sequenced
	return fmt.Sprintf("clean: no gap, no duplicate, nothing out of order (%d records, feed-seq %d..%d, %s between members)",
		r.Report.Records, sq.First, sq.Last, plural(uint64(r.Report.HandoverCount), "handover"))
}

// demoCommand is "feedd demo": an embedded broker, a simulated feed split
// to two ports, and two `feedd run` members as child processes, shown live,
// with the active member killed and restarted every --failover-every. At
// the end it audits the topic's feed-seq sequence.
func demoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "run a whole pair on this machine: broker, simulated feed, two members, failovers",
		Long: "Runs a whole pair on this machine: an embedded Kafka-protocol broker, a simulated\n" +
			"serial feed split to two ports (socat), and two `feedd run` members, and shows them\n" +
			"live while the active member is killed and restarted. At the end it stops everything\n" +
			"and audits the topic: every frame once, in order, no gap and no duplicate.",
		Example: "  feedd demo\n  feedd demo --chaos --duration 60s --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := o.finish(cmd.Flags().Changed, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return demoMain(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	demoFlags(cmd.Flags(), &o)
	return cmd
}

// demoMain plays the demo with parsed options, prints the JSON summary
// when asked, and fails unless the topic is clean.
func demoMain(ctx context.Context, o demoOptions, stdout io.Writer) error {
	res, err := playDemo(ctx, o, stdout)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res.summary()); err != nil {
			return err
		}
	}
	if !res.clean() {
		return fmt.Errorf("the audit of the topic found a problem: %s", res.verdict())
	}
	return nil
}

func demoFlags(fs *pflag.FlagSet, o *demoOptions) {
	fs.SortFlags = false
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long; 0 = run until Ctrl-C")
	fs.DurationVar(&o.FailoverEvery, "failover-every", 15*time.Second, "kill -9 the active member this often (with --chaos: the mean interval, 8s unless given), and restart it a few seconds later; 0 = never")
	fs.BoolVar(&o.Chaos, "chaos", false, "random faults: at random intervals kill -9 or SIGSTOP the active member, and restart or resume it")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of --chaos (0: a random one, printed)")
	fs.BoolVar(&o.JSON, "json", false, "print a JSON summary at the end (the live view goes to stderr)")
	fs.StringVar(&o.AuditMetrics, "audit-metrics", "127.0.0.1:0", "where the demo's audit serves its Prometheus metrics (port 0: any free port)")
	fs.StringVar(&o.Dir, "dir", "", "directory for the generated configurations, secret, logs and ports (default: a temporary one, removed at the end)")
	fs.Float64Var(&o.Rate, "rate", 20, "frames per second of the simulated feed")
	fs.BoolVar(&o.Plain, "plain", false, "print a line per second instead of redrawing the terminal")
}

// finish completes and checks the options the flags set; explicit says
// whether a flag was given.
func (o demoOptions) finish(explicit func(name string) bool, stderr io.Writer) (demoOptions, error) {
	if o.Chaos && !explicit("failover-every") {
		o.FailoverEvery = 8 * time.Second
	}
	if o.JSON {
		o.Status = stderr
	}
	switch {
	case o.Duration < 0:
		return o, fmt.Errorf("--duration: must not be negative")
	case o.FailoverEvery < 0:
		return o, fmt.Errorf("--failover-every: must not be negative")
	case o.FailoverEvery > 0 && o.FailoverEvery < 2*time.Second:
		return o, fmt.Errorf("--failover-every: %v is too short: a restarted member needs a moment to rejoin (at least 2s)", o.FailoverEvery)
	case o.Rate <= 0:
		return o, fmt.Errorf("--rate: must be positive")
	case o.Chaos && o.FailoverEvery == 0:
		return o, fmt.Errorf("--chaos needs faults: --failover-every must not be 0")
	}
	o.Self = os.Args[0]
	return o, nil
}

func (o demoOptions) withDefaults() demoOptions {
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.RestartAfter <= 0 {
		// Without scheduled faults, a member killed by hand still comes
		// back.
		o.RestartAfter = 3 * time.Second
		if o.FailoverEvery > 0 {
			o.RestartAfter = min(o.RestartAfter, o.FailoverEvery/2)
		}
	}
	if o.Self == "" {
		o.Self = "feedd"
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.AuditMetrics == "" {
		o.AuditMetrics = "127.0.0.1:0"
	}
	if o.command == nil {
		o.command = func(args ...string) (*exec.Cmd, error) {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("finding this executable to start the members: %w", err)
			}
			return exec.Command(exe, args...), nil
		}
	}
	return o
}

// demoEvent is one line of the demo's event log.
type demoEvent struct {
	at   time.Time
	text string
}

// demo is one run of the demo. One goroutine owns it: the one running
// playDemo. The view never reads it; it gets snapshots.
type demo struct {
	o       demoOptions
	dir     string
	start   time.Time
	broker  string
	members []*demoMember
	sim     *serialsim.Sim
	rng     *mathrand.Rand // the chaos's choices
	// monitor watches the audit that follows the topic; auditAddr is where
	// it serves its metrics.
	monitor   *audit.Monitor
	auditAddr string
	// rate is the committed records per second the view shows, from the
	// audit's count at the last two refreshes.
	lastCount int64
	lastAt    time.Time
	rate      float64

	// undo stops what setUp started, last first.
	undo []func()
	// stopSim stops the simulated feed; finishLive lets the live audit
	// read the topic to its end and return into liveDone.
	stopSim    func()
	finishLive func()
	abortLive  func()
	liveDone   chan struct{}

	// keys are the screen's requests; switches the outcome of a switchover
	// requested by a key, run by a goroutine of switchWG.
	keys      chan demoKey
	switches  chan []string
	switching bool
	switchWG  sync.WaitGroup
	// endSwitch cancels a switchover still waiting when the demo stops.
	endSwitch func()

	events       []demoEvent
	nextFailover time.Time
	postponed    string // why the due failover waits, once reported
	pending      *pendingKill
	stopping     bool
	phase        string // what the shutdown is doing, for the screen
	res          demoResult
}

// pendingKill is a failover in progress: the active was killed at at and
// no successor has been seen active since.
type pendingKill struct {
	victim string
	at     time.Time
}

// playDemo runs the demo until ctx ends, o.Duration has passed or the
// screen's q key, then stops everything and audits the topic.
func playDemo(ctx context.Context, o demoOptions, out io.Writer) (res demoResult, err error) {
	o = o.withDefaults()
	d := &demo{o: o, rng: mathrand.New(mathrand.NewPCG(o.Seed, 0x5eed)),
		keys: make(chan demoKey, 8), switches: make(chan []string, 1)}
	d.res.Seed = o.Seed

	dir, removeDir, err := demoDir(o.Dir)
	if err != nil {
		return res, err
	}
	d.dir = dir
	// A temporary directory goes unless it holds the logs of a run that
	// failed.
	defer func() { removeDir((err == nil && res.clean()) || (err != nil && d.start.IsZero())) }()
	// Every exit path stops what was started, in reverse: the members
	// first, then the audit, the simulator, the broker.
	defer d.tearDown()
	if err := d.setUp(ctx); err != nil {
		return res, err
	}
	v := d.openView(out)
	why, err := d.run(ctx, v)
	if err != nil {
		d.endSwitchover()
		v.close()
		return res, fmt.Errorf("%w (configurations and logs in %s)", err, d.dir)
	}
	d.finish(why, v)
	closeErr := v.close()
	d.final(v.writer())
	if closeErr != nil {
		return d.res, fmt.Errorf("the demo's screen: %w", closeErr)
	}
	return d.res, nil
}

// onTearDown adds fn to what tearDown runs.
func (d *demo) onTearDown(fn func()) { d.undo = append(d.undo, fn) }

// tearDown stops what setUp started, last first.
func (d *demo) tearDown() {
	for i := len(d.undo) - 1; i >= 0; i-- {
		d.undo[i]()
	}
}

// setUp starts the broker, the feed, the live audit and the members.
func (d *demo) setUp(ctx context.Context) error {
	if err := d.startBroker(ctx); err != nil {
		return err
	}
	if err := d.startFeed(); err != nil {
		return err
	}
	if err := d.startLiveAudit(); err != nil {
		return err
	}
	if err := d.writeConfigs(); err != nil {
		return err
	}
	d.onTearDown(func() {
		for _, m := range d.members {
			m.kill9()
		}
	})
	return d.startMembers()
}

// startBroker starts the embedded broker and creates the demo's topic.
func (d *demo) startBroker(ctx context.Context) error {
	broker, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fmt.Errorf("starting the embedded broker: %w", err)
	}
	d.onTearDown(func() { broker.Close() })
	d.broker = broker.Addr()

	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker), kgo.DisableClientMetrics())
	if err != nil {
		return fmt.Errorf("a client of the embedded broker: %w", err)
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, 15*time.Second)
	err = broadcast.EnsureTopic(setupCtx, cl, broadcast.Config{Brokers: []string{d.broker}, Topic: demoTopic}.WithDefaults())
	cancelSetup()
	cl.Close()
	if err != nil {
		return fmt.Errorf("creating the demo topic: %w", err)
	}
	return nil
}

// startFeed starts the simulated feed, split to one port per member.
func (d *demo) startFeed() error {
	sim, err := serialsim.New(serialsim.Config{Ports: len(demoMemberIDs), LinkDir: filepath.Join(d.dir, "tty"), Rate: d.o.Rate, Seed: 1})
	if err != nil {
		return err
	}
	simCtx, cancel := context.WithCancel(context.Background())
	if err := sim.Start(simCtx); err != nil {
		cancel()
		sim.Close()
		return fmt.Errorf("starting the simulated feed: %w", err)
	}
	d.sim = sim
	d.stopSim = func() { cancel(); sim.Close() }
	d.onTearDown(d.stopSim)
	return nil
}

// startLiveAudit starts the audit that follows the topic from its start
// for as long as the demo runs, and serves its metrics beside the
// members'.
func (d *demo) startLiveAudit() error {
	d.monitor = audit.NewMonitor()
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.monitor.Collector())
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	metrics, err := admin.Start(metricsCtx, d.o.AuditMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		stopMetrics()
		return fmt.Errorf("--audit-metrics: %w", err)
	}
	d.onTearDown(func() { stopMetrics(); metrics.Wait() })
	d.auditAddr = metrics.Addr

	stopFollowing := make(chan struct{})
	liveDone := make(chan struct{})
	liveCtx, abortLive := context.WithCancel(context.Background())
	go func() {
		defer close(liveDone)
		d.res.Live, d.res.LiveErr = audit.Run(liveCtx, audit.Options{Brokers: []string{d.broker}, Topic: demoTopic,
			Follow: true, Stop: stopFollowing, Monitor: d.monitor})
	}()
	d.finishLive = sync.OnceFunc(func() { close(stopFollowing) })
	d.abortLive, d.liveDone = abortLive, liveDone
	d.onTearDown(func() { d.finishLive(); abortLive(); <-liveDone })
	return nil
}

// startMembers starts the members and the fault schedule.
func (d *demo) startMembers() error {
	d.start = time.Now()
	for _, m := range d.members {
		if err := m.start(d.o.command); err != nil {
			return err
		}
		d.event(time.Now(), "%s started (pid %d)", m.id, m.proc.Pid())
	}
	if d.o.Chaos {
		d.event(d.start, "chaos: a random kill -9 or SIGSTOP of the active member about every %v (seed %d)", d.o.FailoverEvery, d.o.Seed)
	}
	if d.o.FailoverEvery > 0 {
		d.nextFailover = d.start.Add(d.faultInterval())
	}
	return nil
}

// run plays the demo, refreshing v, until ctx ends, the duration has
// passed, or the screen's q key or end; it says which.
func (d *demo) run(ctx context.Context, v demoView) (string, error) {
	switchCtx, endSwitch := context.WithCancel(context.Background())
	d.endSwitch = endSwitch
	var end <-chan time.Time
	if d.o.Duration > 0 {
		t := time.NewTimer(d.o.Duration)
		defer t.Stop()
		end = t.C
	}
	tick := time.NewTicker(d.o.Refresh)
	defer tick.Stop()
	v.show(d.snapshot(time.Now(), true))
	for {
		select {
		case <-ctx.Done():
			return "interrupted", nil
		case <-end:
			return "the duration has passed", nil
		case <-v.ended():
			return "the screen ended", nil
		case k := <-d.keys:
			if k == keyQuit {
				return "q pressed", nil
			}
			d.onKey(switchCtx, k, time.Now())
			v.show(d.snapshot(time.Now(), true))
		case lines := <-d.switches:
			d.switched(lines, time.Now())
			v.show(d.snapshot(time.Now(), true))
		case <-tick.C:
			if err := d.step(time.Now()); err != nil {
				return "", err
			}
			d.measure(time.Now())
			v.show(d.snapshot(time.Now(), false))
		}
	}
}

// finish stops everything in order: the inactive members first, then the
// active one, which finishes at a commit boundary; then the feed; then the
// live audit reads the topic to its end, and a second audit reads it all.
func (d *demo) finish(why string, v demoView) {
	d.poll()
	d.observe(time.Now())
	d.stopping = true
	d.phase = "stopping the members"
	d.event(time.Now(), "stopping (%s): members (SIGTERM), simulator, broker", why)
	v.show(d.snapshot(time.Now(), false))
	d.endSwitchover()
	for _, active := range []bool{false, true} {
		for _, m := range d.members {
			if (m.role() == "active" || m.role() == "activating") == active {
				m.stop(10 * time.Second)
			}
		}
	}
	d.stopSim()
	d.res.Generated = d.sim.Generated()
	d.phase = "auditing the topic"
	v.show(d.snapshot(time.Now(), true))
	d.finishLive()
	select {
	case <-d.liveDone:
	case <-time.After(time.Minute):
		d.abortLive()
		<-d.liveDone
	}
	auditCtx, cancelAudit := context.WithTimeout(context.Background(), time.Minute)
	d.res.Report, d.res.AuditErr = audit.Run(auditCtx, audit.Options{Brokers: []string{d.broker}, Topic: demoTopic})
	cancelAudit()
	d.res.Elapsed = time.Since(d.start)
	d.phase = ""
	v.show(d.snapshot(time.Now(), false))
}

// faultInterval is the time to the next fault: FailoverEvery, or with
// Chaos a random time between half and one and a half times it.
func (d *demo) faultInterval() time.Duration {
	if !d.o.Chaos {
		return d.o.FailoverEvery
	}
	return d.o.FailoverEvery/2 + time.Duration(d.rng.Int64N(int64(d.o.FailoverEvery)+1))
}

// demoSummary is the demo's --json output.
type demoSummary struct {
	Clean           bool          `json:"clean"`
	Verdict         string        `json:"verdict"`
	ElapsedSeconds  float64       `json:"elapsed_seconds"`
	Seed            uint64        `json:"seed"`
	FramesSent      uint64        `json:"frames_sent"`
	FramesDelivered int64         `json:"frames_delivered"`
	FirstSeq        uint64        `json:"first_seq"`
	LastSeq         uint64        `json:"last_seq"`
	Gaps            int64         `json:"gaps"`
	MissingFrames   uint64        `json:"missing_frames"`
	Duplicates      int64         `json:"duplicates"`
	OutOfOrder      int64         `json:"out_of_order"`
	Kills           int           `json:"kills"`
	Stops           int           `json:"stops"`
	Failovers       int           `json:"failovers"`
	MaxFailoverMS   float64       `json:"max_failover_ms"`
	FailoverMS      []float64     `json:"failover_ms"`
	Latency         audit.Latency `json:"end_to_end_latency"`
}

// summary is the result for --json. frames_sent counts every frame the
// simulated feed generated, also before the members started and after they
// stopped; frames_delivered the distinct sequence numbers committed.
func (r *demoResult) summary() demoSummary {
	s := demoSummary{Clean: r.clean(), Verdict: r.verdict(), ElapsedSeconds: r.Elapsed.Seconds(), Seed: r.Seed,
		FramesSent: r.Generated, Kills: r.Kills, Stops: r.Stops, Failovers: len(r.Takeovers), FailoverMS: []float64{}}
	for _, t := range r.Takeovers {
		ms := float64(t) / float64(time.Millisecond)
		s.FailoverMS = append(s.FailoverMS, ms)
		s.MaxFailoverMS = max(s.MaxFailoverMS, ms)
	}
	if rep := r.Report; rep != nil {
		sq := rep.Sequenced
		s.FramesDelivered = int64(sq.Distinct)
		s.FirstSeq, s.LastSeq = sq.First, sq.Last
		s.Gaps, s.MissingFrames, s.Duplicates, s.OutOfOrder = sq.GapCount, sq.Missing, sq.DuplicateRecords, sq.OutOfOrderCount
	}
	if r.Live != nil {
		s.Latency = r.Live.Latency
	}
	return s
}
