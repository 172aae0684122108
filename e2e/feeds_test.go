package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/member"
)

// Chaos runs on realistic feeds: two `feedd run` members without a
// sequence extractor (frames known by content and line time, framing
// nmea) read a simulated GPS or AIS feed whose sentences repeat byte for
// byte, while the test kills, hangs, restarts and stops them from outside.
// No port loses a frame, so every frame reached a live member: the topic
// must hold every one, in feed order, and anything more only as a
// duplicate marked possible. The simulator records the truth of the run
// (serialsim.Config.Record) and each run is checked twice: by `feedd audit
// --expect --strict`, and by kcat's reading of the topic compared with the
// record by code of its own (feeds_check_test.go).
//
// TestE2EFeedChaos is the fast slice (make test): one run per feed on the
// embedded broker and one on Apache Kafka. TestFeedCampaign is the
// campaign (make test-feeds): FEEDD_FEEDS_RUNS runs per feed per broker.
// FEEDD_CHAOS_SEED replays a run (each logs its seed), FEEDD_FEEDS_FAULTS
// sets the faults per run (default 5), FEEDD_FEEDS and FEEDD_FEEDS_BROKERS
// choose feeds and brokers (comma-separated), FEEDD_FEEDS_LOG names a file
// each run's summary line is appended to.

// feedSpec is a generated feed and the line it runs on.
type feedSpec struct {
	feed string  // serialsim.Config.Feed
	rate float64 // cycles (or, for the seq feeds, frames) a second
	baud int
}

// numbered reports whether the members read the feed's sentence numbers
// as its sequence numbers (sequence.nmea_field 1): the seq-wrap feed's,
// whose counter wraps. The checks still go by the record, not by the
// numbers.
func (s feedSpec) numbered() bool {
	return strings.HasPrefix(s.feed, serialsim.FeedSeqWrap+":")
}

// feedSpecs are the feeds of the runs. The GPS feeds send a cycle ten
// times a second (a 10 Hz receiver; the sentences of one kind then come
// 100 ms apart, about 60 to 70 frames a second) on a 115200-baud line;
// AIS runs at its own pace (a few vessels: a frame every second or so) on
// its standard 38400 baud; the alphabet feed's bursts of identical
// sentences back to back are the hard case for identity by line time.
var feedSpecs = []feedSpec{
	{serialsim.FeedNMEAGPS, 10, 115200},
	{serialsim.FeedNoFix, 10, 115200},
	{serialsim.FeedAIS, 1, 38400},
	{serialsim.FeedAlphabet + ":3", 10, 115200},
	// A counter that wraps (decision 0010): 64 numbers at 30 frames a
	// second come round every 2.1 s, further apart than the 1.1 s that
	// a number's two sightings may lie apart.
	{serialsim.FeedSeqWrap + ":64", 30, 115200},
}

// feedFastFeeds are the feeds of the fast slice (TestE2EFeedChaos); the
// campaign runs every feed of feedSpecs.
var feedFastFeeds = []string{serialsim.FeedNMEAGPS, serialsim.FeedNoFix, serialsim.FeedAIS, serialsim.FeedSeqWrap + ":64"}

// feedBrokers are where the runs go: the embedded broker (kfake) and
// Apache Kafka (broadcast/kafkatest).
var feedBrokers = []string{"embedded", "kafka"}

// feedDefaultFaults is the number of faults a run injects.
const feedDefaultFaults = 5

// feedFault is a fault from outside the members' processes; run starts
// from a settled pair and returns a note for the run's log. The next
// fault (or the end of the run) waits for the pair to settle again.
type feedFault struct {
	name string
	run  func(r *feedRun, active, inactive *e2eMember) string
}

var feedFaults = []feedFault{
	{"kill-active", (*feedRun).killActive},
	{"stop-active", (*feedRun).stopActive},
	{"restart-inactive", (*feedRun).restartInactive},
	{"term-active", (*feedRun).termActive},
}

// feedRun is one run: a pair on a realistic feed, its faults, its files.
type feedRun struct {
	*e2eCluster
	spec   feedSpec
	broker string
	seed   uint64
	rng    *rand.Rand
	// dir holds the record, the audit's and kcat's output, and on failure
	// the members' logs and last /status; it is kept when the run fails.
	dir      string
	record   string
	released time.Time
	faults   []string // one line per fault: when, what, what followed
}

