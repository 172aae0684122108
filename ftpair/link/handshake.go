package link

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
)

// hsErr turns an I/O error of the handshake into a rejection: rejections
// (oversized, truncated...) stay as they are, anything else (the other side
// closed, reset, the deadline passed) is RejectIncomplete.
func hsErr(err error) error {
	if _, ok := reasonOf(err); ok {
		return err
	}
	return &rejectError{reason: RejectIncomplete, msg: "handshake", err: err}
}

// sessionKeys derives the two MAC keys of a session (nil in mTLS mode) and
// returns the sealer and opener for one side.
func sessionKeys(mode authMode, secret, tr []byte, dialer bool) (*sealer, *opener) {
	var d2a, a2d []byte
	if mode == modeHMAC {
		d2a, a2d = derive(secret, labelD2A, tr), derive(secret, labelA2D, tr)
	}
	if dialer {
		return newSealer(d2a), newOpener(a2d)
	}
	return newSealer(a2d), newOpener(d2a)
}

// clientHandshake is the dialer's side, run over a fresh connection (after
// TLS in mTLS mode): hello with the fresh nonce nd (newNonce) and our
// frame identity; welcome from the peer we dialed, with its identity and
// (HMAC) its proof over both nonces and both identities; our proof. Only then, the peer
// authenticated, are the identities compared: a mismatch is a
// RejectIdentity, after our proof has gone out so that the peer can
// authenticate our identity and refuse us too. A peer that answers under
// our own member id is authenticated the same way and then refused as a
// member id clash (RejectDuplicateID).
func clientHandshake(conn io.ReadWriter, mode authMode, self, peer string, secret []byte, ours Identity, nd [nonceLen]byte) (*sealer, *opener, error) {
	if _, err := conn.Write(appendHello(nil, msgHello, hello{mode: mode, from: self, to: peer, nonce: nd, ident: ours})); err != nil {
		return nil, nil, hsErr(err)
	}
	buf := make([]byte, MaxFrame)
	frame, err := readFrame(conn, buf)
	if err != nil {
		return nil, nil, hsErr(err)
	}
	w, err := parseHello(frame, msgWelcome)
	switch {
	case err != nil:
		return nil, nil, err
	case w.mode != mode:
		return nil, nil, rejectf(RejectMode, "the peer authenticates with mode %d, we with %d", w.mode, mode)
	case w.from != peer && w.from != self:
		return nil, nil, rejectf(RejectWrongPeer, "dialed %q, the member there answers as %q", peer, w.from)
	case w.to != self:
		return nil, nil, rejectf(RejectWrongPeer, "the peer answers to %q, we are %q", w.to, self)
	}
	// The acceptor's id in the transcript is the one it answered with:
	// the peer's, or, in a member id clash, ours.
	tr := transcript(mode, self, w.from, nd, w.nonce, ours, w.ident)
	var proof []byte
	if mode == modeHMAC {
		if !hmac.Equal(w.mac, derive(secret, labelWelcome, tr)) {
			return nil, nil, rejectf(RejectMAC, "the peer's handshake proof does not verify (different secret?)")
		}
		proof = derive(secret, labelProof, tr)
	}
	if _, err := conn.Write(appendProof(nil, proof)); err != nil {
		return nil, nil, hsErr(err)
	}
	if w.from == self {
		return nil, nil, clashError(self)
	}
	if err := checkIdentity(peer, w.ident, ours); err != nil {
		return nil, nil, err
	}
	s, o := sessionKeys(mode, secret, tr, true)
	return s, o, nil
}

