package main

import (
	"bytes"
	"log/slog"
	"testing"
)

// resolutions counts how often slog resolves it, which a handler does when it formats the attribute.
type resolutions struct{ count int }

func (r *resolutions) LogValue() slog.Value {
	r.count++
	return slog.StringValue("the statement's arguments")
}

func textHandler(out *bytes.Buffer, level slog.Level) slog.Handler {
	dropTime := func(_ []string, attr slog.Attr) slog.Attr {
		if attr.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return attr
	}
	return slog.NewTextHandler(out, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime})
}

func TestAttributesOfAStatementNotLoggedAreNeverFormatted(t *testing.T) {
	var out bytes.Buffer
	args := &resolutions{}
	slog.New(newLazyAttrs(textHandler(&out, slog.LevelWarn))).With("args", args).Debug(">>> UPDATE")
	if args.count != 0 || out.Len() != 0 {
		t.Fatalf("formatted %d times, wrote %q", args.count, out.String())
	}

	// What the wrapper saves: the text handler alone formats them although nothing is written.
	plain := &resolutions{}
	slog.New(textHandler(&out, slog.LevelWarn)).With("args", plain).Debug(">>> UPDATE")
	if plain.count != 1 {
		t.Fatalf("the text handler formatted the attribute %d times", plain.count)
	}
}

func TestWrittenRecordsAreTheTextHandlersOwn(t *testing.T) {
	log := func(logger *slog.Logger) {
		logger = logger.With("conn", "127.0.0.1:1234").WithGroup("request").With("id", 7)
		logger.With("args", &resolutions{}).Warn("slow statement", "ms", 12)
		logger.WithGroup("").Error("failed", "code", 59)
	}
	var want, got bytes.Buffer
	log(slog.New(textHandler(&want, slog.LevelWarn)))
	log(slog.New(newLazyAttrs(textHandler(&got, slog.LevelWarn))))
	if got.String() != want.String() {
		t.Fatalf("got\n%s\nwant\n%s", got.String(), want.String())
	}
	if !bytes.Contains(got.Bytes(), []byte("request.args=")) {
		t.Fatalf("the attributes are missing: %s", got.String())
	}
}

func TestLoggersDerivedFromOneParentKeepTheirOwnAttributes(t *testing.T) {
	var out bytes.Buffer
	// Three `With`s leave the parent's list with room to spare, where a careless append would write.
	parent := slog.New(newLazyAttrs(textHandler(&out, slog.LevelWarn))).With("a", 1).With("b", 2).With("c", 3)
	first := parent.With("first", true)
	second := parent.With("second", true)
	first.Warn("one")
	second.Warn("two")
	want := "level=WARN msg=one a=1 b=2 c=3 first=true\nlevel=WARN msg=two a=1 b=2 c=3 second=true\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
