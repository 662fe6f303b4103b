package main

import (
	"fmt"
	"log/slog"

	"github.com/oactl/oactl/internal/config"
)

// logOptions are the log settings of the commands that write a log
// (serve, dev, mockwx, migrate): the factory's logger is built from them.
type logOptions struct {
	Format string // text or json
	Level  string // debug, info, warn or error

	level slog.Level // parsed by validate
}

func bindLogSettings(set *config.Set, o *logOptions) {
	set.String("log-format", &o.Format)
	set.String("log-level", &o.Level)
}

func (o *logOptions) validate() error {
	switch o.Format {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want text or json", o.Format)
	}
	switch o.Level {
	case "debug":
		o.level = slog.LevelDebug
	case "info":
		o.level = slog.LevelInfo
	case "warn":
		o.level = slog.LevelWarn
	case "error":
		o.level = slog.LevelError
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.Level)
	}
	return nil
}
