package ftpair

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// world is a deterministic test harness: several Nodes, a simulated pair
// network (per-link FIFO delivery with optional random delay and drops,
// cuts), simulated processes (crash, hang, restart) and a simulated Kafka
// that holds one lock per slot, fences, and echoes a witness of every
// successful commit. Time advances in fixed steps; nothing reads the wall
// clock. The transcript runner and the randomized simulation share it.
type world struct {
	base            Config        // intervals, goal, preempt delay for every member
	step            time.Duration // granularity of time
	activationDelay time.Duration // how long the edge takes to activate
	// deactivationDelay is how long the edge takes to finish a planned
	// Deactivate (its final commit); zero: within the same step.
	deactivationDelay time.Duration
	witness           bool // the Kafka witness reaches the members
	witnessNoInc      bool // records do not carry the writer's incarnation
	// Members whose identity settings differ never get a session: their
	// transports refuse each other every refuseEvery, each refusal
	// standing for refuseFor.
	refuseEvery time.Duration
	refuseFor   time.Duration
	nextRefuse  map[[2]string]time.Time

	rng      *rand.Rand // nil: no random delay or drops
	maxDelay time.Duration
	dropProb float64

	t0, now  time.Time
	members  map[string]*member
	ids      []string
	cut      map[[2]string]bool
	queue    []delivery
	seq      uint64
	linkLast map[[2]string]time.Time
	holders  map[int]holder // Kafka lock per slot

	// lateWakes records each Tick alone that made a member decide
	// something (an action other than a heartbeat) while its NextWake,
	// taken after its step before, was not yet due or was zero: a moment
	// that NextWake should have named (ftpair/wake.go).
	lateWakes []string

	// displaced records each activation that fenced a holder which had
	// been committing without a break for longer than the activation
	// interval plus the network delay: with the witness on, a live,
	// committing active must never be taken over (only handed over).
	displaced []string

	log         func(string)      // nil: quiet
	scriptedSeq map[string]uint64 // heartbeat numbers of scripted peers
}

type member struct {
	id       string
	weight   int
	preempt  bool
	identity string // frame identity settings; "" by default
	node     *Node
	inc      uint64
	running  bool
	hung     bool
	feed     FeedState
	kafkaUp  bool

	tickFirst  bool          // just resumed: its clock fires before its sockets are read
	failNext   bool          // the next activation fails
	failRetry  time.Duration // ... and its edge asks to retry after this
	actPending bool
	actAt      time.Time
	actTerm    uint64
	actFail    bool
	actRetry   time.Duration

	finalCommit  time.Duration // the next planned Deactivate takes this long (if set)
	deactPending bool
	deactAt      time.Time
	deactStart   time.Time

	committingSince time.Time // start of its current run of successful commits
	committed       bool      // committed in the current step

	lastFlags   string // flags of the last broadcast heartbeat, for logging
	lastRole    Role
	lastCnt     Counters
	lastRefused map[string]bool
}

type holder struct {
	id        string
	inc, term uint64
}

type delivery struct {
	at       time.Time
	seq      uint64
	from, to string
	toInc    uint64 // the receiving process; a restarted one gets nothing sent to its predecessor
	ev       Event
	link     bool // travels on the pair link: subject to cuts and drops
	kafka    bool // travels through Kafka: lost if the receiver cannot reach it
}

func newWorld(base Config) *world {
	base.MemberID = "x"
	base.ApplyDefaults()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &world{
		base:            base,
		step:            10 * time.Millisecond,
		activationDelay: 20 * time.Millisecond,
		witness:         true,
		refuseEvery:     time.Second,
		refuseFor:       3 * time.Second,
		nextRefuse:      map[[2]string]time.Time{},
		t0:              t0,
		now:             t0,
		members:         map[string]*member{},
		cut:             map[[2]string]bool{},
		linkLast:        map[[2]string]time.Time{},
		holders:         map[int]holder{},
	}
}

func linkKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (w *world) logf(m *member, format string, args ...any) {
	if w.log == nil {
		return
	}
	who := ""
	if m != nil {
		who = m.id + ": "
	}
	w.log(fmt.Sprintf("%-6s %s%s", fmtElapsed(w.now.Sub(w.t0)), who, fmt.Sprintf(format, args...)))
}

func fmtElapsed(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return d.String()
}

