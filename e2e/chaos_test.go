package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/member"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The chaos suite: the failure matrix of the design, each fault injected
// several times with seeded random timing into two `feedd run` processes
// fed at chaosRate frames a second through real ptys, against a real Apache
// Kafka broker (e2eOptions.kafka). Each scenario ends with the harness's
// finish: the audit (broadcast/audit, strict: no gap, no duplicate, in
// order, every frame the simulator delivered) and, on Kafka, an independent
// reading of the topic with kcat that must agree with it, and a check of
// the producer epochs that no fenced member committed (I3).
//
// FEEDD_CHAOS_REPS sets the repetitions of each fault (default
// chaosDefaultReps), FEEDD_CHAOS_SEED the seed (default: the clock; it is
// logged). TestChaosSoak (make soak) draws faults at random for a duration.

const (
	// chaosRate is the feed's rate: at least 500 frames a second, on a
	// line fast enough to carry them (64-byte frames at 921600 baud fill
	// 35% of it).
	chaosRate = 500
	chaosBaud = 921600
	// chaosDefaultReps keeps the suite within its share of the CI budget
	// on two cores.
	chaosDefaultReps = 3
	// chaosActivation is the pair's activation interval in the chaos
	// suite: three times the default. Two members, a JVM broker, the
	// simulator and the race-instrumented test share two cores, often
	// with other work; at 500 ms a commit or a heartbeat delayed by the
	// machine alone silenced both the link and the Kafka witness, and the
	// inactive took over from a live active. The matrix's expectations do
	// not depend on the interval; the hang failover figures do (they
	// include it).
	chaosActivation = 1500 * time.Millisecond
)

// chaos is one chaos run: a cluster on real Kafka, its random source, and
// what the faults measured and expect of the topic.
type chaos struct {
	*e2eCluster
	seed uint64
	rng  *rand.Rand
	tr   *topicTracker // reads commit markers, for failover times

	failovers map[string][]time.Duration // "crash", "hang": signal to the new active's first commit
	// stalls are, for the cluster's faults, the longest time without a
	// commit from the fault to the settled pair, by fault.
	stalls map[string][]time.Duration
	counts map[string]int // faults injected, by name
	// bothKilled counts the both-killed faults: each leaves one gap,
	// within the span of sequence numbers killed holds for it.
	bothKilled int
	killed     [][2]uint64
}

func chaosSeed(t testing.TB) uint64 { return testsupport.Seed(t, "FEEDD_CHAOS_SEED") }

func chaosReps(t testing.TB) int {
	v := os.Getenv("FEEDD_CHAOS_REPS")
	if v == "" {
		return chaosDefaultReps
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("FEEDD_CHAOS_REPS=%q: want a positive number", v)
	}
	return n
}

// newChaos starts a pair on real Kafka at the chaos rate, with the pair
// link through a proxy (for the link cut): on a single node of its own, or
// on kc, a three-node cluster shared with other runs, under a pipeline
// named name.
func newChaos(t testing.TB, kc *e2eKafkaCluster, name string) *chaos {
	t.Helper()
	needE2E(t)
	requireKcat(t)
	ch := &chaos{seed: chaosSeed(t), failovers: map[string][]time.Duration{}, stalls: map[string][]time.Duration{}, counts: map[string]int{}}
	ch.rng = rand.New(rand.NewPCG(ch.seed, 0))
	o := e2eOptions{kafka: true, proxy: true, rate: chaosRate, baud: chaosBaud, activation: chaosActivation}
	if kc != nil {
		o.cluster, o.name = kc, name
	}
	ch.e2eCluster = newE2ECluster(t, o)
	return ch
}

// between returns a random duration in [lo, hi).
func (ch *chaos) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(ch.rng.Int64N(int64(hi-lo)))
}

// tracker returns the commit-marker reader, created on first use.
func (ch *chaos) tracker() *topicTracker {
	if ch.tr == nil {
		ch.tr = ch.newTopicTracker()
		ch.t.Cleanup(ch.tr.cl.Close)
	}
	return ch.tr
}

