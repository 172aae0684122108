package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// The demo's full screen: a Bubble Tea program that redraws in place on
// the alternate screen. It owns no demo state: the demo sends it snapshots,
// and it sends the demo the keys pressed.

// demoKeyHelp is the help line, item by item; demoKeyMap what each key
// asks.
var demoKeyHelp = []string{"k kill -9 the active", "h hang it (SIGSTOP)", "r resume", "s switchover", "q quit and audit"}

var demoKeyMap = map[string]demoKey{
	"k": keyKill, "h": keyHang, "r": keyResume, "s": keySwitchover, "q": keyQuit, "ctrl+c": keyQuit,
}

// demoScreen is the Bubble Tea model: the last snapshot and the terminal's
// size.
type demoScreen struct {
	snap          demoSnapshot
	width, height int
	keys          chan<- demoKey
	st            demoStyles
}

func (m demoScreen) Init() tea.Cmd { return nil }

func (m demoScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case demoSnapshot:
		m.snap = msg
	case tea.KeyPressMsg:
		if m.snap.Stopping {
			break
		}
		// Keys typed quickly may arrive as one message with several runes.
		names := []string{msg.String()}
		if utf8.RuneCountInString(msg.Text) > 1 {
			names = names[:0]
			for _, r := range msg.Text {
				names = append(names, string(r))
			}
		}
		for _, name := range names {
			if k, ok := demoKeyMap[name]; ok {
				m.send(k)
			}
		}
	}
	return m, nil
}

// send hands k to the demo, which reads keys between refreshes; a key
// pressed while its buffer is full is dropped rather than freezing the
// screen.
func (m demoScreen) send(k demoKey) {
	select {
	case m.keys <- k:
	default:
	}
}

// View draws the screen on the alternate screen, so that the terminal's
// own contents come back when the demo ends.
func (m demoScreen) View() tea.View {
	v := tea.NewView(renderDemoScreen(m.snap, m.width, m.height, m.st))
	v.AltScreen = true
	return v
}

// demoStyles are the screen's styles; the program brings their colours
// down to what the terminal shows.
type demoStyles struct {
	plain, panel, title, good, warn, bad, dim lipgloss.Style
}

func newDemoStyles() demoStyles {
	return demoStyles{
		plain: lipgloss.NewStyle(),
		panel: lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
		title: lipgloss.NewStyle().Bold(true),
		good:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2")),
		warn:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3")),
		bad:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
		dim:   lipgloss.NewStyle().Faint(true),
	}
}

// screenView runs the Bubble Tea program in a goroutine it starts and
// waits for.
type screenView struct {
	p    *tea.Program
	out  *os.File
	done chan struct{}
	err  error // the program's, once done is closed
}

// startDemoScreen starts the screen on out; it reads keys from stdin when
// that is a terminal.
func startDemoScreen(out *os.File, keys chan<- demoKey) *screenView {
	model := demoScreen{keys: keys, st: newDemoStyles()}
	// The demo's context, not the program, handles SIGINT and SIGTERM: the
	// screen stays up while the demo stops and audits.
	opts := []tea.ProgramOption{tea.WithOutput(out), tea.WithoutSignalHandler()}
	if isTerminal(os.Stdin) {
		opts = append(opts, tea.WithInput(os.Stdin))
	} else {
		opts = append(opts, tea.WithInput(nil))
	}
	v := &screenView{p: tea.NewProgram(model, opts...), out: out, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		_, v.err = v.p.Run()
	}()
	return v
}

// show hands s to the program; it returns at once once the program ended.
func (v *screenView) show(s demoSnapshot) { v.p.Send(s) }

func (v *screenView) ended() <-chan struct{} { return v.done }

// close quits the program, which draws the last snapshot and restores the
// terminal, and waits for it.
func (v *screenView) close() error {
	v.p.Quit()
	<-v.done
	if v.err != nil {
		return fmt.Errorf("bubbletea: %w", v.err)
	}
	return nil
}

func (v *screenView) writer() io.Writer { return v.out }

// renderDemoScreen lays out a snapshot on a width×height screen (0: not
// known yet): the header, the members side by side (one above the other
// on a narrow screen), the topic, the timeline filling what is left, and
// the help line. A screen too short for that with a few events of the
// timeline (80×24) loses first the panels' borders, then the hints where
// to look further but the status command, then that: never the keys, the
// roles or the topic's verdict.
func renderDemoScreen(s demoSnapshot, width, height int, st demoStyles) string {
	if width <= 0 {
		width = 100
	}
	if s.Start.IsZero() {
		return "feedd demo: starting the broker, the feed and the members…"
	}
	var screen string
	for _, l := range []demoLayout{{borders: true, hints: allHints}, {hints: allHints}, {hints: statusHint}, {}} {
		var events int
		screen, events = l.render(s, width, height, st)
		if height <= 0 || events >= minTimelineEvents {
			break
		}
	}
	return screen
}

