package main

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

// AdminConfig is the `admin:` section: the member's HTTP endpoint for
// metrics, health, status and operator requests.
type AdminConfig struct {
	Listen string `yaml:"listen"`
}

func (c AdminConfig) withDefaults() AdminConfig {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7070"
	}
	return c
}

func (c AdminConfig) validate() error {
	if c.Listen == "off" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("admin.listen: %q is not host:port (or off): %w", c.Listen, err)
	}
	return nil
}

// adminHandlers are what the admin endpoint asks of the running member.
type adminHandlers struct {
	status     func() any
	healthy    func() error // liveness: nil while the member's loop is running
	ready      func() error // readiness: nil while the member could serve as active
	switchover func(ctx context.Context, target string) error
	secret     []byte // authenticates operator requests; nil refuses them
}

// switchoverAuthWindow bounds how old a signed operator request may be, so a
// captured request cannot be replayed later.
const switchoverAuthWindow = 30 * time.Second

// signRequest returns the value of the X-Feedd-Auth header for an operator
// request: a timestamp and an HMAC-SHA-256 over action, target and timestamp
// with the pair's shared secret. The secret itself never crosses the wire.
func signRequest(secret []byte, action, target string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return "t=" + ts + ",mac=" + hex.EncodeToString(requestMAC(secret, action, target, ts))
}

func requestMAC(secret []byte, action, target, ts string) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "feedd-admin\x00%s\x00%s\x00%s", action, target, ts)
	return m.Sum(nil)
}

// verifyRequest checks an X-Feedd-Auth header. Replays inside the window are
// possible but harmless: a switchover is idempotent while it is in progress.
func verifyRequest(secret []byte, header, action, target string, now time.Time) error {
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
	if d := now.Sub(time.Unix(sec, 0)); d > switchoverAuthWindow || d < -switchoverAuthWindow {
		return fmt.Errorf("request timestamp is %v away from this member's clock (limit %v)", d.Round(time.Second), switchoverAuthWindow)
	}
	got, err := hex.DecodeString(macHex)
	if err != nil || !hmac.Equal(got, requestMAC(secret, action, target, ts)) {
		return errors.New("request signature does not match the pair secret")
	}
	return nil
}

func newAdminMux(h adminHandlers, gatherer prometheus.Gatherer, log *slog.Logger) *http.ServeMux {
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
	mux.HandleFunc("GET /healthz", probe(h.healthy))
	mux.HandleFunc("GET /readyz", probe(h.ready))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(h.status()); err != nil {
			log.Warn("admin: encode status", "err", err)
		}
	})
	mux.HandleFunc("POST /switchover", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("to")
		if err := verifyRequest(h.secret, r.Header.Get("X-Feedd-Auth"), "switchover", target, time.Now()); err != nil {
			log.Warn("admin: switchover refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if err := h.switchover(r.Context(), target); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		log.Info("admin: switchover requested", "remote", r.RemoteAddr, "to", target)
		fmt.Fprintln(w, "switchover requested")
	})
	return mux
}

// adminServer serves an HTTP endpoint (a member's admin endpoint, the
// audit's metrics) until ctx ends; its owner calls wait after cancelling
// ctx.
type adminServer struct {
	srv  *http.Server
	ln   net.Listener
	wg   sync.WaitGroup
	addr string
}

func startAdmin(ctx context.Context, listen string, handler http.Handler, log *slog.Logger) (*adminServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	a := &adminServer{
		srv:  &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second},
		ln:   ln,
		addr: ln.Addr().String(),
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

func (a *adminServer) wait() { a.wg.Wait() }
