// This file is added to FerretDB's internal/backends/sqlite/metadata/pool package when the local stack builds
// FerretDB (infra/local/ferretdb_source.py); Go ignores this directory otherwise, its name starting with "_".

package pool

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/logging"
)

// parterreCheckpointEvery is how often each database written since its last checkpoint has its write-ahead log
// copied into it.
const parterreCheckpointEvery = 250 * time.Millisecond

// parterreCheckpointWALs checkpoints the pool's databases in the background until the pool is closed.
//
// SQLite checkpoints in the connection whose commit filled the log past wal_autocheckpoint: that command waited
// for the copy and the sync of the database file, 40-46 ms for FerretDB's 40 MB, where a write otherwise takes
// about a millisecond. A passive checkpoint here, on one of the pool's own connections, copies what the log holds
// while other connections go on writing (a checkpoint and a writer take different locks), and keeps the log short
// enough that commits seldom reach wal_autocheckpoint themselves.
//
// A database only read since its last checkpoint is left alone: its log file was not written. The pool's lock is
// held only to list the databases, so creating or dropping one never waits for a checkpoint; one dropped meanwhile
// refuses the statement, which is passed over.
func (p *Pool) parterreCheckpointWALs() {
	ticker := time.NewTicker(parterreCheckpointEvery)
	defer ticker.Stop()

	checkpointed := map[string]time.Time{}

	for range ticker.C {
		p.rw.RLock()
		if p.dbs == nil {
			p.rw.RUnlock()
			return
		}
		dbs := make(map[string]*fsql.DB, len(p.dbs))
		for name, db := range p.dbs {
			dbs[name] = db
		}
		p.rw.RUnlock()

		for name := range checkpointed {
			if _, ok := dbs[name]; !ok {
				delete(checkpointed, name)
			}
		}

		for name, db := range dbs {
			info, err := os.Stat(p.databaseFile(name) + "-wal")
			if err != nil || info.ModTime().Equal(checkpointed[name]) {
				continue
			}

			var busy, logFrames, copiedFrames int
			row := db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
			if err = row.Scan(&busy, &logFrames, &copiedFrames); err != nil {
				p.l.Debug("Background checkpoint failed", slog.String("name", name), logging.Error(err))
				continue
			}

			checkpointed[name] = info.ModTime()
		}
	}
}