// feedSummary is what a run found.
type feedSummary struct {
	spec                    feedSpec
	broker                  string
	seed                    uint64
	faults                  []string // names
	recorded, owed, records int
	// missing, duplicates, marked and unmarked are the audit's counts.
	missing, duplicates, marked, unmarked int64
	// extra counts the records beyond the frames owed, by kcat's
	// reading: all of them marked possible repeats when the run passed.
	extra int
	// kcatProblem says why kcat's reading does not fit the record ("" if
	// it does); auditFailed: feedd audit --expect --strict did not pass.
	kcatProblem string
	auditFailed bool
	// ownHandovers counts the hand-overs the pair made by itself while it
	// settled between faults.
	ownHandovers int
	elapsed      time.Duration
}

func (s feedSummary) String() string {
	kcat := fmt.Sprintf("missing 0, duplicates %d, all marked possible", s.extra)
	if s.kcatProblem != "" {
		kcat = "DOES NOT FIT the record: " + s.kcatProblem
	}
	audit := "clean"
	if s.auditFailed {
		audit = "FAILED"
	}
	own := ""
	if s.ownHandovers > 0 {
		own = fmt.Sprintf(" and %d hand-over(s) of the pair's own", s.ownHandovers)
	}
	return fmt.Sprintf("feed run: %s on %s, seed %d: %d faults [%s]%s; %d frames recorded, %d owed; kcat: %d records, %s; "+
		"audit: missing %d, duplicates %d (marked %d, unmarked %d), %s; %v",
		s.spec.feed, s.broker, s.seed, len(s.faults), strings.Join(s.faults, " "), own, s.recorded, s.owed, s.records, kcat,
		s.missing, s.duplicates, s.marked, s.unmarked, audit, s.elapsed.Round(time.Second))
}

// runFeedChaos runs one chaos run of spec on broker and returns its
// summary; it fails t on any frame missing, moved or duplicated without
// the mark.
func runFeedChaos(t *testing.T, spec feedSpec, broker string, seed uint64, faults int) feedSummary {
	t.Helper()
	start := time.Now()
	r := newFeedRun(t, spec, broker, seed, !spec.numbered())
	t.Logf("to run it alone: FEEDD_CHAOS_SEED=%d FEEDD_FEEDS=%s FEEDD_FEEDS_BROKERS=%s", seed, spec.feed, broker)

	var names []string
	order := r.rng.Perm(len(feedFaults)) // each kind once, then at random
	for i := range faults {
		f := feedFaults[r.rng.IntN(len(feedFaults))]
		if i < len(order) {
			f = feedFaults[order[i]]
		}
		active, inactive := r.settle()
		r.stream(r.between(100*time.Millisecond, 700*time.Millisecond))
		at := time.Since(r.released)
		note := f.run(r, active, inactive)
		r.faults = append(r.faults, fmt.Sprintf("%s at +%.3fs (active %s): %s", f.name, at.Seconds(), active.id, note))
		names = append(names, f.name)
		if testing.Verbose() {
			t.Logf("fault %d: %s", i+1, r.faults[len(r.faults)-1])
		}
	}
	r.settle()
	r.stream(r.between(300*time.Millisecond, time.Second))
	s := r.check()
	s.faults, s.elapsed = names, time.Since(start)
	s.ownHandovers = len(r.faults) - len(names)
	t.Log(s)
	if path := os.Getenv("FEEDD_FEEDS_LOG"); path != "" {
		line := s.String()
		if t.Failed() {
			line = "FAILED " + line + "; kept in " + r.dir
		}
		for _, f := range r.faults {
			line += "\n  " + f
		}
		appendLine(t, path, line)
	}
	return s
}

// feedInStep: an inactive member is in step with the active once it trims
// its ring on the active's commits. Without a feed sequence it is seldom
// certain that an echo is one of its entries (that needs windows narrower
// than a frame's line time, and a pseudo-terminal's latency bound is
// 50 ms): most entries go as passed by a later commit.
func feedInStep(s member.Status) bool {
	return s.Role == "inactive" && s.Broadcast.Counters.EchoRecords > 0 && ringTrims(s) > 0
}

func ringTrims(s member.Status) uint64 {
	r := s.Broadcast.Ring
	return r.Matched + r.Passed + r.Behind + r.Recognised
}