// chaosFault is one fault of the matrix. run starts from a settled pair
// and returns once the pair has settled again, having checked what the
// matrix expects of that fault.
type chaosFault struct {
	name string
	run  func(ch *chaos, active, inactive *e2eMember)
}

// The faults of the matrix on either broker shape.
var pairFaults = []chaosFault{
	{"kill-active", (*chaos).killActive},
	{"stop-active", (*chaos).stopActive},
	{"restart-inactive", (*chaos).restartInactive},
	{"link-cut", (*chaos).linkCut},
	{"kafka-cut-active", (*chaos).kafkaCutActive},
	{"unplug-active", (*chaos).unplugActive},
	{"switchover", (*chaos).switchover},
	{"both-killed", (*chaos).bothKilledFault},
}

// chaosFaults are the faults on a single node: the pair's, and the
// broker's restart.
var chaosFaults = append(slices.Clip(pairFaults), chaosFault{"broker-restart", (*chaos).brokerRestart})

// clusterFaults are the faults on the three-node cluster: the pair's, and
// the cluster's own (cluster_test.go), which take the broker restart's
// place.
var clusterFaults = append(slices.Clip(pairFaults),
	chaosFault{"leader-kill", (*chaos).leaderKill},
	chaosFault{"coordinator-kill", (*chaos).coordinatorKill},
	chaosFault{"rolling-restart", (*chaos).rollingRestart},
	chaosFault{"cut-from-leader", (*chaos).cutFromLeader},
	chaosFault{"cut-from-follower", (*chaos).cutFromFollower},
)

func faultNamed(faults []chaosFault, name string) chaosFault {
	for _, f := range faults {
		if f.name == name {
			return f
		}
	}
	panic("no fault " + name)
}

// inject runs one fault between two settled states of the pair, after a
// random stretch of streaming.
func (ch *chaos) inject(f chaosFault) {
	ch.t.Helper()
	active, inactive := ch.waitPair()
	ch.stream(ch.between(100*time.Millisecond, 700*time.Millisecond))
	ch.counts[f.name]++
	f.run(ch, active, inactive)
}

// needChaos skips a chaos test unless FEEDD_CHAOS is set (make test and
// make test-e2e set it), saying so: not silent, `go test -v` shows it. A
// plain `go test ./...` leaves the suite out because it takes a quarter of
// an hour and wants the two cores to itself.
func needChaos(t testing.TB) {
	if os.Getenv("FEEDD_CHAOS") == "" {
		t.Skip("SKIPPED: the chaos suite runs with FEEDD_CHAOS=1, as make test and make test-e2e run it (docs/testing.md)")
	}
}

// runScenario injects one fault reps times on a single node of its own,
// then checks the topic.
func runScenario(t *testing.T, name string) {
	needChaos(t)
	runScenarioOn(t, newChaos(t, nil, ""), faultNamed(chaosFaults, name))
}

func runScenarioOn(t *testing.T, ch *chaos, f chaosFault) {
	reps := chaosReps(t)
	start := time.Now()
	for range reps {
		ch.inject(f)
	}
	ch.stream(300 * time.Millisecond)
	ch.finish(e2eExpect{gaps: ch.bothKilled, killed: ch.killed})
	t.Logf("%s: %d repetitions in %v; failovers %v; stalls %v", f.name, reps, time.Since(start).Round(time.Millisecond), ch.failovers, ch.stalls)
}

// The scenarios of the failure matrix (design.md).

func TestChaosKillActive(t *testing.T)      { runScenario(t, "kill-active") }
func TestChaosStopActive(t *testing.T)      { runScenario(t, "stop-active") }
func TestChaosRestartInactive(t *testing.T) { runScenario(t, "restart-inactive") }
func TestChaosLinkCut(t *testing.T)         { runScenario(t, "link-cut") }
func TestChaosKafkaCutActive(t *testing.T)  { runScenario(t, "kafka-cut-active") }
func TestChaosUnplugActive(t *testing.T)    { runScenario(t, "unplug-active") }
func TestChaosBrokerRestart(t *testing.T)   { runScenario(t, "broker-restart") }
func TestChaosSwitchover(t *testing.T)      { runScenario(t, "switchover") }
func TestChaosBothKilled(t *testing.T)      { runScenario(t, "both-killed") }

