package hostclock

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

var (
	idOnce sync.Once
	id     uint64
)

// ID names the clock Now reads: the same in every process on the host until
// it reboots, different on another host or after a reboot. It is never 0.
func ID() uint64 {
	idOnce.Do(func() {
		id = xxhash.Sum64(clockIdentity())
		if id == 0 {
			id = 1
		}
	})
	return id
}
