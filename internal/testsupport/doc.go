// Package testsupport holds the few helpers that the tests of several
// packages need alike: the logger of the code under test, a buffer a
// process or goroutine writes while the test reads it, an address nothing listens on, a file read or the test
// failed, a poll for a condition with a deadline, and a randomised test's
// replayable seed.
//
// It is test support: production code never imports it, and nothing it
// starts (Serve's listener and its goroutine) outlives the test.
package testsupport
