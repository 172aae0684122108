// Package childproc reaps a started child process in one goroutine and
// stops it the way every harness in feedd does: SIGTERM, a grace, then
// SIGKILL. memberproc's members, serialsim's socat and kafkatest's broker
// share it, so that each has one place that knows when its process is
// gone.
//
// It never starts a process (its caller sets up the command, its pipes and
// its process group) and never calls Wait anywhere but in the reaper, so
// that a process is reaped exactly once.
package childproc
