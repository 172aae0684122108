package link

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/feedd/feedd/ftpair"
)

// Authentication modes (Config.Auth).
const (
	AuthHMAC = "hmac"
	AuthMTLS = "mtls"
)

// Defaults filled in by WithDefaults.
const (
	DefaultDialTimeout      = 2 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultReconnectMin     = 100 * time.Millisecond
	DefaultReconnectMax     = 5 * time.Second
	DefaultSendQueue        = 16
	DefaultObituaryWindow   = 2 * time.Second
)

// Limits checked by Validate and New.
const (
	// MinSecretLen is the shortest HMAC secret accepted, in bytes.
	MinSecretLen = 16
	// MaxSendQueue bounds Config.SendQueue.
	MaxSendQueue = 1024
)

// Config is the link's part of the `pair:` section. Its YAML keys are
// disjoint from those of ftpair.Config, so the two can be inlined side by
// side in one section. The member's own id is ftpair.Config.MemberID, passed
// to New.
type Config struct {
	// Listen is the host:port this member accepts peers on.
	Listen string `yaml:"listen"`
	// Peers are the other members of the group. Of two members, the one
	// with the lower id (byte-wise) dials the other.
	Peers []PeerConfig `yaml:"peers"`
	// Auth is hmac (default: a shared secret) or mtls (certificates signed
	// by a common CA).
	Auth string `yaml:"auth"`
	// SecretFile or SecretEnv (exactly one, for auth: hmac) names where the
	// shared secret is: a file, or an environment variable holding it.
	// Surrounding white space is ignored; at least MinSecretLen bytes.
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
	// TLS names the PEM files for auth: mtls.
	TLS TLSFiles `yaml:"tls"`
	// DialTimeout bounds a TCP connect.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// HandshakeTimeout bounds the TLS and link handshakes of a connection.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// WriteTimeout bounds one write to a peer. A write that times out drops
	// the connection (not an obituary: the peer may be fine).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ReconnectMin and ReconnectMax bound the backoff between dials.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// SendQueue is how many heartbeats may wait for one peer; beyond it the
	// oldest is dropped.
	SendQueue int `yaml:"send_queue"`
	// ObituaryWindow: a connection the peer closes is an obituary only if
	// the peer's last message arrived within this window. A connection
	// that ends after a longer silence (typically a kernel that gave up
	// retransmitting while the link was cut, answering with a reset when it
	// came back) says nothing about the peer's process, and the core has
	// already judged the silence. Set it to a few heartbeat intervals or
	// more (the activation interval is a good value); it must be below
	// WriteTimeout.
	ObituaryWindow time.Duration `yaml:"obituary_window"`
}

// PeerConfig is one entry of pair.peers.
type PeerConfig struct {
	// ID is the peer's member_id.
	ID string `yaml:"id"`
	// Address is the peer's pair.listen address as reachable from here.
	Address string `yaml:"address"`
}

// TLSFiles are the PEM files for auth: mtls. Every member's certificate is
// used both to accept (server) and to dial (client): give it both extended
// key usages, or none. It names its member id as Subject CommonName or as a
// DNS subject alternative name.
type TLSFiles struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// WithDefaults fills unset fields with their defaults.
func (c Config) WithDefaults() Config {
	c.Auth = cmp.Or(c.Auth, AuthHMAC)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.ReconnectMin = cmp.Or(c.ReconnectMin, DefaultReconnectMin)
	c.ReconnectMax = cmp.Or(c.ReconnectMax, DefaultReconnectMax)
	c.SendQueue = cmp.Or(c.SendQueue, DefaultSendQueue)
	c.ObituaryWindow = cmp.Or(c.ObituaryWindow, DefaultObituaryWindow)
	return c
}

