"""Every service starts the way operators start it, `python -m services.<name>`, and answers /readyz."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from infra.platform.fleet import free_port
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

REPO_ROOT = Path(__file__).resolve().parents[2]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("service", ["ingest", "identity", "profile", "notify"])
def test_the_service_process_starts_and_is_ready(service: str, settings: ServiceSettings, tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / f"{service}.log"
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "PARTERRE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PARTERRE_MONGO_URL": settings.mongo_url,
        "PARTERRE_MONGO_DATABASE": settings.mongo_database,
        "PARTERRE_HTTP_PORT": str(port),
        # Facts earlier tests left on the shared topics are under way when it stops: no need to let them finish.
        "PARTERRE_SHUTDOWN_TIMEOUT_SECONDS": "2",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=environment, stderr=log)
    try:
        deadline = time.monotonic() + 60
        became_ready = False
        while not became_ready and process.poll() is None and time.monotonic() < deadline:
            became_ready = ready(port)
            time.sleep(0 if became_ready else 0.2)
        assert became_ready, log_path.read_text()[-3000:]
    finally:
        process.terminate()
        exit_code = process.wait(timeout=45)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal, so the process ends by it.
    assert exit_code in {0, -signal.SIGTERM}, log_path.read_text()[-3000:]
    assert "Application shutdown complete" in log_path.read_text()
