package main

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/feedd/feedd/broadcast/audit"
)

// fixedSnapshot is a demo 12.5s in: host-a active, host-b inactive, one
// failover behind it, and more events than a small screen holds.
func fixedSnapshot() demoSnapshot {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start.Add(12500 * time.Millisecond)
	s := demoSnapshot{
		Now: now, Start: start, Broker: "127.0.0.1:9092", FeedRate: 20, Generated: 250,
		Duration: time.Minute, FailoverEvery: 15 * time.Second, NextFault: now.Add(7 * time.Second),
		Members: []memberSnapshot{
			{ID: "host-a", Pid: 101, Running: true, Role: "active", Status: &memberPanel{HasPair: true, Term: 3,
				RingLen: 12, RingBytes: 1229, Connected: true, Read: 2400, Commits: 120, Committed: 2400,
				LastCommitAt: now.Add(-100 * time.Millisecond)}},
			{ID: "host-b", Pid: 102, Running: true, Role: "inactive", Status: &memberPanel{HasPair: true, Term: 3,
				RingLen: 1, RingBytes: 300, Connected: true, Read: 2390}},
		},
		Topic: audit.Progress{Records: 2400, Sequenced: 2400, FirstSeq: 1, LastSeq: 2400,
			Latency: audit.Latency{Count: 2400, P50: 0.012, P99: 0.040}},
		TopicRate: 20, Takeovers: []time.Duration{5 * time.Millisecond},
		Self: "feedd", Config: "/tmp/demo/host-a.yaml", Dir: "/tmp/demo",
	}
	for i := range 30 {
		s.Events = append(s.Events, demoEvent{at: start.Add(time.Duration(i) * 400 * time.Millisecond), text: "event " + string(rune('A'+i))})
	}
	s.Events = append(s.Events, demoEvent{at: start.Add(12 * time.Second), text: "failover 1: host-a took over 5ms after the fault (obituary)"})
	return s
}

// screenText is the screen renderDemoScreen draws, without its colours
// and other attributes.
func screenText(s demoSnapshot, width, height int) string {
	return ansi.Strip(renderDemoScreen(s, width, height, newDemoStyles()))
}

// TestDemoTimelineInTimeOrder: the demo learns a role change from the next
// status it polls, after the switchover's answer that it caused; the
// timeline, and the plain view's lines, show them in the order they
// happened, the newest last.
func TestDemoTimelineInTimeOrder(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := demoSnapshot{Start: start, Events: []demoEvent{
		{at: start.Add(36 * time.Second), text: "switchover: asking host-a"},
		{at: start.Add(36600 * time.Millisecond), text: "switchover done: host-b is active"},
		{at: start.Add(36500 * time.Millisecond), text: "host-a: active → deactivating (switchover)"},
		{at: start.Add(36500 * time.Millisecond), text: "host-b: activating → active"},
	}}
	var plain strings.Builder
	(&plainView{w: &plain}).printEvents(s)
	if want := "[+ 36.0s] switchover: asking host-a\n[+ 36.5s] host-a: active → deactivating (switchover)\n" +
		"[+ 36.5s] host-b: activating → active\n[+ 36.6s] switchover done: host-b is active\n"; plain.String() != want {
		t.Errorf("the plain view printed\n%s\nwant\n%s", plain.String(), want)
	}
	got := timelineLines(s, 3)
	want := []string{"host-a: active → deactivating (switchover)", "host-b: activating → active", "switchover done: host-b is active"}
	if len(got) != len(want) {
		t.Fatalf("timeline %q; want the last 3 of 4 events", got)
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i], "  "+w) {
			t.Errorf("timeline line %d = %q; want %q (all: %q)", i, got[i], w, got)
		}
	}
}

