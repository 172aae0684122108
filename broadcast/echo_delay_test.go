package broadcast

import (
	"sync"
	"sync/atomic"
	"time"
)

// echoDelays holds how long each pipeline's echo consumer waits before it
// hands over a batch (*Pipeline → *atomic.Int64, nanoseconds): a slow echo,
// which the handover tests use to have echoes reach a member during its
// catch-up.
var echoDelays sync.Map

func init() {
	echoRead = func(p *Pipeline) {
		if d, ok := echoDelays.Load(p); ok {
			if n := d.(*atomic.Int64).Load(); n > 0 {
				time.Sleep(time.Duration(n))
			}
		}
	}
}

// setEchoDelay delays each echo batch of p by d from now on (0: none).
func (p *Pipeline) setEchoDelay(d time.Duration) {
	v, _ := echoDelays.LoadOrStore(p, new(atomic.Int64))
	v.(*atomic.Int64).Store(int64(d))
}