// Validate checks the configuration as given (call WithDefaults first to
// accept omitted fields). Each problem is reported on its own line, naming
// the YAML field, e.g. `pair.peers[1].address: "b" is not host:port`.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("pair.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Listen == "" {
		bad("listen", "required (the host:port to accept peers on, e.g. 0.0.0.0:7400)")
	} else if err := checkHostPort(c.Listen, true); err != nil {
		bad("listen", "%v", err)
	}
	if len(c.Peers) == 0 {
		bad("peers", "at least one peer is required (a list of {id, address})")
	}
	seen := map[string]int{}
	for i, p := range c.Peers {
		field := fmt.Sprintf("peers[%d]", i)
		if err := checkMemberID(p.ID); err != nil {
			bad(field+".id", "%v", err)
		} else if j, dup := seen[p.ID]; dup {
			bad(field+".id", "%q is also pair.peers[%d].id", p.ID, j)
		} else {
			seen[p.ID] = i
		}
		if p.Address == "" {
			bad(field+".address", "required (the peer's host:port)")
		} else if err := checkHostPort(p.Address, false); err != nil {
			bad(field+".address", "%v", err)
		}
	}
	switch c.Auth {
	case AuthHMAC:
		switch {
		case c.SecretFile == "" && c.SecretEnv == "":
			bad("secret_file", "required with pair.auth: hmac (or pair.secret_env)")
		case c.SecretFile != "" && c.SecretEnv != "":
			bad("secret_env", "set only one of pair.secret_file and pair.secret_env")
		}
	case AuthMTLS:
		for _, f := range []struct{ name, v string }{
			{"ca_file", c.TLS.CAFile}, {"cert_file", c.TLS.CertFile}, {"key_file", c.TLS.KeyFile},
		} {
			if f.v == "" {
				bad("tls."+f.name, "required with pair.auth: mtls")
			}
		}
	default:
		bad("auth", "%q is not one of hmac, mtls", c.Auth)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"dial_timeout", c.DialTimeout}, {"handshake_timeout", c.HandshakeTimeout},
		{"write_timeout", c.WriteTimeout}, {"reconnect_min", c.ReconnectMin},
		{"obituary_window", c.ObituaryWindow},
	} {
		if d.v <= 0 {
			bad(d.name, "%v must be > 0", d.v)
		}
	}
	if c.ReconnectMax < c.ReconnectMin {
		bad("reconnect_max", "%v must be at least pair.reconnect_min (%v)", c.ReconnectMax, c.ReconnectMin)
	}
	if c.SendQueue < 1 || c.SendQueue > MaxSendQueue {
		bad("send_queue", "%d is out of range [1, %d]", c.SendQueue, MaxSendQueue)
	}
	if c.ObituaryWindow > 0 && c.WriteTimeout > 0 && c.ObituaryWindow >= c.WriteTimeout {
		bad("obituary_window", "%v must be less than pair.write_timeout (%v)", c.ObituaryWindow, c.WriteTimeout)
	}
	return errors.Join(errs...)
}

// checkMemberID applies the rules of ftpair.Config.Validate to a peer id.
func checkMemberID(id string) error {
	if id == "" {
		return errors.New("required (the peer's member_id)")
	}
	return ftpair.CheckMemberID(id)
}

func checkHostPort(s string, listen bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%q: port %q is not a number in [0, 65535]", s, port)
	}
	if !listen && (n == 0 || host == "") {
		return fmt.Errorf("%q needs a host and a non-zero port", s)
	}
	return nil
}

// Credentials are what a Link authenticates with: the shared secret for
// auth: hmac, or this member's certificate and the CAs it trusts for auth:
// mtls. They never appear in logs, errors or Status; printing them shows
// only which kind they are.
type Credentials struct {
	Secret      []byte
	Certificate *tls.Certificate
	CAs         *x509.CertPool
}

// String redacts the credentials.
func (c Credentials) String() string {
	switch {
	case c.Secret != nil:
		return "link.Credentials{secret: [redacted]}"
	case c.Certificate != nil:
		return "link.Credentials{certificate: [redacted]}"
	}
	return "link.Credentials{}"
}

// GoString redacts the credentials.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts the credentials.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// LoadCredentials reads the secret (auth: hmac) from pair.secret_file or
// pair.secret_env, or the certificate, key and CA (auth: mtls) from
// pair.tls. Errors name the field and never include the secret.
func (c Config) LoadCredentials() (Credentials, error) {
	c = c.WithDefaults()
	switch c.Auth {
	case AuthHMAC:
		var raw []byte
		field := "secret_file"
		switch {
		case c.SecretFile != "":
			b, err := os.ReadFile(c.SecretFile)
			if err != nil {
				return Credentials{}, fmt.Errorf("pair.secret_file: %w", err)
			}
			raw = b
		case c.SecretEnv != "":
			field = "secret_env"
			v, ok := os.LookupEnv(c.SecretEnv)
			if !ok {
				return Credentials{}, fmt.Errorf("pair.secret_env: environment variable %s is not set", c.SecretEnv)
			}
			raw = []byte(v)
		default:
			return Credentials{}, errors.New("pair.secret_file: required with pair.auth: hmac (or pair.secret_env)")
		}
		secret := bytes.Clone(bytes.TrimSpace(raw))
		clear(raw)
		if len(secret) < MinSecretLen {
			return Credentials{}, fmt.Errorf("pair.%s: the secret is %d bytes; at least %d are required", field, len(secret), MinSecretLen)
		}
		return Credentials{Secret: secret}, nil
	case AuthMTLS:
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return Credentials{}, fmt.Errorf("pair.tls.cert_file, pair.tls.key_file: %w", err)
		}
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return Credentials{}, fmt.Errorf("pair.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return Credentials{}, fmt.Errorf("pair.tls.ca_file: no PEM certificate in %s", c.TLS.CAFile)
		}
		return Credentials{Certificate: &cert, CAs: pool}, nil
	}
	return Credentials{}, fmt.Errorf("pair.auth: %q is not one of hmac, mtls", c.Auth)
}
