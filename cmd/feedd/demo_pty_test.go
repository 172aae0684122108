package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
	"github.com/feedd/feedd/internal/memberproc"
	"github.com/feedd/feedd/internal/testsupport"
)

// ptyScreen is a terminal for a program on a pseudo-terminal: it keeps
// what the program writes, draws it on an emulated screen as a terminal
// would (Bubble Tea redraws only the cells that changed, so the bytes alone
// do not read as the screen), and answers the program's queries. Its two
// goroutines, started by readPty, end when the pseudo-terminal closes.
type ptyScreen struct {
	mu      sync.Mutex
	raw     bytes.Buffer
	vt      *vt.Emulator
	screens strings.Builder // every screen shown, in turn
	last    string
	done    chan struct{}
}

func readPty(f *os.File, cols, rows int) *ptyScreen {
	s := &ptyScreen{vt: vt.NewEmulator(cols, rows), done: make(chan struct{})}
	go func() {
		// The emulator's answers to the program's queries.
		buf := make([]byte, 1024)
		for {
			n, err := s.vt.Read(buf)
			if n > 0 {
				f.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(s.done)
		// Ends the answers' goroutine. The emulator's Close would set a
		// field its Read reads unguarded; its pipe is safe to close
		// while read.
		defer s.vt.InputPipe().(*io.PipeWriter).CloseWithError(io.EOF)
		buf := make([]byte, 32<<10)
		for {
			n, err := f.Read(buf)
			s.mu.Lock()
			s.raw.Write(buf[:n])
			s.vt.Write(buf[:n])
			if screen := s.vt.String(); screen != s.last {
				s.screens.WriteString(screen + "\n")
				s.last = screen
			}
			s.mu.Unlock()
			if err != nil {
				return // EIO once the program and its children closed the terminal
			}
		}
	}()
	return s
}

// output is everything written so far, the screen it shows now, and every
// screen it has shown.
func (s *ptyScreen) output() (raw, screen, shown string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String(), s.last, s.screens.String()
}

// waitFor waits up to limit for the screen to match re.
func (s *ptyScreen) waitFor(t *testing.T, limit time.Duration, what string, re *regexp.Regexp) {
	t.Helper()
	testsupport.WaitFor(t, limit, what, func() (bool, string) {
		_, screen, _ := s.output()
		return re.MatchString(screen), "the terminal shows:\n" + screen
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
	screen := readPty(term, 120, 45)
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
	if raw, _, _ := screen.output(); !strings.Contains(raw, "\x1b[?1049h") || !strings.Contains(raw, "\x1b[H") {
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
		if _, now, _ := screen.output(); killed.MatchString(now) {
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
	raw, _, text := screen.output()
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
		regexp.MustCompile(`audit of the topic \(read_committed, by feed sequence\): clean: no gap, no duplicate`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the terminal lacks %q; it shows (last 4000 bytes):\n%s", want, text[max(0, len(text)-4000):])
		}
	}
}

// TestCommandsDoNotQueryTheTerminal: a command run on a terminal writes
// its output and nothing else. Bubble Tea v1 asked every program that
// linked it for the terminal's background colour as it started, and a
// terminal that never answers (a serial console, some multiplexers) held
// each command 5 s.
func TestCommandsDoNotQueryTheTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := memberproc.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"version"}, {"help"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "TERM=xterm-256color")
		term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
		if err != nil {
			t.Fatal(err)
		}
		// A terminal that answers nothing: read what comes, until the
		// command exits and the terminal closes.
		out, _ := io.ReadAll(term)
		if err := cmd.Wait(); err != nil {
			t.Errorf("feedd %s: %v", args[0], err)
		}
		term.Close()
		if !bytes.Contains(out, []byte("feedd")) {
			t.Errorf("feedd %s wrote %q", args[0], out)
		}
		if i := bytes.IndexByte(out, 0x1b); i >= 0 {
			t.Errorf("feedd %s wrote an escape sequence to the terminal: %q", args[0], out[i:min(len(out), i+16)])
		}
	}
}