// serverHandshake is the acceptor's side. check vets the id the dialer
// claims (a configured peer that should dial us; in mTLS mode, named by its
// certificate) before we answer. The welcome carries our frame identity
// whatever the dialer's, so that each side can name both in its refusal;
// the identities are compared once the dialer's proof has authenticated
// its hello (RejectIdentity). A dialer presenting our own member id
// (whoever it says it dialed) is answered and authenticated like a peer,
// and then refused as a member id clash (RejectDuplicateID), so that both
// sides learn of it; check must accept our own id (the link's only
// verifies that the certificate names it, and that the hello's nonce is
// not one of its own dialers': a connection that came back to us).
func serverHandshake(conn io.ReadWriter, mode authMode, self string, secret []byte, check func(from string, nonce [nonceLen]byte) error, ours Identity) (string, *sealer, *opener, error) {
	buf := make([]byte, MaxFrame)
	frame, err := readFrame(conn, buf)
	if err != nil {
		return "", nil, nil, hsErr(err)
	}
	h, err := parseHello(frame, msgHello)
	switch {
	case err != nil:
		return "", nil, nil, err
	case h.mode != mode:
		return "", nil, nil, rejectf(RejectMode, "the peer authenticates with mode %d, we with %d", h.mode, mode)
	case h.to != self && h.from != self:
		return "", nil, nil, rejectf(RejectWrongPeer, "%q dialed %q, we are %q", h.from, h.to, self)
	}
	if err := check(h.from, h.nonce); err != nil {
		return "", nil, nil, err
	}
	w := hello{mode: mode, from: self, to: h.from, ident: ours}
	w.nonce = newNonce()
	tr := transcript(mode, h.from, self, h.nonce, w.nonce, h.ident, ours)
	if mode == modeHMAC {
		w.mac = derive(secret, labelWelcome, tr)
	}
	if _, err := conn.Write(appendHello(buf[:0], msgWelcome, w)); err != nil {
		return "", nil, nil, hsErr(err)
	}
	frame, err = readFrame(conn, buf)
	if err != nil {
		return "", nil, nil, hsErr(err)
	}
	proof, err := parseProof(frame, mode.macLen())
	if err != nil {
		return "", nil, nil, err
	}
	if mode == modeHMAC && !hmac.Equal(proof, derive(secret, labelProof, tr)) {
		return "", nil, nil, rejectf(RejectMAC, "%q: handshake proof does not verify (different secret, or a replayed handshake)", h.from)
	}
	if h.from == self {
		return h.from, nil, nil, clashError(self)
	}
	if err := checkIdentity(h.from, h.ident, ours); err != nil {
		return h.from, nil, nil, err
	}
	s, o := sessionKeys(mode, secret, tr, false)
	return h.from, s, o, nil
}

// verifyCert verifies the peer's certificate chain against the configured
// CAs for the given usage and returns the leaf.
func verifyCert(cs tls.ConnectionState, roots *x509.CertPool, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, rejectf(RejectTLS, "the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return nil, &rejectError{reason: RejectTLS, msg: "peer certificate", err: err}
	}
	return leaf, nil
}

// certNames reports whether the certificate names member id, as its
// Subject CommonName or one of its DNS names (exact match).
func certNames(c *x509.Certificate, id string) bool {
	return c.Subject.CommonName == id || slices.Contains(c.DNSNames, id)
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return fmt.Sprint(c.DNSNames)
}

// serverTLS is the acceptor's TLS configuration: TLS 1.3, a client
// certificate required and verified against the CAs. Which member it must
// name is known only from the hello that follows.
func serverTLS(cert *tls.Certificate, cas *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{*cert},
		MinVersion:   tls.VersionTLS13,
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := verifyCert(cs, cas, x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// clientTLS is the dialer's TLS configuration for one peer. The standard
// host-name check is replaced (InsecureSkipVerify) by VerifyConnection,
// which verifies the chain against the CAs and that the certificate names
// the peer's member id, which need not be a host name, or our own (self).
// Our own is left to the link handshake to judge, as in hmac mode: another
// member running under our id (a clash both sides learn of), or our own
// connection come back to our listener (refused there as the wrong peer).
// The dialer then accepts no welcome but one under our id.
func clientTLS(cert *tls.Certificate, cas *x509.CertPool, self, peer string) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{*cert},
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf, err := verifyCert(cs, cas, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if !certNames(leaf, peer) && !certNames(leaf, self) {
				return rejectf(RejectWrongPeer, "dialed %q, its certificate names %s", peer, certName(leaf))
			}
			return nil
		},
	}
}

// tlsErr classifies a failed TLS handshake.
func tlsErr(err error) error {
	if _, ok := reasonOf(err); ok {
		return err
	}
	if errors.Is(err, io.EOF) {
		return &rejectError{reason: RejectIncomplete, msg: "TLS handshake", err: err}
	}
	return &rejectError{reason: RejectTLS, msg: "TLS handshake", err: err}
}

// memberIDClash is the detail of a RejectDuplicateID rejection: the other
// side of an authenticated handshake presents our own member id.
type memberIDClash struct {
	id string
	// remote is the other side's address, set by the link once known.
	remote string
}

func (c *memberIDClash) Error() string {
	at := "another member"
	if c.remote != "" {
		at = "the member at " + c.remote
	}
	return fmt.Sprintf("member id clash: %s runs with member_id %q, which is this member's own; "+
		"refusing to pair: two members must not share a member_id (give each its own, and list the other's in pair.peers)", at, c.id)
}

func clashError(self string) error {
	return &rejectError{reason: RejectDuplicateID, msg: "member id", err: &memberIDClash{id: self}}
}

// newNonce returns a fresh random handshake nonce.
func newNonce() [nonceLen]byte {
	var n [nonceLen]byte
	rand.Read(n[:])
	return n
}
