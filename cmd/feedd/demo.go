package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// runDemo runs "feedd demo": an embedded broker, a simulated feed split to
// two ports, and two `feedd run` members as child processes, shown live,
// with the active member killed and restarted every --failover-every. At
// the end it audits the topic's feed-seq sequence.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseDemoFlags(args, stderr)
	if err != nil {
		return err
	}
	return demoMain(ctx, o, stdout)
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

func parseDemoFlags(args []string, stderr io.Writer) (demoOptions, error) {
	fs := flag.NewFlagSet("feedd demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demoOptions
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long; 0 = run until Ctrl-C")
	fs.DurationVar(&o.FailoverEvery, "failover-every", 15*time.Second, "kill -9 the active member this often, and restart it a few seconds later; 0 = never (with --chaos: the mean interval, default 8s)")
	fs.BoolVar(&o.Chaos, "chaos", false, "random faults: at random intervals kill -9 or SIGSTOP the active member, and restart or resume it")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of --chaos (0: a random one, printed)")
	fs.BoolVar(&o.JSON, "json", false, "print a JSON summary at the end (the live view goes to stderr)")
	fs.StringVar(&o.AuditMetrics, "audit-metrics", "127.0.0.1:0", "where the demo's audit serves its Prometheus metrics (port 0: any free port)")
	fs.StringVar(&o.Dir, "dir", "", "directory for the generated configurations, secret, logs and ports (default: a temporary one, removed at the end)")
	fs.Float64Var(&o.Rate, "rate", 20, "frames per second of the simulated feed")
	fs.BoolVar(&o.Plain, "plain", false, "print a line per second instead of redrawing the terminal")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: feedd demo [--duration D] [--failover-every D] [--dir DIR]\n\n"+
			"Runs a whole pair on this machine: an embedded Kafka-protocol broker, a simulated\n"+
			"serial feed split to two ports (socat), and two `feedd run` members, and shows them\n"+
			"live while the active member is killed and restarted. At the end it stops everything\n"+
			"and audits the topic: every frame once, in order, no gap and no duplicate.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseCommandFlags(fs, args); err != nil {
		return o, err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if o.Chaos && !explicit["failover-every"] {
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
		o.RestartAfter = min(3*time.Second, o.FailoverEvery/2)
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

// demo is one run of the demo.
type demo struct {
	o       demoOptions
	out     io.Writer
	tty     bool
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

	events       []demoEvent
	printed      int // events already printed in plain mode
	nextFailover time.Time
	postponed    string // why the due failover waits, once reported
	pending      *pendingKill
	stopping     bool
	res          demoResult
}

// pendingKill is a failover in progress: the active was killed at at and
// no successor has been seen active since.
type pendingKill struct {
	victim string
	at     time.Time
}

// playDemo runs the demo until ctx ends or o.Duration has passed, then
// stops everything and audits the topic.
func playDemo(ctx context.Context, o demoOptions, out io.Writer) (res demoResult, err error) {
	o = o.withDefaults()
	view := out
	if o.JSON {
		view = o.Status
		if view == nil {
			view = io.Discard
		}
	}
	d := &demo{o: o, out: view, tty: !o.Plain && isTerminal(view), rng: mathrand.New(mathrand.NewPCG(o.Seed, 0x5eed))}
	d.res.Seed = o.Seed

	dir, removeDir, err := demoDir(o.Dir)
	if err != nil {
		return res, err
	}
	d.dir = dir
	// A temporary directory goes unless it holds the logs of a run that
	// failed.
	defer func() { removeDir((err == nil && res.clean()) || (err != nil && d.start.IsZero())) }()

	// Every exit path kills the members still running: the deferred calls
	// run in reverse, so the members go first, then the audit, the
	// simulator, the broker.
	broker, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return res, fmt.Errorf("starting the embedded broker: %w", err)
	}
	defer broker.Close()
	d.broker = broker.Addr()

	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker), kgo.DisableClientMetrics())
	if err != nil {
		return res, err
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, 15*time.Second)
	err = broadcast.EnsureTopic(setupCtx, cl, broadcast.Config{Brokers: []string{d.broker}, Topic: demoTopic}.WithDefaults())
	cancelSetup()
	cl.Close()
	if err != nil {
		return res, fmt.Errorf("creating the demo topic: %w", err)
	}

	d.sim, err = serialsim.New(serialsim.Config{Ports: len(demoMemberIDs), LinkDir: filepath.Join(dir, "tty"), Rate: o.Rate, Seed: 1})
	if err != nil {
		return res, err
	}
	simCtx, stopSim := context.WithCancel(context.Background())
	defer stopSim()
	if err := d.sim.Start(simCtx); err != nil {
		d.sim.Close()
		return res, fmt.Errorf("starting the simulated feed: %w", err)
	}
	defer d.sim.Close()

	// The audit follows the topic from its start for as long as the demo
	// runs, and serves its metrics beside the members'.
	d.monitor = audit.NewMonitor()
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.monitor.Collector())
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	metrics, err := startAdmin(metricsCtx, o.AuditMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		stopMetrics()
		return res, fmt.Errorf("--audit-metrics: %w", err)
	}
	defer func() { stopMetrics(); metrics.wait() }()
	d.auditAddr = metrics.addr
	stopFollowing := make(chan struct{})
	liveDone := make(chan struct{})
	liveCtx, abortLive := context.WithCancel(context.Background())
	go func() {
		defer close(liveDone)
		d.res.Live, d.res.LiveErr = audit.Run(liveCtx, audit.Options{Brokers: []string{d.broker}, Topic: demoTopic,
			Follow: true, Stop: stopFollowing, Monitor: d.monitor})
	}()
	liveStopped := false
	finishLive := func() {
		if !liveStopped {
			liveStopped = true
			close(stopFollowing)
		}
	}
	defer func() { finishLive(); abortLive(); <-liveDone }()

	if err := d.writeConfigs(); err != nil {
		return res, err
	}
	defer func() {
		for _, m := range d.members {
			m.kill9()
		}
	}()

	d.start = time.Now()
	for _, m := range d.members {
		if err := m.start(o.command); err != nil {
			return res, err
		}
		d.event(time.Now(), "%s started (pid %d)", m.id, m.cmd.Process.Pid)
	}
	if o.Chaos {
		d.event(d.start, "chaos: a random kill -9 or SIGSTOP of the active member about every %v (seed %d)", o.FailoverEvery, o.Seed)
	}
	if o.FailoverEvery > 0 {
		d.nextFailover = d.start.Add(d.faultInterval())
	}

	var end <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		end = t.C
	}
	tick := time.NewTicker(o.Refresh)
	defer tick.Stop()
	why := "the duration has passed"
