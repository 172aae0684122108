package main

import (
	"fmt"
	"io"
	"log/slog"
)

// LogConfig is the `log:` section.
type LogConfig struct {
	Format string `yaml:"format" help:"text or json"`
	Level  string `yaml:"level" help:"debug, info, warn or error"`
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

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevels[c.Level]}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
