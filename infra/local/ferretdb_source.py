"""FerretDB's source as the local stack builds it: its Go module, with look-ups by several `_id`s, and by an `_id`
beside other keys, made indexed, each collection's `_id` index made on the expression its look-ups compare, an update
command of changes by `_id` written in one transaction (replacements without reading the documents back, other updates
read by one query), its documents read and written by a faster JSON library, its database files checkpointed in the
background, the writers to each file made to wait their turn rather than sleep in SQLite's busy handler, and its check
for unclosed iterators and transactions left to its debug builds.

FerretDB 1.24's SQLite backend asks SQLite for the row of an `_id` (through the `_id` index the local build rebuilds,
see `ferretdb/idindex.go`) only for a filter that is exactly `{_id: value}`; for `{_id: {$in: [...]}}`, or for
`{_id: value, person_id: owner}`, it reads every row and filters them itself. MongoDB finds each through its index,
so the services read many documents by `_id` with one `$in` query, and update or delete one on a condition; this
build makes FerretDB do the same: the module is copied out of Go's module cache (whose files are read-only and
shared by every build; the go command refuses `-overlay` edits of them), the Go files of `ferretdb/_sqlite/` are
added to its SQLite backend, and each place that pushes `{_id: value}` down to SQLite finds `_id` among the
filter's keys and is given one more case for `$in`. Each edit must find its place exactly once, or the build stops and
says so: a FerretDB version whose code moved needs these edits looked at again.
"""

import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

SQLITE_BACKEND = Path("internal", "backends", "sqlite")
HANDLER = Path("internal", "handler")
SQLITE_METADATA = SQLITE_BACKEND / "metadata"
SQLITE_POOL = SQLITE_METADATA / "pool"
FSQL = Path("internal", "util", "fsql")
# The Go files of each directory, added as they are to the FerretDB package at its path.
ADDED_FILES = {
    Path(__file__).resolve().parent / "ferretdb" / "_sqlite": SQLITE_BACKEND,
    Path(__file__).resolve().parent / "ferretdb" / "_pool": SQLITE_POOL,
    Path(__file__).resolve().parent / "ferretdb" / "_fsql": FSQL,
    Path(__file__).resolve().parent / "ferretdb" / "_handler": HANDLER,
}
SJSON = Path("internal", "handler", "sjson")
RESOURCE = Path("internal", "util", "resource", "resource.go")
# The files of FerretDB's document codec (sjson) that import encoding/json.
SJSON_FILES = (
    "array.go",
    "binary.go",
    "bool.go",
    "datetime.go",
    "document.go",
    "double.go",
    "int32.go",
    "int64.go",
    "object_id.go",
    "regex.go",
    "schema.go",
    "sjson.go",
    "string.go",
    "timestamp.go",
)


# FerretDB's comment above each place it pushes `_id` down.
_PUSHDOWN_COMMENT = (
    "\n\t// that logic should exist in one place\n\t// TODO https://github.com/FerretDB/FerretDB/issues/3235\n"
)
# How FerretDB finds the `_id` it pushes down: in a filter of that key alone.
_ID_ALONE = '\tif params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n'


class SourceEditError(RuntimeError):
    """FerretDB's source is not what an edit expects; str() says which and what to do."""


@dataclass(frozen=True)
class Edit:
    """Inserts `insert` just before `anchor`, which must occur exactly once in the file; in its place if
    `replaces`."""

    path: Path
    anchor: str
    insert: str
    why: str
    replaces: bool = False


