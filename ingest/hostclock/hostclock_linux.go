package hostclock

import (
	"crypto/rand"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Now returns CLOCK_MONOTONIC in nanoseconds: the time since the host
// booted, slewed but never stepped by time synchronisation.
func Now() int64 {
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
