// Package link is the pair link: the transport that carries the ftpair
// core's heartbeats between the members of a group, authenticates them and
// turns connection events into the core's events.
//
// # Use
//
//	creds, err := cfg.LoadCredentials()   // the secret, or certificates
//	l, err := link.New(coreCfg.MemberID, cfg, creds, logger)
//	go l.Run(ctx)                          // until ctx is cancelled
//	// in the owner's loop:
//	case ev := <-l.Events():  actions := node.Step(now, ev)
//	// for each ftpair.SendHeartbeat action a:
//	l.Send(a.To, a.Heartbeat)
//
// Events are ftpair.PeerConnected (after the handshake), ftpair.HeartbeatReceived
// (authenticated, From checked against the peer, in order per connection)
// and ftpair.PeerClosed (obituaries only). Send never blocks: each peer has a
// bounded queue (pair.send_queue) that drops its oldest heartbeat when full;
// heartbeats for a peer that is not connected are dropped. Both are counted.
// The Link is a prometheus.Collector (metrics feedd_pair_link_*) and Status
// is a snapshot for /status.
//
// # Who dials
//
// Every member listens on pair.listen. Of two members, the one whose member
// id is lower (byte-wise) dials the other and redials with capped, jittered
// exponential backoff (pair.reconnect_min to pair.reconnect_max) whenever
// the connection is down; the higher one only accepts, and rejects a dial
// from a peer it should dial itself (RejectWrongPeer). So there is one
// connection per pair and no race between two crossing dials. If an
// accepted connection authenticates while one from the same peer is still
// up (the peer restarted on a host whose old socket never closed, or it
// gave up on a stuck connection), the newest wins and the old one is
// dropped, which is not an obituary.
//
// # Obituaries
//
// The core treats ftpair.PeerClosed as the peer's death and acts at once,
// so the link reports it only when the peer's end closed: end of stream or
// a reset on a connection that carried a message within
// pair.obituary_window, or a close notice saying the member is leaving.
// It never reports:
//
//   - a connection this member drops: bad input, a write that timed out, a
//     newer connection from the same peer, its own shutdown;
//   - a connection the peer drops while staying up (its close notice says
//     so);
//   - failed dials and handshakes (the peer was not connected);
//   - silence: there are no read timeouts and TCP keepalive is off;
//     silence is the core's to judge from missing heartbeats;
//   - an end of stream or reset after more than pair.obituary_window of
//     silence: a kernel that gave up retransmitting while the link was cut
//     answers with a reset when it comes back, which says nothing about the
//     peer's process (and the core has judged the silence already).
//
// Before closing a connection on purpose, a member sends a close notice
// (sealed like any message): "leaving" when it shuts down (Run's context
// cancelled: the peer reports the obituary at once), "dropping" otherwise.
// A process that dies sends nothing; its kernel closes the socket.
// TCP_NODELAY is on.
//
// # Wire format
//
// Every message is a frame: a big-endian uint16 length of what follows,
// then the wire version (1) and a message type, then its fields. A frame is
// at most MaxFrame (4 KiB) bytes, length included; a longer length is
// rejected before anything is read. Member ids are a length byte (1..64)
// and the bytes.
//
//	hello     (1) dialer → acceptor: mode, dialer id, acceptor id, nonce[32]
//	welcome   (2) acceptor → dialer: mode, acceptor id, dialer id, nonce[32], proof[32 in hmac mode]
//	proof     (3) dialer → acceptor: proof[32 in hmac mode]
//	heartbeat (4) either way: seq uint64, ftpair heartbeat (MarshalBinary), tag[32 in hmac mode]
//	close     (5) either way: seq uint64, reason (1 leaving, 2 dropping), tag[32 in hmac mode]
//
// # Authentication
//
// auth: hmac (default). Members share a secret (pair.secret_file or
// pair.secret_env). Each side of a connection contributes a fresh random
// nonce. With T = "feedd pair link v1" || mode || dialer id || acceptor id
// || dialer nonce || acceptor nonce and H(label) = HMAC-SHA-256(secret,
// label || 0x00 || T), the acceptor's proof is H("welcome") and the
// dialer's is H("proof"), so each side proves it knows the secret, bound to
// both nonces and both ids. The session's keys are H("key dialer-acc") and
// H("key acc-dialer"), one per direction. Every heartbeat and close message
// carries a sequence number that starts at 1 and grows by one per message
// in its direction, and a tag: HMAC-SHA-256 under the direction's key over
// the whole frame before the tag (length prefix included). A message with
// a tag that does not verify (forged, or replayed from another session,
// whose keys differ) is RejectMAC; one whose number is not exactly the next
// (replayed or reordered within the session) is RejectReplay. Either drops
// the session. Anyone holding the shared secret can claim any member id;
// use mtls to bind identities to keys.
//
// auth: mtls. The connection is TLS 1.3; both sides present certificates
// that must chain to pair.tls.ca_file, and the certificate must name the
// member id it is used for (Subject CommonName or a DNS name, exact): the
// dialer checks the acceptor's against the peer it dialed, the acceptor
// checks the dialer's against the id in its hello. The handshake messages
// and sequence numbers are the same, without proofs and tags.
//
// In both modes the acceptor rejects a hello addressed to another member
// or from a member not in pair.peers, the dialer rejects a welcome from a
// member other than the one it dialed, and every heartbeat's From must be
// the authenticated peer. Rejections are counted by reason (RejectReasons)
// and logged (rate-limited), never with the secret.
package link
