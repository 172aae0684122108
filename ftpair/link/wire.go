package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/feedd/feedd/ftpair"
)

// Wire constants. See the package documentation for the message layouts.
const (
	// WireVersion is the second byte of every frame (after the length).
	// Version 2 added the frame identity to the handshake and the timing
	// block to heartbeats; version 3 the repair message.
	WireVersion = 3
	// MaxFrame bounds a frame, length prefix included. A longer length
	// prefix is rejected before anything is read or allocated.
	MaxFrame = 4096

	headerLen = 2           // big-endian uint16: length of the rest of the frame
	nonceLen  = 32          // random bytes each side contributes to a handshake
	macLen    = sha256.Size // HMAC-SHA-256 tag
	seqLen    = 8           // big-endian uint64 sequence number
	maxIDLen  = ftpair.MaxMemberIDLen
	sealedMin = 2 + seqLen // version, type, seq: the fixed part of a sealed message

	// timingMin and timingMax are the sizes of a heartbeat's timing block
	// without and with a reflection: clock id, send stamp, flags
	// [, reflected send stamp, receive stamp].
	timingMin = 8 + 8 + 1
	timingMax = timingMin + 8 + 8
)

// msgType is the third byte of a frame.
type msgType byte

const (
	msgHello     msgType = 1 // dialer → acceptor, first message
	msgWelcome   msgType = 2 // acceptor → dialer
	msgProof     msgType = 3 // dialer → acceptor, ends the handshake
	msgHeartbeat msgType = 4 // either way, sealed
	msgClose     msgType = 5 // either way, sealed: the sender is closing
	msgRepair    msgType = 6 // either way, sealed: a repair message, opaque to the link
)

// MaxRepairPayload is the largest repair message SendRepair carries.
const MaxRepairPayload = maxPayload

// authMode is the authentication mode, carried in the handshake and bound
// into its MACs.
type authMode byte

const (
	modeHMAC authMode = 1
	modeMTLS authMode = 2
)

func (m authMode) macLen() int {
	if m == modeHMAC {
		return macLen
	}
	return 0
}

// Close notices: the sender of a close message says why it is closing.
const (
	// closeLeaving: the member is shutting down. The receiver reports an
	// obituary at once.
	closeLeaving byte = 1
	// closeDropping: the member drops this connection but stays (bad
	// input, a newer connection replaced it, a write failed). The receiver
	// reports no obituary; the dialer reconnects.
	closeDropping byte = 2
)

// RejectReason says why the link refused input. Each reason is a label of
// feedd_pair_link_rejected_total.
type RejectReason string

// The reasons input is rejected. A rejection in the handshake closes the
// connection; a rejection in a session drops the session (which is never
// reported as an obituary).
const (
	// RejectOversized: a length prefix above MaxFrame.
	RejectOversized RejectReason = "oversized"
	// RejectTruncated: the connection ended inside a frame.
	RejectTruncated RejectReason = "truncated"
	// RejectVersion: a frame or heartbeat of an unknown wire version.
	RejectVersion RejectReason = "bad_version"
	// RejectMalformed: an empty frame, an unexpected message type, fields
	// that do not parse or a heartbeat that does not decode.
	RejectMalformed RejectReason = "malformed"
	// RejectMAC: a handshake proof or message tag that does not verify
	// (wrong secret, forgery, a message replayed into another session).
	RejectMAC RejectReason = "bad_mac"
	// RejectReplay: a sequence number other than the next one expected in
	// the session (a replayed or reordered message).
	RejectReplay RejectReason = "replay"
	// RejectUnknownPeer: a member id that is not in pair.peers.
	RejectUnknownPeer RejectReason = "unknown_peer"
	// RejectWrongPeer: an identity that does not match: a heartbeat whose
	// From is not the authenticated peer, a handshake addressed to another
	// member, a peer answering under another id, a certificate naming
	// another id, a peer dialing although this member dials it, or this
	// member's own hello come back to its listener.
	RejectWrongPeer RejectReason = "wrong_peer"
	// RejectMode: the peer uses the other authentication mode.
	RejectMode RejectReason = "wrong_mode"
	// RejectTLS: the TLS handshake failed (no certificate, unknown CA,
	// expired, not TLS at all).
	RejectTLS RejectReason = "tls"
	// RejectIncomplete: the connection closed, failed or timed out before
	// the handshake completed.
	RejectIncomplete RejectReason = "incomplete"
	// RejectBusy: a connection whose handshake had not ended, one of
	// maxPendingHandshakes (the oldest of the busiest host's), closed to
	// make room for a newer one.
	RejectBusy RejectReason = "busy"
	// RejectIdentity: an authenticated peer whose frame identity settings
	// (framing, sequence extractor, identity scheme) differ from ours: the
	// two members would publish the same frames under different
	// identities. Both sides refuse and report ftpair.PeerRefused.
	RejectIdentity RejectReason = "identity"
	// RejectDuplicateID: the other side of an authenticated handshake
	// presents this member's own member id: two members were configured
	// with one member_id. Both sides refuse and report ftpair.PeerRefused
	// naming their own id.
	RejectDuplicateID RejectReason = "duplicate_member_id"
)