// failover measures, from the topic, the time from at to the first commit
// of the new active (the commit marker's broker timestamp).
func (ch *chaos) failover(kind string, at time.Time, newActive *e2eMember, from int64) {
	d := ch.tracker().firstCommitBy(ch.t, newActive.id, from).Sub(at)
	ch.failovers[kind] = append(ch.failovers[kind], d)
}

// killActive: kill -9 of the active. Obituary: the inactive activates at
// once; the killed member restarts and rejoins.
func (ch *chaos) killActive(active, inactive *e2eMember) {
	t := ch.t
	from := ch.tracker().end(t)
	before := inactive.mustStatus()
	at := time.Now()
	active.kill()
	st := ch.waitActive(inactive, at)
	ch.failover("crash", at, inactive, from)
	if st.Pair.Counters.Obituaries <= before.Pair.Counters.Obituaries {
		t.Errorf("kill-active: %s took over without an obituary", inactive.id)
	}
	ch.stream(ch.between(100*time.Millisecond, time.Second))
	active.start()
	ch.waitPair()
}

// stopActive: SIGSTOP of the active, SIGCONT later. The inactive activates
// after the activation interval; the woken member finds itself fenced or
// superseded and stays inactive.
func (ch *chaos) stopActive(active, inactive *e2eMember) {
	t := ch.t
	from := ch.tracker().end(t)
	before := active.mustStatus()
	successorBefore := inactive.mustStatus()
	at := time.Now()
	active.hang()
	ch.waitActive(inactive, at)
	ch.failover("hang", at, inactive, from)
	ch.stream(ch.between(0, 1500*time.Millisecond))
	active.resume()
	active.waitStatus(active.id+" woken and stepped down", func(st member.Status) (bool, string) {
		sd, was := st.Pair.Counters.StepDowns, before.Pair.Counters.StepDowns
		return st.Role == "inactive" && sd["fenced"]+sd["superseded"] > was["fenced"]+was["superseded"],
			fmt.Sprintf("role %s, step-downs %v", st.Role, sd)
	})
	if a, _ := ch.waitPair(); a != inactive {
		// A second cause excuses it: the successor handed the slot back
		// for its own feed (a sparse feed's line judged quiet or noisy
		// while the woken member's was clean), as the design wants.
		sd, was := inactive.mustStatus().Pair.Counters.StepDowns, successorBefore.Pair.Counters.StepDowns
		if sd["feed"] > was["feed"] {
			t.Logf("stop-active: %s handed the slot back to %s for its feed (step-downs %v)", inactive.id, a.id, sd)
		} else {
			t.Errorf("stop-active: after SIGCONT %s took the slot back from %s (%s's step-downs %v)", a.id, inactive.id, inactive.id, sd)
		}
	}
}