// ---- processes --------------------------------------------------------------

// start starts (or restarts, with a new incarnation) a member.
func (w *world) start(id string, weight int, preempt bool, feed FeedState, kafkaUp bool) error {
	return w.startWith(id, weight, preempt, feed, kafkaUp, "")
}

// startWith starts a member whose frame identity settings are identity.
func (w *world) startWith(id string, weight int, preempt bool, feed FeedState, kafkaUp bool, identity string) error {
	m := w.members[id]
	if m == nil {
		m = &member{id: id}
		w.members[id] = m
		i, _ := slices.BinarySearch(w.ids, id)
		w.ids = slices.Insert(w.ids, i, id)
	} else if m.running {
		return fmt.Errorf("%s is running", id)
	}
	cfg := w.base
	cfg.MemberID, cfg.Weight, cfg.Preempt = id, weight, preempt
	if preempt && cfg.PreemptDelay == 0 {
		cfg.PreemptDelay = DefaultPreemptDelay
	}
	m.inc++
	node, err := NewNode(cfg, m.inc, w.now)
	if err != nil {
		return err
	}
	*m = member{id: id, weight: weight, preempt: preempt, identity: identity, node: node, inc: m.inc,
		running: true, feed: feed, kafkaUp: kafkaUp}
	idNote := ""
	if identity != "" {
		idNote = " identity=" + identity
	}
	w.logf(m, "start inc=%d weight=%d%s%s", m.inc, weight, map[bool]string{true: " preempt"}[preempt], idNote)
	if feed != FeedOK || !kafkaUp {
		w.deliver(m, HealthChanged{Health: m.health()})
	}
	for _, o := range w.others(m) {
		switch {
		case !o.running || w.cut[linkKey(id, o.id)]:
		case o.identity != identity:
			w.nextRefuse[linkKey(id, o.id)] = w.now // at the next step
		default:
			w.send(o.id, id, PeerConnected{Peer: o.id}, true, false)
			w.send(id, o.id, PeerConnected{Peer: id}, true, false)
		}
	}
	return nil
}

// paired reports whether the transports of a and b accept each other.
func (w *world) paired(a, b *member) bool { return a.identity == b.identity }

// refuse lets the transports of members with different identity settings
// refuse each other, every refuseEvery while both run and the link is not
// cut (a hung process does not answer handshakes).
func (w *world) refuse() {
	for i, a := range w.ids {
		for _, b := range w.ids[i+1:] {
			ma, mb := w.members[a], w.members[b]
			k := linkKey(a, b)
			if !ma.running || !mb.running || ma.hung || mb.hung || w.cut[k] || w.paired(ma, mb) {
				continue
			}
			if next, ok := w.nextRefuse[k]; ok && w.now.Before(next) {
				continue
			}
			w.nextRefuse[k] = w.now.Add(w.refuseEvery)
			why := func(theirs, ours *member) string {
				name := func(m *member) string { return cmp.Or(m.identity, "default") }
				return fmt.Sprintf("its identity settings are %s, ours %s", name(theirs), name(ours))
			}
			w.send(a, b, PeerRefused{Peer: a, Reason: why(ma, mb), For: w.refuseFor}, true, false)
			w.send(b, a, PeerRefused{Peer: b, Reason: why(mb, ma), For: w.refuseFor}, true, false)
		}
	}
}

func (m *member) health() Health {
	h := Health{Feed: m.feed}
	if !m.kafkaUp {
		h.Kafka = KafkaFailing
	}
	return h
}

// crash kills a member's process: its kernel closes its connections, which
// reach every peer the link still connects (an obituary).
func (w *world) crash(id string) error {
	m, err := w.running(id)
	if err != nil {
		return err
	}
	m.running, m.hung, m.actPending = false, false, false
	w.logf(m, "crash")
	for _, o := range w.others(m) {
		if o.running && w.paired(m, o) {
			w.send(id, o.id, PeerClosed{Peer: id, Incarnation: m.inc}, true, false)
		}
	}
	return nil
}

func (w *world) hang(id string) error {
	m, err := w.running(id)
	if err != nil {
		return err
	}
	m.hung = true
	w.logf(m, "hang")
	return nil
}

