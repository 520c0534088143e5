package main

import (
	"context"
	"log/slog"
	"slices"
)

// lazyAttrs keeps the attributes a logger is given with `With` and formats them only for a record that is written.
//
// FerretDB 1.24 calls `With` with every SQL statement's arguments (the whole document, as JSON) before logging
// the statement at debug level, twice a statement. slog's text handler formats such attributes when `With` is
// called, logged or not: a tenth of FerretDB's CPU under a write load, at the default warn level.
type lazyAttrs struct {
	base    slog.Handler
	pending []slog.Attr
}

func newLazyAttrs(base slog.Handler) slog.Handler {
	return &lazyAttrs{base: base}
}

func (h *lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h *lazyAttrs) Handle(ctx context.Context, record slog.Record) error {
	return h.materialised().Handle(ctx, record)
}

func (h *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	// A copy: loggers derived from the same parent must not share an array to append to.
	return &lazyAttrs{base: h.base, pending: append(slices.Clip(h.pending), attrs...)}
}

func (h *lazyAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	// Attributes given before the group stay outside it, so they are handed over first.
	return &lazyAttrs{base: h.materialised().WithGroup(name)}
}

func (h *lazyAttrs) materialised() slog.Handler {
	if len(h.pending) == 0 {
		return h.base
	}
	return h.base.WithAttrs(h.pending)
}
