package ftpair

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	simSeeds   = flag.Int("sim.seeds", 200, "number of seeds TestSimulation runs")
	simSeed    = flag.Int64("sim.seed", -1, "run only this seed of TestSimulation, with its trace on failure")
	simVerbose = flag.Bool("sim.v", false, "print the whole trace of -sim.seed")
)

const (
	simFaultPhase = 8 * time.Second
	simQuietPhase = 5 * time.Second
)

// TestSimulation runs groups of 2 to 4 members through random faults (message
// delay, drops, link cuts, crashes, hangs, restarts, Kafka and feed
// failures, operator switchovers) on a simulated network with a simulated
// Kafka lock and witness, and checks:
//
//   - safety: with the witness on, never more than ActiveGoal members act as
//     active (running, not hung, able to reach Kafka, activating or active)
//     for longer than one activation interval; and no member ever fences an
//     active that has been committing without a break for longer than the
//     activation interval (plus the network delay): a live, committing
//     active is only ever handed over, never taken over, however the pair
//     link behaves;
//   - liveness: once the faults stop (every link healed; every member
//     restarted, resumed and healthy, except a few left dead or hung for
//     good), the live members have one of them holding a slot within the
//     activation interval plus a few heartbeats, keep one from then on, and
//     end with exactly min(ActiveGoal, live members) of them active on
//     distinct slots;
//   - NextWake: every decision a Tick alone makes (outside a stall of the
//     process) comes at or after the NextWake the member gave at its step
//     before: the edge, which also steps at NextWake, acts on time.
//
// Every run is a pure function of its seed.
func TestSimulation(t *testing.T) {
	if *simSeed >= 0 {
		var trace strings.Builder
		err := simulate(uint64(*simSeed), func(s string) { trace.WriteString(s + "\n") })
		if err != nil || *simVerbose {
			t.Log("\n" + trace.String())
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	seeds := *simSeeds
	if testing.Short() {
		seeds = min(seeds, 50)
	}
	failures := 0
	for seed := range uint64(seeds) {
		err := simulate(seed, nil)
		if err == nil {
			continue
		}
		t.Errorf("seed %d: %v (rerun with -run TestSimulation -sim.seed=%d for the trace)", seed, err, seed)
		if failures++; failures >= 5 {
			t.Fatal("too many failing seeds")
		}
	}
}

// TestSimulationDeterministic runs one seed twice and compares the traces.
func TestSimulationDeterministic(t *testing.T) {
	run := func() string {
		var b strings.Builder
		if err := simulate(7, func(s string) { b.WriteString(s + "\n") }); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatal("two runs of the same seed differ")
	}
	if !strings.Contains(a, "activate") {
		t.Fatal("trace shows no activation")
	}
}

type simMember struct {
	id      string
	weight  int
	preempt bool
}

func simulate(seed uint64, log func(string)) error {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := 2 + rng.IntN(3)
	goal := 1
	if n >= 3 && rng.IntN(3) == 0 {
		goal = 2
	}
	w := newWorld(Config{ActiveGoal: goal, PreemptDelay: time.Second})
	w.log = log
	w.rng = rng
	w.maxDelay = time.Duration(1+rng.IntN(30)) * time.Millisecond
	w.dropProb = []float64{0, 0.01, 0.05}[rng.IntN(3)]
	w.witness = rng.IntN(4) != 0
	w.witnessNoInc = rng.IntN(2) == 0
	w.activationDelay = time.Duration(10+rng.IntN(40)) * time.Millisecond
	cfg := w.base
	ai, hb := cfg.ActivationInterval, cfg.HeartbeatInterval

	var members []simMember
	for i := range n {
		members = append(members, simMember{id: string(rune('a' + i)), weight: 1 + rng.IntN(3), preempt: rng.IntN(4) == 0})
	}
	if log != nil {
		log(fmt.Sprintf("seed %d: %d members goal=%d witness=%v delay<%v drop=%v activation-delay=%v",
			seed, n, goal, w.witness, w.maxDelay, w.dropProb, w.activationDelay))
	}
	start := func(m simMember) error { return w.start(m.id, m.weight, m.preempt, FeedOK, true) }
	for _, m := range members {
		if err := start(m); err != nil {
			return err
		}
	}

	var failure error
	fail := func(format string, args ...any) {
		if failure == nil {
			failure = fmt.Errorf("at %v: %s", w.now.Sub(w.t0), fmt.Sprintf(format, args...))
		}
	}
	checkDisplaced := func() {
		if w.witness && len(w.displaced) > 0 && failure == nil {
			failure = fmt.Errorf("a live, committing active was taken over: %s", w.displaced[0])
		}
		if len(w.lateWakes) > 0 && failure == nil {
			failure = fmt.Errorf("a decision NextWake did not foresee: %s", w.lateWakes[0])
		}
	}

	// Safety: excess actors for at most one activation interval.
	var excessSince time.Time
	hungUntil := map[string]time.Time{}
	checkSafety := func() {
		acting := 0
		var who []string
		for _, id := range w.ids {
			m := w.members[id]
			if m.running && !m.hung && m.kafkaUp && m.node.Role().holdsSlot() {
				acting++
				who = append(who, fmt.Sprintf("%s(s%d t%d)", id, m.node.Slot(), m.node.Term()))
			}
		}
		if acting <= goal || !w.witness {
			excessSince = time.Time{}
			return
		}
		if excessSince.IsZero() {
			excessSince = w.now
		}
		if w.now.Sub(excessSince) > ai {
			fail("%d members acting as active since %v (goal %d): %v", acting, excessSince.Sub(w.t0), goal, who)
		}
	}

	// Fault phase.
	faultEnd := w.t0.Add(simFaultPhase)
	for w.now.Before(faultEnd) && failure == nil {
		for _, id := range slices.Sorted(maps.Keys(hungUntil)) {
			if until := hungUntil[id]; !w.now.Before(until) {
				delete(hungUntil, id)
				if m := w.members[id]; m.running && m.hung {
					_ = w.resume(id)
				}
			}
		}
		if rng.IntN(20) == 0 {
			injectFault(w, rng, members, hungUntil, start)
		}
		w.tick()
		checkSafety()
		checkDisplaced()
	}
	if failure != nil {
		return failure
	}

	// Faults stop: heal every link, and resume, restart and make healthy
	// every member except a few left dead or hung for good (at least one
	// member stays live); the live ones must then sort themselves out.
	if log != nil {
		log(fmt.Sprintf("%-6s faults stop", fmtElapsed(w.now.Sub(w.t0))))
	}
	live := 0
	for i, m := range members {
		wm := w.members[m.id]
		if (!wm.running || wm.hung) && rng.IntN(3) == 0 && (live > 0 || i < len(members)-1) {
			if log != nil {
				log(fmt.Sprintf("%-6s %s: stays %s", fmtElapsed(w.now.Sub(w.t0)), m.id, map[bool]string{true: "hung", false: "dead"}[wm.running]))
			}
			continue
		}
		switch {
		case !wm.running:
			if err := start(m); err != nil {
				return err
			}
		case wm.hung:
			_ = w.resume(m.id)
		}
		_ = w.setHealth(m.id, FeedOK, true)
		live++
	}
	isLive := func(m *member) bool { return m.running && !m.hung }
	want := min(goal, live)
	for _, k := range slices.SortedFunc(maps.Keys(w.cut), func(a, b [2]string) int {
		return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1])
	}) {
		w.setCut(k[0], k[1], false)
	}
	quiet := w.now
	bound := ai + 4*hb
	for w.now.Before(quiet.Add(simQuietPhase)) && failure == nil {
		w.tick()
		checkSafety()
		checkDisplaced()
		if w.now.Sub(quiet) < bound {
			continue
		}
		holders := 0
		for _, id := range w.ids {
			// A member handing its slot over in a planned switchover
			// counts: the successor activates one message later.
			if m := w.members[id]; isLive(m) && (m.node.Role().holdsSlot() || m.node.handoverTo != "") {
				holders++
			}
		}
		if holders == 0 {
			fail("no member holds a slot %v after the faults stopped", w.now.Sub(quiet))
		}
	}
	if failure != nil {
		return failure
	}
	slots := map[int]string{}
	for _, id := range w.ids {
		m := w.members[id]
		if !isLive(m) || m.node.Role() != RoleActive {
			continue
		}
		if other, dup := slots[m.node.Slot()]; dup {
			return fmt.Errorf("at the end %s and %s are both active on slot %d", other, id, m.node.Slot())
		}
		slots[m.node.Slot()] = id
	}
	if len(slots) != want {
		return fmt.Errorf("at the end %d live members are active, want %d: %s", len(slots), want, w.state())
	}
	return nil
}

