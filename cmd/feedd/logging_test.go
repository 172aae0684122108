package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/member"
)

// TestSIGHUPAppliesTheLogLevel: a SIGHUP reads the configuration again and
// applies its log level; one that no longer loads changes nothing and says
// so.
func TestSIGHUPAppliesTheLogLevel(t *testing.T) {
	var out testsupport.SyncBuffer
	level := new(slog.LevelVar)
	log := newLogger(member.LogConfig{Format: "text", Level: "info"}, level, &out)
	next := make(chan func() (member.LogConfig, error))
	hup := make(chan os.Signal)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchHangups(ctx, hup, func() (member.LogConfig, error) { return (<-next)() }, level, log)
	}()
	// hangup delivers one SIGHUP and the configuration the reload reads;
	// when it returns, the reload has happened.
	hangup := func(c member.LogConfig, err error) {
		hup <- syscall.SIGHUP
		next <- func() (member.LogConfig, error) { return c, err }
		hup <- syscall.SIGHUP // taken only once the first is handled
		next <- func() (member.LogConfig, error) { return c, err }
	}
	hangup(member.LogConfig{Level: "debug"}, nil)
	if level.Level() != slog.LevelDebug {
		t.Fatalf("level %v after a SIGHUP with log.level debug", level.Level())
	}
	hangup(member.LogConfig{}, errors.New("serial.buad: unknown setting"))
	if level.Level() != slog.LevelDebug {
		t.Fatalf("level %v after a SIGHUP with a broken configuration; want it unchanged", level.Level())
	}
	cancel()
	<-done
	if s := out.String(); !strings.Contains(s, "log level applied") || !strings.Contains(s, "the configuration does not load; nothing changed") {
		t.Fatalf("log:\n%s", s)
	}
}
