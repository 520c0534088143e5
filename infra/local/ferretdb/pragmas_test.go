package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// The pragmas reach SQLite on every connection to a file FerretDB opens under the URL it is given: a misspelt one
// would be ignored without a word.
func TestSQLitePragmasApplyToEachConnection(t *testing.T) {
	// FerretDB puts the file's name between the directory and the query, and adds WAL mode to the query.
	url := sqliteURL(t.TempDir())
	path, query, _ := strings.Cut(url, "?")
	db, err := sql.Open("sqlite", path+"pragmas.sqlite?"+query+"&_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	want := map[string]int{"synchronous": 1, "temp_store": 2, "wal_autocheckpoint": 10000}
	var connections []*sql.Conn
	for range 2 {
		conn, err := db.Conn(ctx) // a second one, while the first is held, is a new connection
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		connections = append(connections, conn)
	}
	for i, conn := range connections {
		for pragma, value := range want {
			var got int
			if err = conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d, PRAGMA %s: %v", i, pragma, err)
			}
			if got != value {
				t.Errorf("connection %d: PRAGMA %s = %d, want %d", i, pragma, got, value)
			}
		}
	}
}
