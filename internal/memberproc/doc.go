// Package memberproc runs one `feedd run` process and watches it from the
// outside, as an operator would: it starts the binary with its output in a
// log file, signals it (kill -9, SIGSTOP and SIGCONT, SIGTERM then SIGKILL
// after a grace), waits for it, and reads its /status through the admin
// endpoint until a condition holds. The demo, feedd-bench and the
// end-to-end tests drive their members through it.
//
// It must never reach into the member's process other than through
// signals and the admin endpoint, and never leave a process or goroutine
// behind that nobody waits for: every process it starts is reaped by one
// goroutine, which Wait, Kill and Stop wait for.
package memberproc