// numRejectReasons is len(RejectReasons).
const numRejectReasons = 14

// RejectReasons lists every RejectReason, in a fixed order.
var RejectReasons = []RejectReason{
	RejectOversized, RejectTruncated, RejectVersion, RejectMalformed, RejectMAC, RejectReplay,
	RejectUnknownPeer, RejectWrongPeer, RejectMode, RejectTLS, RejectIncomplete, RejectBusy,
	RejectIdentity, RejectDuplicateID,
}

func reasonIndex(r RejectReason) int {
	for i, x := range RejectReasons {
		if x == r {
			return i
		}
	}
	return -1
}

// rejectError is input the link refuses, with the reason it is counted
// under.
type rejectError struct {
	reason RejectReason
	msg    string
	err    error // underlying error, if any
}

func (e *rejectError) Error() string {
	if e.err != nil {
		return string(e.reason) + ": " + e.msg + ": " + e.err.Error()
	}
	return string(e.reason) + ": " + e.msg
}

func (e *rejectError) Unwrap() error { return e.err }

func rejectf(r RejectReason, format string, args ...any) *rejectError {
	return &rejectError{reason: r, msg: fmt.Sprintf(format, args...)}
}

// reasonOf returns the reason err is counted under, if it is a rejection.
func reasonOf(err error) (RejectReason, bool) {
	var re *rejectError
	if errors.As(err, &re) {
		return re.reason, true
	}
	return "", false
}

// readFrame reads one frame into buf (len(buf) >= MaxFrame) and returns it,
// length prefix included. It returns io.EOF only for a clean end between
// frames; an end inside a frame is a RejectTruncated wrapping
// io.ErrUnexpectedEOF.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, buf[:headerLen]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &rejectError{reason: RejectTruncated, msg: "connection ended inside a length prefix", err: err}
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf))
	switch {
	case n == 0:
		return nil, rejectf(RejectMalformed, "empty frame")
	case headerLen+n > MaxFrame:
		return nil, rejectf(RejectOversized, "frame of %d bytes, limit %d", headerLen+n, MaxFrame)
	}
	if _, err := io.ReadFull(r, buf[headerLen:headerLen+n]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &rejectError{reason: RejectTruncated, msg: "connection ended inside a frame", err: io.ErrUnexpectedEOF}
		}
		return nil, err
	}
	return buf[:headerLen+n], nil
}

// beginFrame appends the length placeholder, version and type.
func beginFrame(dst []byte, t msgType) ([]byte, int) {
	start := len(dst)
	return append(dst, 0, 0, WireVersion, byte(t)), start
}

// endFrame fills in the length prefix of the frame that begins at start,
// counting extra bytes still to be appended (a MAC).
func endFrame(dst []byte, start, extra int) []byte {
	binary.BigEndian.PutUint16(dst[start:], uint16(len(dst)-start-headerLen+extra))
	return dst
}

func appendID(b []byte, id string) []byte {
	b = append(b, byte(len(id)))
	return append(b, id...)
}