func (w *world) resume(id string) error {
	m, err := w.running(id)
	if err != nil {
		return err
	}
	if !m.hung {
		return fmt.Errorf("%s is not hung", id)
	}
	m.hung, m.tickFirst = false, true
	w.logf(m, "resume")
	return nil
}

func (w *world) setCut(a, b string, cut bool) {
	k := linkKey(a, b)
	if w.cut[k] == cut {
		return
	}
	w.cut[k] = cut
	if w.log != nil {
		w.log(fmt.Sprintf("%-6s link %s-%s %s", fmtElapsed(w.now.Sub(w.t0)), k[0], k[1], map[bool]string{true: "cut", false: "healed"}[cut]))
	}
	if !cut {
		// The transport reconnects.
		ma, mb := w.members[a], w.members[b]
		if ma != nil && mb != nil && ma.running && mb.running && w.paired(ma, mb) {
			w.send(a, b, PeerConnected{Peer: a}, true, false)
			w.send(b, a, PeerConnected{Peer: b}, true, false)
		}
	}
}

// setHealth changes what a member's feed and Kafka connection do; the
// member's edge reports it.
func (w *world) setHealth(id string, feed FeedState, kafkaUp bool) error {
	m, err := w.running(id)
	if err != nil {
		return err
	}
	if m.feed == feed && m.kafkaUp == kafkaUp {
		return nil
	}
	m.feed, m.kafkaUp = feed, kafkaUp
	w.send(id, id, HealthChanged{Health: m.health()}, false, false)
	return nil
}

func (w *world) running(id string) (*member, error) {
	m := w.members[id]
	if m == nil || !m.running {
		return nil, fmt.Errorf("%s is not running", id)
	}
	return m, nil
}

func (w *world) others(m *member) []*member {
	var out []*member
	for _, id := range w.ids {
		if id != m.id {
			out = append(out, w.members[id])
		}
	}
	return out
}

// ---- network ----------------------------------------------------------------

func (w *world) send(from, to string, ev Event, link, kafka bool) {
	at := w.now
	if w.rng != nil && (link || kafka) {
		if w.dropProb > 0 && link && w.rng.Float64() < w.dropProb {
			if _, ok := ev.(HeartbeatReceived); ok {
				return
			}
		}
		if w.maxDelay > 0 {
			at = at.Add(time.Duration(w.rng.Int64N(int64(w.maxDelay))))
		}
	}
	if link {
		k := [2]string{from, to}
		if last := w.linkLast[k]; at.Before(last) {
			at = last // TCP keeps order
		}
		w.linkLast[k] = at
	}
	w.seq++
	w.queue = append(w.queue, delivery{at: at, seq: w.seq, from: from, to: to, toInc: w.members[to].inc,
		ev: ev, link: link, kafka: kafka})
}

// advance runs the world for d.
func (w *world) advance(d time.Duration, each func()) {
	end := w.now.Add(d)
	for w.now.Before(end) {
		w.tick()
		if each != nil {
			each()
		}
	}
}