// injectFault applies one random fault.
func injectFault(w *world, rng *rand.Rand, members []simMember, hungUntil map[string]time.Time, start func(simMember) error) {
	m := members[rng.IntN(len(members))]
	wm := w.members[m.id]
	switch k := rng.IntN(10); {
	case k == 0: // crash
		if wm.running {
			_ = w.crash(m.id)
		}
	case k == 1: // restart
		if !wm.running {
			_ = start(m)
		}
	case k == 2: // hang for a while
		if wm.running && !wm.hung {
			_ = w.hang(m.id)
			hungUntil[m.id] = w.now.Add(time.Duration(100+rng.IntN(2000)) * time.Millisecond)
		}
	case k == 3 || k == 4: // cut or heal a link
		o := members[rng.IntN(len(members))]
		if o.id != m.id {
			w.setCut(m.id, o.id, !w.cut[linkKey(m.id, o.id)])
		}
	case k == 5: // Kafka down or up
		if wm.running {
			if w.log != nil {
				w.log(fmt.Sprintf("%-6s %s: kafka %s", fmtElapsed(w.now.Sub(w.t0)), m.id, map[bool]string{true: "down", false: "up"}[wm.kafkaUp]))
			}
			_ = w.setHealth(m.id, wm.feed, !wm.kafkaUp)
		}
	case k == 6: // feed
		if wm.running {
			f := FeedState(rng.IntN(3))
			if w.log != nil {
				w.log(fmt.Sprintf("%-6s %s: feed %s", fmtElapsed(w.now.Sub(w.t0)), m.id, f))
			}
			_ = w.setHealth(m.id, f, wm.kafkaUp)
		}
	case k == 7: // operator switchover
		if wm.running && !wm.hung {
			to := ""
			if rng.IntN(2) == 0 {
				to = members[rng.IntN(len(members))].id
			}
			w.deliver(wm, SwitchoverRequested{Target: to})
		}
	default: // quiet
	}
}
