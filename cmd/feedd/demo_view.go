package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast/audit"
	"golang.org/x/sys/unix"
)

// demoSnapshot is what the demo's view shows at one moment: a copy of the
// demo's state, taken by the goroutine that owns the demo, so that the
// view (the screen's own goroutine) never reads the demo itself.
type demoSnapshot struct {
	Now, Start time.Time
	Broker     string
	FeedRate   float64 // frames per second of the simulated feed
	Generated  uint64
	Duration   time.Duration
	// FailoverEvery, Chaos and Seed are the fault schedule; NextFault when
	// the next fault is due.
	FailoverEvery time.Duration
	Chaos         bool
	Seed          uint64
	NextFault     time.Time
	Members       []memberSnapshot
	// Topic is the live audit's reading, TopicRate its records per second.
	Topic     audit.Progress
	TopicRate float64
	Takeovers []time.Duration
	Events    []demoEvent
	// Stopping is set once the demo stops; Phase says what it is doing
	// then, and Verdict is the final audit's, once it has run.
	Stopping bool
	Phase    string
	Verdict  string
	Clean    bool
	// Interim marks a snapshot taken between refreshes (after a key, or
	// during the shutdown): the plain view prints only refreshes.
	Interim bool
	// Self, Config and Dir are for the hints: how to run feedd, a member's
	// configuration, the demo's directory.
	Self, Config, Dir string
}

// memberSnapshot is one member as the demo last saw it.
type memberSnapshot struct {
	ID      string
	Pid     int  // 0: never started
	Running bool // its process runs (hung or not)
	Hung    bool
	// RestartAt is when a member that is down starts again (zero: it
	// stays down); ResumeAt when a hung member resumes (zero: by hand).
	RestartAt time.Time
	ResumeAt  time.Time
	Role      string
	Status    *memberPanel // nil: no answer at the last poll
}

// memberPanel is what the view shows of a member's /status.
type memberPanel struct {
	HasPair      bool
	Term         uint64
	RingLen      int
	RingBytes    int64
	Connected    bool
	Quiet        bool
	Read         uint64 // frames read from its port
	Commits      uint64
	Committed    uint64 // frames it committed
	LastCommitAt time.Time
}

// demoView shows the demo: the full screen on a terminal, plain lines
// otherwise.
type demoView interface {
	show(s demoSnapshot)
	// ended is closed if the view stops on its own (nil: never).
	ended() <-chan struct{}
	// close ends the view; writer is then where the closing lines go.
	close() error
	writer() io.Writer
}

