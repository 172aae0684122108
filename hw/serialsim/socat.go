package serialsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/feedd/feedd/internal/childproc"
)

// ErrSocatNotFound is wrapped by Start's error when the socat executable is
// not in PATH.
var ErrSocatNotFound = errors.New(`socat not found in PATH; install it with "apt-get install socat" (Debian/Ubuntu) or "make deps"`)

// socatStopTimeout bounds how long a socat gets to exit on SIGTERM (it then
// removes its links) before its process group is killed.
const socatStopTimeout = 3 * time.Second

// socatArgs returns the arguments of the socat that joins the member-side
// pty (first address) to the writer-side pty (second address).
//
// "rawer" is socat 1.7.4's replacement for the deprecated "raw": it applies
// cfmakeraw-like settings and turns echo off; "echo=0" says so explicitly.
// "-d -d -d" makes socat log "transferred N bytes from A to B" after every
// write, which is how the simulator knows what left socat.
func socatArgs(member, writer string) []string {
	return []string{
		"-d", "-d", "-d",
		"pty,rawer,echo=0,link=" + member,
		"pty,rawer,echo=0,link=" + writer,
	}
}

// socatProc is one running socat. Its reaper reads socat's stderr to the
// end before it reaps the process; stop waits for it.
type socatProc struct {
	*childproc.Process
	ready chan struct{} // closed when socat enters its transfer loop

	// forwarded counts bytes socat wrote from the writer side to the
	// member side; sawTransfer is set once one such line was parsed.
	forwarded   atomic.Uint64
	sawTransfer atomic.Bool

	mu   sync.Mutex
	tail []string // last lines of stderr, transfer lines excepted
}

func startSocat(path, member, writer string) (*socatProc, error) {
	cmd := exec.Command(path, socatArgs(member, writer)...)
	// Own process group, so the whole group can be killed; SIGTERM if this
	// process dies first, so no socat outlives a crashed test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("serialsim: starting socat: %w", err)
	}
	p := &socatProc{ready: make(chan struct{})}
	p.Process = childproc.Reap(cmd, func() { p.readStderr(stderr) })
	return p, nil
}

// readStderr parses socat's log until the pipe closes.
func (p *socatProc) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	// FDs of the first (member) and second (writer) address as socat
	// reports them: [read,write] each. Forwarded bytes go from the writer
	// address's read fd to the member address's write fd.
	var memberW, writerR int
	ready := false
	for sc.Scan() {
		line := sc.Text()
		if ready {
			if i := strings.Index(line, " transferred "); i >= 0 {
				var n uint64
				var from, to int
				if _, err := fmt.Sscanf(line[i:], " transferred %d bytes from %d to %d", &n, &from, &to); err == nil {
					if from == writerR && to == memberW {
						p.forwarded.Add(n)
						p.sawTransfer.Store(true)
					}
					continue
				}
			}
		} else if i := strings.Index(line, "starting data transfer loop with FDs "); i >= 0 {
			var mr, ww int
			rest := line[i+len("starting data transfer loop with FDs "):]
			if _, err := fmt.Sscanf(rest, "[%d,%d] and [%d,%d]", &mr, &memberW, &writerR, &ww); err == nil {
				ready = true
				close(p.ready)
			}
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 20 {
			p.tail = p.tail[len(p.tail)-20:]
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// describe returns socat's exit status and last log lines, for errors.
func (p *socatProc) describe() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	switch {
	case !p.Exited():
		b.WriteString("socat running")
	case p.Wait() != nil:
		fmt.Fprintf(&b, "socat: %v", p.Wait())
	default:
		b.WriteString("socat exited")
	}
	if len(p.tail) > 0 {
		b.WriteString("; its log ends:\n\t" + strings.Join(p.tail, "\n\t"))
	}
	return b.String()
}

// stop ends socat: SIGTERM (socat then removes its links), and if it has
// not exited within socatStopTimeout, SIGKILL to its process group. It
// returns once socat is reaped.
func (p *socatProc) stop() error {
	if p.Exited() {
		return nil
	}
	// Not reaped yet when killGroup runs, so the process group id is
	// still ours.
	killGroup := func() { _ = syscall.Kill(-p.Pid(), syscall.SIGKILL) }
	if p.Stop(socatStopTimeout, killGroup) {
		return fmt.Errorf("serialsim: socat pid %d ignored SIGTERM for %v and was killed", p.Pid(), socatStopTimeout)
	}
	return nil
}

// waitReady waits until socat entered its transfer loop and both links can
// be opened, then returns the opened writer side and (if it could be opened)
// a held member-side descriptor. It polls against a deadline; no fixed sleep.
func (p *socatProc) waitReady(ctx context.Context, timeout time.Duration, member, writer string) (w, hold *os.File, err error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	lastErr := errors.New("socat has not reported its transfer loop")
	for {
		select {
		case <-p.ready:
			if w == nil {
				w, lastErr = openPTY(writer, os.O_RDWR)
			}
			if w != nil {
				// The held member side lets an unplug see what a reader has
				// not taken yet. A reader that opened first with TIOCEXCL
				// (go.bug.st/serial does) makes this fail with EBUSY for
				// non-root users; the simulator then works without it.
				hold, lastErr = openPTY(member, os.O_RDONLY)
				if lastErr == nil || errors.Is(lastErr, syscall.EBUSY) {
					return w, hold, nil
				}
			}
		default:
		}
		select {
		case <-tick.C:
		case <-p.Done():
			closeFile(w)
			return nil, nil, fmt.Errorf("serialsim: socat exited before its links were ready: %s", p.describe())
		case <-ctx.Done():
			closeFile(w)
			return nil, nil, ctx.Err()
		case <-deadline.C:
			closeFile(w)
			return nil, nil, fmt.Errorf("serialsim: links %s and %s not ready after %v: %v; %s", member, writer, timeout, lastErr, p.describe())
		}
	}
}

func openPTY(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOCTTY, 0)
}

func closeFile(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

// removeStaleLink removes path if it is a symbolic link: a socat killed
// with SIGKILL leaves its link behind, pointing at a pty that may since have
// been given to someone else.
func removeStaleLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("serialsim: %s exists and is not a symbolic link; not touching it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
