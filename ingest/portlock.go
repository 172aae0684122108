package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/feedd/feedd/internal/tickgrid"
	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// Two programs reading one serial port each get part of its bytes, and a
// member that loses bytes to another reader loses frames. TIOCEXCL, which the
// serial library sets, keeps out everyone but root, and closing any
// descriptor of the tty through the library clears it for every holder. So
// feedd also takes an advisory lock (flock) on the device before it opens the
// port and keeps it as long as the port is open: root respects it, every path
// to the device (a /dev/serial/by-id link, a simulator's link) reaches the
// same inode and so the same lock, and the kernel drops it when the process
// dies.

// ErrDeviceBusy marks an open that failed because another process holds the
// device: a feedd member (or probe) holding its lock, or a program that took
// the tty exclusively.
var ErrDeviceBusy = errors.New("serial device in use")

// PortHolder is a process that holds a serial device.
type PortHolder struct {
	PID int
	// Command is the holder's command line, empty when it cannot be read.
	Command string
}

func (h PortHolder) String() string {
	if h.Command == "" {
		return "pid " + strconv.Itoa(h.PID)
	}
	return fmt.Sprintf("pid %d (%s)", h.PID, h.Command)
}

// DeviceBusyError is the error of an open that found the device held. It
// matches ErrDeviceBusy.
type DeviceBusyError struct {
	Path string
	// Holders are the processes found holding the device; empty when none
	// could be found (another PID namespace, or /proc not readable).
	Holders []PortHolder
	// Exclusive says the holder took the tty exclusively (TIOCEXCL)
	// without the lock: a program other than feedd, or a feedd from before
	// the lock.
	Exclusive bool
}

func (e *DeviceBusyError) Error() string {
	who, subject := "another process", "it"
	if len(e.Holders) > 0 {
		parts := make([]string, len(e.Holders))
		for i, h := range e.Holders {
			parts[i] = h.String()
		}
		who = strings.Join(parts, ", ")
	}
	how := "holds the device's lock (flock)"
	if len(e.Holders) > 1 {
		subject, how = "they", "hold the device's lock (flock)"
	}
	if e.Exclusive {
		how = "holds the tty exclusively (TIOCEXCL) without the device's lock"
		if len(e.Holders) > 1 {
			how = "have it open, and it is exclusive (TIOCEXCL) without the device's lock"
		}
	}
	return fmt.Sprintf("serial device %s is in use by %s; %s %s, and a second reader would take bytes from the first",
		e.Path, who, subject, how)
}

func (e *DeviceBusyError) Is(target error) bool { return target == ErrDeviceBusy }

// lockPort opens a descriptor of the device and takes its lock, or fails
// with a DeviceBusyError when another process holds the lock (or, for a user
// other than root, the tty exclusively). The caller opens the port only
// after this, keeps the descriptor open as long as the port, and closes the
// port first: a failed attempt therefore never reaches the serial library,
// whose Close would clear the holder's TIOCEXCL.
//
// With refuseExclusive it also fails when the tty is exclusive and another
// process has it open, which root could open past: a program that took it
// without the lock (a feedd from before the lock, a terminal program). A
// member does not refuse that, because the flag outlives a holder killed
// with SIGKILL while anything else keeps the tty (a pty's other end) open,
// and a member must come back after a crash.
func lockPort(path string, refuseExclusive bool) (int, error) {
	// O_NONBLOCK: do not wait for carrier; and a duplicate reads an idle
	// line in the runtime's poller (lockedPort).
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			// The tty is exclusive, which only root can open past: its
			// holder may be a member (which also holds the lock) or
			// another program.
			holders, lock := holdersOf(path, -1)
			return -1, &DeviceBusyError{Path: path, Holders: holders, Exclusive: !lock}
		}
		return -1, describeOpenError(path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		var holders []PortHolder
		if errors.Is(err, unix.EWOULDBLOCK) {
			holders, _ = holdersOf(path, fd)
		}
		unix.Close(fd) // a plain close: another descriptor is still open, nothing changes for it
		if errors.Is(err, unix.EWOULDBLOCK) {
			return -1, &DeviceBusyError{Path: path, Holders: holders}
		}
		return -1, fmt.Errorf("serial device %s: lock: %w", path, err)
	}
	if !refuseExclusive {
		return fd, nil
	}
	// Root opens past TIOCEXCL. An exclusive tty that someone else has
	// open is held by a program without the lock; a flag nobody else holds
	// the device under is stale (its holder died) and harms no one.
	if excl, err := unix.IoctlGetInt(fd, unix.TIOCGEXCL); err == nil && excl != 0 {
		if others := openers(path, fd); len(others) > 0 {
			unix.Close(fd)
			return -1, &DeviceBusyError{Path: path, Holders: others, Exclusive: true}
		}
	}
	return fd, nil
}

