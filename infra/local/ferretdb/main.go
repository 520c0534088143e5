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
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(sqliteDir)
	if err != nil {
		return fmt.Errorf("-sqlite-dir: %w", err)
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-sqlite-dir: %w", err)
	}

	// SIGTERM is how the Python stack stops us; cancelling the context lets FerretDB close
	// connections and the SQLite files cleanly instead of dying mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return err
	}

	logger.Warn("FerretDB listening", slog.String("listen_addr", listenAddr), slog.String("sqlite_dir", dir))
	go indexIDLookups(ctx, dir, logger)
	if err = db.Run(ctx); err != nil {
		return err
	}
	logger.Warn("FerretDB stopped")
	return nil
}
