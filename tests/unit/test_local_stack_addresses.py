"""`make topics` and `make demo` reach the local stack where `make up` puts it, ports moved or not."""

import re
import subprocess
from pathlib import Path

import pytest

from infra.local.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("environment", "kafka", "mongo"),
    [
        ({}, "127.0.0.1:9092", "mongodb://127.0.0.1:27017/"),
        (
            {"PARTERRE_LOCAL_KAFKA_PORT": "29892", "PARTERRE_LOCAL_MONGO_PORT": "27997"},
            "127.0.0.1:29892",
            "mongodb://127.0.0.1:27997/",
        ),
    ],
)
def test_env_gives_the_addresses_the_services_of_make_up_are_given(
    environment: dict[str, str],
    kafka: str,
    mongo: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("PARTERRE_LOCAL_KAFKA_PORT", "PARTERRE_LOCAL_CONTROLLER_PORT", "PARTERRE_LOCAL_MONGO_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert main(["env"]) == 0

    assert capsys.readouterr().out.splitlines() == [f"PARTERRE_KAFKA_BOOTSTRAP={kafka}", f"PARTERRE_MONGO_URL={mongo}"]


@pytest.mark.parametrize("target", ["topics", "demo"])
def test_make_topics_and_make_demo_run_with_the_local_stacks_addresses(target: str) -> None:
    planned = subprocess.run(
        ["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    command = "parterre topics create" if target == "topics" else "python -m demo"
    [line] = [line for line in planned if line.rstrip().endswith(command) or f"{command} " in line]
    assert re.search(r"env \$\(python3 -m infra\.local env\) ", line), line