// openView opens the screen when the view goes to a terminal, and the
// plain lines otherwise (and with --plain or --json, whose view goes to
// Status).
func (d *demo) openView(out io.Writer) demoView {
	if d.o.JSON {
		out = d.o.Status
		if out == nil {
			out = io.Discard
		}
		return &plainView{w: out}
	}
	if f, ok := out.(*os.File); ok && !d.o.Plain && isTerminal(f) {
		return startDemoScreen(f, d.keys)
	}
	return &plainView{w: out}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// measure updates the rate of committed records from the audit's count
// since the last refresh.
func (d *demo) measure(now time.Time) {
	p := d.monitor.Progress()
	if !d.lastAt.IsZero() && now.Sub(d.lastAt) > 0 && !d.stopping {
		d.rate = float64(p.Records-d.lastCount) / now.Sub(d.lastAt).Seconds()
	}
	d.lastCount, d.lastAt = p.Records, now
}

// snapshot copies what the view shows.
func (d *demo) snapshot(now time.Time, interim bool) demoSnapshot {
	s := demoSnapshot{Now: now, Start: d.start, Broker: d.broker, FeedRate: d.o.Rate, Generated: d.sim.Generated(),
		Duration: d.o.Duration, FailoverEvery: d.o.FailoverEvery, Chaos: d.o.Chaos, Seed: d.o.Seed, NextFault: d.nextFailover,
		Topic: d.monitor.Progress(), TopicRate: d.rate, Takeovers: slices.Clone(d.res.Takeovers), Events: slices.Clone(d.events),
		Stopping: d.stopping, Phase: d.phase, Interim: interim, Self: d.o.Self, Dir: d.dir}
	if d.stopping && d.phase == "" {
		s.Verdict, s.Clean = d.res.verdict(), d.res.clean()
	}
	if len(d.members) > 0 {
		s.Config = d.members[0].config
	}
	for _, m := range d.members {
		s.Members = append(s.Members, m.snapshot())
	}
	return s
}

func (m *demoMember) snapshot() memberSnapshot {
	s := memberSnapshot{ID: m.id, Running: m.running(), Hung: m.hung(), RestartAt: m.restartAt, ResumeAt: m.resumeAt, Role: m.role()}
	if m.proc != nil {
		s.Pid = m.proc.Pid()
	}
	if st := m.last; st != nil {
		s.Status = &memberPanel{HasPair: st.Pair != nil, RingLen: st.Broadcast.Ring.Len, RingBytes: st.Broadcast.Ring.Bytes,
			Connected: st.Ingest.Connected, Quiet: st.Ingest.Quiet, Read: st.Ingest.Frames,
			Commits: st.Broadcast.Counters.Commits, Committed: st.Broadcast.Counters.CommittedFrames,
			LastCommitAt: st.Broadcast.LastCommitAt}
		if st.Pair != nil {
			s.Status.Term = st.Pair.Term
		}
	}
	return s
}

// plainView prints the new events and one line per refresh, for a log or
// a pipe.
type plainView struct {
	w       io.Writer
	printed int // events already printed
}

func (v *plainView) show(s demoSnapshot) {
	if s.Interim {
		return
	}
	v.printEvents(s)
	fmt.Fprint(v.w, plainLine(s))
}

// printEvents prints the events learned since the last refresh in the
// order they happened: a role change shows in the status polled after the
// switchover's answer that it caused, and both come out at this refresh.
func (v *plainView) printEvents(s demoSnapshot) {
	fresh := slices.Clone(s.Events[min(v.printed, len(s.Events)):])
	slices.SortStableFunc(fresh, func(a, b demoEvent) int { return a.at.Compare(b.at) })
	for _, e := range fresh {
		fmt.Fprintf(v.w, "[%s] %s\n", since(s.Start, e.at), e.text)
	}
	v.printed = len(s.Events)
}

func (v *plainView) ended() <-chan struct{} { return nil }
func (v *plainView) close() error           { return nil }
func (v *plainView) writer() io.Writer      { return v.w }

// plainLine is one refresh in one line: each member, then the topic.
func plainLine(s demoSnapshot) string {
	var parts []string
	for _, m := range s.Members {
		p := m.ID + " " + m.Role
		if !m.Running {
			p = m.ID + " down"
			if m.Pid != 0 && m.RestartAt.IsZero() {
				p = m.ID + " stopped"
			}
		} else if st := m.Status; st != nil {
			p += fmt.Sprintf(" ring %d read %d", st.RingLen, st.Read)
			if !st.LastCommitAt.IsZero() {
				p += " commit " + ago(s.Now, st.LastCommitAt)
			}
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("[%s] %s | topic %s\n", since(s.Start, s.Now), strings.Join(parts, " | "), topicLine(s.Topic, s.TopicRate))
}

// since is t as the time since the demo started.
func since(start, t time.Time) string {
	s := t.Sub(start)
	if s < 0 {
		s = 0
	}
	return fmt.Sprintf("+%5.1fs", s.Seconds())
}

// topicLine is the live audit in one line.
func topicLine(p audit.Progress, rate float64) string {
	if p.Records == 0 {
		return "no committed records yet"
	}
	line := fmt.Sprintf("%d records (%.0f/s), feed-seq %d..%d, ", p.Records, rate, p.FirstSeq, p.LastSeq)
	if bad := topicProblems(p); len(bad) > 0 {
		line += strings.Join(bad, ", ")
	} else {
		line += "no gap, no duplicate"
	}
	if p.Latency.Count > 0 {
		line += "; latency " + latencyLine(p.Latency)
	}
	return line
}

// topicProblems lists what the live audit found wrong, if anything.
func topicProblems(p audit.Progress) []string {
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
	return bad
}

func latencyLine(l audit.Latency) string {
	return fmt.Sprintf("p50 %s p99 %s", shortDuration(secondsDuration(l.P50)), shortDuration(secondsDuration(l.P99)))
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func durations(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, shortDuration(d))
	}
	return strings.Join(s, ", ")
}

// final prints the closing lines: totals and the audit's verdict.
func (d *demo) final(w io.Writer) {
	r := &d.res
	records := int64(0)
	if r.Report != nil {
		records = r.Report.Records
	}
	fmt.Fprintf(w, "feedd demo: %v, %d frames generated, %d committed records in the topic, %s, %s, %s",
		r.Elapsed.Round(100*time.Millisecond), r.Generated, records,
		plural(uint64(r.Kills), "kill"), plural(uint64(r.Stops), "stop"), plural(uint64(len(r.Takeovers)), "failover"))
	if len(r.Takeovers) > 0 {
		fmt.Fprintf(w, " (takeover %s after the fault)", durations(r.Takeovers))
	}
	fmt.Fprintf(w, "\naudit of the topic (read_committed, by feed sequence): %s\n", r.verdict())
	if r.Live != nil && r.Live.Latency.Count > 0 {
		l := r.Live.Latency
		fmt.Fprintf(w, "end-to-end latency (port to committed consumer): p50 %s, p99 %s, max %s\n",
			shortDuration(secondsDuration(l.P50)), shortDuration(secondsDuration(l.P99)), shortDuration(secondsDuration(l.Max)))
	}
	if !r.clean() || d.o.Dir != "" {
		fmt.Fprintf(w, "configurations and logs kept in %s", d.dir)
		if r.Report != nil && !r.Report.Clean {
			fmt.Fprintf(w, "; `feedd audit --config %s` lists the findings", d.members[0].config)
		}
		fmt.Fprintln(w)
	}
}
