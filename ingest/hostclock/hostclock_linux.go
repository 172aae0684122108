package hostclock

import (
	"crypto/rand"
	"os"
	"time"
	_ "unsafe" // go:linkname, for the runtime's clock

	"golang.org/x/sys/unix"
)

// Now returns CLOCK_MONOTONIC in nanoseconds: the time since the host
// booted, slewed but never stepped by time synchronisation.
//
// It is read for every port read, so it reads the clock the way the Go
// runtime does, through the vDSO, rather than with a system call (which
// was a tenth of an active member's CPU at full speed), once a start-up
// check has shown the two to be the same clock.
func Now() int64 {
	if runtimeIsMonotonic {
		return runtimeNanotime()
	}
	return syscallNow()
}

// runtimeNanotime is the Go runtime's clock: CLOCK_MONOTONIC read through
// the vDSO on Linux. The runtime keeps it reachable by name for packages
// outside it.
//
//go:linkname runtimeNanotime runtime.nanotime
func runtimeNanotime() int64

// runtimeIsMonotonic is whether runtimeNanotime reads CLOCK_MONOTONIC:
// the runtime's source says so for Linux, and a start-up check brackets a
// reading of it between two readings made with system calls, so that a
// runtime built with a faked clock, or one that changed its clock, falls
// back to the system call rather than stamp frames on another clock.
var runtimeIsMonotonic = bracketed(syscallNow, runtimeNanotime)

// bracketed reports whether a reading of fast falls between two readings
// of slow less than a millisecond apart, in up to three tries (a thread
// preempted between the readings fails a try, not the check).
func bracketed(slow, fast func() int64) bool {
	for range 3 {
		a := slow()
		b := fast()
		c := slow()
		if a <= b && b <= c && c-a < int64(time.Millisecond) {
			return true
		}
	}
	return false
}

func syscallNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC exists on every Linux feedd runs on; if it
		// did not, no stamp could be trusted.
		panic("hostclock: CLOCK_MONOTONIC: " + err.Error())
	}
	return ts.Nano()
}

// clockIdentity is the kernel's boot id, which changes exactly when
// CLOCK_MONOTONIC restarts from zero. Containers share it with the host, as
// they share the clock. Without it, the id is random for this process (and
// stamps of other processes on the host are then treated as another host's).
func clockIdentity() []byte {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil && len(b) > 0 {
		return b
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return append(b, []byte(time.Now().String())...)
}
