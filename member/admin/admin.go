package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is the `admin:` section: the member's HTTP endpoint for metrics,
// health, status and operator requests.
type Config struct {
	Listen string `yaml:"listen"`
}

// Off is the value of listen that runs no admin endpoint.
const Off = "off"

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7070"
	}
	return c
}

// Validate reports an unusable listen address, naming the field.
func (c Config) Validate() error {
	if c.Listen == Off {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("admin.listen: %q is not host:port (or off): %w", c.Listen, err)
	}
	return nil
}

// Handlers are what the admin endpoint asks of the running member.
type Handlers struct {
	Status     func() any
	Healthy    func() error // liveness: nil while the member's loop is running
	Ready      func() error // readiness: nil while the member could serve as active
	Switchover func(ctx context.Context, target string) error
	Secret     []byte // authenticates operator requests; nil refuses them
}

// AuthWindow bounds how old a signed operator request may be, so a captured
// request cannot be replayed later.
const AuthWindow = 30 * time.Second

// SignRequest returns the value of the X-Feedd-Auth header for an operator
// request: a timestamp and an HMAC-SHA-256 over action, target and timestamp
// with the pair's shared secret. The secret itself never crosses the wire.
func SignRequest(secret []byte, action, target string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return "t=" + ts + ",mac=" + hex.EncodeToString(requestMAC(secret, action, target, ts))
}

func requestMAC(secret []byte, action, target, ts string) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "feedd-admin\x00%s\x00%s\x00%s", action, target, ts)
	return m.Sum(nil)
}

// VerifyRequest checks an X-Feedd-Auth header. Replays inside the window are
// possible but harmless: a switchover is idempotent while it is in progress.
func VerifyRequest(secret []byte, header, action, target string, now time.Time) error {
	if len(secret) == 0 {
		return errors.New("operator requests are disabled: no pair secret is configured")
	}
	var ts, macHex string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "mac":
			macHex = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("missing or malformed X-Feedd-Auth timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > AuthWindow || d < -AuthWindow {
		return fmt.Errorf("request timestamp is %v away from this member's clock (limit %v)", d.Round(time.Second), AuthWindow)
	}
	got, err := hex.DecodeString(macHex)
	if err != nil || !hmac.Equal(got, requestMAC(secret, action, target, ts)) {
		return errors.New("request signature does not match the pair secret")
	}
	return nil
}

// NewMux serves the admin endpoint: /metrics from gatherer, /healthz,
// /readyz, /status and POST /switchover (signed with SignRequest) from h.
func NewMux(h Handlers, gatherer prometheus.Gatherer, log *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	probe := func(check func() error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := check(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.HandleFunc("GET /healthz", probe(h.Healthy))
	mux.HandleFunc("GET /readyz", probe(h.Ready))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(h.Status()); err != nil {
			log.Warn("admin: encode status", "err", err)
		}
	})
	refusals := refusalLog{log: log}
	mux.HandleFunc("POST /switchover", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("to")
		if err := VerifyRequest(h.Secret, r.Header.Get("X-Feedd-Auth"), "switchover", target, time.Now()); err != nil {
			refusals.report(time.Now(), "admin: switchover refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if err := h.Switchover(r.Context(), target); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		log.Info("admin: switchover requested", "remote", r.RemoteAddr, "to", target)
		fmt.Fprintln(w, "switchover requested")
	})
	return mux
}

// refusalLogEvery bounds the warnings about refused operator requests:
// anyone who can reach the endpoint can send them, and must not be able to
// flood the log.
const refusalLogEvery = 10 * time.Second

// refusalLog logs the first refusal of each refusalLogEvery as a warning,
// with the number of refusals since the last warning, and the others at
// debug level.
type refusalLog struct {
	log      *slog.Logger
	mu       sync.Mutex
	lastWarn time.Time
	since    int // refusals logged at debug level since lastWarn
}

func (l *refusalLog) report(now time.Time, msg string, attrs ...any) {
	l.mu.Lock()
	level, since := slog.LevelDebug, 0
	if l.lastWarn.IsZero() || now.Sub(l.lastWarn) >= refusalLogEvery {
		level, since, l.lastWarn, l.since = slog.LevelWarn, l.since, now, 0
	} else {
		l.since++
	}
	l.mu.Unlock()
	if since > 0 {
		attrs = append(attrs, "refused_since_last_warning", since)
	}
	l.log.Log(context.Background(), level, msg, attrs...)
}

// Server serves an HTTP endpoint (a member's admin endpoint, the audit's
// metrics) until the context it was started with ends; its owner calls
// Wait after cancelling that context.
type Server struct {
	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup
	// Addr is the address it listens on (the port chosen for port 0).
	Addr string
}

// Start listens on listen and serves handler until ctx ends.
func Start(ctx context.Context, listen string, handler http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	a := &Server{
		srv:  &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute},
		ln:   ln,
		Addr: ln.Addr().String(),
	}
	a.wg.Go(func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin endpoint stopped", "err", err)
		}
	})
	a.wg.Go(func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		a.srv.Shutdown(shutdownCtx)
	})
	return a, nil
}

// Wait returns once the server has stopped.
func (a *Server) Wait() { a.wg.Wait() }