EDITS = (
    Edit(
        path=SQLITE_BACKEND / "collection.go",
        anchor="\t\tcase string, types.ObjectID:\n\t\t\twhereClause = ",
        insert="\t\tcase *types.Document:\n\t\t\twhereClause, args = parterreIDInWhere(v)\n",
        why="collection.Query pushes {_id: {$in: [...]}} down",
    ),
    Edit(
        path=SQLITE_BACKEND / "collection.go",
        anchor="\t\tcase string, types.ObjectID:\n\t\t\tfilterPushdown = true\n",
        insert=(
            "\t\tcase *types.Document:\n"
            "\t\t\twhereClause, args = parterreIDInWhere(v)\n"
            '\t\t\tfilterPushdown = whereClause != ""\n'
        ),
        why="collection.Explain says so",
    ),
    # FerretDB pushes `_id` down for a filter that is `{_id: value}` alone; with other keys beside it (an update or
    # delete on a condition: `{_id: key, person_id: owner}`) it read every row of the collection.
    *(
        Edit(
            path=SQLITE_BACKEND / "collection.go",
            anchor=f"{before}{_PUSHDOWN_COMMENT}{_ID_ALONE}",
            insert=f"{before}{_PUSHDOWN_COMMENT}\tif v, ok := parterreIDOf(params.Filter); ok {{\n",
            why=f"collection.{method} pushes _id down beside other keys",
            replaces=True,
        )
        for method, before in (
            (
                "Query",
                "\tq := prepareSelectClause(meta.TableName, params.Comment, meta.Capped(), params.OnlyRecordIDs)\n\n"
                "\tvar whereClause string\n\tvar args []any\n",
            ),
            ("Explain", "\tvar filterPushdown bool\n\tvar whereClause string\n\tvar args []any\n"),
        )
    ),
    # A new collection's unique `_id` index is made on the expression look-ups compare (see ferretdb/idindex.go),
    # rather than made on another and rebuilt by the sweep a moment later: until then, each look-up, update and
    # delete by `_id` read the whole table, and a stream of replacements written one transaction after another
    # (below) kept the sweep from the file for as long as it lasted.
    Edit(
        path=SQLITE_METADATA / "registry.go",
        anchor='\t\t\tcolumns[i] = fmt.Sprintf("%s->%s", DefaultColumn, strings.Join(fields, "->"))\n',
        insert=(
            '\t\t\tcolumns[i] = fmt.Sprintf("%s->%s", DefaultColumn, strings.Join(fields, "->"))\n'
            '\t\t\tif key.Field == "_id" {\n'
            "\t\t\t\tcolumns[i] = IDColumn\n"
            "\t\t\t}\n"
        ),
        why="a collection's _id index is made on the expression look-ups compare",
        replaces=True,
    ),
    # FerretDB applies each update of a command on its own: it reads the document back, compares it with the update's
    # result, and writes it in a transaction of its own. The services replace a batch's documents by `_id`, 16 to a
    # command (`shared.mongo.replace_all`): written together, unread, FerretDB's CPU per document replaced fell from
    # 226-662 us to 74-152 (documents of 0.5-6 KB, two runs of each build). Other updates by `_id` (notify's contacts,
    # `$set` 16 to a command) are read with one query and written together: 122-148 us a document, 58-84 after.
    Edit(
        path=HANDLER / "msg_update.go",
        anchor="\tfor _, u := range params.Updates {\n\t\tc, err := db.Collection(params.Collection)\n",
        insert=(
            "\tif c, err := db.Collection(params.Collection); err == nil {\n"
            "\t\tif replaced, done, err := h.parterreReplaceAll(ctx, c, params.Updates); err != nil {\n"
            "\t\t\treturn 0, 0, nil, err\n"
            "\t\t} else if done {\n"
            "\t\t\treturn replaced, replaced, types.MakeArray(0), nil\n"
            "\t\t}\n"
            "\t\tif matched, modified, done, err := h.parterreUpdateAll(ctx, c, params.Updates); err != nil {\n"
            "\t\t\treturn 0, 0, nil, err\n"
            "\t\t} else if done {\n"
            "\t\t\treturn matched, modified, types.MakeArray(0), nil\n"
            "\t\t}\n"
            "\t}\n\n"
        ),
        why="an update command changing documents by _id reads and writes them together (ferretdb/_handler)",
    ),
    Edit(
        path=SQLITE_POOL / "pool.go",
        anchor="\n\treturn p, p.dbs, nil\n}\n",
        insert="\n\tgo p.parterreCheckpointWALs()\n",
        why="the pool of database files checkpoints them in the background (ferretdb/_pool)",
    ),
    # Writers to one database file wait their turn in FerretDB rather than in SQLite's busy handler, which sleeps
    # (ferretdb/_fsql/parterre_writes.go). FerretDB's SQLite backend writes through these two methods only.
    Edit(
        path=FSQL / "db.go",
        anchor="\ttoken     *resource.Token\n\tBatchSize int\n}\n",
        insert="\ttoken     *resource.Token\n\tBatchSize int\n\n\tparterreWrites parterreWriteTurn\n}\n",
        why="each database keeps its writers' turn",
        replaces=True,
    ),
    Edit(
        path=FSQL / "db.go",
        anchor="func (db *DB) InTransaction(ctx context.Context, f func(*Tx) error) (err error) {\n",
        insert=(
            "func (db *DB) InTransaction(ctx context.Context, f func(*Tx) error) (err error) {\n"
            "\tif err = db.parterreWrites.take(ctx); err != nil {\n"
            "\t\treturn\n"
            "\t}\n"
            "\tdefer db.parterreWrites.release()\n\n"
        ),
        why="a transaction waits for its turn to write",
        replaces=True,
    ),
    Edit(
        path=FSQL / "db.go",
        anchor="\tres, err := db.sqlDB.ExecContext(ctx, query, args...)\n",
        insert=(
            "\tif err := db.parterreWrites.take(ctx); err != nil {\n"
            "\t\treturn nil, err\n"
            "\t}\n"
            "\tres, err := db.sqlDB.ExecContext(ctx, query, args...)\n"
            "\tdb.parterreWrites.release()\n"
        ),
        why="a statement outside a transaction waits for its turn to write",
        replaces=True,
    ),
    # FerretDB follows the life of every iterator, transaction and query result it opens to catch those it forgets to
    # close: each one adds its goroutine's stack to a Go profile and sets a finalizer. Taking those stacks took 9% of
    # FerretDB's CPU while the pipeline ran (3.0 of 33.7 s sampled). It is a check for FerretDB's developers, kept
    # here for its debug builds only, as it already keeps the stack it prints.
    *(
        Edit(
            path=RESOURCE,
            anchor=f"func {name}(obj any, token *Token) {{\n",
            insert=f"func {name}(obj any, token *Token) {{\n\tif !debugbuild.Enabled {{\n\t\treturn\n\t}}\n",
            why=f"resource.{name} follows objects in debug builds only",
            replaces=True,
        )
        for name in ("Track", "Untrack")
    ),
    # FerretDB reads every document it filters, updates or returns from its JSON form in SQLite with encoding/json,
    # parsing each nested value twice, and writes them with it. goccy/go-json, whose API is the same, reads a 2.6 KB
    # profile document in 41-42 us instead of 71-81 (a Go benchmark of sjson.Unmarshal), where the decoding took 29%
    # of FerretDB's CPU while profile applied a flood of facts. FerretDB's own sjson tests pass with it but for the
    # wording of errors about malformed JSON, which FerretDB never writes; it writes the same text as encoding/json
    # (strings, bytes, integers and doubles compared) but for the exponent of a small double (1e-07 for 1e-7), the
    # same number to every JSON reader.
    *(
        Edit(
            path=SJSON / name,
            anchor='\t"encoding/json"\n',
            insert='\tjson "github.com/goccy/go-json"\n',
            why="FerretDB's document codec decodes with goccy/go-json",
            replaces=True,
        )
        for name in SJSON_FILES
    ),
)


