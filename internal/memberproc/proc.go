package memberproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/feedd/feedd/internal/childproc"
)

// Config is how to start one member process.
type Config struct {
	// Path is the feedd binary; Args its arguments (without the program
	// name), e.g. run --config FILE.
	Path string
	Args []string
	// Env is the process's environment; nil inherits this process's.
	Env []string
	// Log is the file the process's stdout and stderr go to; it is
	// truncated first unless AppendLog is set (a member restarted into
	// the same log).
	Log       string
	AppendLog bool
	// Admin is the member's admin.listen address (host:port), where
	// Status reads /status.
	Admin string
	// OwnGroup puts the process in a process group of its own, so that a
	// Ctrl-C in the terminal reaches only the caller, which stops its
	// members in order.
	OwnGroup bool
	// AdminTimeout bounds one request to the admin endpoint; zero: 2s.
	AdminTimeout time.Duration
	// PollEvery is how often WaitFor reads /status; zero: 20ms.
	PollEvery time.Duration
}

// Proc is one started process.
type Proc struct {
	cfg   Config
	child *childproc.Process

	endRequested atomic.Bool // Kill or Stop was called
	mu           sync.Mutex
	hung         bool // held stopped by Hang
}

// ErrExited is returned when a signal is asked of a process that has
// already exited.
var ErrExited = errors.New("member process has exited")

// Start starts the process. On Linux the kernel kills it if the thread
// that started it dies (the caller crashing, or a test binary killed by
// its timeout), so that no member outlives its harness.
func Start(cfg Config) (*Proc, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if cfg.AppendLog {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	log, err := os.OpenFile(cfg.Log, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("member log: %w", err)
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = cfg.Env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: cfg.OwnGroup, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	log.Close() // the child has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Path, err)
	}
	return &Proc{cfg: cfg, child: childproc.Reap(cmd, nil)}, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.child.Pid() }

// LogPath is the file the process writes its output to.
func (p *Proc) LogPath() string { return p.cfg.Log }

// Admin is the member's admin endpoint address.
func (p *Proc) Admin() string { return p.cfg.Admin }

// Done is closed once the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.child.Done() }

// Exited reports whether the process has exited and been reaped.
func (p *Proc) Exited() bool { return p.child.Exited() }

// Wait waits for the process to exit and returns how it ended (nil for
// exit status 0, an *exec.ExitError otherwise).
func (p *Proc) Wait() error { return p.child.Wait() }

// EndRequested reports whether Kill or Stop was called while the process
// ran: its exit is then the caller's doing.
func (p *Proc) EndRequested() bool { return p.endRequested.Load() }

// Hung reports whether the process is held stopped by Hang (and has not
// exited since).
func (p *Proc) Hung() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hung && !p.Exited()
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("%v: %w", sig, ErrExited)
	}
	if err := p.child.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("%v: %w", sig, ErrExited)
		}
		return fmt.Errorf("%v: %w", sig, err)
	}
	return nil
}

// Kill kills the process at once (SIGKILL), as a crash would, and waits for
// it to be gone. A process that has already exited is left as it is.
func (p *Proc) Kill() {
	if !p.Exited() {
		p.endRequested.Store(true)
		_ = p.Signal(syscall.SIGKILL)
	}
	_ = p.child.Wait()
}

// Hang stops the process (SIGSTOP), as a hung process or host would be: it
// holds its connections and does nothing until Resume.
func (p *Proc) Hang() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	p.hung = true
	return nil
}

// Resume lets a hung process run again (SIGCONT).
func (p *Proc) Resume() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hung = false
	return p.Signal(syscall.SIGCONT)
}

// ErrKilledAfterGrace is returned by Stop when the process had to be
// killed: it did not exit within the grace after SIGTERM.
var ErrKilledAfterGrace = errors.New("did not exit after SIGTERM; killed")

// Stop asks the process to shut down (SIGTERM, after SIGCONT in case it is
// hung: an active member finishes at a commit boundary), kills it if it
// has not exited within grace, and returns how it ended: its exit error,
// wrapped with ErrKilledAfterGrace if it had to be killed. A process that
// has already exited returns how it ended.
func (p *Proc) Stop(grace time.Duration) error {
	if p.Exited() {
		return p.child.Wait()
	}
	p.endRequested.Store(true)
	_ = p.Resume()
	if !p.child.Stop(grace, nil) {
		return p.child.Wait()
	}
	return fmt.Errorf("%w within %v: %w", ErrKilledAfterGrace, grace, p.child.Wait())
}
