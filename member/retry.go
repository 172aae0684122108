package member

import (
	"log/slog"
	"math/rand/v2"
	"time"
)

// maxActivationRetry caps the delay between a member's attempts to
// activate after failures. Long enough that a member whose activations
// Kafka keeps refusing makes a couple of attempts a minute, short enough
// that it is back within half a minute of a fix nothing else signals. (A
// member whose echo consumer cannot reach Kafka at all does not try: it is
// not ready until Kafka answers again, see Member.observe.)
const maxActivationRetry = 30 * time.Second

// activationBackoff spaces the attempts to activate after failures: the
// n-th failure in a row asks for a delay drawn from [d/2, d], d = min·2^(n-1)
// capped at max. The jitter keeps two members that fail together from
// retrying in step.
type activationBackoff struct {
	min, max time.Duration
	rand     func() float64 // in [0, 1); nil: math/rand/v2
	failures int            // in a row, since the last success or reset
}

// failed counts a failure and returns how long to wait before the next
// attempt.
func (b *activationBackoff) failed() time.Duration {
	b.failures++
	d := b.max
	if shift := b.failures - 1; shift < 30 && b.min<<shift < b.max {
		d = b.min << shift
	}
	r := b.rand
	if r == nil {
		r = rand.Float64
	}
	return d/2 + time.Duration(r()*float64(d/2))
}

// reset starts the next failure from the minimum again.
func (b *activationBackoff) reset() { b.failures = 0 }

// failureLog logs a failure that repeats (each failed activation while
// Kafka cannot be reached, say): the first of a run always, then at most
// once every interval with the count of those not logged, and the end of the
// run always.
type failureLog struct {
	every   time.Duration
	run     int       // failures in the current run
	logged  time.Time // when one was last logged
	skipped int       // not logged since
}

// failure reports whether this failure is to be logged, with how many
// were left out since the last one logged.
func (f *failureLog) failure(now time.Time) (skipped int, log bool) {
	f.run++
	if f.run > 1 && now.Sub(f.logged) < f.every {
		f.skipped++
		return 0, false
	}
	skipped, f.skipped, f.logged = f.skipped, 0, now
	return skipped, true
}

// recovered ends the run and returns how many failures it had (0: none,
// nothing to report).
func (f *failureLog) recovered() int {
	n := f.run
	f.run, f.skipped = 0, 0
	return n
}

// logFailure writes one failure of a run through f.
func logFailure(log *slog.Logger, f *failureLog, msg string, now time.Time, args ...any) {
	skipped, ok := f.failure(now)
	if !ok {
		return
	}
	args = append(args, "failures_in_a_row", f.run)
	if skipped > 0 {
		args = append(args, "not_logged", skipped)
	}
	if f.run == 1 {
		log.Error(msg, args...)
	} else {
		log.Warn(msg, args...)
	}
}
