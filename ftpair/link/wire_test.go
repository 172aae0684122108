package link

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedd/feedd/ftpair"
)

var (
	testKey  = bytes.Repeat([]byte{0x5a}, 32)
	sampleHB = ftpair.Heartbeat{From: "a", Incarnation: 9, Seq: 3, Weight: 2, Role: ftpair.RoleActive, Term: 4, HandoverTo: "b"}
)

func mustReason(t *testing.T, err error, want RejectReason) {
	t.Helper()
	if r, ok := reasonOf(err); !ok || r != want {
		t.Fatalf("error %v: reason %q, want %q", err, r, want)
	}
}

func TestRejectReasonsComplete(t *testing.T) {
	if len(RejectReasons) != numRejectReasons {
		t.Fatalf("%d reasons, numRejectReasons %d", len(RejectReasons), numRejectReasons)
	}
	seen := map[RejectReason]bool{}
	for _, r := range RejectReasons {
		if seen[r] || r == "" {
			t.Fatalf("reason %q repeated or empty", r)
		}
		seen[r] = true
	}
}

func TestSealOpen(t *testing.T) {
	for _, key := range [][]byte{testKey, nil} {
		s, o := newSealer(key), newOpener(key)
		payload, _ := sampleHB.MarshalBinary()
		var frames [][]byte
		for range 3 {
			f, err := s.seal(nil, msgHeartbeat, payload)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, f)
		}
		closing, _ := s.seal(nil, msgClose, []byte{closeLeaving})
		for i, f := range frames {
			got, err := readFrame(bytes.NewReader(f), make([]byte, MaxFrame))
			if err != nil || !bytes.Equal(got, f) {
				t.Fatalf("readFrame: %v", err)
			}
			typ, p, err := o.open(f)
			if err != nil || typ != msgHeartbeat || !bytes.Equal(p, payload) {
				t.Fatalf("frame %d: %v %v %v", i, typ, p, err)
			}
			// The same frame again is a replay.
			_, _, err = o.open(f)
			mustReason(t, err, RejectReplay)
		}
		if typ, p, err := o.open(closing); err != nil || typ != msgClose || p[0] != closeLeaving {
			t.Fatalf("close: %v %v %v", typ, p, err)
		}
		if key == nil {
			continue
		}
		// Another key (another session) does not verify.
		_, _, err := newOpener(bytes.Repeat([]byte{1}, 32)).open(frames[0])
		mustReason(t, err, RejectMAC)
		// Every bit of the frame is authenticated (or checked before).
		for i := range len(frames[0]) * 8 {
			f := bytes.Clone(frames[0])
			f[i/8] ^= 1 << (i % 8)
			if _, _, err := newOpener(key).open(f); err == nil {
				t.Fatalf("bit %d flipped: accepted", i)
			}
		}
		// Reordered: the second frame first.
		o2 := newOpener(key)
		_, _, err = o2.open(frames[1])
		mustReason(t, err, RejectReplay)
	}
}

func TestReadFrameLimits(t *testing.T) {
	buf := make([]byte, MaxFrame)
	_, err := readFrame(bytes.NewReader([]byte{0xff, 0xff}), buf)
	mustReason(t, err, RejectOversized)
	_, err = readFrame(bytes.NewReader([]byte{0, 0}), buf)
	mustReason(t, err, RejectMalformed)
	if _, err = readFrame(bytes.NewReader(nil), buf); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
	f, _ := newSealer(testKey).seal(nil, msgHeartbeat, []byte("x"))
	for i := 1; i < len(f); i++ {
		_, err := readFrame(bytes.NewReader(f[:i]), buf)
		mustReason(t, err, RejectTruncated)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated at %d: %v does not wrap io.ErrUnexpectedEOF", i, err)
		}
	}
	// The largest payload fits exactly; one more byte does not.
	big, err := newSealer(testKey).seal(nil, msgHeartbeat, make([]byte, maxPayload))
	if err != nil || len(big) != MaxFrame {
		t.Fatalf("largest frame: %d bytes, %v", len(big), err)
	}
	if _, err := readFrame(bytes.NewReader(big), buf); err != nil {
		t.Fatal(err)
	}
	if _, err := newSealer(testKey).seal(nil, msgHeartbeat, make([]byte, maxPayload+1)); err == nil {
		t.Fatal("oversized payload sealed")
	}
}