// minTimelineEvents is the fewest events of the timeline worth giving up
// the borders or the hints for.
const minTimelineEvents = 3

// demoLayout is what a screen shows beside the essentials.
type demoLayout struct {
	borders bool // panels in boxes
	hints   demoHints
}

// demoHints are the footer's lines on where to look further.
type demoHints int

const (
	noHints    demoHints = iota
	statusHint           // the feedd status command for the members
	allHints             // and the logs and the Prometheus configuration
)

// render returns the screen and how many events of the timeline it holds.
func (l demoLayout) render(s demoSnapshot, width, height int, st demoStyles) (string, int) {
	box := func(title string, lines []string, width int) string {
		if l.borders {
			return panel(st, title, lines, width)
		}
		return fitLines(append([]string{st.title.Render(title)}, lines...), width-1) // a column between side-by-side panels
	}
	header := fitLines(wrapItems(demoHeader(s), "   ", width), width)
	var panels []string
	memberWidth := width
	// Side by side while each member panel keeps 40 columns.
	if width >= 2*40 {
		memberWidth = width / 2
	}
	for _, m := range s.Members {
		panels = append(panels, st.plain.Width(memberWidth).Render(box(m.ID, memberLines(s, m, st), memberWidth)))
	}
	members := lipgloss.JoinVertical(lipgloss.Left, panels...)
	if memberWidth < width {
		members = lipgloss.JoinHorizontal(lipgloss.Top, panels...)
	}
	topic := box("topic "+demoTopic+" (the audit, read_committed)", topicLines(s, st), width)
	foot := fitLines(demoFooter(s, st, width, l.hints), width)

	events := 10
	if height > 0 {
		used := lipgloss.Height(header) + lipgloss.Height(members) + lipgloss.Height(topic) + lipgloss.Height(foot) + 1 // the timeline's title
		if l.borders {
			used += 2
		}
		events = max(1, height-used)
	}
	timeline := box("timeline", timelineLines(s, events), width)
	return lipgloss.JoinVertical(lipgloss.Left, header, members, topic, timeline, foot), events
}

// panel draws lines in a rounded box width columns wide, under a bold title.
func panel(st demoStyles, title string, lines []string, width int) string {
	inner := max(10, width-4) // the border and the padding
	body := append([]string{st.title.Render(title)}, lines...)
	return st.panel.Width(inner + 2).Render(fitLines(body, inner))
}

// fitLines joins lines, each cut to width columns so that none wraps.
func fitLines(lines []string, width int) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = ansi.Truncate(l, width, "…")
	}
	return strings.Join(out, "\n")
}

func demoHeader(s demoSnapshot) []string {
	run := "running " + s.Now.Sub(s.Start).Round(time.Second).String()
	if s.Duration > 0 {
		run += " of " + s.Duration.String()
	}
	if s.Stopping {
		run = "stopped after " + s.Now.Sub(s.Start).Round(time.Second).String()
	}
	faults := "no scheduled faults: use the keys"
	switch {
	case s.FailoverEvery > 0 && s.Chaos:
		faults = fmt.Sprintf("chaos: kill -9 or SIGSTOP of the active about every %v (seed %d)", s.FailoverEvery, s.Seed)
	case s.FailoverEvery > 0:
		faults = fmt.Sprintf("kill -9 of the active every %v", s.FailoverEvery)
	}
	if wait := s.NextFault.Sub(s.Now); s.FailoverEvery > 0 && wait > 0 && !s.Stopping {
		faults += fmt.Sprintf(", next in %v", wait.Round(time.Second))
	}
	// Items, most wanted first: a narrow screen wraps them between items.
	return []string{
		"feedd demo", run, faults,
		fmt.Sprintf("simulated feed: %g frames/s, split to %d ports, %d generated", s.FeedRate, len(s.Members), s.Generated),
		fmt.Sprintf("pipeline %q, topic %s on the embedded broker %s", demoPipeline, demoTopic, s.Broker),
	}
}

// memberLines are a member's panel: role, process, term, ring, feed and
// commits.
func memberLines(s demoSnapshot, m memberSnapshot, st demoStyles) []string {
	role := m.Role
	switch role {
	case "active":
		role = st.good.Render("ACTIVE")
	case "activating", "?":
		role = st.warn.Render(role)
	case "hung", "-":
		role = st.bad.Render(map[string]string{"hung": "HUNG", "-": "DOWN"}[role])
	}
	lines := []string{"role     " + role, "process  " + memberProcess(s, m)}
	rs := m.Status
	if rs == nil {
		return append(lines, st.dim.Render("term     -"), st.dim.Render("ring     -"),
			st.dim.Render("feed     -"), st.dim.Render("commits  -"))
	}
	term := "-"
	if rs.HasPair {
		term = strconv.FormatUint(rs.Term, 10)
	}
	feed := "disconnected"
	switch {
	case rs.Connected && rs.Quiet:
		feed = "quiet"
	case rs.Connected:
		feed = "reading"
	}
	commits := fmt.Sprintf("%d (%d frames), last %s", rs.Commits, rs.Committed, ago(s.Now, rs.LastCommitAt))
	if rs.Commits == 0 {
		commits = "none"
	}
	return append(lines,
		"term     "+term,
		fmt.Sprintf("ring     %s (%s)", plural(uint64(rs.RingLen), "frame"), humanBytes(rs.RingBytes)),
		fmt.Sprintf("feed     %s, %d frames read", feed, rs.Read),
		"commits  "+commits)
}

