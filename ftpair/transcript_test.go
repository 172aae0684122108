package ftpair

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/transcript"
)

// TestTranscripts runs testdata/*.txt (see package internal/transcript).
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
	transcript.RunDir(t, "testdata/*.txt", func(*testing.T) func(transcript.Command) string {
		w := newWorld(Config{})
		var out strings.Builder
		w.log = func(s string) { out.WriteString(strings.TrimRight(s, " ") + "\n") }
		return func(c transcript.Command) string {
			out.Reset()
			if err := transcriptCommand(w, c); err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
			}
			if c.Name != "config" && c.Name != "status" {
				out.WriteString(w.state() + "\n")
			}
			return out.String()
		}
	})
}

func transcriptCommand(w *world, a transcript.Command) error {
	cmd, need := a.Name, a.Need
	// running is the running member the command's first argument names.
	running := func() (*member, error) {
		if err := need(1); err != nil {
			return nil, err
		}
		return w.running(a.Pos[0])
	}
	// duration is the command's i-th argument, a duration.
	duration := func(i int) (time.Duration, error) {
		if err := need(i + 1); err != nil {
			return 0, err
		}
		return time.ParseDuration(a.Pos[i])
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
				*d, err = a.Dur(k, *d)
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
			c.ActiveGoal, err = a.Int("goal", c.ActiveGoal)
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
		weight, err := a.Int("weight", 1)
		if err != nil {
			return err
		}
		feed, err := ParseFeedState(cmp.Or(a.KV["feed"], "ok"))
		if err != nil {
			return err
		}
		return w.startWith(a.Pos[0], weight, a.Flag("preempt"), feed, a.KV["kafka"] != "failing", a.KV["identity"])

	case "tick":
		d, err := duration(0)
		if err != nil {
			return err
		}
		w.advance(d, nil)
		return nil

	case "crash", "hang", "resume":
		if err := need(1); err != nil {
			return err
		}
		return map[string]func(string) error{"crash": w.crash, "hang": w.hang, "resume": w.resume}[cmd](a.Pos[0])

	case "cut", "heal":
		if err := need(2); err != nil {
			return err
		}
		w.setCut(a.Pos[0], a.Pos[1], cmd == "cut")
		return nil

	case "kafka-witness":
		if err := need(1); err != nil {
			return err
		}
		w.witness = a.Pos[0] == "on"
		return nil

	case "health":
		m, err := running()
		if err != nil {
			return err
		}
		feed := m.feed
		if v, ok := a.KV["feed"]; ok {
			if feed, err = ParseFeedState(v); err != nil {
				return err
			}
		}
		up := m.kafkaUp
		if v, ok := a.KV["kafka"]; ok {
			up = v == "ok"
		}
		return w.setHealth(m.id, feed, up)
	}

	// Commands addressed to one running member, acting at once.
	m, err := running()
	if err != nil {
		return err
	}
	if m.hung && cmd != "status" && cmd != "fail-activation" {
		return fmt.Errorf("%s is hung", m.id)
	}
	switch cmd {
	case "switchover":
		w.deliver(m, SwitchoverRequested{Target: a.KV["to"]})
	case "fenced":
		w.deliver(m, Fenced{})
	case "fail-activation":
		d, err := a.Dur("retry", 0)
		if err != nil {
			return err
		}
		m.failNext, m.failRetry = true, d
	case "final-commit":
		d, err := duration(1)
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
		d, err := a.Dur("for", w.refuseFor)
		if err != nil {
			return err
		}
		w.deliver(m, PeerRefused{Peer: a.Pos[1], Reason: "scripted", For: d})
	case "closed", "connected", "witness":
		if err := need(2); err != nil {
			return err
		}
		inc, err := a.Int("inc", 0)
		if err != nil {
			return err
		}
		slot, err := a.Int("slot", 0)
		if err != nil {
			return err
		}
		switch cmd {
		case "closed":
			w.deliver(m, PeerClosed{Peer: a.Pos[1], Incarnation: uint64(inc)})
		case "connected":
			w.deliver(m, PeerConnected{Peer: a.Pos[1]})
		default:
			w.deliver(m, WitnessSeen{Member: a.Pos[1], Incarnation: uint64(inc), Slot: slot})
		}
	case "status":
		w.log(formatStatus(w, m.node.Status()))
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

func scriptedHeartbeat(w *world, m *member, a transcript.Command) (Heartbeat, error) {
	if w.scriptedSeq == nil {
		w.scriptedSeq = map[string]uint64{}
	}
	scriptedSeq := w.scriptedSeq
	hb := Heartbeat{From: a.KV["from"]}
	if hb.From == "" {
		return hb, fmt.Errorf("recv needs from=")
	}
	var err error
	num := func(k string, def uint64) uint64 {
		v, ok := a.KV[k]
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
	if hb.Role, err = ParseRole(cmp.Or(a.KV["role"], "inactive")); err != nil {
		return hb, err
	}
	if hb.Feed, err = ParseFeedState(cmp.Or(a.KV["feed"], "ok")); err != nil {
		return hb, err
	}
	if hb.Kafka, err = ParseKafkaState(cmp.Or(a.KV["kafka"], "ok")); err != nil {
		return hb, err
	}
	hb.HoldOff = a.Flag("holdoff")
	hb.HandoverTo, hb.TakeoverFrom = a.KV["handover"], a.KV["takeover"]
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
		fmt.Fprintf(&b, "transition %s %s->%s reason=%s", at(tr.At), tr.From, tr.To, cmp.Or(string(tr.Reason), "-"))
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
