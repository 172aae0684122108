//go:build linux

package serialsim

import (
	"os"
	"syscall"
	"unsafe"
)

// ptyInputQueued returns how many bytes wait in the input queue of the pty
// slave f, that is, bytes socat delivered that no reader has taken yet.
//
// It first polls f without waiting: the line discipline's poll flushes
// bytes still in the kernel's flip buffers into the input queue, which the
// TIOCINQ ioctl alone would not count.
func ptyInputQueued(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		type pollFd struct {
			fd      int32
			events  int16
			revents int16
		}
		pfd := pollFd{fd: int32(fd), events: 0x1} // POLLIN
		var ts syscall.Timespec                   // zero: do not wait
		_, _, _ = syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
