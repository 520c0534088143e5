"""`make up` / `make status` / `make down`: the four services started in the background, ready, scraped by a real
Prometheus, then stopped."""

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.platform.fleet import SERVICES, Fleet, free_port, free_ports
from infra.platform.kafka_state import pipeline_state
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

# Series an operator's dashboard and alerts need from every run.
KEY_SERIES = (
    'up{job=~"parterre-.*"}',
    "parterre_consumer_lag",
    "parterre_http_requests_total",
)


def test_the_services_start_in_the_background_are_scraped_and_stop(settings: ServiceSettings, tmp_path: Path) -> None:
    fleet = Fleet(
        root=tmp_path,
        kafka_bootstrap=settings.kafka_bootstrap,
        mongo_url=settings.mongo_url,
        extra_environment=(
            ("PARTERRE_MONGO_DATABASE", settings.mongo_database),
            ("PARTERRE_CONSUMER_LAG_INTERVAL_SECONDS", "1"),
            # Facts earlier tests left on the shared topics are under way when they stop: no need to finish them.
            ("PARTERRE_SHUTDOWN_TIMEOUT_SECONDS", "2"),
        ),
        ports=tuple(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
    )
    try:
        started = fleet.up(progress=lambda _line: None)
        again = fleet.up(progress=lambda _line: None)
        with urllib.request.urlopen(f"{started[0].url}/healthz", timeout=5) as answer:
            healthy = answer.status
        groups = asyncio.run(pipeline_state(settings.kafka_bootstrap))
        with _prometheus(tmp_path, fleet) as query:
            scraped = _until_scraped(query)
    finally:
        fleet.down(progress=lambda _line: None)
    stopped = fleet.status()

    assert [state.name for state in started] == list(SERVICES)
    assert all(state.ready for state in started)
    # A second `up` reuses the running processes.
    assert [state.pid for state in again] == [state.pid for state in started]
    assert healthy == 200
    assert {group.group_id for group in groups} >= {"parterre-identity", "parterre-profile"}
    assert all(group.lag >= 0 and group.dead_letters >= 0 for group in groups)
    assert scraped['up{job=~"parterre-.*"}'] == {f"parterre-{name}": 1.0 for name in SERVICES}
    assert {"parterre-identity", "parterre-profile", "parterre-notify"} <= set(scraped["parterre_consumer_lag"])
    # Each answered the readiness checks at least, so each counts HTTP requests.
    assert set(scraped["parterre_http_requests_total"]) == {f"parterre-{name}" for name in SERVICES}
    assert [state.pid for state in stopped] == [None] * len(SERVICES)
    assert all(fleet.log_file(name).exists() for name in SERVICES)


@contextmanager
def _prometheus(root: Path, fleet: Fleet) -> Iterator[str]:
    """Debian's Prometheus scraping the fleet every second; yields its query URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make test` installs Debian's prometheus package, which has it")
    port = free_port()
    jobs = "\n".join(
        f"  - job_name: parterre-{name}\n    static_configs:\n      - targets: ['127.0.0.1:{fleet.port(name)}']"
        for name in SERVICES
    )
    config = root / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n{jobs}\n")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "prometheus.log").open("wb"),
    )
    try:
        yield f"http://127.0.0.1:{port}/api/v1/query"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _until_scraped(query: str, seconds: float = 45) -> dict[str, dict[str, float]]:
    """For each key series, the value of each job that has it, once every one is there (or the time is up)."""
    deadline = time.monotonic() + seconds
    found: dict[str, dict[str, float]] = {}
    while time.monotonic() < deadline:
        found = {series: _values(query, series) for series in KEY_SERIES}
        if (
            len(found['up{job=~"parterre-.*"}']) == len(SERVICES)
            and all(value == 1.0 for value in found['up{job=~"parterre-.*"}'].values())
            and len(found["parterre_consumer_lag"]) >= 3
        ):
            return found
        time.sleep(0.5)
    return found


def _values(query: str, expression: str) -> dict[str, float]:
    try:
        url = f"{query}?{urllib.parse.urlencode({'query': f'max by (job) ({expression})'})}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            body = json.loads(answer.read())
    except OSError:
        return {}
    return {item["metric"].get("job", ""): float(item["value"][1]) for item in body["data"]["result"]}
