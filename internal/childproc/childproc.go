package childproc

import (
	"os/exec"
	"syscall"
	"time"
)

// Process is a started command and the goroutine that reaps it.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // cmd.Wait's result, set before done is closed
}

// Reap starts the goroutine that reaps cmd, which must have been started.
// drain, if not nil, runs in that goroutine first: it reads the process's
// pipes to their end, as exec.Cmd.Wait requires before it is called.
func Reap(cmd *exec.Cmd, drain func()) *Process {
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if drain != nil {
			drain()
		}
		p.err = cmd.Wait()
	}()
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited and been reaped.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to be reaped and returns how it ended (nil
// for exit status 0, an *exec.ExitError otherwise).
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process; once it is reaped that is
// os.ErrProcessDone, never another process that got its pid.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits until the process is reaped.
func (p *Process) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to grace for the process to exit; if it
// has not, it calls kill (nil: SIGKILL to the process) and waits until it
// is reaped. It reports whether the kill was needed.
func (p *Process) Stop(grace time.Duration, kill func()) (killed bool) {
	_ = p.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return false
	case <-timer.C:
	}
	if kill == nil {
		p.Kill()
	} else {
		kill()
		<-p.done
	}
	return true
}