// TestDemoScreenRender lays out a fixed snapshot on a 120×40 screen: every
// line fits, the members are side by side with role, process, ring, feed
// and commits, the topic shows records, gaps, duplicates and latency, the
// timeline fills the rest with the newest events, and the keys are on the
// help line.
func TestDemoScreenRender(t *testing.T) {
	out := screenText(fixedSnapshot(), 120, 40)
	lines := strings.Split(out, "\n")
	// The timeline takes what the rest leaves: the screen is full.
	if len(lines) != 40 {
		t.Errorf("%d lines on a 40-line screen:\n%s", len(lines), out)
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > 120 {
			t.Errorf("line %d is %d columns wide on a 120-column screen: %q", i, w, l)
		}
	}
	sideBySide := false
	for _, l := range lines {
		if strings.Contains(l, "│ host-a ") && strings.Contains(l, "│ host-b ") {
			sideBySide = true
		}
	}
	if !sideBySide {
		t.Errorf("the members' panels are not side by side:\n%s", out)
	}
	for _, want := range []string{
		"role     ACTIVE", "role     inactive", "process  pid 101", "term     3",
		"ring     12 frames (1.2 KiB)", "ring     1 frame (300 B)", "feed     reading, 2400 frames read",
		"commits  120 (2400 frames), last 100ms ago", "commits  none",
		"topic feedd-demo", "records    2400 (20/s), feed-seq 1..2400",
		"gaps       0 (0 missing)   duplicates 0   out of order 0", "so far     no gap, no duplicate",
		"latency    p50 12ms p99 40ms", "failovers  1, takeover after the fault: 5ms",
		"running 13s of 1m0s", "kill -9 of the active every 15s, next in 7s",
		"+ 12.0s  failover 1: host-a took over 5ms after the fault",
		strings.Join(demoKeyHelp, "   "), "feedd status --config /tmp/demo/host-a.yaml", "logs /tmp/demo/*.log",
		"prometheus --config.file=/tmp/demo/prometheus.yml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the screen lacks %q:\n%s", want, out)
		}
	}
	// The timeline keeps the newest events that fit, not the oldest.
	if strings.Contains(out, "event A") || !strings.Contains(out, "event ^") {
		t.Errorf("the timeline should drop the oldest events and keep the newest that fit:\n%s", out)
	}
}

// TestDemoScreenRenderNarrowAndFaults: on a narrow screen the members are
// one above the other; a hung member, one that is down, and a topic with a
// gap and a duplicate say so.
func TestDemoScreenRenderNarrowAndFaults(t *testing.T) {
	s := fixedSnapshot()
	s.Members[0] = memberSnapshot{ID: "host-a", Pid: 101, Running: true, Hung: true, Role: "hung"}
	s.Members[1] = memberSnapshot{ID: "host-b", Pid: 102, RestartAt: s.Now.Add(1500 * time.Millisecond), Role: "-"}
	s.Topic.Gaps, s.Topic.Missing, s.Topic.DuplicateRecords = 1, 3, 2
	out := screenText(s, 60, 0)
	a, b := strings.Index(out, "host-a"), strings.Index(out, "host-b")
	if a < 0 || b < 0 || strings.Count(out[a:b], "\n") < 5 {
		t.Errorf("on 60 columns host-b's panel should be below host-a's:\n%s", out)
	}
	for _, want := range []string{"role     HUNG", "pid 101, SIGSTOP: r resumes it", "role     DOWN",
		"down, restart in 1.5s", "so far     GAPS 1 (3 missing), DUPLICATES 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("the screen lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoScreenRenderSmall: on an 80×24 terminal the screen fits, keeps
// the fault schedule, the roles, the verdict, every key and the status
// command, and still shows the newest few events, giving up the borders
// and the other hints for them; a screen a little taller keeps the
// borders.
func TestDemoScreenRenderSmall(t *testing.T) {
	for _, c := range []struct {
		height  int
		borders bool
	}{{24, false}, {34, true}} {
		s := fixedSnapshot()
		s.Self, s.Config = "/usr/local/bin/feedd", "/tmp/feedd-demo-3108265741/host-a.yaml"
		out := screenText(s, 80, c.height)
		lines := strings.Split(out, "\n")
		if len(lines) != c.height {
			t.Errorf("80×%d: %d lines:\n%s", c.height, len(lines), out)
		}
		for i, l := range lines {
			if w := lipgloss.Width(l); w > 80 {
				t.Errorf("80×%d: line %d is %d columns wide: %q", c.height, i, w, l)
			}
		}
		if got := strings.Contains(out, "╭"); got != c.borders {
			t.Errorf("80×%d: borders %v, want %v:\n%s", c.height, got, c.borders, out)
		}
		wants := []string{"kill -9 of the active every 15s, next in 7s", "role     ACTIVE", "role     inactive",
			"so far     no gap, no duplicate", "event ]", "event ^", "+ 12.0s  failover 1: host-a took over 5ms after the fault",
			"/usr/local/bin/feedd status --config /tmp/feedd-demo-3108265741/host-a.yaml"}
		wants = append(wants, demoKeyHelp...)
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("80×%d: the screen lacks %q:\n%s", c.height, want, out)
			}
		}
	}
}