loop:
	for {
		select {
		case <-ctx.Done():
			why = "interrupted"
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		if err := d.step(time.Now()); err != nil {
			return res, fmt.Errorf("%w (configurations and logs in %s)", err, d.dir)
		}
		d.render(time.Now())
	}

	// Shut down in order: the inactive members first, then the active one,
	// which finishes at a commit boundary; then the feed; then the live
	// audit reads the topic to its end, and a second audit reads it all.
	d.poll()
	d.observe(time.Now())
	d.stopping = true
	d.event(time.Now(), "stopping (%s): members (SIGTERM), simulator, broker", why)
	d.render(time.Now())
	for _, active := range []bool{false, true} {
		for _, m := range d.members {
			if (m.role() == "active" || m.role() == "activating") == active {
				m.stop(10 * time.Second)
			}
		}
	}
	stopSim()
	d.sim.Close()
	d.res.Generated = d.sim.Generated()
	finishLive()
	select {
	case <-liveDone:
	case <-time.After(time.Minute):
		abortLive()
		<-liveDone
	}
	auditCtx, cancelAudit := context.WithTimeout(context.Background(), time.Minute)
	d.res.Report, d.res.AuditErr = audit.Run(auditCtx, audit.Options{Brokers: []string{d.broker}, Topic: demoTopic})
	cancelAudit()
	d.res.Elapsed = time.Since(d.start)
	d.render(time.Now())
	d.final()
	return d.res, nil
}

// faultInterval is the time to the next fault: FailoverEvery, or with
// Chaos a random time between half and one and a half times it.
func (d *demo) faultInterval() time.Duration {
	if !d.o.Chaos {
		return d.o.FailoverEvery
	}
	return d.o.FailoverEvery/2 + time.Duration(d.rng.Int64N(int64(d.o.FailoverEvery)+1))
}

func (d *demo) event(at time.Time, format string, a ...any) {
	d.events = append(d.events, demoEvent{at: at, text: fmt.Sprintf(format, a...)})
}

func (d *demo) other(m *demoMember) *demoMember {
	for _, o := range d.members {
		if o != m {
			return o
		}
	}
	return nil
}

// poll reads every running member's status, in parallel.
func (d *demo) poll() {
	var wg sync.WaitGroup
	for _, m := range d.members {
		if !m.running() || m.hung {
			m.last = nil
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, st, err := m.admin.status(ctx)
			if err != nil {
				st = nil
			}
			m.last = st
		})
	}
	wg.Wait()
}