func TestHelloWire(t *testing.T) {
	h := hello{mode: modeHMAC, from: "member-a", to: "b", mac: bytes.Repeat([]byte{3}, macLen),
		ident: Identity{Digest: [IdentityDigestLen]byte{4, 5}, Description: "framing nmea, sequence nmea_field=1, identity v1"}}
	h.nonce[5] = 9
	got, err := parseHello(appendHello(nil, msgWelcome, h), msgWelcome)
	if err != nil || got.mode != h.mode || got.from != h.from || got.to != h.to || got.nonce != h.nonce || !bytes.Equal(got.mac, h.mac) || got.ident != h.ident {
		t.Fatalf("welcome round trip: %+v %v", got, err)
	}
	// A long description is cut on a character boundary; a description
	// longer than the limit on the wire is malformed.
	long := hello{mode: modeMTLS, from: "a", to: "b", ident: Identity{Description: strings.Repeat("é", MaxIdentityDescription)}}
	got, err = parseHello(appendHello(nil, msgHello, long), msgHello)
	if d := got.ident.Description; err != nil || len(d) > MaxIdentityDescription || len(d) < MaxIdentityDescription-1 || !utf8.ValidString(d) {
		t.Fatalf("long description: %d bytes, valid %v, %v", len(d), utf8.ValidString(d), err)
	}
	over := appendHello(nil, msgHello, hello{mode: modeMTLS, from: "a", to: "b"})
	over = append(over[:len(over)-1], MaxIdentityDescription+1)
	over = endFrame(append(over, bytes.Repeat([]byte{'x'}, MaxIdentityDescription+1)...), 0, 0)
	_, err = parseHello(over, msgHello)
	mustReason(t, err, RejectMalformed)
	hl := appendHello(nil, msgHello, hello{mode: modeMTLS, from: "a", to: "b"})
	if _, err := parseHello(hl, msgHello); err != nil {
		t.Fatal(err)
	}
	_, err = parseHello(hl, msgWelcome)
	mustReason(t, err, RejectMalformed)
	_, err = parseHello(endFrame(append(bytes.Clone(hl), 0), 0, 0), msgHello)
	mustReason(t, err, RejectMalformed) // trailing byte
	for i := headerLen; i < len(hl); i++ {
		if _, err := parseHello(endFrame(bytes.Clone(hl[:i]), 0, 0), msgHello); err == nil {
			t.Fatalf("hello cut to %d bytes: accepted", i)
		}
	}
	if _, err := parseProof(appendProof(nil, nil), 0); err != nil {
		t.Fatal(err)
	}
	_, err = parseProof(appendProof(nil, make([]byte, 5)), macLen)
	mustReason(t, err, RejectMalformed)
}

func TestHandshakeDirect(t *testing.T) {
	// The two sides of the handshake, over an in-memory pipe.
	for _, mode := range []authMode{modeHMAC, modeMTLS} {
		c1, c2 := pipe()
		type result struct {
			s   *sealer
			o   *opener
			err error
		}
		done := make(chan result, 1)
		go func() {
			s, o, err := clientHandshake(c1, mode, "a", "b", testSecret, Identity{}, newNonce())
			done <- result{s, o, err}
		}()
		from, ss, so, err := serverHandshake(c2, mode, "b", testSecret, func(string, [nonceLen]byte) error { return nil }, Identity{})
		r := <-done
		if err != nil || r.err != nil || from != "a" {
			t.Fatalf("mode %d: %v / %v", mode, err, r.err)
		}
		payload, _ := sampleHB.MarshalBinary()
		f, _ := r.s.seal(nil, msgHeartbeat, payload)
		if _, _, err := so.open(f); err != nil {
			t.Fatalf("dialer to acceptor: %v", err)
		}
		f, _ = ss.seal(nil, msgHeartbeat, payload)
		if _, _, err := r.o.open(f); err != nil {
			t.Fatalf("acceptor to dialer: %v", err)
		}
		if mode == modeHMAC {
			// A message reflected back to its sender does not verify.
			f, _ = ss.seal(nil, msgHeartbeat, payload)
			_, _, err := so.open(f)
			mustReason(t, err, RejectMAC)
		}
	}
}

