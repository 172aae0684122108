package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
	"github.com/feedd/feedd/internal/memberproc"
	"github.com/feedd/feedd/internal/testsupport"
)

// ptyScreen collects what a program writes to its terminal, read by a
// goroutine it starts and waits for. Like a terminal, it answers a request
// for the cursor position: Bubble Tea asks for the background colour when
// it starts (termenv), and a terminal that does not know that request still
// answers the cursor position that follows it.
type ptyScreen struct {
	mu   sync.Mutex
	raw  bytes.Buffer
	done chan struct{}
}

func readPty(f *os.File) *ptyScreen {
	s := &ptyScreen{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := f.Read(buf)
			s.mu.Lock()
			s.raw.Write(buf[:n])
			s.mu.Unlock()
			if bytes.Contains(buf[:n], []byte("\x1b[6n")) {
				f.Write([]byte("\x1b[1;1R"))
			}
			if err != nil {
				return // EIO once the program and its children closed the terminal
			}
		}
	}()
	return s
}

// output is everything written so far, and its text without escape
// sequences.
func (s *ptyScreen) output() (raw, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String(), ansi.Strip(s.raw.String())
}

// waitFor waits up to limit for the screen's text to match re.
func (s *ptyScreen) waitFor(t *testing.T, limit time.Duration, what string, re *regexp.Regexp) {
	t.Helper()
	testsupport.WaitFor(t, limit, what, func() (bool, string) {
		_, text := s.output()
		return re.MatchString(text), "the terminal shows (last 4000 bytes):\n" + text[max(0, len(text)-4000):]
	})
}

// TestDemoScreenOnATerminal runs the feedd binary's demo on a
// pseudo-terminal as a person does: it must draw the full screen on the
// alternate screen with both members' panels and the topic's, kill the
// active member when k is pressed (no fault is scheduled, so the failover
// can only come from the key), show the takeover in its timeline, and on q
// stop everything, leave the alternate screen and print a clean audit.
func TestDemoScreenOnATerminal(t *testing.T) {
	demoNeedsSocat(t)
	if testing.Short() {
		t.Skip("runs the demo for about half a minute")
	}
	bin, err := memberproc.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// --duration only bounds a demo that would not quit on q; the test
	// checks it was q that stopped it.
	cmd := exec.Command(bin, "demo", "--failover-every", "0", "--duration", "2m", "--dir", dir)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 45, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	screen := readPty(term)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ended := false
	defer func() {
		if !ended {
			cmd.Process.Kill()
			<-exited
		}
		term.Close()
		<-screen.done
		if t.Failed() {
			for _, id := range demoMemberIDs {
				log, _ := os.ReadFile(dir + "/" + id + ".log")
				t.Logf("%s.log:\n%s", id, log)
			}
		}
	}()

	screen.waitFor(t, 45*time.Second, "the screen with both members and the topic",
		regexp.MustCompile(`(?s)│ host-a .*│ host-b .*topic feedd-demo \(the audit.*records +\d+.*timeline.*k kill -9 the active`))
	if raw, _ := screen.output(); !strings.Contains(raw, "\x1b[?1049h") || !strings.Contains(raw, "\x1b[H") {
		t.Errorf("the demo did not switch to the alternate screen and draw from its top left corner")
	}
	screen.waitFor(t, 30*time.Second, "an active member", regexp.MustCompile(`role +ACTIVE`))

	// A fault by hand waits until the peer is ready to take over; press k
	// until the demo kills the active.
	killed := regexp.MustCompile(`kill -9 host-[ab] \(pid \d+\), the active member, by hand`)
	deadline := time.Now().Add(45 * time.Second)
	for {
		if _, err := term.Write([]byte("k")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if _, text := screen.output(); killed.MatchString(text) {
			break
		}
		if time.Now().After(deadline) {
			screen.waitFor(t, 0, "the kill -9 key to kill the active member", killed)
		}
	}
	screen.waitFor(t, 30*time.Second, "the takeover in the timeline", regexp.MustCompile(`failover 1: host-[ab] took over`))
	if _, err := term.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
		ended = true
	case <-time.After(time.Minute):
		t.Fatal("the demo did not end within a minute of q")
	}
	// The closing lines may still be in the pseudo-terminal when the
	// process has exited: read to its end (the reader stops when the last
	// holder of its other side has closed it).
	select {
	case <-screen.done:
	case <-time.After(10 * time.Second):
		t.Log("the pseudo-terminal still had a holder 10 s after the demo exited")
	}
	raw, text := screen.output()
	if err != nil {
		t.Errorf("the demo failed: %v", err)
	}
	if !strings.Contains(raw, "\x1b[?1049l") {
		t.Errorf("the demo did not leave the alternate screen")
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`stopping \(q pressed\)`),
		// A k pressed while the demo was busy may be read late and kill the
		// new active too; at least one kill and one failover.
		regexp.MustCompile(`feedd demo: .*, [1-9]\d* kills?, 0 stops, [1-9]\d* failovers? \(takeover`),
		regexp.MustCompile(`audit of the topic \(read_committed, by feedd-seq\): clean: no gap, no duplicate`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the terminal lacks %q; it shows (last 4000 bytes):\n%s", want, text[max(0, len(text)-4000):])
		}
	}
}