// settle waits for the pair to settle (waitPair) and then for the inactive
// to trim its ring again, so that it is in step now, not only at some time
// in its process's life. When the pair hands over meanwhile by itself (on
// a sparse feed both lines go quiet, and the active hands over to the
// member whose line comes back first), it notes it and settles again.
func (r *feedRun) settle() (active, inactive *e2eMember) {
	for attempt := 1; ; attempt++ {
		active, inactive = r.waitPair()
		before := ringTrims(inactive.mustStatus())
		var role string
		inactive.waitStatus(inactive.id+" trimming its ring on the active's commits", func(st member.Status) (bool, string) {
			role = st.Role
			return st.Role != "inactive" || ringTrims(st) > before, fmt.Sprintf("role %s, trims %d (were %d)", st.Role, ringTrims(st), before)
		})
		if role == "inactive" {
			return active, inactive
		}
		note := fmt.Sprintf("(no fault) at +%.3fs: %s became %s by itself while the pair settled", time.Since(r.released).Seconds(), inactive.id, role)
		r.faults = append(r.faults, note)
		r.t.Log(note)
		if attempt == 5 {
			r.t.Fatalf("the pair did not settle: %d hand-overs without a fault", attempt)
		}
	}
}

func (r *feedRun) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)))
}

// killActive: kill -9 of the active; the inactive takes over on the
// obituary; the killed member is started again.
func (r *feedRun) killActive(active, inactive *e2eMember) string {
	took, marked := r.takeOver(inactive, active.kill)
	r.stream(r.between(100*time.Millisecond, time.Second))
	active.start()
	return fmt.Sprintf("%s active and committing after %v, %d records marked possible", inactive.id, took.Round(time.Millisecond), marked)
}

// takeOver injects fault into the active and waits until inactive is
// active and committing: it returns how long that took from the fault, and
// how many records inactive published marked possible meanwhile.
func (r *feedRun) takeOver(inactive *e2eMember, fault func()) (took time.Duration, marked uint64) {
	before := possibleDuplicates(inactive)
	at := time.Now()
	fault()
	r.waitActive(inactive, at)
	return time.Since(at), possibleDuplicates(inactive) - before
}

// possibleDuplicates is the records m has published marked possible.
func possibleDuplicates(m *e2eMember) uint64 {
	st, err := m.status()
	if err != nil {
		return 0
	}
	return st.Broadcast.Counters.PossibleDuplicates
}

// stopActive: SIGSTOP of the active, SIGCONT once the inactive has taken
// over (after the activation interval of silence).
func (r *feedRun) stopActive(active, inactive *e2eMember) string {
	took, marked := r.takeOver(inactive, active.hang)
	hung := r.between(0, 1500*time.Millisecond)
	r.stream(hung)
	active.resume()
	return fmt.Sprintf("%s active and committing after %v, %d records marked possible; %s continued %v later", inactive.id,
		took.Round(time.Millisecond), marked, active.id, hung.Round(time.Millisecond))
}

// restartInactive: kill -9 of the inactive, started again a moment later.
func (r *feedRun) restartInactive(active, inactive *e2eMember) string {
	inactive.kill()
	down := r.between(200*time.Millisecond, 1500*time.Millisecond)
	r.stream(down)
	inactive.start()
	return fmt.Sprintf("%s down for %v", inactive.id, down.Round(time.Millisecond))
}

// termActive: SIGTERM of the active, a planned hand-over: it commits what
// it holds and leaves; the inactive takes over at once. It is started
// again a moment later.
func (r *feedRun) termActive(active, inactive *e2eMember) string {
	var stopped time.Duration
	took, marked := r.takeOver(inactive, func() {
		at := time.Now()
		if err := active.terminate(); err != nil {
			r.t.Errorf("term-active: %s exited with %v after SIGTERM, want status 0", active.id, err)
		}
		stopped = time.Since(at)
	})
	r.stream(r.between(100*time.Millisecond, time.Second))
	active.start()
	return fmt.Sprintf("%s exited after %v; %s active and committing after %v, %d records marked possible", active.id,
		stopped.Round(time.Millisecond), inactive.id, took.Round(time.Millisecond), marked)
}