// cursor parses the fields of a frame body.
type cursor struct {
	b   []byte
	err error
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n > len(c.b) {
		c.err = rejectf(RejectMalformed, "short message")
		return nil
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) id() string {
	l := c.take(1)
	if c.err != nil {
		return ""
	}
	if l[0] == 0 || int(l[0]) > maxIDLen {
		c.err = rejectf(RejectMalformed, "member id of %d bytes", l[0])
		return ""
	}
	return string(c.take(int(l[0])))
}

func (c *cursor) end() {
	if c.err == nil && len(c.b) != 0 {
		c.err = rejectf(RejectMalformed, "%d trailing bytes", len(c.b))
	}
}

// header checks the version and type of a frame and returns a cursor over
// the fields after them.
func header(frame []byte, want msgType) (cursor, error) {
	body := frame[headerLen:]
	if len(body) < 1 {
		return cursor{}, rejectf(RejectMalformed, "empty frame")
	}
	if body[0] != WireVersion {
		return cursor{}, rejectf(RejectVersion, "wire version %d, want %d", body[0], WireVersion)
	}
	if len(body) < 2 {
		return cursor{}, rejectf(RejectMalformed, "no message type")
	}
	if got := msgType(body[1]); got != want {
		return cursor{}, rejectf(RejectMalformed, "message type %d, want %d", got, want)
	}
	return cursor{b: body[2:]}, nil
}

// hello is the content of a hello or welcome message: who speaks, to whom,
// in which mode, with which fresh nonce and frame identity; a welcome also
// carries a MAC (HMAC mode).
type hello struct {
	mode     authMode
	from, to string
	nonce    [nonceLen]byte
	ident    Identity
	mac      []byte
}

func appendHello(dst []byte, t msgType, h hello) []byte {
	dst, start := beginFrame(dst, t)
	dst = append(dst, byte(h.mode))
	dst = appendID(dst, h.from)
	dst = appendID(dst, h.to)
	dst = append(dst, h.nonce[:]...)
	dst = appendIdentity(dst, h.ident)
	dst = append(dst, h.mac...)
	return endFrame(dst, start, 0)
}

// appendIdentity appends the digest and the length-prefixed description
// (cut to MaxIdentityDescription bytes).
func appendIdentity(dst []byte, id Identity) []byte {
	dst = append(dst, id.Digest[:]...)
	d := id.description()
	dst = append(dst, byte(len(d)))
	return append(dst, d...)
}

func (c *cursor) identity() Identity {
	var id Identity
	copy(id.Digest[:], c.take(IdentityDigestLen))
	l := c.take(1)
	if c.err != nil {
		return id
	}
	if int(l[0]) > MaxIdentityDescription {
		c.err = rejectf(RejectMalformed, "identity description of %d bytes", l[0])
		return id
	}
	id.Description = string(c.take(int(l[0])))
	return id
}

// parseHello parses a hello or a welcome; a welcome carries a MAC whose
// length depends on its mode. The mode itself is checked by the caller.
func parseHello(frame []byte, t msgType) (hello, error) {
	c, err := header(frame, t)
	if err != nil {
		return hello{}, err
	}
	var h hello
	if m := c.take(1); c.err == nil {
		h.mode = authMode(m[0])
	}
	h.from = c.id()
	h.to = c.id()
	copy(h.nonce[:], c.take(nonceLen))
	h.ident = c.identity()
	if t == msgWelcome {
		h.mac = c.take(h.mode.macLen())
	}
	c.end()
	return h, c.err
}

func appendProof(dst []byte, mac []byte) []byte {
	dst, start := beginFrame(dst, msgProof)
	dst = append(dst, mac...)
	return endFrame(dst, start, 0)
}

func parseProof(frame []byte, macLen int) ([]byte, error) {
	c, err := header(frame, msgProof)
	if err != nil {
		return nil, err
	}
	mac := c.take(macLen)
	c.end()
	return mac, c.err
}

// transcript binds a handshake: mode, both ids (dialer first), both nonces
// and both frame identities. Every key and proof of the session is derived
// from it, so nobody in between can change what either side says its frame
// identity is.
func transcript(mode authMode, dialer, acceptor string, nd, na [nonceLen]byte, di, ai Identity) []byte {
	b := make([]byte, 0, 24+2*maxIDLen+2*nonceLen+2*(IdentityDigestLen+1+MaxIdentityDescription))
	b = append(b, "feedd pair link v2"...)
	b = append(b, byte(mode))
	b = appendID(b, dialer)
	b = appendID(b, acceptor)
	b = append(b, nd[:]...)
	b = append(b, na[:]...)
	b = appendIdentity(b, di)
	return appendIdentity(b, ai)
}

// Labels of the values derived from the secret and a transcript. Each is
// followed by a zero byte, so no label is a prefix of another's input.
const (
	labelWelcome = "welcome"        // acceptor's proof
	labelProof   = "proof"          // dialer's proof
	labelD2A     = "key dialer-acc" // MAC key, dialer to acceptor
	labelA2D     = "key acc-dialer" // MAC key, acceptor to dialer
)

// derive computes HMAC-SHA-256(secret, label || 0 || transcript).
func derive(secret []byte, label string, tr []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(tr)
	return m.Sum(nil)
}

// sealer numbers and authenticates the messages one side sends in a
// session. In mTLS mode mac is nil: TLS authenticates the stream and the
// sequence number only keeps the check on the receiving side uniform.
type sealer struct {
	mac hash.Hash
	seq uint64
}

func newSealer(key []byte) *sealer {
	if key == nil {
		return &sealer{}
	}
	return &sealer{mac: hmac.New(sha256.New, key)}
}

// maxPayload is the largest payload that fits a sealed frame.
const maxPayload = MaxFrame - headerLen - sealedMin - macLen

// seal appends one sealed frame: length, version, type, sequence number,
// payload and (HMAC mode) the tag over everything before it.
func (s *sealer) seal(dst []byte, t msgType, payload []byte) ([]byte, error) {
	if len(payload) > maxPayload {
		return dst, fmt.Errorf("payload of %d bytes, limit %d", len(payload), maxPayload)
	}
	s.seq++
	dst, start := beginFrame(dst, t)
	dst = binary.BigEndian.AppendUint64(dst, s.seq)
	dst = append(dst, payload...)
	if s.mac == nil {
		return endFrame(dst, start, 0), nil
	}
	dst = endFrame(dst, start, macLen)
	s.mac.Reset()
	s.mac.Write(dst[start:])
	return s.mac.Sum(dst), nil
}

// opener verifies the messages one side receives in a session: version,
// type, tag, then that the sequence number is exactly the next one.
type opener struct {
	mac  hash.Hash
	last uint64
	sum  [macLen]byte
}

func newOpener(key []byte) *opener {
	if key == nil {
		return &opener{}
	}
	return &opener{mac: hmac.New(sha256.New, key)}
}

// open verifies a frame read by readFrame and returns its type and payload
// (which aliases frame). A close message's payload is its one reason byte.
func (o *opener) open(frame []byte) (msgType, []byte, error) {
	body := frame[headerLen:]
	if len(body) < 1 {
		return 0, nil, rejectf(RejectMalformed, "empty frame")
	}
	if body[0] != WireVersion {
		return 0, nil, rejectf(RejectVersion, "wire version %d, want %d", body[0], WireVersion)
	}
	ml := 0
	if o.mac != nil {
		ml = macLen
	}
	if len(body) < sealedMin+ml {
		return 0, nil, rejectf(RejectMalformed, "sealed message of %d bytes", len(body))
	}
	t := msgType(body[1])
	if t != msgHeartbeat && t != msgClose && t != msgRepair {
		return 0, nil, rejectf(RejectMalformed, "message type %d in a session", t)
	}
	if o.mac != nil {
		o.mac.Reset()
		o.mac.Write(frame[:len(frame)-macLen])
		if !hmac.Equal(o.mac.Sum(o.sum[:0]), frame[len(frame)-macLen:]) {
			return 0, nil, rejectf(RejectMAC, "message tag does not verify")
		}
	}
	seq := binary.BigEndian.Uint64(body[2:])
	if seq != o.last+1 {
		return 0, nil, rejectf(RejectReplay, "sequence number %d, expected %d", seq, o.last+1)
	}
	o.last = seq
	payload := body[sealedMin : len(body)-ml]
	if t == msgClose && (len(payload) != 1 || (payload[0] != closeLeaving && payload[0] != closeDropping)) {
		return 0, nil, rejectf(RejectMalformed, "close message with %d bytes", len(payload))
	}
	return t, payload, nil
}

// timing is the block the link stamps at the edge on every heartbeat
// message: the sender's clock, when it sent the message, and the last
// message it had received on the session (see the package documentation).
type timing struct {
	clock uint64 // the sender's clock id
	sent  int64  // y: the sender's send stamp
	// refl: the block reflects the last message the sender received on
	// the session: that message's send stamp (the receiver's clock) and
	// the sender's receive stamp of it.
	refl      bool
	reflSent  int64 // s
	reflRecvd int64 // x
}

func appendTiming(dst []byte, t timing) []byte {
	dst = binary.BigEndian.AppendUint64(dst, t.clock)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.sent))
	if !t.refl {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.reflSent))
	return binary.BigEndian.AppendUint64(dst, uint64(t.reflRecvd))
}

