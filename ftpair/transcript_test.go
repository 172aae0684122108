package ftpair

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txt transcripts")

// A transcript is a sequence of blocks:
//
//	# comments and blank lines between blocks are kept as they are
//	command arg key=value ...
//	----
//	expected output, one line per action or note, then a state line
//	(blank line ends the block)
//
// Commands (members are real Nodes in a simulated world, see world_test.go):
//
//	config heartbeat=D preparation=D activation=D goal=N preempt-delay=D activation-delay=D
//	       deactivation-delay=D refuse-every=D refuse-for=D
//	start ID [weight=N] [preempt] [feed=quiet|noisy] [kafka=failing] [identity=S]   (also restarts)
//	                             members of different identity settings (default "")
//	                             refuse each other every refuse-every (1s), each refusal
//	                             standing for refuse-for (3s)
//	tick D                       advance time by D in 10ms steps
//	crash ID | hang ID | resume ID
//	cut A B | heal A B           the pair link between A and B
//	kafka-witness on|off         whether committed records reach the members
//	health ID [feed=ok|quiet|noisy] [kafka=ok|failing]
//	switchover ID [to=ID]        operator request to member ID
//	fenced ID                    the edge of ID reports its producer fenced
//	fail-activation ID [retry=D] the next activation of ID fails; its edge
//	                             asks to retry after D (RetryAfter)
//	final-commit ID D            the next planned deactivation of ID takes D (its
//	                             final commit) before the edge reports it finished;
//	                             by default (config deactivation-delay=D) at once
//	recv ID from=X [inc= seq= weight= role= slot= term= feed= kafka= holdoff handover= takeover=]
//	closed ID X [inc=N] | connected ID X | witness ID X [slot=N] [inc=N] | refused ID X [for=D]
//	                             scripted input from a member X that is not simulated
//	status ID                    print the member's Status
//
// Output lines are "<elapsed> <member>: <action or note>"; broadcast
// heartbeats are shown only when their flags (health, holdoff, handover,
// takeover) change.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runTranscript(t, f) })
	}
}

type block struct {
	pre      string // comments and blank lines before the command
	cmd      string
	line     int
	expected string
}

func parseTranscript(t *testing.T, path string) (blocks []block, trailer string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var pre strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre.WriteString(l + "\n")
			continue
		}
		b := block{pre: pre.String(), cmd: l, line: i + 1}
		pre.Reset()
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: command %q is not followed by ----", path, b.line, l)
		}
		var exp strings.Builder
		for i+1 < len(lines) && lines[i+1] != "" {
			i++
			exp.WriteString(lines[i] + "\n")
		}
		b.expected = exp.String()
		blocks = append(blocks, b)
	}
	return blocks, pre.String()
}

func runTranscript(t *testing.T, path string) {
	blocks, trailer := parseTranscript(t, path)
	w := newWorld(Config{})
	var out strings.Builder
	w.log = func(s string) { out.WriteString(strings.TrimRight(s, " ") + "\n") }

	var rewritten strings.Builder
	failed := false
	for _, b := range blocks {
		out.Reset()
		if err := transcriptCommand(w, b.cmd); err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
		}
		if !strings.HasPrefix(b.cmd, "config") && !strings.HasPrefix(b.cmd, "status") {
			out.WriteString(w.state() + "\n")
		}
		got := out.String()
		if got != b.expected && !*update {
			failed = true
			t.Errorf("%s:%d: %s\n--- want\n%s--- got\n%s", path, b.line, b.cmd, b.expected, got)
		}
		rewritten.WriteString(b.pre + b.cmd + "\n----\n" + got)
	}
	rewritten.WriteString(trailer)
	if *update {
		if err := os.WriteFile(path, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if failed {
		t.Log("run with -update to rewrite the expected output")
	}
}

type args struct {
	pos []string
	kv  map[string]string
}

func parseArgs(fields []string) args {
	a := args{kv: map[string]string{}}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, f)
		}
	}
	return a
}

func (a args) dur(k string, def time.Duration) (time.Duration, error) {
	v, ok := a.kv[k]
	if !ok {
		return def, nil
	}
	return time.ParseDuration(v)
}

func (a args) int(k string, def int) (int, error) {
	v, ok := a.kv[k]
	if !ok {
		return def, nil
	}
	return strconv.Atoi(v)
}

func (a args) flag(k string) bool {
	for _, p := range a.pos {
		if p == k {
			return true
		}
	}
	return false
}