// restartInactive: the inactive is killed and restarted; the active is not
// disturbed, and the rejoiner trims on echo again.
func (ch *chaos) restartInactive(active, inactive *e2eMember) {
	t := ch.t
	before := active.mustStatus()
	w := ch.watchRoles()
	inactive.kill()
	ch.stream(ch.between(200*time.Millisecond, 1500*time.Millisecond))
	inactive.start()
	inactive.waitStatus(inactive.id+" rejoined, trimming", func(st member.Status) (bool, string) {
		// inStepWith: on a feed without sequence numbers a rejoiner may
		// trim by passing frames over rather than matching them.
		return ch.inStepWith(st) && linkUp(st), fmt.Sprintf("role %s, matched %d, ring trims %d", st.Role, st.Broadcast.Counters.EchoMatched, ringTrims(st))
	})
	holders, polls, _ := w.end()
	after := active.mustStatus()
	switch {
	case after.Pair.Counters.StepDowns["kafka"] > before.Pair.Counters.StepDowns["kafka"]:
		// A second fault: the active's own commits stalled meanwhile.
		t.Logf("restart-inactive: the active %s stepped down for Kafka meanwhile (a second fault); step-downs %v", active.id, after.Pair.Counters.StepDowns)
	case after.Role != "active" || !after.Pair.RoleSince.Equal(before.Pair.RoleSince):
		t.Errorf("restart-inactive: the active %s was disturbed: role %s since %v (was since %v)", active.id, after.Role, after.Pair.RoleSince, before.Pair.RoleSince)
	case holders[inactive.id] != 0:
		t.Errorf("restart-inactive: over %d polls %s reported itself active %d times", polls, inactive.id, holders[inactive.id])
	}
	ch.waitPair()
}

// linkCut: the pair link goes silent while both members live. The Kafka
// witness shows the active committing: no activation, no flapping.
func (ch *chaos) linkCut(active, inactive *e2eMember) {
	t := ch.t
	before := inactive.mustStatus()
	activeBefore := active.mustStatus()
	w := ch.watchRoles()
	ch.proxy.Cut()
	// Several activation intervals of silence. (The inactive counts a
	// suppressed activation only when it could have activated at all: one
	// that is still relearning after a broker restart, say, has nothing to
	// suppress, so the count is logged, not required.)
	ch.stream(ch.between(3*ch.activation, 6*ch.activation))
	holders, polls, both := w.end()
	during := inactive.mustStatus()
	t.Logf("link-cut: %s suppressed %d activations on the witness while the link was cut", inactive.id,
		during.Pair.Counters.WitnessSuppressed-before.Pair.Counters.WitnessSuppressed)
	activations := during.Pair.Counters.Activations - before.Pair.Counters.Activations
	// A second fault during the cut makes an activation right: the
	// active's own commits stalling (a loaded broker) silence the witness
	// too, and the active then steps down for Kafka. Only that excuses it.
	kafkaStall := active.mustStatus().Pair.Counters.StepDowns["kafka"] > activeBefore.Pair.Counters.StepDowns["kafka"]
	switch {
	case activations != 0 && kafkaStall:
		t.Logf("link-cut: %s activated while the link was cut, after %s's commits stalled and it stepped down for Kafka (a second fault)", inactive.id, active.id)
	case activations != 0 || len(holders) != 1 || both != 0:
		t.Errorf("link-cut: %s activated %d times while the link was cut; members active over %d polls: %v (both %d)",
			inactive.id, activations, polls, holders, both)
	}
	ch.proxy.Restore()
	if a, _ := ch.waitPair(); a != active && !kafkaStall {
		t.Errorf("link-cut: after the link came back %s is active, want %s", a.id, active.id)
	}
}

// kafkaCutActive: the active loses the broker (its own listener's proxy
// drops everything, or goes silent) while its peer still reaches it. Its
// commits fail; it steps down and the inactive takes over; once the proxy
// is back it rejoins as inactive.
func (ch *chaos) kafkaCutActive(active, inactive *e2eMember) {
	t := ch.t
	before := active.mustStatus()
	hard := ch.rng.IntN(2) == 0
	at := time.Now()
	active.cutKafka(hard)
	ch.waitActive(inactive, at)
	ch.waitSteppedDown(active)
	after := active.mustStatus()
	t.Logf("kafka-cut-active (hard %v): %s active after %v; %s step-downs %v -> %v", hard, inactive.id,
		time.Since(at).Round(time.Millisecond), active.id, before.Pair.Counters.StepDowns, after.Pair.Counters.StepDowns)
	if after.Pair.Counters.StepDowns["kafka"] <= before.Pair.Counters.StepDowns["kafka"] {
		t.Errorf("kafka-cut-active: %s stepped down for %v, not for Kafka", active.id, after.Pair.Counters.StepDowns)
	}
	ch.stream(ch.between(200*time.Millisecond, 1500*time.Millisecond))
	active.restoreKafka()
	if a, _ := ch.waitPair(); a != inactive {
		t.Errorf("kafka-cut-active: after the broker came back %s is active, want %s", a.id, inactive.id)
	}
}

