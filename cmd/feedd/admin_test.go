package main

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

	"github.com/feedd/feedd/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestVerifyRequest(t *testing.T) {
	secret := []byte("0123456789abcdef-pair-secret")
	now := time.Unix(1_800_000_000, 0)
	good := signRequest(secret, "switchover", "b", now)
	if err := verifyRequest(secret, good, "switchover", "b", now.Add(5*time.Second)); err != nil {
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
		{"wrong secret", signRequest([]byte("another-secret-of-16+"), "switchover", "b", now), "b", now, secret},
		{"no header", "", "b", now, secret},
		{"garbage", "t=abc,mac=zz", "b", now, secret},
		{"no secret configured", good, "b", now, nil},
	}
	for _, tt := range tests {
		if err := verifyRequest(tt.secret, tt.header, "switchover", tt.target, tt.at); err == nil {
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
	h := adminHandlers{
		status:  func() any { return map[string]string{"role": "active"} },
		healthy: func() error { return nil },
		ready:   func() error { return errors.New("serial line is quiet") },
		switchover: func(_ context.Context, target string) error {
			if target == "nobody" {
				return errors.New("no such member")
			}
			switched = append(switched, target)
			return nil
		},
		secret: secret,
	}
	srv := httptest.NewServer(newAdminMux(h, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))))
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
	if code := post("b", signRequest([]byte("wrong-secret-wrong-secret"), "switchover", "b", time.Now())); code != http.StatusForbidden {
		t.Errorf("wrongly signed switchover = %d; want 403", code)
	}
	if code := post("b", signRequest(secret, "switchover", "b", time.Now())); code != 200 {
		t.Errorf("signed switchover = %d; want 200", code)
	}
	if code := post("nobody", signRequest(secret, "switchover", "nobody", time.Now())); code != http.StatusConflict {
		t.Errorf("refused switchover = %d; want 409", code)
	}
	if len(switched) != 1 || switched[0] != "b" {
		t.Errorf("switchovers performed: %v; want exactly [b]", switched)
	}
}

func TestFeedJudge(t *testing.T) {
	j := feedJudge{window: time.Second}
	now := time.Unix(0, 0)
	if s := j.judge(now, healthOf(true, false, 0, 0)); s.String() != "ok" {
		t.Fatalf("start: %v", s)
	}
	// A window with more drops than frames is noisy.
	if s := j.judge(now.Add(time.Second), healthOf(true, false, 2, 10)); s.String() != "noisy" {
		t.Fatalf("mostly drops: %v", s)
	}
	// A window of clean frames is ok again.
	if s := j.judge(now.Add(2*time.Second), healthOf(true, false, 60, 11)); s.String() != "ok" {
		t.Fatalf("clean again: %v", s)
	}
	if s := j.judge(now.Add(3*time.Second), healthOf(true, true, 60, 11)); s.String() != "quiet" {
		t.Fatalf("quiet line: %v", s)
	}
	if s := j.judge(now.Add(4*time.Second), healthOf(false, false, 60, 11)); s.String() != "quiet" {
		t.Fatalf("port closed: %v", s)
	}
}

// TestFeedJudgeHoles: a port whose stream has a hole a second or more is
// noisy at once, and stays so until a whole window passes with at most one.
func TestFeedJudgeHoles(t *testing.T) {
	j := feedJudge{window: 500 * time.Millisecond}
	now := time.Unix(0, 0)
	h := healthOf(true, false, 1000, 0)
	step := func(d time.Duration, holes uint64, want string) {
		t.Helper()
		now = now.Add(d)
		h.Frames += 100
		h.Holes = holes
		if s := j.judge(now, h); s.String() != want {
			t.Fatalf("at %v with %d holes: %v, want %s", now.Sub(time.Unix(0, 0)), holes, s, want)
		}
	}
	step(0, 0, "ok")
	step(3*time.Second, 4, "ok")     // a few holes now and then
	step(3*time.Second, 8, "ok")     // eight within the window
	step(4*time.Second, 9, "ok")     // the window ended with nine: counting again
	step(2*time.Second, 19, "noisy") // ten in two seconds
	step(5*time.Second, 20, "noisy") // hysteresis: the window is not over
	step(6*time.Second, 21, "noisy") // a window ended, but with two holes
	step(10*time.Second, 22, "ok")   // a window with one
}

func healthOf(connected, quiet bool, frames, dropped uint64) ingest.Health {
	return ingest.Health{Connected: connected, Quiet: quiet, Frames: frames, Dropped: dropped}
}
