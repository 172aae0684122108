// Package link is the pair link: the transport that carries the ftpair
// core's heartbeats between the members of a group, authenticates them and
// turns connection events into the core's events.
//
// # Use
//
//	creds, err := cfg.LoadCredentials()   // the secret, or certificates
//	l, err := link.New(coreCfg.MemberID, cfg, creds, logger,
//		link.WithIdentity(ident))           // what decides frame identity
//	l.SetClockObserver(f)                  // optional: clock bounds
//	go l.Run(ctx)                          // until ctx is cancelled
//	// in the owner's loop:
//	case ev := <-l.Events():  actions := node.Step(now, ev)
//	// for each ftpair.SendHeartbeat action a:
//	l.Send(a.To, a.Heartbeat)
//
// Events are ftpair.PeerConnected (after the handshake), ftpair.HeartbeatReceived
// (authenticated, From checked against the peer, in order per connection),
// ftpair.PeerClosed (obituaries only) and ftpair.PeerRefused (an
// authenticated peer with other frame identity settings). Send never blocks: each peer has a
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
// # Frame identity
//
// A frame's identity is its feed sequence number or a fingerprint of its
// bytes, and both depend on the member's framing and sequence settings:
// two members configured differently would publish the same frame under
// different identities, duplicates nobody could see. So each member sends
// its Identity (a digest of those settings and a short description) in
// the handshake, and once the peer is authenticated, both compare: if the
// digests differ, each side refuses the other (RejectIdentity), logs an
// error naming both sides' settings (at most once per peer per 30s),
// shows the refusal in Status (IdentityRefused, PeerIdentity) and reports
// ftpair.PeerRefused to the core with For = Config.RefusalHold, so that
// the core does not take the refused peer's silence for an empty group.
// The dialer retries as usual; every refused attempt renews the refusal.
// The dialer sends its proof before it refuses, so that the acceptor can
// authenticate the dialer's identity and refuse too.
//
// # Member id clash
//
// Two members configured with one member_id would each take the other's
// commits for their own. So a dialer that reaches a member answering
// under our own id, and an acceptor dialed by a member presenting our own
// id (whichever peer it says it dialed), complete the authentication as
// usual and then refuse (RejectDuplicateID): each logs an error naming the
// id and the other's address (once per episode: a clash that has not
// stood for Config.RefusalHold starts a new one), shows it in Status
// (MemberIDClash) and reports ftpair.PeerRefused with Peer = our own id
// and For = Config.RefusalHold. In mTLS mode the certificates name the
// id, and the dialer lets a certificate naming our own id through TLS so
// that the link handshake decides, as in hmac mode.
//
// A hello that carries the nonce of one of our own hellos under way is
// not a clash but our own connection come back to our listener (a peer
// address that leads here, or a relay): it is refused before it is
// answered (RejectWrongPeer), naming the address to fix.
//
// # Clock bounds
//
// Every heartbeat message carries a timing block stamped here, at the
// edge: the sender's clock id, its send stamp y (its clock, taken last
// before sealing and writing) and, once it has received a heartbeat on the
// session, a reflection of the last one: that heartbeat's send stamp s
// (the receiver's clock) and the sender's receive stamp x of it (taken
// first after the read). The receiver stamps the arrival r on its own
// clock. Then theta = local clock - peer clock satisfies
//
//	s - x < theta < r - y
//
// (our heartbeat left at s and reached the peer at x, later; the peer's
// left at y and reached us at r, later), assuming nothing about the two
// clocks but that each is monotonic and their rates agree over a round
// trip. The lower bound is used only when s is the stamp of one of the
// last heartbeats this member sent on this session; a measurement without
// it is not reported. Each bound is passed to the function set with
// SetClockObserver as a ClockBound; one with Lo >= Hi cannot hold and is
// counted and dropped. The latest is in the peer's Status (Clock) and
// metrics. The clock is the host's monotonic clock (ingest/hostclock)
// unless WithClock says otherwise.
//
// # Wire format
//
// Every message is a frame: a big-endian uint16 length of what follows,
// then the wire version (2) and a message type, then its fields. A frame is
// at most MaxFrame (4 KiB) bytes, length included; a longer length is
// rejected before anything is read. Member ids are a length byte (1..64)
// and the bytes; an identity is a digest[32], a length byte (0..160) and
// the description.
//
//	hello     (1) dialer → acceptor: mode, dialer id, acceptor id, nonce[32], identity
//	welcome   (2) acceptor → dialer: mode, acceptor id, dialer id, nonce[32], identity, proof[32 in hmac mode]
//	proof     (3) dialer → acceptor: proof[32 in hmac mode]
//	heartbeat (4) either way: seq uint64, timing, ftpair heartbeat (MarshalBinary), tag[32 in hmac mode]
//	close     (5) either way: seq uint64, reason (1 leaving, 2 dropping), tag[32 in hmac mode]
//	repair    (6) either way: seq uint64, payload (opaque here), tag[32 in hmac mode]
//
// The timing block is the sender's clock id (uint64), y (int64), a flags
// byte (1: a reflection follows), then s and x (int64) if reflected, all
// big-endian. Frames of an older version are rejected as RejectVersion:
// both members must speak version 3.
//
// # Repair messages
//
// The link also carries the repair messages of the members' pipelines
// (SendRepair, WithRepairHandler): sealed and sequenced like heartbeats,
// queued per session (a full queue drops the message, which the pipeline
// then treats as unanswered), written after any heartbeat waiting, and
// handed to the handler in the order they came.
//
// # Authentication
//
// auth: hmac (default). Members share a secret (pair.secret_file or
// pair.secret_env). Each side of a connection contributes a fresh random
// nonce. With T = "feedd pair link v2" || mode || dialer id || acceptor id
// || dialer nonce || acceptor nonce || dialer identity || acceptor
// identity and H(label) = HMAC-SHA-256(secret, label || 0x00 || T), the
// acceptor's proof is H("welcome") and the dialer's is H("proof"), so each
// side proves it knows the secret, bound to both nonces, both ids and both
// identities: whoever changes an identity in transit breaks the proofs
// (RejectMAC). The session's keys are H("key dialer-acc") and
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
// (identities included) and sequence numbers are the same, without proofs
// and tags: TLS protects them.
//
// In both modes the acceptor rejects a hello addressed to another member
// or from a member not in pair.peers, the dialer rejects a welcome from a
// member other than the one it dialed, and every heartbeat's From must be
// the authenticated peer. Rejections are counted by reason (RejectReasons)
// and logged (rate-limited), never with the secret.
package link
