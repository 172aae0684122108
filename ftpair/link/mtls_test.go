package link

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t *testing.T, name string) *testCA {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue makes a member certificate usable to accept and to dial.
func (ca *testCA) issue(t *testing.T, cn string, dns ...string) *tls.Certificate {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func mtlsConfig(listen string, peers ...PeerConfig) Config {
	c := testConfig(listen, peers...)
	c.Auth, c.SecretEnv = AuthMTLS, ""
	c.TLS = TLSFiles{CAFile: "ca.pem", CertFile: "member.pem", KeyFile: "member.key"}
	return c
}

func TestMTLS(t *testing.T) {
	ca, other := newCA(t, "feedd test CA"), newCA(t, "another CA")
	creds := func(c *tls.Certificate) Credentials { return Credentials{Certificate: c, CAs: ca.pool} }
	startB := func(t *testing.T, cert *tls.Certificate) *member {
		return startMember(t, "b", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), creds(cert))
	}
	dialB := func(t *testing.T, b *member, c Credentials) *member {
		return startMember(t, "a", mtlsConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), c)
	}

	t.Run("good certificates, loaded from files", func(t *testing.T) {
		dir := t.TempDir()
		// a is named by a DNS name, b by its common name.
		aCert := ca.issue(t, "member a", "a")
		key, err := x509.MarshalPKCS8PrivateKey(aCert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		for name, block := range map[string]*pem.Block{
			"ca.pem":     {Type: "CERTIFICATE", Bytes: ca.cert.Raw},
			"member.pem": {Type: "CERTIFICATE", Bytes: aCert.Certificate[0]},
			"member.key": {Type: "PRIVATE KEY", Bytes: key},
		} {
			if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		b := startB(t, ca.issue(t, "b"))
		cfg := mtlsConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()})
		cfg.TLS = TLSFiles{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "member.pem"), KeyFile: filepath.Join(dir, "member.key")}
		loaded, err := cfg.LoadCredentials()
		if err != nil {
			t.Fatal(err)
		}
		a := startMember(t, "a", cfg, loaded)
		waitFlowing(t, a, b)

		// Kill the acceptor: one obituary over TLS too.
		b.crash()
		waitFor(t, "a reports b's death", func() bool { return a.closed("b") == 1 })
	})

	// Handshakes refused by the acceptor b or, byDialer, by a: no session
	// comes up.
	for _, tc := range []struct {
		name     string
		acceptor string // the id on b's certificate
		dialer   func(t *testing.T) Credentials
		byDialer bool
		reason   RejectReason
	}{
		{"certificate for another id", "b", func(t *testing.T) Credentials { return creds(ca.issue(t, "c")) }, false, RejectWrongPeer},
		{"certificate from another CA", "b", func(t *testing.T) Credentials { return Credentials{Certificate: other.issue(t, "a"), CAs: ca.pool} }, false, RejectTLS},
		{"acceptor with another id's certificate", "x", func(t *testing.T) Credentials { return creds(ca.issue(t, "a")) }, true, RejectWrongPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startB(t, ca.issue(t, tc.acceptor))
			a := dialB(t, b, tc.dialer(t))
			refuser := b
			if tc.byDialer {
				refuser = a
			}
			waitFor(t, "the handshake refused: "+string(tc.reason), func() bool { return refuser.rejected(tc.reason) >= 1 })
			if b.connected("a") != 0 || a.connected("b") != 0 {
				t.Fatal("a session came up")
			}
		})
	}

	t.Run("dialer without TLS", func(t *testing.T) {
		b := startB(t, ca.issue(t, "b"))
		startMember(t, "a", testConfig("127.0.0.1:0", PeerConfig{ID: "b", Address: b.addr()}), hmacCreds())
		waitFor(t, "b rejects a plain hello", func() bool { return b.rejected(RejectTLS) >= 1 })
	})
}
