package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// indexIDLookups keeps, on every collection table, one unique `_id` index that FerretDB's own `_id`
// look-ups can use, in place of the one FerretDB creates.
//
// FerretDB 1.24's SQLite backend finds, updates and deletes by `_id` with the condition
// `_ferretdb_sjson->'$._id' = ?`, but the unique index it creates is on `_ferretdb_sjson->"_id"`.
// SQLite matches an expression index only to the same expression, so each of those operations scans
// the whole table: 28 ms for a missing `_id` among 20,000 documents, 0.5 ms with an index on the
// expression the look-ups use. That index is made unique and FerretDB's is dropped: the two hold the
// same values, and each insert computed and stored both (FerretDB's CPU per document inserted into a
// collection of 160,000: 64-69 us with both, 45 us with one). FerretDB maps any unique-constraint
// failure to a duplicate key error, so `_id` stays unique with the same error; the `_id_` index its
// metadata lists is still reported by listIndexes. Ours is created before FerretDB's is dropped, so
// `_id` is unique at every moment. The SQLite driver is the one FerretDB itself registers
// (modernc.org/sqlite, named "sqlite").
func indexIDLookups(ctx context.Context, dir string, logger *slog.Logger) {
	seen := map[string]time.Time{}
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			sweep(ctx, dir, seen, logger)
		}
	}
}

// sweep looks only at database files written since the last sweep: a new collection writes its file.
func sweep(ctx context.Context, dir string, seen map[string]time.Time, logger *slog.Logger) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	if err != nil {
		return
	}
	present := map[string]bool{}
	for _, file := range files {
		present[file] = true
		changed := latestChange(file)
		if !changed.After(seen[file]) {
			continue
		}
		if err := indexTables(ctx, file); err != nil {
			logger.Debug("could not index _id look-ups yet", slog.String("file", file), slog.String("error", err.Error()))
			continue
		}
		seen[file] = changed
	}
	for file := range seen {
		if !present[file] {
			delete(seen, file)
		}
	}
}

func latestChange(file string) time.Time {
	var latest time.Time
	for _, path := range []string{file, file + "-wal"} {
		if info, err := os.Stat(path); err == nil && info.ModTime().After(latest) {
			latest = info.ModTime()
		}
	}
	return latest
}

func indexTables(ctx context.Context, file string) error {
	// mode=rw: a database dropped since the sweep saw it must not come back as an empty file, which FerretDB
	// would then refuse at its next start ("no such table: _ferretdb_collections").
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name FROM sqlite_master WHERE tbl_name NOT LIKE '\_ferretdb\_%' ESCAPE '\'`)
	if err != nil {
		return err
	}
	var tables []string
	indexes := map[string]bool{}
	for rows.Next() {
		var kind, name, table string
		if err := rows.Scan(&kind, &name, &table); err != nil {
			rows.Close()
			return err
		}
		if kind == "table" {
			tables = append(tables, table)
		} else if kind == "index" {
			indexes[name] = true
		}
	}
	rows.Close()
	for _, table := range tables {
		quoted := strings.ReplaceAll(table, `"`, `""`)
		var statements []string
		if !indexes[table+"_id_unique"] {
			statements = append(statements, fmt.Sprintf(
				`CREATE UNIQUE INDEX IF NOT EXISTS "%s_id_unique" ON "%s" (_ferretdb_sjson->'$._id')`, quoted, quoted,
			))
		}
		// FerretDB's own, and the non-unique look-up index earlier builds of this command added.
		for _, superseded := range []string{table + "__id_", table + "_id_lookup"} {
			if indexes[superseded] {
				statements = append(statements, fmt.Sprintf(`DROP INDEX IF EXISTS "%s"`, strings.ReplaceAll(superseded, `"`, `""`)))
			}
		}
		for _, statement := range statements {
			// One at a time and in this order: the unique index exists before FerretDB's goes.
			if _, err := db.ExecContext(ctx, statement); err != nil {
				return err
			}
		}
	}
	return nil
}