// check stops the feed, waits until the active has committed all it read,
// closes the simulator (which completes the record) and checks the topic
// against the record with the audit and with kcat.
func (r *feedRun) check() feedSummary {
	t := r.t
	t.Helper()
	if err := r.sim.Pause(serialsim.AllPorts, time.Hour); err != nil {
		t.Fatal(err)
	}
	// Quiet: for a second nobody read a frame, the active committed
	// nothing more and holds nothing uncommitted.
	var last string
	var since time.Time
	r.waitFor("the members to have read and committed everything", func() (bool, string) {
		var state []string
		quiet := false
		for _, m := range r.members {
			st, err := m.status()
			if err != nil {
				since = time.Time{}
				return false, err.Error()
			}
			state = append(state, fmt.Sprintf("%s %s read %d committed %d ring %d", m.id, st.Role, st.Ingest.Frames,
				st.Broadcast.Counters.CommittedFrames, st.Broadcast.Ring.Len))
			if st.Role == "active" && st.Broadcast.Ring.Len == 0 {
				quiet = true
			}
		}
		now := strings.Join(state, "; ")
		if !quiet || now != last {
			last, since = now, time.Now()
			return false, now
		}
		return time.Since(since) >= time.Second, now
	})
	if err := r.sim.Close(); err != nil {
		t.Logf("simulator: %v", err)
	}
	header, owed, recorded, err := readFeedRecord(r.record)
	if err != nil {
		t.Fatalf("the record: %v", err)
	}
	if header.Feed != r.spec.feed || len(owed) == 0 {
		t.Fatalf("the record: feed %q, %d of %d frames owed", header.Feed, len(owed), recorded)
	}
	s := feedSummary{spec: r.spec, broker: r.broker, seed: r.seed, recorded: recorded, owed: len(owed)}

	// kcat, compared with the record independently.
	ctx, cancel := context.WithTimeout(context.Background(), kcatReadTimeout)
	defer cancel()
	recs, out, err := kcatReadTopic(ctx, r.bootstrap, r.topic)
	os.WriteFile(filepath.Join(r.dir, "kcat.jsonl"), out, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for j := range recs {
		for _, m := range r.members {
			if m.id == recs[j].member {
				recs[j].port = m.port
			}
		}
	}
	if wall := onLineClock(header, recs); wall > 0 {
		// The members run on this host and write a read window on its
		// clock for every record: one without can only be misplaced by
		// a step of the wall clock.
		t.Errorf("%d of %d records have no read window on the record's clock (its header's line window)", wall, len(recs))
	}
	s.records = len(recs)
	v := compareFeedTopic(owed, recs)
	s.extra = v.extra
	if !v.ok {
		s.kcatProblem = v.problem
		t.Errorf("kcat's reading of the topic does not fit the record: %s", v.problem)
	} else {
		r.checkLossSeen(owed, recs)
	}

	// feedd audit --expect --strict, as an operator runs it: it must exit 0.
	rep, text, auditErr := r.auditExpect()
	tt := rep.Totals
	s.missing, s.duplicates, s.marked, s.unmarked = tt.Missing, tt.Duplicates, tt.DuplicatesMarked, tt.DuplicatesUnmarked
	if auditErr != nil {
		s.auditFailed = true
		t.Errorf("feedd audit --expect --strict: %v\n%s", auditErr, text)
	}
	if t.Failed() {
		if judged, late, worst := lateDeliveries(owed, recs); late > 0 {
			t.Logf("%d of %d records of frames sent once were handed over by their port after their line time plus its latency bound (the latest by %v): the machine broke the bound the members' windows rest on",
				late, judged, worst.Round(time.Millisecond))
		}
	}
	// kcat's counts beyond the frames and of marked records are whole only
	// when its comparison went to the end.
	if tt.Expected != int64(len(owed)) || tt.InTopic != int64(len(recs)) ||
		v.ok && (tt.Duplicates != int64(v.extra) || tt.MarkedPossible != int64(v.marked) || tt.Foreign != 0) {
		t.Errorf("the audit and kcat disagree: the audit expected %d frames, read %d records, %d duplicates, %d foreign, %d marked possible; "+
			"the record owes %d frames, kcat read %d records, %d beyond the frames, %d marked possible", tt.Expected, tt.InTopic, tt.Duplicates,
			tt.Foreign, tt.MarkedPossible, len(owed), len(recs), v.extra, v.marked)
	}
	return s
}

// checkLossSeen is the comparison's negative self-test on the run's own
// topic: with any one frame whose only copy is removed, it must fail. It
// tries feedLossProbes such frames spread over the topic, and around each
// hand-over (a run of records marked possible) the last one before it and
// the first one after it.
func (r *feedRun) checkLossSeen(owed []feedFrame, recs []feedTopicRecord) {
	sole := soleCopies(recs, owed)
	probes := map[int]bool{}
	for i := 0; i < len(sole); i += max(1, len(sole)/feedLossProbes) {
		probes[sole[i]] = true
	}
	handovers := 0
	for j := 0; j < len(recs); j++ {
		if !recs[j].possible || (j > 0 && recs[j-1].possible) {
			continue
		}
		handovers++
		end := j
		for end+1 < len(recs) && recs[end+1].possible {
			end++
		}
		k, _ := slices.BinarySearch(sole, j) // sole[k] is the first after j
		if k > 0 {
			probes[sole[k-1]] = true
		}
		if k, _ = slices.BinarySearch(sole, end); k < len(sole) {
			probes[sole[k]] = true
		}
	}
	for j := range probes {
		if v := compareFeedTopic(owed, without(recs, j)); v.ok {
			r.t.Errorf("the comparison accepts the topic without the record at offset %d (%q, the only copy of its frame): it would not see that frame lost",
				recs[j].offset, recs[j].value)
		}
	}
	r.t.Logf("the comparison refuses the topic without any one of %d frames (of %d whose only copy is one unmarked record; around %d hand-overs)",
		len(probes), len(sole), handovers)
}

// feedLossProbes bounds the frames checkLossSeen removes, one at a time.
const feedLossProbes = 25

// auditExpect runs `feedd audit --expect --strict --json` and returns its
// report, the report as text, and why it did not exit 0.
func (r *feedRun) auditExpect() (*audit.ExpectReport, string, error) {
	t := r.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, "audit", "--expect", r.record, "--framing.mode", "nmea", "--strict", "--json",
		"--kafka.brokers", r.bootstrap, "--kafka.topic", r.topic)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	os.WriteFile(filepath.Join(r.dir, "audit.json"), out.Bytes(), 0o644)
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1 && out.Len() > 0) {
		t.Fatalf("feedd audit --expect: %v: %s", err, errb.String())
	}
	var rep audit.ExpectReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("feedd audit --expect --json: %v: %s", jerr, errb.String())
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if rep.Clean != (err == nil) {
		t.Errorf("feedd audit --expect --strict: exit %v, but clean %v", err, rep.Clean)
	}
	if err != nil {
		err = fmt.Errorf("exit %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return &rep, text.String(), err
}

// keepEvidence completes the record and keeps, beside it, the members'
// logs and /status and the faults with their times.
func (r *feedRun) keepEvidence() {
	t := r.t
	r.sim.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "feed %s (rate %g, %d baud) on %s, seed %d, feed released at %s\n", r.spec.feed, r.spec.rate, r.spec.baud,
		r.broker, r.seed, r.released.Format(time.RFC3339Nano))
	for _, f := range r.faults {
		b.WriteString(f + "\n")
	}
	os.WriteFile(filepath.Join(r.dir, "faults.txt"), []byte(b.String()), 0o644)
	for _, m := range r.members {
		if raw, err := m.statusJSON(); err == nil {
			os.WriteFile(filepath.Join(r.dir, "status-"+m.id+".json"), raw, 0o644)
		} else {
			t.Logf("status of %s: %v", m.id, err)
		}
		m.mu.Lock()
		for _, p := range m.procs {
			if data, err := os.ReadFile(p.LogPath()); err == nil {
				os.WriteFile(filepath.Join(r.dir, filepath.Base(p.LogPath())), data, 0o644)
			}
		}
		m.mu.Unlock()
	}
	t.Logf("faults:\n%s", b.String())
	t.Logf("kept the record, the audit's and kcat's output, the members' logs and /status in %s", r.dir)
}

