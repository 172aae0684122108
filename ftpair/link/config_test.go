package link

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/ftpair"
)

func validConfig() Config {
	return Config{
		Listen:    "0.0.0.0:7400",
		Peers:     []PeerConfig{{ID: "b", Address: "host-b:7400"}},
		SecretEnv: "FEEDD_PAIR_SECRET",
	}.WithDefaults()
}

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{
		Auth: AuthHMAC, DialTimeout: DefaultDialTimeout, HandshakeTimeout: DefaultHandshakeTimeout,
		WriteTimeout: DefaultWriteTimeout, ReconnectMin: DefaultReconnectMin, ReconnectMax: DefaultReconnectMax,
		SendQueue: DefaultSendQueue, ObituaryWindow: DefaultObituaryWindow,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Config{}.WithDefaults() = %+v\nwant %+v", got, want)
	}
	set := validConfig()
	set.SendQueue, set.ReconnectMax = 3, time.Minute
	if got := set.WithDefaults(); !reflect.DeepEqual(got, set) {
		t.Fatalf("WithDefaults changed set fields: %+v", got)
	}
	if err := validConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no listen", func(c *Config) { c.Listen = "" }, "pair.listen: required"},
		{"bad listen", func(c *Config) { c.Listen = "7400" }, "pair.listen: "},
		{"no peers", func(c *Config) { c.Peers = nil }, "pair.peers: at least one"},
		{"peer without id", func(c *Config) { c.Peers = append(c.Peers, PeerConfig{Address: "c:1"}) }, "pair.peers[1].id: required"},
		{"peer id with space", func(c *Config) { c.Peers[0].ID = "b b" }, "pair.peers[0].id: "},
		{"duplicate peer", func(c *Config) { c.Peers = append(c.Peers, PeerConfig{ID: "b", Address: "c:1"}) }, "pair.peers[1].id: \"b\" is also pair.peers[0].id"},
		{"peer without address", func(c *Config) { c.Peers[0].Address = "" }, "pair.peers[0].address: required"},
		{"peer address without port", func(c *Config) {
			c.Peers = append(c.Peers, PeerConfig{ID: "c", Address: "host-c"})
		}, "pair.peers[1].address: \"host-c\" is not host:port"},
		{"peer address port 0", func(c *Config) { c.Peers[0].Address = "b:0" }, "pair.peers[0].address: "},
		{"unknown auth", func(c *Config) { c.Auth = "none" }, "pair.auth: \"none\" is not one of hmac, mtls"},
		{"no secret", func(c *Config) { c.SecretEnv = "" }, "pair.secret_file: required"},
		{"two secrets", func(c *Config) { c.SecretFile = "/etc/feedd/secret" }, "pair.secret_env: set only one"},
		{"mtls without files", func(c *Config) { c.Auth = AuthMTLS }, "pair.tls.ca_file: required"},
		{"mtls without key", func(c *Config) {
			c.Auth, c.TLS = AuthMTLS, TLSFiles{CAFile: "ca", CertFile: "crt"}
		}, "pair.tls.key_file: required"},
		{"zero timeout", func(c *Config) { c.HandshakeTimeout = -1 }, "pair.handshake_timeout: "},
		{"backoff upside down", func(c *Config) { c.ReconnectMax = time.Millisecond }, "pair.reconnect_max: "},
		{"queue too long", func(c *Config) { c.SendQueue = MaxSendQueue + 1 }, "pair.send_queue: "},
		{"window too long", func(c *Config) { c.ObituaryWindow = c.WriteTimeout }, "pair.obituary_window: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Peers = append([]PeerConfig(nil), c.Peers...)
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestYAMLKeysDisjoint: the link's keys and the core's can share pair:.
func TestYAMLKeysDisjoint(t *testing.T) {
	keys := func(v any) map[string]bool {
		m := map[string]bool{}
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			if k, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
				m[k] = true
			}
		}
		return m
	}
	core := keys(ftpair.Config{})
	for k := range keys(Config{}) {
		if core[k] {
			t.Errorf("yaml key %q is used by both link.Config and ftpair.Config", k)
		}
	}
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("  a file secret of some length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := validConfig()
	c.SecretEnv, c.SecretFile = "", file
	creds, err := c.LoadCredentials()
	if err != nil || string(creds.Secret) != "a file secret of some length" {
		t.Fatalf("from file: %q %v", creds.Secret, err)
	}

	t.Setenv("FEEDD_LINK_TEST_SECRET", "an environment secret\n")
	c.SecretFile, c.SecretEnv = "", "FEEDD_LINK_TEST_SECRET"
	if creds, err = c.LoadCredentials(); err != nil || string(creds.Secret) != "an environment secret" {
		t.Fatalf("from env: %q %v", creds.Secret, err)
	}

	t.Setenv("FEEDD_LINK_TEST_SECRET", "short")
	if _, err = c.LoadCredentials(); err == nil || !strings.HasPrefix(err.Error(), "pair.secret_env: the secret is 5 bytes") {
		t.Fatalf("short secret: %v", err)
	} else if strings.Contains(err.Error(), "short") {
		t.Fatalf("error shows the secret: %v", err)
	}
	c.SecretEnv = "FEEDD_LINK_TEST_NOT_SET"
	if _, err = c.LoadCredentials(); err == nil || !strings.HasPrefix(err.Error(), "pair.secret_env: ") {
		t.Fatalf("unset variable: %v", err)
	}
	c.SecretEnv, c.SecretFile = "", filepath.Join(dir, "missing")
	if _, err = c.LoadCredentials(); err == nil || !strings.HasPrefix(err.Error(), "pair.secret_file: ") {
		t.Fatalf("missing file: %v", err)
	}
	c.Auth, c.SecretFile = AuthMTLS, ""
	c.TLS = TLSFiles{CAFile: file, CertFile: file, KeyFile: file}
	if _, err = c.LoadCredentials(); err == nil || !strings.HasPrefix(err.Error(), "pair.tls.") {
		t.Fatalf("bad PEM files: %v", err)
	}
}

func TestNewChecks(t *testing.T) {
	c := testConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}, PeerConfig{ID: "b", Address: nowhere})
	for _, tt := range []struct {
		name, self string
		creds      Credentials
		cfg        Config
		want       string
	}{
		{"own id among peers", "b", hmacCreds(), c, "pair.peers[1].id: \"b\" is this member's own member_id"},
		{"no member id", "", hmacCreds(), c, "member_id: required"},
		{"short secret", "c", Credentials{Secret: []byte("short")}, c, "pair.secret_env: the secret is 5 bytes"},
		{"mtls without certificate", "c", hmacCreds(), mtlsConfig("127.0.0.1:0", PeerConfig{ID: "a", Address: nowhere}), "pair.tls: no certificate"},
		{"invalid config", "c", hmacCreds(), Config{}, "pair.listen: required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.self, tt.cfg, tt.creds, nil)
			if err == nil {
				l.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}
