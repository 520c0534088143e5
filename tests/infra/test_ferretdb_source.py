"""The edits the local stack makes to FerretDB's source before building it (`infra/local/ferretdb_source.py`)."""

import os
import subprocess
from pathlib import Path

import pytest

from infra.local import artefacts, ferretdb_source
from infra.local.ferretdb_source import Edit, SourceEditError, apply_edit
from tests.infra.go_tool import go_or_skip


def test_an_edit_whose_place_is_not_found_once_stops_the_build(tmp_path: Path) -> None:
    source = tmp_path / "collection.go"
    source.write_text("switch v.(type) {\ncase string:\n}\ncase string:\n")
    with pytest.raises(SourceEditError, match=r"collection\.go .* occurs 2 times, not once"):
        apply_edit(tmp_path, Edit(Path("collection.go"), "case string:\n", "case int:\n", why="a test"))
    with pytest.raises(SourceEditError, match=r"occurs 0 times"):
        apply_edit(tmp_path, Edit(Path("collection.go"), "case bool:\n", "case int:\n", why="a test"))
    assert source.read_text() == "switch v.(type) {\ncase string:\n}\ncase string:\n"
    apply_edit(tmp_path, Edit(Path("collection.go"), "switch v.(type) {\n", "// edited\n", why="a test"))
    assert source.read_text().startswith("// edited\nswitch v.(type) {\n")
    apply_edit(tmp_path, Edit(Path("collection.go"), "}\n", "default:\n}\n", why="a test", replaces=True))
    assert source.read_text() == "// edited\nswitch v.(type) {\ncase string:\ndefault:\n}\ncase string:\n"


def test_the_edits_apply_to_the_ferretdb_version_built(tmp_path: Path) -> None:
    """Every edit finds its place once in the module the stack built from, the one go.mod names."""
    module_dir = _downloaded_ferretdb()
    edited = ferretdb_source.prepare_source(module_dir, tmp_path / "source")
    collection = (edited / ferretdb_source.SQLITE_BACKEND / "collection.go").read_text()
    assert collection.count("parterreIDInWhere(v)") == 2
    assert collection.count("if v, ok := parterreIDOf(params.Filter); ok {") == 2
    assert "params.Filter.Len() == 1" not in collection
    assert (edited / ferretdb_source.SQLITE_BACKEND / "parterre_id_in.go").is_file()
    # The pool of database files starts its background checkpoints once it has opened them.
    pool = (edited / ferretdb_source.SQLITE_POOL / "pool.go").read_text()
    assert "\tgo p.parterreCheckpointWALs()\n\n\treturn p, p.dbs, nil\n}\n" in pool
    assert (edited / ferretdb_source.SQLITE_POOL / "parterre_checkpoint.go").is_file()
    # The document codec decodes with goccy/go-json alone: two decoders' RawMessage types would not mix.
    codec = [path.read_text() for path in (edited / ferretdb_source.SJSON).glob("*.go") if "_test" not in path.name]
    assert not [text for text in codec if '"encoding/json"' in text]
    assert sum('json "github.com/goccy/go-json"' in text for text in codec) == len(ferretdb_source.SJSON_FILES)
    # Leak tracking, which takes a goroutine's stack for every iterator and transaction, runs in debug builds only.
    resource = (edited / ferretdb_source.RESOURCE).read_text()
    for function in ("Track", "Untrack"):
        assert f"func {function}(obj any, token *Token) {{\n\tif !debugbuild.Enabled {{\n\t\treturn\n\t}}\n" in resource
    # Each database's writers wait their turn: transactions and statements outside one.
    fsql = (edited / ferretdb_source.FSQL / "db.go").read_text()
    assert fsql.count("db.parterreWrites.take(ctx)") == 2
    assert "\tparterreWrites parterreWriteTurn\n}\n" in fsql
    # A collection's _id index is made on the expression look-ups compare.
    registry = (edited / ferretdb_source.SQLITE_METADATA / "registry.go").read_text()
    assert registry.count('if key.Field == "_id" {\n\t\t\t\tcolumns[i] = IDColumn\n') == 1
    # An update command of replacements by _id is tried first as one transaction of blind writes.
    update = (edited / ferretdb_source.HANDLER / "msg_update.go").read_text()
    assert update.count("h.parterreReplaceAll(ctx, c, params.Updates)") == 1
    assert update.count("h.parterreUpdateAll(ctx, c, params.Updates)") == 1
    assert update.index("h.parterreReplaceAll(") < update.index("\tfor _, u := range params.Updates {")
    assert (edited / ferretdb_source.HANDLER / "parterre_replace.go").is_file()
    # The cache's own copy is left as Go downloaded it.
    assert "parterreIDInWhere" not in (module_dir / ferretdb_source.SQLITE_BACKEND / "collection.go").read_text()


def test_a_write_waits_for_the_one_under_way_in_the_edited_ferretdb(tmp_path: Path) -> None:
    """The Go tests added with `ferretdb/_fsql/parterre_writes.go`, run in FerretDB's edited source: a second writer
    waits for the first instead of being refused by SQLite, gives up when its context ends, and reads never wait."""
    edited = ferretdb_source.prepare_source(_downloaded_ferretdb(), tmp_path / "source")
    result = subprocess.run(
        [
            go_or_skip(),
            "test",
            *artefacts.FERRETDB_GO_FLAGS,
            "-count=1",
            "-v",
            "-run",
            "Parterre",
            f"./{ferretdb_source.FSQL}",
        ],
        cwd=edited,
        env={**os.environ, **artefacts.FERRETDB_GO_ENV},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("--- PASS: TestParterre") == 3, result.stdout


def _downloaded_ferretdb() -> Path:
    return artefacts.downloaded_go_module(
        go_or_skip(), artefacts.FERRETDB_GO_PATH, cwd=artefacts.FERRETDB_MODULE, what="the test"
    )
