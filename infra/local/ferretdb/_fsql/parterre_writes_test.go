// Added with parterre_writes.go to FerretDB's internal/util/fsql package; tests/infra/test_ferretdb_source.py runs
// it in the edited source.

package fsql

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// parterreOpen opens a database whose second writer SQLite refuses at once (busy_timeout 0) rather than putting it to
// sleep: a write that went ahead of its turn fails.
func parterreOpen(t *testing.T) *DB {
	t.Helper()

	file := filepath.Join(t.TempDir(), "turns.sqlite")
	sqlDB, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(0)&_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	db := WrapDB(sqlDB, "turns", slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = db.Close() })

	if _, err = db.ExecContext(context.Background(), "CREATE TABLE facts (n INTEGER)"); err != nil {
		t.Fatal(err)
	}

	return db
}

// parterreHoldWrite opens a transaction that has written, and keeps it open until the returned function is called;
// that function returns the transaction's error.
func parterreHoldWrite(t *testing.T, db *DB) func() error {
	t.Helper()

	ctx := context.Background()
	wrote, finish, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.InTransaction(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO facts VALUES (1)"); err != nil {
				close(wrote)
				return err
			}
			close(wrote)
			<-finish
			return nil
		})
	}()
	<-wrote

	return func() error {
		close(finish)
		return <-done
	}
}

func TestParterreAWriteWaitsForTheOneUnderWay(t *testing.T) {
	ctx := context.Background()
	db := parterreOpen(t)
	finish := parterreHoldWrite(t, db)

	statement, transaction := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "INSERT INTO facts VALUES (2)")
		statement <- err
	}()
	go func() {
		transaction <- db.InTransaction(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO facts VALUES (3)")
			return err
		})
	}()

	// Without a turn to wait for, SQLite refuses both at once.
	select {
	case err := <-statement:
		t.Fatalf("a statement wrote while a transaction was writing: %v", err)
	case err := <-transaction:
		t.Fatalf("a transaction wrote while another was writing: %v", err)
	case <-time.After(200 * time.Millisecond):
	}

	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if err := <-statement; err != nil {
		t.Fatal(err)
	}
	if err := <-transaction; err != nil {
		t.Fatal(err)
	}

	var count int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM facts").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 3 {
		t.Fatalf("%d rows, want 3", count)
	}
}

func TestParterreAWriterWhoseContextEndsStopsWaiting(t *testing.T) {
	db := parterreOpen(t)
	finish := parterreHoldWrite(t, db)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "INSERT INTO facts VALUES (2)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	err = db.InTransaction(ctx, func(*Tx) error {
		t.Error("a transaction ran without its turn")
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}

	// The turns given up were not taken: the next writer writes once the first is done.
	if err = finish(); err != nil {
		t.Fatal(err)
	}
	if _, err = db.ExecContext(context.Background(), "INSERT INTO facts VALUES (3)"); err != nil {
		t.Fatal(err)
	}
}

// Reads do not wait for the turn: in WAL mode a read sees the last commit while a write is under way.
func TestParterreAReadDoesNotWaitForAWrite(t *testing.T) {
	db := parterreOpen(t)
	finish := parterreHoldWrite(t, db)
	defer func() { _ = finish() }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var count int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM facts").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 0 {
		t.Fatalf("%d rows seen before the write committed, want 0", count)
	}
}
