package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/ingest/framing"
	"github.com/feedd/feedd/internal/testsupport"
	"golang.org/x/sys/unix"
)

// openPTY allocates a kernel pseudo-terminal and returns its master and the
// path of its slave, the device under test.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr == nil {
			n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// slaveTermios reads the settings of the pty's slave through its master (the
// kernel answers TCGETS on a master with its slave's settings), which works
// while the slave is exclusive.
func slaveTermios(t *testing.T, master *os.File) *unix.Termios {
	t.Helper()
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var tio *unix.Termios
	var ioErr error
	if err := rc.Control(func(fd uintptr) { tio, ioErr = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); err != nil {
		t.Fatal(err)
	}
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	return tio
}

// openAsOther opens the device read-only as another program would, never
// as its controlling terminal; busy reports the EBUSY an exclusive tty
// gives a user other than root.
func openAsOther(t *testing.T, path string) (fd int, busy bool) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EBUSY) {
		return -1, true
	}
	if err != nil {
		t.Fatal(err)
	}
	return fd, false
}

// lockedByOther reports whether another open file holds the device's flock:
// root respects it, unlike TIOCEXCL.
func lockedByOther(t *testing.T, path string) bool {
	t.Helper()
	fd, busy := openAsOther(t, path)
	if busy {
		// Not root, and the tty is exclusive: ask /proc/locks instead.
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return len(flockHolders(st)) > 0
	}
	defer unix.Close(fd)
	err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		unix.Flock(fd, unix.LOCK_UN)
		return false
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatal(err)
	}
	return true
}

// exclusive reports whether the tty is exclusive (TIOCEXCL): for a user
// other than root a plain open fails with EBUSY, root can ask the flag.
func exclusive(t *testing.T, path string) bool {
	t.Helper()
	fd, busy := openAsOther(t, path)
	if busy {
		return true
	}
	defer unix.Close(fd)
	excl, err := unix.IoctlGetInt(fd, unix.TIOCGEXCL)
	if err != nil {
		t.Fatal(err)
	}
	return excl != 0
}

func expectBusy(t *testing.T, err error, path string, exclusive bool) {
	t.Helper()
	var busy *DeviceBusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrDeviceBusy) {
		t.Fatalf("open of a held device: %v; want a DeviceBusyError", err)
	}
	if busy.Path != path || busy.Exclusive != exclusive {
		t.Fatalf("busy error for %q, exclusive %v; want %q, %v", busy.Path, busy.Exclusive, path, exclusive)
	}
	self := fmt.Sprintf("pid %d (", os.Getpid())
	if len(busy.Holders) != 1 || busy.Holders[0].PID != os.Getpid() || !strings.Contains(err.Error(), self) ||
		!strings.Contains(err.Error(), filepath.Base(os.Args[0])) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q, holders %+v: want it to name the device and this process (%s...)", err, busy.Holders, self)
	}
}

// A member holds its port; a probe, or a second member, opening it through
// any path fails at once naming the member, and the member keeps its lock,
// its exclusive tty and its bytes.
func TestSecondOpenOfAHeldPortFailsNamingTheHolder(t *testing.T) {
	master, pts := openPTY(t)
	link := filepath.Join(t.TempDir(), "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")
	if err := os.Symlink(pts, link); err != nil {
		t.Fatal(err)
	}
	member, err := OpenSerial(SerialConfig{Device: link, ReadTimeout: 50 * time.Millisecond}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	if !lockedByOther(t, pts) || !exclusive(t, pts) {
		t.Fatal("an open port does not hold the device's lock and exclusive tty")
	}

	for _, path := range []string{pts, link} {
		for name, open := range map[string]OpenFunc{"probe": OpenSerialMarked, "member": OpenSerial} {
			p, err := open(SerialConfig{Device: path, FlowControl: "rtscts"}.WithDefaults())
			if err == nil {
				p.Close()
				t.Fatalf("%s open of %s succeeded while a member holds it", name, path)
			}
			expectBusy(t, err, path, false)
		}
	}

	if !lockedByOther(t, pts) {
		t.Fatal("after the failed opens the member no longer holds the lock")
	}
	if !exclusive(t, pts) {
		t.Fatal("after the failed opens the tty is no longer exclusive")
	}
	if slaveTermios(t, master).Cflag&unix.CRTSCTS != 0 {
		t.Fatal("a failed open changed the member's line settings")
	}
	// The member still reads every byte.
	want := []byte("$GPZDA,1*00\r\n")
	if _, err := master.Write(want); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64)
	waitFor(t, "the member to read what the line carried", func() bool {
		n, err := member.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
		return len(got) >= len(want)
	})
	if !bytes.Equal(got, want) {
		t.Fatalf("member read %q; want %q", got, want)
	}

	// Closing the port lets go of the lock: the next open succeeds.
	if err := member.Close(); err != nil {
		t.Fatal(err)
	}
	if lockedByOther(t, pts) {
		t.Fatal("a closed port still holds the lock")
	}
	p, err := OpenSerialMarked(SerialConfig{Device: pts, FlowControl: "rtscts"}.WithDefaults())
	if err != nil {
		t.Fatalf("open after the member closed the port: %v", err)
	}
	defer p.Close()
	if slaveTermios(t, master).Cflag&unix.CRTSCTS == 0 {
		t.Fatal("flow_control rtscts: CRTSCTS is not set on the tty; the settings check above proves nothing")
	}
}