// observe reports the role changes the members' statuses show, and the
// takeover that completes a failover.
func (d *demo) observe(now time.Time) {
	for _, m := range d.members {
		if m.last == nil || m.last.Pair == nil {
			continue
		}
		for _, t := range m.last.Pair.Transitions {
			if !t.At.After(m.seenUpTo) {
				continue
			}
			m.seenUpTo = t.At
			text := fmt.Sprintf("%s: %s → %s", m.id, t.From, t.To)
			if t.Reason != "" {
				text += " (" + t.Reason + ")"
			}
			d.event(t.At, "%s", text)
		}
	}
	k := d.pending
	if k == nil {
		return
	}
	for _, m := range d.members {
		if m.id == k.victim || m.last == nil || m.last.Pair == nil {
			continue
		}
		reason := ""
		for _, t := range m.last.Pair.Transitions {
			if !t.At.After(k.at) {
				continue
			}
			if t.To == "activating" && t.Reason != "" {
				reason = " (" + t.Reason + ")"
			}
			if t.To == "active" {
				took := t.At.Sub(k.at)
				d.res.Takeovers = append(d.res.Takeovers, took)
				d.event(t.At, "failover %d: %s took over %v after the fault%s", len(d.res.Takeovers), m.id, shortDuration(took), reason)
				d.pending = nil
				return
			}
		}
	}
	if now.Sub(k.at) > 15*time.Second {
		d.event(now, "no member was seen taking over from %s", k.victim)
		d.pending = nil
	}
}

// step polls the members, reports what changed, and starts, kills and
// restarts members as the schedule says.
func (d *demo) step(now time.Time) error {
	d.poll()
	d.observe(now)
	for _, m := range d.members {
		// A member that died on its own is restarted like a killed one.
		if m.cmd != nil && !m.running() && !m.killed {
			m.killed = true
			m.restartAt = now.Add(d.o.RestartAfter)
			d.event(now, "%s exited by itself (%v); restarting it in %v, see %s", m.id, m.exitErr, d.o.RestartAfter, m.logPath)
		}
		if !m.restartAt.IsZero() && !now.Add(d.o.Refresh/2).Before(m.restartAt) {
			if err := m.start(d.o.command); err != nil {
				return err
			}
			d.event(now, "%s restarted (pid %d); it rejoins as inactive with a fresh ring", m.id, m.cmd.Process.Pid)
		}
	}

	for _, m := range d.members {
		if m.hung && !now.Add(d.o.Refresh/2).Before(m.resumeAt) {
			m.resume()
			d.event(now, "%s resumed (SIGCONT): it finds itself superseded and rejoins as inactive", m.id)
		}
	}

	// Due within half a refresh: the ticks that poll the members jitter.
	if d.o.FailoverEvery > 0 && !now.Add(d.o.Refresh/2).Before(d.nextFailover) {
		if victim, why := d.failoverTarget(); victim != nil {
			pid := victim.cmd.Process.Pid
			d.pending = &pendingKill{victim: victim.id, at: time.Now()}
			if d.o.Chaos && d.rng.IntN(2) == 1 {
				victim.hang()
				victim.resumeAt = now.Add(d.o.RestartAfter)
				d.res.Stops++
				d.event(d.pending.at, "SIGSTOP %s (pid %d), the active member: it hangs; resume in %v", victim.id, pid, d.o.RestartAfter)
			} else {
				victim.kill9()
				victim.restartAt = now.Add(d.o.RestartAfter)
				d.res.Kills++
				d.event(d.pending.at, "kill -9 %s (pid %d), the active member; restart in %v", victim.id, pid, d.o.RestartAfter)
			}
			d.nextFailover = d.pending.at.Add(d.faultInterval())
			d.postponed = ""
		} else if why != d.postponed {
			d.postponed = why
			d.event(now, "failover postponed: %s", why)
		}
	}
	return nil
}

// failoverTarget returns the active member if its peer is ready to take
// over from its ring with nothing missing, or why not. A member that just
// (re)started holds only what it read since; it is ready once it has seen
// the active commit a frame it read itself.
func (d *demo) failoverTarget() (*demoMember, string) {
	var active *demoMember
	for _, m := range d.members {
		if m.role() == "active" {
			active = m
		}
	}
	if active == nil {
		return nil, "no member is active"
	}
	if d.pending != nil {
		return nil, "the last failover has not finished"
	}
	peer := d.other(active)
	st := peer.last
	switch {
	case !peer.running():
		return nil, peer.id + " is down"
	case st == nil || st.Pair == nil:
		return nil, peer.id + " does not answer yet"
	case st.Pair.Role != "inactive" || st.Pair.HoldOff:
		return nil, peer.id + " is " + st.Pair.Role + " and not ready"
	case !st.Ingest.Connected || st.Ingest.Quiet || st.Ingest.Frames == 0:
		return nil, peer.id + " is not reading its port yet"
	case st.Broadcast.Counters.EchoMatched == 0 && st.Broadcast.Ring.Recognised == 0:
		return nil, peer.id + " has not yet seen a frame it read committed"
	}
	for _, p := range st.Pair.Peers {
		if p.ID == active.id && p.View == "heard" && p.Connected {
			return active, ""
		}
	}
	return nil, peer.id + " does not hear " + active.id + " yet"
}

