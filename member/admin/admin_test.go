package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestVerifyRequest(t *testing.T) {
	secret := []byte("0123456789abcdef-pair-secret")
	now := time.Unix(1_800_000_000, 0)
	good := SignRequest(secret, "switchover", "b", now)
	if err := VerifyRequest(secret, good, "switchover", "b", now.Add(5*time.Second)); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	tests := []struct {
		name, header, target string
		at                   time.Time
		secret               []byte
	}{
		{"other target", good, "c", now, secret},
		{"too old", good, "b", now.Add(time.Minute), secret},
		{"from the future", good, "b", now.Add(-time.Minute), secret},
		{"wrong secret", SignRequest([]byte("another-secret-of-16+"), "switchover", "b", now), "b", now, secret},
		{"no header", "", "b", now, secret},
		{"garbage", "t=abc,mac=zz", "b", now, secret},
		{"no secret configured", good, "b", now, nil},
	}
	for _, tt := range tests {
		if err := VerifyRequest(tt.secret, tt.header, "switchover", tt.target, tt.at); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if strings.Contains(good, string(secret)) {
		t.Fatal("the signed header carries the secret")
	}
}

func TestAdminEndpoints(t *testing.T) {
	secret := []byte("0123456789abcdef-pair-secret")
	var switched []string
	h := Handlers{
		Status:  func() any { return map[string]string{"role": "active"} },
		Healthy: func() error { return nil },
		Ready:   func() error { return errors.New("serial line is quiet") },
		Switchover: func(_ context.Context, target string) error {
			if target == "nobody" {
				return errors.New("no such member")
			}
			switched = append(switched, target)
			return nil
		},
		Secret: secret,
	}
	srv := httptest.NewServer(NewMux(h, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "quiet") {
		t.Errorf("/readyz = %d %q; want 503 with the reason", code, body)
	}
	code, body := get("/status")
	var st map[string]string
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st["role"] != "active" {
		t.Errorf("/status = %d %q", code, body)
	}
	if code, _ := get("/metrics"); code != 200 {
		t.Errorf("/metrics = %d", code)
	}

	post := func(target, auth string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/switchover?to="+target, nil)
		if auth != "" {
			req.Header.Set("X-Feedd-Auth", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("b", ""); code != http.StatusForbidden {
		t.Errorf("unsigned switchover = %d; want 403", code)
	}
	if code := post("b", SignRequest([]byte("wrong-secret-wrong-secret"), "switchover", "b", time.Now())); code != http.StatusForbidden {
		t.Errorf("wrongly signed switchover = %d; want 403", code)
	}
	if code := post("b", SignRequest(secret, "switchover", "b", time.Now())); code != 200 {
		t.Errorf("signed switchover = %d; want 200", code)
	}
	if code := post("nobody", SignRequest(secret, "switchover", "nobody", time.Now())); code != http.StatusConflict {
		t.Errorf("refused switchover = %d; want 409", code)
	}
	if len(switched) != 1 || switched[0] != "b" {
		t.Errorf("switchovers performed: %v; want exactly [b]", switched)
	}
}

// TestRefusalsAreLoggedSparingly: whoever can reach the endpoint can send
// refused requests; they warn once per refusalLogEvery, with how many were
// refused in between, and the rest go to debug.
func TestRefusalsAreLoggedSparingly(t *testing.T) {
	var out strings.Builder
	l := refusalLog{log: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	start := time.Unix(1_800_000_000, 0)
	for _, after := range []time.Duration{0, time.Second, 2 * time.Second, refusalLogEvery + time.Second, refusalLogEvery + 2*time.Second} {
		l.report(start.Add(after), "refused", "remote", "192.0.2.1:4000")
	}
	var levels []string
	var counts []float64
	for line := range strings.Lines(out.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		levels = append(levels, rec["level"].(string))
		n, _ := rec["refused_since_last_warning"].(float64)
		counts = append(counts, n)
	}
	if got, want := strings.Join(levels, " "), "WARN DEBUG DEBUG WARN DEBUG"; got != want {
		t.Fatalf("levels %s; want %s", got, want)
	}
	if counts[3] != 2 || counts[0] != 0 {
		t.Errorf("refusals reported since the last warning %v; want 2 on the second warning", counts)
	}

	// The endpoint logs its refusals that way.
	var logged strings.Builder
	srv := httptest.NewServer(NewMux(Handlers{Secret: []byte("0123456789abcdef-pair-secret")}, prometheus.NewRegistry(),
		slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	defer srv.Close()
	for range 3 {
		resp, err := http.Post(srv.URL+"/switchover?to=b", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("unsigned switchover = %d; want 403", resp.StatusCode)
		}
	}
	if w, d := strings.Count(logged.String(), "level=WARN"), strings.Count(logged.String(), "level=DEBUG"); w != 1 || d != 2 {
		t.Errorf("three refusals logged %d warnings and %d debug lines; want 1 and 2:\n%s", w, d, logged.String())
	}
}
