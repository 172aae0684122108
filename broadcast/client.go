package broadcast

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// connOpts are the options every client of the pipeline shares: seeds,
// identification, TLS, SASL and logging.
func connOpts(c Config, clientID string, log kgoLogger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		// The client id shows up in broker logs and quotas: pipeline and
		// member, so an operator can tell the two members apart.
		kgo.ClientID(clientID),
		kgo.WithLogger(log),
		// KIP-714 pushes client telemetry to the broker. feedd exports its
		// own metrics to Prometheus; the push would only add requests and
		// up to a second to every Close (which deactivation waits on).
		kgo.DisableClientMetrics(),
		// franz-go backs off from 250ms up to 5s between retries. After a
		// broker outage that would add up to 5s to the recovery of a
		// feed whose frames are meanwhile piling up in the ring; capping
		// at 1s costs at most one reconnection attempt a second.
		kgo.RetryBackoffFn(retryBackoff),
	}
	sec, err := c.SecurityOpts()
	if err != nil {
		return nil, err
	}
	return append(opts, sec...), nil
}

// SecurityOpts returns the client options for the configuration's TLS and
// SASL settings (none when both are off): what any other reader of the
// pipeline's topic, such as the audit, needs to connect as the members do.
// It reads the files and the environment variable they name.
func (c Config) SecurityOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if c.TLS.Enabled {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		m, err := saslMechanism(c.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// CheckFiles reads what the configuration names outside itself, as every
// client of the pipeline does before it connects: the TLS CA, certificate
// and key, and the SASL password. It connects to nothing.
func (c Config) CheckFiles() error {
	_, err := connOpts(c, "", kgoLogger{})
	return err
}

// retryBackoff doubles from 100ms to 1s, with ±20% jitter so that the two
// members do not retry in step.
func retryBackoff(fails int) time.Duration {
	d := time.Second
	if fails < 4 {
		d = 100 * time.Millisecond << max(fails-1, 0)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func tlsConfig(c TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // operator's explicit choice, documented as testing only
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// saslMechanism builds the mechanism. The password is read when a
// connection authenticates (so a rotated file is picked up) and lives only
// in the franz-go call that uses it.
func saslMechanism(c SASLConfig) (sasl.Mechanism, error) {
	// Fail at start rather than on the first connection if the password
	// cannot be read.
	if _, err := c.password(); err != nil {
		return nil, err
	}
	switch c.Mechanism {
	case "PLAIN":
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pass, err := c.password()
			return plain.Auth{User: c.Username, Pass: pass}, err
		}), nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		fn := func(context.Context) (scram.Auth, error) {
			pass, err := c.password()
			return scram.Auth{User: c.Username, Pass: pass}, err
		}
		if c.Mechanism == "SCRAM-SHA-256" {
			return scram.Sha256(fn), nil
		}
		return scram.Sha512(fn), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not supported", c.Mechanism)
}

// password reads the SASL password. Errors name the source, never the value.
func (c SASLConfig) password() (string, error) {
	if c.PasswordEnv != "" {
		v, ok := os.LookupEnv(c.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("kafka.sasl.password_env: environment variable %s is not set", c.PasswordEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka.sasl.password_file: %w", err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", errors.New("kafka.sasl.password_file: the file is empty")
	}
	return v, nil
}

// kgoLogger hands franz-go's log lines to slog. franz-go logs every
// transaction begin and end at info level, which at a commit every 25ms would
// drown the member's own log, so its info becomes debug. Its warnings and
// errors repeat at every retry while Kafka cannot be reached (every failed
// dial, of every client): with rep set, each message is logged the first
// time, then at most once every kgoRepeatEvery with how many times it was
// left out.
type kgoLogger struct {
	l   *slog.Logger
	rep *repeats
}

// kgoRepeatEvery is how often a repeating franz-go warning or error is logged.
const kgoRepeatEvery = 30 * time.Second

func newKgoLogger(l *slog.Logger) kgoLogger {
	return kgoLogger{l: l, rep: &repeats{last: map[string]*repeat{}}}
}

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	}
	if l > slog.LevelDebug && k.rep != nil {
		left, ok := k.rep.admit(l.String()+" "+msg, time.Now(), kgoRepeatEvery)
		if !ok {
			return
		}
		if left > 0 {
			keyvals = append(keyvals, "repeats_not_logged", left)
		}
	}
	k.l.Log(context.Background(), l, "kafka client: "+msg, keyvals...)
}

// repeats rate-limits log lines by key; safe for concurrent use.
type repeats struct {
	mu   sync.Mutex
	last map[string]*repeat
}

type repeat struct {
	at   time.Time // last logged
	left int       // not logged since
}

// admit reports whether the line with key may be logged now (the first
// time, or every after its last), and how many were left out before it.
func (r *repeats) admit(key string, now time.Time, every time.Duration) (left int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.last[key]
	switch {
	case e == nil:
		r.last[key] = &repeat{at: now}
		return 0, true
	case now.Sub(e.at) < every:
		e.left++
		return 0, false
	}
	left = e.left
	e.at, e.left = now, 0
	return left, true
}