def edits_fingerprint_files() -> list[Path]:
    """The files whose content decides the source built: a change to any of them means a new build."""
    return [Path(__file__).resolve(), *sorted(added for directory in ADDED_FILES for added in directory.glob("*.go"))]


def prepare_source(module_dir: Path, into: Path) -> Path:
    """A writable copy of FerretDB's module at `module_dir` (as Go downloaded it) in `into`, edited; returns it."""
    if into.exists():
        _make_writable(into)
        shutil.rmtree(into)
    shutil.copytree(module_dir, into)
    # Files in Go's module cache are read-only, and so are their copies.
    _make_writable(into)
    for directory, package in ADDED_FILES.items():
        for added in sorted(directory.glob("*.go")):
            shutil.copyfile(added, into / package / added.name)
    for edit in EDITS:
        apply_edit(into, edit)
    return into


def apply_edit(root: Path, edit: Edit) -> None:
    target = root / edit.path
    text = target.read_text()
    found = text.count(edit.anchor)
    if found != 1:
        raise SourceEditError(
            f"FerretDB's {edit.path} does not read as this build expects ({edit.why}): the code the edit goes before "
            f"occurs {found} times, not once. A FerretDB version other than the one these edits were written for "
            f"needs them looked at again in {Path(__file__).name}."
        )
    target.write_text(text.replace(edit.anchor, edit.insert if edit.replaces else edit.insert + edit.anchor))


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
