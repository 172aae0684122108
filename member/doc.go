// Package member is one feedd member's life as the rest of the world sees
// it: the /status document every reader decodes (the daemon writes it,
// `feedd status`, `feedd switchover`, the demo, the benchmarks and the
// end-to-end tests read it).
//
// It must never hold a secret: the statuses it embeds are built to exclude
// credentials, and nothing here adds one.
package member
