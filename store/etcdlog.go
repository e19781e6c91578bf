package store

import (
	"context"
	"log/slog"
	"sort"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdLogger is a zap logger for the embedded etcd that writes through
// log, so that etcd's lines come out in the replica's format (text or
// JSON, with its other lines) instead of zap's JSON beside them. Lines
// below level are dropped; stack traces are dropped always: etcd
// attaches one to every error-level line, also on normal events such as
// a listener closing at shutdown. Each line carries component=etcd, and
// the caller (etcd's source file) and logger name (raft) where etcd
// gives them.
func etcdLogger(log *slog.Logger, level zap.AtomicLevel) *zap.Logger {
	return zap.New(&slogCore{LevelEnabler: level, h: log.Handler().WithAttrs([]slog.Attr{slog.String("component", "etcd")})},
		zap.AddCaller())
}

// slogCore is a zapcore.Core over a slog.Handler.
type slogCore struct {
	zapcore.LevelEnabler
	h slog.Handler
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{LevelEnabler: c.LevelEnabler, h: c.h.WithAttrs(attrs(fields))}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) && c.h.Enabled(context.Background(), slogLevel(e.Level)) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	if e.Caller.Defined {
		r.AddAttrs(slog.String("caller", e.Caller.TrimmedPath()))
	}
	r.AddAttrs(attrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

// attrs turns zap fields into slog attributes, in the fields' order.
func attrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	order := make([]string, 0, len(fields))
	for _, f := range fields {
		f.AddTo(enc)
		order = append(order, f.Key)
	}
	out := make([]slog.Attr, 0, len(enc.Fields))
	seen := make(map[string]bool, len(order))
	for _, k := range order {
		if v, ok := enc.Fields[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, slog.Any(k, v))
		}
	}
	// Fields that added keys of their own names (zap.Inline, namespaces).
	var rest []string
	for k := range enc.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, slog.Any(k, enc.Fields[k]))
	}
	return out
}

// slogLevel maps zap's levels onto slog's; DPanic, Panic and Fatal are
// errors (etcd's own logger does the panicking and exiting).
func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
