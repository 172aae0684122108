package link

import (
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"
)

// IdentityDigestLen is the size of Identity.Digest.
const IdentityDigestLen = 32

// MaxIdentityDescription bounds Identity.Description on the wire, in bytes;
// a longer one is cut.
const MaxIdentityDescription = 160

// refusalRepeats is how many of the dialer's retry cycles a refusal stands
// for (see Config.RefusalHold).
const refusalRepeats = 3

// Identity is what decides the identity of the frames a member publishes:
// a digest of the settings (framing mode and options, sequence extractor,
// identity scheme version) and a short description of them in words, for
// error messages. The owner computes both from its configuration and
// passes them with WithIdentity. Members whose digests differ refuse to
// pair: they would publish the same frame under different identities.
//
// Both are carried in the handshake and bound into its authentication (the
// HMAC transcript, or the TLS session), and compared only once the peer is
// authenticated.
type Identity struct {
	Digest      [IdentityDigestLen]byte
	Description string
}

// description is the description as sent: cut to MaxIdentityDescription
// bytes, on a character boundary.
func (id Identity) description() string {
	d := id.Description
	if len(d) <= MaxIdentityDescription {
		return d
	}
	d = d[:MaxIdentityDescription]
	for len(d) > 0 && !utf8.ValidString(d) {
		d = d[:len(d)-1]
	}
	return d
}

// short is the first bytes of the digest in hexadecimal, for logs.
func (id Identity) short() string { return hex.EncodeToString(id.Digest[:6]) }

// String is the description and the digest's prefix.
func (id Identity) String() string {
	return fmt.Sprintf("%q (digest %s)", id.description(), id.short())
}

// identityMismatch is the detail of a RejectIdentity rejection: both
// sides' settings, authenticated.
type identityMismatch struct {
	peer         string
	theirs, ours Identity
}

func (m *identityMismatch) Error() string {
	s := fmt.Sprintf("refusing peer %s: its frame identity is %q, ours is %q; "+
		"the two members would publish the same frames under different identities",
		m.peer, m.theirs.description(), m.ours.description())
	if m.theirs.description() == m.ours.description() {
		s += fmt.Sprintf(" (the descriptions agree, the digests do not: %s, ours %s)", m.theirs.short(), m.ours.short())
	}
	return s
}

// checkIdentity compares an authenticated peer's identity with ours.
func checkIdentity(peer string, theirs, ours Identity) error {
	if theirs.Digest == ours.Digest {
		return nil
	}
	m := &identityMismatch{peer: peer, theirs: theirs, ours: ours}
	return &rejectError{reason: RejectIdentity, msg: "frame identity", err: m}
}

// RefusalHold is how long a refusal of a peer for its frame identity
// stands (ftpair.PeerRefused.For, and PeerStatus.IdentityRefused): three
// of the dialer's slowest retry cycles (reconnect_max, plus a dial and a
// handshake that time out). Both members refuse at each retry, so while
// the misconfigured peer runs, the refusal is renewed long before it
// lapses; once it has lapsed, the peer is gone. Members of a pair should
// share these settings.
func (c Config) RefusalHold() time.Duration {
	c = c.WithDefaults()
	return refusalRepeats * (c.ReconnectMax + c.DialTimeout + c.HandshakeTimeout)
}

// Option sets what a Link takes besides its Config. Each option's
// documentation states its default.
type Option interface{ apply(*Link) }

type optionFunc func(*Link)

func (f optionFunc) apply(l *Link) { f(l) }

// WithIdentity sets this member's frame identity, sent in every handshake
// and compared with the peer's. Default: the zero Identity, which only
// members without an identity share.
func WithIdentity(id Identity) Option {
	return optionFunc(func(l *Link) { l.ident = id })
}

// WithRepairHandler sets the function that receives repair messages from
// peers (see SendRepair), in the peer's reader goroutine: it must copy
// payload and not block. Without one, repair messages are dropped.
func WithRepairHandler(f func(from string, payload []byte)) Option {
	return optionFunc(func(l *Link) { l.repairFn = f })
}

// WithClock sets the clock the link stamps heartbeats with and its id
// (what the peer's ClockBound.Clock will name). now must be monotonic, in
// nanoseconds. Default: the host's monotonic clock (ingest/hostclock: Now
// and ID), the one ingest stamps arrivals with.
func WithClock(now func() int64, id uint64) Option {
	return optionFunc(func(l *Link) { l.now, l.clockID = now, id })
}