func transcriptCommand(w *world, line string) error {
	fields := strings.Fields(line)
	cmd, a := fields[0], parseArgs(fields[1:])
	need := func(n int) error {
		if len(a.pos) < n {
			return fmt.Errorf("%s needs %d arguments", cmd, n)
		}
		return nil
	}
	switch cmd {
	case "config":
		if len(w.ids) > 0 {
			return fmt.Errorf("config after start")
		}
		c := w.base
		var err error
		set := func(d *time.Duration, k string) {
			if err == nil {
				*d, err = a.dur(k, *d)
			}
		}
		set(&c.HeartbeatInterval, "heartbeat")
		set(&c.PreparationInterval, "preparation")
		set(&c.ActivationInterval, "activation")
		set(&c.PreemptDelay, "preempt-delay")
		set(&w.activationDelay, "activation-delay")
		set(&w.deactivationDelay, "deactivation-delay")
		set(&w.refuseEvery, "refuse-every")
		set(&w.refuseFor, "refuse-for")
		if err == nil {
			c.ActiveGoal, err = a.int("goal", c.ActiveGoal)
		}
		if err != nil {
			return err
		}
		w.base = c
		return nil

	case "start":
		if err := need(1); err != nil {
			return err
		}
		weight, err := a.int("weight", 1)
		if err != nil {
			return err
		}
		feed, err := ParseFeedState(cmp2(a.kv["feed"], "ok"))
		if err != nil {
			return err
		}
		return w.startWith(a.pos[0], weight, a.flag("preempt"), feed, a.kv["kafka"] != "failing", a.kv["identity"])

	case "tick":
		if err := need(1); err != nil {
			return err
		}
		d, err := time.ParseDuration(a.pos[0])
		if err != nil {
			return err
		}
		w.advance(d, nil)
		return nil

	case "crash", "hang", "resume":
		if err := need(1); err != nil {
			return err
		}
		return map[string]func(string) error{"crash": w.crash, "hang": w.hang, "resume": w.resume}[cmd](a.pos[0])

	case "cut", "heal":
		if err := need(2); err != nil {
			return err
		}
		w.setCut(a.pos[0], a.pos[1], cmd == "cut")
		return nil

	case "kafka-witness":
		if err := need(1); err != nil {
			return err
		}
		w.witness = a.pos[0] == "on"
		return nil

	case "health":
		if err := need(1); err != nil {
			return err
		}
		m, err := w.running(a.pos[0])
		if err != nil {
			return err
		}
		feed := m.feed
		if v, ok := a.kv["feed"]; ok {
			if feed, err = ParseFeedState(v); err != nil {
				return err
			}
		}
		up := m.kafkaUp
		if v, ok := a.kv["kafka"]; ok {
			up = v == "ok"
		}
		return w.setHealth(m.id, feed, up)
	}

	// Commands addressed to one running member, acting at once.
	if err := need(1); err != nil {
		return err
	}
	m, err := w.running(a.pos[0])
	if err != nil {
		return err
	}
	if m.hung && cmd != "status" && cmd != "fail-activation" {
		return fmt.Errorf("%s is hung", m.id)
	}
	switch cmd {
	case "switchover":
		w.deliver(m, SwitchoverRequested{Target: a.kv["to"]})
	case "fenced":
		w.deliver(m, Fenced{})
	case "fail-activation":
		d, err := a.dur("retry", 0)
		if err != nil {
			return err
		}
		m.failNext, m.failRetry = true, d
	case "final-commit":
		if err := need(2); err != nil {
			return err
		}
		d, err := time.ParseDuration(a.pos[1])
		if err != nil {
			return err
		}
		m.finalCommit = d
	case "recv":
		hb, err := scriptedHeartbeat(w, m, a)
		if err != nil {
			return err
		}
		w.deliver(m, HeartbeatReceived{Heartbeat: hb})
	case "refused":
		if err := need(2); err != nil {
			return err
		}
		d, err := a.dur("for", w.refuseFor)
		if err != nil {
			return err
		}
		w.deliver(m, PeerRefused{Peer: a.pos[1], Reason: "scripted", For: d})
	case "closed", "connected", "witness":
		if err := need(2); err != nil {
			return err
		}
		inc, err := a.int("inc", 0)
		if err != nil {
			return err
		}
		slot, err := a.int("slot", 0)
		if err != nil {
			return err
		}
		switch cmd {
		case "closed":
			w.deliver(m, PeerClosed{Peer: a.pos[1], Incarnation: uint64(inc)})
		case "connected":
			w.deliver(m, PeerConnected{Peer: a.pos[1]})
		default:
			w.deliver(m, WitnessSeen{Member: a.pos[1], Incarnation: uint64(inc), Slot: slot})
		}
	case "status":
		w.log(formatStatus(w, m.node.Status()))
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

func cmp2(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func scriptedHeartbeat(w *world, m *member, a args) (Heartbeat, error) {
	if w.scriptedSeq == nil {
		w.scriptedSeq = map[string]uint64{}
	}
	scriptedSeq := w.scriptedSeq
	hb := Heartbeat{From: a.kv["from"]}
	if hb.From == "" {
		return hb, fmt.Errorf("recv needs from=")
	}
	var err error
	num := func(k string, def uint64) uint64 {
		v, ok := a.kv[k]
		if !ok || err != nil {
			return def
		}
		var n uint64
		n, err = strconv.ParseUint(v, 10, 64)
		return n
	}
	hb.Incarnation = num("inc", 1)
	key := m.id + "<" + hb.From + "#" + strconv.FormatUint(hb.Incarnation, 10)
	scriptedSeq[key]++
	hb.Seq = num("seq", scriptedSeq[key])
	scriptedSeq[key] = max(scriptedSeq[key], hb.Seq)
	hb.Weight = int(num("weight", 1))
	hb.Slot = int(num("slot", 0))
	hb.Term = num("term", 0)
	if err != nil {
		return hb, err
	}
	if hb.Role, err = ParseRole(cmp2(a.kv["role"], "inactive")); err != nil {
		return hb, err
	}
	if hb.Feed, err = ParseFeedState(cmp2(a.kv["feed"], "ok")); err != nil {
		return hb, err
	}
	if hb.Kafka, err = ParseKafkaState(cmp2(a.kv["kafka"], "ok")); err != nil {
		return hb, err
	}
	hb.HoldOff = a.flag("holdoff")
	hb.HandoverTo, hb.TakeoverFrom = a.kv["handover"], a.kv["takeover"]
	return hb, nil
}

func formatStatus(w *world, s Status) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmtElapsed(t.Sub(w.t0))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "member %s inc=%d weight=%d goal=%d role=%s since=%s slot=%d term=%d\n",
		s.MemberID, s.Incarnation, s.Weight, s.ActiveGoal, s.Role, at(s.RoleSince), s.Slot, s.Term)
	fmt.Fprintf(&b, "health feed=%s kafka=%s holdoff=%v", s.Health.Feed, s.Health.Kafka, s.HoldOff)
	if s.HoldOff {
		fmt.Fprintf(&b, " (%s until %s)", s.HoldOffReason, at(s.HoldOffUntil))
	}
	if s.HandoverTo != "" {
		fmt.Fprintf(&b, " handover=%s", s.HandoverTo)
	}
	b.WriteString("\n")
	for _, p := range s.Peers {
		fmt.Fprintf(&b, "peer %s view=%s connected=%v inc=%d role=%s slot=%d term=%d weight=%d feed=%s kafka=%s heard=%s witness=%s",
			p.ID, p.View, p.Connected, p.Incarnation, p.Role, p.Slot, p.Term, p.Weight, p.Feed, p.Kafka, at(p.LastHeard), at(p.LastWitness))
		if !p.DiedAt.IsZero() {
			fmt.Fprintf(&b, " died=%s", at(p.DiedAt))
		}
		if !p.RefusedAt.IsZero() {
			fmt.Fprintf(&b, " refused=%s standing=%v (%s)", at(p.RefusedAt), p.Refused, p.RefusedReason)
		}
		b.WriteString("\n")
	}
	if c := s.MemberIDClash; c != nil {
		fmt.Fprintf(&b, "member-id-clash since=%s last=%s committing=%v slot=%d (%s)\n", at(c.Since), at(c.LastSeen), c.Committing, c.Slot, c.Detail)
	}
	for _, tr := range s.Transitions {
		fmt.Fprintf(&b, "transition %s %s->%s reason=%s", at(tr.At), tr.From, tr.To, cmp2(string(tr.Reason), "-"))
		if tr.Detail != "" {
			fmt.Fprintf(&b, " (%s)", tr.Detail)
		}
		b.WriteString("\n")
	}
	c := s.Counters
	fmt.Fprintf(&b, "counters activations=%d failures=%d obituaries=%d witness-suppressed=%d prepares=%d refused=%d stalls=%d stale=%d",
		c.Activations, c.ActivationFailures, c.Obituaries, c.WitnessSuppressed, c.Prepares, c.Refused, c.Stalls, c.StaleHeartbeats)
	if c.PeerRefusals > 0 || c.RefusalSuppressed > 0 {
		fmt.Fprintf(&b, " peer-refusals=%d refusal-suppressed=%d", c.PeerRefusals, c.RefusalSuppressed)
	}
	if c.MemberIDClashes > 0 {
		fmt.Fprintf(&b, " member-id-clashes=%d", c.MemberIDClashes)
	}
	for _, r := range sortedReasons(c.StepDowns) {
		fmt.Fprintf(&b, " stepdown.%s=%d", r, c.StepDowns[r])
	}
	return b.String()
}

func sortedReasons(m map[Reason]uint64) []Reason {
	var rs []Reason
	for r := range m {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}
