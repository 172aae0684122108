// Package transcript runs the transcript tests of feedd's deterministic
// cores (ftpair's pair protocol, broadcast's activation sequence): files in
// a package's testdata/ that read as a session, each command followed by
// what the core did.
//
//	# comments and blank lines between blocks are kept as they are
//	command arg key=value ...
//	----
//	expected output, one line per action or note
//	(a blank line ends the block)
//
// A test supplies what a command does and what it prints; Run checks each
// block's output against the file, or, with go test -update, writes the
// output into the file. It is for tests only, and never decides what a
// command means.
package transcript
