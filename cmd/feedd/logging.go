package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/feedd/feedd/member"
)

// newLogger builds the logger of c, its level held in level so that a
// SIGHUP can change it (watchHangups).
func newLogger(c member.LogConfig, level *slog.LevelVar, w io.Writer) *slog.Logger {
	level.Set(c.SlogLevel())
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// watchHangups gives SIGHUP its meaning for a running member until ctx
// ends: the configuration is read again and its log level applied; every
// other setting takes effect at the next start. A configuration that no
// longer loads is reported and changes nothing. Without this, SIGHUP would
// end the member at once, with no hand-over.
func watchHangups(ctx context.Context, hup <-chan os.Signal, reload func() (member.LogConfig, error), level *slog.LevelVar, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			c, err := reload()
			if err != nil {
				log.Error("SIGHUP: the configuration does not load; nothing changed", "err", err)
				continue
			}
			level.Set(c.SlogLevel())
			log.Info("SIGHUP: configuration read again; log level applied, other settings take effect at the next start", "level", c.Level)
		}
	}
}
