"""Services and commands pace the garbage collector for their long-lived caches, before their work starts."""

import gc
import json
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from services.identity import batch
from services.identity.entrypoints import cli as identity_cli
from shared import service
from shared.cli import main
from shared.gc_tuning import (
    FULL_COLLECTION_SECONDS,
    THRESHOLDS,
    _Pause,
    collections_paused,
    collections_paused_keeping_what_is_made,
    tune_garbage_collection,
)
from shared.settings import ServiceSettings


@pytest.fixture(autouse=True)
def default_pace() -> Iterator[None]:
    before = gc.get_threshold()
    # As a fresh process: a command an earlier test ran has frozen its objects already.
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.fixture
def collecting() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if was_on:
        gc.enable()
    else:
        gc.disable()


def test_a_service_starts_serving_with_the_collector_paced_and_start_up_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: FastAPI, **_options: Any) -> None:
        seen["threshold"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()

    monkeypatch.setattr("shared.service.uvicorn.run", run)

    service.serve(lambda: ServiceSettings(service_name="test"), lambda _settings: FastAPI())

    assert seen["threshold"] == THRESHOLDS
    assert seen["frozen"] > 0


def test_a_command_runs_with_the_collector_paced(tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(json.dumps({"record_id": "r1", "email": "anne@example.com"}) + "\n")

    assert main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")]) == 0

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collecting")
def test_a_command_resolves_its_records_with_the_collector_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collecting: list[bool] = []

    async def resolving(*args: Any, **kwargs: Any) -> Any:
        collecting.append(gc.isenabled())
        return await batch.resolve_lines(*args, **kwargs)

    monkeypatch.setattr(identity_cli, "resolve_lines", resolving)
    source = tmp_path / "records.jsonl"
    source.write_text(json.dumps({"record_id": "r1", "email": "anne@example.com"}) + "\n")

    assert main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")]) == 0

    assert collecting == [False]
    assert gc.isenabled()


@pytest.mark.usefixtures("collecting")
def test_a_command_freezes_what_its_resolution_made_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept: list[list[int]] = []

    async def resolving(*args: Any, **kwargs: Any) -> Any:
        kept.extend([n] for n in range(5_000))
        return await batch.resolve_lines(*args, **kwargs)

    monkeypatch.setattr(identity_cli, "resolve_lines", resolving)
    source = tmp_path / "records.jsonl"
    source.write_text(json.dumps({"record_id": "r1", "email": "anne@example.com"}) + "\n")

    assert main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")]) == 0

    # A frozen object is in no generation a collection scans.
    scanned = {id(tracked) for tracked in gc.get_objects()}
    assert not any(id(one) in scanned for one in kept), "what the run made was left for a collection to scan"


def test_start_up_is_frozen_once_and_what_came_after_stays_collectable() -> None:
    tune_garbage_collection()
    frozen = gc.get_freeze_count()
    later = [[n] for n in range(1_000)]

    tune_garbage_collection()

    assert gc.get_freeze_count() == frozen, f"the {len(later)} lists made since were frozen too"


@pytest.mark.usefixtures("collecting")
def test_collection_is_off_while_paused_and_on_again_after() -> None:
    with collections_paused():
        assert not gc.isenabled()

    assert gc.isenabled()


@pytest.mark.usefixtures("collecting")
def test_overlapping_pauses_resume_collection_only_once_the_last_ends() -> None:
    first, second = collections_paused(), collections_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)

    assert not gc.isenabled(), "one batch ended while another was still under way"

    second.__exit__(None, None, None)
    assert gc.isenabled()


@pytest.mark.usefixtures("collecting")
def test_pauses_taken_and_ended_in_many_threads_at_once_leave_collection_on() -> None:
    start = threading.Barrier(8)

    def pause_often() -> None:
        start.wait()
        for _ in range(5_000):
            with collections_paused():
                pass

    threads = [threading.Thread(target=pause_often) for _ in range(8)]
    switching = sys.getswitchinterval()
    # Threads take turns as often as they can, so that any count not kept under the lock goes wrong.
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switching)

    assert gc.isenabled()
    with collections_paused():
        assert not gc.isenabled(), "a pause was left counted, or one more was counted gone"
    assert gc.isenabled()


@pytest.mark.usefixtures("collecting")
def test_a_block_that_fails_still_resumes_collection() -> None:
    with pytest.raises(RuntimeError), collections_paused():
        raise RuntimeError("the batch failed")

    assert gc.isenabled()