// tick advances one step: deliver what is due, tick every live process,
// let the active members commit.
func (w *world) tick() {
	w.now = w.now.Add(w.step)
	w.refuse()

	slices.SortStableFunc(w.queue, func(a, b delivery) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, id := range w.ids {
		if m := w.members[id]; m.running && m.tickFirst {
			m.tickFirst = false
			w.deliver(m, Tick{})
		}
	}
	due := w.queue
	w.queue = nil
	for _, d := range due {
		to := w.members[d.to]
		switch {
		case d.at.After(w.now) || to.running && to.hung:
			w.queue = append(w.queue, d) // not yet, or waiting in a socket buffer
		case !to.running || to.inc != d.toInc:
		case d.link && w.cut[linkKey(d.from, d.to)]:
		case d.kafka && !to.kafkaUp:
		default:
			w.deliver(to, d.ev)
		}
	}

	for _, id := range w.ids {
		m := w.members[id]
		if !m.running || m.hung {
			continue
		}
		if m.deactPending && !w.now.Before(m.deactAt) {
			m.deactPending = false
			w.deliver(m, DeactivationFinished{})
		}
		if m.actPending && !w.now.Before(m.actAt) {
			m.actPending = false
			if m.node.Role() == RoleActivating && m.node.Term() == m.actTerm {
				h := w.holders[m.node.Slot()]
				switch {
				case m.actFail:
					w.deliver(m, ActivationFailed{Term: m.actTerm, Err: "kafka unreachable", RetryAfter: m.actRetry})
				case h == holder{m.id, m.inc, m.actTerm}:
					w.deliver(m, ActivationFinished{Term: m.actTerm})
				default:
					w.deliver(m, Fenced{Term: m.actTerm})
				}
			}
		}
		w.deliver(m, Tick{})
	}

	// Commits (and control keepalives) of the active members.
	for _, id := range w.ids {
		w.members[id].committed = false
	}
	defer func() {
		for _, id := range w.ids {
			if m := w.members[id]; !m.committed {
				m.committingSince = time.Time{}
			}
		}
	}()
	for _, id := range w.ids {
		m := w.members[id]
		if !m.running || m.hung || !m.kafkaUp || !committing(m.node.Role()) {
			continue
		}
		slot, term := m.node.Slot(), m.node.Term()
		if w.holders[slot] != (holder{m.id, m.inc, term}) {
			w.deliver(m, Fenced{Term: term})
			continue
		}
		m.committed = true
		if m.committingSince.IsZero() {
			m.committingSince = w.now
		}
		if w.witness {
			for _, o := range w.others(m) {
				if o.running {
					inc := m.inc
					if w.witnessNoInc {
						inc = 0
					}
					w.send(m.id, o.id, WitnessSeen{Member: m.id, Incarnation: inc, Slot: slot}, false, true)
				}
			}
		}
	}
}

// deliver steps a member's node and performs its actions.
func (w *world) deliver(m *member, ev Event) {
	wake, stalls := m.node.NextWake(), m.node.counters.Stalls
	acts := m.node.Step(w.now, ev)
	w.checkWake(m, ev, acts, wake, stalls)
	for _, a := range acts {
		switch a := a.(type) {
		case SendHeartbeat:
			if a.To == "" {
				w.logHeartbeat(m, a.Heartbeat)
			}
			for _, o := range w.others(m) {
				if (a.To == "" || a.To == o.id) && o.running && w.paired(m, o) {
					w.send(m.id, o.id, HeartbeatReceived{Heartbeat: a.Heartbeat}, true, false)
				}
			}
		case Activate:
			w.logf(m, "%v", a)
			m.actPending, m.actAt, m.actTerm = true, w.now.Add(w.activationDelay), a.Term
			m.actFail = m.failNext || !m.kafkaUp
			m.actRetry = m.failRetry
			m.failNext, m.failRetry = false, 0
			if !m.actFail {
				if h, ok := w.holders[a.Slot]; ok {
					prev := w.members[h.id]
					if prev.running && !prev.hung && prev.kafkaUp && prev.inc == h.inc &&
						committing(prev.node.Role()) && prev.node.Slot() == a.Slot && prev.node.Term() == h.term &&
						!prev.committingSince.IsZero() &&
						w.now.Sub(prev.committingSince) > w.base.ActivationInterval+w.maxDelay+2*w.step {
						w.displaced = append(w.displaced, fmt.Sprintf("%v: %s (%v) fenced %s, committing since %v",
							w.now.Sub(w.t0), m.id, a, h.id, prev.committingSince.Sub(w.t0)))
					}
				}
				w.holders[a.Slot] = holder{m.id, m.inc, a.Term} // fence the previous holder
			}
		case Deactivate:
			w.logf(m, "%v", a)
			m.actPending = false
			m.deactPending = false
			if a.Planned {
				d := w.deactivationDelay
				if m.finalCommit > 0 {
					d, m.finalCommit = m.finalCommit, 0
				}
				m.deactPending, m.deactAt, m.deactStart = true, w.now.Add(d), w.now
			}
		default:
			w.logf(m, "%v", a)
		}
	}
	if w.log != nil {
		w.logNotes(m)
	}
	if m.deactPending && !w.now.Before(m.deactAt) {
		m.deactPending = false
		w.deliver(m, DeactivationFinished{})
	}
}

// checkWake records a Tick that decided something the NextWake before it
// did not foresee (a step after a stall of the process is judged by the
// stall, not by a deadline).
func (w *world) checkWake(m *member, ev Event, acts []Action, wake time.Time, stalls uint64) {
	if _, tick := ev.(Tick); !tick || m.node.counters.Stalls != stalls {
		return
	}
	for _, a := range acts {
		if _, hb := a.(SendHeartbeat); hb {
			continue
		}
		if wake.IsZero() || wake.After(w.now) {
			w.lateWakes = append(w.lateWakes, fmt.Sprintf("%v: %s decided %v on a tick, its NextWake was %v",
				w.now.Sub(w.t0), m.id, a, wakeString(wake, w.t0)))
		}
		return
	}
}

func wakeString(wake, t0 time.Time) string {
	if wake.IsZero() {
		return "none"
	}
	return wake.Sub(t0).String()
}

// committing: a member in this role commits to Kafka (an active one, or
// one finishing its final commit).
func committing(r Role) bool { return r == RoleActive || r == RoleDeactivating }

func (w *world) logHeartbeat(m *member, hb Heartbeat) {
	if w.log == nil {
		return
	}
	var b strings.Builder
	if hb.Feed != FeedOK {
		fmt.Fprintf(&b, " feed=%s", hb.Feed)
	}
	if hb.Kafka != KafkaOK {
		fmt.Fprintf(&b, " kafka=%s", hb.Kafka)
	}
	if hb.HoldOff {
		b.WriteString(" holdoff")
	}
	if hb.HandoverTo != "" {
		fmt.Fprintf(&b, " handover=%s slot=%d", hb.HandoverTo, hb.Slot)
	}
	if hb.TakeoverFrom != "" {
		fmt.Fprintf(&b, " takeover=%s", hb.TakeoverFrom)
	}
	flags := b.String()
	if flags != m.lastFlags {
		m.lastFlags = flags
		if flags == "" {
			flags = " (clear)"
		}
		w.logf(m, "hb%s", flags)
	}
}

// logNotes reports what the node did that is not an action: role changes
// reported by the edge, obituaries, witness suppression, stalls.
func (w *world) logNotes(m *member) {
	st := m.node.Status()
	c := st.Counters
	if role := m.node.Role(); role != m.lastRole {
		switch {
		case role == RoleActive:
			w.logf(m, "active slot=%d term=%d", st.Slot, st.Term)
		case m.lastRole == RoleDeactivating && role == RoleInactive && w.now.After(m.deactStart) &&
			!slices.Contains([]Reason{ReasonFenced, ReasonSuperseded}, st.Transitions[len(st.Transitions)-1].Reason):
			w.logf(m, "final commit done after %v", w.now.Sub(m.deactStart))
		case m.lastRole == RoleActivating && role == RoleInactive && len(st.Transitions) > 0 &&
			st.Transitions[len(st.Transitions)-1].Reason == ReasonActivationFailed:
			w.logf(m, "activation failed (%s)", st.Transitions[len(st.Transitions)-1].Detail)
		}
		m.lastRole = role
	}
	note := func(now, was uint64, what string) {
		if now > was {
			w.logf(m, "%s", what)
		}
	}
	note(c.Obituaries, m.lastCnt.Obituaries, "obituary")
	note(c.WitnessSuppressed, m.lastCnt.WitnessSuppressed, "witness-suppressed")
	note(c.Stalls, m.lastCnt.Stalls, "stall")
	note(c.DuplicateMemberID, m.lastCnt.DuplicateMemberID, "duplicate member id")
	note(c.RefusalSuppressed, m.lastCnt.RefusalSuppressed, "refusal-suppressed")
	m.lastCnt = c
	for _, p := range st.Peers {
		if p.Refused != m.lastRefused[p.ID] {
			if m.lastRefused == nil {
				m.lastRefused = map[string]bool{}
			}
			m.lastRefused[p.ID] = p.Refused
			w.logf(m, "%s %s", map[bool]string{true: "refusing", false: "no longer refusing"}[p.Refused], p.ID)
		}
	}
}

// state summarises every member on one line.
func (w *world) state() string {
	var parts []string
	for _, id := range w.ids {
		m := w.members[id]
		var s string
		switch {
		case !m.running:
			s = "down"
		default:
			st := m.node.Status()
			s = st.Role.String()
			if st.Role.holdsSlot() {
				s += fmt.Sprintf("(s%d t%d)", st.Slot, st.Term)
			} else if st.HoldOff {
				s += "(holdoff)"
			}
			if m.hung {
				s = "hung," + s
			}
		}
		parts = append(parts, id+"="+s)
	}
	return "state: " + strings.Join(parts, " ")
}
