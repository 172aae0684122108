package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// LogConfig is the `log:` section.
type LogConfig struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

func (c LogConfig) withDefaults() LogConfig {
	if c.Format == "" {
		c.Format = "text"
	}
	if c.Level == "" {
		c.Level = "info"
	}
	return c
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

func (c LogConfig) validate() error {
	if c.Format != "text" && c.Format != "json" {
		return fmt.Errorf("log.format: %q is not one of text, json", c.Format)
	}
	if _, ok := logLevels[c.Level]; !ok {
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Level)
	}
	return nil
}

// newLogger builds the logger of c, its level held in level so that a
// SIGHUP can change it (watchHangups).
func newLogger(c LogConfig, level *slog.LevelVar, w io.Writer) *slog.Logger {
	level.Set(logLevels[c.Level])
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
func watchHangups(ctx context.Context, hup <-chan os.Signal, reload func() (LogConfig, error), level *slog.LevelVar, log *slog.Logger) {
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
			level.Set(logLevels[c.Level])
			log.Info("SIGHUP: configuration read again; log level applied, other settings take effect at the next start", "level", c.Level)
		}
	}
}