// render shows the current state: a redrawn screen on a terminal, or new
// events and one line per refresh otherwise.
func (d *demo) render(now time.Time) {
	if !d.tty {
		for _, e := range d.events[d.printed:] {
			fmt.Fprintf(d.out, "[%s] %s\n", d.since(e.at), e.text)
		}
		d.printed = len(d.events)
		var parts []string
		for _, m := range d.members {
			p := m.id + " " + m.role()
			if !m.running() {
				p = m.id + " down"
				if m.cmd != nil && m.restartAt.IsZero() {
					p = m.id + " stopped"
				}
			} else if st := m.last; st != nil {
				p += fmt.Sprintf(" ring %d read %d", st.Broadcast.Ring.Len, st.Ingest.Frames)
				if !st.Broadcast.LastCommitAt.IsZero() {
					p += " commit " + ago(now, st.Broadcast.LastCommitAt)
				}
			}
			parts = append(parts, p)
		}
		fmt.Fprintf(d.out, "[%s] %s | topic %s\n", d.since(now), strings.Join(parts, " | "), d.topicLine(now))
		return
	}

	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	fmt.Fprintf(&b, "feedd demo: pipeline %q, topic %s on the embedded broker %s\n", demoPipeline, demoTopic, d.broker)
	fmt.Fprintf(&b, "simulated feed: %g frames/s, split to %d ports   generated %d\n", d.o.Rate, len(d.members), d.sim.Generated())
	run := "running " + now.Sub(d.start).Round(time.Second).String()
	if d.o.Duration > 0 {
		run += " of " + d.o.Duration.String()
	}
	switch {
	case d.stopping:
		run = "stopped after " + now.Sub(d.start).Round(time.Second).String()
	case d.o.FailoverEvery > 0:
		if d.o.Chaos {
			run += fmt.Sprintf("   chaos: kill -9 or SIGSTOP of the active about every %v (seed %d)", d.o.FailoverEvery, d.o.Seed)
		} else {
			run += fmt.Sprintf("   kill -9 of the active every %v", d.o.FailoverEvery)
		}
		if wait := d.nextFailover.Sub(now); wait > 0 {
			run += fmt.Sprintf(", next in %v", wait.Round(time.Second))
		}
		fallthrough
	default:
		run += "   Ctrl-C stops"
	}
	fmt.Fprintf(&b, "%s\n\n", run)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tPROCESS\tROLE\tTERM\tRING\tREAD\tLAST COMMIT")
	for _, m := range d.members {
		proc := "stopped"
		switch {
		case m.hung:
			proc = fmt.Sprintf("pid %d, SIGSTOP, resume in %v", m.cmd.Process.Pid, max(0, m.resumeAt.Sub(now)).Round(100*time.Millisecond))
		case m.running():
			proc = fmt.Sprintf("pid %d", m.cmd.Process.Pid)
		case !m.restartAt.IsZero() && d.stopping:
			proc = "down (killed)"
		case !m.restartAt.IsZero():
			proc = fmt.Sprintf("down, restart in %v", max(0, m.restartAt.Sub(now)).Round(100*time.Millisecond))
		}
		term, ring, read, commit := "-", "-", "-", "-"
		if st := m.last; st != nil {
			if st.Pair != nil {
				term = strconv.FormatUint(st.Pair.Term, 10)
			}
			ring = fmt.Sprintf("%d (%s)", st.Broadcast.Ring.Len, humanBytes(st.Broadcast.Ring.Bytes))
			read = strconv.FormatUint(st.Ingest.Frames, 10)
			if !st.Broadcast.LastCommitAt.IsZero() {
				commit = ago(now, st.Broadcast.LastCommitAt)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.id, proc, m.role(), term, ring, read, commit)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\ntopic (the audit, read_committed): %s\n", d.topicLine(now))
	if len(d.res.Takeovers) > 0 {
		fmt.Fprintf(&b, "failovers: %d, takeover after the fault: %s\n", len(d.res.Takeovers), durations(d.res.Takeovers))
	}
	b.WriteString("\nevents\n")
	for _, e := range d.events[max(0, len(d.events)-10):] {
		fmt.Fprintf(&b, "  %s  %s\n", d.since(e.at), e.text)
	}
	if !d.stopping {
		fmt.Fprintf(&b, "\nin another terminal:  %s status --config %s\n", d.o.Self, d.members[0].config)
		fmt.Fprintf(&b, "                      %s switchover --config %s\n", d.o.Self, d.members[0].config)
		fmt.Fprintf(&b, "logs:                 %s\n", filepath.Join(d.dir, "*.log"))
		fmt.Fprintf(&b, "metrics:              prometheus --config.file=%s\n", filepath.Join(d.dir, "prometheus.yml"))
	}
	io.WriteString(d.out, b.String())
}

func (d *demo) since(t time.Time) string {
	s := t.Sub(d.start)
	if s < 0 {
		s = 0
	}
	return fmt.Sprintf("+%5.1fs", s.Seconds())
}

// final prints the closing lines: totals and the audit's verdict.
func (d *demo) final() {
	if d.tty {
		fmt.Fprintln(d.out)
	} else {
		for _, e := range d.events[d.printed:] {
			fmt.Fprintf(d.out, "[%s] %s\n", d.since(e.at), e.text)
		}
		d.printed = len(d.events)
	}
	r := &d.res
	records := int64(0)
	if r.Report != nil {
		records = r.Report.Records
	}
	fmt.Fprintf(d.out, "feedd demo: %v, %d frames generated, %d committed records in the topic, %s, %s, %s",
		r.Elapsed.Round(100*time.Millisecond), r.Generated, records,
		plural(uint64(r.Kills), "kill"), plural(uint64(r.Stops), "stop"), plural(uint64(len(r.Takeovers)), "failover"))
	if len(r.Takeovers) > 0 {
		fmt.Fprintf(d.out, " (takeover %s after the fault)", durations(r.Takeovers))
	}
	fmt.Fprintf(d.out, "\naudit of the topic (read_committed, by feedd-seq): %s\n", r.verdict())
	if r.Live != nil && r.Live.Latency.Count > 0 {
		l := r.Live.Latency
		fmt.Fprintf(d.out, "end-to-end latency (port to committed consumer): p50 %s, p99 %s, max %s\n",
			shortDuration(secondsDuration(l.P50)), shortDuration(secondsDuration(l.P99)), shortDuration(secondsDuration(l.Max)))
	}
	if !r.clean() || d.o.Dir != "" {
		fmt.Fprintf(d.out, "configurations and logs kept in %s", d.dir)
		if r.Report != nil && !r.Report.Clean {
			fmt.Fprintf(d.out, "; `feedd audit --config %s` lists the findings", d.members[0].config)
		}
		fmt.Fprintln(d.out)
	}
}

func durations(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, shortDuration(d))
	}
	return strings.Join(s, ", ")
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// topicLine is the live audit in one line.
func (d *demo) topicLine(now time.Time) string {
	p := d.monitor.Progress()
	if !d.lastAt.IsZero() && now.Sub(d.lastAt) > 0 && !d.stopping {
		d.rate = float64(p.Records-d.lastCount) / now.Sub(d.lastAt).Seconds()
	}
	d.lastCount, d.lastAt = p.Records, now
	if p.Records == 0 {
		return "no committed records yet"
	}
	line := fmt.Sprintf("%d records (%.0f/s), feed-seq %d..%d, ", p.Records, d.rate, p.FirstSeq, p.LastSeq)
	var bad []string
	if p.Gaps > 0 {
		bad = append(bad, fmt.Sprintf("GAPS %d (%d missing)", p.Gaps, p.Missing))
	}
	if p.DuplicateRecords > 0 {
		bad = append(bad, fmt.Sprintf("DUPLICATES %d", p.DuplicateRecords))
	}
	if p.OutOfOrder > 0 {
		bad = append(bad, fmt.Sprintf("OUT OF ORDER %d", p.OutOfOrder))
	}
	if p.Unsequenced > 0 {
		bad = append(bad, fmt.Sprintf("%d without feed-seq", p.Unsequenced))
	}
	if len(bad) == 0 {
		line += "no gap, no duplicate"
	} else {
		line += strings.Join(bad, ", ")
	}
	if p.Latency.Count > 0 {
		line += fmt.Sprintf("; latency p50 %s p99 %s", shortDuration(secondsDuration(p.Latency.P50)), shortDuration(secondsDuration(p.Latency.P99)))
	}
	return line
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

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
