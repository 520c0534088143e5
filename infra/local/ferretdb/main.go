// Command ferretdb runs FerretDB v1 with its SQLite backend for Parterre's local stack.
//
// It embeds the github.com/FerretDB/FerretDB/ferretdb package instead of building FerretDB's own
// cmd/ferretdb, which panics at start when built from the module download (its generated
// build/version/version.txt is absent there).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to accept MongoDB wire protocol connections on")
	sqliteDir := flag.String("sqlite-dir", "data", "directory holding one SQLite file per database")
	logLevel := flag.String("log-level", "warn", "least severe level logged: debug, info, warn or error")
	flag.Parse()

	if err := run(*listenAddr, *sqliteDir, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %s\n", err)
		os.Exit(1)
	}
}

func run(listenAddr, sqliteDir, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(newLazyAttrs(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	dir, err := filepath.Abs(sqliteDir)
	if err != nil {
		return fmt.Errorf("-sqlite-dir: %w", err)
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-sqlite-dir: %w", err)
	}

	// Every command allocates documents it drops at once, so the collector ran for a tenth of FerretDB's CPU:
	// collecting at 4x the live heap instead of 2x halves that, for a heap of a few hundred MB.
	debug.SetGCPercent(400)

	// SIGTERM is how the Python stack stops us; cancelling the context lets FerretDB close
	// connections and the SQLite files cleanly instead of dying mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// In WAL mode, synchronous=NORMAL commits without waiting for the disk and syncs at checkpoints: a commit
	// survives FerretDB being killed (what the failure tests do), and the last ones may be lost only if the
	// machine itself stops, as MongoDB's default write concern (no journal wait) allows. FULL, SQLite's
	// default, held the one write lock through an fsync per command.
	sqliteURL := "file:" + dir + "/?_pragma=synchronous(normal)"
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	logger.Warn("FerretDB listening", slog.String("listen_addr", listenAddr), slog.String("sqlite_dir", dir))
	go rebuildIDIndexes(ctx, dir, logger)
	if err = db.Run(ctx); err != nil {
		return err
	}
	logger.Warn("FerretDB stopped")
	return nil
}