// lockedPort is an open serial device: the serial library's port, which set
// the line up and holds the tty exclusively, and the descriptor that holds
// the device's lock.
//
// The library's Read waits in select(2), a system call. The kernel wakes
// that thread the moment bytes come, which is the quickest path to a frame;
// but while a goroutine sits in a system call, the Go runtime's monitor
// thread cannot take its deep sleep: it polls from every 20 µs and hands
// the goroutine's processor to another thread after 10 ms. A CPU profile
// of an idle member put over a quarter of its time there. So a line that
// has gone idle (readPace) is read through a duplicate of the lock
// descriptor, which is non-blocking, as an *os.File whose reads wait in the
// runtime's poller (epoll), parked, with no thread held and nothing
// polling. Its wake-up is slower: reading a busy line that way made frames'
// latency 15 % longer at 1 k frames/s, so a busy line keeps the library's
// read, and the duplicate is closed (out of the poller, whose thread every
// byte would otherwise wake) until the line is idle again.
type lockedPort struct {
	lib    serial.Port
	lockFD int
	path   string

	// readTimeout bounds a read that gets no byte; 0 waits for one.
	readTimeout time.Duration
	// idle is the line gone idle, read in the poller; nil while busy.
	idle *os.File
}

// errHungUp is a read of a device that is gone: an adapter unplugged, the
// far end of a pty closed. The kernel reports it as end of file.
var errHungUp = errors.New("the device hung up (unplugged, or the far end of a pty closed)")

// Read returns what the line holds, waiting up to the read timeout for a
// first byte; a read that times out returns 0 bytes and no error, as the
// serial library's does.
func (p *lockedPort) Read(b []byte) (int, error) {
	if p.idle == nil {
		return p.lib.Read(b)
	}
	if p.readTimeout > 0 {
		// On the timers' grid (tickgrid): the member's other periodic work
		// wakes it at the same instants.
		now := time.Now()
		if err := p.idle.SetReadDeadline(now.Add(tickgrid.Until(now, p.readTimeout))); err != nil {
			return 0, err
		}
	}
	n, err := p.idle.Read(b)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, nil
	case errors.Is(err, io.EOF):
		// The library reports this as a closed port.
		return n, fmt.Errorf("serial device %s: %w", p.path, errHungUp)
	}
	return n, err
}

// SetReadTimeout sets how long a read waits for a first byte; readPace
// changes it.
func (p *lockedPort) SetReadTimeout(d time.Duration) error {
	if err := p.lib.SetReadTimeout(d); err != nil {
		return err
	}
	p.readTimeout = d
	return nil
}

// setIdle makes the reads wait in the runtime's poller while the line is
// idle, and in select(2) while it is busy; readPace calls it.
func (p *lockedPort) setIdle(idle bool) error {
	if !idle {
		return p.closeIdle()
	}
	if p.idle != nil || p.lockFD < 0 {
		return nil
	}
	fd, err := unix.FcntlInt(uintptr(p.lockFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("serial device %s: duplicate the descriptor: %w", p.path, err)
	}
	f := os.NewFile(uintptr(fd), p.path)
	// A descriptor the poller cannot take (every tty driver can, a
	// character device of another kind might not) takes no deadline.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return fmt.Errorf("serial device %s: cannot wait for its bytes in the runtime's poller: %w", p.path, err)
	}
	p.idle = f
	return nil
}

func (p *lockedPort) closeIdle() error {
	if p.idle == nil {
		return nil
	}
	err := p.idle.Close()
	p.idle = nil
	return err
}

// Close closes the port before it lets go of the lock, so that no other
// feedd process opens the device while this one still has it.
func (p *lockedPort) Close() error {
	err := p.lib.Close()
	if cerr := p.closeIdle(); err == nil {
		err = cerr
	}
	if p.lockFD >= 0 {
		if cerr := unix.Close(p.lockFD); err == nil {
			err = cerr
		}
		p.lockFD = -1
	}
	return err
}

// holdersOf finds the processes holding the device: those holding a flock
// on it (lock true) or, when none does, those with it open, leaving out the
// descriptor skipFD of this process.
func holdersOf(path string, skipFD int) (holders []PortHolder, lock bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, false
	}
	if pids := flockHolders(st); len(pids) > 0 {
		for _, pid := range pids {
			holders = append(holders, PortHolder{PID: pid, Command: commandLine(pid)})
		}
		return holders, true
	}
	return openers(path, skipFD), false
}

// flockHolders reads /proc/locks for the processes holding a flock on the
// inode st describes. Its lines read
//
//	1: FLOCK  ADVISORY  WRITE 1234 00:05:89 0 EOF
//
// with the device of the file system in hex and the inode in decimal; a
// waiter's line has "->" after the number.
func flockHolders(st unix.Stat_t) []int {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// maxHolders bounds the holders an error names.
const maxHolders = 4

// openers scans /proc/*/fd for the processes that have the device open,
// other than through this process's descriptor skipFD. It sees only the
// processes this user may inspect (all of them for root).
func openers(path string, skipFD int) []PortHolder {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var holders []PortHolder
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range fds {
			if pid == self && e.Name() == strconv.Itoa(skipFD) {
				continue
			}
			var fst unix.Stat_t
			if unix.Stat(dir+"/"+e.Name(), &fst) != nil || fst.Mode&unix.S_IFMT != unix.S_IFCHR || fst.Rdev != st.Rdev {
				continue
			}
			holders = append(holders, PortHolder{PID: pid, Command: commandLine(pid)})
			break
		}
		if len(holders) == maxHolders {
			break
		}
	}
	return holders
}

// commandLine returns a process's command line with its arguments separated
// by spaces, cut to a readable length; empty when it cannot be read.
func commandLine(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
