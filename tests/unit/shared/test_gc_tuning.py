"""Services and commands pace the garbage collector for their long-lived caches, before their work starts."""

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from shared import service
from shared.cli import main
from shared.gc_tuning import THRESHOLDS, tune_garbage_collection
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


def test_a_service_starts_serving_with_the_collector_paced_and_start_up_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: FastAPI, **_options: Any) -> None:
        seen["threshold"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()

    monkeypatch.setattr("shared.service.uvicorn.run", run)

    service.serve(ServiceSettings(service_name="test"), lambda _settings: FastAPI())

    assert seen["threshold"] == THRESHOLDS
    assert seen["frozen"] > 0


def test_a_command_runs_with_the_collector_paced(tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(json.dumps({"record_id": "r1", "email": "anne@example.com"}) + "\n")

    assert main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")]) == 0

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_start_up_is_frozen_once_and_what_came_after_stays_collectable() -> None:
    tune_garbage_collection()
    frozen = gc.get_freeze_count()
    later = [[n] for n in range(1_000)]

    tune_garbage_collection()

    assert gc.get_freeze_count() == frozen, f"the {len(later)} lists made since were frozen too"
