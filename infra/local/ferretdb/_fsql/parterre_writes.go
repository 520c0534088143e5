// This file is added to FerretDB's internal/util/fsql package when the local stack builds FerretDB
// (infra/local/ferretdb_source.py); Go ignores this directory otherwise, its name starting with "_".

package fsql

import (
	"context"
	"sync"
)

// parterreWriteTurn lets one write at a time into a database file: FerretDB's InTransaction and ExecContext wait
// for it (ferretdb_source.py puts the calls there).
//
// SQLite lets one connection write at a time. A second writer is refused SQLITE_BUSY and SQLite's busy handler
// puts it to sleep, 1 ms at first, then 2, 5, 10 and more as it is refused again: it does not wake when the first
// commits. With the services writing to one database at once, the pipeline's run slept so 2,615 times. Waiting
// here instead, a writer starts as soon as the one before it is done. Reads do not wait: in WAL mode they never
// block a writer nor wait for one.
type parterreWriteTurn struct {
	once sync.Once
	turn chan struct{}
}

// take waits for the turn to write, or for ctx to end; on success release must follow.
func (t *parterreWriteTurn) take(ctx context.Context) error {
	t.once.Do(func() { t.turn = make(chan struct{}, 1) })

	select {
	case t.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// release gives the turn to the next writer.
func (t *parterreWriteTurn) release() {
	<-t.turn
}