// parseTiming splits a heartbeat message's payload into its timing block
// and the encoded ftpair heartbeat.
func parseTiming(payload []byte) (timing, []byte, error) {
	var t timing
	if len(payload) < timingMin {
		return t, nil, rejectf(RejectMalformed, "heartbeat of %d bytes has no timing block", len(payload))
	}
	t.clock = binary.BigEndian.Uint64(payload)
	t.sent = int64(binary.BigEndian.Uint64(payload[8:]))
	switch payload[16] {
	case 0:
		return t, payload[timingMin:], nil
	case 1:
	default:
		return t, nil, rejectf(RejectMalformed, "timing block flags %#x", payload[16])
	}
	if len(payload) < timingMax {
		return t, nil, rejectf(RejectMalformed, "timing block of %d bytes", len(payload))
	}
	t.refl = true
	t.reflSent = int64(binary.BigEndian.Uint64(payload[17:]))
	t.reflRecvd = int64(binary.BigEndian.Uint64(payload[25:]))
	return t, payload[timingMax:], nil
}

// decodeHeartbeat decodes an encoded ftpair heartbeat, classifying
// failures.
func decodeHeartbeat(payload []byte, hb *ftpair.Heartbeat) error {
	if err := hb.UnmarshalBinary(payload); err != nil {
		if len(payload) > 0 && payload[0] != ftpair.HeartbeatWireVersion {
			return &rejectError{reason: RejectVersion, msg: "heartbeat", err: err}
		}
		return &rejectError{reason: RejectMalformed, msg: "heartbeat", err: err}
	}
	return nil
}
