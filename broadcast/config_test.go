package broadcast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kfake"
)

func validConfig() Config {
	return Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "feed"}.WithDefaults()
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.CommitInterval != DefaultCommitInterval || c.CommitMaxFrames != DefaultCommitMaxFrames ||
		c.TransactionTimeout != DefaultTransactionTimeout || c.Partitions != 1 || c.Key != KeyNone || c.Compression != "none" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if got := c.TransactionalIDFor("ais-north"); got != "feedd-ais-north" {
		t.Fatalf("transactional id %q, want feedd-ais-north", got)
	}
	c.TransactionalID = "custom"
	if got := c.TransactionalIDFor("ais-north"); got != "custom" {
		t.Fatalf("transactional id %q, want custom", got)
	}
}

// TestConfigValidate: every error names the YAML field it is about.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		field  string
		mutate func(*Config)
	}{
		{"kafka.brokers:", func(c *Config) { c.Brokers = nil }},
		{"kafka.brokers:", func(c *Config) { c.Brokers = []string{"nohost"} }},
		{"kafka.topic:", func(c *Config) { c.Topic = "" }},
		{"kafka.topic:", func(c *Config) { c.Topic = "bad topic" }},
		{"kafka.transactional_id:", func(c *Config) { c.TransactionalID = "a b" }},
		{"kafka.commit_interval: must be > 0", func(c *Config) { c.CommitInterval = -time.Millisecond }},
		{"kafka.commit_linger: must be between 0 and kafka.commit_interval", func(c *Config) { c.CommitLinger = -time.Millisecond }},
		{"kafka.commit_linger: must be between 0 and kafka.commit_interval", func(c *Config) { c.CommitLinger = c.CommitInterval + 1 }},
		{"kafka.commit_max_frames:", func(c *Config) { c.CommitMaxFrames = -1 }},
		{"kafka.commit_max_frames:", func(c *Config) { c.CommitMaxFrames = maxCommitFrames + 1 }},
		{"kafka.commit_max_bytes:", func(c *Config) { c.CommitMaxBytes = -1 }},
		{"kafka.commit_timeout:", func(c *Config) { c.CommitTimeout = -1 }},
		{"kafka.transaction_timeout:", func(c *Config) { c.TransactionTimeout = 500 * time.Millisecond }},
		{"kafka.transaction_timeout:", func(c *Config) { c.CommitInterval = time.Minute; c.TransactionTimeout = 30 * time.Second }},
		{"kafka.partitions: must be 1", func(c *Config) { c.Partitions = 3 }},
		{"kafka.replication_factor:", func(c *Config) { c.ReplicationFactor = -2 }},
		{"kafka.min_insync_replicas:", func(c *Config) { c.MinInsyncReplicas = -1 }},
		{"kafka.min_insync_replicas:", func(c *Config) { c.ReplicationFactor = 2; c.MinInsyncReplicas = 3 }},
		{"kafka.key:", func(c *Config) { c.Key = "random" }},
		{"kafka.producer:", func(c *Config) { c.Producer = "exactly-once" }},
		{"kafka.compression:", func(c *Config) { c.Compression = "brotli" }},
		{"kafka.tls.enabled:", func(c *Config) { c.TLS.CAFile = "/ca.pem" }},
		{"kafka.tls.key_file:", func(c *Config) { c.TLS.Enabled = true; c.TLS.CertFile = "/c.pem" }},
		{"kafka.sasl.mechanism:", func(c *Config) { c.SASL.Username = "u" }},
		{"kafka.sasl.mechanism:", func(c *Config) { c.SASL = SASLConfig{Mechanism: "GSSAPI", Username: "u", PasswordEnv: "P"} }},
		{"kafka.sasl.username:", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", PasswordEnv: "P"} }},
		{"kafka.sasl.password_file:", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u"} }},
		{"kafka.sasl.password_env:", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordFile: "/p", PasswordEnv: "P"}
		}},
	} {
		c := validConfig()
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tc.field, err, tc.field)
		}
	}
	// All the errors at once, one per line.
	c := Config{}
	c.CommitInterval = -1
	err := c.Validate()
	for _, f := range []string{"kafka.brokers:", "kafka.topic:", "kafka.commit_interval:"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("Validate() = %v, want it to name %s", err, f)
		}
	}
}

// TestSecretsNeverShown runs pipelines over TLS with SASL SCRAM (password
// from the environment) and PLAIN (password from a file) against a broker
// that demands them, and checks that neither password appears in String(),
// fmt's verbs, Status (as JSON), errors or any log line, the Kafka clients'
// debug logs included.
func TestSecretsNeverShown(t *testing.T) {
	const scramPass, plainPass, wrongPass = "s3cret-scram-Zq81", "s3cret-plain-Xw27", "s3cret-wrong-Pp40"
	serverTLS, caFile := testsupport.ServerTLS(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverTLS), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "scram-user", scramPass),
		kfake.Superuser("PLAIN", "plain-user", plainPass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]

	dir := t.TempDir()
	plainFile, wrongFile := filepath.Join(dir, "plain"), filepath.Join(dir, "wrong")
	if err := os.WriteFile(plainFile, []byte(plainPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrongFile, []byte(wrongPass), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FEEDD_TEST_SCRAM_PASSWORD", scramPass)

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var shown []string
	show := func(v ...any) {
		for _, x := range v {
			shown = append(shown, fmt.Sprintf("%v|%+v|%#v|%s", x, x, x, x))
			if b, err := json.Marshal(x); err == nil {
				shown = append(shown, string(b))
			}
		}
	}

	for _, tc := range []struct {
		name string
		sasl SASLConfig
		ok   bool
	}{
		{"scram-env", SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "scram-user", PasswordEnv: "FEEDD_TEST_SCRAM_PASSWORD"}, true},
		{"plain-file", SASLConfig{Mechanism: "PLAIN", Username: "plain-user", PasswordFile: plainFile}, true},
		{"wrong-password", SASLConfig{Mechanism: "PLAIN", Username: "plain-user", PasswordFile: wrongFile}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(addr, "feed-"+tc.name)
			cfg.TLS = TLSConfig{Enabled: true, CAFile: caFile}
			cfg.SASL = tc.sasl
			show(cfg, cfg.SASL, &cfg)
			p := startMemberWith(t, cfg, Options{Pipeline: "test", Member: tc.name, Ring: backlog.Config{}, Logger: log})

			actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := p.Activate(actx)
			acancel()
			show(err)
			if !tc.ok {
				if err == nil {
					t.Fatal("activation with a wrong password succeeded")
				}
				// kfake drops the connection on a failed SASL exchange
				// (EOF); Kafka answers SASL_AUTHENTICATION_FAILED.
				t.Logf("wrong password: %v", err)
				show(p.Status())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 20; i++ {
				p.Accept(frame(i, time.Now()))
			}
			waitFor(t, "frames committed over TLS+SASL", func() bool { return p.Status().Counters.CommittedFrames == 20 })
			show(p.Status())
		})
	}
	all := logs.String() + strings.Join(shown, "\n")
	for _, secret := range []string{scramPass, plainPass, wrongPass} {
		if strings.Contains(all, secret) {
			t.Errorf("a password appears in logs or output:\n%s", all)
		}
	}
}
