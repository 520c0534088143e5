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
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// In WAL mode, synchronous=NORMAL commits without waiting for the disk and syncs at checkpoints: a commit
// survives FerretDB being killed (what the failure tests do), and the last ones may be lost only if the
// machine itself stops, as MongoDB's default write concern (no journal wait) allows. FULL, SQLite's
// default, held the one write lock through an fsync per command.
//
// temp_store(memory) keeps each statement's journal in memory: a multi-row INSERT or UPDATE inside FerretDB's
// transaction journals the pages it changes, and past 64 KB SQLite spilled them to a temporary file it created,
// wrote and closed again at every transaction. SQLite's sorts (an index built on a large collection) then stay
// in memory too: FerretDB sorts documents itself, so these are rare. wal_autocheckpoint(10000) copies the WAL
// into the database every 40 MB instead of every 4 MB: the pages every commit changes (index roots, the metadata
// table) are copied and synced once per checkpoint, so ten times less often. Together they took 16% off FerretDB's CPU per document
// in a fixed workload of inserts and reads by _id lists (58 against 49 us, three runs of each), and 16-22% off
// its CPU per fact while identity streams (594-668 against 470-559 us in three pairs of runs), which then
// resolved 9-18% more facts a second. The commit that reached 40 MB waited for that checkpoint (40-46 ms), so the
// pool of this build checkpoints each database written in the background, at the next quarter-second tick
// (ferretdb/_pool): a commit checkpoints the WAL itself only when it holds 40 MB since it last restarted.
const sqlitePragmas = "_pragma=synchronous(normal)&_pragma=temp_store(memory)&_pragma=wal_autocheckpoint(10000)"

// sqliteURL is FerretDB's SQLite URL for the database files in dir: FerretDB adds each file's name, and its own
// pragmas (WAL mode among them) after these.
func sqliteURL(dir string) string {
	return "file:" + dir + "/?" + sqlitePragmas
}

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to accept MongoDB wire protocol connections on")
	sqliteDir := flag.String("sqlite-dir", "data", "directory holding one SQLite file per database")
	logLevel := flag.String("log-level", "warn", "least severe level logged: debug, info, warn or error")
	pprofAddr := flag.String("pprof-addr", "", "TCP address to serve Go's profiles on (/debug/pprof/); none when empty")
	flag.Parse()

	if *pprofAddr != "" {
		go func() {
			// The profiles say where FerretDB's CPU goes under a benchmark's load (`go tool pprof`).
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil { //nolint:gosec // a local debugging address
				fmt.Fprintf(os.Stderr, "ferretdb: -pprof-addr: %s\n", err)
			}
		}()
	}
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

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(dir),
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
