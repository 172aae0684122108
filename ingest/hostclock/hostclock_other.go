//go:build !linux

package hostclock

import (
	"crypto/rand"
	"time"
)

var start = time.Now()

// Now returns the time since this process started, in nanoseconds, plus one
// second (so that 0 never means a stamp): without a host-wide monotonic
// clock, each process has its own, named by its own random ID.
func Now() int64 { return int64(time.Since(start)) + int64(time.Second) }

func clockIdentity() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}
