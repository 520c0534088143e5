package main

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// The pragmas reach SQLite as FerretDB opens its files: a misspelt one would be ignored without a word.
func TestSQLitePragmasApplyToEachConnection(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "pragmas.sqlite")+"?"+sqlitePragmas)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// FerretDB sets WAL mode itself; synchronous=NORMAL is only safe with it.
	if _, err = db.Exec("PRAGMA journal_mode=wal"); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"synchronous": 1, "temp_store": 2, "wal_autocheckpoint": 10000}
	for pragma, value := range want {
		var got int
		if err = db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != value {
			t.Errorf("PRAGMA %s = %d, want %d", pragma, got, value)
		}
	}
}