func memberProcess(s demoSnapshot, m memberSnapshot) string {
	switch {
	case m.Hung && m.ResumeAt.IsZero():
		return fmt.Sprintf("pid %d, SIGSTOP: r resumes it", m.Pid)
	case m.Hung:
		return fmt.Sprintf("pid %d, SIGSTOP, resume in %v", m.Pid, max(0, m.ResumeAt.Sub(s.Now)).Round(100*time.Millisecond))
	case m.Running:
		return fmt.Sprintf("pid %d", m.Pid)
	case !m.RestartAt.IsZero() && s.Stopping:
		return "down (killed)"
	case !m.RestartAt.IsZero():
		return fmt.Sprintf("down, restart in %v", max(0, m.RestartAt.Sub(s.Now)).Round(100*time.Millisecond))
	}
	return "stopped"
}

// topicLines are the topic's panel: what the live audit read.
func topicLines(s demoSnapshot, st demoStyles) []string {
	p := s.Topic
	if p.Records == 0 {
		return []string{"no committed records yet"}
	}
	verdict := st.good.Render("no gap, no duplicate")
	if bad := topicProblems(p); len(bad) > 0 {
		verdict = st.bad.Render(strings.Join(bad, ", "))
	}
	lines := []string{
		fmt.Sprintf("records    %d (%.0f/s), feed-seq %d..%d", p.Records, s.TopicRate, p.FirstSeq, p.LastSeq),
		fmt.Sprintf("gaps       %d (%d missing)   duplicates %d   out of order %d", p.Gaps, p.Missing, p.DuplicateRecords, p.OutOfOrder),
		"so far     " + verdict,
	}
	latency := "latency    -"
	if p.Latency.Count > 0 {
		latency = "latency    " + latencyLine(p.Latency) + " (port to committed consumer)"
	}
	lines = append(lines, latency)
	failovers := "failovers  none yet"
	if len(s.Takeovers) > 0 {
		failovers = fmt.Sprintf("failovers  %d, takeover after the fault: %s", len(s.Takeovers), durations(s.Takeovers))
	}
	return append(lines, failovers)
}

// timelineLines are the last n events in the order they happened. The demo
// learns some of them late (a role change shows in the next status it
// polls, after the switchover's answer it caused), so the order it learned
// them in is not always the order they happened in.
func timelineLines(s demoSnapshot, n int) []string {
	events := slices.Clone(s.Events)
	slices.SortStableFunc(events, func(a, b demoEvent) int { return a.at.Compare(b.at) })
	var lines []string
	for _, e := range events[max(0, len(events)-n):] {
		lines = append(lines, since(s.Start, e.at)+"  "+e.text)
	}
	return lines
}

// demoFooter is where to look further (with hints), and the keys; while
// the demo stops, what it is doing, and at the end the audit's verdict.
func demoFooter(s demoSnapshot, st demoStyles, width int, hints demoHints) []string {
	switch {
	case s.Stopping && s.Phase != "":
		return []string{st.warn.Render("stopping: " + s.Phase + "…")}
	case s.Stopping && s.Clean:
		return []string{st.good.Render("audit of the whole topic: " + s.Verdict)}
	case s.Stopping:
		return []string{st.bad.Render("audit of the whole topic: " + s.Verdict)}
	}
	status := fmt.Sprintf("%s status --config %s", s.Self, s.Config)
	var hinted []string
	switch hints {
	case statusHint:
		hinted = []string{status}
	case allHints:
		hinted = wrapItems([]string{"in another terminal:", status, "(or switchover)"}, " ", width)
		hinted = append(hinted, wrapItems([]string{"logs " + filepath.Join(s.Dir, "*.log"),
			"metrics: prometheus --config.file=" + filepath.Join(s.Dir, "prometheus.yml")}, "   ", width)...)
	}
	var lines []string
	for _, l := range hinted {
		lines = append(lines, st.dim.Render(l))
	}
	for _, l := range wrapItems(demoKeyHelp, "   ", width) {
		lines = append(lines, st.title.Render(l))
	}
	return lines
}

// wrapItems joins items with sep into lines no wider than width, breaking
// only between items.
func wrapItems(items []string, sep string, width int) []string {
	var lines []string
	line := ""
	for _, it := range items {
		switch {
		case line == "":
			line = it
		case ansi.StringWidth(line+sep+it) <= width:
			line += sep + it
		default:
			lines = append(lines, line)
			line = it
		}
	}
	return append(lines, line)
}