@pytest.mark.usefixtures("collecting")
def test_collection_turned_off_before_the_pause_stays_off_after_it() -> None:
    gc.disable()

    with collections_paused():
        pass

    assert not gc.isenabled()


class _Cycle:
    """An object that only a full collection can free: it holds itself."""

    def __init__(self) -> None:
        self.itself = self


def _left_in_a_cycle() -> weakref.ref[_Cycle]:
    return weakref.ref(_Cycle())


@pytest.mark.usefixtures("collecting")
def test_what_a_batch_made_is_frozen_when_it_ends_not_scanned_by_the_next_collection() -> None:
    gc.collect()
    frozen = gc.get_freeze_count()
    with collections_paused():
        young = gc.get_count()[0]
        made = [[n] for n in range(20_000)]
        assert gc.get_count()[0] >= young + len(made), "a collection ran while paused"

    assert gc.isenabled()
    scanned = {id(tracked) for tracked in gc.get_objects()}
    assert not any(id(one) in scanned for one in made), "what the batch made was left for a collection to scan"
    assert gc.get_freeze_count() >= frozen + len(made)


@pytest.mark.usefixtures("collecting")
def test_a_cycle_a_batch_left_waits_for_the_full_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Pause, "collected_at", time.monotonic())
    with collections_paused():
        cycle = _left_in_a_cycle()

    gc.collect()
    with collections_paused():
        pass

    assert cycle() is not None, "a collection before the full one is due scanned what a batch left"


@pytest.mark.usefixtures("collecting")
def test_the_first_batch_to_end_once_the_full_collection_is_due_frees_the_cycles_batches_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Pause, "collected_at", time.monotonic())
    with collections_paused():
        cycle = _left_in_a_cycle()
    assert cycle() is not None

    monkeypatch.setattr(_Pause, "collected_at", time.monotonic() - FULL_COLLECTION_SECONDS)
    with collections_paused():
        made = [[n] for n in range(1_000)]

    assert cycle() is None, "the cycle a batch left outlived the full collection"
    assert _Pause.collected_at > time.monotonic() - FULL_COLLECTION_SECONDS, "the next full collection is not put off"
    scanned = {id(tracked) for tracked in gc.get_objects()}
    assert not any(id(one) in scanned for one in made), "what the batch made was left for a collection to scan"


@pytest.mark.usefixtures("collecting")
def test_a_full_collection_due_waits_for_the_last_batch_under_way_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Pause, "collected_at", time.monotonic() - FULL_COLLECTION_SECONDS)
    first, second = collections_paused(), collections_paused()
    first.__enter__()
    second.__enter__()
    cycle = _left_in_a_cycle()

    first.__exit__(None, None, None)

    assert cycle() is not None, "one batch ended and collected while another was still under way"
    second.__exit__(None, None, None)
    assert cycle() is None


@pytest.mark.usefixtures("collecting")
def test_collection_turned_off_before_the_pause_leaves_what_it_made_where_it_was() -> None:
    gc.disable()
    with collections_paused():
        made = [[n] for n in range(100)]

    scanned = {id(tracked) for tracked in gc.get_objects()}
    assert all(id(one) in scanned for one in made)


@pytest.mark.usefixtures("collecting")
def test_a_commands_run_runs_no_full_collection_when_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Pause, "collected_at", time.monotonic() - FULL_COLLECTION_SECONDS)
    with collections_paused_keeping_what_is_made():
        cycle = _left_in_a_cycle()

    assert cycle() is not None, "a command's end scanned everything its run made"


@pytest.mark.usefixtures("collecting")
def test_what_a_commands_pause_made_is_frozen_when_it_ends_not_scanned() -> None:
    gc.collect()
    frozen = gc.get_freeze_count()
    with collections_paused_keeping_what_is_made():
        assert not gc.isenabled()
        made = [[n] for n in range(20_000)]

    assert gc.isenabled()
    scanned = {id(tracked) for tracked in gc.get_objects()}
    assert not any(id(one) in scanned for one in made)
    assert gc.get_freeze_count() > frozen


@pytest.mark.usefixtures("collecting")
def test_a_commands_pause_that_fails_still_freezes_and_resumes_collection() -> None:
    made: list[list[int]] = []

    def run_that_fails() -> None:
        with collections_paused_keeping_what_is_made():
            made.extend([n] for n in range(1_000))
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError):
        run_that_fails()

    assert gc.isenabled()
    scanned = {id(tracked) for tracked in gc.get_objects()}
    assert not any(id(one) in scanned for one in made)
