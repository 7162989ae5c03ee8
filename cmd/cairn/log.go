package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// logFlags are the logging flags shared by the long-running commands.
type logFlags struct {
	file   string
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.file, "log-file", "", "write logs to `FILE` instead of stderr")
	fs.StringVar(&l.level, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log `FORMAT`: text or json")
}

// logger builds the slog.Logger the flags describe. The returned closer
// closes the log file, if any.
func (l *logFlags) logger(stderr io.Writer) (*slog.Logger, func(), error) {
	var lvl slog.Level
	switch strings.ToLower(l.level) {
	case "debug":
		lvl = slog.LevelDebug
	case "info", "":
		lvl = slog.LevelInfo
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, nil, usagef("--log-level %q: want debug, info, warn or error", l.level)
	}
	w, closer := stderr, func() {}
	if l.file != "" {
		f, err := os.OpenFile(l.file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		w, closer = f, func() { f.Close() }
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(l.format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), closer, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), closer, nil
	}
	closer()
	return nil, nil, usagef("--log-format %q: want text or json", l.format)
}

// quietByDefault makes the tools that print results log only warnings
// unless asked, so that their output is not drowned in connection events.
func quietByDefault(fs *flag.FlagSet) {
	f := fs.Lookup("log-level")
	f.DefValue = "warn"
	_ = f.Value.Set("warn")
}