// waitSteppedDown waits until m's pair role and pipeline are inactive.
func (ch *chaos) waitSteppedDown(m *e2eMember) {
	ch.t.Helper()
	m.waitStatus(m.id+" stepped down", func(st member.Status) (bool, string) {
		return st.Role == "inactive" && st.Broadcast.State == broadcast.StateInactive, fmt.Sprintf("role %s (broadcast %s)", st.Role, st.Broadcast.State)
	})
}

// unplugActive: the active's serial port is unplugged while the peer's
// still carries the feed: the active steps down (feed), the inactive takes
// over; replugged, the old active rejoins as inactive.
func (ch *chaos) unplugActive(active, inactive *e2eMember) {
	t := ch.t
	before := active.mustStatus()
	at := time.Now()
	if err := ch.sim.Unplug(active.port, 0); err != nil {
		t.Fatal(err)
	}
	ch.waitActive(inactive, at)
	active.waitStatus(active.id+" stepped down", func(st member.Status) (bool, string) {
		// For its feed; or for Kafka, if its commits stalled meanwhile
		// (a second fault, logged below).
		sd, was := st.Pair.Counters.StepDowns, before.Pair.Counters.StepDowns
		return st.Role == "inactive" && sd["feed"]+sd["kafka"] > was["feed"]+was["kafka"], fmt.Sprintf("role %s, step-downs %v", st.Role, sd)
	})
	if sd := active.mustStatus().Pair.Counters.StepDowns; sd["feed"] == before.Pair.Counters.StepDowns["feed"] {
		t.Logf("unplug-active: %s stepped down for Kafka before its feed counted (a second fault): %v", active.id, sd)
	}
	ch.stream(ch.between(200*time.Millisecond, 1500*time.Millisecond))
	if err := ch.sim.Replug(active.port); err != nil {
		t.Fatal(err)
	}
	if a, _ := ch.waitPair(); a != inactive {
		t.Errorf("unplug-active: after the replug %s is active, want %s", a.id, inactive.id)
	}
}

// brokerRestart: the broker is restarted (a controlled shutdown, or killed
// at random). Both members survive; their rings cover the outage without
// overflowing (I4); the pair settles and the stream goes on.
func (ch *chaos) brokerRestart(active, inactive *e2eMember) {
	t := ch.t
	hard := ch.rng.IntN(2) == 0
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	at := time.Now()
	if err := ch.kafka.Restart(ctx, hard); err != nil {
		t.Fatal(err)
	}
	ch.waitPair()
	t.Logf("broker-restart (hard %v): the pair settled %v after the restart began", hard, time.Since(at).Round(time.Millisecond))
	ch.checkNoOverflow("broker-restart")
}

// switchover: the operator's planned switchover: the roles swap at a commit
// boundary, without a fence.
func (ch *chaos) switchover(active, inactive *e2eMember) {
	t := ch.t
	before := active.mustStatus()
	at := time.Now()
	if out, err := exec.Command(ch.bin, "switchover", "--config", active.cfgPath, "--to", inactive.id).CombinedOutput(); err != nil {
		t.Fatalf("feedd switchover: %v\n%s", err, out)
	}
	ch.waitActive(inactive, at)
	if a, _ := ch.waitPair(); a != inactive {
		t.Fatalf("switchover: %s is active, want %s", a.id, inactive.id)
	}
	st := active.mustStatus()
	if st.Pair.Counters.StepDowns["switchover"] <= before.Pair.Counters.StepDowns["switchover"] || st.Broadcast.Counters.Fenced != before.Broadcast.Counters.Fenced {
		t.Errorf("switchover: %s step-downs %v, fenced %d -> %d; want a switchover step-down and no fence", active.id,
			st.Pair.Counters.StepDowns, before.Broadcast.Counters.Fenced, st.Broadcast.Counters.Fenced)
	}
}

