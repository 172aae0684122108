// Package testsupport holds the few helpers that the tests of several
// packages need alike: a buffer a process or goroutine writes while the
// test reads it, an address nothing listens on, a file read or the test
// failed, a poll for a condition with a deadline, and a randomised test's
// replayable seed.
//
// It is test support: production code never imports it, and it never
// starts a process, a listener or a goroutine that outlives the call.
package testsupport
