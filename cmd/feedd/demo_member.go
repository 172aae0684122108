package main

import (
	"fmt"
	"os/exec"
	"time"

	"github.com/feedd/feedd/internal/memberproc"
	"github.com/feedd/feedd/member"
)

// demoMember is one `feedd run` child process and what the demo last saw
// of it.
type demoMember struct {
	id      string
	config  string
	logPath string
	admin   *adminClient

	proc      *memberproc.Proc // the latest process, nil before the first start
	killed    bool             // the demo killed or stopped it on purpose
	restartAt time.Time        // when to start it again, if it is down
	// resumeAt is when a member the demo holds stopped (SIGSTOP) resumes;
	// zero while it is not hung, or hung by hand (until the resume key).
	resumeAt time.Time

	last     *member.Status // the last status read, nil if the last read failed
	seenUpTo time.Time      // the newest transition already reported
}

func (m *demoMember) running() bool { return m.proc != nil && !m.proc.Exited() }

// hung reports whether the demo holds the member stopped (SIGSTOP).
func (m *demoMember) hung() bool { return m.proc != nil && m.proc.Hung() }

// start starts the member's process, appending its output to its log.
// The process gets its own process group, so a Ctrl-C in the terminal
// reaches only the demo, which stops the members in order.
func (m *demoMember) start(command func(args ...string) (*exec.Cmd, error)) error {
	cmd, err := command("run", "--config", m.config)
	if err != nil {
		return err
	}
	if cmd.Err != nil {
		return fmt.Errorf("starting member %s: %w", m.id, cmd.Err)
	}
	p, err := memberproc.Start(memberproc.Config{
		Path: cmd.Path, Args: cmd.Args[1:], Env: cmd.Env,
		Log: m.logPath, AppendLog: true,
		Admin: m.admin.addr, AdminTimeout: m.admin.http.Timeout,
		OwnGroup: true,
	})
	if err != nil {
		return fmt.Errorf("starting member %s: %w", m.id, err)
	}
	m.proc, m.killed, m.restartAt, m.last, m.resumeAt = p, false, time.Time{}, nil, time.Time{}
	return nil
}

// exitErr is how the member's process ended; nil while it runs.
func (m *demoMember) exitErr() error {
	if m.running() {
		return nil
	}
	return m.proc.Wait()
}

// kill9 kills the member at once, as a crash would, and waits for it.
func (m *demoMember) kill9() {
	if !m.running() {
		return
	}
	m.killed = true
	m.proc.Kill()
	m.last = nil
}

// hang stops the member (SIGSTOP), as a hung process or host would be: it
// holds its connections but does nothing, until resume.
func (m *demoMember) hang() {
	if !m.running() {
		return
	}
	_ = m.proc.Hang()
	m.last = nil
}

// resume lets a hung member run again (SIGCONT).
func (m *demoMember) resume() {
	if m.hung() {
		_ = m.proc.Resume()
	}
	m.resumeAt = time.Time{}
}

// stop asks the member to shut down (SIGTERM: an active member finishes at
// a commit boundary) and kills it if it has not exited within grace.
func (m *demoMember) stop(grace time.Duration) {
	if !m.running() {
		return
	}
	m.resumeAt = time.Time{}
	m.killed = true
	_ = m.proc.Stop(grace)
}

func (m *demoMember) role() string {
	switch {
	case !m.running():
		return "-"
	case m.hung():
		return "hung"
	case m.last == nil:
		return "?"
	}
	return m.last.Role
}