func appendLine(t testing.TB, path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("FEEDD_FEEDS_LOG: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// feedEnv returns the comma-separated list in the variable, each one of
// known, or def.
func feedEnv(t testing.TB, name string, def, known []string) []string {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x == "" {
			continue
		}
		if !slices.Contains(known, x) {
			t.Fatalf("%s: %q is none of %s", name, x, strings.Join(known, ", "))
		}
		out = append(out, x)
	}
	return out
}

func feedSpecNamed(name string) feedSpec {
	for _, s := range feedSpecs {
		if s.feed == name {
			return s
		}
	}
	panic("no feed " + name)
}

func feedIntEnv(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func feedSpecNames() []string {
	var out []string
	for _, s := range feedSpecs {
		out = append(out, s.feed)
	}
	return out
}

// TestE2EFeedChaos is the fast slice: one run of each of feedFastFeeds on
// each broker, feedDefaultFaults faults each.
func TestE2EFeedChaos(t *testing.T) {
	needE2E(t)
	seed := chaosSeed(t)
	faults := feedIntEnv(t, "FEEDD_FEEDS_FAULTS", feedDefaultFaults)
	k := uint64(0)
	for _, broker := range feedEnv(t, "FEEDD_FEEDS_BROKERS", feedBrokers, feedBrokers) {
		for _, name := range feedEnv(t, "FEEDD_FEEDS", feedFastFeeds, feedSpecNames()) {
			spec, runSeed := feedSpecNamed(name), seed+k
			k++
			t.Run(broker+"/"+name, func(t *testing.T) { runFeedChaos(t, spec, broker, runSeed, faults) })
		}
	}
}

// TestFeedCampaign is the campaign (make test-feeds): FEEDD_FEEDS_RUNS
// consecutive runs of every feed on every broker, in rounds (each round
// one run of each), each with its own seed (the first is FEEDD_CHAOS_SEED's
// or the clock's; each run logs its own). It stops at the first run that
// fails, keeping that run's files; FEEDD_FEEDS_FOR (a duration) starts no
// round after it. It ends with a table of the runs.
func TestFeedCampaign(t *testing.T) {
	if os.Getenv("FEEDD_FEEDS_RUNS") == "" {
		t.Skip("SKIPPED: the campaign runs with FEEDD_FEEDS_RUNS=<runs per feed per broker> (make test-feeds)")
	}
	needE2E(t)
	runs := feedIntEnv(t, "FEEDD_FEEDS_RUNS", 20)
	faults := feedIntEnv(t, "FEEDD_FEEDS_FAULTS", feedDefaultFaults)
	var budget time.Duration
	if v := os.Getenv("FEEDD_FEEDS_FOR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("FEEDD_FEEDS_FOR=%q: want a duration such as 2h", v)
		}
		budget = d
	}
	seed := chaosSeed(t)
	brokers := feedEnv(t, "FEEDD_FEEDS_BROKERS", feedBrokers, feedBrokers)
	feeds := feedEnv(t, "FEEDD_FEEDS", feedSpecNames(), feedSpecNames())
	start := time.Now()
	var done []feedSummary
	defer func() {
		t.Logf("campaign: %d runs in %v\n%s", len(done), time.Since(start).Round(time.Second), feedTable(done))
	}()
	k := uint64(0)
	for round := 1; round <= runs; round++ {
		if budget > 0 && time.Since(start) >= budget {
			t.Logf("FEEDD_FEEDS_FOR=%v has passed: no round %d", budget, round)
			break
		}
		for _, broker := range brokers {
			for _, name := range feeds {
				spec, runSeed := feedSpecNamed(name), seed+k
				k++
				var s feedSummary
				ok := t.Run(fmt.Sprintf("%s/%s/%d", broker, name, round), func(t *testing.T) { s = runFeedChaos(t, spec, broker, runSeed, faults) })
				if !ok {
					t.Fatalf("run %d of %s on %s failed (seed %d): the campaign stops; its files are kept (see above)", round, name, broker, runSeed)
				}
				if s.owed > 0 { // not skipped
					done = append(done, s)
				}
			}
		}
	}
}

// feedTable sums the runs by feed and broker, as docs/testing.md shows
// them.
func feedTable(runs []feedSummary) string {
	type key struct{ feed, broker string }
	type row struct {
		runs, faults, own, owed, records, extra int
		missing                                 int64
	}
	var keys []key
	rows := map[key]*row{}
	for _, s := range runs {
		k := key{s.spec.feed, s.broker}
		if rows[k] == nil {
			rows[k] = &row{}
			keys = append(keys, k)
		}
		r := rows[k]
		r.runs++
		r.faults += len(s.faults)
		r.own += s.ownHandovers
		r.owed += s.owed
		r.records += s.records
		r.extra += s.extra
		r.missing += s.missing
	}
	var b strings.Builder
	// A run with a frame missing or an unmarked duplicate fails and ends
	// the campaign: the table counts the runs that passed.
	b.WriteString("| feed | broker | runs | faults (and hand-overs of the pair's own) | frames owed | records | missing | duplicates marked / unmarked |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(&b, "| %s | %s | %d | %d (%d) | %d | %d | %d | %d / 0 |\n", k.feed, k.broker, r.runs, r.faults, r.own, r.owed,
			r.records, r.missing, r.extra)
	}
	return b.String()
}