// TestDemoScreenStopping: while the demo stops the screen says what it is
// doing instead of the keys, and at the end the audit's verdict.
func TestDemoScreenStopping(t *testing.T) {
	s := fixedSnapshot()
	s.Stopping, s.Phase = true, "auditing the topic"
	if out := screenText(s, 120, 40); !strings.Contains(out, "stopping: auditing the topic") || strings.Contains(out, demoKeyHelp[0]) {
		t.Errorf("stopping:\n%s", out)
	}
	s.Phase, s.Verdict, s.Clean = "", "clean: no gap, no duplicate", true
	if out := screenText(s, 120, 40); !strings.Contains(out, "audit of the whole topic: clean: no gap") {
		t.Errorf("stopped:\n%s", out)
	}
}

// TestDemoScreenKeys: the screen turns keys into the demo's requests, and
// ignores them once the demo stops.
func TestDemoScreenKeys(t *testing.T) {
	keys := make(chan demoKey, 8)
	var m tea.Model = demoScreen{keys: keys, st: newDemoStyles()}
	press := func(k tea.KeyPressMsg) { m, _ = m.Update(k) }
	press(tea.KeyPressMsg{Code: 'k', Text: "k"})
	press(tea.KeyPressMsg{Code: 'x', Text: "x"})
	// Keys typed quickly may come as one message.
	press(tea.KeyPressMsg{Code: 'h', Text: "hrs"})
	press(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	press(tea.KeyPressMsg{Code: 'q', Text: "q"})
	m, _ = m.Update(demoSnapshot{Stopping: true})
	press(tea.KeyPressMsg{Code: 'k', Text: "k"})
	close(keys)
	var got []demoKey
	for k := range keys {
		got = append(got, k)
	}
	want := []demoKey{keyKill, keyHang, keyResume, keySwitchover, keyQuit, keyQuit}
	if len(got) != len(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("keys %v, want %v", got, want)
		}
	}
}

// TestDemoPlainLine pins the plain view's line, which scripts read.
func TestDemoPlainLine(t *testing.T) {
	s := fixedSnapshot()
	s.Members[1] = memberSnapshot{ID: "host-b", Pid: 102, RestartAt: s.Now.Add(time.Second), Role: "-"}
	want := "[+ 12.5s] host-a active ring 12 read 2400 commit 100ms ago | host-b down | topic 2400 records (20/s), " +
		"feed-seq 1..2400, no gap, no duplicate; latency p50 12ms p99 40ms\n"
	if got := plainLine(s); got != want {
		t.Errorf("plain line\n got %q\nwant %q", got, want)
	}
	s.Members[1].RestartAt = time.Time{}
	if got := plainLine(s); !strings.Contains(got, "| host-b stopped |") {
		t.Errorf("a member stopped for good: %q", got)
	}
	var b strings.Builder
	v := &plainView{w: &b}
	v.show(s)
	s.Interim = true
	v.show(s)
	if n := strings.Count(b.String(), "\n"); n != len(s.Events)+1 {
		t.Errorf("the plain view printed %d lines for %d events and one refresh (and nothing for an interim snapshot):\n%s", n, len(s.Events), b.String())
	}
}