// bothKilledFault: both members are killed, and the feed goes on while
// neither can read it. The ports are unplugged meanwhile, so the ptys do
// not keep the frames for the restarted members; and they come back paused
// until both members have opened them again, because a pty discards what is
// written to it while nobody has it open (as a UART does while no process
// reads it), which the simulator would count as delivered. The topic must
// then lack exactly the frames no member committed: checked against the
// simulator in checkBothKilledGaps.
func (ch *chaos) bothKilledFault(active, inactive *e2eMember) {
	t := ch.t
	from := ch.sim.Generated() + ch.sim.Config().StartSeq
	active.kill()
	inactive.kill()
	if err := ch.sim.Unplug(serialsim.AllPorts, 0); err != nil {
		t.Fatal(err)
	}
	ch.stream(ch.between(200*time.Millisecond, time.Second))
	if err := ch.sim.Pause(serialsim.AllPorts, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := ch.sim.Replug(serialsim.AllPorts); err != nil {
		t.Fatal(err)
	}
	active.start()
	inactive.start()
	for _, m := range []*e2eMember{active, inactive} {
		m.waitStatus(m.id+" restarted with its port open", func(st member.Status) (bool, string) {
			return st.Ingest.Connected, "port not open yet"
		})
	}
	if err := ch.sim.Resume(serialsim.AllPorts); err != nil {
		t.Fatal(err)
	}
	ch.bothKilled++
	// A frame's sequence number is StartSeq and the frames generated
	// before it; one more either way for the frame in flight.
	ch.killed = append(ch.killed, [2]uint64{max(from, 1) - 1, ch.sim.Generated() + ch.sim.Config().StartSeq + 1})
	ch.waitPair()
}

// auditTopic audits the topic: on kfake with `feedd audit --json`, the
// command operators run; on Kafka with the audit package itself.
func (c *e2eCluster) auditTopic() (*audit.Report, string, error) {
	if !c.realKafka() {
		return c.audit()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := audit.Run(ctx, audit.Options{Brokers: c.seeds(), Topic: c.topic})
	if err != nil {
		return nil, "", err
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	return rep, text.String(), nil
}

// crossCheck runs after the audit, on Kafka: kcat must read what the audit
// read, and no fenced member may have committed (I3).
func (c *e2eCluster) crossCheck(rep *audit.Report, exp e2eExpect, lost []audit.Gap) {
	c.t.Helper()
	c.kcatCheck(rep)
	c.epochCheck()
	if exp.wantGaps() > 0 {
		c.checkBothKilledGaps(rep, exp.wantGaps(), lost)
	}
}

// kcatRecord is one committed record as kcat printed it.
type kcatRecord struct {
	offset int64
	seq    uint64
}

// kcatCheck reads the topic with kcat (librdkafka, read_committed), a
// client that shares no code with feedd or franz-go, and checks that what
// it finds agrees with the audit: the records, the first and last sequence
// numbers, every gap, no duplicate, no disorder.
func (c *e2eCluster) kcatCheck(rep *audit.Report) {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-C", "-b", c.bootstrap, "-t", c.topic, "-p", "0",
		"-X", "isolation.level=read_committed", "-o", "beginning", "-e", "-q",
		"-f", "%o\t%h\t%s\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat: %v: %s", err, errb.String())
	}
	var recs []kcatRecord
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) != 3 {
			t.Fatalf("kcat: unexpected line %q", line)
		}
		off, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			t.Fatalf("kcat: offset in %q: %v", line, err)
		}
		var hdr uint64
		found := false
		// kcat prints headers as key=value, comma-separated; the feedd
		// header's fields are space-separated, the sequence number seq=<n>
		// (docs/kafka.md).
		for _, h := range strings.Split(fields[1], ",") {
			v, ok := strings.CutPrefix(h, "feedd=")
			if !ok {
				continue
			}
			for _, x := range strings.Fields(v) {
				if n, ok := strings.CutPrefix(x, "seq="); ok {
					hdr, err = strconv.ParseUint(n, 10, 64)
					found = err == nil
				}
			}
		}
		val, ok := serialsim.ParseSeq([]byte(fields[2]))
		if !found || !ok || val != hdr {
			t.Fatalf("kcat: offset %d: header seq %d (found %v), value seq %d (valid %v): %q", off, hdr, found, val, ok, line)
		}
		recs = append(recs, kcatRecord{offset: off, seq: hdr})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	// What kcat saw, computed here on its own.
	var (
		first, last uint64
		dups, back  int
		gaps        [][2]uint64
		seen        = map[uint64]bool{}
		highest     uint64
	)
	for i, r := range recs {
		if seen[r.seq] {
			dups++
			continue
		}
		seen[r.seq] = true
		if i > 0 && r.seq < highest {
			back++
		}
		highest = max(highest, r.seq)
	}
	if len(recs) > 0 {
		first, last = ^uint64(0), 0
		for s := range seen {
			first, last = min(first, s), max(last, s)
		}
		for v := first; v <= last; v++ {
			if !seen[v] {
				from := v
				for v+1 <= last && !seen[v+1] {
					v++
				}
				gaps = append(gaps, [2]uint64{from, v})
			}
		}
	}
	s := rep.Sequenced
	var auditGaps [][2]uint64
	for _, g := range s.Gaps {
		auditGaps = append(auditGaps, [2]uint64{g.From, g.To})
	}
	if int64(len(recs)) != rep.Records || first != s.First || last != s.Last || dups != int(s.DuplicateRecords) ||
		back != int(s.OutOfOrderCount) || int64(len(gaps)) != s.GapCount || (!rep.Truncated && !slices.Equal(gaps, auditGaps)) {
		t.Errorf("kcat and the audit disagree: kcat read %d records, seqs %d..%d, %d duplicates, %d out of order, gaps %v; "+
			"the audit %d records, seqs %d..%d, %d duplicates, %d out of order, gaps %v",
			len(recs), first, last, dups, back, trimGaps(gaps), rep.Records, s.First, s.Last, s.DuplicateRecords, s.OutOfOrderCount, trimGaps(auditGaps))
	}
	if dups != 0 || back != 0 {
		t.Errorf("kcat: %d duplicate records, %d out of order (I2)", dups, back)
	}
	t.Logf("kcat (read_committed) agrees: %d records, seqs %d..%d, gaps %v", len(recs), first, last, trimGaps(gaps))
}

