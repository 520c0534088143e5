// This file is added to FerretDB's internal/backends/sqlite/metadata/pool package when the local stack builds
// FerretDB (infra/local/ferretdb_source.py); Go ignores this directory otherwise, its name starting with "_".

package pool

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/FerretDB/FerretDB/internal/util/logging"
)

// parterreCheckpointEvery is how often each database written since its last checkpoint has its write-ahead log
// copied into it.
const parterreCheckpointEvery = 250 * time.Millisecond

// parterreQuietBefore is how long before a checkpoint the log must have been last written for that checkpoint to
// count as having copied everything: a file's modification time may be as coarse as the kernel's tick, so a commit
// just after the checkpoint read the log can leave the same time as the one before it.
const parterreQuietBefore = 50 * time.Millisecond

// parterreCheckAtLeastEvery bounds how long a database whose log seems unwritten is left alone, for file systems
// whose times are coarser than parterreQuietBefore (some keep seconds): its log is checkpointed at least this often.
const parterreCheckAtLeastEvery = 5 * time.Second

// parterreCheckpointTimeout bounds one checkpoint, its wait for a free connection included.
const parterreCheckpointTimeout = 10 * time.Second

// parterreCheckpointed is a database's log as a complete checkpoint left it: its modification time then, and when
// that checkpoint began.
type parterreCheckpointed struct {
	logWritten time.Time
	began      time.Time
}

// parterreCheckpointWALs checkpoints the pool's databases in the background until the pool is closed.
//
// SQLite checkpoints in the connection whose commit filled the log past wal_autocheckpoint: that command waited
// for the copy and the sync of the database file, 40-46 ms for FerretDB's 40 MB, where a write otherwise takes
// about a millisecond. A passive checkpoint here, on one of the pool's own connections, copies what the log holds
// while other connections go on writing (a checkpoint and a writer take different locks), and keeps the log short
// enough that commits seldom reach wal_autocheckpoint themselves.
//
// Each checkpoint holds the pool's read lock and runs only on a database still in the pool: a database is never
// dropped, nor one of the same name created, while its file is being checkpointed (SQLite deletes a log by its
// name). A drop or a creation waits for the checkpoint under way, and commands asking for a database meanwhile wait
// behind it: tens of milliseconds at worst, when a database is created or dropped. A database whose log was not
// written since a complete checkpoint is left alone, for parterreCheckAtLeastEvery at most.
func (p *Pool) parterreCheckpointWALs() {
	ticker := time.NewTicker(parterreCheckpointEvery)
	defer ticker.Stop()

	done := map[string]parterreCheckpointed{}
	failing := map[string]bool{}

	for range ticker.C {
		p.rw.RLock()
		if p.dbs == nil {
			p.rw.RUnlock()
			return
		}
		names := make([]string, 0, len(p.dbs))
		for name := range p.dbs {
			names = append(names, name)
		}
		p.rw.RUnlock()
		sort.Strings(names)

		parterreForgetDropped(done, names)
		parterreForgetDropped(failing, names)

		for _, name := range names {
			complete, ok, err := p.parterreCheckpoint(name, done[name])
			switch {
			case err != nil && !failing[name]:
				// Once until it succeeds again: the next tick would say the same.
				p.l.Warn("Background checkpoint failed", slog.String("name", name), logging.Error(err))
				failing[name] = true
			case err == nil:
				delete(failing, name)
			}
			if ok {
				done[name] = complete
			} else {
				delete(done, name)
			}
		}
	}
}

// parterreForgetDropped forgets what `known` holds of databases no longer among `names` (sorted).
func parterreForgetDropped[V any](known map[string]V, names []string) {
	for name := range known {
		if i := sort.SearchStrings(names, name); i == len(names) || names[i] != name {
			delete(known, name)
		}
	}
}

// parterreCheckpoint checkpoints the database `name` unless `last` (its last complete checkpoint) covers what its
// log holds; it returns what this checkpoint left, whether it copied the whole log, and why it failed if it did.
func (p *Pool) parterreCheckpoint(name string, last parterreCheckpointed) (parterreCheckpointed, bool, error) {
	p.rw.RLock()
	defer p.rw.RUnlock()

	db := p.dbs[name]
	if db == nil {
		return parterreCheckpointed{}, false, nil
	}

	info, err := os.Stat(p.databaseFile(name) + "-wal")
	if err != nil {
		// No log yet: nothing was written.
		return parterreCheckpointed{}, false, nil
	}

	written := info.ModTime()
	began := time.Now()
	if written.Equal(last.logWritten) && last.began.Sub(written) > parterreQuietBefore &&
		began.Sub(last.began) < parterreCheckAtLeastEvery {
		return last, true, nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), parterreCheckpointTimeout)
	defer cancel()

	var busy, logFrames, copiedFrames int
	row := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	if err = row.Scan(&busy, &logFrames, &copiedFrames); err != nil {
		return parterreCheckpointed{}, false, err
	}

	// Another checkpoint under way (busy), or a reader holding back part of the log: tried again next time.
	complete := busy == 0 && logFrames >= 0 && copiedFrames == logFrames

	return parterreCheckpointed{logWritten: written, began: began}, complete, nil
}
