"""The batch command's spilled mappings behave as dicts whatever they keep in memory, and resolve a history exactly as
the plain in-memory store does."""

import asyncio
import csv
import io
import json
import sqlite3
from collections.abc import MutableMapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.identity.synthetic import generate_audience
from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.adapters.spilled import SpilledDict, cached_entries_within, spilled_maps
from services.identity.batch import prepare_lines, resolve_lines, write_final_assignments
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.handlers import IdentityDeps
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.memo import caches_within

KEYS = st.sampled_from(
    [
        ("theatre", "per_1"),
        ("theatre", "per_2"),
        ("festival", "per_1"),
        ("theatre", Identifier(IdentifierType.EMAIL, "anne@example.com")),
        ("theatre", Identifier(IdentifierType.EXTERNAL_ID, "C-7", "billetterie")),
        ("theatre", Identifier(IdentifierType.EXTERNAL_ID, "C-7", "boutique")),
    ]
)
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["set", "get", "append", "delete", "contains", "setdefault"]), KEYS, st.integers(0, 9)),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations=OPERATIONS, hot=st.integers(1, 4))
def test_a_spilled_mapping_answers_as_a_dict_whatever_it_keeps_in_memory(
    operations: list[tuple[str, tuple[str, object], int]], hot: int
) -> None:
    spilled = SpilledDict(sqlite3.connect(":memory:"), "entries", hot)
    model: dict[object, list[int]] = {}
    for operation, key, number in operations:
        match operation:
            case "set":
                spilled[key] = [number]
                model[key] = [number]
            case "get":
                assert spilled.get(key) == model.get(key)
            case "append":
                # Changed in place, as the store changes a block's members: the change must survive leaving memory.
                spilled.setdefault(key, []).append(number)
                model.setdefault(key, []).append(number)
            case "setdefault":
                assert spilled.setdefault(key, [number]) == model.setdefault(key, [number])
            case "delete":
                if key in model:
                    del spilled[key]
                    del model[key]
                else:
                    with pytest.raises(KeyError):
                        del spilled[key]
            case "contains":
                assert (key in spilled) == (key in model)
    assert len(spilled) == len(model)
    assert dict(spilled.items()) == model


def test_a_spilled_mapping_takes_the_same_arguments_before_and_after_an_entry_first_leaves_memory() -> None:
    spilled = SpilledDict(sqlite3.connect(":memory:"), "entries", 1)

    def get_with_a_named_default() -> object:
        try:
            return spilled.get("absent", default=0)  # type: ignore[call-arg]
        except TypeError:
            return TypeError

    before = get_with_a_named_default()
    spilled["a"] = 1
    spilled["b"] = 2

    assert get_with_a_named_default() == before


def test_a_mapping_keeps_at_least_one_entry_in_memory() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SpilledDict(sqlite3.connect(":memory:"), "entries", 0)


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 9, 1, tzinfo=UTC)


async def _resolved(
    lines: list[str], store: InMemoryIdentityStore, first_lines: MutableMapping[str, int] | None
) -> str:
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=FixedClock())
    decided = io.StringIO()
    prepared = prepare_lines(lines, organisation_id="theatre", rules=deps.rules, today=FixedClock().now().date())
    await resolve_lines(prepared, decided, organisation_id="theatre", deps=deps, first_lines=first_lines)
    final = io.StringIO()
    decided.seek(0)
    await write_final_assignments(csv.reader(decided), final, organisation_id="theatre", deps=deps)
    return final.getvalue()


async def test_a_history_resolved_mostly_from_the_file_gives_the_same_persons_as_all_in_memory(
    tmp_path: Path,
) -> None:
    # About 2,500 records of 1,000 people, households and typos included; a 1 MB budget keeps 120 persons, 666 blocks
    # and 400 owners, and 250 cached matching values in memory: most reads go to the file.
    lines = [json.dumps(record.as_input(), ensure_ascii=False) for record in generate_audience(1_000, seed=5)]
    with spilled_maps(tmp_path, budget_mb=1) as large, caches_within(cached_entries_within(budget_mb=1)):
        spilled = await _resolved(lines, InMemoryIdentityStore(large), large("first_lines"))
    in_memory = await _resolved(lines, InMemoryIdentityStore(), None)

    assert spilled == in_memory
    # A few generated lines name nobody and are skipped alike.
    assert len(spilled.splitlines()) > 0.99 * len(lines)
    assert (tmp_path / "identity.sqlite3").stat().st_size > 100_000, "the persons went to the file"


async def test_writing_the_final_assignments_gives_way_to_a_cancellation_before_the_end() -> None:
    # A Ctrl-C cancels the run's task: it must land while a long output is written, not once it is.
    store = InMemoryIdentityStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=FixedClock())
    assignments = [[f"r{number}", f"per_{number}"] for number in range(5_000)]
    output = io.StringIO()
    writing = asyncio.create_task(write_final_assignments(assignments, output, organisation_id="theatre", deps=deps))
    await asyncio.sleep(0)
    writing.cancel()

    with pytest.raises(asyncio.CancelledError):
        await writing
    assert 0 < output.getvalue().count("\n") < len(assignments)