// pipe is a pair of connected in-memory streams with buffering, so that
// each side can write its message before the other reads.
func pipe() (io.ReadWriter, io.ReadWriter) {
	ab, ba := newChanPipe(), newChanPipe()
	return readWriter{ba, ab}, readWriter{ab, ba}
}

type readWriter struct {
	io.Reader
	io.Writer
}

type chanPipe struct {
	ch  chan []byte
	buf []byte
}

func newChanPipe() *chanPipe { return &chanPipe{ch: make(chan []byte, 16)} }

func (p *chanPipe) Write(b []byte) (int, error) {
	p.ch <- bytes.Clone(b)
	return len(b), nil
}

func (p *chanPipe) Read(b []byte) (int, error) {
	if len(p.buf) == 0 {
		p.buf = <-p.ch
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

// FuzzDecode feeds arbitrary bytes, as a stream of frames, to every decoder
// of the link: the handshake parsers and the session openers of both modes.
// Nothing may panic; every failure is a counted rejection; in HMAC mode
// only frames sealed with the key are accepted.
func FuzzDecode(f *testing.F) {
	s := newSealer(testKey)
	encoded, _ := sampleHB.MarshalBinary()
	payload := withTiming(encoded)
	reflecting := append(appendTiming(nil, timing{clock: 7, sent: 9, refl: true, reflSent: 3, reflRecvd: 4}), encoded...)
	hb1, _ := s.seal(nil, msgHeartbeat, payload)
	hb2, _ := s.seal(nil, msgHeartbeat, payload)
	cl, _ := s.seal(nil, msgClose, []byte{closeDropping})
	plain, _ := newSealer(nil).seal(nil, msgHeartbeat, reflecting)
	f.Add(hb1)
	f.Add(append(append(bytes.Clone(hb1), hb2...), cl...))
	f.Add(append(bytes.Clone(hb2), hb1...))
	f.Add(plain)
	f.Add(appendHello(nil, msgHello, hello{mode: modeHMAC, from: "a", to: "b", ident: Identity{Description: "framing nmea"}}))
	f.Add(v1Hello("a", "b"))
	f.Add(appendHello(nil, msgWelcome, hello{mode: modeHMAC, from: "b", to: "a", mac: make([]byte, macLen)}))
	f.Add(appendProof(nil, make([]byte, macLen)))
	f.Add([]byte{0xff, 0xff, 1, 4})
	f.Add([]byte{0, 3, 1, 4, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		buf := make([]byte, MaxFrame)
		authed, bare := newOpener(testKey), newOpener(nil)
		var hb ftpair.Heartbeat
		for {
			frame, err := readFrame(r, buf)
			if err != nil {
				if err != io.EOF {
					if _, ok := reasonOf(err); !ok {
						t.Fatalf("readFrame: unclassified error %v", err)
					}
				}
				return
			}
			if len(frame) > MaxFrame {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			for _, typ := range []msgType{msgHello, msgWelcome} {
				if _, err := parseHello(frame, typ); err != nil {
					if _, ok := reasonOf(err); !ok {
						t.Fatalf("parseHello: unclassified error %v", err)
					}
				}
			}
			parseProof(frame, macLen)
			for _, o := range []*opener{authed, bare} {
				typ, p, err := o.open(frame)
				if err != nil {
					if _, ok := reasonOf(err); !ok {
						t.Fatalf("open: unclassified error %v", err)
					}
					continue
				}
				if o == authed && !bytes.Equal(frame, hb1) && !bytes.Equal(frame, hb2) && !bytes.Equal(frame, cl) {
					t.Fatalf("accepted a frame not sealed with the key: %x", frame)
				}
				if typ == msgHeartbeat {
					_, encoded, err := parseTiming(p)
					if err == nil {
						err = decodeHeartbeat(encoded, &hb)
					}
					if err != nil {
						if _, ok := reasonOf(err); !ok {
							t.Fatalf("heartbeat: unclassified error %v", err)
						}
					}
				}
			}
		}
	})
}
