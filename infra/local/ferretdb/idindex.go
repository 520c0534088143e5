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

// rebuildIDIndexes rebuilds, on every collection table, FerretDB's unique `_id` index on the expression
// FerretDB's own `_id` look-ups use.
//
// FerretDB 1.24's SQLite backend finds, updates and deletes by `_id` with the condition
// `_ferretdb_sjson->'$._id' = ?`, but the unique index it creates is on `_ferretdb_sjson->"_id"`.
// SQLite matches an expression index only to the same expression, so each of those operations scans
// the whole table: 28 ms for a missing `_id` among 20,000 documents, 0.5 ms with an index on the
// expression the look-ups use. The first builds added such an index beside FerretDB's, and each insert then
// computed and stored both (FerretDB's CPU per document inserted into a collection of 160,000: 64-69 us
// with both, 45 us with one). So FerretDB's index is rebuilt in place instead: same name, which
// FerretDB's metadata and its statistics (collStats, dbStats, listDatabases) look it up by, still
// unique, on the other expression. Both expressions hold the same values, and FerretDB maps any
// unique-constraint failure to a duplicate key error. The rebuild, and the removal of the indexes earlier
// builds left, are one transaction: `_id` is unique at every moment. The build now makes a new collection's index
// on the look-up expression already (infra/local/ferretdb_source.py): the sweep brings those an earlier build made.
// The SQLite driver is the one FerretDB itself registers (modernc.org/sqlite, named "sqlite").
func rebuildIDIndexes(ctx context.Context, dir string, logger *slog.Logger) {
	seen := map[string]time.Time{}
	failures := map[string]int{}
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			sweep(ctx, dir, seen, failures, logger)
		}
	}
}

// Sweeps in a row a file may fail (FerretDB busy writing it) before it is reported.
const failuresReported = 20

// quietFor is how long a file must have gone unwritten for a sweep of it to count as done. A sweep reads the
// file as last committed, and a write under way (a collection being created) changes the file before it
// commits: the commit may leave the modification time where the sweep saw it, the clock being coarser than
// the two writes are apart, and a sweep that counted would not come back to the file until it is written
// again, which a collection written once and then only read never is. A file written within that time is swept
// again at the next tick.
const quietFor = time.Second

// sweptForGood says whether a sweep of a file last changed at `changed`, made at `now`, saw every write to it.
func sweptForGood(changed, now time.Time) bool {
	return now.Sub(changed) >= quietFor
}

// sweep looks only at database files written since the last sweep that counted: a new collection writes its file.
func sweep(ctx context.Context, dir string, seen map[string]time.Time, failures map[string]int, logger *slog.Logger) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	if err != nil {
		return
	}
	present := map[string]bool{}
	for _, file := range files {
		present[file] = true
		// Read before the file is: a write that comes after changes it again.
		now := time.Now()
		changed := latestChange(file)
		if !changed.After(seen[file]) {
			continue
		}
		if err := rebuildTables(ctx, file); err != nil {
			failures[file]++
			level := slog.LevelDebug
			if failures[file] == failuresReported {
				level = slog.LevelWarn
			}
			logger.Log(ctx, level, "could not rebuild _id indexes yet", slog.String("file", file), slog.String("error", err.Error()))
			continue
		}
		delete(failures, file)
		if sweptForGood(changed, now) {
			seen[file] = changed
		}
	}
	for file := range seen {
		if !present[file] {
			delete(seen, file)
		}
	}
	for file := range failures {
		if !present[file] {
			delete(failures, file)
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

// quoted is a name as an SQL identifier.
func quoted(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// indexStatement is how sqlite_master keeps the creating statement of an index on one expression of the documents.
// An index is recognised by this, not by its name alone, which a collection's own index could share (FerretDB names
// them `<table>_<index name>`).
func indexStatement(name, table string, unique bool, expression string) string {
	kind := "INDEX"
	if unique {
		kind = "UNIQUE INDEX"
	}
	return fmt.Sprintf("CREATE %s %s ON %s (%s)", kind, quoted(name), quoted(table), expression)
}

const (
	// What FerretDB indexes `_id` on, and what its look-ups compare.
	ferretIDExpression = `_ferretdb_sjson->"_id"`
	lookupExpression   = `_ferretdb_sjson->'$._id'`
)

// rebuildStatements is what brings a table's `_id` index to its rebuilt shape, given every index's creating
// statement by name; none when it is there already, or when FerretDB has not made the table's index yet. The
// earlier shapes: FerretDB's index as it makes it, the first builds' non-unique look-up index beside it, and one
// build's unique look-up index in its place under a name of its own, which FerretDB's statistics could not find.
// The rebuilt index is made before any other is dropped.
func rebuildStatements(table string, indexes map[string]string) []string {
	id := table + "__id_"
	rebuilt := indexStatement(id, table, true, lookupExpression)
	var statements []string
	switch indexes[id] {
	case indexStatement(id, table, true, ferretIDExpression):
		statements = append(statements, "DROP INDEX "+quoted(id), rebuilt)
	case "":
		if indexes[table+"_id_unique"] == indexStatement(table+"_id_unique", table, true, lookupExpression) {
			statements = append(statements, rebuilt)
		}
	}
	earlier := []struct {
		name   string
		unique bool
	}{{table + "_id_lookup", false}, {table + "_id_unique", true}}
	for _, index := range earlier {
		if indexes[index.name] == indexStatement(index.name, table, index.unique, lookupExpression) {
			statements = append(statements, "DROP INDEX "+quoted(index.name))
		}
	}
	return statements
}

// indexSQL is every index's creating statement in the file, by index name, and the collection tables' names.
func indexSQL(ctx context.Context, conn *sql.Conn) (map[string]string, []string, error) {
	// FerretDB's own tables and SQLite's (sqlite_stat1, made by the ANALYZE of collStats) are no collections.
	rows, err := conn.QueryContext(ctx, `SELECT type, name, COALESCE(sql, '') FROM sqlite_master
		WHERE tbl_name NOT LIKE '\_ferretdb\_%' ESCAPE '\' AND tbl_name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	indexes := map[string]string{}
	var tables []string
	for rows.Next() {
		var kind, name, statement string
		if err := rows.Scan(&kind, &name, &statement); err != nil {
			return nil, nil, err
		}
		switch kind {
		case "table":
			tables = append(tables, name)
		case "index":
			indexes[name] = statement
		}
	}
	return indexes, tables, rows.Err()
}

func rebuildTables(ctx context.Context, file string) error {
	// mode=rw: a database dropped since the sweep saw it must not come back as an empty file, which FerretDB
	// would then refuse at its next start ("no such table: _ferretdb_collections").
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	indexes, tables, err := indexSQL(ctx, conn)
	if err != nil {
		return err
	}
	for _, table := range tables {
		if len(rebuildStatements(table, indexes)) > 0 {
			if err := rebuild(ctx, conn, table); err != nil {
				return err
			}
		}
	}
	return nil
}

// rebuild puts the table's `_id` index on the look-up expression, in one transaction that checks again, under the
// write lock, what the sweep read before: FerretDB may have dropped or made the collection again meanwhile.
func rebuild(ctx context.Context, conn *sql.Conn, table string) (err error) {
	if _, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	indexes, _, err := indexSQL(ctx, conn)
	if err != nil {
		return err
	}
	for _, statement := range rebuildStatements(table, indexes) {
		if _, err = conn.ExecContext(ctx, statement); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