func trimGaps(g [][2]uint64) [][2]uint64 {
	if len(g) > 10 {
		return g[:10]
	}
	return g
}

// epochCheck reads the topic's committed records with their producer ids
// and epochs: every fence and, under KIP-890, every commit bumps the epoch
// of the one transactional id both members share, so in offset order
// (producer id, epoch) never goes back. A record committed by a fenced
// member would carry an older epoch than one before it (I3).
func (c *e2eCluster) epochCheck() {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tr := c.newTopicTracker()
	defer tr.cl.Close()
	end := tr.end(t)
	var (
		pid    int64 = -1
		epoch  int16 = -1
		member string
		bad    []string
		epochs int
	)
	for next := int64(0); next < end; {
		fs := tr.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("epoch check: reached offset %d of %d: %v", next, end, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			m := string(broadcast.ParseRecordMeta(r).Member)
			switch {
			case r.ProducerID < pid || (r.ProducerID == pid && r.ProducerEpoch < epoch):
				if len(bad) < 10 {
					bad = append(bad, fmt.Sprintf("offset %d: %s committed with producer %d epoch %d after %s's producer %d epoch %d",
						r.Offset, m, r.ProducerID, r.ProducerEpoch, member, pid, epoch))
				}
			case r.ProducerID != pid || r.ProducerEpoch != epoch:
				epochs++
				pid, epoch, member = r.ProducerID, r.ProducerEpoch, m
			}
		})
	}
	if len(bad) > 0 {
		t.Errorf("I3: records committed by a fenced producer: %v", bad)
	}
	t.Logf("producer epochs never go back over the topic (%d distinct producer id/epoch pairs)", epochs)
}

