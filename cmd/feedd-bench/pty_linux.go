//go:build linux

package main

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// pty is one kernel pseudo-terminal: the benchmark writes frames into its
// master and a member opens its slave (Path) as its serial port.
//
// It is a plain pty rather than the simulator's socat pair on purpose: the
// latency benchmark times the moment a frame's last byte enters the pty the
// member reads, and the throughput benchmark must not be held back by a
// relay process and its per-transfer log, which the simulator needs for its
// own accounting.
type pty struct {
	master *os.File
	// hold is a descriptor of the slave that keeps the terminal alive (and
	// its queued bytes) while no member has it open, e.g. between a member's
	// crash and its restart. It is never read.
	hold *os.File
	Path string
}

// openPTY allocates a pseudo-terminal in raw mode, echo off.
func openPTY() (*pty, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	p := &pty{master: m}
	fail := func(err error) (*pty, error) {
		p.Close()
		return nil, err
	}
	// Through SyscallConn: File.Fd would switch the master to blocking
	// mode, and its writes then ignore deadlines.
	rc, err := m.SyscallConn()
	if err != nil {
		return fail(err)
	}
	var n int
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr != nil {
			ioErr = fmt.Errorf("unlocking the pty: %w", ioErr)
			return
		}
		if n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); ioErr != nil {
			ioErr = fmt.Errorf("pty number: %w", ioErr)
		}
	}); err != nil {
		return fail(err)
	}
	if ioErr != nil {
		return fail(ioErr)
	}
	p.Path = fmt.Sprintf("/dev/pts/%d", n)
	if p.hold, err = os.OpenFile(p.Path, os.O_RDONLY|syscall.O_NOCTTY, 0); err != nil {
		return fail(fmt.Errorf("opening %s: %w", p.Path, err))
	}
	if err := makeRaw(int(p.hold.Fd())); err != nil {
		return fail(fmt.Errorf("%s: raw mode: %w", p.Path, err))
	}
	return p, nil
}

// makeRaw applies cfmakeraw's settings: no echo (the master would otherwise
// get every byte back and, unread, block), no line editing, 8 bits.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// releaseExclusive clears the exclusive mode a member's serial library
// sets on the terminal (TIOCEXCL): the held descriptor keeps the terminal
// open across a member's crash, so the flag would outlive the member and
// refuse its restart (for a user without CAP_SYS_ADMIN).
func (p *pty) releaseExclusive() error {
	return unix.IoctlSetInt(int(p.hold.Fd()), unix.TIOCNXCL, 0)
}

// Close closes both ends: a member reading the slave sees the line hang up.
func (p *pty) Close() {
	if p.hold != nil {
		p.hold.Close()
	}
	if p.master != nil {
		p.master.Close()
	}
}