// A member killed with SIGKILL leaves its tty exclusive while anything else
// keeps it open (the simulator's socat does, for a pty): its restart, as
// root, must open the port. A probe, which cannot tell that from a program
// holding the tty, refuses and names who has it open.
func TestOpenOfAPortLeftExclusiveByACrashedMember(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root opens past TIOCEXCL")
	}
	_, pts := openPTY(t)
	other, err := unix.Open(pts, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	crashed, err := OpenSerial(SerialConfig{Device: pts}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	// What SIGKILL leaves: the lock goes with the descriptors, the flag stays.
	lp := crashed.(*lockedPort)
	unix.Close(lp.lockFD)
	lp.lockFD = -1
	if !exclusive(t, pts) {
		t.Fatal("the port is not exclusive; the test proves nothing")
	}
	defer crashed.Close() // clears the flag after the test

	_, err = OpenSerialMarked(SerialConfig{Device: pts}.WithDefaults())
	expectBusy(t, err, pts, true)
	p, err := OpenSerial(SerialConfig{Device: pts}.WithDefaults())
	if err != nil {
		t.Fatalf("restarted member: %v", err)
	}
	p.Close()
}

// A program other than feedd that took the tty exclusively, without the
// lock, keeps it too: root could open past TIOCEXCL, and the serial
// library's Close would then clear it.
func TestOpenOfAPortAnotherProgramHoldsExclusivelyFails(t *testing.T) {
	_, pts := openPTY(t)
	fd, err := unix.Open(pts, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		t.Fatal(err)
	}
	p, err := OpenSerialMarked(SerialConfig{Device: pts}.WithDefaults())
	if err == nil {
		p.Close()
		t.Fatal("open of a tty another program holds exclusively succeeded")
	}
	expectBusy(t, err, pts, true)
	if !exclusive(t, pts) {
		t.Fatal("after the failed open the tty is no longer exclusive")
	}
	if lockedByOther(t, pts) {
		t.Fatal("the failed open left the lock held")
	}
}

// A member whose port another process holds says so in its log, keeps
// retrying, and reads once the holder lets go.
func TestSourceWaitsForAHeldPort(t *testing.T) {
	master, pts := openPTY(t)
	holder, err := OpenSerial(SerialConfig{Device: pts}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	var logs testsupport.SyncBuffer
	sc := SerialConfig{Device: pts, ReadTimeout: 20 * time.Millisecond, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}
	src, err := NewSource(sc, framing.Config{Mode: "lines"}, SequenceConfig{}, SourceOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.Run(ctx, func(f *Frame) { frames <- string(f.Data) })
	}()
	defer func() { cancel(); <-done }()

	waitFor(t, "open failures while the port is held", func() bool { return src.Health().OpenFailures >= 3 })
	if h := src.Health(); h.Connected {
		t.Fatalf("source connected to a port another process holds: %+v", h)
	}
	log := logs.String()
	for _, w := range []string{"serial device in use by another process", fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(log, w) {
			t.Fatalf("log does not say %q:\n%s", w, log)
		}
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source to open the released port", func() bool { return src.Health().Connected })
	// A line framer drops the first line after an open: it may be cut.
	if _, err := master.Write([]byte("cut\nhello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-frames:
		if f != "hello" {
			t.Fatalf("frame %q; want hello", f)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no frame after the source opened the released port")
	}
}