// checkBothKilledGaps checks each gap of a topic against the windows in
// which the simulator delivered to neither port (both members dead, ports
// unplugged): there are as many gaps as windows, and each gap ends exactly
// where its window ends; it may start earlier only with frames the members
// had read but not committed when they were killed (I5).
func (c *e2eCluster) checkBothKilledGaps(rep *audit.Report, want int, lost []audit.Gap) {
	t := c.t
	t.Helper()
	delivered := c.delivered()
	isDelivered := make(map[uint64]bool, len(delivered))
	for _, d := range delivered {
		isDelivered[d] = true
	}
	s := rep.Sequenced
	isLost := func(from, to uint64) bool {
		return slices.ContainsFunc(lost, func(g audit.Gap) bool { return g.From == from && g.To == to })
	}
	var windows [][2]uint64 // runs of frames delivered to neither port, but those lost to both
	for v := s.First; v <= s.Last; v++ {
		if isDelivered[v] {
			continue
		}
		from := v
		for v+1 <= s.Last && !isDelivered[v+1] {
			v++
		}
		if !isLost(from, v) {
			windows = append(windows, [2]uint64{from, v})
		}
	}
	gaps := slices.DeleteFunc(slices.Clone(s.Gaps), func(g audit.Gap) bool { return isLost(g.From, g.To) })
	// Two windows inside one gap of the topic are one kill: the frames
	// between them were delivered but never committed (read by the member
	// killed second while the first was already dead, or written into a
	// port whose reader was gone), which I5 allows at a gap's start, as it
	// allows the frames no port got just before the kill.
	for i := 0; i+1 < len(windows); {
		inOne := slices.ContainsFunc(gaps, func(g audit.Gap) bool { return g.From <= windows[i][0] && windows[i+1][1] <= g.To })
		if !inOne {
			i++
			continue
		}
		windows[i][1] = windows[i+1][1]
		windows = slices.Delete(windows, i+1, i+2)
	}
	if len(windows) != want || len(gaps) != want {
		t.Errorf("both-killed: %d windows without a reader, %d gaps in the topic; want %d of each: windows %v, gaps %+v",
			len(windows), len(gaps), want, trimGaps(windows), gaps)
		return
	}
	for i, g := range gaps {
		w := windows[i]
		t.Logf("both-killed %d: the audit reports the gap [%d, %d] (%d frames); the simulator delivered none of [%d, %d] (%d frames); "+
			"%d frames were read but never committed", i+1, g.From, g.To, g.Size, w[0], w[1], w[1]-w[0]+1, w[0]-g.From)
		if g.To != w[1] || g.From > w[0] || g.Size != g.To-g.From+1 {
			t.Errorf("both-killed %d: the audit's gap [%d, %d] (size %d) does not end where the simulator's window [%d, %d] does",
				i+1, g.From, g.To, g.Size, w[0], w[1])
		}
		if i+1 < len(gaps) && g.To >= gaps[i+1].From {
			t.Errorf("both-killed: gaps overlap: %+v", gaps)
		}
	}
}

// requireKcat skips t when kcat is not installed, or fails it when
// FEEDD_REQUIRE_KAFKA says the independent reader must be there.
func requireKcat(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		if os.Getenv("FEEDD_REQUIRE_KAFKA") != "" {
			t.Fatal("kcat is not installed and FEEDD_REQUIRE_KAFKA is set (apt-get install kcat, or make deps)")
		}
		t.Skip("SKIPPED: kcat is not installed (apt-get install kcat, or make deps)")
	}
}
