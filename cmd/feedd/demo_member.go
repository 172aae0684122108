package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/feedd/feedd/member"
)

// demoMember is one `feedd run` child process and what the demo last saw
// of it.
type demoMember struct {
	id      string
	config  string
	logPath string
	admin   *adminClient

	cmd       *exec.Cmd
	done      chan struct{} // closed when cmd has exited and been reaped
	exitErr   error         // cmd.Wait's result, once done is closed
	killed    bool          // the demo killed or stopped it on purpose
	restartAt time.Time     // when to start it again, if it is down
	// hung is set while the demo holds it stopped (SIGSTOP) until
	// resumeAt, or, when resumeAt is zero (a hang by hand), until the
	// resume key.
	hung     bool
	resumeAt time.Time

	last     *member.Status // the last status read, nil if the last read failed
	seenUpTo time.Time      // the newest transition already reported
}

func (m *demoMember) running() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// start starts the member's process, appending its output to its log.
// The process gets its own process group, so a Ctrl-C in the terminal
// reaches only the demo, which stops the members in order; and on Linux
// the kernel kills it if the demo dies without doing so.
func (m *demoMember) start(command func(args ...string) (*exec.Cmd, error)) error {
	f, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd, err := command("run", "--config", m.config)
	if err != nil {
		f.Close()
		return err
	}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting member %s: %w", m.id, err)
	}
	done := make(chan struct{})
	m.cmd, m.done, m.exitErr, m.killed, m.restartAt, m.last = cmd, done, nil, false, time.Time{}, nil
	m.hung, m.resumeAt = false, time.Time{}
	go func() {
		err := cmd.Wait()
		f.Close()
		m.exitErr = err
		close(done)
	}()
	return nil
}

// kill9 kills the member at once, as a crash would, and waits for it.
func (m *demoMember) kill9() {
	if !m.running() {
		return
	}
	m.killed = true
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
	m.last = nil
}

// hang stops the member (SIGSTOP), as a hung process or host would be: it
// holds its connections but does nothing, until resume.
func (m *demoMember) hang() {
	if !m.running() {
		return
	}
	m.hung = true
	_ = m.cmd.Process.Signal(syscall.SIGSTOP)
	m.last = nil
}

// resume lets a hung member run again (SIGCONT).
func (m *demoMember) resume() {
	if m.hung && m.running() {
		_ = m.cmd.Process.Signal(syscall.SIGCONT)
	}
	m.hung, m.resumeAt = false, time.Time{}
}

// stop asks the member to shut down (SIGTERM: an active member finishes at
// a commit boundary) and kills it if it has not exited within grace.
func (m *demoMember) stop(grace time.Duration) {
	if !m.running() {
		return
	}
	m.resume()
	m.killed = true
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(grace):
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.done
	}
}

func (m *demoMember) role() string {
	switch {
	case !m.running():
		return "-"
	case m.hung:
		return "hung"
	case m.last == nil:
		return "?"
	}
	return m.last.Role
}
